//! The exact CFI walk: every general-purpose register is tracked from the sampled ones and
//! restored by each frame's CFI rules, so frames whose CFA is defined through another
//! register than rsp or rbp (ld.so's `_dl_runtime_resolve*`: `mov %rsp,%rbx; and $-64,%rsp`,
//! CFA = rbx + 32) unwind as they do in libunwind and libdw.
//!
//! framehop tracks only rip, rsp and rbp, and stays the fast path: this walk runs only when
//! a framehop walk stops early and the sample carries the other registers. The rules come
//! from gimli's CFI evaluation ([`UnwindSection`], [`UnwindContext`], [`UnwindTableRow`]);
//! only the arithmetic of applying a row to the registers is done here.
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use gimli::{
    BaseAddresses, CfaRule, DebugFrame, EhFrame, EhFrameHdr, Encoding, EndianSlice,
    EvaluationResult, LittleEndian, Location, Piece, Register, RegisterRule, UnwindContext,
    UnwindSection, UnwindTableRow, Value,
};

use crate::{Bytes, Frame, Regs, Unwound};

type R<'a> = EndianSlice<'a, LittleEndian>;

/// DWARF's x86-64 numbers: rax 0 … r15 15, and 16 the return address (the caller's rip).
const RSP: usize = 7;
const RBP: usize = 6;
const RA: usize = 16;
const NREGS: usize = 17;

/// The registers known at one frame, by DWARF number; `None` is unknown (not sampled, or
/// not recoverable from the stack bytes recorded).
type RegFile = [Option<u64>; NREGS];

/// What one pass over a file's FDEs finds, once per file (the first time a walk through it
/// needs it), shared by every mapping of the file.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// The start and end (file addresses) and section offset of each FDE, sorted: the
    /// lookup table for CFI without `.eh_frame_hdr`'s (empty when there is one).
    index: Vec<(u64, u64, usize)>,
    /// The FDEs whose rules framehop cannot follow (sorted ranges): a CFA through another
    /// register than rsp or rbp, a CFA expression, rbp or the return address kept anywhere
    /// but at an offset from the CFA. A framehop walk through one of them is redone.
    hard: Vec<(u64, u64)>,
}

/// A file's [`Scan`], made when first needed.
pub(crate) type FdeScan = Arc<OnceLock<Scan>>;

/// One mapping's CFI, as the exact walk reads it (the same shared bytes framehop reads).
#[derive(Clone)]
pub(crate) struct CfiModule {
    /// The mapping's runtime addresses.
    pub range: Range<u64>,
    /// Runtime address minus file (`.text`) address.
    pub bias: u64,
    pub text: Option<u64>,
    pub got: Option<u64>,
    pub eh_frame: Option<(u64, Bytes)>,
    pub eh_frame_hdr: Option<(u64, Bytes)>,
    pub debug_frame: Option<Bytes>,
    pub scan: FdeScan,
}

/// Why a step stopped.
enum Stop {
    /// The outermost frame: the return address is undefined (or null).
    End,
    /// The return address lies past the stack bytes recorded.
    OffStack,
    /// No rule applies, or the registers a rule needs are unknown.
    Failed,
}

impl CfiModule {
    fn bases(&self) -> BaseAddresses {
        let mut b = BaseAddresses::default();
        if let Some(t) = self.text {
            b = b.set_text(t);
        }
        if let Some(g) = self.got {
            b = b.set_got(g);
        }
        if let Some((a, _)) = &self.eh_frame {
            b = b.set_eh_frame(*a);
        }
        if let Some((a, _)) = &self.eh_frame_hdr {
            b = b.set_eh_frame_hdr(*a);
        }
        b
    }

    /// Applies the CFI row for `pc` (a file address) to `regs`; `Ok(false)` when no FDE
    /// covers it.
    fn step(
        &self,
        ctx: &mut UnwindContext<usize>,
        pc: u64,
        regs: &mut RegFile,
        floor: u64,
        read: &mut impl FnMut(u64) -> Option<u64>,
    ) -> Result<bool, Stop> {
        let bases = self.bases();
        if let Some((_, eh)) = &self.eh_frame {
            let section = EhFrame::new(eh, LittleEndian);
            let from_hdr = self.eh_frame_hdr.as_ref().and_then(|(_, hdr)| {
                let parsed = EhFrameHdr::new(hdr, LittleEndian).parse(&bases, 8).ok()?;
                // An address the table does not cover is an answer too (no FDE), not a
                // reason to search the section.
                Some(parsed.table()?.fde_for_address(
                    &section,
                    &bases,
                    pc,
                    EhFrame::cie_from_offset,
                ))
            });
            let fde = match from_hdr {
                Some(fde) => fde.ok(),
                None => self.indexed_fde(&section, &bases, pc),
            };
            return apply_fde(&section, &bases, fde, ctx, pc, regs, floor, read);
        }
        if let Some(df) = &self.debug_frame {
            let mut section = DebugFrame::new(df, LittleEndian);
            section.set_address_size(8);
            let fde = self.indexed_fde(&section, &bases, pc);
            return apply_fde(&section, &bases, fde, ctx, pc, regs, floor, read);
        }
        Ok(false)
    }

    /// The file's [`Scan`], made on first use.
    fn scan(&self) -> &Scan {
        self.scan.get_or_init(|| {
            let bases = self.bases();
            if let Some((_, eh)) = &self.eh_frame {
                let with_hdr = self.eh_frame_hdr.is_some();
                scan(&EhFrame::new(eh, LittleEndian), &bases, !with_hdr)
            } else if let Some(df) = &self.debug_frame {
                let mut section = DebugFrame::new(df, LittleEndian);
                section.set_address_size(8);
                scan(&section, &bases, true)
            } else {
                Scan::default()
            }
        })
    }

    /// Whether the rules at runtime address `addr` are beyond framehop (see [`Scan::hard`]).
    pub fn is_hard(&self, addr: u64) -> bool {
        let pc = addr.wrapping_sub(self.bias);
        let hard = &self.scan().hard;
        hard.partition_point(|&(start, _)| start <= pc)
            .checked_sub(1)
            .is_some_and(|i| pc < hard[i].1)
    }

    fn indexed_fde<'a, S: UnwindSection<R<'a>>>(
        &self,
        section: &S,
        bases: &BaseAddresses,
        pc: u64,
    ) -> Option<gimli::FrameDescriptionEntry<R<'a>>> {
        let index = &self.scan().index;
        let i = index
            .partition_point(|&(start, _, _)| start <= pc)
            .checked_sub(1)?;
        let (_, end, offset) = index[i];
        if pc >= end {
            return None;
        }
        section
            .fde_from_offset(bases, S::Offset::from(offset), S::cie_from_offset)
            .ok()
    }
}

/// One pass over a section's FDEs: the lookup table (when `with_index`) and the FDEs
/// framehop cannot follow.
fn scan<'a, S: UnwindSection<R<'a>>>(section: &S, bases: &BaseAddresses, with_index: bool) -> Scan {
    let mut out = Scan::default();
    let mut entries = section.entries(bases);
    while let Ok(Some(e)) = entries.next() {
        let gimli::CieOrFde::Fde(partial) = e else {
            continue;
        };
        let Ok(fde) = partial.parse(S::cie_from_offset) else {
            continue;
        };
        let start = fde.initial_address();
        let end = start.saturating_add(fde.len());
        if with_index {
            out.index.push((start, end, fde.offset()));
        }
        let hard = any_beyond(fde.cie().instructions(section, bases))
            || any_beyond(fde.instructions(section, bases));
        if hard {
            out.hard.push((start, end));
        }
    }
    out.index.sort_unstable();
    out.hard.sort_unstable();
    out
}

fn any_beyond(mut ops: gimli::CallFrameInstructionIter<'_, R<'_>>) -> bool {
    while let Ok(Some(op)) = ops.next() {
        if beyond_framehop(&op) {
            return true;
        }
    }
    false
}

/// Whether framehop, which tracks rip, rsp and rbp only, cannot apply an instruction's rule.
fn beyond_framehop(op: &gimli::CallFrameInstruction<usize>) -> bool {
    use gimli::CallFrameInstruction as I;
    let tracked = |r: &Register| r.0 as usize == RSP || r.0 as usize == RBP;
    let kept = |r: &Register| r.0 as usize == RBP || r.0 as usize == RA;
    match op {
        I::DefCfa { register, .. }
        | I::DefCfaSf { register, .. }
        | I::DefCfaRegister { register } => !tracked(register),
        I::DefCfaExpression { .. } => true,
        I::Register { dest_register, .. } => kept(dest_register),
        I::Expression { register, .. }
        | I::ValExpression { register, .. }
        | I::ValOffset { register, .. }
        | I::ValOffsetSf { register, .. } => kept(register),
        _ => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn apply_fde<'a, S: UnwindSection<R<'a>>>(
    section: &S,
    bases: &BaseAddresses,
    fde: Option<gimli::FrameDescriptionEntry<R<'a>>>,
    ctx: &mut UnwindContext<usize>,
    pc: u64,
    regs: &mut RegFile,
    floor: u64,
    read: &mut impl FnMut(u64) -> Option<u64>,
) -> Result<bool, Stop> {
    let Some(fde) = fde else {
        return Ok(false);
    };
    let encoding = fde.cie().encoding();
    let row = fde
        .unwind_info_for_address(section, bases, ctx, pc)
        .map_err(|_| Stop::Failed)?;
    apply_row(section, encoding, row, regs, floor, read)?;
    Ok(true)
}

/// The caller's registers from the callee's and a row of its CFI. `floor` is the sampled
/// sp: a register saved below it was popped already (the sample is in an epilogue, where
/// GCC's CFI still names the slot), so the register itself holds the value.
fn apply_row<'a, S: UnwindSection<R<'a>>>(
    section: &S,
    encoding: Encoding,
    row: &UnwindTableRow<usize>,
    regs: &mut RegFile,
    floor: u64,
    read: &mut impl FnMut(u64) -> Option<u64>,
) -> Result<(), Stop> {
    let cfa = match row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } => {
            get(regs, *register).map(|v| v.wrapping_add(*offset as u64))
        }
        CfaRule::Expression(e) => e
            .get(section)
            .ok()
            .and_then(|e| evaluate(e, encoding, None, regs, read)),
    }
    .ok_or(Stop::Failed)?;
    let old = *regs;
    let rule_value = |rule: RegisterRule<usize>,
                      current: Option<u64>,
                      read: &mut dyn FnMut(u64) -> Option<u64>|
     -> Option<u64> {
        match rule {
            RegisterRule::Undefined | RegisterRule::Architectural => None,
            RegisterRule::SameValue => current,
            RegisterRule::Offset(n) => {
                let at = cfa.wrapping_add(n as u64);
                read(at).or(current.filter(|_| at < floor))
            }
            RegisterRule::ValOffset(n) => Some(cfa.wrapping_add(n as u64)),
            RegisterRule::Register(r) => get(&old, r),
            RegisterRule::Expression(e) => {
                let addr = evaluate(e.get(section).ok()?, encoding, Some(cfa), &old, read)?;
                read(addr)
            }
            RegisterRule::ValExpression(e) => {
                evaluate(e.get(section).ok()?, encoding, Some(cfa), &old, read)
            }
            RegisterRule::Constant(c) => Some(c),
        }
    };
    // No rule for the return address, or an undefined one, ends the stack (the outermost
    // frame's CFI says `rip undefined`).
    let ra_rule = row.register(Register(RA as u16)).ok_or(Stop::End)?;
    if matches!(ra_rule, RegisterRule::Undefined) {
        return Err(Stop::End);
    }
    let ra = match rule_value(ra_rule.clone(), old[RA], read) {
        Some(ra) => ra,
        None => return Err(stop_reading(&ra_rule, cfa, read)),
    };
    // Registers without a rule keep their values (callee-saved ones are the caller's; the
    // others are as good as unknown, and no CFI reads them).
    for (reg, rule) in row.registers() {
        let i = reg.0 as usize;
        if i < NREGS && i != RA && i != RSP {
            regs[i] = rule_value(rule.clone(), old[i], read);
        }
    }
    regs[RSP] = Some(cfa);
    regs[RA] = Some(ra);
    if old[RSP] == Some(cfa) && old[RA] == Some(ra) {
        return Err(Stop::Failed);
    }
    Ok(())
}

/// Why the return address could not be read: past the recorded bytes (perf then shows one
/// more, unknown caller) or a rule that gives nothing.
fn stop_reading(
    rule: &RegisterRule<usize>,
    cfa: u64,
    read: &mut impl FnMut(u64) -> Option<u64>,
) -> Stop {
    match rule {
        RegisterRule::Offset(n) if read(cfa.wrapping_add(*n as u64)).is_none() => Stop::OffStack,
        _ => Stop::Failed,
    }
}

fn get(regs: &RegFile, r: Register) -> Option<u64> {
    regs.get(r.0 as usize).copied().flatten()
}

/// Runs a CFI expression: `initial` is pushed first (the CFA, for register rules). Only
/// registers and stack memory are available, as they are to an unwinder.
fn evaluate(
    expr: gimli::Expression<R<'_>>,
    encoding: Encoding,
    initial: Option<u64>,
    regs: &RegFile,
    read: &mut dyn FnMut(u64) -> Option<u64>,
) -> Option<u64> {
    let mut e = expr.evaluation(encoding);
    // A CFI expression is a handful of operations; a branch that loops is damage.
    e.set_max_iterations(1000);
    if let Some(v) = initial {
        e.set_initial_value(v);
    }
    let mut state = e.evaluate().ok()?;
    loop {
        state = match state {
            EvaluationResult::Complete => break,
            EvaluationResult::RequiresMemory { address, size, .. } => {
                let mut v = read(address)?;
                if size < 8 {
                    v &= (1u64 << (u32::from(size) * 8)) - 1;
                }
                e.resume_with_memory(Value::Generic(v)).ok()?
            }
            EvaluationResult::RequiresRegister { register, .. } => {
                let v = get(regs, register)?;
                e.resume_with_register(Value::Generic(v)).ok()?
            }
            _ => return None,
        };
    }
    match e.as_result() {
        [Piece {
            location: Location::Address { address },
            ..
        }] => Some(*address),
        [Piece {
            location: Location::Value { value },
            ..
        }] => value.to_u64(u64::MAX).ok(),
        _ => None,
    }
}

/// The module holding runtime address `addr` (modules sorted by start).
pub(crate) fn module_at(modules: &[CfiModule], addr: u64) -> Option<&CfiModule> {
    let i = modules
        .partition_point(|m| m.range.start <= addr)
        .checked_sub(1)?;
    Some(&modules[i]).filter(|m| addr < m.range.end)
}

/// Walks the stack of `regs` (with `stack` the bytes from `regs.sp` up) through every
/// frame's CFI, tracking all the general-purpose registers `regs` knows. Where no FDE
/// covers a frame, framehop's own rules apply: the first frame returns at once (a leaf
/// without CFI, such as a PLT stub's target before its prologue), the others follow rbp.
pub(crate) fn walk(
    modules: &[CfiModule],
    ctx: &mut UnwindContext<usize>,
    regs: &Regs,
    stack: &[u8],
    max: usize,
) -> Unwound {
    let sp = regs.sp;
    let mut read = |addr: u64| -> Option<u64> {
        let off = usize::try_from(addr.checked_sub(sp)?).ok()?;
        let bytes = stack.get(off..off.checked_add(8)?)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    };
    let mut file: RegFile = [None; NREGS];
    for (i, slot) in file.iter_mut().enumerate().take(16) {
        *slot = regs.dwarf(i as u16);
    }
    file[RA] = Some(regs.ip);
    let mut frames = vec![Frame::InstructionPointer(regs.ip)];
    let mut truncated = false;
    while frames.len() < max {
        let first = frames.len() == 1;
        let Some(ip) = file[RA] else { break };
        // A return address is looked up one byte back: the call, not what follows it.
        let pc = if first { ip } else { ip.wrapping_sub(1) };
        let stepped = match module_at(modules, pc) {
            Some(m) => m.step(ctx, pc.wrapping_sub(m.bias), &mut file, sp, &mut read),
            None => Ok(false),
        };
        let result = match stepped {
            Ok(true) => Ok(()),
            Ok(false) => without_cfi(&mut file, first, &mut read),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {}
            Err(Stop::End) => break,
            Err(Stop::OffStack) => {
                truncated = true;
                frames.push(Frame::OffStack);
                break;
            }
            Err(Stop::Failed) => {
                truncated = true;
                break;
            }
        }
        match file[RA] {
            Some(0) | None => {
                truncated = true;
                break;
            }
            Some(ra) => frames.push(Frame::ReturnAddress(ra)),
        }
    }
    Unwound { frames, truncated }
}

/// framehop's rules for code no FDE covers.
fn without_cfi(
    regs: &mut RegFile,
    first: bool,
    read: &mut impl FnMut(u64) -> Option<u64>,
) -> Result<(), Stop> {
    let sp = regs[RSP].ok_or(Stop::Failed)?;
    if first {
        let ra = read(sp).ok_or(Stop::OffStack)?;
        regs[RSP] = Some(sp.wrapping_add(8));
        regs[RA] = Some(ra);
        return Ok(());
    }
    let bp = regs[RBP].ok_or(Stop::Failed)?;
    let cfa = bp.checked_add(16).ok_or(Stop::Failed)?;
    if cfa <= sp {
        return Err(Stop::Failed);
    }
    let ra = read(bp + 8).ok_or(Stop::OffStack)?;
    regs[RBP] = Some(read(bp).ok_or(Stop::OffStack)?);
    regs[RSP] = Some(cfa);
    regs[RA] = Some(ra);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `.debug_frame` (version 1, 64-bit addresses) with one CIE (CFA = rsp + 8, return
    /// address at CFA - 8) and an FDE per `(start, end, instructions)`.
    fn debug_frame(fdes: &[(u64, u64, &[u8])]) -> Bytes {
        let mut out = Vec::new();
        let mut entry = |body: &[u8]| {
            let mut body = body.to_vec();
            while (body.len() + 4) % 8 != 0 {
                body.push(0); // DW_CFA_nop
            }
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&body);
        };
        // CIE id, version 1, no augmentation, code align 1, data align -8, RA register 16;
        // DW_CFA_def_cfa rsp 8, DW_CFA_offset ra 1 (x -8).
        entry(&[
            0xff, 0xff, 0xff, 0xff, 1, 0, 1, 0x78, 16, 0x0c, 7, 8, 0x90, 1,
        ]);
        for (start, end, ops) in fdes {
            let mut body = 0u32.to_le_bytes().to_vec(); // the CIE at offset 0
            body.extend_from_slice(&start.to_le_bytes());
            body.extend_from_slice(&(end - start).to_le_bytes());
            body.extend_from_slice(ops);
            entry(&body);
        }
        let range = 0..out.len();
        Bytes {
            data: out.into(),
            range,
        }
    }

    /// ld.so's lazy binding in miniature, at file addresses 0x1000 to 0x5000:
    /// - 0x1000 `trampoline`: `mov %rsp,%rbx; and $-64,%rsp`, so CFA = rbx + 32, its
    ///   caller's rbx saved at CFA - 32 (`_dl_runtime_resolve_xsavec`'s CFI);
    /// - 0x2000 `fixup`, the leaf: one push, CFA = rsp + 16; when `saves_rbx`, that push
    ///   is rbx (at CFA - 16), else rbx is untouched and only the sample knows it;
    /// - 0x3000 `main`: CFA = rsp + 16;
    /// - 0x4000 `start`: the return address undefined, the outermost frame.
    ///
    /// Returns the module (mapped with `bias`), the sample's registers (rbx given) and its
    /// stack bytes: fixup → trampoline → main → start.
    pub(crate) fn lazy_binding(saves_rbx: bool, bias: u64) -> (CfiModule, Regs, Vec<u8>) {
        let fixup: &[u8] = if saves_rbx {
            &[0x0e, 16, 0x83, 2] // def_cfa_offset 16; offset rbx 2 (x -8)
        } else {
            &[0x0e, 16]
        };
        let frame = debug_frame(&[
            (0x1000, 0x1100, &[0x0c, 3, 32, 0x83, 4]), // def_cfa rbx 32; offset rbx 4
            (0x2000, 0x2100, fixup),
            (0x3000, 0x3100, &[0x0e, 16]),
            (0x4000, 0x4100, &[0x07, 16]), // undefined ra
        ]);
        let sp = 0x7ffc_0000_0000u64;
        let mut stack = vec![0u8; 128];
        let mut put =
            |at: u64, v: u64| stack[at as usize..at as usize + 8].copy_from_slice(&v.to_le_bytes());
        let tramp_rbx = sp + 48; // so the trampoline's CFA is sp + 80, 64 bytes above its frame
        let rbx_in_sample = if saves_rbx {
            put(0, tramp_rbx); // fixup's push
            0xdead_beef // fixup's own use of rbx
        } else {
            tramp_rbx
        };
        put(8, bias + 0x1050); // fixup returns into the trampoline
        put(48, 0x1234); // main's rbx, saved by the trampoline
        put(72, bias + 0x3020); // the trampoline returns into main
        put(88, bias + 0x4010); // main returns into start
        let module = CfiModule {
            range: bias + 0x1000..bias + 0x5000,
            bias,
            text: None,
            got: None,
            eh_frame: None,
            eh_frame_hdr: None,
            debug_frame: Some(frame),
            scan: FdeScan::default(),
        };
        let regs = Regs::new(bias + 0x2010, sp, 0).with(crate::Reg::Rbx, rbx_in_sample);
        (module, regs, stack)
    }

    fn frames(bias: u64) -> Vec<Frame> {
        vec![
            Frame::InstructionPointer(bias + 0x2010),
            Frame::ReturnAddress(bias + 0x1050),
            Frame::ReturnAddress(bias + 0x3020),
            Frame::ReturnAddress(bias + 0x4010),
        ]
    }

    #[test]
    fn a_cfa_through_rbx_is_followed_with_the_sampled_rbx() {
        let bias = 0x5555_0000_0000;
        let (m, regs, stack) = lazy_binding(false, bias);
        let mut ctx = UnwindContext::new();
        let u = walk(std::slice::from_ref(&m), &mut ctx, &regs, &stack, 64);
        assert_eq!(u.frames, frames(bias));
        assert!(
            !u.truncated,
            "start's undefined return address ends it cleanly"
        );
        // Without rbx nothing says where the trampoline's frame ends.
        let bare = Regs::new(regs.ip, regs.sp, regs.bp);
        let u = walk(std::slice::from_ref(&m), &mut ctx, &bare, &stack, 64);
        assert_eq!(u.frames, frames(bias)[..2]);
        assert!(u.truncated);
    }

    #[test]
    fn rbx_saved_by_a_callee_is_restored_before_the_trampoline_uses_it() {
        let (m, regs, stack) = lazy_binding(true, 0);
        let mut ctx = UnwindContext::new();
        let u = walk(std::slice::from_ref(&m), &mut ctx, &regs, &stack, 64);
        assert_eq!(u.frames, frames(0));
        // The limit on frames holds.
        let u = walk(std::slice::from_ref(&m), &mut ctx, &regs, &stack, 2);
        assert_eq!(u.frames, frames(0)[..2]);
    }

    #[test]
    fn a_return_address_past_the_recorded_bytes_is_perfs_unknown_frame() {
        let (m, regs, stack) = lazy_binding(true, 0);
        let mut ctx = UnwindContext::new();
        // main's return address (at 88) is no longer recorded.
        let u = walk(std::slice::from_ref(&m), &mut ctx, &regs, &stack[..88], 64);
        assert_eq!(u.frames[..3], frames(0)[..3]);
        assert_eq!(u.frames.last(), Some(&Frame::OffStack));
        assert!(u.truncated);
    }
}
