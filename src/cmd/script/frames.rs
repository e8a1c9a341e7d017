//! A call-chain frame's text as perf script prints it, with the functions inlined there.
use super::*;

/// Formats `sym+0xoff (dso)` for one frame, perf-style.
/// The pieces of one frame: symbol (with its offset when known) and binary.
pub(super) struct FramePart {
    pub(super) sym: String,
    pub(super) offset: Option<u64>,
    pub(super) dso: String,
    /// The text after the address, for the fields it was built for.
    pub(super) text: Option<(Fields, String)>,
}

/// Each distinct (binary, address) is symbolized once: the same frames recur in most samples.
#[derive(Default)]
pub(super) struct FrameTexts {
    pub(super) parts: rustc_hash::FxHashMap<(u32, u64), FramePart>,
}

impl FrameTexts {
    /// Appends the selected pieces of a frame (` sym+0xoff`, ` (dso)`); returns the address
    /// perf prints for it (map-relative for user code).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn frame_text(
        &mut self,
        out: &mut String,
        session: &Session,
        syms: &mut Symbolizer,
        pid: i32,
        addr: u64,
        mode: Mode,
        f: &Fields,
    ) -> u64 {
        const UNKNOWN: (&str, Option<u64>, &str) = ("[unknown]", None, "[unknown]");
        let loc = session.resolve(pid, addr, mode);
        let part = loc.map(|loc| {
            self.parts.entry((loc.dso, loc.rel)).or_insert_with(|| {
                let dso = session.dsos()[loc.dso as usize].path.clone();
                match syms.symbol(session, loc) {
                    Some(s) => FramePart {
                        sym: s.name,
                        offset: Some(s.offset),
                        dso,
                        text: None,
                    },
                    None => FramePart {
                        sym: "[unknown]".into(),
                        offset: None,
                        dso,
                        text: None,
                    },
                }
            })
        });
        // The text is built once per (binary, address) for the fields in use, then copied.
        match part {
            Some(p) => {
                if p.text.as_ref().is_none_or(|(fields, _)| fields != f) {
                    let mut t = String::new();
                    frame_suffix(&mut t, &p.sym, p.offset, &p.dso, f);
                    p.text = Some((*f, t));
                }
                if let Some((_, t)) = &p.text {
                    out.push_str(t);
                }
            }
            None => frame_suffix(out, UNKNOWN.0, UNKNOWN.1, UNKNOWN.2, f),
        }
        loc.map_or(addr, |l| l.rel)
    }
}

/// ` sym+0xoff (dso)` as the fields ask for it.
pub(super) fn frame_suffix(
    out: &mut String,
    sym: &str,
    offset: Option<u64>,
    dso: &str,
    f: &Fields,
) {
    if f.sym {
        out.push(' ');
        out.push_str(sym);
        if let (true, Some(off)) = (f.symoff, offset) {
            let _ = write!(out, "+0x{off:x}");
        }
    }
    if f.dso {
        out.push_str(" (");
        out.push_str(dso);
        out.push(')');
    }
}

/// The name perf gets from binutils' addr2line for frame `n` (innermost 0) of an inline
/// stack whose address lies in the ELF symbol `sym`: binutils names the innermost frame
/// after the symbol when DWARF gives no name (a split-DWARF skeleton whose .dwo is not
/// read) or no linkage name (Go's functions, inlined ones too).
pub fn binutils_name<'a>(n: usize, frame: &'a rperf_symbols::InlineFrame, sym: &'a str) -> &'a str {
    match &frame.function {
        Some(name) if n > 0 || frame.linkage => name,
        _ => sym,
    }
}

/// The DWARF inline stacks of addresses, by (binary, address), looked up once each.
pub(super) type InlineCache =
    rustc_hash::FxHashMap<(u32, u64), std::rc::Rc<[rperf_symbols::InlineFrame]>>;

#[allow(clippy::too_many_arguments)]
/// perf's lines for one call-chain frame when DWARF places inlined calls at its address
/// (`append_inlines`): one line per function DWARF names there, innermost first, at the
/// frame's address with the containing symbol's offset. A function named as the symbol is
/// the frame's own line (`shown`: its address and text); any other is `name+off (inlined)`,
/// so a containing function whose DWARF name differs from its symbol (libc's
/// `__libc_start_main_impl` for `__libc_start_main@@GLIBC_2.34`) shows under its DWARF name.
/// False, with nothing written, for a frame without symbol or DWARF: it prints as usual.
pub(super) fn inline_lines(
    out: &mut String,
    session: &Session,
    syms: &mut Symbolizer,
    cache: &mut InlineCache,
    pid: i32,
    fr: crate::callchain::Frame,
    shown: (u64, &str),
    caller: bool,
    f: &Fields,
) -> bool {
    let Some(loc) = session.resolve(pid, fr.addr, fr.mode) else {
        return false;
    };
    let Some(sym) = syms.symbol(session, loc) else {
        return false;
    };
    // A frame-pointer caller is a return address: the call is the byte before. Unwound
    // frames are at the call already.
    let at = crate::session::Location {
        rel: loc.rel.saturating_sub(u64::from(caller && !fr.unwound)),
        ..loc
    };
    let stack = cache
        .entry((at.dso, at.rel))
        .or_insert_with(|| syms.addr2line_stack(session, at).into())
        .clone();
    if stack.is_empty() {
        return false;
    }
    let (addr, text) = shown;
    for (n, i) in stack.iter().enumerate() {
        let name = binutils_name(n, i, &sym.name);
        let _ = write!(out, "\t{addr:16x}");
        if name == sym.name {
            out.push_str(text);
        } else {
            if f.sym {
                out.push(' ');
                out.push_str(name);
                if f.symoff {
                    let _ = write!(out, "+{:#x}", sym.offset);
                }
            }
            out.push_str(" (inlined)");
        }
        out.push('\n');
    }
    true
}
