//! `rperf sched`'s flags and subcommands: record and script rerun rperf's own commands,
//! the analyses go to `cmd::sched`.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use super::{dispatch, normalize_args, Cli};
use crate::cmd;

/// `rperf sched` options, named as perf's.
#[derive(Debug, Parser)]
pub struct SchedArgs {
    /// Input file.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        default_value = "perf.data",
        global = true
    )]
    pub input: PathBuf,
    /// Read a file that belongs to another user.
    #[arg(short = 'f', long = "force", global = true)]
    pub force: bool,
    /// What to do.
    #[command(subcommand)]
    pub sub: SchedCommand,
}

/// `rperf sched` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SchedCommand {
    /// Record the scheduler tracepoints system-wide while CMD runs (rperf record's options:
    /// -o FILE, -g, ...).
    Record {
        /// rperf record's options and the command.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// Per task: run time, switches, average and maximum delay from wake-up to running.
    Latency(SchedLatencyArgs),
    /// One line per context switch: time waited, scheduling delay, time run.
    Timehist(SchedTimehistArgs),
    /// Which task each CPU runs, one line per context switch.
    Map(SchedMapArgs),
    /// The recording's events as rperf script prints them (its options follow).
    Script {
        /// rperf script's options.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
}

/// `rperf sched latency` options.
#[derive(Debug, clap::Args)]
pub struct SchedLatencyArgs {
    /// Sort keys: runtime, switch, avg, max, pid.
    #[arg(
        short = 's',
        long = "sort",
        value_name = "KEYS",
        default_value = "avg,max,switch,runtime"
    )]
    pub sort: String,
    /// One row per thread instead of per command name.
    #[arg(short = 'p', long = "pids")]
    pub pids: bool,
    /// The one CPU profiled.
    #[arg(short = 'C', long = "CPU", value_name = "CPU")]
    pub cpu: Option<u32>,
}

/// `rperf sched timehist` options.
#[derive(Debug, clap::Args)]
pub struct SchedTimehistArgs {
    /// Only the summary.
    #[arg(short = 's', long = "summary")]
    pub summary: bool,
    /// The lines and the summary.
    #[arg(short = 'S', long = "with-summary")]
    pub with_summary: bool,
    /// Wake-up lines.
    #[arg(short = 'w', long = "wakeups")]
    pub wakeups: bool,
    /// Migration lines.
    #[arg(short = 'M', long = "migrations")]
    pub migrations: bool,
    /// A column per CPU.
    #[arg(short = 'V', long = "cpu-visual")]
    pub cpu_visual: bool,
    /// The task switched in.
    #[arg(short = 'n', long = "next")]
    pub next: bool,
    /// The switched-out task's state.
    #[arg(long = "state")]
    pub state: bool,
    /// Idle time only, charged to the task that ran before.
    #[arg(short = 'I', long = "idle-hist")]
    pub idle_hist: bool,
    /// Call chains, when recorded with -g (the default).
    #[arg(short = 'g', long = "call-graph")]
    pub call_graph: bool,
    /// No call chains.
    #[arg(long = "no-call-graph")]
    pub no_call_graph: bool,
    /// Frames shown per call chain.
    #[arg(long = "max-stack", value_name = "N", default_value_t = 5)]
    pub max_stack: usize,
    /// Only these process ids (comma-separated).
    #[arg(short = 'p', long = "pid", value_name = "PIDS")]
    pub pid: Option<String>,
    /// Only these thread ids (comma-separated).
    #[arg(short = 't', long = "tid", value_name = "TIDS")]
    pub tid: Option<String>,
    /// Only these CPUs (0-3,6).
    #[arg(short = 'C', long = "cpu", value_name = "CPUS")]
    pub cpu: Option<String>,
    /// Time window: start,stop in seconds.
    #[arg(long = "time", value_name = "START,STOP")]
    pub time: Option<String>,
    /// Look for binaries below this directory.
    #[arg(long = "symfs", value_name = "DIR")]
    pub symfs: Option<PathBuf>,
}

/// `rperf sched map` options.
#[derive(Debug, clap::Args)]
pub struct SchedMapArgs {
    /// Only the CPUs that ran something, in first-seen order.
    #[arg(long = "compact")]
    pub compact: bool,
    /// Only these CPUs (0-3,6).
    #[arg(long = "cpus", value_name = "CPUS")]
    pub cpus: Option<String>,
}

impl SchedArgs {
    /// Runs the subcommand: record and script through their own commands with perf's
    /// arguments (as perf sched does), the analyses through `cmd::sched`.
    pub(super) fn run(self, argv: Vec<String>) -> anyhow::Result<ExitCode> {
        use clap::{CommandFactory, FromArgMatches};
        let cpus = |c: Option<&str>| -> anyhow::Result<Vec<u32>> {
            match c {
                None => Ok(Vec::new()),
                Some(c) => crate::sys::topology::parse_cpu_list(c)
                    .ok_or_else(|| anyhow::anyhow!("invalid CPU list '{c}': give CPUs like 0-3,6")),
            }
        };
        let redo = |args: Vec<String>| -> anyhow::Result<ExitCode> {
            let m = Cli::command().try_get_matches_from(normalize_args(args))?;
            let cli = Cli::from_arg_matches(&m)?;
            match cli.command {
                Some(c) => dispatch(c, &m, argv.clone()),
                None => Ok(ExitCode::SUCCESS),
            }
        };
        let mut symfs = None;
        let analysis = match self.sub {
            SchedCommand::Record { args } => {
                let waking = crate::sys::tracefs::root()
                    .is_ok_and(|r| r.join("events/sched/sched_waking").exists());
                let mut v: Vec<String> = ["rperf", "record", "-a", "-R", "-m", "1024", "-c", "1"]
                    .map(String::from)
                    .into();
                for e in cmd::sched::record_events(waking) {
                    v.push("-e".into());
                    v.push(e.into());
                }
                v.extend(args);
                return redo(v);
            }
            SchedCommand::Script { args } => {
                let mut v: Vec<String> = vec!["rperf".into(), "script".into()];
                if self.force {
                    v.push("-f".into());
                }
                v.push("-i".into());
                v.push(self.input.to_string_lossy().into_owned());
                v.extend(args);
                return redo(v);
            }
            SchedCommand::Latency(a) => cmd::sched::Analysis::Latency(cmd::sched::LatencyOpts {
                sort: cmd::sched::SortKey::parse_list(&a.sort)?,
                per_pid: a.pids,
                cpu: a.cpu,
            }),
            SchedCommand::Timehist(a) => {
                symfs = a.symfs.clone();
                cmd::sched::Analysis::Timehist(cmd::sched::TimehistOpts {
                    summary_only: a.summary,
                    with_summary: a.with_summary,
                    wakeups: a.wakeups,
                    migrations: a.migrations,
                    cpu_visual: a.cpu_visual,
                    next: a.next,
                    state: a.state,
                    idle_hist: a.idle_hist,
                    callchain: a.call_graph || !a.no_call_graph,
                    max_stack: a.max_stack,
                    pids: cmd::sched::ids(a.pid.as_deref(), "--pid")?,
                    tids: cmd::sched::ids(a.tid.as_deref(), "--tid")?,
                    cpus: cpus(a.cpu.as_deref())?,
                    time: a.time,
                })
            }
            SchedCommand::Map(a) => cmd::sched::Analysis::Map(cmd::sched::MapOpts {
                compact: a.compact,
                cpus: a.cpus.as_deref().map(|c| cpus(Some(c))).transpose()?,
            }),
        };
        cmd::check_input(&self.input, self.force)?;
        cmd::sched::run(cmd::sched::SchedConfig {
            input: self.input,
            symfs,
            analysis,
        })
    }
}
