//! What was running before recording started, read from /proc: threads with their command
//! names and the executable mappings of each process, plus the kernel's text map. `record`
//! turns these into COMM/FORK/MMAP2 records so samples of old processes resolve.
use std::fs;
use std::io;

pub use crate::data::write::encode::Mapping;

/// Parses one line of /proc/PID/maps.
pub fn parse_maps_line(line: &str) -> Option<Mapping> {
    let mut f = line.splitn(6, ' ');
    let range = f.next()?;
    let perms = f.next()?;
    let off = f.next()?;
    let dev = f.next()?;
    let ino = f.next()?;
    let path = f.next().unwrap_or("").trim_start().to_string();
    let (s, e) = range.split_once('-')?;
    let (maj, min) = dev.split_once(':')?;
    let pb = perms.as_bytes();
    if pb.len() < 4 {
        return None;
    }
    let mut prot = 0u32;
    if pb[0] == b'r' {
        prot |= libc::PROT_READ as u32;
    }
    if pb[1] == b'w' {
        prot |= libc::PROT_WRITE as u32;
    }
    if pb[2] == b'x' {
        prot |= libc::PROT_EXEC as u32;
    }
    let flags = if pb[3] == b's' {
        libc::MAP_SHARED as u32
    } else {
        libc::MAP_PRIVATE as u32
    };
    Some(Mapping {
        start: u64::from_str_radix(s, 16).ok()?,
        end: u64::from_str_radix(e, 16).ok()?,
        pgoff: u64::from_str_radix(off, 16).ok()?,
        maj: u32::from_str_radix(maj, 16).ok()?,
        min: u32::from_str_radix(min, 16).ok()?,
        ino: ino.parse().ok()?,
        prot,
        flags,
        path,
    })
}

/// A process as found in /proc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Process id (tgid).
    pub pid: i32,
    /// Its threads with their names; the main thread first.
    pub threads: Vec<(i32, String)>,
    /// Executable mappings.
    pub maps: Vec<Mapping>,
}

fn comm(pid: i32, tid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
        .ok()
        .map(|s| task_comm(s.trim_end_matches('\n')))
}

/// A name as the kernel's COMM records carry it: at most 15 bytes. /proc shows more for
/// some threads (a kworker with its workqueue, `kworker/1:1H-kblockd`), and perf's
/// synthesized records cut those to the same 15 as the kernel's own.
pub fn task_comm(name: &str) -> String {
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

/// Reads one process; `None` when it vanished meanwhile (a normal race, not an error).
pub fn read_process(pid: i32) -> Option<Process> {
    let mut threads: Vec<(i32, String)> = crate::sys::topology::threads_of(pid)
        .ok()?
        .into_iter()
        .filter_map(|tid| comm(pid, tid).map(|c| (tid, c)))
        .collect();
    // Main thread first: FORK records for the others refer to it.
    threads.sort_by_key(|(tid, _)| (*tid != pid, *tid));
    let maps = fs::read_to_string(format!("/proc/{pid}/maps"))
        .ok()?
        .lines()
        .filter_map(parse_maps_line)
        .filter(Mapping::is_exec)
        .collect();
    Some(Process { pid, threads, maps })
}

/// The namespaces of task `tid` as NAMESPACES records carry them: (device, inode) of each
/// of /proc/TID/ns/{net,uts,ipc,pid,user,mnt,cgroup}, in the kernel's order; (0, 0) for one
/// that cannot be read. `None` when the task is gone.
pub fn namespaces(tid: i32) -> Option<Vec<(u64, u64)>> {
    use std::os::unix::fs::MetadataExt;
    let dir = format!("/proc/{tid}/ns");
    fs::metadata(&dir).ok()?;
    Some(
        ["net", "uts", "ipc", "pid", "user", "mnt", "cgroup"]
            .iter()
            .map(|n| {
                fs::metadata(format!("{dir}/{n}"))
                    .map(|m| (m.dev(), m.ino()))
                    .unwrap_or((0, 0))
            })
            .collect(),
    )
}

/// Every process on the system (for `-a`), skipping those that exit while being read.
pub fn all_processes() -> io::Result<Vec<Process>> {
    fs::read_dir("/proc")?;
    Ok(all_pids().into_iter().filter_map(read_process).collect())
}

/// The pids of every process in /proc, in order.
pub fn all_pids() -> Vec<i32> {
    let mut pids: Vec<i32> = fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids
}

/// The kernel text start (`_text` in /proc/kallsyms, through the kallsyms cache under
/// `cache_dir`), 0 when hidden by kptr_restrict.
pub fn kernel_text_start(cache_dir: Option<&std::path::Path>) -> u64 {
    rperf_symbols::Kallsyms::load(cache_dir)
        .text_start()
        .unwrap_or(0)
}

/// Loaded kernel modules: (name, start address, size), from /proc/modules.
pub fn kernel_modules() -> Vec<(String, u64, u64)> {
    fs::read_to_string("/proc/modules")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let size = f.get(1)?.parse().ok()?;
            let addr = u64::from_str_radix(f.get(5)?.trim_start_matches("0x"), 16).ok()?;
            (addr != 0).then(|| (f[0].to_string(), addr, size))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_proc_are_cut_to_the_kernels_fifteen_bytes() {
        assert_eq!(task_comm("kworker/1:1H-kblockd"), "kworker/1:1H-kb");
        assert_eq!(task_comm("sleep"), "sleep");
        assert_eq!(task_comm("0123456789abcdef"), "0123456789abcde");
        // A multi-byte character is not split.
        assert_eq!(task_comm("abcdefghijklmn\u{e9}"), "abcdefghijklmn");
    }

    #[test]
    fn maps_lines_parse() {
        let m = parse_maps_line(
            "55d0c6a00000-55d0c6a21000 r-xp 00002000 fe:01 1835082                    /usr/bin/cat",
        )
        .unwrap();
        assert_eq!(m.start, 0x55d0c6a00000);
        assert_eq!(m.end, 0x55d0c6a21000);
        assert_eq!(m.pgoff, 0x2000);
        assert_eq!((m.maj, m.min, m.ino), (0xfe, 1, 1835082));
        assert!(m.is_exec());
        assert_eq!(m.flags, libc::MAP_PRIVATE as u32);
        assert_eq!(m.path, "/usr/bin/cat");
        let anon = parse_maps_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0 ").unwrap();
        assert!(!anon.is_exec());
        assert_eq!(anon.path, "");
        assert!(parse_maps_line("garbage").is_none());
    }

    #[test]
    fn own_process_has_its_executable_mapped() {
        let me = read_process(std::process::id() as i32).unwrap();
        assert_eq!(me.threads[0].0, me.pid);
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert!(
            me.maps.iter().any(|m| m.path == exe.to_str().unwrap()),
            "{:?}",
            me.maps
        );
        let me_pid = std::process::id() as i32;
        assert!(all_processes().unwrap().iter().any(|p| p.pid == me_pid));
    }
}
