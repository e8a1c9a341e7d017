//! Ctrl-C and friends: rperf records that a stop was asked for and finishes its output.
use std::sync::atomic::{AtomicI32, Ordering};

static LAST_SIGNAL: AtomicI32 = AtomicI32::new(0);
static FROM_USER: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to SA_SIGINFO handlers; only its
    // si_code is read, which is async-signal-safe.
    let code = if info.is_null() {
        0
    } else {
        unsafe { (*info).si_code }
    };
    // kill(2)/sigqueue set si_code <= 0; a terminal's ^C comes from the kernel (> 0).
    FROM_USER.store(i32::from(code <= 0), Ordering::SeqCst);
    LAST_SIGNAL.store(sig, Ordering::SeqCst);
}

/// Installs handlers for SIGINT, SIGTERM and SIGHUP that only record the signal, without
/// SA_RESTART so blocking waits return EINTR.
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a valid handler pointer and SA_SIGINFO is a valid
        // argument; the handler only touches atomics.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// The last signal received, if any, and whether it was sent by a process (not the tty).
pub fn received() -> Option<(i32, bool)> {
    match LAST_SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some((s, FROM_USER.load(Ordering::SeqCst) != 0)),
    }
}

/// Forgets a received signal (between `-r` runs).
pub fn clear() {
    LAST_SIGNAL.store(0, Ordering::SeqCst);
}

/// Sends `sig` to a process.
pub fn kill(pid: i32, sig: i32) {
    // SAFETY: kill has no memory effects; a stale pid only yields ESRCH.
    unsafe {
        libc::kill(pid, sig);
    }
}
