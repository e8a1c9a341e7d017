//! Command-line definitions (clap derive only) and the dispatch the binary runs. Each
//! subcommand's arguments turn into the plain config struct its `cmd` module takes.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

use crate::cmd;

/// rperf: a Linux profiler that does what perf does.
#[derive(Debug, Parser)]
#[command(name = "rperf", version, about, propagate_version = true)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// rperf's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command and count events (perf stat).
    Stat(StatArgs),
    /// List the events this system can count (perf list).
    List(ListArgs),
}

/// `rperf stat` options, named as perf's.
#[derive(Debug, Parser)]
pub struct StatArgs {
    /// Event selector, repeatable and comma-separated; `rperf list` shows the names.
    #[arg(short = 'e', long = "event", value_name = "EVENT")]
    pub events: Vec<String>,
    /// Count on every CPU (system-wide).
    #[arg(short = 'a', long = "all-cpus")]
    pub all_cpus: bool,
    /// Count only on these CPUs (e.g. 0-2,4); implies system-wide for them.
    #[arg(short = 'C', long = "cpu", value_name = "CPU")]
    pub cpu: Option<String>,
    /// Count existing processes (comma-separated pids).
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<String>,
    /// Count existing threads (comma-separated tids).
    #[arg(short = 't', long = "tid", value_name = "TID")]
    pub tid: Option<String>,
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
            target: crate::target::Target {
                command: self.command,
                pids: self
                    .pid
                    .as_deref()
                    .map(|s| split_ints(s, "pid"))
                    .transpose()?
                    .unwrap_or_default(),
                tids: self
                    .tid
                    .as_deref()
                    .map(|s| split_ints(s, "tid"))
                    .transpose()?
                    .unwrap_or_default(),
                system_wide: self.all_cpus,
                cpu_list: self.cpu,
                pid_text: self.pid,
                tid_text: self.tid,
            },
            repeat: self.repeat,
            style,
            interval_ms: self.interval,
            interval_count: self.interval_count,
            aggregation,
            output: self.output,
            append: self.append,
            big_num: !self.no_big_num,
            inherit: !self.no_inherit,
        })
    }
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
    ];
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut it = args.into_iter();
    out.extend(it.next());
    let mut in_stat = false;
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
    let cli = Cli::parse_from(normalize_args(std::env::args().collect()));
    let result = match cli.command {
        Command::Stat(a) => a.into_config().and_then(cmd::stat::run),
        Command::List(a) => cmd::list::run(cmd::list::ListConfig { filters: a.filters }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if let Some(ev) = e.downcast_ref::<crate::events::EventError>() {
                eprintln!("{ev}");
                return ExitCode::from(129);
            }
            if let Some(x) = e.downcast_ref::<Exit>() {
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
    fn stat_flags_parse_like_perf() {
        let cli = Cli::parse_from(normalize_args(v(
            "rperf stat -a -A -r 3 -x, -e cs -e task-clock sleep 1",
        )));
        let Command::Stat(a) = cli.command else {
            panic!()
        };
        assert!(a.all_cpus && a.no_aggr);
        assert_eq!(a.repeat, 3);
        assert_eq!(a.field_separator.as_deref(), Some(","));
        assert_eq!(a.events, ["cs", "task-clock"]);
        assert_eq!(a.command, ["sleep", "1"]);
        let cli = Cli::parse_from(v("rperf stat -ddd ls -l"));
        let Command::Stat(a) = cli.command else {
            panic!()
        };
        assert_eq!(a.detailed, 3);
        assert_eq!(a.command, ["ls", "-l"]);
    }
}
