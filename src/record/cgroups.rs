//! Cgroups for `record`: the hierarchy perf_event follows (a v1 hierarchy with the
//! perf_event controller, else cgroup v2, as perf finds it), the `-G` names in it, and
//! every cgroup's id and path for the CGROUP records `--all-cgroups` starts with.
//!
//! A sample's cgroup id is its cgroup v2 (kernfs) id, which is the inode number of the
//! cgroup's directory on a 64-bit kernel: the walk reads it with stat.
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

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
/// hierarchy perf_event follows, looked up as `stat -G` does), with a one-line error naming
/// one that does not exist.
pub fn open_all(names: &str) -> Result<Vec<(String, File)>> {
    let root = crate::cgroup::mount_point()?;
    let mut out = Vec::new();
    for name in names.split(',') {
        if name.is_empty() {
            bail!("-G {names}: an empty cgroup name (give names separated by commas)");
        }
        let c = crate::cgroup::open_under(&root, name)?;
        out.push((c.name, c.dir));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
