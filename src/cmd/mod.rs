//! One module per subcommand, each with a plain config struct and `run(cfg) -> Result<ExitCode>`.
pub mod archive;
pub mod buildid;
pub mod evlist;
pub mod flamegraph;
pub mod list;
pub mod progress;
pub mod record;
pub mod report;
pub mod script;
pub mod stat;
pub mod version;

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

/// Whether perf_event_open's error means "this machine cannot count that event", which
/// perf shows as `<not supported>` rather than failing.
pub(crate) fn is_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error().unwrap_or(0),
        libc::ENOENT | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS | libc::ENXIO | libc::ENODEV
    )
}

/// A one-line explanation of a perf_event_open failure for event `name` on `place` (a CPU
/// or task), with the fix where there is one.
pub(crate) fn open_error(name: &str, e: &std::io::Error, place: &str) -> anyhow::Error {
    let paranoid = || {
        std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into())
    };
    match e.raw_os_error().unwrap_or(0) {
        libc::EACCES | libc::EPERM => anyhow::anyhow!(
            "no permission to open event '{name}' ({e}): run as root, or lower \
             /proc/sys/kernel/perf_event_paranoid (now {})",
            paranoid()
        ),
        _ if is_unsupported(e) => anyhow::anyhow!(
            "event '{name}' is not supported on this machine ({e}); `rperf list` shows what is"
        ),
        libc::EMFILE => anyhow::anyhow!(
            "too many open files opening '{name}': raise the limit with `ulimit -n`"
        ),
        libc::ESRCH => anyhow::anyhow!(
            "no such process or thread opening '{name}' on {place}: it may have exited"
        ),
        libc::EBUSY => {
            anyhow::anyhow!("event '{name}' is busy: another program holds the PMU it needs")
        }
        _ => anyhow::anyhow!("perf_event_open failed for event '{name}' on {place}: {e}"),
    }
}
