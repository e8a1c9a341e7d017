//! Which binaries the samples landed in, tracked while recording so the BUILD_ID feature
//! names exactly those (perf re-reads the whole file afterwards to learn the same).
use std::collections::{BTreeSet, HashMap};

use crate::abi::misc::CPUMODE_MASK;
use crate::abi::sample;
use crate::data::write::encode::{for_each_record, kind, misc};

/// One file mapping of a process.
#[derive(Debug, Clone)]
pub struct Map {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// File offset mapped at `start`.
    pub pgoff: u64,
    /// Index of the file's path ([`HitTracker::path`]).
    pub path: u32,
}

/// Follows MMAP/MMAP2/FORK/COMM-exec records and marks the file of every sampled address.
#[derive(Debug, Default)]
pub struct HitTracker {
    /// The sample_type shared by every event (IP and TID are always set; IDENTIFIER when
    /// several events).
    sample_type: u64,
    maps: HashMap<i32, Vec<Map>>,
    paths: Vec<String>,
    path_ids: HashMap<String, u32>,
    hit: BTreeSet<u32>,
    kernel_hit: bool,
    /// The first and last sample times seen (perf's SAMPLE_TIME feature).
    span: Option<(u64, u64)>,
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(o..o + 8)?.try_into().ok()?))
}
fn cstr(b: &[u8], o: usize) -> Option<&str> {
    let s = b.get(o..)?;
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    std::str::from_utf8(&s[..end]).ok()
}

impl HitTracker {
    /// A tracker for samples of this sample_type.
    pub fn new(sample_type: u64) -> HitTracker {
        HitTracker {
            sample_type,
            ..HitTracker::default()
        }
    }

    /// The file mappings of `pid` in address order.
    pub fn space(&self, pid: i32) -> &[Map] {
        self.maps.get(&pid).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The path behind [`Map::path`].
    pub fn path(&self, id: u32) -> &str {
        &self.paths[id as usize]
    }

    fn add_map(&mut self, pid: i32, start: u64, len: u64, pgoff: u64, path: &str) {
        let id = match self.path_ids.get(path) {
            Some(&i) => i,
            None => {
                let i = self.paths.len() as u32;
                self.paths.push(path.to_string());
                self.path_ids.insert(path.to_string(), i);
                i
            }
        };
        let v = self.maps.entry(pid).or_default();
        let end = start.saturating_add(len);
        v.retain(|m| m.end <= start || m.start >= end);
        let at = v.partition_point(|m| m.start < start);
        v.insert(
            at,
            Map {
                start,
                end,
                pgoff,
                path: id,
            },
        );
    }

    /// Looks at a stretch of whole records.
    pub fn observe(&mut self, buf: &[u8]) {
        for_each_record(buf, |ty, m, r| self.observe_record(ty, m, r));
    }

    /// Looks at one record of type `ty` with header misc `m` (`r` is the whole record).
    pub fn observe_record(&mut self, ty: u32, m: u16, r: &[u8]) {
        match ty {
            kind::SAMPLE => self.sample(r, m),
            kind::MMAP2 if m & CPUMODE_MASK != misc::KERNEL => {
                if let (Some(pid), Some(start), Some(len), Some(pgoff), Some(path)) = (
                    u32_at(r, 8),
                    u64_at(r, 16),
                    u64_at(r, 24),
                    u64_at(r, 32),
                    cstr(r, 72),
                ) {
                    self.add_map(pid as i32, start, len, pgoff, path);
                }
            }
            kind::MMAP if m & CPUMODE_MASK != misc::KERNEL => {
                if let (Some(pid), Some(start), Some(len), Some(pgoff), Some(path)) = (
                    u32_at(r, 8),
                    u64_at(r, 16),
                    u64_at(r, 24),
                    u64_at(r, 32),
                    cstr(r, 40),
                ) {
                    self.add_map(pid as i32, start, len, pgoff, path);
                }
            }
            kind::FORK => {
                if let (Some(pid), Some(ppid)) = (u32_at(r, 8), u32_at(r, 12)) {
                    let (pid, ppid) = (pid as i32, ppid as i32);
                    if pid != ppid && !self.maps.contains_key(&pid) {
                        if let Some(parent) = self.maps.get(&ppid).cloned() {
                            self.maps.insert(pid, parent);
                        }
                    }
                }
            }
            kind::COMM if m & misc::COMM_EXEC != 0 => {
                if let Some(pid) = u32_at(r, 8) {
                    self.maps.remove(&(pid as i32));
                }
            }
            _ => {}
        }
    }

    fn sample(&mut self, r: &[u8], m: u16) {
        let mut o = 8;
        if self.sample_type & sample::IDENTIFIER != 0 {
            o += 8;
        }
        let Some(ip) = u64_at(r, o) else { return };
        let Some(pid) = u32_at(r, o + 8) else { return };
        if self.sample_type & sample::TIME != 0 {
            if let Some(t) = u64_at(r, o + 16) {
                let (first, last) = self.span.get_or_insert((t, t));
                *first = (*first).min(t);
                *last = (*last).max(t);
            }
        }
        if m & CPUMODE_MASK == misc::KERNEL {
            self.kernel_hit = true;
            return;
        }
        if let Some(v) = self.maps.get(&(pid as i32)) {
            let i = v.partition_point(|m| m.start <= ip);
            if let Some(map) = i.checked_sub(1).map(|i| &v[i]) {
                if ip < map.end {
                    self.hit.insert(map.path);
                }
            }
        }
    }

    /// The first and last sample times seen, when samples carry a time.
    pub fn sample_span(&self) -> Option<(u64, u64)> {
        self.span
    }

    /// Paths of the user-space files that samples hit, and whether the kernel was hit.
    pub fn hits(&self) -> (Vec<&str>, bool) {
        (
            self.hit
                .iter()
                .map(|&i| self.paths[i as usize].as_str())
                .collect(),
            self.kernel_hit,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::synth::Mapping;
    use super::*;
    use crate::data::write::encode;

    fn sample_rec(ip: u64, pid: u32, cpumode: u16) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&kind::SAMPLE.to_ne_bytes());
        v.extend_from_slice(&cpumode.to_ne_bytes());
        v.extend_from_slice(&24u16.to_ne_bytes());
        v.extend_from_slice(&ip.to_ne_bytes());
        v.extend_from_slice(&pid.to_ne_bytes());
        v.extend_from_slice(&pid.to_ne_bytes());
        v
    }

    #[test]
    fn samples_mark_the_mapped_file() {
        let mut t = HitTracker::new(sample::IP | sample::TID);
        let m = |start, end, path: &str| Mapping {
            start,
            end,
            pgoff: 0,
            maj: 0,
            min: 0,
            ino: 0,
            prot: 5,
            flags: 2,
            path: path.into(),
        };
        let mut buf = encode::mmap2(10, &m(0x1000, 0x2000, "/bin/a"), encode::Trailer::default());
        buf.extend(encode::mmap2(
            10,
            &m(0x5000, 0x6000, "/lib/b.so"),
            encode::Trailer::default(),
        ));
        buf.extend(encode::mmap2(
            10,
            &m(0x8000, 0x9000, "/lib/unhit.so"),
            encode::Trailer::default(),
        ));
        buf.extend(sample_rec(0x1800, 10, misc::USER));
        buf.extend(sample_rec(0x5000, 10, misc::USER));
        buf.extend(sample_rec(0x7000, 10, misc::USER));
        buf.extend(sample_rec(0xffffffff81000000, 10, misc::KERNEL));
        // A forked child samples in its parent's mapping.
        buf.extend(encode::fork(
            11,
            10,
            11,
            10,
            false,
            encode::Trailer::default(),
        ));
        t.observe(&buf);
        assert_eq!(t.hits(), (vec!["/bin/a", "/lib/b.so"], true));
    }
}
