//! Writing to stdout where a closed pipe (`rperf list | head`) ends output quietly.
use std::io::{self, Write};

/// Writes `s` to stdout; a closed pipe is not an error.
pub fn stdout(s: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}
