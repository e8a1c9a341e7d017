//! Frame-pointer stacks that keep the leaf's caller.
//!
//! The kernel walks frame pointers from the sampled `bp`. When the sample lands in a function
//! that has not set up a frame (a leaf built without one, or a prologue or epilogue), `bp`
//! still belongs to the caller, so the chain goes from the leaf straight to the caller's
//! caller and the caller is lost. With `-g`, rperf also samples the user `bp`, `sp` and `ip`
//! and a small slice of the user stack, finds the leaf's return address with the binary's
//! CFI while recording, inserts it into the chain when the kernel's chain skipped it, and
//! writes the sample without the registers and stack: the file is an ordinary frame-pointer
//! recording that perf reads, with the caller in place.
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rperf_unwind::{Cache, Frame, ProcessUnwinder, Regs};

use super::hits::HitTracker;
use crate::abi::{sample, PERF_CONTEXT_MAX, PERF_CONTEXT_USER};

/// Sample fields that come before the callchain, 8 bytes each when present.
const BEFORE_CALLCHAIN: [u64; 9] = [
    sample::IDENTIFIER,
    sample::IP,
    sample::TID,
    sample::TIME,
    sample::ADDR,
    sample::ID,
    sample::STREAM_ID,
    sample::CPU,
    sample::PERIOD,
];

/// Where the parts of one sample record lie.
#[derive(Debug, PartialEq, Eq)]
struct Layout {
    /// Offset of the callchain's `nr`.
    chain: usize,
    /// Offset just past the callchain (and past RAW, which follows it).
    after_raw: usize,
    /// Sampled bp, sp, ip.
    regs: Option<[u64; 3]>,
    /// The copied stack bytes.
    stack: std::ops::Range<usize>,
    /// Offset just past STACK_USER.
    end: usize,
}

fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// Splits a sample record of `sample_type` (which must hold CALLCHAIN, REGS_USER with
/// exactly bp, sp and ip, and STACK_USER; no READ or BRANCH_STACK).
fn layout(r: &[u8], sample_type: u64) -> Option<Layout> {
    let chain = 8 + 8 * BEFORE_CALLCHAIN
        .iter()
        .filter(|&&b| sample_type & b != 0)
        .count();
    let nr = u64_at(r, chain)? as usize;
    let mut o = chain.checked_add(8)?.checked_add(nr.checked_mul(8)?)?;
    if sample_type & sample::RAW != 0 {
        let size = u32::from_ne_bytes(r.get(o..o + 4)?.try_into().ok()?) as usize;
        o += 4 + size;
    }
    let after_raw = o;
    let abi = u64_at(r, o)?;
    o += 8;
    let regs = if abi != 0 {
        // Registers come in bit order: bp (6), sp (7), ip (8).
        let v = [u64_at(r, o)?, u64_at(r, o + 8)?, u64_at(r, o + 16)?];
        o += 24;
        Some(v)
    } else {
        None
    };
    let size = u64_at(r, o)? as usize;
    o += 8;
    let mut stack = o..o;
    if size != 0 {
        let dyn_size = u64_at(r, o + size)? as usize;
        stack = o..o + dyn_size.min(size);
        o += size + 8;
    }
    (o <= r.len()).then_some(Layout {
        chain,
        after_raw,
        regs,
        stack,
        end: o,
    })
}

/// Which mapping of which file: one single-module unwinder each.
type ModuleKey = (u32, u64, u64, u64);

/// Files up to this size are read while draining; larger ones on a thread of their own,
/// so one big binary cannot stall the drain long enough for the rings to overflow.
const SYNC_LOAD_MAX: u64 = 16 << 20;

/// A single-module unwinder for the mapping `m` of `path`: the module `ip` is in is all
/// one step from the leaf needs.
fn load_module(path: &str, m: (u64, u64, u64)) -> ProcessUnwinder {
    let mut u = ProcessUnwinder::new();
    if path.starts_with('/') {
        if let Ok(image) = rperf_symbols::file::read_regular(Path::new(path)) {
            // A file that is not ELF just has no rules: frame pointers then.
            let _ = u.add_elf(path, Arc::from(image), m.0, m.1, m.2, None);
        }
    }
    u
}

/// Single-module unwinders by mapping, loaded on first use.
struct Modules {
    ready: HashMap<ModuleKey, ProcessUnwinder>,
    loading: std::collections::HashSet<ModuleKey>,
    tx: std::sync::mpsc::Sender<(ModuleKey, ProcessUnwinder)>,
    rx: std::sync::mpsc::Receiver<(ModuleKey, ProcessUnwinder)>,
    /// For addresses no file mapping covers: frame-pointer rules only.
    none: ProcessUnwinder,
}

impl Modules {
    fn new() -> Modules {
        let (tx, rx) = std::sync::mpsc::channel();
        Modules {
            ready: HashMap::new(),
            loading: Default::default(),
            tx,
            rx,
            none: ProcessUnwinder::new(),
        }
    }

    /// The unwinder for the module `ip` is in for `pid`, or None while a large binary is
    /// still being read in the background (that sample keeps the kernel's chain).
    fn get(&mut self, pid: i32, ip: u64, spaces: &HitTracker) -> Option<&ProcessUnwinder> {
        while let Ok((k, u)) = self.rx.try_recv() {
            self.loading.remove(&k);
            self.ready.insert(k, u);
        }
        let maps = spaces.space(pid);
        let m = maps
            .partition_point(|m| m.start <= ip)
            .checked_sub(1)
            .map(|i| &maps[i])
            .filter(|m| ip < m.end);
        let Some(m) = m else {
            return Some(&self.none);
        };
        let key = (m.path, m.start, m.end, m.pgoff);
        if !self.ready.contains_key(&key) {
            if self.loading.contains(&key) {
                return None;
            }
            let path = spaces.path(m.path).to_string();
            let range = (m.start, m.end, m.pgoff);
            let big = std::fs::metadata(&path).is_ok_and(|md| md.len() > SYNC_LOAD_MAX);
            if big {
                self.loading.insert(key);
                let tx = self.tx.clone();
                std::thread::spawn(move || {
                    let _ = tx.send((key, load_module(&path, range)));
                });
                return None;
            }
            self.ready.insert(key, load_module(&path, range));
        }
        self.ready.get(&key)
    }
}

/// Rewrites `-g` samples as they are drained: the leaf's caller put back, registers and
/// stack bytes dropped.
pub struct LeafFixer {
    /// The sample_type the kernel writes for each event id (with REGS_USER and STACK_USER
    /// for the events to fix).
    by_id: HashMap<u64, u64>,
    /// The sample_type of the first event: used when samples carry no id (one event), and
    /// to know whether they do.
    sample_type: u64,
    cache: Cache,
    /// Per mapping of a file: an unwinder with that module alone.
    modules: Modules,
    /// Scratch for one sample's chain.
    ips: Vec<u64>,
    /// Samples whose chain got the caller back.
    pub fixed: u64,
    /// Samples with a user stack looked at.
    pub checked: u64,
}

impl LeafFixer {
    /// A fixer for samples of `sample_type` (one event), or of the events in `by_id` (id to
    /// sample_type; samples then carry IDENTIFIER).
    pub fn new(sample_type: u64, by_id: HashMap<u64, u64>) -> LeafFixer {
        LeafFixer {
            by_id,
            sample_type,
            cache: Cache::new(),
            modules: Modules::new(),
            ips: Vec::with_capacity(128),
            fixed: 0,
            checked: 0,
        }
    }

    /// Appends `r` (a whole SAMPLE record) to `out` in the file's layout: without registers
    /// and stack, with the leaf's caller inserted when the kernel's chain skipped it.
    pub fn rewrite(&mut self, r: &[u8], spaces: &HitTracker, out: &mut Vec<u8>) {
        let sample_type = if self.sample_type & sample::IDENTIFIER != 0 {
            match u64_at(r, 8).and_then(|id| self.by_id.get(&id)) {
                Some(&t) => t,
                None => self.sample_type,
            }
        } else {
            self.sample_type
        };
        if sample_type & sample::REGS_USER == 0 {
            out.extend_from_slice(r);
            return;
        }
        let Some(l) = layout(r, sample_type) else {
            // Not the expected layout: keep the record as it is rather than guess.
            out.extend_from_slice(r);
            return;
        };
        let chain_nr = u64_at(r, l.chain).unwrap_or(0) as usize;
        // The chain's addresses, in a buffer reused from sample to sample.
        let mut ips = std::mem::take(&mut self.ips);
        ips.clear();
        ips.extend((0..chain_nr).filter_map(|i| u64_at(r, l.chain + 8 + 8 * i)));
        let insert = self.missing_caller(r, sample_type, &l, &ips, spaces);
        let start = out.len();
        out.extend_from_slice(&r[..l.chain]);
        match insert {
            Some((at, ra)) => {
                out.extend_from_slice(&(chain_nr as u64 + 1).to_ne_bytes());
                for (i, ip) in ips.iter().enumerate() {
                    if i == at {
                        out.extend_from_slice(&ra.to_ne_bytes());
                    }
                    out.extend_from_slice(&ip.to_ne_bytes());
                }
                if at == ips.len() {
                    out.extend_from_slice(&ra.to_ne_bytes());
                }
            }
            None => out.extend_from_slice(&r[l.chain..l.chain + 8 + 8 * chain_nr]),
        }
        out.extend_from_slice(&r[l.chain + 8 + 8 * chain_nr..l.after_raw]);
        out.extend_from_slice(&r[l.end..]);
        self.ips = ips;
        let size = (out.len() - start) as u16;
        out[start + 6..start + 8].copy_from_slice(&size.to_ne_bytes());
    }

    /// Where in `ips` the leaf's return address belongs, and the address, when the chain
    /// lacks it.
    fn missing_caller(
        &mut self,
        r: &[u8],
        sample_type: u64,
        l: &Layout,
        ips: &[u64],
        spaces: &HitTracker,
    ) -> Option<(usize, u64)> {
        let [bp, sp, ip] = l.regs?;
        let user = ips.iter().position(|&a| a == PERF_CONTEXT_USER)? + 1;
        // The first user entry is the sampled user ip; the kernel walked bp from there.
        if ips.get(user) != Some(&ip) || l.stack.is_empty() {
            return None;
        }
        let pid_at = 8 + 8 * [sample::IDENTIFIER, sample::IP]
            .iter()
            .filter(|&&b| sample_type & b != 0)
            .count();
        let pid = u32::from_ne_bytes(r.get(pid_at..pid_at + 4)?.try_into().ok()?) as i32;
        self.checked += 1;
        let stack = &r[l.stack.clone()];
        let unwinder = self.modules.get(pid, ip, spaces)?;
        let u = unwinder.unwind(&mut self.cache, Regs { ip, sp, bp }, stack, 2);
        let Some(Frame::ReturnAddress(ra)) = u.frames.get(1).copied() else {
            return None;
        };
        let next = ips.get(user + 1).copied();
        if ra == 0 || ra >= PERF_CONTEXT_MAX || next == Some(ra) {
            return None;
        }
        // A return address points into code the process has mapped; anything else is stack
        // junk read with the wrong rules (say, a sample from before an exec in this batch).
        let maps = spaces.space(pid);
        let inside = maps
            .partition_point(|m| m.start <= ra)
            .checked_sub(1)
            .is_some_and(|i| ra < maps[i].end);
        if !inside {
            return None;
        }
        self.fixed += 1;
        Some((user + 1, ra))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(v: &mut Vec<u8>, x: u64) {
        v.extend_from_slice(&x.to_ne_bytes());
    }

    /// A sample of IP|TID|CALLCHAIN|REGS_USER|STACK_USER with the given chain and stack.
    fn record(chain: &[u64], regs: [u64; 3], stack: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 8];
        v[0..4].copy_from_slice(&9u32.to_ne_bytes());
        push(&mut v, regs[2]);
        v.extend_from_slice(&7u32.to_ne_bytes());
        v.extend_from_slice(&7u32.to_ne_bytes());
        push(&mut v, chain.len() as u64);
        for &c in chain {
            push(&mut v, c);
        }
        push(&mut v, 2);
        for r in regs {
            push(&mut v, r);
        }
        push(&mut v, stack.len() as u64);
        v.extend_from_slice(stack);
        push(&mut v, stack.len() as u64);
        let n = v.len() as u16;
        v[6..8].copy_from_slice(&n.to_ne_bytes());
        v
    }

    const TYPE: u64 =
        sample::IP | sample::TID | sample::CALLCHAIN | sample::REGS_USER | sample::STACK_USER;

    #[test]
    fn layout_finds_each_part() {
        let r = record(
            &[PERF_CONTEXT_USER, 0x1000, 0x2000],
            [1, 2, 0x1000],
            &[9; 16],
        );
        let l = layout(&r, TYPE).unwrap();
        assert_eq!(l.chain, 24);
        assert_eq!(l.after_raw, 24 + 8 + 24);
        assert_eq!(l.regs, Some([1, 2, 0x1000]));
        assert_eq!(l.stack.len(), 16);
        assert_eq!(l.end, r.len());
        // Cut short: no layout rather than a read past the end.
        assert_eq!(layout(&r[..r.len() - 9], TYPE), None);
    }

    #[test]
    fn rewrite_drops_regs_and_stack_when_nothing_is_missing() {
        let r = record(
            &[PERF_CONTEXT_USER, 0x1000, 0x2000],
            [1, 2, 0x1000],
            &[9; 16],
        );
        let mut f = LeafFixer::new(TYPE, HashMap::new());
        let mut out = Vec::new();
        // No maps for pid 7: no rules, frame-pointer fallback from bp=1 finds nothing.
        f.rewrite(&r, &HitTracker::new(TYPE), &mut out);
        assert_eq!(out.len(), 24 + 8 + 24);
        assert_eq!(u16::from_ne_bytes([out[6], out[7]]) as usize, out.len());
        // Same header (but the size) and body up to the end of the chain.
        assert_eq!(&out[..6], &r[..6]);
        assert_eq!(&out[8..], &r[8..out.len()]);
        assert_eq!(f.fixed, 0);
    }

    #[test]
    fn caller_found_in_the_stack_is_inserted() {
        // Without modules the unwinder follows bp: a frame at sp+16 whose return address
        // (0x3000) the kernel's chain skipped.
        let sp = 0x7fff_0000u64;
        let mut stack = vec![0u8; 64];
        stack[16..24].copy_from_slice(&0u64.to_le_bytes());
        stack[24..32].copy_from_slice(&0x3000u64.to_le_bytes());
        let r = record(
            &[PERF_CONTEXT_USER, 0x1000, 0x2000],
            [sp + 16, sp, 0x1000],
            &stack,
        );
        let mut f = LeafFixer::new(TYPE, HashMap::new());
        let mut out = Vec::new();
        // Without a mapping around it, 0x3000 is not trusted as a return address.
        f.rewrite(&r, &HitTracker::new(TYPE), &mut out);
        assert_eq!(u64_at(&out, 24), Some(3));
        assert_eq!(f.fixed, 0);
        // pid 7 maps a (missing, so rule-less) file over 0x1000..0x4000.
        let mut spaces = HitTracker::new(TYPE);
        spaces.observe(&crate::data::write::encode::mmap2(
            7,
            &super::super::synth::Mapping {
                start: 0x1000,
                end: 0x4000,
                pgoff: 0,
                maj: 0,
                min: 0,
                ino: 0,
                prot: 5,
                flags: 2,
                path: "/nonexistent/rperf-test".into(),
            },
            crate::data::write::encode::Trailer::default(),
        ));
        out.clear();
        f.rewrite(&r, &spaces, &mut out);
        let l = 24;
        assert_eq!(u64_at(&out, l), Some(4));
        let chain: Vec<u64> = (0..4)
            .map(|i| u64_at(&out, l + 8 + 8 * i).unwrap())
            .collect();
        assert_eq!(chain, vec![PERF_CONTEXT_USER, 0x1000, 0x3000, 0x2000]);
        assert_eq!(out.len(), l + 8 + 32);
        assert_eq!(f.fixed, 1);
    }
}
