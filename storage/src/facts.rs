//! Billing and status fact reads and writes (filled in by the facts work).
