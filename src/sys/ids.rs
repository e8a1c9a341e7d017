//! The process's own user id, for perf's rules on whose files it reads.

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// perf's rule for files it reads on the user's behalf (perf.data, config): owned by the
/// effective user or by root; anything else is another user's to craft.
pub fn trusted_owner(uid: u32) -> bool {
    uid == euid() || uid == 0
}
