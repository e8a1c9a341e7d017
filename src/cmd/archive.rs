//! `rperf archive`: packs the binaries a perf.data's samples hit into FILE.tar.bz2, laid out
//! as a `--symfs` root (each binary at its recorded path), so `rperf report --symfs DIR` on
//! another machine symbolizes as on this one.
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

use crate::data::{self, Record};
use crate::session::Session;

/// The binaries mapped into the processes that samples were taken in (their call chains may
/// pass through any of them), by recorded path.
fn mapped_binaries(input: &Path) -> Result<Vec<String>> {
    let mut session = Session::new();
    let mut seen: HashMap<i32, u64> = HashMap::new();
    let mut dsos: HashSet<u32> = HashSet::new();
    data::read(input, |_, rec| {
        let Record::Sample(s) = &rec else {
            session.apply(&rec);
            return;
        };
        // Maps change rarely: look again only when the process's maps did.
        let generation = session.maps_generation(s.pid);
        if seen.insert(s.pid, generation) != Some(generation) {
            dsos.extend(session.user_maps(s.pid).iter().map(|m| m.dso));
        }
    })?;
    let mut paths: Vec<String> = dsos
        .into_iter()
        .filter_map(|d| session.dsos().get(d as usize))
        .filter(|d| d.path.starts_with('/') && !d.anonymous && !d.kernel)
        .map(|d| d.path.clone())
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// The files to pack: (recorded path, where it is read now). A binary the BUILD_ID feature
/// names is taken only in that exact build (from its path or the build-id cache); one that
/// is gone or rebuilt is reported and skipped.
pub fn members(input: &Path) -> Result<Vec<(String, PathBuf)>> {
    let ids: HashMap<String, Vec<u8>> = super::buildid::entries(input)?
        .into_iter()
        .map(|(id, n)| (n, id))
        .collect();
    let mut out = Vec::new();
    for name in mapped_binaries(input)? {
        let found = crate::session::locate(&ids, &None, &name).map(|(file, _)| file);
        let ok = |file: &Path| match ids.get(&name) {
            Some(want) => rperf_symbols::build_id(file).ok().flatten().as_ref() == Some(want),
            None => file.is_file(),
        };
        if let Some(file) = found.filter(|f| ok(f)) {
            // A stripped binary's symbols live in its separate debug file: pack it at its
            // own path, where the symbolizer looks below --symfs.
            if let Some(debug) = rperf_symbols::debug_file(&file, None) {
                out.push((debug.to_string_lossy().into_owned(), debug));
            }
            out.push((name, file));
        } else {
            eprintln!(
                "rperf archive: skipping {name}: the build recorded is neither there nor in the build-id cache"
            );
        }
    }
    Ok(out)
}

/// Runs `rperf archive [FILE]`.
pub fn run(input: &Path) -> Result<ExitCode> {
    let files = members(input)?;
    if files.is_empty() {
        bail!(
            "{}: no sample was taken in a process with binaries on disk, nothing to archive",
            input.display()
        );
    }
    let out = PathBuf::from(format!("{}.tar.bz2", input.display()));
    // The copies are staged in a private directory of random name beside the output, and
    // the archive goes through `output` (random O_EXCL name, renamed when whole): fixed
    // names there would let another user plant symlinks for root to write through.
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let stage = tempfile::Builder::new()
        .prefix(".rperf-archive-")
        .tempdir_in(&dir)
        .with_context(|| format!("cannot create a staging directory in {}", dir.display()))?;
    let result = (|| -> Result<()> {
        for (name, file) in &files {
            let dest = stage.path().join(name.trim_start_matches('/'));
            if let Some(p) = dest.parent() {
                std::fs::create_dir_all(p)
                    .with_context(|| format!("cannot create {}", p.display()))?;
            }
            // Only regular files are packed (a FIFO at a recorded path would block).
            let mut from = rperf_symbols::file::open_regular(file)?;
            let mut to = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&dest)
                .with_context(|| format!("cannot create {}", dest.display()))?;
            std::io::copy(&mut from, &mut to)
                .with_context(|| format!("cannot copy {}", file.display()))?;
        }
        // perf archive is a tar call too; bzip2 as perf's.
        let mut tar = Command::new("tar")
            .arg("cjf")
            .arg("-")
            .arg("-C")
            .arg(stage.path())
            .arg(".")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("cannot run tar (is it installed?)")?;
        let mut sink = crate::output::Output::create(&out, crate::output::Options::default())
            .with_context(|| format!("cannot create {}", out.display()))?;
        let copied = std::io::copy(tar.stdout.as_mut().expect("piped"), &mut sink);
        let st = tar.wait().context("waiting for tar")?;
        copied.with_context(|| format!("cannot write {}", out.display()))?;
        if !st.success() {
            bail!("tar failed ({st}): is bzip2 installed?");
        }
        sink.commit()
            .with_context(|| format!("cannot write {}", out.display()))?;
        Ok(())
    })();
    drop(stage);
    result?;
    println!(
        "Now please run:\n\n$ mkdir -p DIR && tar xvf {} -C DIR\n\nwherever you need to run 'rperf report --symfs DIR' on.",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
