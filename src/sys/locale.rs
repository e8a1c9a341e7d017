//! The user's locale: the thousands separator perf's `%'` formats use, and local time.
use std::ffi::CStr;

/// Applies the environment's LC_NUMERIC and returns its thousands separator ("" for C/POSIX).
pub fn thousands_separator() -> String {
    // SAFETY: setlocale with a valid category and a NUL-terminated empty string reads the
    // environment; rperf calls it once, before any other thread exists.
    let set = unsafe { libc::setlocale(libc::LC_NUMERIC, c"".as_ptr()) };
    if set.is_null() {
        return String::new();
    }
    // SAFETY: localeconv returns a pointer to static storage valid until the next
    // setlocale/localeconv call; the string is copied out at once.
    unsafe {
        let lc = libc::localeconv();
        if lc.is_null() || (*lc).thousands_sep.is_null() {
            return String::new();
        }
        CStr::from_ptr((*lc).thousands_sep)
            .to_string_lossy()
            .into_owned()
    }
}

/// `secs` since the epoch in the local time zone, as C's `ctime` writes it without the
/// newline (`Sun Nov 22 14:56:46 2026`); perf prints a file's capture time this way.
pub fn ctime(secs: i64) -> String {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value for localtime_r to overwrite.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals; localtime_r is the re-entrant variant and
    // writes only into `tm`.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return secs.to_string();
    }
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        DAYS[tm.tm_wday.clamp(0, 6) as usize],
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        tm.tm_year + 1900
    )
}
