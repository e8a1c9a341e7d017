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

mod fields;
mod frames;
mod side;

pub use fields::Fields;
use fields::*;
pub use frames::binutils_name;
use frames::*;

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
                if let Some(text) = side::side_line(&cfg, &f, ev, &parts.session, rec) {
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
