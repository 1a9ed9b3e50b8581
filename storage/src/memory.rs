//! Process-wide memory settings the store depends on for steady latency.

/// Turn transparent huge pages off for this process (Linux; elsewhere a no-op).
///
/// redb's write buffer allocates and frees a page-sized buffer for every page a commit dirties.
/// mimalloc hands freed memory back to the kernel and asks for it again; with huge pages each
/// new fault zeroes 2 MiB. Measured with `cargo bench -p storage --bench writes` (256 writers,
/// accept mode, 2-core VM): the writer thread spent ~20% of its time in the kernel's
/// `clear_page_erms`, and the p99 acknowledgement latency was 13 ms; with huge pages off,
/// +10–15% inserts/s and p99 ≈ 5 ms. Databases commonly ask for the same (Redis, MongoDB).
///
/// Call it first thing in `main`: it applies to page faults from then on.
pub fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        // Best effort, and called before logging starts: a kernel without this prctl keeps
        // huge pages, which costs speed, never correctness.
        // SAFETY: prctl with PR_SET_THP_DISABLE takes integer arguments only and touches no
        // memory of ours.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
}
