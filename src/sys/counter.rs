//! Opening perf events and reading their counts.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::abi::{Attr, ATTR_SIZE_VER7};

/// PERF_FLAG_FD_CLOEXEC: the event fd is not passed to the workload.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong =
    perf_event_open_sys::bindings::PERF_FLAG_FD_CLOEXEC as libc::c_ulong;

/// PERF_FLAG_PID_CGROUP: the pid argument is a cgroup directory's fd.
const PERF_FLAG_PID_CGROUP: libc::c_ulong =
    perf_event_open_sys::bindings::PERF_FLAG_PID_CGROUP as libc::c_ulong;

/// Opens one event. `pid` -1 with a `cpu` counts a CPU; `cpu` -1 with a `pid` follows a task.
pub fn open(attr: &Attr, pid: i32, cpu: i32, group: Option<RawFd>) -> io::Result<OwnedFd> {
    open_with(attr, pid, cpu, group, 0)
}

/// Opens one event on one CPU counting only tasks of the cgroup whose directory `cgroup`
/// is open on (perf stat's `-G`: the kernel takes cgroup events per CPU only).
pub fn open_in_cgroup(
    attr: &Attr,
    cgroup: &std::fs::File,
    cpu: i32,
    group: Option<RawFd>,
) -> io::Result<OwnedFd> {
    open_with(attr, cgroup.as_raw_fd(), cpu, group, PERF_FLAG_PID_CGROUP)
}

fn open_with(
    attr: &Attr,
    pid: i32,
    cpu: i32,
    group: Option<RawFd>,
    flags: libc::c_ulong,
) -> io::Result<OwnedFd> {
    // The kernel reads `size` bytes; an 8-byte aligned buffer of the newest size perf knows
    // holds every field we set and is zero beyond it.
    let bytes = attr.to_bytes(ATTR_SIZE_VER7);
    let mut buf = [0u64; ATTR_SIZE_VER7 as usize / 8];
    for (slot, chunk) in buf.iter_mut().zip(bytes.chunks_exact(8)) {
        *slot = u64::from_ne_bytes(chunk.try_into().expect("chunks_exact gives 8 bytes"));
    }
    // SAFETY: `buf` is a properly aligned, fully initialized perf_event_attr of
    // ATTR_SIZE_VER7 bytes whose size field says so; the kernel only reads it.
    let fd = unsafe {
        perf_event_open_sys::perf_event_open(
            buf.as_mut_ptr().cast(),
            pid,
            cpu,
            group.unwrap_or(-1),
            PERF_FLAG_FD_CLOEXEC | flags,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: perf_event_open returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A counter's value with the times needed to scale multiplexed counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Raw count.
    pub value: u64,
    /// Nanoseconds the event was enabled.
    pub enabled: u64,
    /// Nanoseconds it was actually on the PMU.
    pub running: u64,
}

impl std::ops::Add for Count {
    type Output = Count;
    fn add(self, o: Count) -> Count {
        Count {
            value: self.value.wrapping_add(o.value),
            enabled: self.enabled.wrapping_add(o.enabled),
            running: self.running.wrapping_add(o.running),
        }
    }
}

impl std::ops::Sub for Count {
    type Output = Count;
    fn sub(self, o: Count) -> Count {
        Count {
            value: self.value.wrapping_sub(o.value),
            enabled: self.enabled.wrapping_sub(o.enabled),
            running: self.running.wrapping_sub(o.running),
        }
    }
}

/// Reads a counter opened with read_format TOTAL_TIME_ENABLED|TOTAL_TIME_RUNNING.
pub fn read(fd: &OwnedFd) -> io::Result<Count> {
    let mut buf = [0u64; 3];
    // SAFETY: `buf` is 24 writable bytes and the fd is a live perf event descriptor.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), 24) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n != 24 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "short counter read",
        ));
    }
    Ok(Count {
        value: buf[0],
        enabled: buf[1],
        running: buf[2],
    })
}

/// Reads a group leader opened with read_format GROUP|TOTAL_TIME_ENABLED|TOTAL_TIME_RUNNING:
/// one read(2) for the leader and every member, which share the leader's enabled and running
/// times (a group is on the PMU whole or not at all). `buf` is reused between reads; the
/// counts come out in the kernel's order (the leader, then members as they were opened).
pub fn read_group<'a>(
    fd: &OwnedFd,
    members: usize,
    buf: &'a mut Vec<u64>,
) -> io::Result<impl Iterator<Item = Count> + 'a> {
    buf.clear();
    buf.resize(3 + members, 0);
    let bytes = buf.len() * 8;
    // SAFETY: `buf` holds `bytes` writable, initialized bytes and the fd is a live perf event
    // descriptor; the kernel writes at most that many.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), bytes) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let nr = buf[0] as usize;
    // A group that lost a member would put the others' counts under wrong names.
    if (n as usize) < 24 || nr != members || (n as usize) < (3 + nr) * 8 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "short counter group read",
        ));
    }
    let (enabled, running) = (buf[1], buf[2]);
    Ok(buf[3..3 + nr].iter().map(move |&value| Count {
        value,
        enabled,
        running,
    }))
}

/// The lost-samples count of a sampling event opened with `read_format` (which must hold
/// [`crate::abi::read_format::LOST`] and not GROUP): the value comes first, then one
/// word per optional field below LOST.
pub fn read_lost(fd: &OwnedFd, read_format: u64) -> io::Result<u64> {
    use crate::abi::read_format as rf;
    let at = 1 + (read_format & (rf::LOST - 1) & !rf::GROUP).count_ones() as usize;
    let mut buf = [0u64; 6];
    // SAFETY: `buf` is 48 writable bytes and the fd is a live perf event descriptor.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), 48) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if (n as usize) < (at + 1) * 8 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "short counter read",
        ));
    }
    Ok(buf[at])
}

fn ioctl(fd: &OwnedFd, req: libc::c_ulong) -> io::Result<()> {
    // SAFETY: ENABLE/DISABLE/RESET take an integer argument and touch no user memory.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Starts counting.
pub fn enable(fd: &OwnedFd) -> io::Result<()> {
    ioctl(fd, perf_event_open_sys::bindings::ENABLE as libc::c_ulong)
}

/// Stops counting.
pub fn disable(fd: &OwnedFd) -> io::Result<()> {
    ioctl(fd, perf_event_open_sys::bindings::DISABLE as libc::c_ulong)
}

/// Attaches a tracepoint filter expression (`--filter`).
pub fn set_filter(fd: &OwnedFd, filter: &str) -> io::Result<()> {
    let c = std::ffi::CString::new(filter)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "filter contains NUL"))?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call; the kernel copies it.
    let r = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            perf_event_open_sys::bindings::SET_FILTER as _,
            c.as_ptr(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Linux capability numbers that decide what perf_event_open allows.
pub mod cap {
    /// Following another user's process.
    pub const SYS_PTRACE: u32 = 19;
    /// Everything, the pre-5.8 way.
    pub const SYS_ADMIN: u32 = 21;
    /// Performance monitoring regardless of perf_event_paranoid (Linux 5.8+).
    pub const PERFMON: u32 = 38;
}

/// `kernel.perf_event_paranoid`, when it can be read.
pub fn paranoid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A field of `/proc/PID/status` (`self` for rperf), as text.
fn status_field(pid: &str, field: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// Whether rperf runs with capability `c` effective.
pub fn has_capability(c: u32) -> bool {
    status_field("self", "CapEff")
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .is_some_and(|bits| bits >> c & 1 == 1)
}

/// Whether events may count the kernel without being refused: perf's
/// `perf_event_can_profile_kernel` (paranoid <= 1, or CAP_PERFMON/CAP_SYS_ADMIN).
pub fn can_profile_kernel() -> bool {
    has_capability(cap::SYS_ADMIN)
        || has_capability(cap::PERFMON)
        || paranoid().is_some_and(|p| p <= 1)
}

/// The real, effective, saved and filesystem user ids of a process (`self` for rperf).
pub fn uids(pid: &str) -> Option<[u32; 4]> {
    let v = status_field(pid, "Uid")?;
    let ids: Vec<u32> = v
        .split_whitespace()
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    ids.try_into().ok()
}
