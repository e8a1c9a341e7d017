//! `rperf stat`'s flags and the config they make.
use std::path::PathBuf;

use clap::{ArgAction, Parser};

use super::shared::target;
use super::TargetArgs;
use crate::cmd;

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
