//! Folded stacks (`comm;outer;…;inner weight`), built straight from the session: the input
//! of flame graphs, equal to what `perf script | inferno-collapse-perf` produces.
use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;

use crate::data::{self, Record};
use crate::session::{Session, Symbolizer};

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
    /// Keep only these command names.
    pub comms: Vec<String>,
    /// Keep only these process ids.
    pub pids: Vec<i32>,
    /// Keep only these thread ids.
    pub tids: Vec<i32>,
    /// Keep only stacks whose leaf is in one of these binaries.
    pub dsos: Vec<String>,
    /// Mark kernel frames with `_[k]` (inferno colours them apart).
    pub annotate_kernel: bool,
    /// At most this many frames.
    pub max_stack: Option<usize>,
}

/// Folded stacks with their summed weights, sorted by stack text.
pub fn fold(input: &Path, opts: &FoldOptions) -> Result<Vec<(String, u64)>> {
    let mut session = Session::new();
    let mut syms = Symbolizer::new(opts.symfs.clone());
    let mut stacks = crate::callchain::Stacks::new(opts.symfs.clone());
    let mut folded: HashMap<String, u64> = HashMap::new();
    let mut names: HashMap<(u32, u64), String> = HashMap::new();
    let mut chosen: Option<usize> = None;
    let max = opts.max_stack.unwrap_or(usize::MAX);
    let mut line = String::with_capacity(512);
    let mut parts: Vec<String> = Vec::with_capacity(64);
    data::read(input, |header, rec| {
        let Record::Sample(s) = rec else {
            session.apply(&rec);
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
        if s.event != ev {
            return;
        }
        let comm = session.comm(s.tid);
        if (!opts.comms.is_empty() && !opts.comms.contains(&comm))
            || (!opts.pids.is_empty() && !opts.pids.contains(&s.pid))
            || (!opts.tids.is_empty() && !opts.tids.contains(&s.tid))
        {
            return;
        }
        parts.clear();
        let mut leaf_dso: Option<String> = None;
        for f in stacks.frames(&session, &s, max) {
            let name = match session.resolve(s.pid, f.addr, f.mode) {
                Some(loc) => {
                    let dso = &session.dsos()[loc.dso as usize];
                    if leaf_dso.is_none() {
                        leaf_dso = Some(dso.short_name().to_string());
                    }
                    let kernel = dso.kernel;
                    let base = names
                        .entry((loc.dso, loc.rel))
                        .or_insert_with(|| match syms.symbol(&session, loc) {
                            Some(sym) => sym.name,
                            // inferno names an unresolved frame after its binary.
                            None => format!("[{}]", dso.short_name()),
                        })
                        .clone();
                    if kernel && opts.annotate_kernel {
                        format!("{base}_[k]")
                    } else {
                        base
                    }
                }
                None => {
                    if leaf_dso.is_none() {
                        leaf_dso = Some("[unknown]".into());
                    }
                    "[unknown]".to_string()
                }
            };
            parts.push(name);
        }
        if !opts.dsos.is_empty() && !leaf_dso.as_ref().is_some_and(|d| opts.dsos.contains(d)) {
            return;
        }
        line.clear();
        line.push_str(&comm);
        if opts.per_thread {
            line.push_str(&format!("-{}/{}", s.pid, s.tid));
        } else if opts.per_process {
            line.push_str(&format!("-{}", s.pid));
        }
        for p in parts.iter().rev() {
            line.push(';');
            line.push_str(p);
        }
        *folded.entry(line.clone()).or_default() += s.period;
    })?;
    let mut v: Vec<(String, u64)> = folded.into_iter().collect();
    v.sort();
    Ok(v)
}
