//! Cgroups for `record`: the hierarchy perf_event follows (a v1 hierarchy with the
//! perf_event controller, else cgroup v2, as perf finds it), the `-G` names in it, and
//! every cgroup's id and path for the CGROUP records `--all-cgroups` starts with.
//!
//! A sample's cgroup id is its cgroup v2 (kernfs) id, which is the inode number of the
//! cgroup's directory on a 64-bit kernel: the walk reads it with stat.
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

/// The mount point of the hierarchy perf_event follows, from /proc/self/mounts.
pub fn mount_point() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mount_point_in(&text)
}

/// [`mount_point`] over the text of a mounts file.
fn mount_point_in(mounts: &str) -> Option<PathBuf> {
    let mut v2 = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(dir), Some(fs), Some(opts)) = (f.get(1), f.get(2), f.get(3)) else {
            continue;
        };
        // Mount points with spaces come octal-escaped (\040).
        let dir = dir.replace("\\040", " ");
        match *fs {
            "cgroup" if opts.split(',').any(|o| o == "perf_event") => {
                return Some(PathBuf::from(dir));
            }
            "cgroup2" if v2.is_none() => v2 = Some(PathBuf::from(dir)),
            _ => {}
        }
    }
    v2
}

/// Every cgroup below `root`: (id, path with `/` for the root), parents before children.
pub fn all(root: &Path) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut todo = vec![(root.to_path_buf(), "/".to_string())];
    while let Some((dir, name)) = todo.pop() {
        // A cgroup removed meanwhile is skipped; its children were not listed.
        let Ok(meta) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        out.push((meta.ino(), name.clone()));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut subs: Vec<(PathBuf, String)> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| {
                let child = e.file_name().to_string_lossy().into_owned();
                let path = if name == "/" {
                    format!("/{child}")
                } else {
                    format!("{name}/{child}")
                };
                (e.path(), path)
            })
            .collect();
        subs.sort();
        subs.reverse();
        todo.extend(subs);
    }
    out
}

/// Opens the directories of the cgroups `-G` names (comma-separated, relative to the
/// hierarchy perf_event follows), with a one-line error naming one that does not exist.
pub fn open_all(names: &str) -> Result<Vec<(String, File)>> {
    let root = mount_point().ok_or_else(|| {
        anyhow!("-G {names}: no cgroup hierarchy is mounted for perf_event (mount cgroup2, or cgroup with -o perf_event)")
    })?;
    let mut out = Vec::new();
    for name in names.split(',') {
        if name.is_empty() {
            bail!("-G {names}: an empty cgroup name (give names separated by commas)");
        }
        let rel = name.trim_start_matches('/');
        if Path::new(rel)
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            bail!("-G {name}: give a cgroup's path below {}", root.display());
        }
        let dir = root.join(rel);
        if !dir.is_dir() {
            bail!(
                "cgroup '{name}' does not exist (no directory {}): create it or pick one under {}",
                dir.display(),
                root.display()
            );
        }
        let f =
            File::open(&dir).map_err(|e| anyhow!("cannot open cgroup {}: {e}", dir.display()))?;
        out.push((name.to_string(), f));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_event_v1_wins_over_cgroup2() {
        let hybrid = "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n\
                      cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n\
                      cgroup /sys/fs/cgroup/perf_event cgroup rw,perf_event 0 0\n";
        assert_eq!(
            mount_point_in(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/perf_event"))
        );
        let v2 = "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n\
                  cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n";
        assert_eq!(
            mount_point_in(v2),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(mount_point_in("proc /proc proc rw 0 0\n"), None);
    }

    #[test]
    fn the_walk_names_the_root_and_nested_directories() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::create_dir(d.path().join("c")).unwrap();
        std::fs::write(d.path().join("a/file"), b"").unwrap();
        let names: Vec<String> = all(d.path()).into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, ["/", "/a", "/a/b", "/c"]);
    }
}
