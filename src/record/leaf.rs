//! Frame-pointer stacks that keep the leaf's caller.
//!
//! The kernel walks frame pointers from the sampled `bp`. When the sample lands in a function
//! that has not set up a frame (a leaf built without one, or a prologue or epilogue), `bp`
//! still belongs to the caller, so the chain goes from the leaf straight to the caller's
//! caller and the caller is lost. With `-g`, rperf also samples the user `bp`, `sp` and `ip`
//! and a small slice of the user stack, finds the leaf's return address with the binary's
//! CFI (after the recording, in a pass over the file; live for pipes), inserts it into the
//! chain when the kernel's chain skipped it, and writes the sample without the registers and
//! stack: the file is an ordinary frame-pointer recording that perf reads, with the caller in
//! place.
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Weak};
use std::time::Instant;

use rperf_unwind::{Cache, ElfCfi, Frame, ProcessUnwinder, Regs};

use super::hits::{HitTracker, Map};
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

/// The pid of a sample record of `sample_type`.
fn pid_of(r: &[u8], sample_type: u64) -> Option<i32> {
    let at = 8 + 8 * [sample::IDENTIFIER, sample::IP]
        .iter()
        .filter(|&&b| sample_type & b != 0)
        .count();
    Some(u32::from_ne_bytes(r.get(at..at + 4)?.try_into().ok()?) as i32)
}

/// Which mapping of which file: one single-module unwinder each.
type ModuleKey = (u32, u64, u64, u64);

/// Bytes of CFI (`.eh_frame` and its index) kept loaded at most: the least recently used
/// modules make room for new ones. A system-wide recording of a machine running rustc,
/// LLVM and a browser needs some 30 MB.
pub const CFI_CAP: usize = 128 << 20;
/// Mappings kept ready at most (each a few hundred bytes beside the shared CFI).
const MAX_MODULES: usize = 4096;
/// Loads asked of the loader thread at a time: what waits in its channel holds memory that
/// the cap does not see yet.
const MAX_IN_FLIGHT: usize = 4;

/// A mapping whose rules the loader thread should read.
struct Request {
    key: ModuleKey,
    path: String,
    range: (u64, u64, u64),
}

/// What the loader thread answers: the mapping's unwinder and the file's CFI it shares.
struct Loaded {
    key: ModuleKey,
    unwinder: ProcessUnwinder,
    cfi: Option<Arc<ElfCfi>>,
}

/// A file's identity (device, inode, mtime, size), so that a binary replaced at the same
/// path is read anew.
pub(crate) type FileId = (u64, u64, i64, u64);

/// How the loader reads a file's rules: [`read_cfi`], or a stand-in in tests.
pub(crate) type ReadCfi = Box<dyn FnMut(&str, usize) -> Option<(ElfCfi, FileId)> + Send>;

fn identity(md: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (md.dev(), md.ino(), md.mtime(), md.size())
}

/// The CFI of the file at `path`: its sections only, never the whole image, and nothing
/// from a file over `cap` bytes of rules (its samples then get frame-pointer rules).
fn read_cfi(path: &str, cap: usize) -> Option<(ElfCfi, FileId)> {
    if !path.starts_with('/') {
        return None;
    }
    let f = rperf_symbols::file::open_regular(Path::new(path)).ok()?;
    let id = identity(&f.metadata().ok()?);
    Some((ElfCfi::read(&f, cap).ok()?, id))
}

/// The loader thread: answers each request with the mapping's single-module unwinder. A
/// file mapped by many processes is read once while any of its mappings is still loaded.
fn loader(rx: Receiver<Request>, tx: Sender<Loaded>, cap: usize, mut read: ReadCfi) {
    let mut files: HashMap<String, (FileId, Weak<ElfCfi>)> = HashMap::new();
    while let Ok(Request { key, path, range }) = rx.recv() {
        let known = files.get(&path).and_then(|(id, w)| {
            let now = std::fs::metadata(&path).ok().map(|m| identity(&m));
            (now == Some(*id)).then(|| w.upgrade()).flatten()
        });
        let cfi = known.or_else(|| {
            let (cfi, id) = read(&path, cap)?;
            let cfi = Arc::new(cfi);
            if files.len() > 4 * MAX_MODULES {
                files.retain(|_, (_, w)| w.strong_count() > 0);
            }
            files.insert(path.clone(), (id, Arc::downgrade(&cfi)));
            Some(cfi)
        });
        let mut unwinder = ProcessUnwinder::new();
        if let Some(c) = &cfi {
            // A mapping in no loadable segment just has no rules: frame pointers then.
            let _ = unwinder.add_cfi(&path, c, range.0, range.1, range.2);
        }
        if tx.send(Loaded { key, unwinder, cfi }).is_err() {
            return;
        }
    }
}

/// A mapping's unwinder, ready on the draining thread.
struct Ready {
    unwinder: ProcessUnwinder,
    cfi: Option<Arc<ElfCfi>>,
    /// When it was last used, for evicting the least recently used.
    used: u64,
}

/// Single-module unwinders by mapping, read by the loader thread on first use: the drain
/// never reads a file. Samples of a mapping still loading are held back by the caller
/// ([`LeafFixer::waits`]) or keep the kernel's chain.
struct Modules {
    ready: HashMap<ModuleKey, Ready>,
    loading: HashSet<ModuleKey>,
    /// To the loader thread; None when it could not be started (no rules then).
    tx: Option<Sender<Request>>,
    rx: Receiver<Loaded>,
    /// For addresses no file mapping covers: frame-pointer rules only.
    none: ProcessUnwinder,
    /// Bytes of CFI the ready modules hold, counting each file once, and how many modules
    /// share each file.
    held: usize,
    files: HashMap<usize, (usize, usize)>,
    cap: usize,
    clock: u64,
}

impl Modules {
    fn new(cap: usize, read: ReadCfi) -> Modules {
        let (req_tx, req_rx) = std::sync::mpsc::channel();
        let (tx, rx) = std::sync::mpsc::channel();
        let started = std::thread::Builder::new()
            .name("rperf-cfi".into())
            .spawn(move || loader(req_rx, tx, cap, read))
            .is_ok();
        Modules {
            ready: HashMap::new(),
            loading: HashSet::new(),
            tx: started.then_some(req_tx),
            rx,
            none: ProcessUnwinder::new(),
            held: 0,
            files: HashMap::new(),
            cap,
            clock: 0,
        }
    }

    /// Takes in what the loader has finished.
    fn collect(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(l) => self.insert(l),
                Err(std::sync::mpsc::TryRecvError::Empty) => return,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    // The loader is gone: no more rules, and nothing to wait for.
                    self.tx = None;
                    self.loading.clear();
                    return;
                }
            }
        }
    }

    /// Waits up to `timeout` for the loads in flight; false when some are still loading.
    fn wait(&mut self, timeout: std::time::Duration) -> bool {
        let deadline = Instant::now() + timeout;
        self.collect();
        while !self.loading.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => self.insert(l),
                Err(_) => return false,
            }
        }
        true
    }

    fn insert(&mut self, l: Loaded) {
        self.loading.remove(&l.key);
        if let Some(c) = &l.cfi {
            let e = self
                .files
                .entry(Arc::as_ptr(c) as usize)
                .or_insert((0, c.size()));
            if e.0 == 0 {
                self.held += c.size();
            }
            e.0 += 1;
        }
        self.clock += 1;
        let old = self.ready.insert(
            l.key,
            Ready {
                unwinder: l.unwinder,
                cfi: l.cfi,
                used: self.clock,
            },
        );
        if let Some(old) = old {
            self.release(old);
        }
        while self.held > self.cap || self.ready.len() > MAX_MODULES {
            let Some(lru) = self
                .ready
                .iter()
                .filter(|(k, _)| **k != l.key)
                .min_by_key(|(_, r)| r.used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(r) = self.ready.remove(&lru) {
                self.release(r);
            }
        }
    }

    fn release(&mut self, r: Ready) {
        if let Some(c) = r.cfi {
            let k = Arc::as_ptr(&c) as usize;
            if let Some(e) = self.files.get_mut(&k) {
                e.0 -= 1;
                if e.0 == 0 {
                    self.held -= e.1;
                    self.files.remove(&k);
                }
            }
        }
    }

    /// The key of the file mapping `ip` is in for `pid` (None: no file there), and its path
    /// and range.
    fn mapping(pid: i32, ip: u64, spaces: &HitTracker) -> Option<(ModuleKey, &Map)> {
        let maps = spaces.space(pid);
        let m = maps
            .partition_point(|m| m.start <= ip)
            .checked_sub(1)
            .map(|i| &maps[i])
            .filter(|m| ip < m.end)?;
        Some(((m.path, m.start, m.end, m.pgoff), m))
    }

    /// Whether the rules for `ip` in `pid` are still to come; asks for them if not asked.
    fn pending(&mut self, pid: i32, ip: u64, spaces: &HitTracker) -> bool {
        let Some((key, m)) = Self::mapping(pid, ip, spaces) else {
            return false;
        };
        if self.ready.contains_key(&key) {
            return false;
        }
        if self.tx.is_none() {
            return false;
        }
        if !self.loading.contains(&key) && self.loading.len() < MAX_IN_FLIGHT {
            let req = Request {
                key,
                path: spaces.path(m.path).to_string(),
                range: (m.start, m.end, m.pgoff),
            };
            if self.tx.as_ref().is_some_and(|tx| tx.send(req).is_ok()) {
                self.loading.insert(key);
            } else {
                self.tx = None;
                return false;
            }
        }
        true
    }

    /// The unwinder for the module `ip` is in for `pid`, or None while its rules are not
    /// loaded (that sample keeps the kernel's chain).
    fn get(&mut self, pid: i32, ip: u64, spaces: &HitTracker) -> Option<&ProcessUnwinder> {
        let Some((key, _)) = Self::mapping(pid, ip, spaces) else {
            return Some(&self.none);
        };
        if self.tx.is_none() {
            return Some(&self.none);
        }
        if !self.ready.contains_key(&key) {
            self.pending(pid, ip, spaces);
            return None;
        }
        self.clock += 1;
        let r = self.ready.get_mut(&key)?;
        r.used = self.clock;
        Some(&r.unwinder)
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
    /// Samples that kept the kernel's chain because their binary's rules were not loaded
    /// in time.
    pub kept: u64,
}

impl LeafFixer {
    /// A fixer for samples of `sample_type` (one event), or of the events in `by_id` (id to
    /// sample_type; samples then carry IDENTIFIER).
    pub fn new(sample_type: u64, by_id: HashMap<u64, u64>) -> LeafFixer {
        LeafFixer::with_loader(sample_type, by_id, CFI_CAP, Box::new(read_cfi))
    }

    /// As [`LeafFixer::new`], keeping at most `cap` bytes of CFI loaded, read by `read`.
    pub(crate) fn with_loader(
        sample_type: u64,
        by_id: HashMap<u64, u64>,
        cap: usize,
        read: ReadCfi,
    ) -> LeafFixer {
        LeafFixer {
            by_id,
            sample_type,
            cache: Cache::new(),
            modules: Modules::new(cap, read),
            ips: Vec::with_capacity(128),
            fixed: 0,
            checked: 0,
            kept: 0,
        }
    }

    /// The sample_type of the sample record `r`.
    fn type_of(&self, r: &[u8]) -> u64 {
        if self.sample_type & sample::IDENTIFIER != 0 {
            match u64_at(r, 8).and_then(|id| self.by_id.get(&id)) {
                Some(&t) => t,
                None => self.sample_type,
            }
        } else {
            self.sample_type
        }
    }

    /// Whether the sample record `r` needs rules that are still loading (asking the loader
    /// thread for them): the caller may hold it back until [`LeafFixer::wait`] says they
    /// came.
    pub fn waits(&mut self, r: &[u8], spaces: &HitTracker) -> bool {
        let sample_type = self.type_of(r);
        if sample_type & sample::REGS_USER == 0 {
            return false;
        }
        let Some(l) = layout(r, sample_type) else {
            return false;
        };
        let (Some([_, _, ip]), false) = (l.regs, l.stack.is_empty()) else {
            return false;
        };
        let Some(pid) = pid_of(r, sample_type) else {
            return false;
        };
        self.modules.pending(pid, ip, spaces)
    }

    /// Takes in the rules the loader thread has read so far.
    pub fn collect(&mut self) {
        self.modules.collect();
    }

    /// Waits up to `timeout` for every load asked for; false when some are still loading.
    pub fn wait(&mut self, timeout: std::time::Duration) -> bool {
        self.modules.wait(timeout)
    }

    /// Bytes of CFI held now (at most the cap given).
    pub fn cfi_bytes(&self) -> usize {
        self.modules.held
    }

    /// Appends `r` (a whole SAMPLE record) to `out` in the file's layout: without registers
    /// and stack, with the leaf's caller inserted when the kernel's chain skipped it.
    pub fn rewrite(&mut self, r: &[u8], spaces: &HitTracker, out: &mut Vec<u8>) {
        let sample_type = self.type_of(r);
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
        let pid = pid_of(r, sample_type)?;
        self.checked += 1;
        let stack = &r[l.stack.clone()];
        let Some(unwinder) = self.modules.get(pid, ip, spaces) else {
            self.kept += 1;
            return None;
        };
        let u = unwinder.unwind(&mut self.cache, Regs::new(ip, sp, bp), stack, 2);
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
pub(crate) mod tests {
    use super::*;

    fn push(v: &mut Vec<u8>, x: u64) {
        v.extend_from_slice(&x.to_ne_bytes());
    }

    /// A sample of IP|TID|CALLCHAIN|REGS_USER|STACK_USER with the given chain and stack.
    pub(crate) fn record(chain: &[u64], regs: [u64; 3], stack: &[u8]) -> Vec<u8> {
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

    pub(crate) const TYPE: u64 =
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

    /// pid 7's mapping of a (missing, so rule-less) file over 0x1000..0x4000.
    pub(crate) fn missing_file_mapping() -> Vec<u8> {
        crate::data::write::encode::mmap2(
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
        )
    }

    /// A sample at 0x1000 whose kernel chain (0x1000, 0x2000) skipped the caller 0x3000
    /// that frame pointers in its stack bytes name.
    pub(crate) fn sample_missing_its_caller() -> Vec<u8> {
        let sp = 0x7fff_0000u64;
        let mut stack = vec![0u8; 64];
        stack[16..24].copy_from_slice(&0u64.to_le_bytes());
        stack[24..32].copy_from_slice(&0x3000u64.to_le_bytes());
        record(
            &[PERF_CONTEXT_USER, 0x1000, 0x2000],
            [sp + 16, sp, 0x1000],
            &stack,
        )
    }

    #[test]
    fn cfi_cap_evicts_the_least_recently_used_and_counts_a_shared_file_once() {
        let exe = std::env::current_exe().unwrap();
        let (cfi, _) = read_cfi(exe.to_str().unwrap(), usize::MAX).unwrap();
        let size = cfi.size();
        assert!(size > 0);
        // A file over the cap is not read at all: its mappings get frame-pointer rules.
        assert!(read_cfi(exe.to_str().unwrap(), size - 1).is_none());
        let cap = size + size / 2;
        let mut m = Modules::new(cap, Box::new(|_: &str, _: usize| None));
        let loaded = |key: ModuleKey, cfi: &Arc<ElfCfi>| Loaded {
            key,
            unwinder: ProcessUnwinder::new(),
            cfi: Some(cfi.clone()),
        };
        let a = Arc::new(cfi.clone());
        let b = Arc::new(cfi);
        m.insert(loaded((1, 0x1000, 0x2000, 0), &a));
        // Two mappings of one file hold its rules once.
        m.insert(loaded((1, 0x5000, 0x6000, 0), &a));
        assert_eq!(m.held, size);
        assert_eq!(m.ready.len(), 2);
        // Another file's rules do not fit beside them: the older file's mappings go.
        m.insert(loaded((2, 0x1000, 0x2000, 0), &b));
        assert!(m.held <= cap);
        assert_eq!(m.held, size);
        assert_eq!(m.ready.len(), 1);
        assert!(m.ready.contains_key(&(2, 0x1000, 0x2000, 0)));
        assert_eq!(Arc::strong_count(&a), 1, "evicted rules are freed");
    }

    #[test]
    fn caller_found_in_the_stack_is_inserted() {
        // Without modules the unwinder follows bp: a frame at sp+16 whose return address
        // (0x3000) the kernel's chain skipped.
        let r = sample_missing_its_caller();
        let mut f = LeafFixer::new(TYPE, HashMap::new());
        let mut out = Vec::new();
        // Without a mapping around it, 0x3000 is not trusted as a return address.
        f.rewrite(&r, &HitTracker::new(TYPE), &mut out);
        assert_eq!(u64_at(&out, 24), Some(3));
        assert_eq!(f.fixed, 0);
        let mut spaces = HitTracker::new(TYPE);
        spaces.observe(&missing_file_mapping());
        // The mapping's rules come from the loader thread: until they are there the sample
        // keeps the kernel's chain.
        out.clear();
        f.rewrite(&r, &spaces, &mut out);
        assert_eq!(u64_at(&out, 24), Some(3));
        assert_eq!((f.fixed, f.kept), (0, 1));
        assert!(f.wait(std::time::Duration::from_secs(10)));
        assert!(!f.waits(&r, &spaces));
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
