//! `rperf script`: every sample of a perf.data as one line (or a stack), in perf script's
//! default layout, so existing consumers (stackcollapse-perf.pl, inferno) read it unchanged.
use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::data::{self, Mode};
use crate::replay::{Item, Parts, Replay, Verdict};
use crate::report::header::Header;
use crate::session::{Session, Symbolizer};

/// Options of `rperf script`.
/// Stack texts kept for reuse, in bytes, before the cache starts over.
const MAX_BLOCK_TEXT: usize = 32 << 20;

#[derive(Debug, Clone, Default)]
pub struct ScriptConfig {
    /// `-i`.
    pub input: PathBuf,
    /// `--symfs`.
    pub symfs: Option<PathBuf>,
    /// `--max-stack` (unlimited by default, unlike perf's 127).
    pub max_stack: Option<usize>,
    /// `--folded`: folded stacks instead of samples.
    pub folded: bool,
    /// `-F`: the fields to print (perf's defaults when `None`).
    pub fields: Option<Fields>,
    /// Which call-chain frames show the functions inlined at their address.
    pub inline: Inline,
    /// `--header` / `--header-only`.
    pub header: Header,
    /// `--comm/--pid/--tid`, `-C/--cpu`, `--time`: which samples are printed.
    pub filter: crate::replay::Filter,
    /// `-D/--dump-raw-trace`: every record dumped, perf's layout.
    pub dump: bool,
    /// `--show-cgroup-events`: CGROUP records among the samples.
    pub show_cgroups: bool,
    /// `--show-namespace-events`: NAMESPACES records among the samples.
    pub show_namespaces: bool,
}

/// Which call-chain frames show the functions DWARF says are inlined at their address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Inline {
    /// perf's default: the frames of DWARF-unwound stacks (`--call-graph dwarf`); perf's
    /// other chains never show them.
    #[default]
    Dwarf,
    /// `--inline`: frame-pointer chains too (an rperf extension: perf's `--inline` is its
    /// default and adds nothing to them).
    All,
    /// `--no-inline`.
    Off,
}

/// Formats `sym+0xoff (dso)` for one frame, perf-style.
/// The pieces of one frame: symbol (with its offset when known) and binary.
struct FramePart {
    sym: String,
    offset: Option<u64>,
    dso: String,
    /// The text after the address, for the fields it was built for.
    text: Option<(Fields, String)>,
}

/// Each distinct (binary, address) is symbolized once: the same frames recur in most samples.
#[derive(Default)]
struct FrameTexts {
    parts: rustc_hash::FxHashMap<(u32, u64), FramePart>,
}

impl FrameTexts {
    /// Appends the selected pieces of a frame (` sym+0xoff`, ` (dso)`); returns the address
    /// perf prints for it (map-relative for user code).
    #[allow(clippy::too_many_arguments)]
    fn frame_text(
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
fn frame_suffix(out: &mut String, sym: &str, offset: Option<u64>, dso: &str, f: &Fields) {
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

/// Appends `v` in lower-case hex, right-aligned in `width` columns (printf's `%16lx`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pad {
    Right,
    Left,
    Zero,
}

/// A decimal number in `width` columns, as `{:5}`, `{:<5}` and `{:06}` print it; the
/// per-sample line is built this way because formatting machinery dominated its cost.
fn push_num(out: &mut String, v: i64, width: usize, pad: Pad) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = std::str::from_utf8(&buf[i..]).unwrap_or("0");
    let len = digits.len() + usize::from(v < 0);
    let fill = width.saturating_sub(len);
    if pad == Pad::Right {
        out.extend(std::iter::repeat_n(' ', fill));
    }
    if v < 0 {
        out.push('-');
    }
    if pad == Pad::Zero {
        out.extend(std::iter::repeat_n('0', fill));
    }
    out.push_str(digits);
    if pad == Pad::Left {
        out.extend(std::iter::repeat_n(' ', fill));
    }
}

fn push_hex(out: &mut String, v: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [b' '; 16];
    let mut n = v;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    let digits = buf.len() - i;
    for _ in digits..width {
        out.push(' ');
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or(""));
}

/// The fields `-F` selects, in perf's names; printed in perf's fixed order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fields {
    /// Command name.
    pub comm: bool,
    /// Process id.
    pub pid: bool,
    /// Thread id.
    pub tid: bool,
    /// CPU, when sampled.
    pub cpu: bool,
    /// Timestamp.
    pub time: bool,
    /// Sample weight.
    pub period: bool,
    /// Event name.
    pub event: bool,
    /// Tracepoint fields.
    pub trace: bool,
    /// Addresses (and the call chain when recorded).
    pub ip: bool,
    /// Symbol names (with `ip`).
    pub sym: bool,
    /// `+0xoff` after symbols.
    pub symoff: bool,
    /// Binary names (with `ip`).
    pub dso: bool,
}

impl Fields {
    /// Parses perf's `-F` list.
    pub fn parse(list: &str) -> Result<Fields> {
        let mut f = Fields::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "comm" => f.comm = true,
                "pid" => f.pid = true,
                "tid" => f.tid = true,
                "cpu" => f.cpu = true,
                "time" => f.time = true,
                "period" => f.period = true,
                "event" => f.event = true,
                "trace" => f.trace = true,
                "ip" => f.ip = true,
                "sym" => f.sym = true,
                "symoff" => f.symoff = true,
                "dso" => f.dso = true,
                other => anyhow::bail!(
                    "unknown -F field '{other}': use comm, pid, tid, cpu, time, period, event, trace, ip, sym, symoff, dso"
                ),
            }
        }
        Ok(f)
    }

    /// perf's default fields for an event: tracepoints show their fields and no period;
    /// addresses are shown for tracepoints only with a call chain.
    fn default_for(ev: &data::EventInfo) -> Fields {
        let tp = ev.tracepoint.is_some();
        let ip = !tp || ev.has_callchain;
        Fields {
            comm: true,
            pid: false,
            tid: true,
            cpu: ev.has_cpu,
            time: true,
            period: !tp,
            event: true,
            trace: tp,
            ip,
            sym: ip,
            symoff: ip,
            dso: ip,
        }
    }
}

/// The line perf script prints for a CGROUP or NAMESPACES record when asked to: its
/// thread's name (the record's own task for NAMESPACES, the sample_id's for CGROUP; tid 0
/// is perf's `swapper`), the sample_id's tid, CPU and time, then the record as perf 6.1
/// words it.
fn side_line(
    cfg: &ScriptConfig,
    f: &Fields,
    ev: &data::EventInfo,
    session: &crate::session::Session,
    rec: &data::Record,
) -> Option<String> {
    let (named_tid, at, body) = match rec {
        data::Record::Cgroup { id, path, at } if cfg.show_cgroups => (
            at.tid,
            at,
            format!("PERF_RECORD_CGROUP cgroup: {id} {path}\n"),
        ),
        data::Record::Namespaces { pid, tid, ns, at } if cfg.show_namespaces => {
            const NAMES: [&str; 7] = ["net", "uts", "ipc", "pid", "user", "mnt", "cgroup"];
            let mut b = format!(
                "PERF_RECORD_NAMESPACES {pid}/{tid} - nr_namespaces: {}\n\t\t[",
                ns.len()
            );
            for (i, (dev, ino)) in ns.iter().enumerate() {
                let name = NAMES.get(i).copied().unwrap_or("unknown");
                // printf's %#lx: no 0x for zero.
                if *ino == 0 {
                    let _ = write!(b, "{i}/{name}: {dev}/0");
                } else {
                    let _ = write!(b, "{i}/{name}: {dev}/{ino:#x}");
                }
                if i + 1 < ns.len() {
                    b.push_str(", ");
                    // perf breaks the list after every fourth namespace.
                    if (i + 1) % 4 == 0 {
                        b.push_str("\n\t\t ");
                    }
                }
            }
            b.push_str("]\n");
            (*tid, at, b)
        }
        _ => return None,
    };
    let mut line = String::new();
    if f.comm {
        let comm = if named_tid == 0 {
            "swapper".to_string()
        } else {
            session.comm(named_tid)
        };
        let _ = write!(line, "{comm:>16} ");
    }
    if f.pid || f.tid {
        push_num(&mut line, i64::from(at.tid), 5, Pad::Right);
        line.push(' ');
    }
    if let Some(cpu) = at.cpu.filter(|_| f.cpu && ev.has_cpu) {
        let _ = write!(line, "[{cpu:03}] ");
    }
    if f.time {
        push_num(&mut line, (at.time / 1_000_000_000) as i64, 5, Pad::Right);
        line.push('.');
        push_num(
            &mut line,
            ((at.time % 1_000_000_000) / 1000) as i64,
            6,
            Pad::Zero,
        );
        line.push_str(": ");
    }
    line.push_str(&body);
    Some(line)
}

/// Runs `rperf script`.
pub fn run(cfg: ScriptConfig) -> Result<ExitCode> {
    if cfg.header != Header::No {
        crate::output::stdout(&crate::report::header::text(&cfg.input)?)?;
        if cfg.header == Header::Only {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if cfg.folded {
        let opts = crate::report::folded::FoldOptions {
            symfs: cfg.symfs.clone(),
            max_stack: cfg.max_stack,
            inline: cfg.inline == Inline::All,
            filter: cfg.filter.clone(),
            ..Default::default()
        };
        let mut text = String::new();
        for l in crate::report::folded::folded_lines(&cfg.input, &opts)? {
            text.push_str(&l);
            text.push('\n');
        }
        crate::output::stdout(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    if cfg.dump {
        crate::cmd::dump::check(&cfg.input)?;
    }
    let mut texts = FrameTexts::default();
    let load_symbols = cfg.fields.is_none_or(|f| f.sym);
    let mut replay = Replay::new(
        &cfg.input,
        cfg.symfs.clone(),
        cfg.filter.clone(),
        load_symbols,
    )?;
    let stdout = io::stdout();
    let mut w = BufWriter::with_capacity(1 << 16, stdout.lock());
    let max = cfg.max_stack.unwrap_or(usize::MAX);
    let mut name_width: Option<usize> = None;
    let mut formats = crate::report::trace::Formats::default();
    let mut line = String::with_capacity(256);
    // One frame's text after its address, reused for every frame.
    let mut rest = String::with_capacity(128);
    let mut inlined: InlineCache = Default::default();
    let mut io_err: Option<io::Error> = None;
    let mut key: Vec<u64> = Vec::new();
    let mut blocks: rustc_hash::FxHashMap<Box<[u64]>, (usize, usize)> = Default::default();
    let mut block_text = String::new();
    // With -D, each sample's text by its index, for the dump to print in its place.
    let mut dumped: Option<rustc_hash::FxHashMap<u64, String>> = cfg.dump.then(Default::default);
    let r = replay.run(&cfg.input, |parts, header, item| {
        if io_err.is_some() {
            return;
        }
        let (s, verdict) = match item {
            Item::Sample(s, verdict) => (s, verdict),
            Item::Side(rec) => {
                let Some(ev) = header.events.first() else {
                    return;
                };
                let f = cfg.fields.unwrap_or_else(|| Fields::default_for(ev));
                if let Some(text) = side_line(&cfg, &f, ev, &parts.session, rec) {
                    if let Err(e) = w.write_all(text.as_bytes()) {
                        io_err = Some(e);
                    }
                }
                return;
            }
        };
        let Parts {
            session,
            syms,
            stacks,
        } = parts;
        let index = s.index;
        if let Some(d) = dumped.as_mut() {
            // perf resolves the sample's thread and binary before its filters hide it.
            let id = session.comm_id(s.tid);
            let dso = session
                .resolve(s.pid, s.ip, s.mode)
                .map_or("<not found>", |l| session.dsos()[l.dso as usize].path.as_str());
            let text = format!(
                " ... thread: {}:{}\n ...... dso: {dso}\n",
                session.comm_name(id),
                s.tid
            );
            d.insert(index, text);
        }
        // perf script prints only what passes its --comm/--pid/--tid filters.
        if verdict != Verdict::Shown {
            return;
        }
        let width = *name_width.get_or_insert_with(|| {
            header
                .events
                .iter()
                .map(|e| e.name.len())
                .max()
                .unwrap_or(0)
        });
        let ev = &header.events[s.event.min(header.events.len().saturating_sub(1))];
        let tp = ev.tracepoint.is_some();
        let f = cfg.fields.unwrap_or_else(|| Fields::default_for(ev));
        if f.cpu && !ev.has_cpu {
            io_err = Some(io::Error::other(format!(
                "samples of event '{}' carry no CPU, so -F cpu cannot be printed (record with -a or -C)",
                ev.name
            )));
            return;
        }
        let chain = f.ip && s.callchain.is_some() && ev.has_callchain;
        line.clear();
        if f.comm {
            let id = session.comm_id(s.tid);
            let comm = session.comm_name(id);
            if !chain {
                let n = comm.chars().count();
                line.extend(std::iter::repeat_n(' ', 16usize.saturating_sub(n)));
            }
            line.push_str(comm);
            line.push(' ');
        }
        match (f.pid, f.tid) {
            (true, true) => {
                push_num(&mut line, i64::from(s.pid), 5, Pad::Right);
                line.push('/');
                push_num(&mut line, i64::from(s.tid), 5, Pad::Left);
                line.push(' ');
            }
            (true, false) => {
                push_num(&mut line, i64::from(s.pid), 5, Pad::Right);
                line.push(' ');
            }
            (false, true) => {
                push_num(&mut line, i64::from(s.tid), 5, Pad::Right);
                line.push(' ');
            }
            (false, false) => {}
        }
        if let Some(cpu) = s.cpu.filter(|_| f.cpu && ev.has_cpu) {
            let _ = write!(line, "[{cpu:03}] ");
        }
        if f.time {
            // usec_time's text, right-aligned in 12 columns.
            push_num(&mut line, (s.time / 1_000_000_000) as i64, 5, Pad::Right);
            line.push('.');
            let us = (s.time % 1_000_000_000) / 1000;
            push_num(&mut line, us as i64, 6, Pad::Zero);
            line.push_str(": ");
        }
        if f.period {
            push_num(&mut line, s.period as i64, 10, Pad::Right);
            line.push(' ');
        }
        if f.event {
            let _ = write!(line, "{:>width$}: ", ev.name);
        }
        if f.trace && tp {
            let raw = s.raw.as_deref().unwrap_or(&[]);
            let text = formats.text(
                header.tracing_data.as_deref(),
                ev.tracepoint,
                raw,
                syms,
            );
            line.push_str(&text);
        }
        if chain {
            line.push('\n');
            // A stack's lines depend only on the address space and the chain: the text of
            // each distinct one is built once (DWARF stacks, unwound from their own bytes,
            // every time).
            let cacheable = s.user_stack.is_none();
            if cacheable {
                key.clear();
                key.extend([
                    s.event as u64,
                    u64::from(s.pid as u32),
                    session.maps_generation(s.pid),
                    session.kernel_generation(),
                    s.mode as u64,
                ]);
                key.extend_from_slice(s.callchain.unwrap_or(&[]));
            }
            match cacheable.then(|| blocks.get(key.as_slice())).flatten() {
                Some(&(a, b)) => line.push_str(&block_text[a..b]),
                None => {
                    let from = line.len();
                    for (i, fr) in stacks.frames(session, &s, max).into_iter().enumerate() {
                        rest.clear();
                        let addr = texts.frame_text(
                            &mut rest, session, syms, s.pid, fr.addr, fr.mode, &f,
                        );
                        let expand = match cfg.inline {
                            Inline::Dwarf => fr.unwound,
                            Inline::All => true,
                            Inline::Off => false,
                        };
                        if expand
                            && inline_lines(
                                &mut line,
                                session,
                                syms,
                                &mut inlined,
                                s.pid,
                                fr,
                                (addr, &rest),
                                i > 0,
                                &f,
                            )
                        {
                            continue;
                        }
                        line.push('\t');
                        push_hex(&mut line, addr, 16);
                        line.push_str(&rest);
                        line.push('\n');
                    }
                    if cacheable {
                        // Bounded: start over when the texts grow large.
                        if block_text.len() > MAX_BLOCK_TEXT {
                            block_text.clear();
                            blocks.clear();
                        }
                        let a = block_text.len();
                        block_text.push_str(&line[from..]);
                        blocks.insert(key.as_slice().into(), (a, block_text.len()));
                    }
                }
            }
            line.push('\n');
        } else if f.ip && (!tp || cfg.fields.is_some()) {
            rest.clear();
            texts.frame_text(&mut rest, session, syms, s.pid, s.ip, s.mode, &f);
            let _ = writeln!(line, " {:16x}{rest}", s.ip);
        } else {
            line.push('\n');
        }
        if let Some(t) = dumped.as_mut().and_then(|d| d.get_mut(&index)) {
            t.push_str(&line);
        } else if let Err(e) = w.write_all(line.as_bytes()) {
            io_err = Some(e);
        }
    });
    let flushed = w.flush();
    match io_err.or(flushed.err()) {
        Some(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Some(e) => return Err(e.into()),
        None => {}
    }
    r?;
    if let Some(texts) = dumped {
        let done =
            crate::cmd::dump::print(&cfg.input, &texts, &mut w).and_then(|()| Ok(w.flush()?));
        if let Err(e) = done {
            let closed = e
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe);
            if !closed {
                return Err(e);
            }
        }
    }
    if let Some(n) = replay.parts.stacks.truncation_note() {
        eprintln!("{n}");
    }
    Ok(ExitCode::SUCCESS)
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
type InlineCache = rustc_hash::FxHashMap<(u32, u64), std::rc::Rc<[rperf_symbols::InlineFrame]>>;

#[allow(clippy::too_many_arguments)]
/// perf's lines for one call-chain frame when DWARF places inlined calls at its address
/// (`append_inlines`): one line per function DWARF names there, innermost first, at the
/// frame's address with the containing symbol's offset. A function named as the symbol is
/// the frame's own line (`shown`: its address and text); any other is `name+off (inlined)`,
/// so a containing function whose DWARF name differs from its symbol (libc's
/// `__libc_start_main_impl` for `__libc_start_main@@GLIBC_2.34`) shows under its DWARF name.
/// False, with nothing written, for a frame without symbol or DWARF: it prints as usual.
fn inline_lines(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_pad_like_format() {
        for v in [0i64, 7, -1, 42, 12345, 123456, -98765, 1 << 40] {
            let mut s = String::new();
            push_num(&mut s, v, 5, Pad::Right);
            push_num(&mut s, v, 5, Pad::Left);
            push_num(&mut s, v, 6, Pad::Zero);
            assert_eq!(s, format!("{v:5}{v:<5}{v:06}"));
        }
    }

    #[test]
    fn hex_pads_like_printf() {
        let mut s = String::new();
        push_hex(&mut s, 0x1189, 16);
        push_hex(&mut s, 0, 4);
        push_hex(&mut s, u64::MAX, 16);
        assert_eq!(s, format!("{:16x}{:4x}{:16x}", 0x1189, 0, u64::MAX));
    }
}
