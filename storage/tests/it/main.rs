//! The storage crate's integration tests, as one test binary: crash safety (a child process
//! killed mid-write), the search index, and the durable queues and writer.

mod common;

mod crash;
mod index;
mod queue;
