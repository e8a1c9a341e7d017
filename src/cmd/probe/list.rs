//! Listing and deleting the probes defined in tracefs.
use super::*;

/// Where a uprobe is, as perf's `-l` says: `func@file`, `func:RELLINE@file`,
/// `func+OFF@file`, `func%return@file` with DWARF, symbol names without.
pub(super) fn describe(bin: &Binary, def: &Definition, off: u64) -> String {
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
pub(super) fn list(cfg: &ProbeConfig, filter: Option<&str>) -> Result<ExitCode> {
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
pub(super) fn delete(cfg: &ProbeConfig) -> Result<ExitCode> {
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
