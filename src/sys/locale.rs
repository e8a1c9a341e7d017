//! The thousands separator of the user's locale, as perf's `%'` formats use it.
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
