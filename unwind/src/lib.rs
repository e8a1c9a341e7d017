//! rperf-unwind: turns a sample's user registers and stack bytes into frame addresses, using
//! the binaries' DWARF CFI (`.eh_frame`, `.debug_frame`) through framehop, with frame-pointer
//! rules where CFI is missing. framehop tracks rip, rsp and rbp only; a walk it cannot finish
//! is redone by an exact CFI walk over all the general-purpose registers the sample carries
//! (see [`Regs::with`]), for code whose CFA lives in another register.
//!
//! A leaf crate: it knows nothing about symbols, the command line or perf.data. The caller
//! owns a [`ProcessUnwinder`] per address space (built from its mappings) and a [`Cache`]
//! shared by all samples.
//!
//! ```
//! use rperf_unwind::{Cache, ProcessUnwinder, Regs};
//! let unwinder = ProcessUnwinder::new();
//! let mut cache = Cache::new();
//! // With no modules, only the sampled instruction pointer is known.
//! let u = unwinder.unwind(&mut cache, Regs::new(0x1000, 0x7fff_0000, 0), &[], 64);
//! assert_eq!(u.frames.len(), 1);
//! assert!(u.frames[0].lookup_address() == 0x1000);
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::ops::{Deref, Range};
use std::sync::Arc;

use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
use framehop::{ExplicitModuleSectionInfo, FrameAddress, Module, Unwinder};
use object::read::elf::{ElfFile64, ProgramHeader};
use object::{Endianness, Object, ObjectSection};

mod cfi;
mod exact;
pub use cfi::ElfCfi;
use exact::CfiModule;

/// One frame of a stack, keeping the instruction pointer of the innermost frame apart from
/// the return addresses of its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frame {
    /// The sampled instruction pointer: the instruction itself.
    InstructionPointer(u64),
    /// A return address: the instruction after a call.
    ReturnAddress(u64),
    /// The walk needed stack bytes beyond those recorded (a stack deeper than the dump).
    /// perf's unwinder (libunwind) then still reports one more caller, at address 0, and
    /// shows it one byte back as `ffffffffffffffff [unknown]`; rperf keeps that frame so
    /// that its stacks and reports are perf's.
    OffStack,
}

impl Frame {
    /// The address to symbolize: return addresses point after the call, so look one byte back.
    pub fn lookup_address(self) -> u64 {
        match self {
            Frame::InstructionPointer(a) => a,
            Frame::ReturnAddress(a) => a.saturating_sub(1),
            Frame::OffStack => u64::MAX,
        }
    }

    /// The address as recorded.
    pub fn address(self) -> u64 {
        match self {
            Frame::InstructionPointer(a) | Frame::ReturnAddress(a) => a,
            Frame::OffStack => 0,
        }
    }
}

/// The user registers unwinding starts from: ip, sp and bp always; the other
/// general-purpose registers when the sample has them ([`Regs::with`]).
///
/// framehop's walk needs only ip, sp and bp. The others let the exact walk restore
/// callee-saved registers frame by frame and follow a CFA defined through any of them
/// (`CFA = rbx + 32` in ld.so's lazy-binding trampoline); without them such a walk stops
/// where framehop's does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regs {
    /// Instruction pointer.
    pub ip: u64,
    /// Stack pointer (the address of the first byte of the sampled stack).
    pub sp: u64,
    /// Frame pointer.
    pub bp: u64,
    /// The other registers by DWARF number (the `rsp` and `rbp` slots unused).
    others: [u64; 16],
    /// Bit n: `others[n]` was given.
    known: u16,
}

/// An x86-64 general-purpose register, numbered as DWARF (and so CFI) numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Reg {
    Rax = 0,
    Rdx = 1,
    Rcx = 2,
    Rbx = 3,
    Rsi = 4,
    Rdi = 5,
    Rbp = 6,
    Rsp = 7,
    R8 = 8,
    R9 = 9,
    R10 = 10,
    R11 = 11,
    R12 = 12,
    R13 = 13,
    R14 = 14,
    R15 = 15,
}

impl Regs {
    /// ip, sp and bp, the other registers unknown.
    pub const fn new(ip: u64, sp: u64, bp: u64) -> Regs {
        Regs {
            ip,
            sp,
            bp,
            others: [0; 16],
            known: 0,
        }
    }

    /// The same with `reg` known to hold `value` (`Rsp` and `Rbp` set `sp` and `bp`).
    #[must_use]
    pub fn with(mut self, reg: Reg, value: u64) -> Regs {
        match reg {
            Reg::Rsp => self.sp = value,
            Reg::Rbp => self.bp = value,
            r => {
                self.others[r as usize] = value;
                self.known |= 1 << r as u16;
            }
        }
        self
    }

    /// The value of `reg`, when known.
    pub fn get(&self, reg: Reg) -> Option<u64> {
        self.dwarf(reg as u16)
    }

    /// The value of DWARF register `n` (0 to 15), when known.
    fn dwarf(&self, n: u16) -> Option<u64> {
        match n {
            6 => Some(self.bp),
            7 => Some(self.sp),
            0..=15 if self.known & (1 << n) != 0 => Some(self.others[n as usize]),
            _ => None,
        }
    }
}

/// Errors adding a module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a 64-bit ELF file.
    #[error("not a 64-bit ELF image: {0}")]
    NotElf(String),
    /// The mapping's file offset lies in no loadable segment.
    #[error("file offset {0:#x} of the mapping is in no PT_LOAD segment")]
    NoSegment(u64),
    /// The CFI sections are larger than the caller allows.
    #[error("the CFI sections hold {needed} bytes, more than the {max} allowed")]
    TooLarge {
        /// Bytes the sections hold.
        needed: u64,
        /// Bytes allowed.
        max: u64,
    },
    /// Reading the file failed.
    #[error("reading the file: {0}")]
    Io(std::io::Error),
}

/// A byte range of a shared file image (what framehop reads sections from).
#[derive(Debug, Clone, Default)]
pub struct Bytes {
    data: Arc<[u8]>,
    range: Range<usize>,
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.data[self.range.clone()]
    }
}

/// framehop's per-thread rule caches; keep one for all samples.
pub struct Cache {
    rules: CacheX86_64,
    /// gimli's row evaluation state for the exact walk, made when first needed.
    exact: Option<Box<gimli::UnwindContext<usize>>>,
    /// For the frame-pointer-only walk, kept too: a new one per sample (a zeroed table of
    /// hundreds of entries) cost the recording's leaf fixer 3 % of its time.
    fp_only: CacheX86_64,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache {
            rules: CacheX86_64::new(),
            exact: None,
            fp_only: CacheX86_64::new(),
        }
    }
}

impl Default for Cache {
    fn default() -> Self {
        Cache::new()
    }
}

/// The result of unwinding one sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwound {
    /// Frames found, innermost first. Never empty: the sampled ip is always there.
    pub frames: Vec<Frame>,
    /// The walk stopped on an error (missing rules, stack bytes exhausted) rather than at
    /// the outermost frame.
    pub truncated: bool,
}

/// The unwinding rules of one address space.
#[derive(Clone, Default)]
pub struct ProcessUnwinder {
    inner: UnwinderX86_64<Bytes>,
    /// The same modules' CFI for the exact walk, sorted by start address.
    modules: Vec<CfiModule>,
}

impl ProcessUnwinder {
    /// An address space with no modules yet.
    pub fn new() -> ProcessUnwinder {
        ProcessUnwinder::default()
    }

    /// Adds the executable mapping `[start, end)` of an ELF image whose file offset `pgoff`
    /// is mapped at `start`. `debug` may hold a separate debug file with `.debug_frame`.
    pub fn add_elf(
        &mut self,
        name: &str,
        image: Arc<[u8]>,
        start: u64,
        end: u64,
        pgoff: u64,
        debug: Option<Arc<[u8]>>,
    ) -> Result<(), Error> {
        let file =
            ElfFile64::<Endianness>::parse(&*image).map_err(|e| Error::NotElf(e.to_string()))?;
        let endian = file.endian();
        let vaddr_at_start = mapped_vaddr(file.elf_program_headers(), endian, pgoff)
            .ok_or(Error::NoSegment(pgoff))?;
        let base_avma = start.wrapping_sub(vaddr_at_start);
        let section = |f: &ElfFile64<Endianness>,
                       data: &Arc<[u8]>,
                       name: &str|
         -> Option<(Range<u64>, Bytes)> {
            let s = f.section_by_name(name)?;
            if s.compressed_file_range().ok()?.format != object::CompressionFormat::None {
                // A compressed section (`-gz`, or Go's .zdebug-style .debug_frame): framehop
                // reads plain CFI, so it gets the inflated bytes.
                let inflated: Arc<[u8]> = s.uncompressed_data().ok()?.into_owned().into();
                let range = 0..inflated.len();
                return Some((
                    s.address()..s.address() + s.size(),
                    Bytes {
                        data: inflated,
                        range,
                    },
                ));
            }
            let (off, size) = s.file_range()?;
            let range = off as usize..(off + size) as usize;
            if range.end > data.len() {
                return None;
            }
            Some((
                s.address()..s.address() + s.size(),
                Bytes {
                    data: data.clone(),
                    range,
                },
            ))
        };
        let text = section(&file, &image, ".text");
        let mut eh_frame = section(&file, &image, ".eh_frame");
        let mut eh_frame_hdr = section(&file, &image, ".eh_frame_hdr");
        let got = file
            .section_by_name(".got")
            .map(|s| s.address()..s.address() + s.size());
        let mut debug_frame = section(&file, &image, ".debug_frame").map(|(_, b)| b);
        if debug_frame.is_none() {
            if let Some(d) = &debug {
                if let Ok(df) = ElfFile64::<Endianness>::parse(&**d) {
                    debug_frame = section(&df, d, ".debug_frame").map(|(_, b)| b);
                    if debug_frame.is_some() {
                        // Compilers write .debug_frame only for code that has no .eh_frame:
                        // what .eh_frame the image has is the C runtime's, and framehop
                        // would look no further than it.
                        eh_frame = None;
                        eh_frame_hdr = None;
                    }
                }
            }
        }
        let info = ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma: text.as_ref().map(|(r, _)| r.clone()),
            text: text.map(|(_, b)| b),
            got_svma: got,
            eh_frame_svma: eh_frame.as_ref().map(|(r, _)| r.clone()),
            eh_frame: eh_frame.map(|(_, b)| b),
            eh_frame_hdr_svma: eh_frame_hdr.as_ref().map(|(r, _)| r.clone()),
            eh_frame_hdr: eh_frame_hdr.map(|(_, b)| b),
            debug_frame,
            ..ExplicitModuleSectionInfo::default()
        };
        self.add_module(name, start..end, base_avma, info, exact::FdeScan::default());
        Ok(())
    }

    /// Adds a module to framehop's unwinder and, with the same shared bytes, to the exact
    /// walk's list.
    fn add_module(
        &mut self,
        name: &str,
        range: Range<u64>,
        base_avma: u64,
        info: ExplicitModuleSectionInfo<Bytes>,
        scan: exact::FdeScan,
    ) {
        let m = CfiModule {
            range: range.clone(),
            bias: base_avma,
            text: info.text_svma.as_ref().map(|r| r.start),
            got: info.got_svma.as_ref().map(|r| r.start),
            eh_frame: info
                .eh_frame_svma
                .as_ref()
                .map(|r| r.start)
                .zip(info.eh_frame.clone()),
            eh_frame_hdr: (info.eh_frame_hdr_svma.as_ref().map(|r| r.start))
                .zip(info.eh_frame_hdr.clone()),
            debug_frame: info.debug_frame.clone(),
            scan,
        };
        let at = self
            .modules
            .partition_point(|o| o.range.start < range.start);
        self.modules.insert(at, m);
        self.inner
            .add_module(Module::new(name.to_string(), range, base_avma, info));
    }

    /// Whether any of `frames` lies in code whose rules framehop cannot follow.
    fn through_hard_frame(&self, frames: &[Frame]) -> bool {
        let mut at: Option<&CfiModule> = None;
        frames.iter().any(|f| {
            let a = f.lookup_address();
            if !at.is_some_and(|m| m.range.contains(&a)) {
                at = exact::module_at(&self.modules, a);
            }
            at.is_some_and(|m| m.is_hard(a))
        })
    }

    /// Unwinds one sample: `stack` holds the bytes copied from `regs.sp` upwards. Stops after
    /// `max` frames, at the outermost frame, or where the rules or stack bytes run out.
    pub fn unwind(&self, cache: &mut Cache, regs: Regs, stack: &[u8], max: usize) -> Unwound {
        let mut with_cfi = walk(&self.inner, &mut cache.rules, regs, stack, max);
        let known = |u: &Unwound| u.frames.iter().filter(|f| **f != Frame::OffStack).count();
        // framehop cannot follow a frame whose rules need registers it does not track (a
        // CFA through rbx): it falls back to rbp there, and stops, or ends the stack on a
        // null rbp, or follows a stale one. When the walk went through such a frame and the
        // sample has those registers, the exact walk redoes the stack from the first frame,
        // restoring them frame by frame, and is kept where it gets further. Other walks pay
        // one module lookup per frame.
        if regs.known != 0 && self.through_hard_frame(&with_cfi.frames) {
            let ctx = cache
                .exact
                .get_or_insert_with(|| Box::new(gimli::UnwindContext::new()));
            let exact = exact::walk(&self.modules, ctx, &regs, stack, max);
            if known(&exact) > known(&with_cfi)
                || (!exact.truncated && known(&exact) == known(&with_cfi))
            {
                with_cfi = exact;
            }
        }
        // Whether the first caller returns into a module: framehop takes the word at sp for
        // the return address of a first frame no FDE covers (right for a leaf such as a
        // PLT stub's target, wrong for a function built without CFI but with a frame
        // pointer, where that word is a local and can be anything).
        let caller_mapped = |u: &Unwound| {
            u.frames
                .get(1)
                .is_some_and(|f| exact::module_at(&self.modules, f.lookup_address()).is_some())
        };
        if known(&with_cfi) > 1 && caller_mapped(&with_cfi) {
            return with_cfi;
        }
        // No caller found through the modules' rules (code without CFI, or CFI that ends the
        // stack wrongly), or one in no module: follow the frame pointers alone, as an
        // unwinder without modules does, and keep that walk where it gets further, or
        // where the other is this one with its first caller replaced by a word in no
        // module (the local at sp of a function built without CFI, after which framehop's
        // fallback followed the same frame pointers).
        let fp_only = walk(&UnwinderX86_64::new(), &mut cache.fp_only, regs, stack, max);
        // A walk cut at two frames (the `-g` leaf fixer's) cannot tell, and keeps its
        // caller: the fixer checks it against the process's maps itself.
        let junk_first = with_cfi.frames.len() > 2
            && !caller_mapped(&with_cfi)
            && caller_mapped(&fp_only)
            // (Both may stop at `max` frames: the rest of the one is where the other starts.)
            && match (with_cfi.frames.get(2..), fp_only.frames.get(1..)) {
                (Some(rest), Some(fp)) => fp.starts_with(rest),
                _ => false,
            };
        if known(&fp_only) > known(&with_cfi) || junk_first {
            fp_only
        } else {
            with_cfi
        }
    }
}

/// The virtual address that file offset `pgoff`, the start of an executable mapping, has in
/// the ELF file's own layout.
///
/// The kernel maps each PT_LOAD from its offset rounded down to a page, so a mapping's
/// `pgoff` can lie before the segment's first byte, inside the page that ends the previous
/// segment. GNU ld starts every segment on a page of its own (offset == vaddr modulo the
/// maximum page size, usually equal), but lld and mold pack them: rustc's default linker
/// (rust-lld) gives `R` at offset 0 ending at 0x16ebc and `R E` at offset 0x16ec0, vaddr
/// 0x17ec0, mapped from pgoff 0x16000. Taking the segment that holds byte `pgoff` (the `R`
/// one) put the text a page off, and framehop then read the CFI of the wrong functions.
/// So the segment is the one whose page-rounded start is the mapping's offset, an
/// executable one first; a mapping that starts inside a segment (split by mprotect) falls
/// back to the segment holding that byte.
fn mapped_vaddr(
    headers: &[object::elf::ProgramHeader64<Endianness>],
    endian: Endianness,
    pgoff: u64,
) -> Option<u64> {
    const PAGE: u64 = 4096;
    let loads = || {
        headers
            .iter()
            .filter(|ph| ph.p_type(endian) == object::elf::PT_LOAD)
    };
    let exec = |ph: &&object::elf::ProgramHeader64<Endianness>| {
        ph.p_flags(endian) & object::elf::PF_X != 0
    };
    let at_page =
        |ph: &&object::elf::ProgramHeader64<Endianness>| ph.p_offset(endian) & !(PAGE - 1) == pgoff;
    let holds = |ph: &&object::elf::ProgramHeader64<Endianness>| {
        let (off, size) = (ph.p_offset(endian), ph.p_filesz(endian));
        pgoff >= off && pgoff < off + size.max(1)
    };
    let seg = loads()
        .find(|ph| at_page(ph) && exec(ph))
        .or_else(|| loads().find(|ph| holds(ph) && exec(ph)))
        .or_else(|| loads().find(at_page))
        .or_else(|| loads().find(holds))?;
    // p_vaddr - (p_offset - pgoff); pgoff may lie below p_offset.
    Some(
        seg.p_vaddr(endian)
            .wrapping_sub(seg.p_offset(endian))
            .wrapping_add(pgoff),
    )
}

fn walk(
    unwinder: &UnwinderX86_64<Bytes>,
    cache: &mut CacheX86_64,
    regs: Regs,
    stack: &[u8],
    max: usize,
) -> Unwound {
    let sp = regs.sp;
    let mut read_stack = |addr: u64| -> Result<u64, ()> {
        let off = addr.checked_sub(sp).ok_or(())? as usize;
        let bytes = stack.get(off..off.checked_add(8).ok_or(())?).ok_or(())?;
        Ok(u64::from_le_bytes(bytes.try_into().map_err(|_| ())?))
    };
    let mut frames = Vec::with_capacity(32);
    let mut truncated = false;
    let mut it = unwinder.iter_frames(
        regs.ip,
        UnwindRegsX86_64::new(regs.ip, regs.sp, regs.bp),
        cache,
        &mut read_stack,
    );
    loop {
        if frames.len() >= max {
            break;
        }
        match it.next() {
            Ok(Some(FrameAddress::InstructionPointer(a))) => {
                frames.push(Frame::InstructionPointer(a))
            }
            Ok(Some(FrameAddress::ReturnAddress(a))) => frames.push(Frame::ReturnAddress(a.get())),
            Ok(None) => break,
            Err(e) => {
                truncated = true;
                if matches!(e, framehop::Error::CouldNotReadStack(_)) && frames.len() < max {
                    frames.push(Frame::OffStack);
                }
                break;
            }
        }
    }
    if frames.is_empty() {
        frames.push(Frame::InstructionPointer(regs.ip));
    }
    Unwound { frames, truncated }
}

// The README's example is compiled and run with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_addresses_are_looked_up_one_byte_back() {
        assert_eq!(Frame::ReturnAddress(0x401234).lookup_address(), 0x401233);
        assert_eq!(
            Frame::InstructionPointer(0x401234).lookup_address(),
            0x401234
        );
        assert_eq!(Frame::ReturnAddress(0x401234).address(), 0x401234);
    }

    #[test]
    fn frame_pointer_chain_without_cfi_is_followed() {
        // No module covers these addresses, so framehop falls back to frame pointers:
        // [bp] holds the caller's bp, [bp+8] the return address.
        let sp = 0x7fff_0000u64;
        let mut stack = vec![0u8; 64];
        let bp = sp + 16;
        stack[16..24].copy_from_slice(&(sp + 40).to_le_bytes()); // saved bp
        stack[24..32].copy_from_slice(&0x40_2000u64.to_le_bytes()); // return address
        stack[40..48].copy_from_slice(&0u64.to_le_bytes()); // end of chain
        stack[48..56].copy_from_slice(&0x40_3000u64.to_le_bytes());
        let u = ProcessUnwinder::new().unwind(
            &mut Cache::new(),
            Regs::new(0x40_1000, sp, bp),
            &stack,
            16,
        );
        assert_eq!(u.frames[0], Frame::InstructionPointer(0x40_1000));
        assert!(
            u.frames.contains(&Frame::ReturnAddress(0x40_2000)),
            "{:?}",
            u.frames
        );
    }

    fn load(
        offset: u64,
        vaddr: u64,
        filesz: u64,
        flags: u32,
    ) -> object::elf::ProgramHeader64<Endianness> {
        use object::{U32, U64};
        let e = Endianness::Little;
        object::elf::ProgramHeader64 {
            p_type: U32::new(e, object::elf::PT_LOAD),
            p_flags: U32::new(e, flags),
            p_offset: U64::new(e, offset),
            p_vaddr: U64::new(e, vaddr),
            p_paddr: U64::new(e, vaddr),
            p_filesz: U64::new(e, filesz),
            p_memsz: U64::new(e, filesz),
            p_align: U64::new(e, 0x1000),
        }
    }

    #[test]
    fn packed_segments_map_from_the_page_before_their_first_byte() {
        use object::elf::{PF_R, PF_W, PF_X};
        // rust-lld's layout of a cargo release binary: `R E` starts mid-page, right after
        // `R`, and is mapped from pgoff 0x16000, a byte of the `R` segment.
        let lld = [
            load(0, 0, 0x16ebc, PF_R),
            load(0x16ec0, 0x17ec0, 0x3fb20, PF_R | PF_X),
            load(0x569e0, 0x589e0, 0x2a20, PF_R | PF_W),
        ];
        let e = Endianness::Little;
        assert_eq!(mapped_vaddr(&lld, e, 0x16000), Some(0x17000));
        // A mapping split inside the segment (mprotect) starts at its own offset.
        assert_eq!(mapped_vaddr(&lld, e, 0x20000), Some(0x21000));
        // GNU ld: every segment on a page of its own, offset == vaddr.
        let bfd = [
            load(0, 0, 0x5f8, PF_R),
            load(0x1000, 0x1000, 0x1b5, PF_R | PF_X),
            load(0x2000, 0x2000, 0x100, PF_R),
        ];
        assert_eq!(mapped_vaddr(&bfd, e, 0x1000), Some(0x1000));
        assert_eq!(mapped_vaddr(&bfd, e, 0x9000), None);
    }

    #[test]
    fn a_walk_off_the_recorded_stack_ends_in_perfs_unknown_frame() {
        // Frame pointers lead to a caller frame whose saved bp and return address lie past
        // the 32 bytes recorded: perf shows one more frame, at -1.
        let sp = 0x7fff_0000u64;
        let mut stack = vec![0u8; 32];
        stack[16..24].copy_from_slice(&(sp + 64).to_le_bytes()); // saved bp: off the dump
        stack[24..32].copy_from_slice(&0x40_2000u64.to_le_bytes());
        let regs = Regs::new(0x40_1000, sp, sp + 16);
        let u = ProcessUnwinder::new().unwind(&mut Cache::new(), regs, &stack, 16);
        assert!(u.truncated);
        assert_eq!(u.frames.last(), Some(&Frame::OffStack), "{:?}", u.frames);
        assert_eq!(Frame::OffStack.lookup_address(), u64::MAX);
        // The limit on frames counts it.
        let u = ProcessUnwinder::new().unwind(&mut Cache::new(), regs, &stack, 2);
        assert_eq!(u.frames.len(), 2);
    }

    #[test]
    fn a_walk_framehop_cannot_finish_is_redone_through_every_register() {
        // framehop reads the same CFI: it unwinds the leaf, then cannot compute the
        // trampoline's CFA (rbx + 32), falls back to rbp, finds it null and ends the stack.
        let bias = 0x1000_0000;
        let (m, regs, stack) = exact::tests::lazy_binding(false, bias);
        let mut u = ProcessUnwinder::new();
        let info = ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma: Some(0x1000..0x5000),
            debug_frame: m.debug_frame.clone(),
            ..ExplicitModuleSectionInfo::default()
        };
        u.add_module("lazy", m.range.clone(), bias, info, m.scan.clone());
        let bare = Regs::new(regs.ip, regs.sp, regs.bp);
        assert_eq!(bare.get(Reg::Rbx), None);
        let framehop = u.unwind(&mut Cache::new(), bare, &stack, 64);
        assert_eq!(framehop.frames.len(), 2, "{:?}", framehop.frames);
        // With rbx sampled, the exact walk takes over and reaches the outermost frame.
        assert_eq!(regs.get(Reg::Rbx), Some(regs.sp + 48));
        let got = u.unwind(&mut Cache::new(), regs, &stack, 64);
        assert_eq!(got.frames.len(), 4, "{:?}", got.frames);
        assert!(!got.truncated);
        assert_eq!(got.frames[2], Frame::ReturnAddress(bias + 0x3020));
        assert_eq!(got.frames[3], Frame::ReturnAddress(bias + 0x4010));
        // Only the trampoline's rules are beyond framehop.
        assert!(u.through_hard_frame(&got.frames[..2]));
        assert!(!u.through_hard_frame(&[got.frames[0], got.frames[2]]));
    }

    #[test]
    fn garbage_images_are_errors() {
        let mut u = ProcessUnwinder::new();
        assert!(u
            .add_elf("x", Arc::from(&b"not elf"[..]), 0x1000, 0x2000, 0, None)
            .is_err());
    }

    #[test]
    fn own_binary_adds_as_a_module() {
        let exe = std::env::current_exe().unwrap();
        let data: Arc<[u8]> = std::fs::read(&exe).unwrap().into();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let line = maps
            .lines()
            .find(|l| {
                l.ends_with(exe.to_str().unwrap())
                    && l.split_whitespace().nth(1).is_some_and(|p| p.contains('x'))
            })
            .unwrap();
        let f: Vec<&str> = line.split_whitespace().collect();
        let (s, e) = f[0].split_once('-').unwrap();
        let (s, e) = (
            u64::from_str_radix(s, 16).unwrap(),
            u64::from_str_radix(e, 16).unwrap(),
        );
        let pgoff = u64::from_str_radix(f[2], 16).unwrap();
        let mut u = ProcessUnwinder::new();
        u.add_elf("self", data, s, e, pgoff, None).unwrap();
    }
}
