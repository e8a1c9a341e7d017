//! One module per subcommand, each with a plain config struct and `run(cfg) -> Result<ExitCode>`.
pub mod annotate;
pub mod archive;
pub mod buildid;
pub mod convert;
pub mod diff;
pub mod dump;
pub mod evlist;
pub mod flamegraph;
pub mod list;
pub mod probe;
pub mod progress;
pub mod record;
pub mod report;
pub mod report_browser;
pub mod sched;
pub mod script;
pub mod serve;
pub mod stat;
pub mod top;
pub mod version;

/// perf's rule for reading a perf.data: a file that belongs to another user (root's files
/// excepted) is refused unless `-f/--force` is given, since its content is that user's to
/// craft and rperf often runs as root. `-` (a pipe) and missing files pass here (the reader
/// names a missing file); a FIFO named as a file is refused (opening it would wait for a
/// writer: streams come through `-`).
pub fn check_input(path: &std::path::Path, force: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    if path.as_os_str() == "-" {
        return Ok(());
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if meta.file_type().is_fifo() {
        anyhow::bail!(
            "{} is a FIFO: read a stream from standard input with `-i - < {0}`",
            path.display()
        );
    }
    if !force && !crate::sys::ids::trusted_owner(meta.uid()) {
        anyhow::bail!(
            "File {} not owned by current user or root (use -f to override)",
            path.display()
        );
    }
    Ok(())
}

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
pub(crate) fn command_error(cmd: &str, e: &std::io::Error) -> anyhow::Error {
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
