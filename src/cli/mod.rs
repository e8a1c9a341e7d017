//! Command-line definitions (clap derive only) and the dispatch the binary runs. Each
//! subcommand's arguments, in the file named after it, turn into the plain config struct its
//! `cmd` module takes; `shared.rs` holds the option groups several commands flatten in.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cmd;

mod annotate;
mod data;
mod diff;
mod flamegraph;
mod info;
mod probe;
mod record;
mod report;
mod sched;
mod script;
mod shared;
mod stat;
mod top;

pub use annotate::AnnotateArgs;
pub use data::{ConvertArgs, DataArgs, DataCommand};
pub use diff::DiffArgs;
pub use flamegraph::FlamegraphArgs;
pub use info::{
    ArchiveArgs, BuildidCacheArgs, BuildidListArgs, CompletionsArgs, ConfigArgs, EvlistArgs,
    ListArgs, ManArgs,
};
pub use probe::ProbeArgs;
pub use record::RecordArgs;
pub use report::ReportArgs;
pub use sched::{SchedArgs, SchedCommand, SchedLatencyArgs, SchedMapArgs, SchedTimehistArgs};
pub use script::ScriptArgs;
pub use shared::{FilterArgs, InputArgs, SampleFilterArgs, SamplingArgs, TargetArgs};
pub use stat::StatArgs;
pub use top::TopArgs;

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
pub(super) fn dispatch(
    command: Command,
    matches: &clap::ArgMatches,
    argv: Vec<String>,
) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    match command {
        Command::Stat(a) => a.into_config().and_then(cmd::stat::run),
        Command::Record(a) => a.run(matches, argv),
        Command::Report(a) => a.run(matches),
        Command::Diff(a) => a.into_config().and_then(cmd::diff::run),
        Command::Annotate(a) => {
            a.from.check()?;
            a.into_config().and_then(cmd::annotate::run)
        }
        Command::Script(a) => a.run(),
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
        }) => a.run(),
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
        Command::Probe(a) => cmd::probe::run(a.into_config()),
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
