//! Folded stacks (`comm;outer;…;inner weight`), built straight from the session: the input
//! of flame graphs, equal to what `perf script | inferno-collapse-perf` produces.
use std::path::Path;
use std::rc::Rc;

use anyhow::Result;

use crate::replay::{Item, Parts, Replay, Verdict};

/// How stacks are folded.
#[derive(Debug, Clone, Default)]
pub struct FoldOptions {
    /// `--symfs`.
    pub symfs: Option<std::path::PathBuf>,
    /// Only this event (index in the file); default: the first event that has samples, as
    /// inferno-collapse-perf folds only the first event it meets.
    pub event: Option<String>,
    /// Root each stack at `comm-pid` instead of `comm`.
    pub per_process: bool,
    /// Root each stack at `comm-pid/tid`.
    pub per_thread: bool,
    /// `--comm/--pid/--tid`, `-C/--cpu`, `--time`.
    pub filter: crate::replay::Filter,
    /// Keep only stacks whose leaf is in one of these binaries.
    pub dsos: Vec<String>,
    /// Mark kernel frames with `_[k]` (inferno colours them apart).
    pub annotate_kernel: bool,
    /// At most this many frames.
    pub max_stack: Option<usize>,
    /// Show functions inlined at each address (from DWARF) as frames of their own.
    pub inline: bool,
    /// Visit the samples of every event, not one (`event` is then ignored): the off-CPU and
    /// wall-clock views pick their events themselves.
    pub all_events: bool,
}

/// One symbolized frame of a sample.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Function name, or `[dso]`/`[unknown]` when it could not be resolved.
    pub name: Rc<str>,
    /// Short name of the binary (`[unknown]` when no mapping covered the address).
    pub dso: Rc<str>,
    /// Whether the frame is kernel code.
    pub kernel: bool,
}

/// A sample that passed the filters, with its frames symbolized (leaf first).
#[derive(Debug)]
pub struct SampleView<'a> {
    /// Process id.
    pub pid: i32,
    /// Thread id.
    pub tid: i32,
    /// Timestamp (ns).
    pub time: u64,
    /// Weight.
    pub period: u64,
    /// The sample's event, as the file names it.
    pub event: &'a str,
    /// Command name of the thread at the sample's time.
    pub comm: &'a str,
    /// Frames, leaf first.
    pub frames: &'a [Frame],
}

/// Replays `input` and calls `visit` for every sample of the chosen event that passes the
/// filters, with its stack symbolized: the one walk behind folded stacks and every export.
/// Returns the name of the event walked (empty when no sample was seen).
pub fn walk(
    input: &Path,
    opts: &FoldOptions,
    mut visit: impl FnMut(&SampleView),
) -> Result<String> {
    let mut replay = Replay::new(input, opts.symfs.clone(), opts.filter.clone(), true)?;
    let mut names: rustc_hash::FxHashMap<(u32, u64), Frame> = Default::default();
    // Functions inlined at an address, innermost first (looked up once per address).
    let mut inlined: rustc_hash::FxHashMap<(u32, u64), Rc<[Frame]>> = Default::default();
    let unknown = Frame {
        name: Rc::from("[unknown]"),
        dso: Rc::from("[unknown]"),
        kernel: false,
    };
    let mut chosen: Option<usize> = None;
    let mut event_name = String::new();
    let max = opts.max_stack.unwrap_or(usize::MAX);
    let mut frames: Vec<Frame> = Vec::with_capacity(64);
    replay.run(input, |parts, header, item| {
        let Item::Sample(s, verdict) = item else {
            return;
        };
        let ev = *chosen.get_or_insert_with(|| match &opts.event {
            Some(name) => header
                .events
                .iter()
                .position(|e| &e.name == name)
                .unwrap_or(usize::MAX),
            None => s.event,
        });
        if s.event != ev && !opts.all_events {
            return;
        }
        if event_name.is_empty() {
            event_name = header.events[s.event].name.clone();
        }
        if verdict != Verdict::Shown {
            return;
        }
        let Parts {
            session,
            syms,
            stacks,
        } = parts;
        let comm_id = session.comm_id(s.tid);
        let comm = session.comm_name(comm_id);
        frames.clear();
        for (i, f) in stacks.frames(session, &s, max).into_iter().enumerate() {
            let loc = session.resolve(s.pid, f.addr, f.mode);
            if let (true, Some(loc)) = (opts.inline, loc) {
                // Callers' addresses are return addresses: the call is the byte before.
                let at = if i == 0 {
                    loc
                } else {
                    crate::session::Location {
                        rel: loc.rel.saturating_sub(1),
                        ..loc
                    }
                };
                let extra = inlined.entry((at.dso, at.rel)).or_insert_with(|| {
                    let dso = &session.dsos()[at.dso as usize];
                    syms.inlined(session, at)
                        .into_iter()
                        .map(|f| Frame {
                            name: Rc::from(f.function.unwrap_or_else(|| "??".into())),
                            dso: Rc::from(dso.short_name()),
                            kernel: false,
                        })
                        .collect()
                });
                frames.extend(extra.iter().cloned());
            }
            let frame = match loc {
                Some(loc) => names
                    .entry((loc.dso, loc.rel))
                    .or_insert_with(|| {
                        let dso = &session.dsos()[loc.dso as usize];
                        let name = match syms.symbol(session, loc) {
                            Some(sym) => sym.name,
                            // inferno names an unresolved frame after its binary.
                            None => format!("[{}]", dso.short_name()),
                        };
                        Frame {
                            name: Rc::from(name),
                            dso: Rc::from(dso.short_name()),
                            kernel: dso.kernel,
                        }
                    })
                    .clone(),
                None => unknown.clone(),
            };
            frames.push(frame);
        }
        if !opts.dsos.is_empty()
            && !frames
                .first()
                .is_some_and(|f| opts.dsos.iter().any(|d| **d == *f.dso))
        {
            return;
        }
        visit(&SampleView {
            pid: s.pid,
            tid: s.tid,
            time: s.time,
            period: s.period,
            event: &header.events[s.event].name,
            comm,
            frames: &frames,
        });
    })?;
    Ok(event_name)
}

/// What a folded weight counts, for labels: flame graphs say "samples" only when each
/// sample weighs 1; a period-weighted event is labelled with its own unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Weight {
    /// Each sample counts 1 (tracepoints, `-c 1`).
    Samples,
    /// Nanoseconds of CPU time (cpu-clock, task-clock periods).
    Nanoseconds,
    /// Occurrences of the event (cycles, instructions, ...), named as the event.
    Events(String),
}

impl Weight {
    /// The weight of samples of `event` (its name as recorded, modifiers included), given
    /// whether every sample weighed 1.
    pub fn of(event: &str, all_ones: bool) -> Weight {
        let base = event.split(':').next().unwrap_or(event);
        match base {
            "cpu-clock" | "task-clock" => Weight::Nanoseconds,
            _ if all_ones || base.is_empty() => Weight::Samples,
            _ => Weight::Events(base.to_string()),
        }
    }
}

/// The unit of the weights [`fold_weighted`] returns, with the event they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The event folded (empty when no sample was seen).
    pub event: String,
    /// What a weight counts.
    pub weight: Weight,
}

/// Folded stacks with their summed weights, sorted by stack text.
pub fn fold(input: &Path, opts: &FoldOptions) -> Result<Vec<(String, u64)>> {
    fold_weighted(input, opts).map(|(v, _)| v)
}

/// Folded lines (`stack weight`): script's `--folded` output and the input of the SVG.
pub fn folded_lines(input: &Path, opts: &FoldOptions) -> Result<Vec<String>> {
    Ok(fold(input, opts)?
        .into_iter()
        .map(|(s, w)| format!("{s} {w}"))
        .collect())
}

/// [`fold`], with the unit the weights are in.
pub fn fold_weighted(input: &Path, opts: &FoldOptions) -> Result<(Vec<(String, u64)>, Unit)> {
    let mut all_ones = true;
    // Stacks are long strings hashed once per sample: a fast hash matters here.
    let mut folded: rustc_hash::FxHashMap<String, u64> = rustc_hash::FxHashMap::default();
    let mut line = String::with_capacity(512);
    let event = walk(input, opts, |s| {
        all_ones &= s.period == 1;
        line.clear();
        line.push_str(s.comm);
        if opts.per_thread {
            line.push_str(&format!("-{}/{}", s.pid, s.tid));
        } else if opts.per_process {
            line.push_str(&format!("-{}", s.pid));
        }
        for f in s.frames.iter().rev() {
            line.push(';');
            line.push_str(&f.name);
            if f.kernel && opts.annotate_kernel {
                line.push_str("_[k]");
            }
        }
        match folded.get_mut(line.as_str()) {
            Some(w) => *w += s.period,
            None => {
                folded.insert(line.clone(), s.period);
            }
        }
    })?;
    let mut v: Vec<(String, u64)> = folded.into_iter().collect();
    v.sort();
    let weight = Weight::of(&event, all_ones);
    Ok((v, Unit { event, weight }))
}
