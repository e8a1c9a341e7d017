//! `rperf report`'s flags and the config they make.
use std::process::ExitCode;

use clap::Parser;

use super::{FilterArgs, InputArgs};
use crate::cmd;

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
    /// Call graphs from the outermost caller down, whatever -g says (perf's alias for
    /// `-g caller`).
    #[arg(short = 'G', long = "inverted")]
    pub inverted: bool,
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
        if let (Some(g), true) = (graph.as_mut(), self.inverted) {
            g.order = Some(crate::report::graph::Order::Caller);
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

impl ReportArgs {
    /// Reports with perf's config files under the flags (report.children,
    /// report.sort_order); `matches` gives the order of --percent-limit and -g.
    pub(super) fn run(mut self, matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
        // perf's config sets defaults the flags override.
        let conf = crate::config::Config::load()?;
        if !self.children && !self.no_children {
            match conf.bool("report.children")? {
                Some(true) => self.children = true,
                Some(false) => self.no_children = true,
                None => {}
            }
        }
        if self.sort.is_none() && self.fields.is_none() {
            self.sort = conf.get("report.sort_order").map(String::from);
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
        self.from.check()?;
        // perf's browser is the default when stdout is a terminal (and keys can be
        // read); the header modes are text.
        use std::io::IsTerminal;
        let tui = !self.header
            && !self.header_only
            && (self.tui
                || (!self.stdio
                    && std::io::stdout().is_terminal()
                    && std::io::stdin().is_terminal()));
        let progress = cmd::progress::start(&self.from.input, "report", false);
        let cfg = self.into_config(limit_sets_graph)?;
        if tui {
            cmd::report_browser::run(cfg, progress)
        } else {
            cmd::report::run(cfg)
        }
    }
}
