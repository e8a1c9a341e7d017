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
        let _ = writeln!(e, "  Error: {what}");
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

/// Whether an argument is a raw fetch argument the kernel reads as is (a register, memory
/// at an address, a stack slot, `$retval`…), not a variable to find in DWARF.
fn is_raw_fetch(expr: &str) -> bool {
    expr.starts_with(['%', '@', '+', '-', '$']) || expr.starts_with(|c: char| c.is_ascii_digit())
}

/// Whether an argument names variables in DWARF (not a raw fetch argument).
fn is_named(arg: &str) -> bool {
    let expr = match arg.split_once('=') {
        Some((n, e)) if probe::is_event_name(n) => e,
        _ => arg,
    };
    expr.starts_with("$params") || expr.starts_with("$vars") || !is_raw_fetch(expr)
}

/// The fetch arguments of a probe at `addr`: raw ones as typed (bare when unnamed: the kernel
/// names them argN; perf names `$retval` itself on a -D line it writes bare too), named ones
/// through DWARF as perf writes them.
fn fetch_args(
    cfg: &ProbeConfig,
    spec: &Spec,
    bin: &Binary,
    what: &str,
    addr: u64,
) -> Result<Vec<String>> {
    use crate::probe::vars::{ArgSpec, Scope};
    let mut out = Vec::new();
    let mut scope: Option<Scope> = None;
    for a in &spec.args {
        let (name, expr) = match a.split_once('=') {
            Some((n, e)) if probe::is_event_name(n) => (Some(n.to_string()), e),
            _ => (None, a.as_str()),
        };
        if expr == "$retval" && !spec.is_return() {
            return Err(fail(
                cfg.quiet,
                "$retval is only available on a return probe (FUNC%return).",
                what,
                EINVAL,
            ));
        }
        if !is_named(a) {
            out.push(match name {
                Some(n) => format!("{n}={expr}"),
                None => expr.to_string(),
            });
            continue;
        }
        let Some(dbg) = &bin.debug else {
            return Err(no_debuginfo(cfg, bin, what));
        };
        if scope.is_none() {
            let f = dbg.function_at(addr).ok_or_else(|| {
                fail(
                    cfg.quiet,
                    &format!("No function covers 0x{addr:x}: no variables to fetch there."),
                    what,
                    ENOENT,
                )
            })?;
            scope = Scope::at(&bin.path, &bin.dwarf_path, f.entry, addr);
        }
        let Some(sc) = &scope else {
            return Err(no_debuginfo(cfg, bin, what));
        };
        let fetched = sc.fetch(&[ArgSpec::parse(a)]).map_err(|why| {
            // perf: a variable not there is ENOENT, a wrong expression EINVAL.
            let code = if why.starts_with("Failed to find the location")
                || why.starts_with("Failed to get the offset")
            {
                ENOENT
            } else {
                EINVAL
            };
            fail(cfg.quiet, &why, what, code)
        })?;
        out.extend(fetched);
    }
    Ok(out)
}

/// perf's prologue rule: named arguments at a function's entry in code built without
/// optimization are read after the prologue (where the frame is set up), at the function's
/// second line; `None` when the probe stays where it is.
fn after_prologue(bin: &Binary, spec: &Spec, addr: u64) -> Option<u64> {
    let Point::Func {
        offset: 0,
        rel_line: None,
        ret: false,
        ..
    } = spec.point
    else {
        return None;
    };
    if !spec.args.iter().any(|a| is_named(a)) {
        return None;
    }
    let dbg = bin.debug.as_ref()?;
    let f = dbg.function_at(addr).filter(|f| f.entry == addr)?;
    let scope = crate::probe::vars::Scope::at(&bin.path, &bin.dwarf_path, f.entry, addr)?;
    if scope.optimized {
        return None;
    }
    // The next statement of the line table (a one-line function's prologue ends there too).
    dbg.rows
        .iter()
        .filter(|r| r.stmt && r.addr > f.entry && r.addr < f.end)
        .map(|r| r.addr)
        .min()
}

/// One definition resolved to addresses: (function named in the event, virtual addresses).
fn resolve(cfg: &ProbeConfig, spec: &Spec, bin: &Binary, what: &str) -> Result<(String, Vec<u64>)> {
    let not_found = |p: &str| {
        fail(
            cfg.quiet,
            &format!("Probe point '{p}' not found."),
            what,
            ENOENT,
        )
    };
    match &spec.point {
        Point::Sdt { .. } => Err(fail(
            cfg.quiet,
            "rperf cannot probe SDT markers yet: .note.stapsdt is not read",
            what,
            ENOSYS,
        )),
        Point::Lazy { func, src, pattern } => {
            let dbg = bin
                .debug
                .as_ref()
                .ok_or_else(|| no_debuginfo(cfg, bin, what))?;
            // The rows to search: a function's (in its file), or a file's.
            let (file, range) = match func {
                Some(name) => {
                    let f = dbg
                        .functions(name, src.as_deref())
                        .into_iter()
                        .next()
                        .ok_or_else(|| not_found(&spec.point_text()))?;
                    (f.file.clone(), Some(f.entry..f.end))
                }
                None => {
                    let s = src.as_deref().unwrap_or_default();
                    let f = dbg
                        .files
                        .iter()
                        .find(|f| crate::probe::debuginfo::path_ends_with(f, s))
                        .cloned()
                        .ok_or_else(|| not_found(&spec.point_text()))?;
                    (f, None)
                }
            };
            let text = std::fs::read_to_string(&file).map_err(|e| {
                fail(
                    cfg.quiet,
                    &format!("Failed to open {file}: {}", strerror(&e)),
                    what,
                    ENOENT,
                )
            })?;
            let src_lines: Vec<&str> = text.lines().collect();
            let mut addrs: Vec<u64> = dbg
                .rows
                .iter()
                .filter(|r| r.stmt && dbg.files[r.file as usize] == file)
                .filter(|r| range.as_ref().is_none_or(|rg| rg.contains(&r.addr)))
                .filter(|r| {
                    (r.line as usize)
                        .checked_sub(1)
                        .and_then(|i| src_lines.get(i))
                        .is_some_and(|l| probe::lazy_match(pattern, l))
                })
                .map(|r| r.addr)
                .collect();
            addrs.sort_unstable();
            addrs.dedup();
            let Some(first) = addrs.first() else {
                return Err(fail(
                    cfg.quiet,
                    &format!(
                        "No line of {file} matches '{pattern}' (lazy pattern of '{}').",
                        spec.point_text()
                    ),
                    what,
                    ENOENT,
                ));
            };
            let name = dbg
                .function_at(*first)
                .map(|f| f.name.clone())
                .unwrap_or_else(|| func.clone().unwrap_or_default());
            Ok((name, addrs))
        }
        Point::Line { src, line } => {
            let dbg = bin
                .debug
                .as_ref()
                .ok_or_else(|| no_debuginfo(cfg, bin, what))?;
            let addrs = dbg.line_addrs(src, *line, None);
            let Some(first) = addrs.first() else {
                return Err(not_found(&format!("@{src}:{line}")));
            };
            let func = dbg
                .function_at(*first)
                .map(|f| f.name.clone())
                .or_else(|| bin.symbol_at(*first).map(|s| s.name.clone()))
                .unwrap_or_else(|| format!("L{line}"));
            Ok((func, addrs))
        }
        Point::Func {
            name,
            src,
            offset,
            rel_line,
            ret,
        } => {
            if src.is_some() || rel_line.is_some() {
                let dbg = bin
                    .debug
                    .as_ref()
                    .ok_or_else(|| no_debuginfo(cfg, bin, what))?;
                let fs = dbg.functions(name, src.as_deref());
                if fs.is_empty() {
                    return Err(not_found(&spec.point_text()));
                }
                let mut addrs = Vec::new();
                for f in fs {
                    match rel_line {
                        // Line 0 is the function's entry (perf names it as the function).
                        Some(0) => addrs.push(f.entry),
                        Some(rl) => addrs.extend(dbg.line_addrs(
                            &f.file,
                            f.line.saturating_add(*rl),
                            Some(f.entry..f.end),
                        )),
                        None => addrs.push(f.entry.saturating_add(*offset)),
                    }
                }
                if addrs.is_empty() {
                    return Err(not_found(&spec.point_text()));
                }
                return Ok((name.clone(), addrs));
            }
            let syms = bin.functions(name);
            if syms.is_empty() {
                // DWARF names a method by its own name (`get` of `ns::K::get`), as perf finds it.
                let from_dwarf: Vec<u64> = bin
                    .debug
                    .as_ref()
                    .map(|d| {
                        d.functions(name, None)
                            .iter()
                            .map(|f| f.entry.saturating_add(*offset))
                            .collect()
                    })
                    .unwrap_or_default();
                if from_dwarf.is_empty() {
                    return Err(not_found(name));
                }
                return Ok((name.clone(), from_dwarf));
            }
            let mut addrs = Vec::new();
            for s in syms {
                if s.ifunc && !cfg.quiet {
                    eprintln!(
                        "Warning: The probe function ({name}) is a GNU indirect function.\n\
                         Consider identifying the final function used at run time and set the \
                         probe directly on that."
                    );
                }
                if *offset > 0 && s.size > 0 && *offset >= s.size {
                    return Err(fail(
                        cfg.quiet,
                        &format!(
                            "Offset {offset} is beyond the end of {name} ({} bytes).",
                            s.size
                        ),
                        what,
                        EINVAL,
                    ));
                }
                let _ = ret;
                addrs.push(s.addr.saturating_add(*offset));
            }
            Ok((name.clone(), addrs))
        }
    }
}

/// `-a`/the definition words, or `-D` (`show` prints instead of adding).
fn add(cfg: &ProbeConfig, defs: &[String], show: bool) -> Result<ExitCode> {
    let what = "Failed to add events.";
    let specs = defs
        .iter()
        .map(|d| Spec::parse(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(cfg.quiet, &e.0, what, EINVAL))?;
    // `-k VMLINUX`: kernel probes found in its DWARF as user probes are in `-x`'s.
    let (exec, kernel) = match (&cfg.exec, &cfg.vmlinux) {
        (Some(x), _) => (x, false),
        (None, Some(k)) => (k, true),
        (None, None) => return add_kernel(cfg, &specs, show),
    };
    if kernel && !show {
        check_vmlinux(cfg, exec, what)?;
    }
    let bin = open_binary(cfg, exec, what)?;
    let path = bin.path.to_string_lossy().into_owned();
    let taken: BTreeSet<String> = if show || cfg.dry_run {
        existing(cfg.quiet, what, false).unwrap_or_default()
    } else {
        existing(cfg.quiet, what, true)?
    }
    .into_iter()
    // perf refuses an event name any group already has.
    .map(|(d, _)| d.event)
    .collect();
    let mut taken = taken;
    // (definition, point text, argument text as typed)
    let mut planned: Vec<(Definition, String, Vec<String>)> = Vec::new();
    for spec in &specs {
        if let Point::Sdt { provider, name } = &spec.point {
            for def in sdt_definitions(cfg, spec, &bin, provider, name, &mut taken, show, what)? {
                planned.push((def, format!("%{name}"), Vec::new()));
            }
            continue;
        }
        let (func, addrs) = resolve(cfg, spec, &bin, what)?;
        if addrs.len() > cfg.max_probes {
            // perf's words and status (-ERANGE).
            return Err(fail(
                cfg.quiet,
                &format!("Too many( > {}) probe point found.", cfg.max_probes),
                what,
                ERANGE,
            ));
        }
        let mut addrs = addrs;
        // perf skips the prologue of user-space functions only.
        for a in addrs.iter_mut().filter(|_| !kernel) {
            if let Some(after) = after_prologue(&bin, spec, *a) {
                if !cfg.quiet {
                    eprintln!(
                        "Target program is compiled without optimization. Skipping prologue.\n\
                         Probe on address 0x{:x} to force probing at the function entry.\n",
                        bin.file_offset(*a).unwrap_or(*a)
                    );
                }
                *a = after;
            }
        }
        let group = spec.group.clone().unwrap_or_else(|| {
            if kernel {
                "probe".into()
            } else {
                probe::default_group(&bin.path)
            }
        });
        // perf marks a return probe's event `__return` even when the user named it.
        let base = match &spec.event {
            Some(e) if spec.is_return() => format!("{e}__return"),
            Some(e) => e.clone(),
            None => probe::default_event(&func, &spec.point),
        };
        // -D checks no names: it shows what each definition alone would write.
        let event = claim_event(cfg, &mut taken, base, show, what)?;
        for addr in addrs {
            if kernel {
                // perf's offline kernel: the symbol the address is in, and how far in.
                let (sym, start) = bin
                    .symbol_at(addr)
                    .map(|s| (s.name.clone(), s.addr))
                    .or_else(|| {
                        let f = bin.debug.as_ref()?.function_at(addr)?;
                        Some((f.name.clone(), f.entry))
                    })
                    .ok_or_else(|| {
                        fail(
                            cfg.quiet,
                            &format!("No symbol of {path} covers 0x{addr:x}."),
                            what,
                            ENOENT,
                        )
                    })?;
                let args = fetch_args(cfg, spec, &bin, what, addr)?;
                let def = Definition::kprobe(
                    spec.is_return(),
                    &group,
                    &event,
                    None,
                    &sym,
                    addr - start,
                    args,
                );
                planned.push((def, spec.point_text(), shown_args(spec)));
                continue;
            }
            let off = bin.file_offset(addr).ok_or_else(|| {
                fail(
                    cfg.quiet,
                    &format!(
                        "Address 0x{addr:x} of '{}' is in no loadable segment of {path}.",
                        spec.point_text()
                    ),
                    what,
                    EINVAL,
                )
            })?;
            let args = fetch_args(cfg, spec, &bin, what, addr)?;
            let def = Definition::uprobe(spec.is_return(), &group, &event, &path, off, args);
            planned.push((def, spec.point_text(), shown_args(spec)));
        }
    }
    if show {
        let mut out = String::new();
        for (d, _, _) in &planned {
            let _ = writeln!(out, "{}", d.line());
        }
        std::io::stdout().lock().write_all(out.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if !cfg.dry_run {
        for (i, (d, _, _)) in planned.iter().enumerate() {
            if let Err(e) = write_events(kernel, &d.line()) {
                // Leave tracefs as it was: take back the probes this run added.
                for (done, _, _) in &planned[..i] {
                    let _ = write_events(kernel, &format!("-:{}/{}", done.group, done.event));
                }
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    return Err(no_permission(cfg.quiet, what));
                }
                return Err(fail(
                    cfg.quiet,
                    &format!("Failed to write event: {} ({})", strerror(&e), d.line()),
                    what,
                    EINVAL,
                ));
            }
        }
    }
    if !cfg.quiet {
        print_added(&planned, (!kernel).then_some(path.as_str()));
    }
    Ok(ExitCode::SUCCESS)
}

/// Adding kernel probes found in `-k VMLINUX`: the kernel must have kprobes (unless only
/// `-n` is asked), and, as perf checks, the file must be the running kernel's build.
fn check_vmlinux(cfg: &ProbeConfig, vmlinux: &Path, what: &str) -> Result<()> {
    if !cfg.dry_run && !events_file(true).is_ok_and(|p| p.exists()) {
        return Err(no_kprobes());
    }
    let why = match rperf_symbols::build_id(vmlinux).ok().flatten() {
        None => "Can not read build id",
        Some(id) if Some(&id) != rperf_symbols::kernel_build_id().as_ref() => {
            "Mismatching build id"
        }
        Some(_) => return Ok(()),
    };
    Err(fail(
        cfg.quiet,
        &format!("Failed to find the path for the kernel: {why}"),
        what,
        ENOENT,
    ))
}

/// perf's report of added probes, on stderr (`path`: the binary of user probes).
fn print_added(planned: &[(Definition, String, Vec<String>)], path: Option<&str>) {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Added new event{}:",
        if planned.len() > 1 { "s" } else { "" }
    );
    for (d, point, args) in planned {
        let with = if args.is_empty() {
            String::new()
        } else {
            format!(" with {}", args.join(" "))
        };
        let place = path.map(|p| format!(" in {p}")).unwrap_or_default();
        let _ = writeln!(s, "  {:<20} (on {point}{place}{with})", d.full_name());
    }
    if let Some((last, _, _)) = planned.last() {
        let _ = write!(
            s,
            "\nYou can now use it in all perf tools, such as:\n\n\trperf record -e {} -aR sleep \
             1\n\n",
            last.full_name()
        );
    }
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
}

/// Kernel probes: through kprobe_events, which this kernel may not have.
fn add_kernel(cfg: &ProbeConfig, specs: &[Spec], show: bool) -> Result<ExitCode> {
    let what = "Failed to add events.";
    let has_kprobes = events_file(true).is_ok_and(|p| p.exists());
    if !has_kprobes && !show {
        return Err(no_kprobes());
    }
    let mut defs = Vec::new();
    for spec in specs {
        let Point::Func {
            name,
            offset,
            ret,
            src: None,
            rel_line: None,
        } = &spec.point
        else {
            return Err(fail(
                cfg.quiet,
                "rperf probes kernel functions by symbol only (FUNC[+OFF|%return]): kernel DWARF \
                 is not read",
                what,
                ENOSYS,
            ));
        };
        let mut args = Vec::new();
        for (i, a) in spec.args.iter().enumerate() {
            let (n, e) = a
                .split_once('=')
                .map_or((format!("arg{}", i + 1), a.as_str()), |(n, e)| {
                    (n.into(), e)
                });
            if !is_raw_fetch(e) {
                return Err(fail(
                    cfg.quiet,
                    &format!(
                        "rperf cannot fetch the kernel variable '{e}' by name: give a raw \
                              fetch argument such as {e}=%si:u64"
                    ),
                    what,
                    ENOSYS,
                ));
            }
            args.push(format!("{n}={e}"));
        }
        let group = spec.group.clone().unwrap_or_else(|| "probe".into());
        let event = spec
            .event
            .clone()
            .unwrap_or_else(|| probe::default_event(name, &spec.point));
        defs.push(Definition::kprobe(
            *ret,
            &group,
            &event,
            cfg.kernel_file.as_deref().filter(|m| !m.contains('/')),
            name,
            *offset,
            args,
        ));
    }
    if show {
        for d in &defs {
            println!("{}", d.line());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !cfg.dry_run {
        for d in &defs {
            write_events(true, &d.line()).map_err(|e| {
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    no_permission(cfg.quiet, what)
                } else {
                    fail(
                        cfg.quiet,
                        &format!("Failed to write event: {e}"),
                        what,
                        EINVAL,
                    )
                }
            })?;
        }
    }
    if !cfg.quiet {
        let planned: Vec<_> = defs
            .into_iter()
            .zip(specs)
            .map(|(d, s)| (d, s.point_text(), s.args.clone()))
            .collect();
        let mut s = String::new();
        for (d, p, _) in &planned {
            let _ = writeln!(s, "  {:<20} (on {p})", d.full_name());
        }
        eprint!(
            "Added new event{}:\n{s}",
            if planned.len() > 1 { "s" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Where a uprobe is, as perf's `-l` says: `func@file`, `func:RELLINE@file`,
/// `func+OFF@file`, `func%return@file` with DWARF, symbol names without.
fn describe(bin: &Binary, def: &Definition, off: u64) -> String {
    let Some(vaddr) = bin.vaddr(off) else {
        return format!("0x{off:x}");
    };
    if let Some(dbg) = &bin.debug {
        if let Some(f) = dbg.function_at(vaddr) {
            if def.ret {
                return format!("{}%return@{}", f.name, f.file);
            }
            if vaddr == f.entry {
                return format!("{}@{}", f.name, f.file);
            }
            if let Some(r) = dbg.stmt_at(vaddr) {
                if dbg.files[r.file as usize] == f.file && r.line >= f.line {
                    return format!("{}:{}@{}", f.name, r.line - f.line, f.file);
                }
            }
            return format!("{}+{}@{}", f.name, vaddr - f.entry, f.file);
        }
    }
    match bin.symbol_at(vaddr) {
        Some(s) if def.ret => format!("{}%return", s.name),
        Some(s) if s.addr == vaddr => s.name.clone(),
        Some(s) => format!("{}+{}", s.name, vaddr - s.addr),
        None => format!("0x{off:x}"),
    }
}

/// `-l [FILTER]`.
fn list(cfg: &ProbeConfig, filter: Option<&str>) -> Result<ExitCode> {
    let what = "Failed to show event list.";
    let mut defs = existing(cfg.quiet, what, false)?;
    if let Some(f) = filter {
        defs.retain(|(d, _)| probe::matches_filter(f, &d.group, &d.event));
    }
    // perf's order: kernel probes, then user probes, each by their tracefs line.
    defs.sort_by_key(|(d, kernel)| (!kernel, d.line()));
    let mut bins: std::collections::HashMap<String, Option<Binary>> = Default::default();
    let mut out = String::new();
    for (d, kernel) in &defs {
        let with = if d.args.is_empty() {
            String::new()
        } else {
            format!(" with {}", d.arg_names().join(" "))
        };
        let place = match (kernel, d.uprobe_target()) {
            (false, Some((path, off))) => {
                let bin = bins
                    .entry(path.to_string())
                    .or_insert_with(|| Binary::open(Path::new(path)).ok());
                let point = bin
                    .as_ref()
                    .map_or_else(|| format!("0x{off:x}"), |b| describe(b, d, off));
                format!("{point} in {path}")
            }
            _ => {
                let ret = if d.ret { "%return" } else { "" };
                format!("{}{ret}", d.target)
            }
        };
        let _ = writeln!(out, "  {:<20} (on {place}{with})", d.full_name());
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `-d PATTERN...`.
fn delete(cfg: &ProbeConfig) -> Result<ExitCode> {
    let what = "Failed to delete events.";
    let mut hits: Vec<(Definition, bool)> = existing(cfg.quiet, what, true)?
        .into_iter()
        .filter(|(d, _)| {
            cfg.del
                .iter()
                .any(|p| probe::matches_filter(p, &d.group, &d.event))
        })
        .collect();
    hits.sort_by_key(|(d, kernel)| (!kernel, d.line()));
    let mut seen = BTreeSet::new();
    hits.retain(|(d, _)| seen.insert(d.full_name()));
    if hits.is_empty() {
        return Err(fail(
            cfg.quiet,
            &format!("\"{}\" does not hit any event.", cfg.del.join("|")),
            what,
            ENOENT,
        ));
    }
    for (d, kernel) in &hits {
        if let Err(e) = write_events(*kernel, &format!("-:{}/{}", d.group, d.event)) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(no_permission(cfg.quiet, what));
            }
            // perf's words (EBUSY: a session has the event open) and status.
            return Err(fail(
                cfg.quiet,
                &format!("Failed to delete event: {}", strerror(&e)),
                what,
                ENOENT,
            ));
        }
        if !cfg.quiet {
            eprintln!("Removed event: {}", d.full_name());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `-F [FILTER]`: the functions of `-x`'s binary.
fn funcs(cfg: &ProbeConfig, filter: Option<&str>) -> Result<ExitCode> {
    let what = "Failed to show functions.";
    let Some(exec) = &cfg.exec else {
        return Err(no_kprobes());
    };
    let bin = open_binary(cfg, exec, what)?;
    let filter = filter.unwrap_or(probe::DEFAULT_FUNC_FILTER);
    let names: BTreeSet<&str> = bin
        .symbols
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| probe::func_filter(filter, n))
        .collect();
    let mut out = String::new();
    for n in names {
        let _ = writeln!(out, "{n}");
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `-L`'s range after `:`: `N`, `N-M` (to line M), `N+K` (K lines); (start, end, whether
/// an end was given).
fn line_range(r: Option<&str>) -> Option<(u32, Option<u32>, bool)> {
    let Some(r) = r else {
        return Some((0, None, false));
    };
    if let Some((a, b)) = r.split_once('-') {
        return Some((a.parse().ok()?, Some(b.parse().ok()?), true));
    }
    if let Some((a, k)) = r.split_once('+') {
        let a: u32 = a.parse().ok()?;
        let k: u32 = k.parse().ok()?;
        return Some((a, Some(a.saturating_add(k).saturating_sub(1)), true));
    }
    Some((r.parse().ok()?, None, false))
}

/// `-L FUNC[@SRC][:RLN[+NUM|-RLN2]]` or `-L SRC[:ALN[+NUM|-ALN2]]`: source lines, those
/// with code numbered (from the function's declaration line, or absolute in a file), as
/// perf shows them.
fn lines(cfg: &ProbeConfig, spec: &str) -> Result<ExitCode> {
    let what = "Failed to show lines.";
    let Some(exec) = cfg.exec.as_ref().or(cfg.vmlinux.as_ref()) else {
        return Err(no_kprobes());
    };
    let bin = open_binary(cfg, exec, what)?;
    let dbg = bin
        .debug
        .as_ref()
        .ok_or_else(|| no_debuginfo(cfg, &bin, what))?;
    let not_found = || {
        fail(
            cfg.quiet,
            "Specified source line is not found.",
            what,
            ENOENT,
        )
    };
    let (head, range) = match spec.split_once(':') {
        Some((h, r)) => (h, Some(r)),
        None => (spec, None),
    };
    let (rstart, rend, bounded) = line_range(range).ok_or_else(|| {
        fail(
            cfg.quiet,
            &format!("Failed to parse line range: {spec}"),
            what,
            EINVAL,
        )
    })?;
    let is_file = !head.contains('@') && (head.contains('.') || head.contains('/'));
    // (header, file, first, last numbered, lines of context after, base of the numbers,
    // lines with code)
    let (header, file, first, last, context, base, code) = if is_file {
        let Some(file) = dbg
            .files
            .iter()
            .find(|f| crate::probe::debuginfo::path_ends_with(f, head))
            .cloned()
        else {
            return Err(not_found());
        };
        let code: BTreeSet<u32> = dbg
            .rows
            .iter()
            .filter(|r| dbg.files[r.file as usize] == file)
            .map(|r| r.line)
            .collect();
        (
            format!("<{file}:{rstart}>"),
            file,
            rstart.max(1),
            rend.unwrap_or(u32::MAX),
            0,
            0,
            code,
        )
    } else {
        let (name, src) = match head.split_once('@') {
            Some((n, s)) => (n, Some(s)),
            None => (head, None),
        };
        let Some(f) = dbg.functions(name, src).into_iter().next() else {
            return Err(not_found());
        };
        let code: BTreeSet<u32> = dbg.lines_of(f).into_iter().collect();
        let last_code = code.iter().next_back().copied().unwrap_or(f.line);
        let first = f.line.saturating_add(rstart);
        let (last, context) = match rend {
            Some(e) if bounded => (f.line.saturating_add(e), 0),
            _ => (last_code, 3),
        };
        (
            format!("<{}@{}:{rstart}>", f.name, f.file),
            f.file.clone(),
            first,
            last,
            context,
            f.line,
            code,
        )
    };
    let text = std::fs::read_to_string(&file).map_err(|e| {
        fail(
            cfg.quiet,
            &format!("Failed to open {file}: {}", strerror(&e)),
            what,
            ENOENT,
        )
    })?;
    let src_lines: Vec<&str> = text.lines().collect();
    let mut out = format!("{header}\n");
    for n in first..=last.saturating_add(context) {
        let Some(l) = (n as usize).checked_sub(1).and_then(|i| src_lines.get(i)) else {
            break;
        };
        if n <= last && code.contains(&n) {
            let _ = writeln!(out, "{:>7}  {l}", n - base);
        } else {
            let _ = writeln!(out, "         {l}");
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// An I/O error's text without Rust's ` (os error N)` tail, as perf prints strerror.
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `-V POINT`: the variables with a location at each address of the point, as perf lists
/// them.
fn vars(cfg: &ProbeConfig, point: &str) -> Result<ExitCode> {
    let what = "Failed to show vars.";
    let Some(exec) = cfg.exec.as_ref().or(cfg.vmlinux.as_ref()) else {
        return Err(no_kprobes());
    };
    let spec = Spec::parse(point).map_err(|e| fail(cfg.quiet, &e.0, what, EINVAL))?;
    let bin = open_binary(cfg, exec, what)?;
    let dbg = bin
        .debug
        .as_ref()
        .ok_or_else(|| no_debuginfo(cfg, &bin, what))?;
    let (_, addrs) = resolve(cfg, &spec, &bin, what)?;
    let mut out = format!("Available variables at {}\n", spec.point_text());
    for addr in addrs {
        let Some(f) = dbg.function_at(addr) else {
            continue;
        };
        let _ = writeln!(out, "\t@<{}+{}>", f.name, addr - f.entry);
        if let Some(scope) =
            crate::probe::vars::Scope::at(&bin.path, &bin.dwarf_path, f.entry, addr)
        {
            for v in scope.available(cfg.externs, cfg.range.then_some(f.name.as_str())) {
                let _ = writeln!(out, "\t\t{v}");
            }
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The arguments as perf's "Added new event" line shows them: a member access unnamed by
/// the user is shown with the name perf gives it (`name=p->name:string`).
fn shown_args(spec: &Spec) -> Vec<String> {
    spec.args
        .iter()
        .map(|a| {
            let parsed = crate::probe::vars::ArgSpec::parse(a);
            match (&parsed.name, parsed.fields.last()) {
                (None, Some((_, f))) if is_named(a) => format!("{f}={a}"),
                _ => a.clone(),
            }
        })
        .collect()
}

/// The probes on the USDT markers `provider:name` (globs allowed) of `bin`: group
/// `sdt_PROVIDER`, the marker's name, its operands as `arg1`…, and the semaphore as the
/// probe's reference counter (the kernel raises it while the probe is enabled).
#[allow(clippy::too_many_arguments)]
fn sdt_definitions(
    cfg: &ProbeConfig,
    spec: &Spec,
    bin: &Binary,
    provider: &str,
    name: &str,
    taken: &mut BTreeSet<String>,
    show: bool,
    what: &str,
) -> Result<Vec<Definition>> {
    let m = |pat: &str, s: &str| glob::Pattern::new(pat).is_ok_and(|p| p.matches(s));
    let notes: Vec<_> = bin
        .sdt
        .iter()
        .filter(|n| m(provider, &n.provider) && m(name, &n.name))
        .collect();
    if notes.is_empty() {
        let have: BTreeSet<String> = bin
            .sdt
            .iter()
            .map(|n| format!("sdt_{}:{}", n.provider, n.name))
            .collect();
        let have = if have.is_empty() {
            "it has no .note.stapsdt markers".to_string()
        } else {
            format!("it has {}", have.into_iter().collect::<Vec<_>>().join(", "))
        };
        return Err(fail(
            cfg.quiet,
            &format!(
                "SDT marker sdt_{provider}:{name} is not in {} ({have}).",
                bin.path.display()
            ),
            what,
            ENOENT,
        ));
    }
    let path = bin.path.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for note in notes {
        let group = spec
            .group
            .clone()
            .unwrap_or_else(|| format!("sdt_{}", note.provider));
        let base = spec.event.clone().unwrap_or_else(|| note.name.clone());
        let event = claim_event(cfg, taken, base, show, what)?;
        // The same line perf's build-id cache keeps for the marker (perf probes from it).
        let args = crate::probe::debuginfo::sdt_args(note).map_err(|_| {
            fail(
                cfg.quiet,
                &format!(
                    "SDT marker {}:{} has an operand of invalid size ({}).",
                    note.provider, note.name, note.args
                ),
                what,
                EINVAL,
            )
        })?;
        let mut def = Definition::uprobe(false, &group, &event, &path, note.loc, args);
        if note.ref_ctr != 0 {
            def.target.push_str(&format!("(0x{:x})", note.ref_ctr));
        }
        out.push(def);
    }
    Ok(out)
}

/// `rperf list sdt`'s lines: the USDT markers of the binaries in the build-id cache (their
/// `probes` files, which `perf buildid-cache --add` and `perf probe` fill), as perf lists
/// them: a marker found in several binaries is named with each one's path and build-id.
pub fn sdt_list_lines() -> String {
    let Ok(root) = crate::cmd::buildid::cache_root() else {
        return String::new();
    };
    // (event, build-id, path of the binary)
    let mut found: Vec<(String, String, String)> = Vec::new();
    let Ok(dirs) = std::fs::read_dir(root.join(".build-id")) else {
        return String::new();
    };
    for d in dirs.flatten() {
        let Ok(links) = std::fs::read_dir(d.path()) else {
            continue;
        };
        for l in links.flatten() {
            let id = format!(
                "{}{}",
                d.file_name().to_string_lossy(),
                l.file_name().to_string_lossy()
            );
            let Ok(target) = std::fs::canonicalize(l.path()) else {
                continue;
            };
            let Ok(probes) = std::fs::read_to_string(target.join("probes")) else {
                continue;
            };
            let Ok(canon_root) = std::fs::canonicalize(&root) else {
                continue;
            };
            let bin = target
                .parent()
                .and_then(|p| p.strip_prefix(&canon_root).ok())
                .map(|p| format!("/{}", p.display()))
                .unwrap_or_default();
            for line in probes.lines() {
                if let Some(ev) = line.strip_prefix('%').and_then(|l| l.split('=').next()) {
                    found.push((ev.to_string(), id.clone(), bin.clone()));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    let mut out = String::new();
    for (ev, id, bin) in &found {
        let several = found.iter().filter(|(e, _, _)| e == ev).count() > 1;
        let name = if several {
            format!("{ev}@{bin}({})", &id[..id.len().min(12)])
        } else {
            ev.clone()
        };
        let _ = writeln!(out, "  {name:<50} [SDT event]");
    }
    out
}
