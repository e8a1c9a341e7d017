//! One module per subcommand, each with a plain config struct and `run(cfg) -> Result<ExitCode>`.
pub mod flamegraph;
pub mod list;
pub mod record;
pub mod report;
pub mod script;
pub mod stat;

/// The error for a workload that could not be started: exit status 127, like a shell.
pub(crate) fn command_error(cmd: &str, e: &std::io::Error) -> anyhow::Error {
    let hint = match e.raw_os_error() {
        Some(libc::ENOENT) => " (is it installed and on $PATH?)",
        Some(libc::EACCES) => " (is it executable?)",
        _ => "",
    };
    anyhow::Error::new(crate::cli::Exit {
        code: 127,
        message: format!("cannot run '{cmd}': {e}{hint}"),
    })
}
