//! `rperf probe`: add, list and delete uprobes (and kprobes where the kernel has them)
//! through tracefs, with perf probe's syntax, event names, messages and exit statuses.
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use crate::probe::debuginfo::{Binary, OpenError};
use crate::probe::{self, Definition, Point, Spec};

mod add;
mod kernel;
mod list;
mod resolve;
mod sdt;
mod show;

use add::*;
use list::*;
use resolve::*;
pub use sdt::sdt_list_lines;
use sdt::*;
use show::*;

/// What `rperf probe` was asked to do.
#[derive(Debug, Default)]
pub struct ProbeConfig {
    /// `-x`: the binary or library (user-space probes); none means the kernel.
    pub exec: Option<PathBuf>,
    /// Definitions to add (`-a` and the words after the options, joined as one).
    pub add: Vec<String>,
    /// `-D`: definitions to print in tracefs syntax, adding nothing.
    pub definition: Vec<String>,
    /// `-d` patterns.
    pub del: Vec<String>,
    /// `-l [FILTER]`.
    pub list: Option<Option<String>>,
    /// `-F [FILTER]`.
    pub funcs: Option<Option<String>>,
    /// `--filter`.
    pub filter: Option<String>,
    /// `-L`.
    pub line: Option<String>,
    /// `-V`.
    pub vars: Option<String>,
    /// `-n`.
    pub dry_run: bool,
    /// `-q`.
    pub quiet: bool,
    /// `-f`.
    pub force: bool,
    /// `--max-probes`.
    pub max_probes: usize,
    /// `--externs`: `-V` shows global variables too.
    pub externs: bool,
    /// `--range`: `-V` shows where each variable's locations hold.
    pub range: bool,
    /// `-m`/`-k`: a kernel module or vmlinux was named.
    pub kernel_file: Option<String>,
    /// `-k`: the vmlinux whose DWARF kernel probes are found in (as `-x`'s for uprobes).
    pub vmlinux: Option<PathBuf>,
}

/// perf's exit statuses: the negated errno, as a byte.
const ENOENT: u8 = 254;
const EEXIST: u8 = 239;
const EACCES: u8 = 243;
const EINVAL: u8 = 234;
const ENOSYS: u8 = 218;
const ERANGE: u8 = 222;
const EOPNOTSUPP: u8 = 161;

/// Prints perf's lines for a failure (`text`, then `  Error: {what}`) unless quiet, and
/// returns the error carrying perf's exit status.
/// The event name a new probe takes: `base`, or with `-f` the next free `base_N`; taken
/// names are refused as perf refuses them. `-D` (`show`) checks none. The name is then taken.
fn claim_event(
    cfg: &ProbeConfig,
    taken: &mut BTreeSet<String>,
    base: String,
    show: bool,
    what: &str,
) -> Result<String> {
    let event = if !show && taken.contains(&base) {
        if !cfg.force {
            return Err(fail(
                cfg.quiet,
                &format!(
                    "Error: event \"{base}\" already exists.\n Hint: Remove existing event \
                     by 'perf probe -d'\n       or force duplicates by 'perf probe -f'\n       \
                     or set 'force=yes' in BPF source."
                ),
                what,
                EEXIST,
            ));
        }
        probe::unique_event(&base, |n| taken.contains(n))
    } else {
        base
    };
    taken.insert(event.clone());
    Ok(event)
}

fn fail(quiet: bool, text: &str, what: &str, code: u8) -> anyhow::Error {
    if !quiet {
        let mut e = std::io::stderr().lock();
        if !text.is_empty() {
            let _ = writeln!(e, "{text}");
        }
        if !what.is_empty() {
            let _ = writeln!(e, "  Error: {what}");
        }
    }
    anyhow::Error::new(crate::cmd::Exit {
        code,
        message: String::new(),
    })
}

/// Runs `rperf probe`.
pub fn run(cfg: ProbeConfig) -> Result<ExitCode> {
    if let Some(filter) = &cfg.list {
        return list(&cfg, filter.as_deref());
    }
    if !cfg.del.is_empty() {
        return delete(&cfg);
    }
    if let Some(f) = &cfg.funcs {
        return funcs(&cfg, f.as_deref().or(cfg.filter.as_deref()));
    }
    if let Some(l) = &cfg.line {
        return lines(&cfg, l);
    }
    if let Some(v) = &cfg.vars {
        return vars(&cfg, v);
    }
    if !cfg.definition.is_empty() {
        return add(&cfg, &cfg.definition, true);
    }
    if cfg.add.is_empty() {
        anyhow::bail!(
            "nothing to do: give a probe definition (rperf probe -x BINARY FUNC), or -l, -d, \
             -F, -L or -D"
        );
    }
    add(&cfg, &cfg.add, false)
}

/// The tracefs file of user probes or kernel probes.
fn events_file(kernel: bool) -> Result<PathBuf> {
    let root = crate::sys::tracefs::root()?;
    Ok(root.join(if kernel {
        "kprobe_events"
    } else {
        "uprobe_events"
    }))
}

/// The probes tracefs holds: (definition, is kernel). `writing`: the caller means to change
/// them (perf's message for a refusal then asks for sudo).
fn existing(quiet: bool, what: &str, writing: bool) -> Result<Vec<(Definition, bool)>> {
    let mut out = Vec::new();
    for kernel in [false, true] {
        let path = events_file(kernel)?;
        match std::fs::read_to_string(&path) {
            Ok(text) => out.extend(
                text.lines()
                    .filter_map(Definition::parse)
                    .map(|d| (d, kernel)),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && writing => {
                return Err(no_permission(quiet, what))
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(fail(
                    quiet,
                    "No permission to read tracefs.\nPlease try 'sudo mount -o remount,mode=755 \
                     /sys/kernel/tracing/'",
                    what,
                    EACCES,
                ))
            }
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        }
    }
    Ok(out)
}

/// Appends one line to uprobe_events/kprobe_events (never truncating what is there).
fn write_events(kernel: bool, line: &str) -> std::io::Result<()> {
    let path = events_file(kernel).map_err(std::io::Error::other)?;
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(format!("{line}\n").as_bytes())
}

fn no_permission(quiet: bool, what: &str) -> anyhow::Error {
    fail(
        quiet,
        "No permission to write tracefs.\nPlease run this command again with sudo.",
        what,
        EACCES,
    )
}

/// The error for kernel probes on a kernel without them.
fn no_kprobes() -> anyhow::Error {
    anyhow::Error::new(crate::cmd::Exit {
        code: ENOSYS,
        message: "this kernel has no kprobes (it was built without CONFIG_KPROBES and \
                  CONFIG_KPROBE_EVENTS: tracefs has no kprobe_events), so kernel functions \
                  cannot be probed; probe user space with -x BINARY"
            .into(),
    })
}

/// Opens the binary of `-x`, with perf's messages when it cannot be probed.
fn open_binary(cfg: &ProbeConfig, path: &Path, what: &str) -> Result<Binary> {
    match Binary::open(path) {
        Ok(b) => Ok(b),
        Err(OpenError::Path(e)) => Err(anyhow::Error::new(crate::cmd::Exit {
            code: 129,
            message: format!(
                "Failed to get the absolute path of {}: {}",
                path.display(),
                strerror(&e)
            ),
        })),
        Err(OpenError::NotElf) => Err(fail(
            cfg.quiet,
            &format!(
                "Failed to load symbols from {}\nPlease ensure the file is not stripped.",
                std::fs::canonicalize(path)
                    .unwrap_or_else(|_| path.to_path_buf())
                    .display()
            ),
            what,
            ENOENT,
        )),
    }
}

fn no_debuginfo(cfg: &ProbeConfig, bin: &Binary, what: &str) -> anyhow::Error {
    fail(
        cfg.quiet,
        &format!(
            "The {} file has no debug information.\nRebuild with -g, or install an appropriate \
             debuginfo package.",
            bin.path.display()
        ),
        what,
        ENOENT,
    )
}
