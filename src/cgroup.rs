//! Cgroups by name, as perf looks them up for `-G`: under the v1 `perf_event` hierarchy
//! when one is mounted, else under the cgroup2 mount; opened as directories whose fds
//! perf_event_open takes in place of a pid.
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

/// One cgroup named on the command line, its directory open.
#[derive(Debug)]
pub struct Cgroup {
    /// The name as given (what perf prints beside the counts).
    pub name: String,
    /// The cgroup's directory.
    pub dir: File,
}

/// The mount point perf counts cgroups under, from `/proc/mounts`' text: the first v1
/// `cgroup` mount with the `perf_event` controller, else the first `cgroup2` mount.
pub fn mount_point_in(mounts: &str) -> Option<PathBuf> {
    let mut v2 = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        match f[2] {
            "cgroup" if f[3].split(',').any(|o| o == "perf_event") => {
                return Some(unescape(f[1]));
            }
            "cgroup2" if v2.is_none() => v2 = Some(unescape(f[1])),
            _ => {}
        }
    }
    v2
}

/// /proc/mounts writes space, tab, newline and backslash in paths as octal escapes.
fn unescape(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Where cgroups live on this machine.
pub fn mount_point() -> Result<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts")
        .map_err(|e| anyhow!("cannot read /proc/mounts to find the cgroup file system: {e}"))?;
    mount_point_in(&mounts).ok_or_else(|| {
        anyhow!(
            "no cgroup file system is mounted (neither the v1 perf_event hierarchy nor cgroup2)"
        )
    })
}

/// Opens the cgroup `name` (a path below the mount point, as in `perf stat -G`).
pub fn open_under(mount: &Path, name: &str) -> Result<Cgroup> {
    let rel = name.trim_start_matches('/');
    if rel.split('/').any(|c| c == "..") {
        bail!(
            "invalid cgroup '{name}': give a path below {}",
            mount.display()
        );
    }
    let path = mount.join(rel);
    let meta = std::fs::metadata(&path).map_err(|e| {
        anyhow!(
            "no access to cgroup {}: {e} (cgroups are directories under {})",
            path.display(),
            mount.display()
        )
    })?;
    if !meta.is_dir() {
        bail!(
            "{} is not a cgroup: cgroups are directories under {}",
            path.display(),
            mount.display()
        );
    }
    let dir =
        File::open(&path).map_err(|e| anyhow!("no access to cgroup {}: {e}", path.display()))?;
    Ok(Cgroup {
        name: name.to_string(),
        dir,
    })
}

/// Opens each named cgroup (names as typed, empty entries skipped by the caller).
pub fn open_all(names: &[&str]) -> Result<Vec<Cgroup>> {
    let mount = mount_point()?;
    names.iter().map(|n| open_under(&mount, n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_perf_event_wins_over_cgroup2() {
        let hybrid = "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n\
                      cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n\
                      cgroup /sys/fs/cgroup/perf_event cgroup rw,perf_event 0 0\n";
        assert_eq!(
            mount_point_in(hybrid).unwrap(),
            PathBuf::from("/sys/fs/cgroup/perf_event")
        );
        let no_v1 = "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n\
                     cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n";
        assert_eq!(
            mount_point_in(no_v1).unwrap(),
            PathBuf::from("/sys/fs/cgroup/unified")
        );
        assert_eq!(mount_point_in("proc /proc proc rw 0 0\n"), None);
        assert_eq!(
            mount_point_in("cgroup2 /a\\040b cgroup2 rw 0 0\n").unwrap(),
            PathBuf::from("/a b")
        );
    }

    #[test]
    fn names_stay_below_the_mount() {
        let err = open_under(Path::new("/sys/fs/cgroup"), "../../etc").unwrap_err();
        assert!(err.to_string().contains("invalid cgroup"), "{err}");
        let err = open_under(Path::new("/nonexistent-mount"), "x").unwrap_err();
        assert!(err.to_string().contains("no access to cgroup"), "{err}");
    }
}
