//! perf's build-id cache on disk (`$PERF_BUILDID_DIR`, else `~/.debug`): where a binary is
//! stored and linked by its build-id, shared by `buildid-cache --add`, record's capture of
//! binaries that live only inside a container, and the lookups in `session::locate`.
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

/// The build-id cache's root: `$PERF_BUILDID_DIR`, else `~/.debug` (where perf keeps it).
pub fn root() -> Result<PathBuf> {
    std::env::var_os("PERF_BUILDID_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".debug")))
        .ok_or_else(|| anyhow!("no build-id cache: set HOME or PERF_BUILDID_DIR"))
}

/// `root/.build-id/xx/rest`, the link perf resolves a build-id through.
pub fn link_of(root: &Path, hex: &str) -> PathBuf {
    root.join(".build-id").join(&hex[..2]).join(&hex[2..])
}

/// Whether the cache already holds this build-id's binary.
pub fn holds(root: &Path, hex: &str) -> bool {
    hex.len() > 2 && link_of(root, hex).join("elf").is_file()
}

/// Stores the file read from `source` as the binary `name` (an absolute path, as recorded)
/// with build-id `hex`, as perf lays it out: a copy at `root/NAME/ID/elf` (with an empty
/// `probes` beside it), linked from `root/.build-id/xx/rest`. `source` may differ from
/// `name`: a container's binary is read through `/proc/PID/root`.
pub fn store(root: &Path, source: &Path, name: &str, hex: &str) -> Result<()> {
    if hex.len() <= 2 {
        return Err(anyhow!(
            "{name}: a build-id of {} digits is too short",
            hex.len()
        ));
    }
    let rel = name.trim_start_matches('/').to_string();
    // A recorded name is a path the kernel printed: `..` in it must not lead out of the cache.
    if Path::new(&rel)
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(anyhow!("{name}: not a plain absolute path, not cached"));
    }
    let dir = root.join(&rel).join(hex);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Staged under a random name and renamed whole (never through a planted symlink or a
    // predictable temporary name), keeping the binary's permission bits.
    let copy = || -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let mut from = rperf_symbols::file::open_regular(source)?;
        let opts = crate::output::Options {
            mode: from.metadata()?.permissions().mode() & 0o7777,
            ..Default::default()
        };
        let mut out = crate::output::Output::create(&dir.join("elf"), opts)?;
        std::io::copy(&mut from, &mut out)?;
        Ok(out.commit()?)
    };
    copy().with_context(|| format!("cannot copy {} into the cache", source.display()))?;
    let probes = dir.join("probes");
    if !probes.exists() {
        std::fs::write(&probes, b"")?;
    }
    let link = link_of(root, hex);
    if let Some(parent) = link.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let target = PathBuf::from("../..").join(&rel).join(hex);
    match std::fs::read_link(&link) {
        Ok(t) if t == target => {}
        Ok(_) => {
            std::fs::remove_file(&link)?;
            std::os::unix::fs::symlink(&target, &link)?;
        }
        Err(_) => std::os::unix::fs::symlink(&target, &link)
            .with_context(|| format!("cannot link {}", link.display()))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_climbs_out_of_the_cache_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = store(
            dir.path(),
            Path::new("/bin/true"),
            "/a/../../etc/x",
            "abcdef",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a plain absolute path"), "{err}");
        assert!(!dir.path().join("etc").exists());
    }
}
