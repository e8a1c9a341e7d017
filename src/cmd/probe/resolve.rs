//! A probe definition's place in a binary: the function or line's address (past the prologue),
//! its arguments' fetch expressions from DWARF.
use super::*;
use crate::probe::debuginfo::{Instance, LineRoot, SharedLine};

/// Whether an argument is a raw fetch argument the kernel reads as is (a register, memory
/// at an address, a stack slot, `$retval`…), not a variable to find in DWARF.
pub(super) fn is_raw_fetch(expr: &str) -> bool {
    expr.starts_with(['%', '@', '+', '-', '$']) || expr.starts_with(|c: char| c.is_ascii_digit())
}

/// Whether an argument names variables in DWARF (not a raw fetch argument).
pub(super) fn is_named(arg: &str) -> bool {
    let expr = match arg.split_once('=') {
        Some((n, e)) if probe::is_event_name(n) => e,
        _ => arg,
    };
    expr.starts_with("$params") || expr.starts_with("$vars") || !is_raw_fetch(expr)
}

/// The fetch arguments of a probe at `addr`: raw ones as typed (bare when unnamed: the kernel
/// names them argN; perf names `$retval` itself on a -D line it writes bare too), named ones
/// through DWARF as perf writes them.
pub(super) fn fetch_args(
    cfg: &ProbeConfig,
    spec: &Spec,
    bin: &Binary,
    what: &str,
    addr: u64,
    site: Option<&Instance>,
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
            // perf reads variables only where it found the function by its DWARF name: one
            // known only by a symbol alias (libc's `malloc`, DWARF's `__libc_malloc`) fails
            // its debuginfo analysis with ENOENT and no message of its own.
            if let Point::Func { name, src, .. } = &spec.point {
                let glob = name.contains(['*', '?', '[']);
                if site.is_none() && !glob && dbg.functions(name, src.as_deref()).is_empty() {
                    return Err(fail(cfg.quiet, "", what, ENOENT));
                }
            }
            let f = dbg.function_at(addr).ok_or_else(|| {
                fail(
                    cfg.quiet,
                    &format!("No function covers 0x{addr:x}: no variables to fetch there."),
                    what,
                    ENOENT,
                )
            })?;
            let inline_die = scope_die(bin, spec, addr, site);
            scope = Scope::within(&bin.dwarf_path, f.entry, inline_die, addr);
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
            } else if why == crate::probe::vars::UNSUPPORTED {
                EOPNOTSUPP
            } else {
                EINVAL
            };
            fail(cfg.quiet, &why, what, code)
        })?;
        for note in sc.notes.borrow_mut().drain(..) {
            if !cfg.quiet {
                eprintln!("{note}");
            }
        }
        out.extend(fetched);
    }
    Ok(out)
}

/// perf's prologue rule: named arguments at a function's entry in code built without
/// optimization are read after the prologue (where the frame is set up), at the function's
/// second line; `None` when the probe stays where it is.
pub(super) fn after_prologue(
    bin: &Binary,
    spec: &Spec,
    addr: u64,
    site: Option<&Instance>,
) -> Option<u64> {
    // perf probes the copies of an inline function at their entries.
    if site.is_some_and(|s| s.walked) {
        return None;
    }
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
    let scope = crate::probe::vars::Scope::at(&bin.dwarf_path, f.entry, addr)?;
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

/// Where perf probes a function that is inline somewhere (see `DebugInfo::instances`): for
/// a function's entry or an offset from it, not for a return (perf places those by the
/// symbol table alone).
pub(super) fn inline_instances(bin: &Binary, spec: &Spec) -> Option<Vec<Instance>> {
    let Point::Func {
        name,
        src,
        rel_line: None | Some(0),
        ret: false,
        ..
    } = &spec.point
    else {
        return None;
    };
    bin.debug.as_ref()?.instances(name, src.as_deref())
}

/// The inlined copy whose variables a probe at `addr` reads (`None`: the function's): the
/// copy probed at its entry, or for a line, perf's best scope of the line there.
pub(super) fn scope_die(
    bin: &Binary,
    spec: &Spec,
    addr: u64,
    site: Option<&Instance>,
) -> Option<usize> {
    if let Some(s) = site {
        return s.inline_die;
    }
    let dbg = bin.debug.as_ref()?;
    let best = match &spec.point {
        Point::Func {
            name,
            rel_line: Some(rl),
            ..
        } if *rl > 0 => dbg.best_scope(addr, Some(name), None, 0),
        Point::Line { src, line } => dbg.best_scope(addr, None, Some(src), *line),
        Point::Lazy { func, src, .. } => {
            let line = dbg.stmt_at(addr)?.line;
            dbg.best_scope(addr, func.as_deref(), src.as_deref(), line)
        }
        _ => None,
    };
    best?.1
}

/// The copy of an inline function probed at `addr` (as `inline_instances` placed it).
pub(super) fn site_at<'a>(
    sites: &'a Option<Vec<Instance>>,
    spec: &Spec,
    addr: u64,
) -> Option<&'a Instance> {
    let offset = match spec.point {
        Point::Func { offset, .. } => offset,
        _ => 0,
    };
    sites
        .as_ref()?
        .iter()
        .find(|s| s.entry.saturating_add(offset) == addr)
}

/// One definition resolved to addresses: (function named in the event, virtual addresses).
pub(super) fn resolve(
    cfg: &ProbeConfig,
    spec: &Spec,
    bin: &Binary,
    what: &str,
) -> Result<(String, Vec<u64>)> {
    let not_found = |p: &str| {
        fail(
            // -V (which names no failure) says this in its own words.
            cfg.quiet || what.is_empty(),
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
            let addrs = dbg
                .probe_line_addrs(None, src, *line, None)
                .map_err(|e| shared_line(cfg, &e, what))?;
            let Some(first) = addrs.first() else {
                return Err(not_found(&format!("@{src}:{line}")));
            };
            let func = dbg
                .scope_for_line(*first, *line)
                .map(String::from)
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
            if let Some(sites) = inline_instances(bin, spec) {
                let addrs = sites.iter().map(|s| s.entry.saturating_add(*offset));
                return Ok((name.clone(), addrs.collect()));
            }
            if let Some(rl) = rel_line.filter(|&l| l > 0) {
                let dbg = bin
                    .debug
                    .as_ref()
                    .ok_or_else(|| no_debuginfo(cfg, bin, what))?;
                // perf walks the lines of the unit the function is defined in, counting
                // from its declaration.
                let (roots, file, decl) = dbg
                    .line_roots(name, src.as_deref())
                    .ok_or_else(|| not_found(&spec.point_text()))?;
                let cu = match roots.first() {
                    Some(LineRoot::Func(i)) => dbg.funcs[*i].cu,
                    Some(LineRoot::Inline(i)) => dbg.inlines[*i].cu,
                    Some(LineRoot::Unit(u)) => *u,
                    None => return Err(not_found(&spec.point_text())),
                };
                let addrs = dbg
                    .probe_line_addrs(Some(cu), &file, decl.saturating_add(rl), Some(name))
                    .map_err(|e| shared_line(cfg, &e, what))?;
                if addrs.is_empty() {
                    return Err(not_found(&spec.point_text()));
                }
                return Ok((name.clone(), addrs));
            }
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
            if syms.is_empty() && *ret && cfg.exec.is_some() {
                // perf places a return by the symbol table alone (an inline function has
                // no return to probe).
                return Err(fail(
                    cfg.quiet,
                    &format!("Failed to find symbol {name} in {}", bin.path.display()),
                    what,
                    ENOENT,
                ));
            }
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

/// perf's refusal of a line that shares its address with another line.
fn shared_line(cfg: &ProbeConfig, e: &SharedLine, what: &str) -> anyhow::Error {
    fail(
        cfg.quiet,
        &format!(
            "This line is sharing the address with other lines.\nPlease try to probe at {} \
             instead.",
            e.instead
        ),
        what,
        ENOENT,
    )
}
