//! What rperf says about itself: `rperf version`, shell completions and man pages, the
//! last two generated from the clap definitions so they never drift from the real flags.
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

/// The line `rperf version` and `rperf --version` print, shaped as perf's `perf version X`.
pub fn line() -> String {
    format!("rperf version {}", env!("CARGO_PKG_VERSION"))
}

/// `rperf version`.
pub fn run() -> Result<ExitCode> {
    println!("{}", line());
    Ok(ExitCode::SUCCESS)
}

/// `rperf completions SHELL`: the script on standard output.
pub fn completions(shell: clap_complete::Shell, mut cmd: clap::Command) -> Result<ExitCode> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "rperf", &mut out);
    print(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `rperf man [-o DIR]`: rperf.1 on standard output, or every page (rperf.1 and
/// rperf-CMD.1 for each command) into DIR, which must exist.
pub fn man(cmd: clap::Command, dir: Option<&Path>) -> Result<ExitCode> {
    let Some(dir) = dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut out)?;
        print(&out)?;
        return Ok(ExitCode::SUCCESS);
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "man -o {}: no such directory (create it first, e.g. mkdir -p {})",
            dir.display(),
            dir.display()
        );
    }
    clap_mangen::generate_to(cmd, dir)
        .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
    eprintln!("wrote man pages into {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

pub(crate) use crate::output::print;
