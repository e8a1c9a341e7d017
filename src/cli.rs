//! Command-line definitions (clap derive only) and the dispatch the binary runs. Each
//! subcommand's arguments turn into the plain config struct its `cmd` module takes.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

use crate::cmd;

/// rperf: a Linux profiler that does what perf does.
#[derive(Debug, Parser)]
#[command(
    name = "rperf",
    version,
    about,
    propagate_version = true,
    disable_version_flag = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Print the version, as `rperf version` (perf's -v/--version).
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// rperf's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command and count events (perf stat).
    Stat(StatArgs),
    /// Sample a command, processes or the system into perf.data (perf record).
    Record(RecordArgs),
    /// Summarize a perf.data by comm, dso, symbol… (perf report --stdio).
    Report(ReportArgs),
    /// Print every sample of a perf.data, perf script's layout (perf script).
    Script(ScriptArgs),
    /// Compare two or more perf.data files entry by entry (perf diff).
    Diff(DiffArgs),
    /// Show the instructions and source lines of the sampled functions with each one's
    /// share of the samples (perf annotate --stdio).
    Annotate(AnnotateArgs),
    /// Draw a flame graph SVG from perf.data, or record a command and draw it.
    Flamegraph(FlamegraphArgs),
    /// List the events this system can count (perf list).
    List(ListArgs),
    /// List the events a perf.data recorded (perf evlist).
    Evlist(EvlistArgs),
    /// List the build-ids of the binaries a perf.data names (perf buildid-list).
    BuildidList(BuildidListArgs),
    /// Add, remove or list binaries in the build-id cache, ~/.debug (perf buildid-cache).
    BuildidCache(BuildidCacheArgs),
    /// Pack the binaries a perf.data's samples hit into a tarball, to report elsewhere
    /// (perf archive).
    Archive(ArchiveArgs),
    /// Print rperf's version (perf version).
    Version,
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    Completions(CompletionsArgs),
    /// Write man pages: rperf(1) and rperf-CMD(1) for every command.
    Man(ManArgs),
    /// Show the settings read from perf's config files (perf config).
    Config(ConfigArgs),
    /// Scheduler analysis: record context switches, then latency, timehist, map or script
    /// (perf sched).
    Sched(SchedArgs),
    /// Trace the syscalls of a command, processes or the system live (perf trace).
    Trace(crate::trace::TraceArgs),
    /// Define, list and delete dynamic probes: uprobes on a binary's functions and lines
    /// (perf probe).
    Probe(ProbeArgs),
    /// A live profile of the machine, refreshed every few seconds (perf top).
    Top(TopArgs),
    /// Convert a perf.data: perf's JSON, or Parquet tables for SQL engines (perf data).
    Data(DataArgs),
}

/// `rperf data` subcommands.
#[derive(Debug, Parser)]
pub struct DataArgs {
    /// What to do with the perf.data.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// `rperf data` subcommands, as perf's.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Convert a perf.data to JSON (perf data convert --to-json) or to Parquet tables.
    Convert(ConvertArgs),
}

/// `rperf data convert` options: perf's, plus `--to-parquet`.
#[derive(Debug, Parser)]
#[command(group(clap::ArgGroup::new("to").required(true).args(["to_json", "to_parquet"])))]
pub struct ConvertArgs {
    /// Write perf 6.1's JSON to FILE ("-" for stdout).
    #[arg(long = "to-json", value_name = "FILE")]
    pub to_json: Option<PathBuf>,
    /// Write the samples, frames and binaries as Parquet tables into the new directory DIR.
    #[arg(long = "to-parquet", value_name = "DIR")]
    pub to_parquet: Option<PathBuf>,
    /// Input, binaries and --force (which also replaces an existing output).
    #[command(flatten)]
    pub input: InputArgs,
}

/// `rperf top` options, named as perf's.
#[derive(Debug, Parser)]
pub struct TopArgs {
    /// Event to sample, repeatable and comma-separated (default: cycles, or cpu-clock without a PMU).
    #[arg(short = 'e', long = "event", value_name = "EVENT")]
    pub events: Vec<String>,
    /// Samples per second (default 4000; `max` for the kernel's limit).
    #[arg(short = 'F', long = "freq", value_name = "HZ")]
    pub freq: Option<String>,
    /// Sample every N events instead of a frequency.
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Sample call chains (frame pointers) and show call graphs.
    #[arg(short = 'g')]
    pub g: bool,
    /// Call chain mode: fp, or dwarf[,stack bytes].
    #[arg(long = "call-graph", value_name = "MODE")]
    pub call_graph: Option<String>,
    /// With call graphs: a Children column of time spent in callees (the default with -g).
    #[arg(long = "children", overrides_with = "no_children")]
    pub children: bool,
    /// With call graphs: each entry's own time only.
    #[arg(long = "no-children", overrides_with = "children")]
    pub no_children: bool,
    /// What to profile (default: the whole machine, -a).
    #[command(flatten)]
    pub target: TargetArgs,
    /// Seconds between refreshes.
    #[arg(
        short = 'd',
        long = "delay",
        value_name = "SECS",
        default_value_t = 2.0
    )]
    pub delay: f64,
    /// Start every refresh from zero instead of decaying the older samples.
    #[arg(short = 'z', long = "zero")]
    pub zero: bool,
    /// Show at most N entries.
    #[arg(short = 'E', long = "entries", value_name = "N")]
    pub entries: Option<usize>,
    /// Hide kernel symbols.
    #[arg(short = 'K', long = "hide_kernel_symbols")]
    pub hide_kernel: bool,
    /// Hide user symbols.
    #[arg(short = 'U', long = "hide_user_symbols")]
    pub hide_user: bool,
    /// Only these commands (comma-separated).
    #[arg(long = "comm", value_name = "COMMS")]
    pub comms: Option<String>,
    /// Only these binaries (comma-separated names or paths).
    #[arg(long = "dso", value_name = "DSOS")]
    pub dsos: Option<String>,
    /// Only these symbols (comma-separated).
    #[arg(long = "sym", alias = "symbols", value_name = "SYMS")]
    pub syms: Option<String>,
    /// Sort keys: comm, pid, dso, sym, cpu (default dso,sym).
    #[arg(short = 's', long = "sort", value_name = "KEYS")]
    pub sort: Option<String>,
    /// Hide entries under this percentage.
    #[arg(long = "percent-limit", value_name = "PCT", default_value_t = 0.0)]
    pub percent_limit: f64,
    /// Print text frames instead of the full-screen view.
    #[arg(long = "stdio")]
    pub stdio: bool,
    /// Ring buffer size per CPU: pages (a power of two) or a size with K/M suffix.
    #[arg(short = 'm', long = "mmap-pages", value_name = "PAGES")]
    pub mmap_pages: Option<String>,
    /// Say which choices were made (event fallbacks).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
}

impl TopArgs {
    /// Turns the flags into `cmd::top`'s config.
    pub fn into_config(self) -> anyhow::Result<cmd::top::TopConfig> {
        let split = |s: Option<String>| {
            s.map(|s| {
                s.split(',')
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
        };
        let rec = RecordArgs {
            events: self.events,
            filters: Vec::new(),
            freq: self.freq,
            count: self.count,
            g: self.g,
            call_graph: self.call_graph,
            fp_leaf_stack: 0,
            raw_samples: false,
            target: self.target,
            mmap_pages: self.mmap_pages,
            output: PathBuf::from("-"),
            quiet: true,
            verbose: self.verbose,
            command: Vec::new(),
            off_cpu: false,
            no_buildid_cache: false,
            all_cgroups: false,
            cgroup: None,
            namespaces: false,
        }
        .into_config(&[], Vec::new())?;
        if !(self.percent_limit >= 0.0 && self.percent_limit <= 100.0) {
            anyhow::bail!(
                "invalid --percent-limit {}: give a percentage from 0 to 100",
                self.percent_limit
            );
        }
        let graph = rec.call_graph != crate::events::attr::CallGraph::None;
        Ok(cmd::top::TopConfig {
            view: crate::top::View {
                sort: crate::top::SortKey::parse_list(self.sort.as_deref().unwrap_or("dso,sym"))?,
                hide_kernel: self.hide_kernel,
                hide_user: self.hide_user,
                comms: split(self.comms),
                dsos: split(self.dsos),
                syms: split(self.syms),
                graph,
                children: graph && !self.no_children,
                percent_limit: self.percent_limit,
            },
            record: rec,
            delay: self.delay,
            zero: self.zero,
            entries: self.entries,
            stdio: self.stdio,
        })
    }
}

/// `rperf probe` options, named as perf's.
#[derive(Debug, Parser)]
#[command(arg_required_else_help = true)]
pub struct ProbeArgs {
    /// The executable or library to probe (user-space probes).
    #[arg(short = 'x', long = "exec", value_name = "PATH")]
    pub exec: Option<PathBuf>,
    /// A probe definition: [[GROUP:]EVENT=]FUNC[@SRC][+OFF|%return|:RELLINE]|SRC:LINE [ARG...].
    #[arg(short = 'a', long = "add", value_name = "PROBEDEF")]
    pub add: Vec<String>,
    /// Print the tracefs definition of a probe instead of adding it.
    #[arg(short = 'D', long = "definition", value_name = "PROBEDEF")]
    pub definition: Vec<String>,
    /// Delete probes: [GROUP:]EVENT, globs allowed.
    #[arg(short = 'd', long = "del", value_name = "[GROUP:]EVENT")]
    pub del: Vec<String>,
    /// List the probes defined (perf's and rperf's), optionally only [GROUP:]EVENT.
    #[arg(short = 'l', long = "list", value_name = "[GROUP:]EVENT", num_args = 0..=1)]
    pub list: Option<Option<String>>,
    /// List the functions of the binary (-x) that can be probed.
    #[arg(short = 'F', long = "funcs", value_name = "FILTER", num_args = 0..=1)]
    pub funcs: Option<Option<String>>,
    /// Filter for -F: globs joined by & and |, negated by ! (default "!_* & !*@plt").
    #[arg(long = "filter", value_name = "[!]FILTER")]
    pub filter: Option<String>,
    /// Show a function's source lines, numbered where a probe can go.
    #[arg(short = 'L', long = "line", value_name = "FUNC[@SRC]")]
    pub line: Option<String>,
    /// Show the variables available at a probe point.
    #[arg(short = 'V', long = "vars", value_name = "PROBEPOINT")]
    pub vars: Option<String>,
    /// With -V: show global variables too.
    #[arg(long = "externs")]
    pub externs: bool,
    /// With -V: show where each variable's location holds.
    #[arg(long = "range")]
    pub range: bool,
    /// Do everything but write tracefs.
    #[arg(short = 'n', long = "dry-run")]
    pub dry_run: bool,
    /// Print no messages.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Add a probe even when its event name exists (as NAME_1, NAME_2…).
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// How many probe points one definition may have.
    #[arg(long = "max-probes", value_name = "N", default_value_t = 128)]
    pub max_probes: usize,
    /// Kernel module for kernel probes.
    #[arg(short = 'm', long = "module", value_name = "MODNAME")]
    pub module: Option<String>,
    /// vmlinux (with DWARF) to find kernel probe points and arguments in.
    #[arg(short = 'k', long = "vmlinux", value_name = "FILE")]
    pub vmlinux: Option<PathBuf>,
    /// The words of one probe definition (joined with spaces, as perf does).
    #[arg(value_name = "PROBEDEF", allow_hyphen_values = true)]
    pub words: Vec<String>,
}

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
    fn run(self, argv: Vec<String>) -> anyhow::Result<ExitCode> {
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

/// `rperf config` options.
#[derive(Debug, Parser)]
pub struct ConfigArgs {
    /// List every setting as section.key=value.
    #[arg(short = 'l', long = "list")]
    pub list: bool,
    /// Settings to print (section.key).
    #[arg(value_name = "KEY")]
    pub keys: Vec<String>,
}

/// `rperf evlist` options, named as perf's.
#[derive(Debug, Parser)]
pub struct EvlistArgs {
    /// Input file.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        default_value = "perf.data"
    )]
    pub input: PathBuf,
    /// Show every attribute of each event.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Show event groups as {leader,member,...}.
    #[arg(short = 'g', long = "group")]
    pub group: bool,
    /// Read a file that belongs to another user.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Show the sample frequency (or period) of each event.
    #[arg(short = 'F', long = "freq")]
    pub freq: bool,
}

/// `rperf buildid-list` options.
#[derive(Debug, Parser)]
pub struct BuildidListArgs {
    /// Input file: a perf.data, or an ELF binary to print its own build-id.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        default_value = "perf.data"
    )]
    pub input: PathBuf,
    /// Only the binaries samples were taken in.
    #[arg(short = 'H', long = "with-hits")]
    pub with_hits: bool,
    /// Read a file that belongs to another user.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

/// `rperf buildid-cache` options.
#[derive(Debug, Parser)]
#[command(arg_required_else_help = true)]
pub struct BuildidCacheArgs {
    /// Add these binaries to the cache (comma-separated or repeated).
    #[arg(short = 'a', long = "add", value_name = "FILE", value_delimiter = ',')]
    pub add: Vec<PathBuf>,
    /// Remove these binaries from the cache.
    #[arg(
        short = 'r',
        long = "remove",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub remove: Vec<PathBuf>,
    /// List the cached binaries: build-id and path.
    #[arg(short = 'l', long = "list")]
    pub list: bool,
}

/// `rperf archive` options.
#[derive(Debug, Parser)]
pub struct ArchiveArgs {
    /// The perf.data whose binaries to pack (writes FILE.tar.bz2 beside it).
    #[arg(value_name = "FILE", default_value = "perf.data")]
    pub input: PathBuf,
}

/// `rperf completions` options.
#[derive(Debug, Parser)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `rperf man` options.
#[derive(Debug, Parser)]
pub struct ManArgs {
    /// Write rperf.1 and rperf-CMD.1 for each command into this directory (default: print
    /// rperf.1 on standard output).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// The perf.data to read (`-i`, "-" for a pipe) and `--symfs`, shared by the commands
/// that read one.
#[derive(Debug, clap::Args)]
pub struct InputArgs {
    /// Input file ("-" for a pipe).
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        default_value = "perf.data"
    )]
    pub input: PathBuf,
    /// Look binaries up under this directory (as perf's --symfs).
    #[arg(long = "symfs", value_name = "DIR")]
    pub symfs: Option<PathBuf>,
    /// Read a file that belongs to another user (perf refuses such files without it).
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

impl InputArgs {
    /// perf's ownership rule for `-i` (see [`cmd::check_input`]).
    fn check(&self) -> anyhow::Result<()> {
        cmd::check_input(&self.input, self.force)
    }
}

/// `rperf flamegraph` options.
#[derive(Debug, Parser)]
pub struct FlamegraphArgs {
    /// Input file and where its binaries are read.
    #[command(flatten)]
    pub from: InputArgs,
    /// Output file (default: flamegraph.svg, out.folded, profile.speedscope.json,
    /// profile.json or profile.pb.gz by --format).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Title at the top.
    #[arg(long = "title")]
    pub title: Option<String>,
    /// What frame widths count, in tooltips (default: samples, or the event's unit such as
    /// µs of CPU time for cpu-clock).
    #[arg(long = "countname", value_name = "NAME")]
    pub countname: Option<String>,
    /// Image width in pixels.
    #[arg(long = "width")]
    pub width: Option<usize>,
    /// Omit frames narrower than this many pixels.
    #[arg(long = "minwidth")]
    pub minwidth: Option<f64>,
    /// Stacks grow from the leaf (callers above callees reversed).
    #[arg(long = "reverse")]
    pub reverse: bool,
    /// Icicle graph: roots at the top.
    #[arg(long = "inverted")]
    pub inverted: bool,
    /// Palette: hot (default), mem, io, red, green, blue, java, js, perl, python, rust…
    #[arg(long = "colors", value_name = "PALETTE")]
    pub colors: Option<String>,
    /// Root stacks at comm-pid.
    #[arg(long = "per-process")]
    pub per_process: bool,
    /// Root stacks at comm-pid/tid.
    #[arg(long = "per-thread")]
    pub per_thread: bool,
    /// Mark kernel frames (drawn in their own colour).
    #[arg(long = "kernel")]
    pub kernel: bool,
    /// Leave out frames of inlined functions (shown by default when DWARF has them).
    #[arg(long = "no-inline")]
    pub no_inline: bool,
    /// Which samples to keep.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Which event to draw when the file has several (default: the first).
    #[arg(long = "event", value_name = "NAME")]
    pub event: Option<String>,
    /// Output format: svg, folded, speedscope (speedscope.app JSON), firefox (Firefox
    /// Profiler JSON) or pprof (gzipped protobuf for go tool pprof).
    #[arg(long = "format", value_name = "FORMAT", default_value = "svg")]
    pub format: String,
    /// Differential graph of two recordings: BEFORE AFTER.
    #[arg(long = "diff", num_args = 2, value_names = ["BEFORE", "AFTER"])]
    pub diff: Vec<PathBuf>,
    /// Off-CPU graph of a `record --off-cpu` file (blocked frames blue, runnable aqua).
    #[arg(long = "off-cpu", conflicts_with_all = ["wall", "diff"])]
    pub off_cpu: bool,
    /// Wall-clock graph of a `record --off-cpu` file: CPU and off-CPU time of each thread
    /// together, adding up to its elapsed time.
    #[arg(long = "wall", conflicts_with = "diff")]
    pub wall: bool,
    /// Recording: samples per second.
    #[arg(short = 'F', long = "freq", value_name = "HZ")]
    pub freq: Option<u64>,
    /// Recording: an existing process.
    #[arg(short = 'p', long = "record-pid", value_name = "PID")]
    pub record_pid: Option<String>,
    /// Recording: the whole system.
    #[arg(short = 'a', long = "all-cpus")]
    pub all_cpus: bool,
    /// Recording: DWARF call chains (for code without frame pointers).
    #[arg(long = "call-graph", value_name = "MODE")]
    pub call_graph: Option<String>,
    /// Command to record and draw.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl FlamegraphArgs {
    /// Turns the flags into `cmd::flamegraph`'s config.
    pub fn into_config(
        self,
        argv: Vec<String>,
    ) -> anyhow::Result<cmd::flamegraph::FlamegraphConfig> {
        let (filter, dsos) = self.filter.split(None)?;
        let recording = !self.command.is_empty() || self.record_pid.is_some() || self.all_cpus;
        if !recording {
            self.from.check()?;
        }
        for f in &self.diff {
            cmd::check_input(f, self.from.force)?;
        }
        let record = if recording {
            let call_graph = match &self.call_graph {
                Some(m) => parse_call_graph(m)?,
                None => crate::events::attr::CallGraph::Fp,
            };
            Some(cmd::record::RecordConfig {
                // The wall-clock view adds CPU time in ns: cpu-clock, even where there is a PMU.
                events: if self.wall {
                    vec![("cpu-clock".to_string(), None)]
                } else {
                    Vec::new()
                },
                freq: Some(self.freq.unwrap_or(997)),
                period: None,
                call_graph,
                target: target(self.command, self.record_pid, None, self.all_cpus, None)?,
                mmap_pages: None,
                output: PathBuf::new(),
                quiet: true,
                verbose: false,
                cmdline: argv,
                leaf_stack: crate::events::attr::DEFAULT_LEAF_STACK,
                raw_samples: false,
                off_cpu: self.off_cpu || self.wall,
                ..Default::default()
            })
        } else {
            None
        };
        let format = match self.format.as_str() {
            "svg" => cmd::flamegraph::Format::Svg,
            "folded" => cmd::flamegraph::Format::Folded,
            "speedscope" => cmd::flamegraph::Format::Speedscope,
            "firefox" => cmd::flamegraph::Format::Firefox,
            "pprof" => cmd::flamegraph::Format::Pprof,
            f => anyhow::bail!(
                "unknown --format '{f}': use svg, folded, speedscope, firefox or pprof"
            ),
        };
        Ok(cmd::flamegraph::FlamegraphConfig {
            format,
            input: self.from.input,
            output: self
                .output
                .unwrap_or_else(|| PathBuf::from(format.default_output())),
            title: self.title,
            width: self.width,
            min_width: self.minwidth,
            reverse: self.reverse,
            inverted: self.inverted,
            colors: self.colors,
            fold: crate::report::folded::FoldOptions {
                symfs: self.from.symfs,
                event: self.event,
                per_process: self.per_process,
                per_thread: self.per_thread,
                filter,
                dsos,
                annotate_kernel: self.kernel,
                max_stack: None,
                inline: !self.no_inline,
                all_events: false,
            },
            diff: match self.diff.as_slice() {
                [a, b] => Some((a.clone(), b.clone())),
                _ => None,
            },
            record,
            count_name: self.countname,
            view: if self.wall {
                Some(crate::report::offcpu::View::Wall)
            } else if self.off_cpu {
                Some(crate::report::offcpu::View::OffCpu)
            } else {
                None
            },
        })
    }
}

/// `rperf annotate` options, named as perf's.
#[derive(Debug, Parser)]
pub struct AnnotateArgs {
    /// Input file and where its binaries are read.
    #[command(flatten)]
    pub from: InputArgs,
    /// Only this function (as --symbol).
    #[arg(value_name = "SYMBOL")]
    pub symbol_arg: Option<String>,
    /// Only this function.
    #[arg(short = 's', long = "symbol", value_name = "SYMBOL")]
    pub symbol: Option<String>,
    /// Only functions in these binaries (comma-separated short or full names).
    #[arg(short = 'd', long = "dsos", value_name = "DSOS")]
    pub dsos: Option<String>,
    /// Text output (the only output; accepted for perf compatibility).
    #[arg(long = "stdio")]
    pub stdio: bool,
    /// perf's second text layout: its browser's lines (offsets, jump labels and arrows,
    /// targets by name, only hot lines with a percentage).
    #[arg(long = "stdio2")]
    pub stdio2: bool,
    /// Leave out the source lines.
    #[arg(long = "no-source")]
    pub no_source: bool,
    /// Show the instruction bytes.
    #[arg(long = "asm-raw")]
    pub asm_raw: bool,
    /// Assembler syntax: att (the default) or intel.
    #[arg(short = 'M', long = "disassembler-style", value_name = "STYLE")]
    pub style: Option<String>,
    /// What percentages are shares of: local-period (default), global-period,
    /// local-hits or global-hits.
    #[arg(long = "percent-type", value_name = "TYPE")]
    pub percent_type: Option<String>,
    /// First a summary of the hottest source lines.
    #[arg(short = 'l', long = "print-line")]
    pub print_line: bool,
    /// Only samples taken on these CPUs (`0-2,5`).
    #[arg(short = 'C', long = "cpu", value_name = "CPUS")]
    pub cpu: Option<String>,
}

impl AnnotateArgs {
    /// Turns the flags into `cmd::annotate`'s config.
    pub fn into_config(self) -> anyhow::Result<cmd::annotate::AnnotateConfig> {
        let intel = match self.style.as_deref() {
            None | Some("att") => false,
            Some("intel") => true,
            Some(s) => anyhow::bail!("unknown disassembler style '{s}': use att or intel"),
        };
        let percent = match self.percent_type.as_deref() {
            None => crate::annotate::PercentType::default(),
            Some(t) => crate::annotate::PercentType::parse(t).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown --percent-type '{t}': use local-period, global-period, \
                     local-hits or global-hits"
                )
            })?,
        };
        let filter = SampleFilterArgs {
            comm: None,
            pid: None,
            tid: None,
            time: None,
        }
        .into_filter(self.cpu.as_deref())?;
        Ok(cmd::annotate::AnnotateConfig {
            input: self.from.input,
            symfs: self.from.symfs,
            symbol: self.symbol.or(self.symbol_arg),
            dsos: self
                .dsos
                .map(|v| v.split(',').map(String::from).collect())
                .unwrap_or_default(),
            style: crate::annotate::objdump::Style {
                intel,
                raw: self.asm_raw,
                source: !self.no_source,
            },
            percent,
            print_line: self.print_line,
            filter,
            stdio2: self.stdio2,
        })
    }
}

/// `rperf report` options, named as perf's.
#[derive(Debug, Parser)]
pub struct ReportArgs {
    /// Input file and where its binaries are read.
    #[command(flatten)]
    pub from: InputArgs,
    /// Text output (the default when stdout is not a terminal).
    #[arg(long = "stdio")]
    pub stdio: bool,
    /// The full-screen browser (the default on a terminal).
    #[arg(long = "tui", conflicts_with = "stdio")]
    pub tui: bool,
    /// Sort keys: comm, pid, dso, sym, srcline, parent, cpu (default comm,dso,sym).
    #[arg(short = 's', long = "sort", value_name = "KEYS")]
    pub sort: Option<String>,
    /// Output columns, in order, which also order the rows: overhead, overhead_children,
    /// overhead_sys, overhead_us, sample, period and sort keys (--sort keys not listed
    /// follow).
    #[arg(short = 'F', long = "fields", value_name = "FIELDS")]
    pub fields: Option<String>,
    /// Show the number of samples.
    #[arg(short = 'n', long = "show-nr-samples")]
    pub show_nr_samples: bool,
    /// Show a column with the sum of the periods (perf's --show-total-period).
    #[arg(long = "show-total-period")]
    pub show_total_period: bool,
    /// Accumulate callers' time (the default when the file has call chains).
    #[arg(long = "children", overrides_with = "no_children")]
    pub children: bool,
    /// Only self time.
    #[arg(long = "no-children")]
    pub no_children: bool,
    /// Leave out the functions inlined at the addresses of DWARF-unwound stacks (shown
    /// as `name (inlined)` entries by default, as perf's).
    #[arg(long = "no-inline")]
    pub no_inline: bool,
    /// perf's default, accepted for compatibility.
    #[arg(long = "inline", hide = true)]
    pub inline: bool,
    /// Call graph: print type (graph, flat, fractal, folded, none), threshold, print limit,
    /// caller or callee, comma-separated as perf's (default graph,0.5).
    #[arg(short = 'g', long = "call-graph", value_name = "MODE")]
    pub call_graph: Option<String>,
    /// Hide entries below this percentage.
    #[arg(long = "percent-limit", value_name = "PCT", default_value_t = 0.0)]
    pub percent_limit: f64,
    /// Which samples to keep.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Use at most N frames of each stack.
    #[arg(long = "max-stack", value_name = "N")]
    pub max_stack: Option<usize>,
    /// Only samples taken on these CPUs (`0-2,5`); the others do not count at all.
    #[arg(short = 'C', long = "cpu", value_name = "CPUS")]
    pub cpu: Option<String>,
    /// What a parent looks like for `--sort parent` (an extended regex).
    #[arg(
        short = 'p',
        long = "parent",
        value_name = "REGEX",
        default_value = "^sys_|^do_page_fault"
    )]
    pub parent: String,
    /// Print the perf.data header (hostname, command line, events…) before the report.
    #[arg(long = "header")]
    pub header: bool,
    /// Print only the perf.data header.
    #[arg(long = "header-only")]
    pub header_only: bool,
}

impl ReportArgs {
    /// Turns the flags into `cmd::report`'s config. `limit_sets_graph`: --percent-limit
    /// came after any -g, so it is the call-graph threshold too.
    pub fn into_config(self, limit_sets_graph: bool) -> anyhow::Result<cmd::report::ReportConfig> {
        let (filter, dsos) = self.filter.split(self.cpu.as_deref())?;
        let mut graph = match self.call_graph.as_deref() {
            None => Some(crate::report::graph::GraphConfig::default()),
            Some(g) => crate::report::graph::GraphConfig::parse(g).map_err(anyhow::Error::msg)?,
        };
        if let (Some(g), true) = (graph.as_mut(), limit_sets_graph) {
            g.min_percent = self.percent_limit;
        }
        let sort = self
            .sort
            .as_deref()
            .map(cmd::report::SortKey::parse_list)
            .transpose()?;
        let fields = self
            .fields
            .as_deref()
            .map(cmd::report::Field::parse_list)
            .transpose()?;
        // With -F the columns are its fields, then the --sort keys it does not list; rows
        // are ordered by the --sort keys first, then by the fields.
        let order_first = if fields.is_some() {
            sort.clone().unwrap_or_default()
        } else {
            Vec::new()
        };
        let sort = match &fields {
            None => sort.unwrap_or_else(|| {
                vec![
                    cmd::report::SortKey::Comm,
                    cmd::report::SortKey::Dso,
                    cmd::report::SortKey::Sym,
                ]
            }),
            Some(f) => {
                let mut keys: Vec<cmd::report::SortKey> = f
                    .iter()
                    .filter_map(|f| match f {
                        cmd::report::Field::Key(k) => Some(*k),
                        _ => None,
                    })
                    .collect();
                for k in sort.unwrap_or_default() {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
                keys
            }
        };
        Ok(cmd::report::ReportConfig {
            input: self.from.input,
            sort,
            fields,
            order_first,
            children: if self.no_children {
                Some(false)
            } else if self.children {
                Some(true)
            } else {
                None
            },
            show_nr_samples: self.show_nr_samples,
            show_total_period: self.show_total_period,
            percent_limit: self.percent_limit,
            symfs: self.from.symfs,
            filter,
            dsos,
            max_stack: self.max_stack,
            graph_asked: self
                .call_graph
                .as_deref()
                .is_some_and(|g| !g.starts_with("none")),
            graph,
            parent: self.parent,
            inline: !self.no_inline,
            header: match (self.header_only, self.header) {
                (true, _) => crate::report::header::Header::Only,
                (false, true) => crate::report::header::Header::Also,
                _ => crate::report::header::Header::No,
            },
        })
    }
}

/// `rperf diff` options, named as perf's.
#[derive(Debug, Parser)]
pub struct DiffArgs {
    /// OLD then NEW files (default perf.data.old perf.data; one file: perf.data.old and
    /// it); more NEW files add columns.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// What NEW columns show: delta, delta-abs (default), ratio or wdiff:w1,w2.
    #[arg(
        short = 'c',
        long = "compute",
        value_name = "METHOD",
        default_value = "delta-abs"
    )]
    pub compute: String,
    /// Sort keys that entries pair by: comm, pid, dso, sym, srcline, parent, cpu (default
    /// dso,sym).
    #[arg(
        short = 's',
        long = "sort",
        value_name = "KEYS",
        default_value = "dso,sym"
    )]
    pub sort: String,
    /// Percentages of everything (absolute, the default) or of what the filters keep.
    #[arg(
        long = "percentage",
        value_name = "relative|absolute",
        default_value = "absolute"
    )]
    pub percentage: String,
    /// Show the periods.
    #[arg(short = 'p', long = "period")]
    pub period: bool,
    /// Show how each value is computed.
    #[arg(short = 'F', long = "formula")]
    pub formula: bool,
    /// Order rows by this file's column first (0: by the baseline).
    #[arg(short = 'o', long = "order", value_name = "N", default_value_t = 1)]
    pub order: usize,
    /// Rows only, no header lines.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Only the baseline's entries that another file has too.
    #[arg(short = 'b', long = "baseline-only")]
    pub baseline_only: bool,
    /// Only samples in these binaries (comma-separated).
    #[arg(short = 'd', long = "dsos", value_name = "DSOS")]
    pub dsos: Option<String>,
    /// Only samples of these command names (comma-separated).
    #[arg(short = 'C', long = "comms", value_name = "COMMS")]
    pub comms: Option<String>,
    /// Only samples in these functions (comma-separated).
    #[arg(short = 'S', long = "symbols", value_name = "SYMBOLS")]
    pub symbols: Option<String>,
    /// Only these process ids.
    #[arg(long = "pid", value_name = "PIDS")]
    pub pid: Option<String>,
    /// Only these thread ids.
    #[arg(long = "tid", value_name = "TIDS")]
    pub tid: Option<String>,
    /// Separate columns with this string instead of padding them.
    #[arg(short = 't', long = "field-separator", value_name = "SEP")]
    pub field_separator: Option<String>,
    /// Look binaries up under this directory.
    #[arg(long = "symfs", value_name = "DIR")]
    pub symfs: Option<PathBuf>,
    /// Read files that belong to another user.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Only samples in this time window, applied to every file (perf's --time syntax:
    /// `start,stop` seconds or shares of each recording like `10%/2`).
    #[arg(long = "time", value_name = "TIME")]
    pub time: Option<String>,
    /// Only samples taken on these CPUs (`0-2,5`), in every file.
    #[arg(long = "cpu", value_name = "CPUS")]
    pub cpu: Option<String>,
    /// perf's hot-stream comparison (not supported: it needs branch-stack samples).
    #[arg(long = "stream", hide = true)]
    pub stream: bool,
}

impl DiffArgs {
    /// Turns the flags into `cmd::diff`'s config.
    pub fn into_config(self) -> anyhow::Result<cmd::diff::DiffConfig> {
        let list = |v: Option<String>| -> Vec<String> {
            v.map(|v| v.split(',').map(String::from).collect())
                .unwrap_or_default()
        };
        let mut files = self.files;
        match files.len() {
            0 => files = vec!["perf.data.old".into(), "perf.data".into()],
            1 => files.insert(0, "perf.data.old".into()),
            _ => {}
        }
        let relative = match self.percentage.as_str() {
            "relative" => true,
            "absolute" => false,
            p => anyhow::bail!("--percentage {p}: use relative or absolute"),
        };
        if self.field_separator.as_deref() == Some("") {
            anyhow::bail!("-t needs a separator");
        }
        if self.stream {
            anyhow::bail!(
                "--stream compares hot call-chain streams of branch-stack samples (perf record \
                 -b), which rperf does not support; diff without --stream compares the functions"
            );
        }
        Ok(cmd::diff::DiffConfig {
            files,
            sort: cmd::report::SortKey::parse_list(&self.sort)?,
            compute: cmd::diff::Compute::parse(&self.compute)?,
            relative,
            period: self.period,
            formula: self.formula,
            order: self.order,
            quiet: self.quiet,
            baseline_only: self.baseline_only,
            filter: crate::replay::Filter {
                comms: list(self.comms),
                pids: id_list(self.pid.as_deref(), "pid")?,
                tids: id_list(self.tid.as_deref(), "tid")?,
                cpus: match self.cpu.as_deref() {
                    None => Vec::new(),
                    Some(c) => crate::sys::topology::parse_cpu_list(c).ok_or_else(|| {
                        anyhow::anyhow!("invalid --cpu '{c}': give CPUs like 0-3,6")
                    })?,
                },
                time: self.time,
            },
            dsos: list(self.dsos),
            symbols: list(self.symbols),
            separator: self.field_separator,
            symfs: self.symfs,
            force: self.force,
        })
    }
}

/// `rperf script` options.
#[derive(Debug, Parser)]
pub struct ScriptArgs {
    /// Input file and where its binaries are read.
    #[command(flatten)]
    pub from: InputArgs,
    /// Show at most N frames of each stack (default: all).
    #[arg(long = "max-stack", value_name = "N")]
    pub max_stack: Option<usize>,
    /// Print folded stacks (`comm;outer;…;inner weight`) for flame graph tools.
    #[arg(long = "folded")]
    pub folded: bool,
    /// Fields to print: comm,pid,tid,cpu,time,period,event,trace,ip,sym,symoff,dso.
    #[arg(short = 'F', long = "fields", value_name = "FIELDS")]
    pub fields: Option<String>,
    /// Show the functions inlined at each call-chain address (from DWARF) in frame-pointer
    /// chains too; DWARF-unwound stacks show them by default, as perf's do.
    #[arg(long = "inline", overrides_with = "no_inline")]
    pub inline: bool,
    /// Leave out the functions inlined at call-chain addresses.
    #[arg(long = "no-inline", overrides_with = "inline")]
    pub no_inline: bool,
    /// Print the perf.data header (hostname, command line, events…) first.
    #[arg(long = "header")]
    pub header: bool,
    /// Print only the perf.data header.
    #[arg(long = "header-only")]
    pub header_only: bool,
    /// Only these command names, process ids or thread ids (comma-separated).
    #[command(flatten)]
    pub filter: SampleFilterArgs,
    /// Only samples taken on these CPUs (e.g. 0-2,4).
    #[arg(short = 'C', long = "cpu", value_name = "CPUS")]
    pub cpu: Option<String>,
    /// Dump every record as perf's -D does: file offset, raw bytes, decoded fields, and
    /// each sample's usual lines.
    #[arg(short = 'D', long = "dump-raw-trace")]
    pub dump_raw_trace: bool,
    /// Also print the CGROUP records (`record --all-cgroups`): each cgroup's id and path.
    #[arg(long = "show-cgroup-events")]
    pub show_cgroup_events: bool,
    /// Also print the NAMESPACES records (`record --namespaces`).
    #[arg(long = "show-namespace-events")]
    pub show_namespace_events: bool,
}

/// `rperf record` options, named as perf's.
#[derive(Debug, Parser)]
pub struct RecordArgs {
    /// Event to sample, repeatable and comma-separated (default: cycles, or cpu-clock without a PMU).
    #[arg(short = 'e', long = "event", value_name = "EVENT")]
    pub events: Vec<String>,
    /// Tracepoint filter for the -e just before it (e.g. 'prev_pid == 1').
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Samples per second (default 4000; `max` for the kernel's limit).
    #[arg(short = 'F', long = "freq", value_name = "HZ")]
    pub freq: Option<String>,
    /// Sample every N events instead of a frequency.
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Record call chains (frame pointers).
    #[arg(short = 'g')]
    pub g: bool,
    /// Call chain mode: fp, or dwarf[,stack bytes] (default 8192).
    #[arg(long = "call-graph", value_name = "MODE")]
    pub call_graph: Option<String>,
    /// With frame-pointer chains: bytes of user stack sampled to put back the caller of a
    /// function that set up no frame (0: plain chains as perf records them).
    #[arg(long = "fp-leaf-stack", value_name = "BYTES", default_value_t = crate::events::attr::DEFAULT_LEAF_STACK)]
    pub fp_leaf_stack: u32,
    /// Every sample carries its raw data, time and CPU (perf's --raw-samples).
    #[arg(short = 'R', long = "raw-samples")]
    pub raw_samples: bool,
    /// Off-CPU profile: also sample where threads wait, from sched_switch (events
    /// offcpu-time for blocked time, offcpu-runnable for time waiting for a CPU; weights in ns).
    #[arg(long = "off-cpu")]
    pub off_cpu: bool,
    /// Do not store binaries seen only inside containers in the build-id cache.
    #[arg(short = 'N', long = "no-buildid-cache")]
    pub no_buildid_cache: bool,
    /// Samples carry their cgroup (report --sort cgroup), with the cgroups' paths recorded.
    #[arg(long = "all-cgroups")]
    pub all_cgroups: bool,
    /// Only tasks in these cgroups (comma-separated, relative to the cgroup root; needs -a).
    #[arg(short = 'G', long = "cgroup", value_name = "NAME")]
    pub cgroup: Option<String>,
    /// Record the namespaces of each task (PERF_RECORD_NAMESPACES).
    #[arg(long = "namespaces")]
    pub namespaces: bool,
    /// What to measure besides a command.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Ring buffer size per CPU: pages (a power of two) or a size with K/M suffix.
    #[arg(short = 'm', long = "mmap-pages", value_name = "PAGES")]
    pub mmap_pages: Option<String>,
    /// Output file.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        default_value = "perf.data"
    )]
    pub output: PathBuf,
    /// No summary line.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Say which choices were made (event fallbacks).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// The command to run, after `--` when it has options of its own.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `--fp-leaf-stack`: the kernel takes whole 8-byte words, below 64 KiB.
fn leaf_stack(bytes: u32) -> anyhow::Result<u32> {
    if bytes % 8 != 0 || bytes > 65528 {
        anyhow::bail!("--fp-leaf-stack {bytes}: give a multiple of 8 below 65536 (0 turns it off)");
    }
    Ok(bytes)
}

pub(crate) fn parse_call_graph(s: &str) -> anyhow::Result<crate::events::attr::CallGraph> {
    use crate::events::attr::CallGraph;
    let (mode, size) = match s.split_once(',') {
        Some((m, sz)) => (m, Some(sz)),
        None => (s, None),
    };
    match mode {
        "fp" if size.is_none() => Ok(CallGraph::Fp),
        "dwarf" => {
            let n = match size {
                None => cmd::record::DEFAULT_DWARF_STACK,
                Some(sz) => sz.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    anyhow::anyhow!(
                        "invalid --call-graph stack size '{sz}': expected bytes, e.g. dwarf,16384"
                    )
                })?,
            };
            if n > 65528 {
                anyhow::bail!(
                    "--call-graph dwarf,{n}: the kernel copies at most 65528 bytes of stack"
                );
            }
            // The kernel wants a multiple of 8.
            Ok(CallGraph::Dwarf(n.div_ceil(8) * 8))
        }
        "lbr" => {
            anyhow::bail!("--call-graph lbr needs an Intel PMU with LBR, which this machine lacks")
        }
        _ => anyhow::bail!("invalid --call-graph '{s}': use fp or dwarf[,SIZE]"),
    }
}

fn parse_mmap_pages(s: &str) -> anyhow::Result<usize> {
    let page = crate::sys::ring::page_size();
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1024),
        Some('M' | 'm') => (&s[..s.len() - 1], 1024 * 1024),
        Some('G' | 'g') => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        Some('B' | 'b') => (&s[..s.len() - 1], 1),
        _ => (s, 0),
    };
    let n: usize = num.parse().map_err(|_| {
        anyhow::anyhow!("invalid -m '{s}': give pages (a power of two) or a size like 512K")
    })?;
    let pages = if mult == 0 {
        n
    } else {
        (n * mult).div_ceil(page)
    };
    if pages == 0 || !pages.is_power_of_two() {
        anyhow::bail!("-m {s}: the ring buffer must be a power of two pages (e.g. 1, 2, 64, 128)");
    }
    Ok(pages)
}

impl RecordArgs {
    /// Turns the flags into `cmd::record`'s config. `filter_owner[i]` is the index of the -e
    /// argument that filter i follows (from clap's argument positions).
    pub fn into_config(
        self,
        filter_owner: &[Option<usize>],
        cmdline: Vec<String>,
    ) -> anyhow::Result<cmd::record::RecordConfig> {
        let mut events: Vec<(String, Option<String>)> =
            self.events.into_iter().map(|e| (e, None)).collect();
        for (i, f) in self.filters.into_iter().enumerate() {
            match filter_owner.get(i).copied().flatten() {
                Some(e) if e < events.len() => events[e].1 = Some(f),
                _ => anyhow::bail!("--filter '{f}' must follow the -e tracepoint it applies to"),
            }
        }
        let call_graph = match (&self.call_graph, self.g) {
            (Some(m), _) => parse_call_graph(m)?,
            (None, true) => crate::events::attr::CallGraph::Fp,
            (None, false) => crate::events::attr::CallGraph::None,
        };
        let freq = match self.freq.as_deref() {
            None => None,
            Some("max") => Some(
                std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate")
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(cmd::record::DEFAULT_FREQ),
            ),
            Some(f) => Some(f.parse::<u64>().ok().filter(|v| *v > 0).ok_or_else(|| {
                anyhow::anyhow!("invalid -F '{f}': expected samples per second, e.g. 99, or max")
            })?),
        };
        if freq.is_some() && self.count.is_some() {
            anyhow::bail!("-F and -c cannot be used together: pick a frequency or a period");
        }
        Ok(cmd::record::RecordConfig {
            events,
            freq,
            period: self.count,
            call_graph,
            target: target(
                self.command,
                self.target.pid,
                self.target.tid,
                self.target.all_cpus,
                self.target.cpu,
            )?,
            mmap_pages: self
                .mmap_pages
                .as_deref()
                .map(parse_mmap_pages)
                .transpose()?,
            output: self.output,
            quiet: self.quiet,
            verbose: self.verbose,
            cmdline,
            leaf_stack: leaf_stack(self.fp_leaf_stack)?,
            raw_samples: self.raw_samples,
            off_cpu: self.off_cpu,
            no_buildid_cache: self.no_buildid_cache,
            all_cgroups: self.all_cgroups,
            cgroup: self.cgroup,
            namespaces: self.namespaces,
        })
    }
}

/// The sample filters report, script and flamegraph share, named as perf's.
#[derive(Debug, clap::Args)]
pub struct SampleFilterArgs {
    /// Only these command names (comma-separated).
    #[arg(long = "comm", value_name = "COMMS")]
    pub comm: Option<String>,
    /// Only these process ids (with flamegraph recording a process, see --record-pid).
    #[arg(long = "pid", value_name = "PIDS")]
    pub pid: Option<String>,
    /// Only these thread ids.
    #[arg(long = "tid", value_name = "TIDS")]
    pub tid: Option<String>,
    /// Only samples in this time window: `start,stop` in seconds as script prints times
    /// (either may be empty; several windows separated by spaces), or shares of the
    /// recording: `10%/2` (the second tenth), `0%-10%,30%-40%`.
    #[arg(long = "time", value_name = "TIME")]
    pub time: Option<String>,
}

impl SampleFilterArgs {
    /// The replay's filter, with `-C/--cpu` when the command has it.
    fn into_filter(self, cpu: Option<&str>) -> anyhow::Result<crate::replay::Filter> {
        Ok(crate::replay::Filter {
            comms: self
                .comm
                .map(|v| v.split(',').map(String::from).collect())
                .unwrap_or_default(),
            pids: id_list(self.pid.as_deref(), "pid")?,
            tids: id_list(self.tid.as_deref(), "tid")?,
            cpus: match cpu {
                None => Vec::new(),
                Some(c) => crate::sys::topology::parse_cpu_list(c)
                    .ok_or_else(|| anyhow::anyhow!("invalid --cpu '{c}': give CPUs like 0-3,6"))?,
            },
            time: self.time,
        })
    }
}

/// The sample filters report and flamegraph take: script's, and the leaf's binary.
#[derive(Debug, clap::Args)]
pub struct FilterArgs {
    /// Which threads and times.
    #[command(flatten)]
    pub sample: SampleFilterArgs,
    /// Only samples whose leaf is in these binaries (comma-separated).
    #[arg(long = "dso", value_name = "DSOS")]
    pub dso: Option<String>,
}

impl FilterArgs {
    /// The replay's filter and the `--dso` list (absent means no filter).
    fn split(self, cpu: Option<&str>) -> anyhow::Result<(crate::replay::Filter, Vec<String>)> {
        let dsos = self
            .dso
            .map(|v| v.split(',').map(String::from).collect())
            .unwrap_or_default();
        Ok((self.sample.into_filter(cpu)?, dsos))
    }
}

/// The target options stat and record share, named as perf's.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// Every CPU (system-wide).
    #[arg(short = 'a', long = "all-cpus")]
    pub all_cpus: bool,
    /// Only these CPUs (e.g. 0-2,4); system-wide on them.
    #[arg(short = 'C', long = "cpu", value_name = "CPU")]
    pub cpu: Option<String>,
    /// Existing processes (comma-separated pids), until they exit or Ctrl-C.
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<String>,
    /// Existing threads (comma-separated tids).
    #[arg(short = 't', long = "tid", value_name = "TID")]
    pub tid: Option<String>,
}

/// `rperf stat` options, named as perf's.
#[derive(Debug, Parser)]
pub struct StatArgs {
    /// Event selector, repeatable and comma-separated; `rperf list` shows the names.
    #[arg(short = 'e', long = "event", value_name = "EVENT")]
    pub events: Vec<String>,
    /// What to measure besides a command.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Repeat the command N times and print the mean and its variation.
    #[arg(short = 'r', long = "repeat", value_name = "N", default_value_t = 1)]
    pub repeat: u32,
    /// Print CSV-like output with this field separator.
    #[arg(short = 'x', long = "field-separator", value_name = "SEP")]
    pub field_separator: Option<String>,
    /// Print one JSON object per counter.
    #[arg(short = 'j', long = "json-output")]
    pub json: bool,
    /// Print counts every N milliseconds.
    #[arg(short = 'I', long = "interval-print", value_name = "MSEC")]
    pub interval: Option<u64>,
    /// Stop after this many intervals.
    #[arg(long = "interval-count", value_name = "N")]
    pub interval_count: Option<u64>,
    /// Do not aggregate counts across CPUs (one row per CPU).
    #[arg(short = 'A', long = "no-aggr")]
    pub no_aggr: bool,
    /// One row per CPU (same as -A).
    #[arg(long = "per-cpu")]
    pub per_cpu: bool,
    /// One row per thread.
    #[arg(long = "per-thread")]
    pub per_thread: bool,
    /// Add cache events: -d L1 and LLC, -dd also L1i/TLB, -ddd also prefetches.
    #[arg(short = 'd', long = "detailed", action = ArgAction::Count)]
    pub detailed: u8,
    /// Write the counts to FILE instead of stderr.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Append to the output file instead of replacing it.
    #[arg(long = "append", requires = "output")]
    pub append: bool,
    /// Group digits with the locale's thousands separator (the default).
    #[arg(short = 'B', long = "big-num", overrides_with = "no_big_num")]
    pub big_num: bool,
    /// Print plain digits.
    #[arg(long = "no-big-num")]
    pub no_big_num: bool,
    /// Children do not inherit the counters.
    #[arg(short = 'i', long = "no-inherit")]
    pub no_inherit: bool,
    /// Count only in these cgroups (with -a): one name for all events, or one per event
    /// in order.
    #[arg(short = 'G', long = "cgroup", value_name = "NAME[,NAME...]")]
    pub cgroup: Option<String>,
    /// Count every event once in each of these cgroups (with -a).
    #[arg(long = "for-each-cgroup", value_name = "NAME[,NAME...]")]
    pub for_each_cgroup: Option<String>,
    /// Keep counting and serve the counts as Prometheus metrics on ADDR:PORT (/metrics).
    #[arg(long = "serve", value_name = "ADDR:PORT")]
    pub serve: Option<String>,
    /// The command to run, after `--` when it has options of its own.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// `rperf list` options.
#[derive(Debug, Parser)]
pub struct ListArgs {
    /// Only these: hw, sw, cache, pmu, tracepoint, or a glob such as 'sched:*'.
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,
}

/// A `-p`/`-t`-style option: absent means empty.
fn id_list(s: Option<&str>, what: &str) -> anyhow::Result<Vec<i32>> {
    // `-p PID@HOLDER`: a pid as seen inside the pid namespace of host process HOLDER.
    if let Some(s) = s.filter(|s| what == "pid" && s.contains('@')) {
        return s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| match p.trim().split_once('@') {
                Some((pid, holder)) => {
                    let n = split_ints(pid, what)?;
                    let h = split_ints(holder, what)?;
                    match (n.as_slice(), h.as_slice()) {
                        ([n], [h]) => crate::target::host_pid(*n, *h),
                        _ => anyhow::bail!("invalid pid '{p}': expected PID or PID@HOLDER"),
                    }
                }
                None => Ok(split_ints(p, what)?[0]),
            })
            .collect();
    }
    s.map(|s| split_ints(s, what))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// The target options shared by stat, record and flamegraph.
pub(crate) fn target(
    command: Vec<String>,
    pid: Option<String>,
    tid: Option<String>,
    all_cpus: bool,
    cpu: Option<String>,
) -> anyhow::Result<crate::target::Target> {
    Ok(crate::target::Target {
        command,
        pids: id_list(pid.as_deref(), "pid")?,
        tids: id_list(tid.as_deref(), "tid")?,
        system_wide: all_cpus,
        cpu_list: cpu,
        pid_text: pid,
        tid_text: tid,
    })
}

fn split_ints(s: &str, what: &str) -> anyhow::Result<Vec<i32>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.trim()
                .parse::<i32>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "invalid {what} '{p}': expected a comma-separated list of numbers"
                    )
                })
        })
        .collect()
}

impl StatArgs {
    /// Turns the parsed flags into the plain configuration `cmd::stat` runs.
    pub fn into_config(self) -> anyhow::Result<cmd::stat::StatConfig> {
        use crate::stat::{format::Style, Aggregation};
        let style = match (self.field_separator, self.json) {
            (Some(_), true) => anyhow::bail!("-x and -j cannot be used together"),
            (Some(sep), false) => Style::Csv(sep),
            (None, true) => Style::Json,
            (None, false) => Style::Human,
        };
        let aggregation = match (self.no_aggr || self.per_cpu, self.per_thread) {
            (true, true) => anyhow::bail!("--per-thread cannot be combined with -A/--per-cpu"),
            (true, false) => Aggregation::PerCpu,
            (false, true) => Aggregation::PerThread,
            _ => Aggregation::Global,
        };
        if self.repeat == 0 {
            anyhow::bail!("-r/--repeat must be at least 1");
        }
        if self.serve.is_some() && (self.interval.is_some() || self.repeat > 1) {
            anyhow::bail!(
                "--serve counts until stopped: drop -I and -r (Prometheus takes the rates)"
            );
        }
        if self.interval.is_some() && self.repeat > 1 {
            anyhow::bail!("-I/--interval-print cannot be used with -r/--repeat");
        }
        if let Some(i) = self.interval {
            if i < 10 {
                anyhow::bail!("-I/--interval-print {i} is too small: the minimum is 10 ms");
            }
        }
        Ok(cmd::stat::StatConfig {
            events: self.events,
            detailed: self.detailed,
            target: target(
                self.command,
                self.target.pid,
                self.target.tid,
                self.target.all_cpus,
                self.target.cpu,
            )?,
            repeat: self.repeat,
            style,
            interval_ms: self.interval,
            interval_count: self.interval_count,
            aggregation,
            output: self.output,
            append: self.append,
            big_num: !self.no_big_num,
            inherit: !self.no_inherit,
            cgroups: self.cgroup,
            for_each_cgroup: self.for_each_cgroup,
            serve: self.serve,
        })
    }
}

/// perf accepts `-x,` with the separator glued on; clap does not take punctuation glued to a
/// short option, so such a token is split in two. Scanning stops where the workload begins.
pub fn normalize_args(args: Vec<String>) -> Vec<String> {
    const TAKES_VALUE: &[&str] = &[
        "-e",
        "--event",
        "-C",
        "--cpu",
        "-p",
        "--pid",
        "-t",
        "--tid",
        "-r",
        "--repeat",
        "-x",
        "--field-separator",
        "-I",
        "--interval-print",
        "--interval-count",
        "-o",
        "--output",
        "-G",
        "--cgroup",
        "--for-each-cgroup",
        "--serve",
    ];
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut it = args.into_iter();
    out.extend(it.next());
    let mut in_stat = false;
    // (only `stat` takes a glued separator; other subcommands pass through untouched)
    let mut expect_value = false;
    for a in it.by_ref() {
        if expect_value {
            expect_value = false;
            out.push(a);
            continue;
        }
        if !in_stat {
            in_stat = a == "stat";
            let is_sub = !a.starts_with('-');
            out.push(a);
            if is_sub && !in_stat {
                break;
            }
            continue;
        }
        if a == "--" || !a.starts_with('-') {
            out.push(a);
            break;
        }
        if TAKES_VALUE.contains(&a.as_str()) {
            expect_value = true;
            out.push(a);
        } else if let Some(sep) = a.strip_prefix("-x").filter(|s| !s.is_empty()) {
            out.push("-x".into());
            out.push(sep.to_string());
        } else {
            out.push(a);
        }
    }
    out.extend(it);
    out
}

/// Entry point used by the binary: parse, dispatch, print the error chain, exit.
pub fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    crate::sys::map::install();
    let argv: Vec<String> = std::env::args().collect();
    let matches = Cli::command().get_matches_from(normalize_args(argv.clone()));
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        // arg_required_else_help: only -v/--version gets here.
        None => cmd::version::run(),
        Some(command) => dispatch(command, &matches, argv),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if let Some(ev) = e.downcast_ref::<crate::events::EventError>() {
                eprintln!("{ev}");
                return ExitCode::from(129);
            }
            if let Some(x) = e.downcast_ref::<cmd::Exit>() {
                if !x.message.is_empty() {
                    eprintln!("rperf: {}", x.message);
                }
                return ExitCode::from(x.code);
            }
            eprintln!("rperf: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one subcommand.
fn dispatch(
    command: Command,
    matches: &clap::ArgMatches,
    argv: Vec<String>,
) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    match command {
        Command::Stat(a) => a.into_config().and_then(cmd::stat::run),
        Command::Record(mut a) => {
            // perf's config: `-g` records in call-graph.record-mode.
            let conf = crate::config::Config::load()?;
            if a.g && a.call_graph.is_none() {
                a.call_graph = conf.get("call-graph.record-mode").map(String::from);
            }
            let cache = match conf.get("record.build-id") {
                None | Some("no-cache" | "skip" | "mmap") => false,
                Some("cache") => true,
                Some(v) => anyhow::bail!(
                    "config record.build-id = {v:?}: use cache, no-cache, skip or mmap"
                ),
            };
            let sub = matches.subcommand_matches("record");
            let pos = |id: &str| -> Vec<usize> {
                sub.and_then(|m| m.indices_of(id))
                    .map(|i| i.collect())
                    .unwrap_or_default()
            };
            let (ev_pos, f_pos) = (pos("events"), pos("filters"));
            let owners: Vec<Option<usize>> = f_pos
                .iter()
                .map(|fp| ev_pos.iter().rposition(|ep| ep < fp))
                .collect();
            let cfg = a.into_config(&owners, argv)?;
            let output = cfg.output.clone();
            let code = cmd::record::run(cfg)?;
            if cache && output.as_os_str() != "-" {
                cmd::buildid::cache_recorded(&output)?;
            }
            Ok(code)
        }
        Command::Report(mut a) => {
            // perf's config sets defaults the flags override.
            let conf = crate::config::Config::load()?;
            if !a.children && !a.no_children {
                match conf.bool("report.children")? {
                    Some(true) => a.children = true,
                    Some(false) => a.no_children = true,
                    None => {}
                }
            }
            if a.sort.is_none() && a.fields.is_none() {
                a.sort = conf.get("report.sort_order").map(String::from);
            }
            // perf's --percent-limit also sets the call-graph threshold, unless a -g given
            // after it sets it again (options apply in command-line order).
            let sub = matches.subcommand_matches("report");
            let at = |id: &str| {
                sub.filter(|m| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
                    .and_then(|m| m.index_of(id))
            };
            let limit_sets_graph = match (at("percent_limit"), at("call_graph")) {
                (Some(l), Some(g)) => l > g,
                (Some(_), None) => true,
                _ => false,
            };
            a.from.check()?;
            // perf's browser is the default when stdout is a terminal (and keys can be
            // read); the header modes are text.
            use std::io::IsTerminal;
            let tui = !a.header
                && !a.header_only
                && (a.tui
                    || (!a.stdio
                        && std::io::stdout().is_terminal()
                        && std::io::stdin().is_terminal()));
            let progress = cmd::progress::start(&a.from.input, "report", false);
            let cfg = a.into_config(limit_sets_graph)?;
            if tui {
                cmd::report_browser::run(cfg, progress)
            } else {
                cmd::report::run(cfg)
            }
        }
        Command::Diff(a) => a.into_config().and_then(cmd::diff::run),
        Command::Annotate(a) => {
            a.from.check()?;
            a.into_config().and_then(cmd::annotate::run)
        }
        Command::Script(a) => {
            a.from.check()?;
            let _progress = cmd::progress::start(&a.from.input, "script", true);
            a.fields
                .as_deref()
                .map(cmd::script::Fields::parse)
                .transpose()
                .and_then(|fields| {
                    cmd::script::run(cmd::script::ScriptConfig {
                        input: a.from.input,
                        symfs: a.from.symfs,
                        max_stack: a.max_stack,
                        folded: a.folded,
                        inline: match (a.inline, a.no_inline) {
                            (_, true) => cmd::script::Inline::Off,
                            (true, false) => cmd::script::Inline::All,
                            (false, false) => cmd::script::Inline::Dwarf,
                        },
                        header: match (a.header_only, a.header) {
                            (true, _) => crate::report::header::Header::Only,
                            (false, true) => crate::report::header::Header::Also,
                            _ => crate::report::header::Header::No,
                        },
                        fields,
                        filter: a.filter.into_filter(a.cpu.as_deref())?,
                        dump: a.dump_raw_trace,
                        show_cgroups: a.show_cgroup_events,
                        show_namespaces: a.show_namespace_events,
                    })
                })
        }
        Command::Flamegraph(a) => {
            let _progress = cmd::progress::start(&a.from.input, "flamegraph", false);
            a.into_config(argv).and_then(cmd::flamegraph::run)
        }
        Command::List(a) => cmd::list::run(cmd::list::ListConfig { filters: a.filters }),
        Command::Sched(a) => a.run(argv),
        Command::Evlist(a) => {
            cmd::check_input(&a.input, a.force)?;
            cmd::evlist::run(cmd::evlist::EvlistConfig {
                input: a.input,
                verbose: a.verbose,
                group: a.group,
                freq: a.freq,
            })
        }
        Command::BuildidList(a) => {
            cmd::check_input(&a.input, a.force)?;
            cmd::buildid::list(&a.input, a.with_hits)
        }
        Command::BuildidCache(a) => cmd::buildid::cache(&a.add, &a.remove, a.list),
        Command::Archive(a) => cmd::archive::run(&a.input),
        Command::Version => cmd::version::run(),
        Command::Completions(a) => cmd::version::completions(a.shell, Cli::command()),
        Command::Man(a) => cmd::version::man(Cli::command(), a.output.as_deref()),
        Command::Config(a) => crate::config::run(a.list, &a.keys),
        Command::Top(a) => a.into_config().and_then(cmd::top::run),
        Command::Data(DataArgs {
            command: DataCommand::Convert(a),
        }) => {
            a.input.check()?;
            cmd::convert::run(cmd::convert::ConvertConfig {
                input: a.input.input,
                symfs: a.input.symfs,
                force: a.input.force,
                to: match (a.to_json, a.to_parquet) {
                    (Some(f), _) => cmd::convert::Target::Json(f),
                    (None, Some(d)) => cmd::convert::Target::Parquet(d),
                    (None, None) => anyhow::bail!("give --to-json FILE or --to-parquet DIR"),
                },
            })
        }
        // `trace record` is perf trace's recipe run through rperf record.
        Command::Trace(a) => match crate::trace::record_argv(&a)? {
            Some(v) => {
                use clap::FromArgMatches;
                let m = Cli::command().try_get_matches_from(normalize_args(v.clone()))?;
                match Cli::from_arg_matches(&m)?.command {
                    Some(c) => dispatch(c, &m, v),
                    None => Ok(ExitCode::SUCCESS),
                }
            }
            None => crate::trace::run(a),
        },
        Command::Probe(a) => {
            let mut add = a.add;
            if !a.words.is_empty() {
                add.push(a.words.join(" "));
            }
            cmd::probe::run(cmd::probe::ProbeConfig {
                exec: a.exec,
                add,
                definition: a.definition,
                del: a.del,
                list: a.list,
                funcs: a.funcs,
                filter: a.filter,
                line: a.line,
                vars: a.vars,
                dry_run: a.dry_run,
                quiet: a.quiet,
                force: a.force,
                max_probes: a.max_probes,
                externs: a.externs,
                range: a.range,
                kernel_file: a.module,
                vmlinux: a.vmlinux,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn glued_separator_is_split_before_the_command_only() {
        assert_eq!(
            normalize_args(v("rperf stat -x, true")),
            v("rperf stat -x , true")
        );
        assert_eq!(
            normalize_args(v("rperf stat -e cs -x; grep -x, f")),
            v("rperf stat -e cs -x ; grep -x, f")
        );
        assert_eq!(
            normalize_args(v("rperf stat -e -x, ls")),
            v("rperf stat -e -x, ls")
        );
        assert_eq!(normalize_args(v("rperf list -x,")), v("rperf list -x,"));
    }

    #[test]
    fn record_call_graph_and_ring_sizes() {
        use crate::events::attr::CallGraph;
        assert_eq!(parse_call_graph("fp").unwrap(), CallGraph::Fp);
        assert_eq!(parse_call_graph("dwarf").unwrap(), CallGraph::Dwarf(8192));
        assert_eq!(
            parse_call_graph("dwarf,1001").unwrap(),
            CallGraph::Dwarf(1008)
        );
        assert!(parse_call_graph("dwarf,70000").is_err());
        assert!(parse_call_graph("bogus").is_err());
        assert_eq!(parse_mmap_pages("1").unwrap(), 1);
        assert_eq!(parse_mmap_pages("128").unwrap(), 128);
        assert!(parse_mmap_pages("3").is_err());
        assert_eq!(
            parse_mmap_pages("512K").unwrap(),
            512 * 1024 / crate::sys::ring::page_size()
        );
    }

    #[test]
    fn record_filters_attach_to_the_preceding_event() {
        let cli = Cli::parse_from(v(
            "rperf record -e sched:sched_switch --filter prev_pid>0 -e cs -a -- sleep 1",
        ));
        let Some(Command::Record(a)) = cli.command else {
            panic!()
        };
        let cfg = a.into_config(&[Some(0)], vec![]).unwrap();
        assert_eq!(
            cfg.events[0],
            (
                "sched:sched_switch".to_string(),
                Some("prev_pid>0".to_string())
            )
        );
        assert_eq!(cfg.events[1].1, None);
        assert_eq!(cfg.target.command, ["sleep", "1"]);
    }

    #[test]
    fn stat_flags_parse_like_perf() {
        let cli = Cli::parse_from(normalize_args(v(
            "rperf stat -a -A -r 3 -x, -e cs -e task-clock sleep 1",
        )));
        let Some(Command::Stat(a)) = cli.command else {
            panic!()
        };
        assert!(a.target.all_cpus && a.no_aggr);
        assert_eq!(a.repeat, 3);
        assert_eq!(a.field_separator.as_deref(), Some(","));
        assert_eq!(a.events, ["cs", "task-clock"]);
        assert_eq!(a.command, ["sleep", "1"]);
        let cli = Cli::parse_from(v("rperf stat -ddd ls -l"));
        let Some(Command::Stat(a)) = cli.command else {
            panic!()
        };
        assert_eq!(a.detailed, 3);
        assert_eq!(a.command, ["ls", "-l"]);
    }
}
