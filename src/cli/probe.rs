//! `rperf probe`'s flags.
use std::path::PathBuf;

use clap::Parser;

use crate::cmd;

/// `rperf probe` options, named as perf's.
#[derive(Debug, Parser)]
#[command(arg_required_else_help = true)]
pub struct ProbeArgs {
    /// The executable or library to probe (user-space probes).
    #[arg(short = 'x', long = "exec", value_name = "PATH")]
    pub exec: Option<PathBuf>,
    /// A probe definition: [[GROUP:]EVENT=]FUNC[@SRC][+OFF|%return|:RELLINE]|SRC:LINE [ARG...].
    #[arg(short = 'a', long = "add", value_name = "PROBEDEF")]
    pub add: Vec<String>,
    /// Print the tracefs definition of a probe instead of adding it.
    #[arg(short = 'D', long = "definition", value_name = "PROBEDEF")]
    pub definition: Vec<String>,
    /// Delete probes: [GROUP:]EVENT, globs allowed.
    #[arg(short = 'd', long = "del", value_name = "[GROUP:]EVENT")]
    pub del: Vec<String>,
    /// List the probes defined (perf's and rperf's), optionally only [GROUP:]EVENT.
    #[arg(short = 'l', long = "list", value_name = "[GROUP:]EVENT", num_args = 0..=1)]
    pub list: Option<Option<String>>,
    /// List the functions of the binary (-x) that can be probed.
    #[arg(short = 'F', long = "funcs", value_name = "FILTER", num_args = 0..=1)]
    pub funcs: Option<Option<String>>,
    /// Filter for -F: globs joined by & and |, negated by ! (default "!_* & !*@plt").
    #[arg(long = "filter", value_name = "[!]FILTER")]
    pub filter: Option<String>,
    /// Show a function's source lines, numbered where a probe can go.
    #[arg(short = 'L', long = "line", value_name = "FUNC[@SRC]")]
    pub line: Option<String>,
    /// Show the variables available at a probe point.
    #[arg(short = 'V', long = "vars", value_name = "PROBEPOINT")]
    pub vars: Option<String>,
    /// With -V: show global variables too.
    #[arg(long = "externs")]
    pub externs: bool,
    /// With -V: show where each variable's location holds.
    #[arg(long = "range")]
    pub range: bool,
    /// Do everything but write tracefs.
    #[arg(short = 'n', long = "dry-run")]
    pub dry_run: bool,
    /// Print no messages.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Add a probe even when its event name exists (as NAME_1, NAME_2…).
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// How many probe points one definition may have.
    #[arg(long = "max-probes", value_name = "N", default_value_t = 128)]
    pub max_probes: usize,
    /// Kernel module for kernel probes.
    #[arg(short = 'm', long = "module", value_name = "MODNAME")]
    pub module: Option<String>,
    /// vmlinux (with DWARF) to find kernel probe points and arguments in.
    #[arg(short = 'k', long = "vmlinux", value_name = "FILE")]
    pub vmlinux: Option<PathBuf>,
    /// The words of one probe definition (joined with spaces, as perf does).
    #[arg(value_name = "PROBEDEF", allow_hyphen_values = true)]
    pub words: Vec<String>,
}

impl ProbeArgs {
    /// Turns the flags into `cmd::probe`'s config: the trailing words are one more
    /// definition, joined with spaces as perf does.
    pub fn into_config(self) -> cmd::probe::ProbeConfig {
        let mut add = self.add;
        if !self.words.is_empty() {
            add.push(self.words.join(" "));
        }
        cmd::probe::ProbeConfig {
            exec: self.exec,
            add,
            definition: self.definition,
            del: self.del,
            list: self.list,
            funcs: self.funcs,
            filter: self.filter,
            line: self.line,
            vars: self.vars,
            dry_run: self.dry_run,
            quiet: self.quiet,
            force: self.force,
            max_probes: self.max_probes,
            externs: self.externs,
            range: self.range,
            kernel_file: self.module,
            vmlinux: self.vmlinux,
        }
    }
}
