//! What can be probed: -F functions, -L source lines, -V variables.
use super::*;
use crate::probe::debuginfo::LineRoot;

/// `-F [FILTER]`: the functions of `-x`'s binary.
pub(super) fn funcs(cfg: &ProbeConfig, filter: Option<&str>) -> Result<ExitCode> {
    let what = "Failed to show functions.";
    let Some(exec) = cfg.exec.as_deref().or(module_path(cfg)) else {
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
pub(super) fn line_range(r: Option<&str>) -> Option<(u32, Option<u32>, bool)> {
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
pub(super) fn lines(cfg: &ProbeConfig, spec: &str) -> Result<ExitCode> {
    let what = "Failed to show lines.";
    let Some(exec) = cfg
        .exec
        .as_deref()
        .or(module_path(cfg))
        .or(cfg.vmlinux.as_deref())
    else {
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
    // (header, file, first, last asked (u32::MAX: to the end), base of the numbers, lines
    // with code)
    let (header, file, first, end, base, code) = if is_file {
        let Some((cu, file)) = dbg.units_with_file(head).into_iter().next() else {
            return Err(not_found());
        };
        let end = rend.unwrap_or(u32::MAX);
        let code = dbg.numbered_lines(&[LineRoot::Unit(cu)], &file, rstart..=end);
        (
            format!("<{file}:{rstart}>"),
            file,
            rstart.max(1),
            end,
            0,
            code,
        )
    } else {
        let (name, src) = match head.split_once('@') {
            Some((n, s)) => (n, Some(s)),
            None => (head, None),
        };
        let Some((roots, file, decl)) = dbg.line_roots(name, src) else {
            return Err(not_found());
        };
        let first = decl.saturating_add(rstart);
        let end = match rend {
            Some(e) if bounded => decl.saturating_add(e),
            _ => u32::MAX,
        };
        let code = dbg.numbered_lines(&roots, &file, first..=end);
        (
            format!("<{name}@{file}:{rstart}>"),
            file,
            first,
            end,
            decl,
            code,
        )
    };
    let Some(&last_code) = code.iter().next_back() else {
        return Err(not_found());
    };
    // Unbounded, perf shows three lines past the last with code.
    let (last, context) = if end == u32::MAX {
        (last_code, 3)
    } else {
        (end, 0)
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
pub(super) fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `-V POINT`: the variables with a location at each address of the point, as perf lists
/// them.
pub(super) fn vars(cfg: &ProbeConfig, point: &str) -> Result<ExitCode> {
    let what = "Failed to show vars.";
    let Some(exec) = cfg
        .exec
        .as_deref()
        .or(module_path(cfg))
        .or(cfg.vmlinux.as_deref())
    else {
        return Err(no_kprobes());
    };
    let spec = Spec::parse(point).map_err(|e| fail(cfg.quiet, &e.0, what, EINVAL))?;
    let bin = open_binary(cfg, exec, what)?;
    let dbg = bin
        .debug
        .as_ref()
        .ok_or_else(|| no_debuginfo(cfg, &bin, what))?;
    // perf's -V looks a return's function up in DWARF as it does an entry (an inline
    // function's copies too), and lists the variables at its entry.
    let mut found = spec.clone();
    if let Point::Func { ret, .. } = &mut found.point {
        *ret = false;
    }
    // perf's -V: the finder's own words, then its summary of why no address was found (a
    // source line without code is a failed analysis to it, -EOPNOTSUPP).
    let (_, addrs) = resolve(cfg, &found, &bin, "").map_err(|e| {
        let code = e
            .downcast_ref::<crate::cmd::Exit>()
            .map_or(EINVAL, |x| x.code);
        let line = matches!(spec.point, Point::Line { .. });
        let (text, code) = if code == ENOENT && !line {
            (
                format!("Failed to find the address of {}", spec.point_text()),
                code,
            )
        } else {
            (
                "Debuginfo analysis failed.".to_string(),
                if line { EOPNOTSUPP } else { code },
            )
        };
        fail(cfg.quiet, &text, what, code)
    })?;
    let point = spec.point_text();
    let spec = found;
    let sites = inline_instances(&bin, &spec);
    let mut out = format!("Available variables at {point}\n");
    for addr in addrs {
        let Some(f) = dbg.function_at(addr) else {
            continue;
        };
        let _ = writeln!(out, "\t@<{}+{}>", f.name, addr - f.entry);
        let mut shown = Vec::new();
        if let Some(scope) = crate::probe::vars::Scope::within(
            &bin.dwarf_path,
            f.entry,
            scope_die(&bin, &spec, addr, site_at(&sites, &spec, addr)),
            addr,
        ) {
            shown = scope.available(cfg.externs, cfg.range.then_some(f.name.as_str()));
        }
        for v in &shown {
            let _ = writeln!(out, "\t\t{v}");
        }
        if shown.is_empty() {
            let _ = writeln!(out, "\t\t(No matched variables)");
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The arguments as perf's "Added new event" line shows them: a member access unnamed by
/// the user is shown with the name perf gives it (`name=p->name:string`).
pub(super) fn shown_args(spec: &Spec) -> Vec<String> {
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
