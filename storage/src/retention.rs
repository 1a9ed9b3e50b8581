//! Retention reads and writes (filled in by the retention work).
