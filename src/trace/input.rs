//! `rperf trace -i FILE`: a perf.data written by `trace record` (rperf's or perf's) replayed
//! through the printer live tracing uses, record for record: raw_syscalls enter and exit samples become syscall lines and
//! summary rows, COMM/FORK/MMAP records name threads and call-chain addresses, and `-e`,
//! `--filter-pids`, `--duration`, `--failure`, `-s/-S` and `--max-events` apply as live.
use std::collections::HashSet;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Result};

use super::{chain, sink, syscalls, tracefs, Source, TraceArgs, Tracer};
use crate::replay::{Filter, Item, Replay};

/// Offsets of `id`, `args` and `ret` in the raw_syscalls payloads: the file's own formats
/// (its tracing data), else this kernel's.
fn offsets(header: &crate::data::Header, root: &Path) -> Result<[usize; 4]> {
    let formats = header
        .tracing_data
        .as_deref()
        .map(crate::report::trace::parse_tracing_data)
        .unwrap_or_default();
    let find = |name: &str, field: &str| -> Result<usize> {
        let from_file = header
            .events
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| formats.get(&e.tracepoint?))
            .and_then(|f| f.fields.iter().find(|x| x.name == field))
            .map(|x| x.offset);
        match from_file {
            Some(o) => Ok(o),
            None => {
                let (sys, tp) = name.split_once(':').expect("system:name");
                let (_, text) = super::tracepoint(root, sys, tp)?;
                super::field_offset(&text, field)
            }
        }
    };
    Ok([
        find("raw_syscalls:sys_enter", "id")?,
        find("raw_syscalls:sys_enter", "args")?,
        find("raw_syscalls:sys_exit", "id")?,
        find("raw_syscalls:sys_exit", "ret")?,
    ])
}

/// What each of the file's events is to trace.
fn sources(header: &crate::data::Header) -> Vec<Option<Source>> {
    header
        .events
        .iter()
        .map(|e| match e.name.as_str() {
            "raw_syscalls:sys_enter" => Some(Source::Enter),
            "raw_syscalls:sys_exit" => Some(Source::Exit),
            // The reader keeps no sample address, which a fault line names: faults are
            // counted (the summary's majfaults/minfaults), not printed.
            "major-faults" => Some(Source::Fault { major: true }),
            "minor-faults" => Some(Source::Fault { major: false }),
            _ => None,
        })
        .collect()
}

/// Runs `rperf trace -i FILE`.
pub(super) fn run(a: &TraceArgs, input: &Path, filter_pids: &[i32]) -> Result<ExitCode> {
    crate::replay::check_input(input, a.force)?;
    let root = tracefs::root()?;
    // -e: the syscalls to show (the recording has them all).
    let (negate, names) = a.event_items();
    if names.iter().any(|n| n.contains(':')) {
        return Err(anyhow!(
            "-e SYSTEM:NAME tracepoints are not replayed from a file yet: give syscall names"
        ));
    }
    let selected: Option<HashSet<i64>> = if names.is_empty() {
        None
    } else {
        Some(syscalls::select(&names)?.into_iter().collect())
    };

    let mut tr = Tracer {
        out: sink(a)?,
        live: false,
        table: syscalls::Table::new(root.clone()),
        threads: Default::default(),
        current: None,
        base_time: 0,
        full_time: a.time,
        show_comm: !a.no_comm,
        // perf names the thread on every replayed line.
        multiple_threads: true,
        summary: a.summary || a.with_summary,
        summary_only: a.summary,
        failure_only: a.failure,
        duration_ns: a.duration.map(|d| d * 1e6),
        show_duration: true,
        trace_syscalls: true,
        sched: false,
        nr_events: 0,
        enter_id: 0,
        enter_args: 0,
        exit_id: 0,
        exit_ret: 0,
        tps: Vec::new(),
        runtime_at: 0,
        faults: None,
        max_stack: a.max_stack.unwrap_or(127),
        min_stack: a.min_stack.unwrap_or(0),
        max_events: a.max_events,
        printed: 0,
    };
    let mut replay = Replay::new(input, None, Filter::default(), false)?;
    let mut srcs: Option<Vec<Option<Source>>> = None;
    let mut err: Option<anyhow::Error> = None;
    let mut stopped = false;
    replay.run(input, |_, header, item| {
        if err.is_some() || stopped {
            return;
        }
        let srcs = srcs.get_or_insert_with(|| {
            match offsets(header, &root) {
                Ok([a, b, c, d]) => {
                    (tr.enter_id, tr.enter_args, tr.exit_id, tr.exit_ret) = (a, b, c, d)
                }
                Err(e) => err = Some(e),
            }
            if header.events.iter().any(|e| e.has_callchain) {
                tr.faults = Some(chain::Maps::new(false));
            }
            sources(header)
        });
        let res = match item {
            Item::Side(r) => tr.side(r),
            Item::Sample(s, _) => {
                let Some(Some(src)) = srcs.get(s.event).copied() else {
                    return;
                };
                if filter_pids.contains(&s.pid) {
                    return;
                }
                let raw = s.raw.as_deref().unwrap_or(&[]);
                if let Some(sel) = &selected {
                    let at = if src == Source::Enter {
                        tr.enter_id
                    } else {
                        tr.exit_id
                    };
                    if matches!(src, Source::Enter | Source::Exit)
                        && sel.contains(&(super::u64_at(raw, at) as i64)) == negate
                    {
                        return;
                    }
                }
                if let Source::Fault { major } = src {
                    tr.nr_events += 1;
                    let t = tr.thread(s.tid);
                    t.traced = true;
                    t.nr_events += 1;
                    if major {
                        t.pfmaj += 1;
                    } else {
                        t.pfmin += 1;
                    }
                    return;
                }
                // perf's replay counts samples alone (the summary's shares).
                tr.nr_events += 1;
                let chained = s.callchain.is_some() || s.user_regs.is_some();
                tr.sample(src, &s, 0, chained)
            }
        };
        if let Err(e) = res {
            err = Some(e);
        }
        stopped = tr.max_reached();
    })?;
    if let Some(e) = err {
        return Err(e);
    }
    tr.finish(a.errno_summary)?;
    Ok(ExitCode::SUCCESS)
}
