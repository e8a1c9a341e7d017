//! `rperf record`'s flags, their parsers (-m, --call-graph, --fp-leaf-stack) and the config
//! they make.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use super::shared::target;
use super::{SamplingArgs, TargetArgs};
use crate::cmd;

/// `rperf record` options, named as perf's.
#[derive(Debug, Parser)]
pub struct RecordArgs {
    /// -e, -F, -c.
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Tracepoint filter for the -e just before it (e.g. 'prev_pid == 1').
    // Listed right after -e, which it qualifies, though declared after the shared flags:
    // clap orders equal display orders by flag name, and "e" comes before "filter".
    #[arg(long = "filter", value_name = "FILTER", display_order = 0)]
    pub filters: Vec<String>,
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

pub(super) fn parse_call_graph(s: &str) -> anyhow::Result<crate::events::attr::CallGraph> {
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
        mut self,
        filter_owner: &[Option<usize>],
        cmdline: Vec<String>,
    ) -> anyhow::Result<cmd::record::RecordConfig> {
        let mut events: Vec<(String, Option<String>)> = std::mem::take(&mut self.sampling.events)
            .into_iter()
            .map(|e| (e, None))
            .collect();
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
        let freq = self.sampling.freq()?;
        Ok(cmd::record::RecordConfig {
            events,
            freq,
            period: self.sampling.count,
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

impl RecordArgs {
    /// Records with perf's config files under the flags: `-g` in call-graph.record-mode,
    /// `record.build-id = cache` fills the build-id cache afterwards. `matches` gives the
    /// flags' positions, which attach each --filter to the -e before it.
    pub(super) fn run(
        mut self,
        matches: &clap::ArgMatches,
        argv: Vec<String>,
    ) -> anyhow::Result<ExitCode> {
        // perf's config: `-g` records in call-graph.record-mode.
        let conf = crate::config::Config::load()?;
        if self.g && self.call_graph.is_none() {
            self.call_graph = conf.get("call-graph.record-mode").map(String::from);
        }
        let cache = match conf.get("record.build-id") {
            None | Some("no-cache" | "skip" | "mmap") => false,
            Some("cache") => true,
            Some(v) => {
                anyhow::bail!("config record.build-id = {v:?}: use cache, no-cache, skip or mmap")
            }
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
        let cfg = self.into_config(&owners, argv)?;
        let output = cfg.output.clone();
        let code = cmd::record::run(cfg)?;
        if cache && output.as_os_str() != "-" {
            cmd::buildid::cache_recorded(&output)?;
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
