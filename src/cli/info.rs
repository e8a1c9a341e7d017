//! The flags of the small commands that list and manage: config, list, evlist, buildid-list,
//! buildid-cache, archive, completions, man.
use std::path::PathBuf;

use clap::Parser;

/// `rperf config` options.
#[derive(Debug, Parser)]
pub struct ConfigArgs {
    /// List every setting as section.key=value.
    #[arg(short = 'l', long = "list")]
    pub list: bool,
    /// Settings to print (section.key).
    #[arg(value_name = "KEY")]
    pub keys: Vec<String>,
}

/// `rperf evlist` options, named as perf's.
#[derive(Debug, Parser)]
pub struct EvlistArgs {
    /// Input file.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        default_value = "perf.data"
    )]
    pub input: PathBuf,
    /// Show every attribute of each event.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Show event groups as {leader,member,...}.
    #[arg(short = 'g', long = "group")]
    pub group: bool,
    /// Read a file that belongs to another user.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Show the sample frequency (or period) of each event.
    #[arg(short = 'F', long = "freq")]
    pub freq: bool,
}

/// `rperf buildid-list` options.
#[derive(Debug, Parser)]
pub struct BuildidListArgs {
    /// Input file: a perf.data, or an ELF binary to print its own build-id.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        default_value = "perf.data"
    )]
    pub input: PathBuf,
    /// Only the binaries samples were taken in.
    #[arg(short = 'H', long = "with-hits")]
    pub with_hits: bool,
    /// Read a file that belongs to another user.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

/// `rperf buildid-cache` options.
#[derive(Debug, Parser)]
#[command(arg_required_else_help = true)]
pub struct BuildidCacheArgs {
    /// Add these binaries to the cache (comma-separated or repeated).
    #[arg(short = 'a', long = "add", value_name = "FILE", value_delimiter = ',')]
    pub add: Vec<PathBuf>,
    /// Remove these binaries from the cache.
    #[arg(
        short = 'r',
        long = "remove",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub remove: Vec<PathBuf>,
    /// List the cached binaries: build-id and path.
    #[arg(short = 'l', long = "list")]
    pub list: bool,
}

/// `rperf archive` options.
#[derive(Debug, Parser)]
pub struct ArchiveArgs {
    /// The perf.data whose binaries to pack (writes FILE.tar.bz2 beside it).
    #[arg(value_name = "FILE", default_value = "perf.data")]
    pub input: PathBuf,
}

/// `rperf completions` options.
#[derive(Debug, Parser)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `rperf man` options.
#[derive(Debug, Parser)]
pub struct ManArgs {
    /// Write rperf.1 and rperf-CMD.1 for each command into this directory (default: print
    /// rperf.1 on standard output).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// `rperf list` options.
#[derive(Debug, Parser)]
pub struct ListArgs {
    /// Only these: hw, sw, cache, pmu, tracepoint, or a glob such as 'sched:*'.
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,
}
