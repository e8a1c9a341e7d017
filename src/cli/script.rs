//! `rperf script`'s flags and the config they make.
use std::process::ExitCode;

use clap::Parser;

use super::{InputArgs, SampleFilterArgs};
use crate::cmd;

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

impl ScriptArgs {
    /// Checks the input's owner, then prints with a progress bar on a terminal.
    pub(super) fn run(self) -> anyhow::Result<ExitCode> {
        self.from.check()?;
        let _progress = cmd::progress::start(&self.from.input, "script", true);
        self.into_config().and_then(cmd::script::run)
    }

    /// Turns the flags into `cmd::script`'s config.
    pub fn into_config(self) -> anyhow::Result<cmd::script::ScriptConfig> {
        let fields = self
            .fields
            .as_deref()
            .map(cmd::script::Fields::parse)
            .transpose()?;
        Ok(cmd::script::ScriptConfig {
            input: self.from.input,
            symfs: self.from.symfs,
            max_stack: self.max_stack,
            folded: self.folded,
            inline: match (self.inline, self.no_inline) {
                (_, true) => cmd::script::Inline::Off,
                (true, false) => cmd::script::Inline::All,
                (false, false) => cmd::script::Inline::Dwarf,
            },
            header: match (self.header_only, self.header) {
                (true, _) => crate::report::header::Header::Only,
                (false, true) => crate::report::header::Header::Also,
                _ => crate::report::header::Header::No,
            },
            fields,
            filter: self.filter.into_filter(self.cpu.as_deref())?,
            dump: self.dump_raw_trace,
            show_cgroups: self.show_cgroup_events,
            show_namespaces: self.show_namespace_events,
        })
    }
}
