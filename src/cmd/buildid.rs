//! `rperf buildid-list` (the build-ids a perf.data's BUILD_ID feature lists, or only those
//! of binaries samples hit) and `rperf buildid-cache` (perf's ~/.debug cache: add, remove,
//! list), with perf 6.1's output and on-disk layout so perf and rperf share the cache.
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use linux_perf_data::Feature;

use crate::buildid_cache::link_of;
use crate::data::header::Cursor;
use crate::data::{self, Record};
use crate::session::Session;

/// One entry of the BUILD_ID feature: (build-id, file name), in the file's order, each name
/// once (the last entry for a name wins, as perf's dso table keeps one per name).
pub fn entries(path: &Path) -> Result<Vec<(Vec<u8>, String)>> {
    let file = super::evlist::open(path)?;
    let Some(data) = file.feature_section_data(Feature::BUILD_ID) else {
        return Ok(Vec::new());
    };
    let damaged = || {
        anyhow!(
            "{} is damaged: its build-id table is cut short",
            path.display()
        )
    };
    let mut c = Cursor::new(data);
    let mut out: Vec<(Vec<u8>, String)> = Vec::new();
    while c.o < data.len() {
        let start = c.o;
        let _type = c.u32().ok_or_else(damaged)?;
        let misc = c.u32().ok_or_else(damaged)?;
        let size = (misc >> 16) as usize;
        let misc = misc as u16;
        if size < 8 + 4 + 24 {
            bail!(
                "{} is damaged: a build-id entry is {size} bytes long",
                path.display()
            );
        }
        let _pid = c.u32().ok_or_else(damaged)?;
        let raw = c.bytes(24).ok_or_else(damaged)?;
        // The entry's size byte is valid (else 20 bytes).
        let len = if misc & crate::abi::misc::BUILD_ID_SIZE != 0 {
            (raw[20] as usize).min(20)
        } else {
            20
        };
        let name = c.bytes(size - (c.o - start)).ok_or_else(damaged)?;
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        let name = String::from_utf8_lossy(&name[..end]).into_owned();
        let id = raw[..len].to_vec();
        match out.iter_mut().find(|(_, n)| *n == name) {
            Some(e) => e.0 = id,
            None => out.push((id, name)),
        }
    }
    Ok(out)
}

/// The binaries (by recorded path) that sample addresses fall in.
pub(crate) fn hit_paths(path: &Path) -> Result<HashSet<String>> {
    let mut session = Session::new();
    let mut hit: HashSet<u32> = HashSet::new();
    data::read(path, |_, rec| {
        if let Record::Sample(s) = &rec {
            if let Some(loc) = session.resolve(s.pid, s.ip, s.mode) {
                hit.insert(loc.dso);
            }
        } else {
            session.apply(&rec);
        }
    })?;
    Ok(hit
        .into_iter()
        .filter_map(|d| session.dsos().get(d as usize).map(|d| d.path.clone()))
        .collect())
}

/// `rperf buildid-list [-i FILE] [--with-hits]`.
pub fn list(input: &Path, with_hits: bool) -> Result<ExitCode> {
    // perf prints an ELF input's own build-id.
    if let Ok(Some(id)) = rperf_symbols::build_id(input) {
        println!("{}", rperf_symbols::buildid::hex(&id));
        return Ok(ExitCode::SUCCESS);
    }
    let all = entries(input)?;
    let hits = if with_hits {
        Some(hit_paths(input)?)
    } else {
        None
    };
    let mut text = String::new();
    for (id, name) in all {
        if hits.as_ref().is_some_and(|h| !h.contains(&name)) {
            continue;
        }
        text.push_str(&format!("{} {name}\n", rperf_symbols::buildid::hex(&id)));
    }
    super::version::print(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The build-id cache's root: `$PERF_BUILDID_DIR`, else `~/.debug` (where perf keeps it).
pub fn cache_root() -> Result<PathBuf> {
    crate::buildid_cache::root()
}

/// A binary's absolute path and build-id, or an error naming what is wrong with it.
fn identify(file: &Path) -> Result<(PathBuf, String)> {
    let abs =
        std::fs::canonicalize(file).with_context(|| format!("cannot read {}", file.display()))?;
    let id = rperf_symbols::build_id(&abs)
        .map_err(|e| anyhow!("{}: {e}", file.display()))?
        .ok_or_else(|| {
            anyhow!(
                "{} has no build-id note (link it with -Wl,--build-id to cache it)",
                file.display()
            )
        })?;
    Ok((abs, rperf_symbols::buildid::hex(&id)))
}

/// Adds `file` as perf does: a copy at `root/PATH/ID/elf` with its SDT markers' `probes`
/// file beside it, linked from `root/.build-id/xx/rest`.
pub fn add(root: &Path, file: &Path) -> Result<()> {
    let (abs, hex) = identify(file)?;
    crate::buildid_cache::store(root, &abs, &abs.to_string_lossy(), &hex)?;
    let rel = abs.to_string_lossy().trim_start_matches('/').to_string();
    write_sdt_cache(&root.join(rel).join(&hex).join("probes"), &abs)
        .with_context(|| format!("cannot write the SDT cache of {}", abs.display()))
}

/// One entry of a `probes` file: its `%`/`#` line, the `GROUP:EVENT` it names, and its
/// trace-probe lines, kept sorted and unique as perf keeps them.
struct CacheEntry {
    head: String,
    name: Option<(String, String)>,
    lines: std::collections::BTreeSet<String>,
}

/// The `GROUP:EVENT` an entry's line names (`%sdt_python:gc__done=gc__done`), if it does.
fn entry_name(head: &str) -> Option<(String, String)> {
    let first = head.get(1..)?.split_whitespace().next()?;
    let (named, _) = first.split_once('=')?;
    let (group, event) = named.split_once(':')?;
    Some((group.to_string(), event.to_string()))
}

/// Writes `probes` as `perf buildid-cache --add` does: the entries already there are kept,
/// and each USDT marker of `abs` adds its trace-probe line (`p:sdt_PROVIDER/NAME PATH:0xOFF`
/// with the semaphore and arguments) under a `%sdt_PROVIDER:NAME=NAME` entry, made at the
/// end when new; markers of one name share an entry. A binary without markers leaves the
/// file as it was (empty when new), and so does a marker perf cannot read (an operand
/// of invalid size), since perf then gives up on the whole file.
fn write_sdt_cache(probes: &Path, abs: &Path) -> Result<()> {
    use std::io::{Read, Write};
    let mut old = String::new();
    let existed = match rperf_symbols::file::open_regular(probes) {
        Ok(mut f) => {
            f.read_to_string(&mut old)?;
            true
        }
        Err(_) => false,
    };
    let notes = crate::probe::debuginfo::sdt_notes_of(abs).unwrap_or_default();
    let mut entries: Vec<CacheEntry> = Vec::new();
    for line in old.lines() {
        if line.starts_with('#') || line.starts_with('%') {
            entries.push(CacheEntry {
                head: line.to_string(),
                name: entry_name(line),
                lines: Default::default(),
            });
        } else if let Some(e) = entries.last_mut() {
            e.lines.insert(line.to_string());
        } else {
            // perf refuses a file that starts with a trace-probe line: leave it alone.
            return Ok(());
        }
    }
    let path = abs.to_string_lossy();
    for note in &notes {
        let Ok(args) = crate::probe::debuginfo::sdt_args(note) else {
            return Ok(());
        };
        let group = format!("sdt_{}", note.provider);
        let mut def =
            crate::probe::Definition::uprobe(false, &group, &note.name, &path, note.loc, args);
        if note.ref_ctr != 0 {
            def.target.push_str(&format!("(0x{:x})", note.ref_ctr));
        }
        let key = (group, note.name.clone());
        let i = match entries.iter().position(|e| e.name.as_ref() == Some(&key)) {
            Some(i) => i,
            None => {
                entries.push(CacheEntry {
                    head: format!("%{}:{}={}", key.0, key.1, key.1),
                    name: Some(key),
                    lines: Default::default(),
                });
                entries.len() - 1
            }
        };
        entries[i].lines.insert(def.line());
    }
    if notes.is_empty() && existed {
        return Ok(());
    }
    let mut text = String::new();
    for e in &entries {
        text.push_str(&e.head);
        text.push('\n');
        for l in &e.lines {
            text.push_str(l);
            text.push('\n');
        }
    }
    let opts = crate::output::Options {
        mode: 0o644,
        ..Default::default()
    };
    let mut out = crate::output::Output::create(probes, opts)?;
    out.write_all(text.as_bytes())?;
    Ok(out.commit()?)
}

/// Removes `file`'s build-id from the cache (its copy and its link).
pub fn remove(root: &Path, file: &Path) -> Result<()> {
    let (abs, hex) = identify(file)?;
    let rel = abs.to_string_lossy().trim_start_matches('/').to_string();
    let link = link_of(root, &hex);
    if std::fs::symlink_metadata(&link).is_err() {
        bail!(
            "{} ({hex}) is not in the build-id cache {}",
            file.display(),
            root.display()
        );
    }
    std::fs::remove_file(&link)?;
    let dir = root.join(&rel).join(&hex);
    if dir.is_dir() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    Ok(())
}

/// Every cached binary: (build-id, original path), sorted by build-id.
pub fn cached(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(top) = std::fs::read_dir(root.join(".build-id")) else {
        return out;
    };
    for d in top.flatten() {
        let prefix = d.file_name().to_string_lossy().into_owned();
        let Ok(links) = std::fs::read_dir(d.path()) else {
            continue;
        };
        for l in links.flatten() {
            let Ok(target) = std::fs::read_link(l.path()) else {
                continue;
            };
            // ../../PATH/ID: the path is what sits between the two.
            let t = target.to_string_lossy();
            let Some(inner) = t.strip_prefix("../..") else {
                continue;
            };
            let Some((path, _id)) = inner.rsplit_once('/') else {
                continue;
            };
            let hex = format!("{prefix}{}", l.file_name().to_string_lossy());
            out.push((hex, path.to_string()));
        }
    }
    out.sort();
    out
}

/// Adds the binaries a fresh recording lists (BUILD_ID feature) to the cache, as perf
/// record does with `record.build-id = cache`: those still at their recorded path in the
/// recorded build.
pub fn cache_recorded(data: &Path) -> Result<()> {
    let root = cache_root()?;
    for (id, name) in entries(data)? {
        let p = Path::new(&name);
        if name.starts_with('/') && rperf_symbols::build_id(p).ok().flatten() == Some(id) {
            add(&root, p)?;
        }
    }
    Ok(())
}

/// `rperf buildid-cache --add/--remove/--list`.
pub fn cache(add_files: &[PathBuf], remove_files: &[PathBuf], list: bool) -> Result<ExitCode> {
    let root = cache_root()?;
    for f in add_files {
        add(&root, f)?;
    }
    for f in remove_files {
        remove(&root, f)?;
    }
    if list {
        let text: String = cached(&root)
            .into_iter()
            .map(|(id, p)| format!("{id} {p}\n"))
            .collect();
        super::version::print(text.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
