//! Byte encoders for the side-band records `record` synthesizes (COMM, FORK, MMAP, MMAP2,
//! FINISHED_ROUND), in the kernel's layout with the `sample_id_all` trailer perf expects.
use crate::abi::sample;
// Callers name the record types and misc bits they encode and scan through here.
pub use crate::abi::{kind, misc};

/// A file mapping of a process, as /proc/PID/maps lists it and MMAP2 records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Start address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// File offset of `start`.
    pub pgoff: u64,
    /// Device major number.
    pub maj: u32,
    /// Device minor number.
    pub min: u32,
    /// Inode.
    pub ino: u64,
    /// PROT_* bits.
    pub prot: u32,
    /// MAP_SHARED or MAP_PRIVATE.
    pub flags: u32,
    /// Path or pseudo-name (`[vdso]`), empty for anonymous memory.
    pub path: String,
}

impl Mapping {
    /// Whether the mapping holds code (perf synthesizes only those by default).
    pub fn is_exec(&self) -> bool {
        self.prot & libc::PROT_EXEC as u32 != 0
    }
}

/// What the `sample_id_all` trailer of non-sample records holds for the tracking event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Trailer {
    /// The tracking attr's sample_type.
    pub sample_type: u64,
    /// An id of the tracking event.
    pub id: u64,
}

impl Trailer {
    fn write(&self, out: &mut Vec<u8>, pid: i32, tid: i32, time: u64, cpu: u32) {
        let st = self.sample_type;
        if st & sample::TID != 0 {
            out.extend_from_slice(&pid.to_ne_bytes());
            out.extend_from_slice(&tid.to_ne_bytes());
        }
        if st & sample::TIME != 0 {
            out.extend_from_slice(&time.to_ne_bytes());
        }
        if st & sample::ID != 0 {
            out.extend_from_slice(&self.id.to_ne_bytes());
        }
        if st & sample::STREAM_ID != 0 {
            out.extend_from_slice(&self.id.to_ne_bytes());
        }
        if st & sample::CPU != 0 {
            out.extend_from_slice(&cpu.to_ne_bytes());
            out.extend_from_slice(&0u32.to_ne_bytes());
        }
        if st & sample::IDENTIFIER != 0 {
            out.extend_from_slice(&self.id.to_ne_bytes());
        }
    }
}

fn begin(kind: u32, misc: u16) -> Vec<u8> {
    let mut v = Vec::with_capacity(128);
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(&misc.to_ne_bytes());
    v.extend_from_slice(&0u16.to_ne_bytes());
    v
}

fn finish(mut v: Vec<u8>) -> Vec<u8> {
    debug_assert_eq!(v.len() % 8, 0);
    let size = v.len().min(u16::MAX as usize) as u16;
    v[6..8].copy_from_slice(&size.to_ne_bytes());
    v
}

/// PERF_RECORD_LOST_SAMPLES: `count` samples of the event with trailer `t` were lost, as
/// perf record writes it at the end from the event's read_format LOST count (no pid, time
/// or CPU: perf leaves them zero).
pub fn lost_samples(count: u64, t: Trailer) -> Vec<u8> {
    let mut v = begin(kind::LOST_SAMPLES, 0);
    v.extend_from_slice(&count.to_ne_bytes());
    t.write(&mut v, 0, 0, 0, 0);
    finish(v)
}

/// A NUL-terminated string padded with NULs to a multiple of 8 bytes.
fn put_str(v: &mut Vec<u8>, s: &str) {
    // Names longer than a record can hold are cut; the kernel limits paths to PATH_MAX too.
    let bytes = &s.as_bytes()[..s.len().min(4000)];
    v.extend_from_slice(bytes);
    let padded = (bytes.len() + 1).div_ceil(8) * 8;
    v.resize(v.len() + padded - bytes.len(), 0);
}

/// PERF_RECORD_COMM.
pub fn comm(pid: i32, tid: i32, name: &str, exec: bool, t: Trailer) -> Vec<u8> {
    let mut v = begin(kind::COMM, if exec { misc::COMM_EXEC } else { 0 });
    v.extend_from_slice(&pid.to_ne_bytes());
    v.extend_from_slice(&tid.to_ne_bytes());
    put_str(&mut v, name);
    t.write(&mut v, pid, tid, 0, 0);
    finish(v)
}

/// PERF_RECORD_CGROUP: the cgroup with id `id` (what samples carry) is at `path` below
/// the cgroup root. Synthesized ones carry no pid, as perf writes them.
pub fn cgroup(id: u64, path: &str, t: Trailer) -> Vec<u8> {
    let mut v = begin(kind::CGROUP, 0);
    v.extend_from_slice(&id.to_ne_bytes());
    put_str(&mut v, path);
    t.write(&mut v, 0, 0, 0, 0);
    finish(v)
}

/// PERF_RECORD_NAMESPACES: the (device, inode) of each namespace of `tid`, in the kernel's
/// order (net, uts, ipc, pid, user, mnt, cgroup); synthesized, so its sample_id names no
/// task, as perf's.
pub fn namespaces(pid: i32, tid: i32, ns: &[(u64, u64)], t: Trailer) -> Vec<u8> {
    let mut v = begin(kind::NAMESPACES, 0);
    v.extend_from_slice(&pid.to_ne_bytes());
    v.extend_from_slice(&tid.to_ne_bytes());
    v.extend_from_slice(&(ns.len() as u64).to_ne_bytes());
    for (dev, ino) in ns {
        v.extend_from_slice(&dev.to_ne_bytes());
        v.extend_from_slice(&ino.to_ne_bytes());
    }
    t.write(&mut v, 0, 0, 0, 0);
    finish(v)
}

/// PERF_RECORD_FORK: `tid` of process `pid` was created by `ptid` of `ppid`.
pub fn fork(pid: i32, ppid: i32, tid: i32, ptid: i32, synthesized: bool, t: Trailer) -> Vec<u8> {
    // perf marks the FORKs it synthesizes for tasks that already ran, so that no reader
    // copies the parent's maps into them.
    let mut v = begin(kind::FORK, if synthesized { misc::FORK_EXEC } else { 0 });
    for x in [pid, ppid, tid, ptid] {
        v.extend_from_slice(&x.to_ne_bytes());
    }
    v.extend_from_slice(&0u64.to_ne_bytes());
    t.write(&mut v, pid, tid, 0, 0);
    finish(v)
}

/// PERF_RECORD_MMAP2 of a user-space mapping of `pid`.
pub fn mmap2(pid: i32, m: &Mapping, t: Trailer) -> Vec<u8> {
    let mut v = begin(kind::MMAP2, misc::USER);
    v.extend_from_slice(&pid.to_ne_bytes());
    v.extend_from_slice(&pid.to_ne_bytes());
    v.extend_from_slice(&m.start.to_ne_bytes());
    v.extend_from_slice(&(m.end - m.start).to_ne_bytes());
    v.extend_from_slice(&m.pgoff.to_ne_bytes());
    v.extend_from_slice(&m.maj.to_ne_bytes());
    v.extend_from_slice(&m.min.to_ne_bytes());
    v.extend_from_slice(&m.ino.to_ne_bytes());
    v.extend_from_slice(&0u64.to_ne_bytes());
    v.extend_from_slice(&m.prot.to_ne_bytes());
    v.extend_from_slice(&m.flags.to_ne_bytes());
    put_str(&mut v, if m.path.is_empty() { "//anon" } else { &m.path });
    t.write(&mut v, pid, pid, 0, 0);
    finish(v)
}

/// PERF_RECORD_MMAP of kernel text or a module (pid -1, the host kernel, as perf writes it).
pub fn kernel_mmap(start: u64, len: u64, pgoff: u64, name: &str, t: Trailer) -> Vec<u8> {
    let mut v = begin(kind::MMAP, misc::KERNEL);
    v.extend_from_slice(&(-1i32).to_ne_bytes());
    v.extend_from_slice(&0i32.to_ne_bytes());
    v.extend_from_slice(&start.to_ne_bytes());
    v.extend_from_slice(&len.to_ne_bytes());
    v.extend_from_slice(&pgoff.to_ne_bytes());
    put_str(&mut v, name);
    t.write(&mut v, -1, 0, 0, 0);
    finish(v)
}

/// PERF_RECORD_FINISHED_ROUND: readers may sort and flush what came before.
pub fn finished_round() -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&kind::FINISHED_ROUND.to_ne_bytes());
    b[6..8].copy_from_slice(&8u16.to_ne_bytes());
    b
}

/// Counts of a stretch of records, for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// SAMPLE records.
    pub samples: u64,
    /// THROTTLE records: the kernel cut the sampling rate for a while.
    pub throttles: u64,
    /// Records the kernel could not write (sum of LOST records' counts).
    pub lost: u64,
    /// LOST records (chunks).
    pub lost_chunks: u64,
}

/// Calls `f(type, misc, record)` for each whole record in `buf` (as a ring hands them out);
/// stops at the first malformed header.
pub fn for_each_record(buf: &[u8], mut f: impl FnMut(u32, u16, &[u8])) {
    let mut off = 0usize;
    while off + 8 <= buf.len() {
        let ty = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or([0; 4]));
        let m = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
        let size = u16::from_ne_bytes([buf[off + 6], buf[off + 7]]) as usize;
        if size < 8 || off + size > buf.len() {
            break;
        }
        f(ty, m, &buf[off..off + size]);
        off += size;
    }
}

impl Tally {
    /// Counts one record of type `ty` (`r` is the whole record).
    pub fn count(&mut self, ty: u32, r: &[u8]) {
        match ty {
            kind::SAMPLE => self.samples += 1,
            kind::THROTTLE => self.throttles += 1,
            kind::LOST if r.len() >= 24 => {
                self.lost += u64::from_ne_bytes(r[16..24].try_into().unwrap_or([0; 8]));
                self.lost_chunks += 1;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(b: &[u8]) -> (u32, u16, u16) {
        (
            u32::from_ne_bytes(b[0..4].try_into().unwrap()),
            u16::from_ne_bytes(b[4..6].try_into().unwrap()),
            u16::from_ne_bytes(b[6..8].try_into().unwrap()),
        )
    }

    #[test]
    fn comm_pads_name_and_appends_trailer() {
        let t = Trailer {
            sample_type: sample::IP | sample::TID | sample::TIME | sample::CPU | sample::IDENTIFIER,
            id: 77,
        };
        let b = comm(10, 11, "sleep", true, t);
        let (ty, m, size) = header(&b);
        assert_eq!(
            (ty, m, size as usize),
            (kind::COMM, misc::COMM_EXEC, b.len())
        );
        // 8 header + 8 pid/tid + 8 name + (8 tid + 8 time + 8 cpu + 8 identifier)
        assert_eq!(b.len(), 56);
        assert_eq!(&b[16..22], b"sleep\0");
        assert_eq!(u64::from_ne_bytes(b[48..56].try_into().unwrap()), 77);
        assert_eq!(i32::from_ne_bytes(b[24..28].try_into().unwrap()), 10);
    }

    #[test]
    fn mmap2_layout() {
        let m = Mapping {
            start: 0x1000,
            end: 0x3000,
            pgoff: 0x200,
            maj: 8,
            min: 1,
            ino: 99,
            prot: 5,
            flags: 2,
            path: "/bin/x".into(),
        };
        let b = mmap2(5, &m, Trailer::default());
        assert_eq!(b.len(), 8 + 64 + 8);
        assert_eq!(u64::from_ne_bytes(b[24..32].try_into().unwrap()), 0x2000);
        assert_eq!(&b[72..79], b"/bin/x\0");
        assert_eq!(header(&b).2 as usize, b.len());
    }

    #[test]
    fn tally_counts_samples_and_losses() {
        let mut buf = Vec::new();
        let mut sample_rec = vec![0u8; 16];
        sample_rec[..4].copy_from_slice(&kind::SAMPLE.to_ne_bytes());
        sample_rec[6..8].copy_from_slice(&16u16.to_ne_bytes());
        let mut lost = vec![0u8; 24];
        lost[..4].copy_from_slice(&kind::LOST.to_ne_bytes());
        lost[6..8].copy_from_slice(&24u16.to_ne_bytes());
        lost[16..24].copy_from_slice(&5u64.to_ne_bytes());
        buf.extend_from_slice(&sample_rec);
        buf.extend_from_slice(&lost);
        buf.extend_from_slice(&sample_rec);
        buf.extend_from_slice(&finished_round());
        let mut t = Tally::default();
        for_each_record(&buf, |ty, _, r| t.count(ty, r));
        assert_eq!(
            t,
            Tally {
                samples: 2,
                lost: 5,
                lost_chunks: 1,
                throttles: 0
            }
        );
    }
}
