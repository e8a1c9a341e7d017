//! `rperf annotate`'s flags and the config they make.
use clap::Parser;

use super::{InputArgs, SampleFilterArgs};
use crate::cmd;

/// `rperf annotate` options, named as perf's.
#[derive(Debug, Parser)]
pub struct AnnotateArgs {
    /// Input file and where its binaries are read.
    #[command(flatten)]
    pub from: InputArgs,
    /// Only this function (as --symbol).
    #[arg(value_name = "SYMBOL")]
    pub symbol_arg: Option<String>,
    /// Only this function.
    #[arg(short = 's', long = "symbol", value_name = "SYMBOL")]
    pub symbol: Option<String>,
    /// Only functions in these binaries (comma-separated short or full names).
    #[arg(short = 'd', long = "dsos", value_name = "DSOS")]
    pub dsos: Option<String>,
    /// Text output (the only output; accepted for perf compatibility).
    #[arg(long = "stdio")]
    pub stdio: bool,
    /// perf's second text layout: its browser's lines (offsets, jump labels and arrows,
    /// targets by name, only hot lines with a percentage).
    #[arg(long = "stdio2")]
    pub stdio2: bool,
    /// Leave out the source lines.
    #[arg(long = "no-source")]
    pub no_source: bool,
    /// Show the instruction bytes.
    #[arg(long = "asm-raw")]
    pub asm_raw: bool,
    /// Assembler syntax: att (the default) or intel.
    #[arg(short = 'M', long = "disassembler-style", value_name = "STYLE")]
    pub style: Option<String>,
    /// What percentages are shares of: local-period (default), global-period,
    /// local-hits or global-hits.
    #[arg(long = "percent-type", value_name = "TYPE")]
    pub percent_type: Option<String>,
    /// First a summary of the hottest source lines.
    #[arg(short = 'l', long = "print-line")]
    pub print_line: bool,
    /// Only samples taken on these CPUs (`0-2,5`).
    #[arg(short = 'C', long = "cpu", value_name = "CPUS")]
    pub cpu: Option<String>,
}

impl AnnotateArgs {
    /// Turns the flags into `cmd::annotate`'s config.
    pub fn into_config(self) -> anyhow::Result<cmd::annotate::AnnotateConfig> {
        let intel = match self.style.as_deref() {
            None | Some("att") => false,
            Some("intel") => true,
            Some(s) => anyhow::bail!("unknown disassembler style '{s}': use att or intel"),
        };
        let percent = match self.percent_type.as_deref() {
            None => crate::annotate::PercentType::default(),
            Some(t) => crate::annotate::PercentType::parse(t).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown --percent-type '{t}': use local-period, global-period, \
                     local-hits or global-hits"
                )
            })?,
        };
        let filter = SampleFilterArgs {
            comm: None,
            pid: None,
            tid: None,
            time: None,
        }
        .into_filter(self.cpu.as_deref())?;
        Ok(cmd::annotate::AnnotateConfig {
            input: self.from.input,
            symfs: self.from.symfs,
            symbol: self.symbol.or(self.symbol_arg),
            dsos: self
                .dsos
                .map(|v| v.split(',').map(String::from).collect())
                .unwrap_or_default(),
            style: crate::annotate::objdump::Style {
                intel,
                raw: self.asm_raw,
                source: !self.no_source,
            },
            percent,
            print_line: self.print_line,
            filter,
            stdio2: self.stdio2,
        })
    }
}
