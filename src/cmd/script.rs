//! `rperf script`: every sample of a perf.data as one line (or a stack), in perf script's
//! default layout, so existing consumers (stackcollapse-perf.pl, inferno) read it unchanged.
use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::data::{self, Mode, Record};
use crate::session::{Session, Symbolizer};

/// Options of `rperf script`.
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
}

/// perf's `timestamp__scnprintf_usec`: seconds and microseconds.
pub fn usec_time(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, (ns % 1_000_000_000) / 1000)
}

/// Formats `sym+0xoff (dso)` for one frame, perf-style.
/// Each distinct (binary, address) is formatted once: the same frames recur in most samples.
#[derive(Default)]
struct FrameTexts {
    texts: rustc_hash::FxHashMap<(u32, u64), String>,
}

impl FrameTexts {
    fn frame_text(
        &mut self,
        out: &mut String,
        session: &Session,
        syms: &mut Symbolizer,
        pid: i32,
        addr: u64,
        mode: Mode,
    ) -> u64 {
        match session.resolve(pid, addr, mode) {
            Some(loc) => {
                let text = self.texts.entry((loc.dso, loc.rel)).or_insert_with(|| {
                    let dso = &session.dsos()[loc.dso as usize];
                    match syms.symbol(session, loc) {
                        Some(s) => format!("{}+0x{:x} ({})", s.name, s.offset, dso.path),
                        None => format!("[unknown] ({})", dso.path),
                    }
                });
                out.push_str(text);
                loc.rel
            }
            None => {
                out.push_str("[unknown] ([unknown])");
                addr
            }
        }
    }
}

/// Runs `rperf script`.
pub fn run(cfg: ScriptConfig) -> Result<ExitCode> {
    if cfg.folded {
        let opts = crate::report::folded::FoldOptions {
            symfs: cfg.symfs.clone(),
            max_stack: cfg.max_stack,
            ..Default::default()
        };
        let mut text = String::new();
        for l in crate::cmd::flamegraph::folded_lines(&cfg.input, &opts)? {
            text.push_str(&l);
            text.push('\n');
        }
        crate::output::stdout(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut session = Session::new();
    let mut syms = Symbolizer::new(cfg.symfs.clone());
    let mut texts = FrameTexts::default();
    let mut stacks = crate::callchain::Stacks::new(cfg.symfs.clone());
    let stdout = io::stdout();
    let mut w = BufWriter::with_capacity(1 << 16, stdout.lock());
    let max = cfg.max_stack.unwrap_or(usize::MAX);
    let mut name_width: Option<usize> = None;
    let mut formats: Option<std::collections::HashMap<u64, crate::report::trace::Format>> = None;
    let mut line = String::with_capacity(256);
    let mut io_err: Option<io::Error> = None;
    let r = data::read(&cfg.input, |header, rec| {
        if io_err.is_some() {
            return;
        }
        let Record::Sample(s) = rec else {
            session.apply(&rec);
            return;
        };
        let width = *name_width.get_or_insert_with(|| {
            header
                .events
                .iter()
                .map(|e| e.name.len())
                .max()
                .unwrap_or(0)
        });
        let ev = &header.events[s.event.min(header.events.len().saturating_sub(1))];
        let chain = s.callchain.is_some() && ev.has_callchain;
        let tp = ev.tracepoint.is_some();
        line.clear();
        let comm = session.comm(s.tid);
        if chain {
            let _ = write!(line, "{comm} ");
        } else {
            let _ = write!(line, "{comm:>16} ");
        }
        let _ = write!(line, "{:5} ", s.tid);
        if let Some(cpu) = s.cpu.filter(|_| ev.has_cpu) {
            let _ = write!(line, "[{cpu:03}] ");
        }
        let _ = write!(line, "{:>12}: ", usec_time(s.time));
        if !tp {
            let _ = write!(line, "{:10} ", s.period);
        }
        let _ = write!(line, "{:>width$}: ", ev.name);
        if tp {
            let formats = formats.get_or_insert_with(|| {
                header
                    .tracing_data
                    .as_deref()
                    .map(crate::report::trace::parse_tracing_data)
                    .unwrap_or_default()
            });
            let raw = s.raw.as_deref().unwrap_or(&[]);
            match ev.tracepoint.and_then(|id| formats.get(&id)) {
                Some(f) => match crate::report::trace::pretty(f, raw) {
                    Some(text) => line.push_str(&text),
                    None => line.push_str(&crate::report::trace::fields(f, raw)),
                },
                None => {
                    let _ = write!(line, "[{} bytes: no format in the file]", raw.len());
                }
            }
        }
        if chain {
            line.push('\n');
            for f in stacks.frames(&session, &s, max) {
                let start = line.len();
                line.push('\t');
                let mut rest = String::new();
                let addr = texts.frame_text(&mut rest, &session, &mut syms, s.pid, f.addr, f.mode);
                let _ = write!(line, "{addr:16x} {rest}");
                let _ = start;
                line.push('\n');
            }
            line.push('\n');
        } else if !tp {
            let mut rest = String::new();
            texts.frame_text(&mut rest, &session, &mut syms, s.pid, s.ip, s.mode);
            let _ = writeln!(line, " {:16x} {rest}", s.ip);
        } else {
            line.push('\n');
        }
        if let Err(e) = w.write_all(line.as_bytes()) {
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
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_in_microseconds() {
        assert_eq!(usec_time(2_841_248_844_123), "2841.248844");
        assert_eq!(usec_time(5_000), "0.000005");
    }
}
