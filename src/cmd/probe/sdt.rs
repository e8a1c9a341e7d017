//! USDT (SDT) notes as probe definitions: perf's sdt_ events and their listing.
use super::*;

/// The probes on the USDT markers `provider:name` (globs allowed) of `bin`: group
/// `sdt_PROVIDER`, the marker's name, its operands as `arg1`…, and the semaphore as the
/// probe's reference counter (the kernel raises it while the probe is enabled).
#[allow(clippy::too_many_arguments)]
pub(super) fn sdt_definitions(
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
