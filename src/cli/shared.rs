//! The option groups several commands flatten in (input file, sample filters, targets) and
//! the list parsers behind them.
use std::path::PathBuf;

use crate::cmd;

/// The perf.data to read (`-i`, "-" for a pipe) and `--symfs`, shared by the commands
/// that read one. evlist, buildid-list and sched spell `-i`/`-f` on their own: their help
/// texts (and sched's global flags) differ from these, and diff takes its files as
/// positionals.
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
    pub(super) fn check(&self) -> anyhow::Result<()> {
        cmd::check_input(&self.input, self.force)
    }
}

/// The sampling flags record and top share, where perf gives them one meaning (`perf
/// record -h`, `perf top -h`); -g and --call-graph stay each command's (top's also display).
#[derive(Debug, clap::Args)]
pub struct SamplingArgs {
    /// Event to sample, repeatable and comma-separated (default: cycles, or cpu-clock without a PMU).
    #[arg(short = 'e', long = "event", value_name = "EVENT")]
    pub events: Vec<String>,
    /// Samples per second (default 4000; `max` for the kernel's limit).
    #[arg(short = 'F', long = "freq", value_name = "HZ")]
    pub freq: Option<String>,
    /// Sample every N events instead of a frequency.
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
}

impl SamplingArgs {
    /// `-F` in samples per second (`max`: the kernel's limit), checked against `-c`.
    pub(super) fn freq(&self) -> anyhow::Result<Option<u64>> {
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
        Ok(freq)
    }
}

/// The sample filters report, script and flamegraph share, named as perf's.
#[derive(Debug, clap::Args)]
pub struct SampleFilterArgs {
    /// Only these command names (comma-separated; perf's -c/--comms).
    #[arg(
        short = 'c',
        long = "comm",
        visible_alias = "comms",
        value_name = "COMMS"
    )]
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
    pub(super) fn into_filter(self, cpu: Option<&str>) -> anyhow::Result<crate::replay::Filter> {
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
    /// Only samples whose leaf is in these binaries (comma-separated; perf's -d/--dsos).
    #[arg(short = 'd', long = "dso", visible_alias = "dsos", value_name = "DSOS")]
    pub dso: Option<String>,
}

impl FilterArgs {
    /// The replay's filter and the `--dso` list (absent means no filter).
    pub(super) fn split(
        self,
        cpu: Option<&str>,
    ) -> anyhow::Result<(crate::replay::Filter, Vec<String>)> {
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

/// A `-p`/`-t`-style option: absent means empty.
pub(super) fn id_list(s: Option<&str>, what: &str) -> anyhow::Result<Vec<i32>> {
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
pub(super) fn target(
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
