//! Binaries that exist only inside a container, captured while recording.
//!
//! A process in another mount namespace maps files by paths that mean something else (or
//! nothing) on the host, and once it exits nothing on the host leads to them: perf then
//! shows raw addresses. So, as each such mapping is seen, the file is read through
//! `/proc/PID/map_files` (else `/proc/PID/root/PATH`) while the process lives and stored
//! in perf's build-id cache under its build-id; the BUILD_ID feature names that build for
//! the recorded path, and the symbolizer's cache lookup ([`crate::session::locate`]),
//! `rperf archive` and perf itself then find it like any cached binary.
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::abi::misc::CPUMODE_MASK;
use crate::data::write::encode::{for_each_record, kind, misc};

/// A file's identity: (device, inode).
type FileId = (u64, u64);

fn file_id(p: &Path) -> Option<FileId> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// The mount namespace of `pid` (`self` for rperf's own), as the inode of its ns file.
fn mount_ns(pid: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(|m| m.ino())
}

/// What the capture did, for `-v` and the tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Binaries stored in the cache (or found there already).
    pub stored: usize,
    /// Binaries that could not be read or stored (gone, no build-id, no room).
    pub missed: usize,
}

/// Follows MMAP2 records and captures the binaries of processes in other mount namespaces.
pub struct Containers {
    /// The build-id cache (perf's `~/.debug`).
    root: PathBuf,
    own_ns: u64,
    /// Per pid: its mount namespace when it differs from rperf's.
    ns_of: HashMap<i32, Option<u64>>,
    /// (namespace, path) pairs already looked at.
    seen: HashSet<(u64, String)>,
    /// Recorded path → build-id of the binary read inside the container.
    pub ids: HashMap<String, Vec<u8>>,
    /// What was done.
    pub stats: Stats,
    /// `-v`: say what was captured.
    verbose: bool,
}

impl Containers {
    /// A capture into the build-id cache at `root`; `None` when rperf's own mount namespace
    /// cannot be told (no /proc).
    pub fn new(root: PathBuf, verbose: bool) -> Option<Containers> {
        // Root running with another user's $HOME (`sudo -E`) leaves nothing of its own
        // there: the cache is used only where its nearest existing directory is the
        // effective user's (or root's).
        let me = crate::sys::ids::euid();
        let owner = root
            .ancestors()
            .find_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.uid())?;
        if owner != me && owner != 0 {
            if verbose {
                eprintln!(
                    "not storing container binaries in {}: it belongs to another user",
                    root.display()
                );
            }
            return None;
        }
        Some(Containers {
            root,
            own_ns: mount_ns("self")?,
            ns_of: HashMap::new(),
            seen: HashSet::new(),
            ids: HashMap::new(),
            stats: Stats::default(),
            verbose,
        })
    }

    /// Looks at a stretch of whole records.
    pub fn observe(&mut self, buf: &[u8]) {
        for_each_record(buf, |ty, m, r| self.observe_record(ty, m, r));
    }

    /// Looks at one record (`r` whole, header included).
    pub fn observe_record(&mut self, ty: u32, m: u16, r: &[u8]) {
        match ty {
            kind::MMAP2 if m & CPUMODE_MASK != misc::KERNEL => {}
            // A pid may be reused by a process elsewhere: look again after an exec.
            kind::COMM if m & misc::COMM_EXEC != 0 => {
                if let Some(pid) = r.get(8..12) {
                    let pid = i32::from_ne_bytes(pid.try_into().unwrap_or([0; 4]));
                    self.ns_of.remove(&pid);
                }
                return;
            }
            _ => return,
        }
        let word = |o: usize| {
            r.get(o..o + 4)
                .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        };
        let dword = |o: usize| {
            r.get(o..o + 8)
                .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
        };
        let (Some(pid), Some(prot), Some(start), Some(len)) =
            (word(8), word(64), dword(16), dword(24))
        else {
            return;
        };
        let Some(path) = r.get(72..).and_then(|s| {
            let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
            std::str::from_utf8(&s[..end]).ok()
        }) else {
            return;
        };
        // Only code, and only files (not //anon, [vdso], memfd: names).
        if prot & libc::PROT_EXEC as u32 == 0 || !path.starts_with('/') {
            return;
        }
        self.mapping(pid as i32, path, (start, start.saturating_add(len)));
    }

    fn mapping(&mut self, pid: i32, path: &str, (start, end): (u64, u64)) {
        let own = self.own_ns;
        let ns = *self
            .ns_of
            .entry(pid)
            .or_insert_with(|| mount_ns(&pid.to_string()).filter(|&ns| ns != own));
        let Some(ns) = ns else { return };
        if !self.seen.insert((ns, path.to_string())) {
            return;
        }
        // The mapping itself (map_files, root only) is exactly the file the process runs,
        // even deleted or with its path replaced since; else the path in its root.
        let mapped = PathBuf::from(format!("/proc/{pid}/map_files/{start:x}-{end:x}"));
        let (inside, there) = match file_id(&mapped) {
            Some(id) => (mapped, id),
            None => {
                let p = PathBuf::from(format!("/proc/{pid}/root{path}"));
                let Some(id) = file_id(&p) else {
                    self.stats.missed += 1;
                    return;
                };
                (p, id)
            }
        };
        // The same file as the host's at that path (a shared /usr, a bind mount): nothing
        // to capture, the host's copy serves.
        if file_id(Path::new(path)) == Some(there) {
            return;
        }
        match self.store(&inside, path) {
            Ok(id) => {
                if self.verbose {
                    eprintln!(
                        "captured {path} of pid {pid} (another mount namespace) as build-id {}",
                        rperf_symbols::buildid::hex(&id)
                    );
                }
                self.ids.insert(path.to_string(), id);
                self.stats.stored += 1;
            }
            Err(e) => {
                if self.verbose {
                    eprintln!("cannot capture {path} of pid {pid}: {e:#}");
                }
                self.stats.missed += 1;
            }
        }
    }

    fn store(&self, inside: &Path, path: &str) -> anyhow::Result<Vec<u8>> {
        let id = rperf_symbols::build_id(inside)?
            .ok_or_else(|| anyhow::anyhow!("it has no build-id note to file it under"))?;
        let hex = rperf_symbols::buildid::hex(&id);
        if !crate::buildid_cache::holds(&self.root, &hex) {
            crate::buildid_cache::store(&self.root, inside, path, &hex)?;
        }
        Ok(id)
    }
}
