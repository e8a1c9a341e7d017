//! `rperf trace`: perf trace's live syscall tracer. The raw_syscalls enter and exit
//! tracepoints are opened per CPU for the command, processes, threads or the whole system;
//! the rings are drained, each round sorted by time, and every syscall printed in perf
//! trace's layout (`0.123 ( 0.004 ms): ls/1234 openat(dfd: CWD, ...) = 3`), or counted
//! into perf's per-thread summary table (`-s`, `-S`). Live tracing (`live.rs`) and `-i`
//! (`input.rs`) hand the printer (`print.rs`) the replay's records, decoded from the rings
//! by `data::read::live` or read from the file by `replay`.
mod args;
mod beauty;
mod chain;
mod events;
mod input;
mod live;
mod print;
mod summary;
mod syscalls;

use rustc_hash::FxHashMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};

pub use args::TraceArgs;

use crate::sys::tracefs;

/// perf trace's column where ` = RET` starts.
const ARGS_ALIGNMENT: usize = 70;

/// What a sample's event id stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Enter,
    Exit,
    Fault { major: bool },
    Runtime,
    Tracepoint(usize),
}

/// A tracepoint shown with `-e SYSTEM:NAME`.
#[derive(Debug)]
struct Tp {
    name: String,
    format: crate::report::trace::Format,
    /// (C type, name) of its own fields, in payload order.
    types: Vec<(String, String)>,
}

/// Per-thread state, as perf's `thread_trace`.
#[derive(Debug, Default)]
struct Thread {
    comm: Option<String>,
    pid: Option<i32>,
    entry_time: u64,
    entry_pending: bool,
    entry_str: String,
    nr_events: u64,
    pfmaj: u64,
    pfmin: u64,
    runtime_ms: f64,
    traced: bool,
    stats: summary::Stats,
}

/// Where the trace goes: stderr, as perf trace, or `-o FILE` (put in place at the end).
enum Sink {
    Stderr(std::io::BufWriter<std::io::Stderr>),
    File(std::io::BufWriter<crate::output::Output>),
    #[cfg(test)]
    Buffer(Vec<u8>),
}

impl Sink {
    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Stderr(w) => w.write_all(b),
            Sink::File(w) => w.write_all(b),
            #[cfg(test)]
            Sink::Buffer(v) => {
                v.extend_from_slice(b);
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            Sink::Stderr(mut w) => w.flush().context("writing the trace"),
            Sink::File(w) => {
                let o = w
                    .into_inner()
                    .map_err(|e| anyhow!("writing the trace: {}", e.error()))?;
                let dest = o.dest().display().to_string();
                o.commit().with_context(|| format!("writing {dest}"))
            }
            #[cfg(test)]
            Sink::Buffer(_) => Ok(()),
        }
    }
}

struct Tracer {
    out: Sink,
    /// Tracing now, not replaying a file: names of threads not seen yet come from /proc.
    live: bool,
    table: syscalls::Table,
    threads: FxHashMap<i32, Thread>,
    current: Option<i32>,
    base_time: u64,
    full_time: bool,
    show_comm: bool,
    /// perf names the thread on each line unless it traces one thread of one process.
    multiple_threads: bool,
    summary: bool,
    summary_only: bool,
    failure_only: bool,
    duration_ns: Option<f64>,
    show_duration: bool,
    trace_syscalls: bool,
    sched: bool,
    nr_events: u64,
    /// Offsets of `id` and `args`/`ret` in the raw_syscalls payloads.
    enter_id: usize,
    enter_args: usize,
    exit_id: usize,
    exit_ret: usize,
    tps: Vec<Tp>,
    /// Offset of sched_stat_runtime's `runtime`.
    runtime_at: usize,
    /// Address spaces and symbols, for `-F` and `--call-graph`.
    faults: Option<chain::Maps>,
    /// `--max-stack`, `--min-stack`.
    max_stack: usize,
    min_stack: usize,
    /// `--max-events`, and the events printed so far (perf's count: syscall exits,
    /// interrupted entries, faults and tracepoints).
    max_events: Option<u64>,
    printed: u64,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .map_or(0, |s| u64::from_ne_bytes(s.try_into().expect("8 bytes")))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_ne_bytes(s.try_into().expect("4 bytes")))
}

/// The tracepoint id of SYSTEM:NAME and its format.
fn tracepoint(root: &std::path::Path, sys: &str, name: &str) -> Result<(u64, String)> {
    let dir = root.join("events").join(sys).join(name);
    let text = std::fs::read_to_string(dir.join("format")).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            anyhow!(
                "no permission to read {}: tracing syscalls needs root or CAP_PERFMON with \
                 read access to tracefs (e.g. `sudo mount -o remount,mode=755 {}`)",
                dir.display(),
                root.display()
            )
        } else {
            anyhow!(
                "tracepoint '{sys}:{name}' not found under {}: `rperf list tracepoint` shows what \
                 this kernel has",
                root.display()
            )
        }
    })?;
    let (id, _) = crate::report::trace::parse_format(&text)
        .ok_or_else(|| anyhow!("unreadable format of tracepoint '{sys}:{name}'"))?;
    Ok((id, text))
}

fn field_offset(text: &str, field: &str) -> Result<usize> {
    let (_, f) = crate::report::trace::parse_format(text)
        .ok_or_else(|| anyhow!("unreadable raw_syscalls format"))?;
    f.fields
        .iter()
        .find(|x| x.name == field)
        .map(|x| x.offset)
        .ok_or_else(|| anyhow!("tracepoint has no field '{field}' on this kernel"))
}

fn parse_ids(s: &str, what: &str) -> Result<Vec<i32>> {
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<i32>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| anyhow!("invalid {what} '{p}': expected a number like 1234"))
        })
        .collect()
}

/// Where the trace goes: `-o FILE` or stderr.
fn sink(a: &TraceArgs) -> Result<Sink> {
    Ok(match &a.output {
        Some(p) => Sink::File(std::io::BufWriter::new(
            crate::output::Output::create(
                p,
                crate::output::Options {
                    keep_old: true,
                    ..Default::default()
                },
            )
            .with_context(|| format!("cannot write {}", p.display()))?,
        )),
        None => Sink::Stderr(std::io::BufWriter::new(std::io::stderr())),
    })
}

/// `rperf trace record ...`: the `rperf record` command line perf trace record runs
/// (raw_syscalls enter and exit, every event, rperf's own syscalls filtered out, `-F`'s
/// faults), or `None` when this is no `record`.
pub fn record_argv(a: &TraceArgs) -> Result<Option<Vec<String>>> {
    if a.command.first().map(String::as_str) != Some("record") {
        return Ok(None);
    }
    let mut v: Vec<String> = ["rperf", "record", "-R", "-m", "1024", "-c", "1"]
        .map(String::from)
        .into();
    if !a.no_syscalls {
        v.extend([
            "-e".into(),
            "raw_syscalls:sys_enter,raw_syscalls:sys_exit".into(),
        ]);
        v.extend([
            "--filter".into(),
            format!("common_pid != {}", std::process::id()),
        ]);
    }
    let pf = match a.pf.as_deref() {
        None => &[][..],
        Some("maj") => &["major-faults"][..],
        Some("min") => &["minor-faults"],
        Some("all") => &["major-faults", "minor-faults"],
        Some(x) => bail!("invalid -F/--pf '{x}': use maj, min or all"),
    };
    for e in pf {
        v.extend(["-e".into(), e.to_string()]);
    }
    if v.len() == 7 {
        bail!("nothing to record: --no-syscalls needs -F");
    }
    v.extend(a.command[1..].iter().cloned());
    Ok(Some(v))
}

/// Runs `rperf trace`.
pub fn run(mut a: TraceArgs) -> Result<ExitCode> {
    // -C traces those CPUs system-wide, with or without -a, as perf does.
    if a.cpu.is_some() {
        a.all_cpus = true;
    }
    if a.max_events == Some(0) {
        bail!("invalid --max-events 0: give the number of events to print before stopping (1 or more)");
    }
    // --max-stack or --min-stack alone turn DWARF chains on, as in perf (built with
    // DWARF unwinding); --kernel-syscall-graph alone changes nothing, as in perf.
    let call_graph = match a.call_graph.as_deref() {
        Some(cg) => Some(chain::parse_call_graph(cg)?),
        None if a.max_stack.is_some() || a.min_stack.is_some() => {
            Some(chain::CallGraph::Dwarf(8192))
        }
        None => None,
    };
    let filter_pids = a
        .filter_pids
        .as_deref()
        .map(|p| parse_ids(p, "--filter-pids pid"))
        .transpose()?
        .unwrap_or_default();
    if let Some(input) = a.input.clone() {
        if a.all_cpus || a.pid.is_some() || a.tid.is_some() || !a.command.is_empty() {
            bail!("-i replays a file: give no command, -a, -C, -p or -t with it");
        }
        return input::run(&a, &input, &filter_pids);
    }
    live::run(&a, call_graph, &filter_pids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tracer() -> Tracer {
        let mut table = syscalls::Table::new(PathBuf::from("/nonexistent"));
        let arg = |name: &str, beauty| syscalls::Arg {
            name: name.into(),
            beauty,
        };
        let sc = |name, args, is_exit| syscalls::Syscall {
            name,
            args,
            is_exit,
            hexret: false,
            errpid: false,
            timeout: false,
        };
        table.insert(0, sc("read", vec![arg("fd", beauty::Beauty::Fd)], false));
        table.insert(1, sc("write", vec![arg("fd", beauty::Beauty::Fd)], false));
        table.insert(231, sc("exit_group", vec![], true));
        let mut threads = FxHashMap::default();
        for (tid, c) in [(10, "a"), (11, "b")] {
            threads.insert(
                tid,
                Thread {
                    comm: Some(c.into()),
                    pid: Some(10),
                    ..Thread::default()
                },
            );
        }
        Tracer {
            out: Sink::Buffer(Vec::new()),
            live: false,
            table,
            threads,
            current: None,
            base_time: 0,
            full_time: false,
            show_comm: true,
            multiple_threads: true,
            summary: true,
            summary_only: false,
            failure_only: false,
            duration_ns: None,
            show_duration: true,
            trace_syscalls: true,
            sched: false,
            nr_events: 0,
            enter_id: 8,
            enter_args: 16,
            exit_id: 8,
            exit_ret: 16,
            tps: Vec::new(),
            runtime_at: 0,
            faults: None,
            max_stack: 127,
            min_stack: 0,
            max_events: None,
            printed: 0,
        }
    }

    fn raw(id: u64, args: &[u64]) -> Vec<u8> {
        let mut v = vec![0u8; 8];
        v.extend(id.to_ne_bytes());
        for a in args {
            v.extend(a.to_ne_bytes());
        }
        v.resize(64, 0);
        v
    }

    fn feed(t: &mut Tracer, src: Source, tid: i32, time: u64, raw: Vec<u8>) {
        let s = crate::data::read::Sample {
            event: 0,
            index: 0,
            pid: 10,
            tid,
            time,
            cpu: None,
            ip: 0,
            mode: crate::data::read::Mode::User,
            period: 1,
            callchain: None,
            raw: Some(raw.into()),
            user_regs: None,
            user_stack: None,
            cgroup: None,
            weight: None,
        };
        t.nr_events += 1;
        t.sample(src, &s, 0, false).unwrap();
    }

    #[test]
    fn interrupted_and_continued_calls_print_as_perf() {
        let mut t = tracer();
        feed(&mut t, Source::Enter, 10, 1_000_000, raw(0, &[3]));
        // Another thread's entry interrupts the pending read.
        feed(&mut t, Source::Enter, 11, 1_500_000, raw(1, &[4]));
        feed(&mut t, Source::Exit, 11, 1_600_000, raw(1, &[5]));
        feed(
            &mut t,
            Source::Exit,
            10,
            3_000_000,
            raw(0, &[(-4i64) as u64]),
        );
        feed(&mut t, Source::Enter, 10, 3_500_000, raw(231, &[0]));
        let Sink::Buffer(out) = &t.out else {
            unreachable!()
        };
        let text = String::from_utf8(out.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let pad = |body: &str, to: usize| format!("{body}{}", " ".repeat(to - body.len()));
        assert_eq!(
            lines,
            vec![
                format!(
                    "     0.000 (         ): a/10 {} ...",
                    pad("read(fd: 3)", 66)
                ),
                format!(
                    "     0.500 ( 0.100 ms): b/11 {}= 5",
                    pad("write(fd: 4)", 70)
                ),
                format!(
                    "     0.000 ( 2.000 ms): a/10 {}= -1 EINTR (Interrupted system call)",
                    pad(" ... [continued]: read())", 70)
                ),
                format!(
                    "     2.500 (         ): a/10 {}= ?",
                    pad("exit_group()", 70)
                ),
            ]
        );
        // Both calls were counted, the failed one as an error.
        let s = &t.threads[&10].stats;
        assert_eq!(s.ids().collect::<Vec<_>>(), vec![0]);
    }
}
