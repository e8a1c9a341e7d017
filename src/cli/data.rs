//! `rperf data`'s subcommands (perf data): `convert`'s flags and the config they make.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::InputArgs;
use crate::cmd;

/// `rperf data` subcommands.
#[derive(Debug, Parser)]
pub struct DataArgs {
    /// What to do with the perf.data.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// `rperf data` subcommands, as perf's.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Convert a perf.data to JSON (perf data convert --to-json) or to Parquet tables.
    Convert(ConvertArgs),
}

/// `rperf data convert` options: perf's, plus `--to-parquet`.
#[derive(Debug, Parser)]
#[command(group(clap::ArgGroup::new("to").required(true).args(["to_json", "to_parquet"])))]
pub struct ConvertArgs {
    /// Write perf 6.1's JSON to FILE ("-" for stdout).
    #[arg(long = "to-json", value_name = "FILE")]
    pub to_json: Option<PathBuf>,
    /// Write the samples, frames and binaries as Parquet tables into the new directory DIR.
    #[arg(long = "to-parquet", value_name = "DIR")]
    pub to_parquet: Option<PathBuf>,
    /// Input, binaries and --force (which also replaces an existing output).
    #[command(flatten)]
    pub input: InputArgs,
}

impl ConvertArgs {
    /// Checks the input and converts it (`rperf data convert`).
    pub(super) fn run(self) -> anyhow::Result<ExitCode> {
        self.input.check()?;
        cmd::convert::run(cmd::convert::ConvertConfig {
            input: self.input.input,
            symfs: self.input.symfs,
            force: self.input.force,
            to: match (self.to_json, self.to_parquet) {
                (Some(f), _) => cmd::convert::Target::Json(f),
                (None, Some(d)) => cmd::convert::Target::Parquet(d),
                (None, None) => anyhow::bail!("give --to-json FILE or --to-parquet DIR"),
            },
        })
    }
}
