//! A sample's frames: the kernel-written chain with its PERF_CONTEXT_* markers turned into
//! (address, mode) pairs, innermost first; or the lone sampled ip when no chain was recorded.
use crate::data::{Mode, Sample};

use crate::abi::{PERF_CONTEXT_HV, PERF_CONTEXT_KERNEL, PERF_CONTEXT_MAX, PERF_CONTEXT_USER};

/// One frame: an address and where it lies. The first frame is the sampled instruction; the
/// others are return addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// The address.
    pub addr: u64,
    /// Kernel or user.
    pub mode: Mode,
    /// Unwound from DWARF (`--call-graph dwarf`): the address is the call instruction's
    /// (return address - 1), and perf shows the functions inlined there.
    pub unwound: bool,
}

/// The frames of a sample, innermost first, at most `max` of them; none for a corrupt chain.
pub fn frames(s: &Sample, max: usize) -> Vec<Frame> {
    match walk(s, max) {
        (_, true) => Vec::new(),
        (out, false) => out,
    }
}

/// The frames perf reads while walking a sample's chain, innermost first, at most `max`, and
/// whether the walk ended at a corrupt marker. perf drops a corrupt chain from the sample, but
/// what it noticed on the way (the `--parent` match) stays: the frames before the bad marker.
pub fn walk(s: &Sample, max: usize) -> (Vec<Frame>, bool) {
    let Some(chain) = s.callchain else {
        let lone = Frame {
            addr: s.ip,
            mode: s.mode,
            unwound: false,
        };
        return (vec![lone], false);
    };
    let mut out = Vec::with_capacity(chain.len().min(max));
    let mut mode = s.mode;
    for &a in chain.iter() {
        if a >= PERF_CONTEXT_MAX {
            mode = match a {
                PERF_CONTEXT_KERNEL => Mode::Kernel,
                PERF_CONTEXT_USER => Mode::User,
                PERF_CONTEXT_HV => Mode::Other,
                // Any other marker means a corrupt chain (garbage from code without frame
                // pointers): perf discards the whole chain, and so does rperf.
                _ => return (out, true),
            };
            continue;
        }
        if out.len() >= max {
            break;
        }
        out.push(Frame {
            addr: a,
            mode,
            unwound: false,
        });
    }
    if out.is_empty() {
        out.push(Frame {
            addr: s.ip,
            mode: s.mode,
            unwound: false,
        });
    }
    (out, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(chain: Option<&'static [u64]>) -> Sample<'static> {
        Sample {
            event: 0,
            index: 0,
            pid: 1,
            tid: 1,
            time: 0,
            cpu: None,
            ip: 0x401000,
            mode: Mode::User,
            period: 1,
            callchain: chain,
            raw: None,
            user_regs: None,
            user_stack: None,
            cgroup: None,
            weight: None,
        }
    }

    #[test]
    fn a_chain_with_an_unknown_marker_is_dropped_whole() {
        // perf's add_callchain_ip: a value past PERF_CONTEXT_MAX that is no known
        // context means the chain is corrupt, and the whole chain is discarded.
        static CHAIN: [u64; 4] = [PERF_CONTEXT_USER, 0x401000, u64::MAX, 0x401234];
        assert!(frames(&sample(Some(&CHAIN)), usize::MAX).is_empty());
        // ...but the walk still saw the frame before the bad marker (perf's --parent does).
        let (seen, corrupt) = walk(&sample(Some(&CHAIN)), usize::MAX);
        assert!(corrupt);
        assert_eq!(seen.iter().map(|f| f.addr).collect::<Vec<_>>(), [0x401000]);
        static FINE: [u64; 3] = [PERF_CONTEXT_USER, 0x401000, 0x401234];
        assert_eq!(frames(&sample(Some(&FINE)), usize::MAX).len(), 2);
    }

    #[test]
    fn markers_switch_modes() {
        static CHAIN: [u64; 5] = [
            PERF_CONTEXT_KERNEL,
            0xffff_ffff_8100_0000,
            PERF_CONTEXT_USER,
            0x401000,
            0x401234,
        ];
        let s = sample(Some(&CHAIN));
        let f = frames(&s, usize::MAX);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].mode, Mode::Kernel);
        assert_eq!((f[1].addr, f[1].mode), (0x401000, Mode::User));
        assert_eq!(frames(&s, 2).len(), 2);
        assert_eq!(
            frames(&sample(None), 10),
            vec![Frame {
                addr: 0x401000,
                mode: Mode::User,
                unwound: false,
            }]
        );
    }
}

/// The most CFI one binary may bring (checked against its section headers before reading): a
/// damaged header must not size an allocation, and real binaries' CFI is a few percent of
/// their size (a 200 MB libLLVM has about 20 MB).
const MAX_CFI: usize = 1 << 30;

/// The unwinder's registers from a sample's: ip, sp, bp and every other general-purpose
/// register sampled, which the exact CFI walk needs where a frame's CFA is not rsp- or
/// rbp-based (ld.so's lazy-binding trampoline).
fn unwind_regs(r: &crate::data::UserRegs) -> rperf_unwind::Regs {
    use rperf_unwind::Reg;
    // perf's x86-64 numbers of the registers other than ip, sp and bp.
    const OTHERS: [(u32, Reg); 14] = [
        (0, Reg::Rax),
        (1, Reg::Rbx),
        (2, Reg::Rcx),
        (3, Reg::Rdx),
        (4, Reg::Rsi),
        (5, Reg::Rdi),
        (16, Reg::R8),
        (17, Reg::R9),
        (18, Reg::R10),
        (19, Reg::R11),
        (20, Reg::R12),
        (21, Reg::R13),
        (22, Reg::R14),
        (23, Reg::R15),
    ];
    OTHERS.iter().fold(
        rperf_unwind::Regs::new(r.ip(), r.sp(), r.bp()),
        |regs, &(n, reg)| match r.get(n) {
            Some(v) => regs.with(reg, v),
            None => regs,
        },
    )
}

/// Frames for every kind of sample: frame-pointer chains as recorded, and DWARF stacks
/// (`--call-graph dwarf`) unwound here from the sampled user registers and stack, spliced
/// after the kernel part of the chain as perf does.
#[derive(Default)]
pub struct Stacks {
    /// Per process: the maps generation it was built from, and an unwinder for exactly
    /// those maps. Shared (`Arc`) so queued samples keep the snapshot of their own time.
    unwinders: std::collections::HashMap<i32, (u64, std::sync::Arc<rperf_unwind::ProcessUnwinder>)>,
    /// User frames unwound ahead of time ([`Stacks::unwind_ahead`]), by sample index.
    ready: rustc_hash::FxHashMap<u64, (Vec<rperf_unwind::Frame>, bool)>,
    /// Each binary's CFI ([`Stacks::image`]), none for those that have none or do not parse.
    images: std::collections::HashMap<
        crate::session::DsoId,
        Option<std::sync::Arc<rperf_unwind::ElfCfi>>,
    >,
    cache: rperf_unwind::Cache,
    symfs: Option<std::path::PathBuf>,
    /// The file's BUILD_ID list by path ([`Stacks::binaries`]), to find rebuilt binaries.
    build_ids: std::collections::HashMap<String, Vec<u8>>,
    /// Samples whose unwinding stopped early (kept, with the frames found).
    pub truncated: u64,
}

impl Stacks {
    /// A note for stderr when DWARF stacks stopped before their outermost frame (the frames
    /// found were kept): how many, and the usual reasons.
    pub fn truncation_note(&self) -> Option<String> {
        (self.truncated > 0).then(|| {
            format!(
                "rperf: {} DWARF stacks stop before their outermost caller (kept as far as \
                 they go): code without CFI, or a stack deeper than the bytes recorded \
                 (raise --call-graph dwarf,SIZE)",
                self.truncated
            )
        })
    }

    /// Stacks with binaries read below `symfs` when given.
    pub fn new(symfs: Option<std::path::PathBuf>) -> Stacks {
        Stacks {
            symfs,
            ..Stacks::default()
        }
    }

    /// The binaries the file lists with their build-ids (perf.data's BUILD_ID feature):
    /// a binary rebuilt since the recording is then read from perf's build-id cache, as the
    /// symbolizer reads it. The first call counts.
    pub fn binaries(&mut self, hits: &[(String, Vec<u8>)]) {
        if self.build_ids.is_empty() {
            self.build_ids = hits.iter().cloned().collect();
        }
    }

    /// Where the binary recorded at `path` is read: the file and the root below which its
    /// debug files are looked up.
    fn located(&self, path: &str) -> Option<(std::path::PathBuf, Option<std::path::PathBuf>)> {
        let (file, root) = crate::session::locate(&self.build_ids, &self.symfs, path)?;
        let full = match &root {
            Some(r) => r.join(file.strip_prefix("/").unwrap_or(&file)),
            None => file.clone(),
        };
        Some((full, root))
    }

    /// The unwinding rules of `dso`: its CFI sections alone, read once (a binary of hundreds
    /// of MB costs its few MB of CFI), or those of its separate debug file when the binary
    /// has no `.debug_frame` and the debug file has one (code built without unwind tables
    /// keeps its CFI there once stripped).
    fn image(
        &mut self,
        session: &crate::session::Session,
        dso: crate::session::DsoId,
    ) -> Option<std::sync::Arc<rperf_unwind::ElfCfi>> {
        use rperf_unwind::ElfCfi;
        if let Some(i) = self.images.get(&dso) {
            return i.clone();
        }
        let d = &session.dsos()[dso as usize];
        let cfi = if d.path == "[vdso]" {
            rperf_symbols::vdso_image().and_then(|i| ElfCfi::parse(&i, MAX_CFI).ok())
        } else if !d.path.starts_with('/') || d.anonymous {
            None
        } else {
            let file = self
                .located(&d.path)
                .and_then(|(p, _)| rperf_symbols::file::open_regular(&p).ok());
            let mut cfi = file.and_then(|f| ElfCfi::read(&f, MAX_CFI).ok());
            let at = crate::session::locate(&self.build_ids, &self.symfs, &d.path);
            if let (Some(c), Some((file, root))) =
                (cfi.as_mut().filter(|c| !c.has_debug_frame()), at)
            {
                // The debug file of the binary that is read (a build-id cache copy is
                // looked up by its own path, with no root).
                let debug = rperf_symbols::debug_file(&file, root.as_deref())
                    .and_then(|p| rperf_symbols::file::open_regular(&p).ok());
                if let Some(f) = debug {
                    let _ = c.use_debug_file(&f, MAX_CFI);
                }
            }
            cfi
        };
        let cfi = cfi.map(std::sync::Arc::new);
        self.images.insert(dso, cfi.clone());
        cfi
    }

    /// Whether map-relative address `rel` of `dso` lies in the first bytes of its ELF entry
    /// point: the outermost frame of a process (`_start` calls within a few instructions).
    fn near_entry(
        &mut self,
        session: &crate::session::Session,
        dso: crate::session::DsoId,
        rel: u64,
    ) -> bool {
        const ENTRY_CODE: u64 = 64;
        self.image(session, dso)
            .is_some_and(|c| c.near_entry(rel, ENTRY_CODE))
    }

    /// Makes sure the unwinder of `pid` reflects its current mappings.
    fn refresh(&mut self, session: &crate::session::Session, pid: i32) {
        let generation = session.maps_generation(pid);
        if self
            .unwinders
            .get(&pid)
            .is_some_and(|(g, _)| *g == generation)
        {
            return;
        }
        let mut u = rperf_unwind::ProcessUnwinder::new();
        for m in session.user_maps(pid).iter().filter(|m| m.exec) {
            if let Some(cfi) = self.image(session, m.dso) {
                let name = &session.dsos()[m.dso as usize].path;
                // A mapping no segment explains just has no rules; frame pointers still apply.
                let _ = u.add_cfi(name, &cfi, m.start, m.end, m.pgoff);
            }
        }
        self.unwinders
            .insert(pid, (generation, std::sync::Arc::new(u)));
    }

    /// Unwinds every DWARF sample of `input` in parallel before the caller's own pass:
    /// the file is replayed once, each sample queued with its registers, a copy of its
    /// stack and the unwinder of its process's maps at that moment, and queued samples
    /// are unwound by rayon's threads in batches. [`Stacks::frames`] then takes the
    /// results. Nothing to do for files without user stacks or for pipe input (read once).
    ///
    /// The extra pass reads the file twice, which costs more than parallel unwinding saves
    /// with two CPUs or fewer (measured: a 58 MB dwarf file reports in 0.05 s either way on
    /// 2 vCPUs, and the second read is a sixth of it); it runs with more CPUs, or when
    /// `RPERF_PARALLEL_UNWIND=1` asks for it (`=0` turns it off).
    pub fn unwind_ahead(&mut self, input: &std::path::Path) -> anyhow::Result<()> {
        use rayon::prelude::*;
        let wanted = match std::env::var("RPERF_PARALLEL_UNWIND").as_deref() {
            Ok("1") => true,
            Ok("0") => false,
            _ => std::thread::available_parallelism().is_ok_and(|n| n.get() > 2),
        };
        if !wanted || input.as_os_str() == "-" || !crate::data::has_user_stacks(input) {
            return Ok(());
        }
        type Job = (
            u64,
            std::sync::Arc<rperf_unwind::ProcessUnwinder>,
            rperf_unwind::Regs,
            Vec<u8>,
        );
        const BATCH: usize = 1024;
        let mut session = crate::session::Session::new();
        let mut jobs: Vec<Job> = Vec::with_capacity(BATCH);
        let mut ready = std::mem::take(&mut self.ready);
        let run = |jobs: &mut Vec<Job>, ready: &mut rustc_hash::FxHashMap<u64, _>| {
            let done: Vec<(u64, (Vec<rperf_unwind::Frame>, bool))> = jobs
                .par_iter()
                .map_init(rperf_unwind::Cache::new, |cache, (i, u, regs, stack)| {
                    let r = u.unwind(cache, *regs, stack, usize::MAX);
                    (*i, (r.frames, r.truncated))
                })
                .collect();
            ready.extend(done);
            jobs.clear();
        };
        crate::data::read(input, |header, rec| {
            self.binaries(&header.hits);
            let crate::data::Record::Sample(s) = rec else {
                session.apply(&rec);
                return;
            };
            let (Some(regs), Some(stack)) = (s.user_regs.as_ref().map(unwind_regs), s.user_stack)
            else {
                return;
            };
            self.refresh(&session, s.pid);
            if let Some((_, u)) = self.unwinders.get(&s.pid) {
                jobs.push((s.index, u.clone(), regs, stack.to_vec()));
            }
            if jobs.len() >= BATCH {
                run(&mut jobs, &mut ready);
            }
        })?;
        run(&mut jobs, &mut ready);
        self.ready = ready;
        Ok(())
    }

    /// The frames perf searches for the `--parent` symbol: [`Stacks::frames`], or for a
    /// corrupt chain the frames before its bad marker (see [`walk`]).
    pub fn parent_frames(
        &mut self,
        session: &crate::session::Session,
        s: &Sample,
        max: usize,
    ) -> Vec<Frame> {
        if s.user_stack.is_some() {
            return self.frames(session, s, max);
        }
        walk(s, max).0
    }

    /// The frames of `s`, innermost first, at most `max`.
    pub fn frames(
        &mut self,
        session: &crate::session::Session,
        s: &Sample,
        max: usize,
    ) -> Vec<Frame> {
        let (Some(regs), Some(stack)) = (s.user_regs.as_ref().map(unwind_regs), s.user_stack)
        else {
            return frames(s, max);
        };
        // The kernel part of the chain, up to where user space begins.
        let mut out: Vec<Frame> = Vec::new();
        if s.mode == Mode::Kernel {
            if let Some(chain) = s.callchain {
                let mut mode = Mode::Kernel;
                for &a in chain {
                    if a >= PERF_CONTEXT_MAX {
                        mode = if a == PERF_CONTEXT_KERNEL {
                            Mode::Kernel
                        } else {
                            Mode::User
                        };
                        continue;
                    }
                    if mode != Mode::Kernel {
                        break;
                    }
                    out.push(Frame {
                        addr: a,
                        mode,
                        unwound: false,
                    });
                }
            }
        }
        let (user, truncated) = match self.ready.remove(&s.index) {
            Some(r) => r,
            None => {
                self.refresh(session, s.pid);
                let Some((_, u)) = self.unwinders.get(&s.pid) else {
                    return frames(s, max);
                };
                let unwound = u.unwind(&mut self.cache, regs, stack, max.saturating_sub(out.len()));
                (unwound.frames, unwound.truncated)
            }
        };
        // An unwinder error right after the entry point of its binary (ld.so's `_start`,
        // which has no CFI to end the stack) is the stack's true end, as perf shows it.
        let at_entry = user.last().is_some_and(|f| {
            let loc = session.resolve(s.pid, f.lookup_address(), Mode::User);
            loc.is_some_and(|l| self.near_entry(session, l.dso, l.rel))
        });
        if truncated && !at_entry {
            self.truncated += 1;
        }
        // Callers are shown at their call instruction (return address - 1), as perf shows
        // DWARF-unwound frames.
        out.extend(user.iter().map(|f| Frame {
            addr: f.lookup_address(),
            mode: Mode::User,
            unwound: true,
        }));
        out.truncate(max);
        out
    }
}
