//! `rperf flamegraph`'s flags and the config they make.
use std::path::PathBuf;

use clap::Parser;

use super::record::parse_call_graph;
use super::shared::{target, FilterArgs, InputArgs};
use crate::cmd;

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
