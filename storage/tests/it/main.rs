//! The storage crate's integration tests, as one test binary: crash safety (a child process
//! killed mid-write), storage faults (a full disk), the hourly status counts, the search index, the durable queues and
//! writer, stores written by released versions (schema migrations), and snapshots (dumps,
//! loads and checks).

mod common;

mod crash;
mod faults;
mod hourly_counts;
mod index;
mod queue;
mod schema;
mod snapshot;
