//! `rperf annotate`: perf annotate's `--stdio` text. Samples are counted per function and
//! instruction in one replay; each function is then disassembled in process (iced-x86,
//! printed as objdump prints it) with its source lines from DWARF, and laid out as perf
//! lays out objdump's output.
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::annotate::objdump::Style;
use crate::annotate::{Histogram, PercentType, Totals};
use crate::replay::{Filter, Item, Replay};
use crate::session::DsoId;

use crate::annotate::binary::{check_binary, open_binary, Binary};
use crate::annotate::render::{Layout, Sampled};

/// What `rperf annotate` was asked.
#[derive(Debug, Clone, Default)]
pub struct AnnotateConfig {
    /// The perf.data to read.
    pub input: PathBuf,
    /// `--symfs`.
    pub symfs: Option<PathBuf>,
    /// Only this function (positional or `-s`).
    pub symbol: Option<String>,
    /// `--dsos`: only functions in these binaries (short or full names).
    pub dsos: Vec<String>,
    /// How the instructions are printed (`-M`, `--asm-raw`, `--no-source`).
    pub style: Style,
    /// `--percent-type`.
    pub percent: PercentType,
    /// `-l/--print-line`: a summary of the hottest source lines first.
    pub print_line: bool,
    /// `-C/--cpu`.
    pub filter: Filter,
    /// `--stdio2`: perf's second text layout (its browser's lines).
    pub stdio2: bool,
}

/// A function with samples.
struct Entry {
    event: usize,
    dso: DsoId,
    /// Start in the binary's own addresses (objdump's).
    start: u64,
    name: String,
    hist: Histogram,
    by_offset: HashMap<u64, (u64, u64)>,
}

/// Runs `rperf annotate`.
pub fn run(cfg: AnnotateConfig) -> Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    let warnings = write_annotations(&cfg, &mut stdout)?;
    stdout.flush()?;
    drop(stdout);
    for w in warnings {
        eprintln!("rperf: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The annotations `cfg` asks for as text (report's browser shows them), and the
/// functions that could not be annotated.
pub fn text(cfg: &AnnotateConfig) -> Result<(String, Vec<String>)> {
    let mut out = Vec::new();
    let warnings = write_annotations(cfg, &mut out)?;
    Ok((String::from_utf8_lossy(&out).into_owned(), warnings))
}

/// Writes the annotations to `out`; returns a line for each binary or function left out
/// (an error when nothing could be annotated).
fn write_annotations(cfg: &AnnotateConfig, stdout: &mut dyn Write) -> Result<Vec<String>> {
    let mut replay = Replay::new(&cfg.input, cfg.symfs.clone(), cfg.filter.clone(), true)?;
    let mut entries: HashMap<(usize, DsoId, u64), Entry> = HashMap::new();
    let mut totals: HashMap<usize, Totals> = HashMap::new();
    let header = replay.run(&cfg.input, |parts, _header, item| {
        let Item::Sample(s, _) = item else {
            return;
        };
        let found = parts.session.resolve(s.pid, s.ip, s.mode).and_then(|loc| {
            let sym = parts.syms.symbol(&parts.session, loc)?;
            let dso = &parts.session.dsos()[loc.dso as usize];
            let at = if dso.kernel || dso.path == "[vdso]" {
                loc.rel
            } else {
                parts.syms.vaddr(&parts.session, loc)?
            };
            Some((loc.dso, at - sym.offset, sym))
        });
        // perf drops the samples of other functions when one is named: its totals are
        // the named function's.
        if let Some(want) = &cfg.symbol {
            if found.as_ref().is_none_or(|(_, _, sym)| &sym.name != want) {
                return;
            }
        }
        let t = totals.entry(s.event).or_default();
        t.period += s.period;
        t.samples += 1;
        let Some((dso, start, sym)) = found else {
            return;
        };
        let e = entries
            .entry((s.event, dso, start))
            .or_insert_with(|| Entry {
                event: s.event,
                dso,
                start,
                name: sym.name.clone(),
                hist: Histogram::default(),
                by_offset: HashMap::new(),
            });
        e.hist.samples += 1;
        e.hist.period += s.period;
        let slot = e.by_offset.entry(sym.offset).or_default();
        slot.0 += 1;
        slot.1 += s.period;
    })?;
    let session = &replay.parts.session;
    let mut list: Vec<Entry> = entries.into_values().collect();
    list.retain(|e| {
        let dso = &session.dsos()[e.dso as usize];
        cfg.dsos.is_empty()
            || cfg
                .dsos
                .iter()
                .any(|d| d == &dso.path || d == dso.short_name())
    });
    // perf's order: most period first, then by binary name and address.
    let dso_name = |e: &Entry| session.dsos()[e.dso as usize].short_name().to_string();
    list.sort_by_cached_key(|e| {
        (
            e.event,
            std::cmp::Reverse(e.hist.period),
            dso_name(e),
            e.start,
        )
    });
    if list.is_empty() {
        // Samples that found no function may be in a binary gone or rebuilt since.
        for (path, id) in &header.hits {
            if let Err(problem) = check_binary(&replay.parts.syms, path, Some(id)) {
                bail!("{problem}");
            }
        }
        match &cfg.symbol {
            Some(s) => bail!(
                "no samples in function '{s}' in {} (rperf report --sort sym lists the \
                 sampled functions)",
                cfg.input.display()
            ),
            None => bail!("{} has no samples to annotate", cfg.input.display()),
        }
    }
    let build_ids: HashMap<&str, &[u8]> = header
        .hits
        .iter()
        .map(|(p, id)| (p.as_str(), id.as_slice()))
        .collect();
    let mut binaries: HashMap<DsoId, std::result::Result<Binary, String>> = HashMap::new();
    let mut printed = 0;
    let mut failed: Vec<(Option<DsoId>, usize, String)> = Vec::new();
    // perf marks an instruction with its source line when that differs from the last
    // one marked, in this function or an earlier one.
    let mut last_path: Option<String> = None;
    for mut e in list {
        let dso = &session.dsos()[e.dso as usize];
        let bin = binaries.entry(e.dso).or_insert_with(|| {
            open_binary(
                &replay.parts.syms,
                &dso.path,
                dso.kernel,
                build_ids.get(dso.path.as_str()).copied(),
                cfg.style.source,
            )
        });
        let bin = match bin {
            Ok(b) => b,
            Err(msg) => {
                // One line per binary, naming how many of its functions it leaves out.
                match failed.iter_mut().find(|(d, _, _)| *d == Some(e.dso)) {
                    Some((_, n, _)) => *n += 1,
                    None => failed.push((Some(e.dso), 1, msg.clone())),
                }
                continue;
            }
        };
        e.hist.hits = e.by_offset.iter().map(|(&o, &(n, p))| (o, n, p)).collect();
        let event = header
            .events
            .get(e.event)
            .map_or("unknown", |ev| ev.name.as_str());
        let title = dso.short_name().to_string();
        let long = dso.path.clone();
        let totals = totals[&e.event];
        // --stdio2's header: perf's browser title, then the function and its binary.
        let head2 = cfg.stdio2.then(|| {
            let freq = header.events.get(e.event).and_then(|ev| ev.freq);
            (
                format!(
                    "Samples: {} of event '{event}',{} Event count (approx.): {}, [percent: {}]",
                    crate::report::convert_unit(totals.samples),
                    freq.map(|f| format!(" {f} Hz,")).unwrap_or_default(),
                    totals.period,
                    cfg.percent.label()
                ),
                format!("{}() {long}", e.name),
            )
        });
        let what = (long.as_str(), title.as_str(), event, head2.as_ref());
        let layout = Layout {
            style: cfg.style,
            percent: cfg.percent,
            print_line: cfg.print_line,
        };
        let f = Sampled {
            start: e.start,
            name: e.name.clone(),
            hist: std::mem::take(&mut e.hist),
        };
        match crate::annotate::render::function(bin, &f, what, totals, &layout, &mut last_path) {
            Ok(text) => {
                stdout.write_all(text.as_bytes())?;
                printed += 1;
            }
            Err(msg) => failed.push((None, 1, format!("{}: {msg}", e.name))),
        }
    }
    let all: Vec<String> = failed.iter().map(|f| failure(f, session)).collect();
    if printed == 0 {
        bail!("{}", all.join("; "));
    }
    Ok(all)
}

/// A failure's line: a function, or the functions with samples in one binary.
fn failure(
    (dso, n, msg): &(Option<DsoId>, usize, String),
    session: &crate::session::Session,
) -> String {
    match dso {
        Some(d) => {
            let name = session.dsos()[*d as usize].short_name();
            let what = if *n == 1 { "function" } else { "functions" };
            format!("cannot annotate the {n} {what} with samples in {name}: {msg}")
        }
        None => format!("cannot annotate {msg}"),
    }
}
