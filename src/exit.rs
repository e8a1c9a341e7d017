//! Errors that carry their own exit status, which `cli` turns into the process's; below
//! every command, so that live commands outside `cmd/` (trace) raise them too.

/// An error that carries its own exit status (e.g. 127 for a command that cannot run).
#[derive(Debug)]
pub struct Exit {
    /// Exit status.
    pub code: u8,
    /// One-line message, printed as `rperf: <message>`; empty prints nothing.
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// The error for a workload that could not be started: exit status 127, like a shell.
pub fn command_error(cmd: &str, e: &std::io::Error) -> anyhow::Error {
    let hint = match e.raw_os_error() {
        Some(libc::ENOENT) => " (is it installed and on $PATH?)",
        Some(libc::EACCES) => " (is it executable?)",
        _ => "",
    };
    anyhow::Error::new(Exit {
        code: 127,
        message: format!("cannot run '{cmd}': {e}{hint}"),
    })
}
