//! Kernel probes without a vmlinux: functions found in `/proc/kallsyms`, placed as perf
//! places them (relative to `_text`, which survives KASLR, except returns on kernels whose
//! kprobe_events cannot take an offset on a return probe).
use super::*;

/// A kernel function symbol from kallsyms: (name, start, end).
struct KFunc {
    name: String,
    start: u64,
    end: u64,
}

/// The running kernel's own functions (not modules'), by address, each ending where the
/// next symbol starts (as perf sizes kallsyms symbols); and `_text` (else `_stext`), the
/// base perf writes kernel probes against.
fn kernel_functions() -> Result<(Vec<KFunc>, Option<u64>)> {
    let text = std::fs::read_to_string("/proc/kallsyms")
        .map_err(|e| anyhow::anyhow!("cannot read /proc/kallsyms: {}", strerror(&e)))?;
    let mut all: Vec<(u64, bool, &str)> = Vec::new();
    let (mut text_sym, mut stext) = (None, None);
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(addr), Some(kind), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if f.next().is_some() {
            continue; // `[module]`: not the kernel's map.
        }
        let Ok(addr) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        match name {
            "_text" => text_sym = Some(addr),
            "_stext" => stext = Some(addr),
            _ => {}
        }
        // perf: T and W (either case) are functions, the rest data.
        let func = matches!(kind, "t" | "T" | "w" | "W");
        all.push((addr, func, name));
    }
    all.sort_by_key(|s| s.0);
    let mut out = Vec::new();
    for (i, &(start, func, name)) in all.iter().enumerate() {
        if !func {
            continue;
        }
        let end = all[i + 1..]
            .iter()
            .map(|s| s.0)
            .find(|&a| a > start)
            .unwrap_or(start);
        out.push(KFunc {
            name: name.to_string(),
            start,
            end,
        });
    }
    Ok((out, text_sym.or(stext).filter(|&a| a != 0)))
}

/// Whether kprobe_events takes an offset on a return probe (the kernel's README says
/// `[<module>:]<symbol>[+<offset>]%return`); perf then writes returns against `_text` too.
fn kretprobe_offset_supported() -> bool {
    crate::sys::tracefs::root()
        .ok()
        .and_then(|r| std::fs::read_to_string(r.join("README")).ok())
        .is_some_and(|t| t.contains("[<module>:]<symbol>[+<offset>]%return"))
}

/// The definitions of function probes on the running kernel, found in kallsyms as perf
/// finds them without a vmlinux: every function the name (a glob) matches.
pub(super) fn kallsyms_definitions(
    cfg: &ProbeConfig,
    spec: &Spec,
    name: &str,
    offset: u64,
    ret: bool,
    args: Vec<String>,
    what: &str,
) -> Result<Vec<Definition>> {
    let (funcs, base) = kernel_functions()?;
    let pattern = glob::Pattern::new(name).ok();
    let matched: Vec<&KFunc> = funcs
        .iter()
        .filter(|f| {
            let plain = f.name.split('@').next().unwrap_or(&f.name);
            pattern.as_ref().map_or(plain == name, |p| p.matches(plain))
        })
        .collect();
    if matched.is_empty() {
        return Err(fail(
            cfg.quiet,
            &format!("Failed to find symbol {name} in kernel"),
            what,
            ENOENT,
        ));
    }
    if matched.len() > cfg.max_probes {
        return Err(fail(
            cfg.quiet,
            "Too many functions matched in kernel",
            what,
            // perf's -E2BIG.
            249,
        ));
    }
    let relocate = !ret || kretprobe_offset_supported();
    let base =
        match base {
            Some(b) => b,
            None if relocate => return Err(fail(
                cfg.quiet,
                "Relocated base symbol is not found! Check /proc/sys/kernel/kptr_restrict\nand \
                 /proc/sys/kernel/perf_event_paranoid. Or run as privileged perf user.\n",
                what,
                EINVAL,
            )),
            None => 0,
        };
    let group = spec.group.clone().unwrap_or_else(|| "probe".into());
    let mut out: Vec<Definition> = Vec::new();
    let mut seen = BTreeSet::new();
    for f in matched {
        // The same function can be listed twice (aliases at one address): probed once.
        if !seen.insert(f.start) {
            continue;
        }
        if offset > f.end - f.start {
            return Err(fail(
                cfg.quiet,
                &format!("Offset {offset} is bigger than the size of {}", f.name),
                what,
                ENOENT,
            ));
        }
        let event = match &spec.event {
            Some(e) if ret => format!("{e}__return"),
            Some(e) => e.clone(),
            None => probe::default_event(&f.name, &spec.point),
        };
        let (sym, off) = if relocate {
            ("_text", f.start + offset - base)
        } else {
            (f.name.as_str(), offset)
        };
        out.push(Definition::kprobe(
            ret,
            &group,
            &event,
            None,
            sym,
            off,
            args.clone(),
        ));
    }
    Ok(out)
}
