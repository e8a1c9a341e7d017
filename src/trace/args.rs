//! `rperf trace`'s flags, named as perf trace's: the command takes them as its config.
use std::path::PathBuf;

/// `rperf trace` options (perf trace's names).
#[derive(Debug, Clone, clap::Args)]
pub struct TraceArgs {
    /// Trace the whole system.
    #[arg(short = 'a', long = "all-cpus")]
    pub all_cpus: bool,
    /// Trace these processes (comma-separated pids), all their threads.
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<String>,
    /// Trace these threads (comma-separated tids).
    #[arg(short = 't', long = "tid", value_name = "TID")]
    pub tid: Option<String>,
    /// Syscalls to trace (names or globs, comma-separated; a leading `!` traces all but
    /// these), and tracepoints (SYSTEM:NAME) to show among them.
    #[arg(short = 'e', long = "event", alias = "expr", value_name = "EXPR")]
    pub events: Vec<String>,
    /// Only the per-thread syscall summary.
    #[arg(short = 's', long = "summary")]
    pub summary: bool,
    /// Every syscall, then the summary.
    #[arg(short = 'S', long = "with-summary")]
    pub with_summary: bool,
    /// In the summary, the failures of each syscall by errno.
    #[arg(long = "errno-summary")]
    pub errno_summary: bool,
    /// Only syscalls that took longer than MS milliseconds.
    #[arg(long = "duration", value_name = "MS")]
    pub duration: Option<f64>,
    /// Only syscalls that failed.
    #[arg(long = "failure")]
    pub failure: bool,
    /// Write the trace to FILE (an existing one is kept as FILE.old, as perf does).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Show the thread's command name next to its id (the default).
    #[arg(long = "comm", overrides_with = "no_comm")]
    pub comm: bool,
    /// Show only the thread id.
    #[arg(long = "no-comm")]
    pub no_comm: bool,
    /// Absolute timestamps (milliseconds since boot), not relative to the first event.
    #[arg(short = 'T', long = "time")]
    pub time: bool,
    /// Trace syscalls too when `-e` names only tracepoints or with `-F`.
    #[arg(long = "syscalls", overrides_with = "no_syscalls")]
    pub syscalls: bool,
    /// Do not trace syscalls (with `-e` tracepoints or `-F`).
    #[arg(long = "no-syscalls")]
    pub no_syscalls: bool,
    /// Trace page faults: maj, min or all.
    #[arg(short = 'F', long = "pf", value_name = "maj|min|all")]
    pub pf: Option<String>,
    /// Per-thread scheduler run time in the summary (sched:sched_stat_runtime).
    #[arg(long = "sched")]
    pub sched: bool,
    /// Ring buffer size per CPU, in pages (a power of two).
    #[arg(short = 'm', long = "mmap-pages", value_name = "PAGES")]
    pub mmap_pages: Option<usize>,
    /// Trace only these CPUs (a list such as 0-2,5), system-wide.
    #[arg(short = 'C', long = "cpu", value_name = "CPUS")]
    pub cpu: Option<String>,
    /// Leave out the syscalls of these processes (comma-separated pids; rperf's own are
    /// always left out).
    #[arg(long = "filter-pids", value_name = "PIDS")]
    pub filter_pids: Option<String>,
    /// Stop after printing N events.
    #[arg(long = "max-events", value_name = "N")]
    pub max_events: Option<u64>,
    /// Print the call chain under each syscall: fp, dwarf or dwarf,SIZE.
    #[arg(long = "call-graph", value_name = "fp|dwarf[,SIZE]")]
    pub call_graph: Option<String>,
    /// With --call-graph: the kernel's part of a syscall's chain too.
    #[arg(long = "kernel-syscall-graph")]
    pub kernel_syscall_graph: bool,
    /// At most N frames per chain (alone: --call-graph dwarf).
    #[arg(long = "max-stack", value_name = "N")]
    pub max_stack: Option<usize>,
    /// Only events whose chain has at least N frames (alone: --call-graph dwarf).
    #[arg(long = "min-stack", value_name = "N")]
    pub min_stack: Option<usize>,
    /// Replay a perf.data written by `trace record` (rperf's or perf's) instead of tracing.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// With -i: read a file of another user.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// The command to run, after `--` when it has options of its own.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

impl TraceArgs {
    /// The `-e` lists' items in order, and whether a list opened with `!` (negating the
    /// syscalls named): what live tracing and `-i` both read.
    pub(super) fn event_items(&self) -> (bool, Vec<String>) {
        let mut negate = false;
        let mut items = Vec::new();
        for list in &self.events {
            let list = match list.strip_prefix('!') {
                Some(rest) => {
                    negate = true;
                    rest
                }
                None => list.as_str(),
            };
            items.extend(list.split(',').filter(|s| !s.is_empty()).map(String::from));
        }
        (negate, items)
    }
}
