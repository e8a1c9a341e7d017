//! The kernel's monotonic clock, the clock an off-CPU recording stamps its events with.

/// CLOCK_MONOTONIC now, in nanoseconds: the time the events opened with
/// `use_clockid`/`CLOCK_MONOTONIC` carry, so an end of recording can be set against them.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call, and
    // CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}
