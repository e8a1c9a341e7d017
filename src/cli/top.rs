//! `rperf top`'s flags and the config they make (the recording part through record's).
use std::path::PathBuf;

use clap::Parser;

use super::{RecordArgs, SamplingArgs, TargetArgs};
use crate::cmd;

/// `rperf top` options, named as perf's.
#[derive(Debug, Parser)]
pub struct TopArgs {
    /// -e, -F, -c.
    #[command(flatten)]
    pub sampling: SamplingArgs,
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
            sampling: self.sampling,
            filters: Vec::new(),
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
                sort: crate::top::parse_sort(self.sort.as_deref().unwrap_or("dso,sym"))?,
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
