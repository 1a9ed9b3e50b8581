// mimalloc: the accept path allocates many small, short-lived buffers on several threads
// (HTTP, JSON, records, redb pages); glibc's malloc spent ~20% of the server's CPU on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    storage::memory::disable_transparent_huge_pages();
    notify::cli::main()
}
