//! `rperf diff`'s flags and the config they make.
use std::path::PathBuf;

use clap::Parser;

use super::shared::id_list;
use crate::cmd;

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
