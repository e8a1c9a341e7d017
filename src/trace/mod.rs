//! `rperf trace`: perf trace's live syscall tracer. The raw_syscalls enter and exit
//! tracepoints are opened per CPU for the command, processes, threads or the whole system;
//! the rings are drained, each round sorted by time, and every syscall printed in perf
//! trace's layout (`0.123 ( 0.004 ms): ls/1234 openat(dfd: CWD, ...) = 3`), or counted
//! into perf's per-thread summary table (`-s`, `-S`).
mod beauty;
mod chain;
mod input;
mod summary;
mod syscalls;

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::abi::{flag, kind, sample, Attr};
use crate::data::read::{Mode, Record};
use crate::sys::{counter, ring, signals, topology, tracefs, workload};

/// PERF_RECORD_MISC_MMAP_DATA: a mapping that is not executable.
const MISC_MMAP_DATA: u16 = 1 << 13;

/// perf trace's column where ` = RET` starts.
const ARGS_ALIGNMENT: usize = 70;

/// `rperf trace` options (perf trace's names).
#[derive(Debug, Clone, clap::Args)]
pub struct TraceArgs {
    /// Trace the whole system.
    #[arg(short = 'a', long = "all-cpus")]
    pub all_cpus: bool,
    /// Trace these processes (comma-separated pids), all their threads.
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<String>,
    /// Trace these threads (comma-separated tids).
    #[arg(short = 't', long = "tid", value_name = "TID")]
    pub tid: Option<String>,
    /// Syscalls to trace (names or globs, comma-separated; a leading `!` traces all but
    /// these), and tracepoints (SYSTEM:NAME) to show among them.
    #[arg(short = 'e', long = "event", alias = "expr", value_name = "EXPR")]
    pub events: Vec<String>,
    /// Only the per-thread syscall summary.
    #[arg(short = 's', long = "summary")]
    pub summary: bool,
    /// Every syscall, then the summary.
    #[arg(short = 'S', long = "with-summary")]
    pub with_summary: bool,
    /// In the summary, the failures of each syscall by errno.
    #[arg(long = "errno-summary")]
    pub errno_summary: bool,
    /// Only syscalls that took longer than MS milliseconds.
    #[arg(long = "duration", value_name = "MS")]
    pub duration: Option<f64>,
    /// Only syscalls that failed.
    #[arg(long = "failure")]
    pub failure: bool,
    /// Write the trace to FILE (an existing one is kept as FILE.old, as perf does).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Show the thread's command name next to its id (the default).
    #[arg(long = "comm", overrides_with = "no_comm")]
    pub comm: bool,
    /// Show only the thread id.
    #[arg(long = "no-comm")]
    pub no_comm: bool,
    /// Absolute timestamps (milliseconds since boot), not relative to the first event.
    #[arg(short = 'T', long = "time")]
    pub time: bool,
    /// Trace syscalls too when `-e` names only tracepoints or with `-F`.
    #[arg(long = "syscalls", overrides_with = "no_syscalls")]
    pub syscalls: bool,
    /// Do not trace syscalls (with `-e` tracepoints or `-F`).
    #[arg(long = "no-syscalls")]
    pub no_syscalls: bool,
    /// Trace page faults: maj, min or all.
    #[arg(short = 'F', long = "pf", value_name = "maj|min|all")]
    pub pf: Option<String>,
    /// Per-thread scheduler run time in the summary (sched:sched_stat_runtime).
    #[arg(long = "sched")]
    pub sched: bool,
    /// Ring buffer size per CPU, in pages (a power of two).
    #[arg(short = 'm', long = "mmap-pages", value_name = "PAGES")]
    pub mmap_pages: Option<usize>,
    /// Trace only these CPUs (a list such as 0-2,5), system-wide.
    #[arg(short = 'C', long = "cpu", value_name = "CPUS")]
    pub cpu: Option<String>,
    /// Leave out the syscalls of these processes (comma-separated pids; rperf's own are
    /// always left out).
    #[arg(long = "filter-pids", value_name = "PIDS")]
    pub filter_pids: Option<String>,
    /// Stop after printing N events.
    #[arg(long = "max-events", value_name = "N")]
    pub max_events: Option<u64>,
    /// Print the call chain under each syscall: fp, dwarf or dwarf,SIZE.
    #[arg(long = "call-graph", value_name = "fp|dwarf[,SIZE]")]
    pub call_graph: Option<String>,
    /// With --call-graph: the kernel's part of a syscall's chain too.
    #[arg(long = "kernel-syscall-graph")]
    pub kernel_syscall_graph: bool,
    /// At most N frames per chain (alone: --call-graph dwarf).
    #[arg(long = "max-stack", value_name = "N")]
    pub max_stack: Option<usize>,
    /// Only events whose chain has at least N frames (alone: --call-graph dwarf).
    #[arg(long = "min-stack", value_name = "N")]
    pub min_stack: Option<usize>,
    /// Replay a perf.data written by `trace record` (rperf's or perf's) instead of tracing.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// With -i: read a file of another user.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// The command to run, after `--` when it has options of its own.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

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

/// A sample's tracepoint payload: a syscall's (64 bytes at most) kept inline, so that the
/// millions of them a busy command makes cost no allocation each.
#[derive(Debug)]
enum Payload {
    Inline([u8; 64], u8),
    Heap(Vec<u8>),
}

impl Payload {
    fn new(b: &[u8]) -> Payload {
        if b.len() <= 64 {
            let mut a = [0u8; 64];
            a[..b.len()].copy_from_slice(b);
            Payload::Inline(a, b.len() as u8)
        } else {
            Payload::Heap(b.to_vec())
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Inline(a, n) => &a[..*n as usize],
            Payload::Heap(v) => v,
        }
    }
}

/// One decoded ring record.
#[derive(Debug)]
enum Rec {
    Sample {
        src: Source,
        /// The header's misc (cpumode).
        misc: u16,
        pid: i32,
        tid: i32,
        time: u64,
        raw: Payload,
        ip: u64,
        addr: u64,
        chain: Option<Box<chain::Chain>>,
    },
    Comm {
        tid: i32,
        comm: String,
    },
    Fork {
        tid: i32,
        ptid: i32,
    },
    Mmap {
        pid: i32,
        start: u64,
        len: u64,
        pgoff: u64,
        path: String,
        kernel: bool,
        exec: bool,
    },
    Lost(u64),
    Other,
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

impl Tracer {
    fn thread(&mut self, tid: i32) -> &mut Thread {
        let live = self.live;
        self.threads.entry(tid).or_insert_with(|| Thread {
            comm: if live { topology::comm_of(tid) } else { None },
            ..Thread::default()
        })
    }

    fn comm_of(&self, tid: i32) -> String {
        self.threads
            .get(&tid)
            .and_then(|t| t.comm.clone())
            .unwrap_or_else(|| format!(":{tid}"))
    }

    fn tstamp(&self, t: u64, s: &mut String) {
        use std::fmt::Write as _;
        if t > 0 {
            // Signed: an event older than the first one read (another CPU's ring drained
            // later) prints a negative time rather than wrapping.
            let _ = write!(
                s,
                "{:10.3} ",
                (t as i64 - self.base_time as i64) as f64 / 1e6
            );
        } else {
            s.push_str("         ? ");
        }
    }

    /// perf's entry head: timestamp, duration, comm/tid.
    fn head(&self, tid: i32, duration: u64, calculated: bool, tstamp: u64) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        self.tstamp(tstamp, &mut s);
        if self.show_duration {
            if calculated {
                let _ = write!(s, "({:6.3} ms): ", duration as f64 / 1e6);
            } else {
                s.push_str("(         ): ");
            }
        }
        self.comm_tid(tid, &mut s);
        s
    }

    fn comm_tid(&self, tid: i32, s: &mut String) {
        use std::fmt::Write as _;
        if !self.multiple_threads {
            return;
        }
        if self.show_comm {
            let c = self.comm_of(tid);
            let c: String = c.chars().take(14).collect();
            let _ = write!(s, "{c}/");
        }
        let _ = write!(s, "{tid} ");
    }

    fn emit(&mut self, s: &str) -> Result<()> {
        self.out
            .write_all(s.as_bytes())
            .context("writing the trace")
    }

    fn interrupted_entry(&mut self) -> Result<()> {
        if self.failure_only {
            return Ok(());
        }
        let Some(cur) = self.current else {
            return Ok(());
        };
        let Some(t) = self.threads.get(&cur) else {
            return Ok(());
        };
        if !t.entry_pending {
            return Ok(());
        }
        let mut line = self.head(cur, 0, false, t.entry_time);
        let body = format!("{})", t.entry_str);
        let pad = if body.len() < ARGS_ALIGNMENT - 4 {
            ARGS_ALIGNMENT - 4 - body.len()
        } else {
            0
        };
        line.push_str(&body);
        if pad > 0 {
            line.push_str(&" ".repeat(pad));
        }
        line.push_str(" ...\n");
        self.threads
            .get_mut(&cur)
            .expect("thread seen")
            .entry_pending = false;
        self.printed += 1;
        self.emit(&line)
    }

    /// Whether `--max-events` is reached.
    fn max_reached(&self) -> bool {
        self.max_events.is_some_and(|m| self.printed >= m)
    }

    /// The lines of a sample's call chain, or `None` when `--min-stack` hides the event.
    fn chain_lines(
        &mut self,
        pid: i32,
        tid: i32,
        kernel: bool,
        chain: Option<&chain::Chain>,
    ) -> Option<Vec<String>> {
        let (Some(c), Some(maps)) = (chain, self.faults.as_mut()) else {
            return Some(Vec::new());
        };
        let lines = maps.chain_lines(pid, tid, kernel, c, self.max_stack);
        (lines.len() >= self.min_stack).then_some(lines)
    }

    fn sys_enter(&mut self, tid: i32, time: u64, raw: &[u8]) -> Result<()> {
        let id = u64_at(raw, self.enter_id) as i64;
        let Some(sc) = self.table.get(id) else {
            return Ok(());
        };
        let args: [u64; 6] = std::array::from_fn(|i| u64_at(raw, self.enter_args + 8 * i));
        self.thread(tid).nr_events += 1;
        self.thread(tid).traced = true;
        if self.duration_ns.is_none() && !self.summary_only {
            self.interrupted_entry()?;
        }
        // The entry line is only ever printed outside -s: don't build it there.
        let mut s = String::new();
        if !self.summary_only {
            s = self.entry_str(&sc, &args);
        }
        let t = self.thread(tid);
        t.entry_time = time;
        t.entry_str = s;
        if sc.is_exit {
            t.entry_pending = false;
            if !(self.duration_ns.is_some() || self.summary_only || self.failure_only) {
                let entry = self.threads[&tid].entry_str.clone();
                let mut line = self.head(tid, 0, false, time);
                let body = format!("{entry})");
                line.push_str(&body);
                let pad = ARGS_ALIGNMENT.saturating_sub(body.len()).max(1);
                line.push_str(&" ".repeat(pad));
                line.push_str("= ?\n");
                self.emit(&line)?;
            }
        } else {
            t.entry_pending = true;
        }
        self.current = Some(tid);
        Ok(())
    }

    /// `name(arg: value, ...` as perf builds it at a syscall's entry.
    fn entry_str(&self, sc: &syscalls::Syscall, args: &[u64; 6]) -> String {
        let mut s = format!("{}(", sc.name);
        let mut mask = 0u32;
        let mut first = true;
        for (i, a) in sc.args.iter().enumerate() {
            if mask & (1 << i) != 0 {
                continue;
            }
            let v = args.get(i).copied().unwrap_or(0);
            if v == 0 && !beauty::shows_zero(a.beauty) {
                continue;
            }
            if !first {
                s.push_str(", ");
            }
            first = false;
            s.push_str(&a.name);
            s.push_str(": ");
            mask |= beauty::masks(a.beauty, i, v);
            let threads = &self.threads;
            beauty::print(
                a.beauty,
                v,
                &|pid| threads.get(&pid).and_then(|t| t.comm.clone()),
                &mut s,
            );
        }
        s
    }

    fn sys_exit(
        &mut self,
        tid: i32,
        time: u64,
        raw: &[u8],
        chain: Option<&chain::Chain>,
    ) -> Result<()> {
        let id = u64_at(raw, self.exit_id) as i64;
        let Some(sc) = self.table.get(id) else {
            return Ok(());
        };
        let ret = u64_at(raw, self.exit_ret) as i64;
        let summary = self.summary;
        let t = self.thread(tid);
        t.nr_events += 1;
        t.traced = true;
        if summary {
            let d = if t.entry_time != 0 && time > t.entry_time {
                time - t.entry_time
            } else {
                0
            };
            t.stats.update(id, d, ret);
        }
        let entry_time = t.entry_time;
        let pending = t.entry_pending;
        let (duration, calculated) = if entry_time != 0 {
            (time.saturating_sub(entry_time), true)
        } else {
            (0, false)
        };
        let filtered = match self.duration_ns {
            Some(min) => !calculated || (duration as f64) < min,
            None => false,
        };
        let pid = self.pid_of(tid);
        let chain_lines = if filtered || self.summary_only {
            None
        } else {
            self.chain_lines(pid, tid, true, chain)
        };
        let Some(chain_lines) = chain_lines else {
            self.thread(tid).entry_pending = false;
            return Ok(());
        };
        if self.summary_only || (ret >= 0 && self.failure_only) {
            self.thread(tid).entry_pending = false;
            return Ok(());
        }
        let mut line = self.head(tid, duration, calculated, entry_time);
        let printed = if pending {
            let e = &self.threads[&tid].entry_str;
            line.push_str(e);
            e.len()
        } else {
            let c = format!(" ... [continued]: {}()", sc.name);
            line.push_str(&c);
            c.len()
        } + 1;
        line.push(')');
        let pad = ARGS_ALIGNMENT.saturating_sub(printed).max(1);
        line.push_str(&" ".repeat(pad));
        line.push_str("= ");
        if ret < 0 {
            line.push_str(&beauty::errno_text(ret));
        } else if ret == 0 && sc.timeout {
            line.push_str("0 (Timeout)");
        } else if sc.hexret {
            line.push_str(&format!("{ret:#x}"));
        } else if sc.errpid {
            // perf prints a pid only when it knows that thread (not the child's 0, not
            // a parent outside the trace).
            if let Some(t) = self.threads.get(&(ret as i32)) {
                line.push_str(&ret.to_string());
                if let Some(c) = &t.comm {
                    line.push_str(&format!(" ({c})"));
                }
            }
        } else {
            line.push_str(&ret.to_string());
        }
        line.push('\n');
        for l in &chain_lines {
            line.push_str(l);
        }
        self.thread(tid).entry_pending = false;
        self.printed += 1;
        self.emit(&line)
    }

    #[allow(clippy::too_many_arguments)]
    fn fault(
        &mut self,
        tid: i32,
        time: u64,
        major: bool,
        ip: u64,
        addr: u64,
        kernel: bool,
        chain: Option<&chain::Chain>,
    ) -> Result<()> {
        let pid = self.pid_of(tid);
        let Some(chain_lines) = self.chain_lines(pid, tid, kernel, chain) else {
            return Ok(());
        };
        let t = self.thread(tid);
        t.nr_events += 1;
        t.traced = true;
        if major {
            t.pfmaj += 1;
        } else {
            t.pfmin += 1;
        }
        if self.summary_only {
            return Ok(());
        }
        let mode = if kernel { Mode::Kernel } else { Mode::User };
        // perf's print_location: the faulting ip as sym+off (else the map-relative address,
        // else, as perf does, the sample's data address); the target as dso@offset.
        let (from, to, found) = match &mut self.faults {
            Some(f) => {
                let from = match f.session.resolve(pid, ip, mode) {
                    Some(loc) => match f.symbols.symbol(&f.session, loc) {
                        Some(sym) => format!("{}+{:#x}", sym.name, sym.offset),
                        None => format!("{:#x}", loc.rel),
                    },
                    None => format!("{addr:#x}"),
                };
                match f.session.resolve(pid, addr, mode) {
                    Some(loc) => {
                        let dso = &f.session.dsos()[loc.dso as usize].path;
                        let dso = dso.strip_suffix("_text").unwrap_or(dso);
                        (from, format!("{dso}@{:#x}", loc.rel), true)
                    }
                    None => (from, format!("{addr:#x}"), false),
                }
            }
            None => (format!("{ip:#x}"), format!("{addr:#x}"), false),
        };
        let mut line = self.head(tid, 0, true, time);
        line.push_str(&format!(
            "{}fault [{from}] => {to} ({}{})\n",
            if major { "maj" } else { "min" },
            if found { 'd' } else { '?' },
            if kernel { 'k' } else { '.' }
        ));
        for l in &chain_lines {
            line.push_str(l);
        }
        self.printed += 1;
        self.emit(&line)
    }

    /// The process of a thread (its own id when unknown).
    fn pid_of(&self, tid: i32) -> i32 {
        self.threads.get(&tid).and_then(|t| t.pid).unwrap_or(tid)
    }

    fn tracepoint(
        &mut self,
        idx: usize,
        tid: i32,
        time: u64,
        raw: &[u8],
        chain: Option<&chain::Chain>,
    ) -> Result<()> {
        let pid = self.pid_of(tid);
        let Some(chain_lines) = self.chain_lines(pid, tid, true, chain) else {
            return Ok(());
        };
        self.interrupted_entry()?;
        let mut line = String::new();
        self.tstamp(time, &mut line);
        if self.trace_syscalls && self.show_duration {
            line.push_str("(         ): ");
        }
        self.comm_tid(tid, &mut line);
        let tp = &self.tps[idx];
        line.push_str(&tp.name);
        line.push('(');
        let mut first = true;
        for (ctype, name) in &tp.types {
            let Some(f) = tp.format.fields.iter().find(|f| &f.name == name) else {
                continue;
            };
            let text = if f.chars || f.dynamic {
                let (off, len) = if f.dynamic {
                    let v = u32_at(raw, f.offset);
                    ((v & 0xffff) as usize, (v >> 16) as usize)
                } else {
                    (f.offset, f.size)
                };
                let bytes = raw.get(off..off + len).unwrap_or(&[]);
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                format!("\"{}\"", String::from_utf8_lossy(&bytes[..end]))
            } else {
                let mut v = match f.size {
                    1 => raw.get(f.offset).copied().unwrap_or(0) as u64,
                    2 => raw
                        .get(f.offset..f.offset + 2)
                        .map_or(0, |b| u16::from_ne_bytes([b[0], b[1]]) as u64),
                    4 => u32_at(raw, f.offset) as u64,
                    _ => u64_at(raw, f.offset),
                };
                if f.signed && f.size < 8 {
                    let shift = 64 - 8 * f.size as u32;
                    v = (((v << shift) as i64) >> shift) as u64;
                }
                if v == 0 {
                    continue;
                }
                let b = beauty::by_field(ctype, name);
                let mut s = String::new();
                let threads = &self.threads;
                beauty::print(
                    b,
                    v,
                    &|pid| threads.get(&pid).and_then(|t| t.comm.clone()),
                    &mut s,
                );
                s
            };
            if !first {
                line.push_str(", ");
            }
            first = false;
            line.push_str(name);
            line.push_str(": ");
            line.push_str(&text);
        }
        line.push_str(")\n");
        for l in &chain_lines {
            line.push_str(l);
        }
        self.printed += 1;
        self.emit(&line)
    }

    /// Handles a record drained from the rings, counting it as perf's live loop does.
    fn handle(&mut self, r: Rec) -> Result<()> {
        self.nr_events += 1;
        self.apply(r)
    }

    fn apply(&mut self, r: Rec) -> Result<()> {
        match r {
            Rec::Sample {
                src,
                misc,
                pid,
                tid,
                time,
                raw,
                ip,
                addr,
                chain,
            } => {
                let chain = chain.as_deref();
                if self.threads.get(&tid).is_none_or(|t| t.pid.is_none()) {
                    self.thread(tid).pid = Some(pid);
                }
                if self.base_time == 0 && !self.full_time {
                    self.base_time = time;
                }
                match src {
                    Source::Enter => self.sys_enter(tid, time, raw.bytes()),
                    Source::Exit => self.sys_exit(tid, time, raw.bytes(), chain),
                    Source::Fault { major } => {
                        self.fault(tid, time, major, ip, addr, misc & 7 == 1, chain)
                    }
                    Source::Runtime => {
                        let runtime = u64_at(raw.bytes(), self.runtime_at) as f64 / 1e6;
                        let t = self.thread(tid);
                        t.nr_events += 1;
                        t.runtime_ms += runtime;
                        Ok(())
                    }
                    Source::Tracepoint(i) => self.tracepoint(i, tid, time, raw.bytes(), chain),
                }
            }
            Rec::Comm { tid, comm } => {
                self.thread(tid).comm = Some(comm);
                Ok(())
            }
            Rec::Fork { tid, ptid } => {
                let c = self.threads.get(&ptid).and_then(|t| t.comm.clone());
                let t = self.thread(tid);
                if t.comm.is_none() {
                    t.comm = c;
                }
                Ok(())
            }
            Rec::Mmap {
                pid,
                start,
                len,
                pgoff,
                path,
                kernel,
                exec,
            } => {
                if let Some(f) = &mut self.faults {
                    f.session.apply(&Record::Mmap {
                        pid,
                        start,
                        len,
                        pgoff,
                        path,
                        mode: if kernel { Mode::Kernel } else { Mode::User },
                        exec,
                    });
                }
                Ok(())
            }
            Rec::Lost(n) => self.emit(&format!("LOST {n} events!\n")),
            Rec::Other => Ok(()),
        }
    }
}

/// Decodes one sample's body (after the header) by its event's sample_type: IDENTIFIER,
/// [IP], TID, TIME, [ADDR], CPU, [PERIOD], [CALLCHAIN], [RAW], [REGS_USER], [STACK_USER],
/// the kernel's order.
fn decode_sample(r: &[u8], src: Source, st: u64, misc: u16) -> Option<(u64, Rec)> {
    let mut p = 8;
    let word = |p: &mut usize| {
        let v = u64_at(r, *p);
        *p += 8;
        v
    };
    let ip = if st & sample::IP != 0 {
        word(&mut p)
    } else {
        0
    };
    let pid = u32_at(r, p) as i32;
    let tid = u32_at(r, p + 4) as i32;
    p += 8;
    let time = word(&mut p);
    let addr = if st & sample::ADDR != 0 {
        word(&mut p)
    } else {
        0
    };
    if st & sample::CPU != 0 {
        p += 8;
    }
    // Tracepoints that count more than one (sched_stat_runtime counts nanoseconds) carry
    // PERIOD, so that the kernel sends one sample per event rather than one per unit.
    if st & sample::PERIOD != 0 {
        p += 8;
    }
    let mut chain: Option<Box<chain::Chain>> = None;
    if st & sample::CALLCHAIN != 0 {
        let n = word(&mut p) as usize;
        let n = n.min(r.len().saturating_sub(p) / 8);
        let ips = (0..n).map(|i| u64_at(r, p + 8 * i)).collect();
        p += 8 * n;
        chain = Some(Box::new(chain::Chain {
            ips,
            ..Default::default()
        }));
    }
    if st & sample::REGS_USER != 0 && chain.is_none() {
        chain = Some(Box::default());
    }
    let mut raw = Payload::new(&[]);
    if st & sample::RAW != 0 {
        let size = u32_at(r, p) as usize;
        raw = Payload::new(r.get(p + 4..p + 4 + size).unwrap_or(&[]));
        p += 4 + size;
    }
    if st & sample::REGS_USER != 0 {
        // rperf asks for bp, sp and ip (bits 6, 7, 8: in that order) alone.
        let abi = word(&mut p);
        if abi != 0 {
            let (bp, sp, ip) = (word(&mut p), word(&mut p), word(&mut p));
            if let Some(c) = chain.as_mut() {
                c.regs = Some(crate::data::read::UserRegs::from_ip_sp_bp(ip, sp, bp));
            }
        }
    }
    if st & sample::STACK_USER != 0 {
        let size = word(&mut p) as usize;
        let data = r.get(p..p + size).unwrap_or(&[]);
        p += size;
        if size > 0 {
            let dynamic = (word(&mut p) as usize).min(data.len());
            if let Some(c) = chain.as_mut() {
                c.stack = data[..dynamic].to_vec();
            }
        }
    }
    if p > r.len() {
        return None;
    }
    Some((
        time,
        Rec::Sample {
            src,
            misc,
            pid,
            tid,
            time,
            raw,
            ip,
            addr,
            chain,
        },
    ))
}

/// Decodes the records of one drained ring into `out` as (time, record).
fn decode(buf: &[u8], ids: &FxHashMap<u64, (Source, u64)>, out: &mut Vec<(u64, Rec)>) {
    let mut p = 0;
    while p + 8 <= buf.len() {
        let ty = u32_at(buf, p);
        let misc = u16::from_ne_bytes([buf[p + 4], buf[p + 5]]);
        let size = u16::from_ne_bytes([buf[p + 6], buf[p + 7]]) as usize;
        if size < 8 || p + size > buf.len() {
            break;
        }
        let r = &buf[p + 8..p + size];
        p += size;
        // Every event samples TID, TIME, CPU and IDENTIFIER, so side-band records end with
        // those four words (sample_id_all): their time orders them among the samples.
        let side_time = r.len().checked_sub(24).map_or(0, |at| u64_at(r, at));
        match ty {
            kind::SAMPLE => {
                let id = u64_at(r, 0);
                let Some(&(src, st)) = ids.get(&id) else {
                    continue;
                };
                if let Some(rec) = decode_sample(r, src, st, misc) {
                    out.push(rec);
                }
            }
            kind::COMM => {
                let tid = u32_at(r, 4) as i32;
                let s = r.get(8..).unwrap_or(&[]);
                let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
                let comm = String::from_utf8_lossy(&s[..end]).into_owned();
                out.push((side_time, Rec::Comm { tid, comm }));
            }
            kind::FORK => {
                let tid = u32_at(r, 8) as i32;
                let ptid = u32_at(r, 12) as i32;
                out.push((side_time, Rec::Fork { tid, ptid }));
            }
            kind::MMAP => {
                let s = r.get(32..).unwrap_or(&[]);
                let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
                out.push((
                    side_time,
                    Rec::Mmap {
                        pid: u32_at(r, 0) as i32,
                        start: u64_at(r, 8),
                        len: u64_at(r, 16),
                        pgoff: u64_at(r, 24),
                        path: String::from_utf8_lossy(&s[..end]).into_owned(),
                        kernel: misc & 7 == 1,
                        exec: misc & MISC_MMAP_DATA == 0,
                    },
                ));
            }
            kind::LOST => out.push((0, Rec::Lost(u64_at(r, 8)))),
            _ => out.push((0, Rec::Other)),
        }
    }
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

fn open_error(e: std::io::Error, what: &str, pid: i32) -> anyhow::Error {
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => anyhow!(
            "no permission to trace {what} ({e}): rperf trace needs root or CAP_PERFMON \
             (kernel.perf_event_paranoid is {})",
            counter::paranoid().map_or("unreadable".into(), |p| p.to_string())
        ),
        Some(libc::ESRCH) => anyhow!("process {pid} is gone (check the pid with `ps -p {pid}`)"),
        _ => anyhow!("cannot open the {what} event: {e}"),
    }
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
    let targets = [
        a.all_cpus,
        a.pid.is_some(),
        a.tid.is_some(),
        !a.command.is_empty(),
    ]
    .iter()
    .filter(|&&x| x)
    .count();
    if targets == 0 {
        bail!("nothing to trace: give a command, -p PID, -t TID or -a");
    }
    // `-a CMD` traces the whole system while CMD runs.
    if targets > 1 && (!a.all_cpus || a.command.is_empty()) {
        bail!("give one of a command, -p, -t or -a");
    }
    let pf = match a.pf.as_deref() {
        None => (false, false),
        Some("maj") => (true, false),
        Some("min") => (false, true),
        Some("all") => (true, true),
        Some(x) => bail!("invalid -F/--pf '{x}': use maj, min or all"),
    };
    // -e: syscalls (with a leading '!' negating them all) and SYSTEM:NAME tracepoints.
    let mut negate = false;
    let mut sc_names = Vec::new();
    let mut tp_names = Vec::new();
    for list in &a.events {
        let list = match list.strip_prefix('!') {
            Some(rest) => {
                negate = true;
                rest
            }
            None => list.as_str(),
        };
        for item in list.split(',').filter(|s| !s.is_empty()) {
            if item.contains(':') {
                tp_names.push(item.to_string());
            } else {
                sc_names.push(item.to_string());
            }
        }
    }
    let selected = if sc_names.is_empty() {
        None
    } else {
        Some(syscalls::select(&sc_names)?)
    };
    // perf traces syscalls when asked (--syscalls, syscall names in -e), or when nothing
    // else was: -F or -e tracepoints alone show just those.
    let trace_syscalls = !a.no_syscalls
        && (a.syscalls || selected.is_some() || (a.pf.is_none() && tp_names.is_empty()));
    let pids = a.pid.as_deref().map(|p| parse_ids(p, "pid")).transpose()?;
    let tids = a.tid.as_deref().map(|p| parse_ids(p, "tid")).transpose()?;

    let root = tracefs::root()?;
    let (enter_tp, enter_fmt) = tracepoint(&root, "raw_syscalls", "sys_enter")?;
    let (exit_tp, exit_fmt) = tracepoint(&root, "raw_syscalls", "sys_exit")?;
    let mut tps = Vec::new();
    let mut tp_ids = Vec::new();
    for n in &tp_names {
        let (sys, name) = n.split_once(':').expect("has ':'");
        let (id, text) = tracepoint(&root, sys, name)?;
        let (_, format) = crate::report::trace::parse_format(&text)
            .ok_or_else(|| anyhow!("unreadable format of tracepoint '{n}'"))?;
        tps.push(Tp {
            name: n.clone(),
            format,
            types: syscalls::format_fields(&text),
        });
        tp_ids.push(id);
    }
    let (runtime_tp, runtime_at) = if a.sched {
        let (id, text) = tracepoint(&root, "sched", "sched_stat_runtime")?;
        (Some(id), field_offset(&text, "runtime")?)
    } else {
        (None, 0)
    };

    // Where to open: (pid, cpu) pairs; per CPU always, so inherited events can be mapped.
    let cpus = match &a.cpu {
        Some(list) => crate::target::resolve_cpus(&crate::target::Target {
            command: Vec::new(),
            pids: Vec::new(),
            tids: Vec::new(),
            system_wide: true,
            cpu_list: Some(list.clone()),
            pid_text: None,
            tid_text: None,
        })?
        .unwrap_or_default(),
        None => topology::online_cpus().context("reading the online CPU list")?,
    };
    let mut wl = None;
    let mut tasks: Vec<i32> = Vec::new();
    let mut comms: Vec<(i32, String)> = Vec::new();
    if !a.command.is_empty() && !a.all_cpus {
        signals::install();
        let w = workload::Workload::prepare(&a.command, workload::Stdio::default())
            .map_err(|e| crate::exit::command_error(&a.command[0], &e))?;
        tasks.push(w.pid());
        let base = a.command[0].rsplit('/').next().unwrap_or("");
        comms.push((w.pid(), base.chars().take(15).collect()));
        wl = Some(w);
    } else if let Some(p) = &pids {
        for &pid in p {
            let t = topology::threads_of(pid).map_err(|_| {
                anyhow!("no such process: {pid} (check the pid with `ps -p {pid}`)")
            })?;
            tasks.extend(t);
        }
        // Named now: a thread may be gone by the time its first event is read.
        for &t in &tasks {
            comms.extend(topology::comm_of(t).map(|c| (t, c)));
        }
    } else if let Some(t) = &tids {
        for &tid in t {
            if !topology::is_alive(tid) {
                bail!("no such thread: {tid} (check the tid with `ps -eLf`)");
            }
            tasks.push(tid);
            comms.extend(topology::comm_of(tid).map(|c| (tid, c)));
        }
    }
    if a.all_cpus {
        signals::install();
        if !a.command.is_empty() {
            let w = workload::Workload::prepare(&a.command, workload::Stdio::default())
                .map_err(|e| crate::exit::command_error(&a.command[0], &e))?;
            wl = Some(w);
        }
        tasks = vec![-1];
    }
    if pids.is_some() || tids.is_some() {
        signals::install();
    }

    let enable_on_exec = wl.is_some() && !a.all_cpus;
    let inherit = enable_on_exec;
    // 2 MiB per CPU, what perf trace maps when run as root.
    let pages = a.mmap_pages.unwrap_or(512);
    if !pages.is_power_of_two() {
        bail!("invalid -m/--mmap-pages {pages}: give a power of two");
    }
    let mk = |type_: u32, config: u64, tracking: bool, st: u64| {
        let mut flags = flag::DISABLED | flag::SAMPLE_ID_ALL;
        // Only a command's children are followed; -p and -t trace the threads named, as
        // perf trace does.
        if inherit {
            flags |= flag::INHERIT;
        }
        if enable_on_exec {
            flags |= flag::ENABLE_ON_EXEC;
        }
        if tracking {
            flags |= flag::COMM | flag::COMM_EXEC | flag::TASK | flag::MMAP;
        }
        if a.all_cpus {
            flags &= !flag::INHERIT;
        }
        Attr {
            type_,
            config,
            sample_period: 1,
            sample_type: sample::IDENTIFIER | sample::TID | sample::TIME | sample::CPU | st,
            // Woken when the ring is half full, not per event: a busy syscall loop
            // must not wake rperf for every call.
            flags: flags | flag::WATERMARK,
            wakeup_events: (pages * ring::page_size() / 2) as u32,
            ..Attr::default()
        }
    };
    let tp_type = perf_event_open_sys::bindings::PERF_TYPE_TRACEPOINT;
    let sw_type = perf_event_open_sys::bindings::PERF_TYPE_SOFTWARE;
    let mut specs: Vec<(Source, Attr)> = Vec::new();
    if trace_syscalls {
        specs.push((Source::Enter, mk(tp_type, enter_tp, false, sample::RAW)));
        specs.push((Source::Exit, mk(tp_type, exit_tp, false, sample::RAW)));
    }
    if pf.0 {
        specs.push((
            Source::Fault { major: true },
            mk(
                sw_type,
                perf_event_open_sys::bindings::PERF_COUNT_SW_PAGE_FAULTS_MAJ as u64,
                false,
                sample::IP | sample::ADDR,
            ),
        ));
    }
    if pf.1 {
        specs.push((
            Source::Fault { major: false },
            mk(
                sw_type,
                perf_event_open_sys::bindings::PERF_COUNT_SW_PAGE_FAULTS_MIN as u64,
                false,
                sample::IP | sample::ADDR,
            ),
        ));
    }
    for (i, id) in tp_ids.iter().enumerate() {
        specs.push((
            Source::Tracepoint(i),
            mk(tp_type, *id, false, sample::PERIOD | sample::RAW),
        ));
    }
    if let Some(id) = runtime_tp {
        specs.push((
            Source::Runtime,
            mk(tp_type, id, false, sample::PERIOD | sample::RAW),
        ));
    }
    if specs.is_empty() {
        bail!("nothing to trace: --no-syscalls needs -e SYSTEM:NAME tracepoints or -F");
    }
    // Chains are printed under syscall exits, faults and tracepoints (perf samples them at
    // the entry too, and never prints them). A syscall's kernel part is the syscall path
    // itself: left out unless asked for, as perf does.
    if let Some(cg) = call_graph {
        for (src, attr) in specs.iter_mut() {
            if matches!(src, Source::Enter | Source::Runtime) {
                continue;
            }
            let user_only = *src == Source::Exit && !a.kernel_syscall_graph;
            match cg {
                chain::CallGraph::Fp => {
                    attr.sample_type |= sample::CALLCHAIN;
                    if user_only {
                        attr.flags |= flag::EXCLUDE_CALLCHAIN_KERNEL;
                    }
                }
                chain::CallGraph::Dwarf(size) => {
                    attr.sample_type |= sample::REGS_USER | sample::STACK_USER;
                    attr.sample_regs_user = crate::abi::LEAF_REGS_USER;
                    attr.sample_stack_user = size;
                    if !user_only {
                        attr.sample_type |= sample::CALLCHAIN;
                        attr.flags |= flag::EXCLUDE_CALLCHAIN_USER;
                    }
                }
            }
        }
    }
    // The first event carries comm/fork/mmap records, as perf's tracking event.
    specs[0].1.flags |= flag::COMM | flag::COMM_EXEC | flag::TASK | flag::MMAP;
    if a.all_cpus && call_graph.is_none() {
        specs[0].1.flags &= !flag::MMAP;
    } else if pf.0 || pf.1 {
        // Fault targets are data too: perf samples addresses, and so tracks data maps.
        specs[0].1.flags |= flag::MMAP_DATA;
    }

    // Kernel filters: rperf's own syscalls under -a, and the -e selection.
    // --filter-pids leaves rperf out too, as perf's list always starts with its own pid.
    let mut own: Vec<i32> = Vec::new();
    if a.all_cpus || !filter_pids.is_empty() {
        own.push(std::process::id() as i32);
    }
    own.extend(&filter_pids);
    let pid_filter = own
        .iter()
        .map(|p| format!("common_pid != {p}"))
        .collect::<Vec<_>>()
        .join(" && ");
    let mut filter = Vec::new();
    if !pid_filter.is_empty() {
        filter.push(pid_filter.clone());
    }
    if let Some(ids) = &selected {
        let (op, join) = if negate {
            ("!=", " && ")
        } else {
            ("==", " || ")
        };
        let f: Vec<String> = ids.iter().map(|i| format!("id {op} {i}")).collect();
        filter.push(format!("({})", f.join(join)));
    }
    let filter = filter.join(" && ");

    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut rings: Vec<ring::Ring> = Vec::new();
    let mut ids: FxHashMap<u64, (Source, u64)> = FxHashMap::default();
    let mut leaders: Vec<usize> = Vec::new();
    for &task in &tasks {
        for &cpu in &cpus {
            let mut leader: Option<usize> = None;
            for (src, attr) in &specs {
                let what = match src {
                    Source::Enter | Source::Exit => "raw_syscalls",
                    Source::Fault { .. } => "page fault",
                    Source::Runtime => "sched:sched_stat_runtime",
                    Source::Tracepoint(_) => "tracepoint",
                };
                let mut attr = *attr;
                if leader.is_some() {
                    attr.flags &= !(flag::COMM | flag::COMM_EXEC | flag::TASK | flag::MMAP);
                }
                let fd = counter::open(&attr, task, cpu as i32, None)
                    .map_err(|e| open_error(e, what, task))?;
                if matches!(src, Source::Enter | Source::Exit) && !filter.is_empty() {
                    counter::set_filter(&fd, &filter)
                        .with_context(|| format!("setting the filter '{filter}'"))?;
                } else if matches!(src, Source::Tracepoint(_) | Source::Runtime)
                    && !pid_filter.is_empty()
                {
                    let _ = counter::set_filter(&fd, &pid_filter);
                }
                ids.insert(ring::event_id(&fd)?, (*src, attr.sample_type));
                match leader {
                    None => {
                        let r = ring::Ring::map(&fd, pages).or_else(|e| {
                            if pages > 16 && e.raw_os_error() == Some(libc::EPERM) {
                                ring::Ring::map(&fd, 16)
                            } else {
                                Err(e)
                            }
                        });
                        rings.push(r.context("mapping the event ring (try a smaller -m)")?);
                        leader = Some(fds.len());
                        leaders.push(fds.len());
                    }
                    Some(l) => ring::set_output(&fd, &fds[l])?,
                }
                fds.push(fd);
            }
        }
    }

    let out = sink(&a)?;
    let mut tr = Tracer {
        out,
        live: true,
        table: syscalls::Table::new(root.clone()),
        threads: FxHashMap::default(),
        current: None,
        base_time: 0,
        full_time: a.time,
        show_comm: !a.no_comm,
        multiple_threads: inherit || a.all_cpus || tasks.len() > 1,
        summary: a.summary || a.with_summary,
        summary_only: a.summary,
        failure_only: a.failure,
        duration_ns: a.duration.map(|d| d * 1e6),
        show_duration: true,
        trace_syscalls,
        sched: a.sched,
        nr_events: 0,
        enter_id: field_offset(&enter_fmt, "id")?,
        enter_args: field_offset(&enter_fmt, "args")?,
        exit_id: field_offset(&exit_fmt, "id")?,
        exit_ret: field_offset(&exit_fmt, "ret")?,
        tps,
        runtime_at,
        faults: (pf.0 || pf.1 || call_graph.is_some()).then(|| {
            let mut maps = chain::Maps::new(true);
            for &pid in pids.iter().flatten().chain(tids.iter().flatten()) {
                maps.learn(pid);
            }
            maps
        }),
        max_stack: a.max_stack.unwrap_or(127),
        min_stack: a.min_stack.unwrap_or(0),
        max_events: a.max_events,
        printed: 0,
    };
    for (tid, c) in comms {
        tr.thread(tid).comm = Some(c);
    }
    if !enable_on_exec {
        for fd in &fds {
            counter::enable(fd)?;
        }
    }
    if let Some(w) = &mut wl {
        w.start()
            .map_err(|e| crate::exit::command_error(&a.command[0], &e))?;
    }

    let mut buf = Vec::new();
    let mut recs = Vec::new();
    let mut done = false;
    // --max-events reached: perf stops there, whatever is still queued.
    let mut stopped = false;
    let mut disabled = false;
    loop {
        for r in rings.iter_mut() {
            buf.clear();
            r.drain_into(&mut buf);
            decode(&buf, &ids, &mut recs);
        }
        let got = !recs.is_empty();
        recs.sort_by_key(|(t, _)| *t);
        for (_, r) in recs.drain(..) {
            if !stopped {
                tr.handle(r)?;
                stopped = tr.max_reached();
            }
        }
        if stopped || (done && (!got || disabled)) {
            break;
        }
        // The end: the events are disabled and the rings drained once more. Waiting for
        // empty rings instead never ends with -a on a busy machine.
        if done {
            for fd in &fds {
                let _ = counter::disable(fd);
            }
            disabled = true;
            continue;
        }
        if let Some((sig, from_user)) = signals::received() {
            // A terminal's ^C reached the command already; pass on what was sent to rperf
            // alone, so that the command ends too and its status can be collected.
            if let Some(w) = &wl {
                if from_user || sig != libc::SIGINT {
                    signals::kill(w.pid(), sig);
                }
            }
            signals::clear();
            done = true;
            continue;
        }
        let exited = match &wl {
            Some(w) => w.wait_timeout(Duration::ZERO),
            None => {
                let mut alive = tasks.iter().any(|&t| t == -1 || topology::is_alive(t));
                if tasks.is_empty() {
                    alive = false;
                }
                !alive
            }
        };
        if exited {
            done = true;
            continue;
        }
        let mut p: Vec<&OwnedFd> = leaders.iter().map(|&i| &fds[i]).collect();
        if let Some(f) = wl.as_ref().and_then(|w| w.exit_fd()) {
            p.push(f);
        }
        let _ = ring::poll(&p, 100);
    }
    for fd in &fds {
        let _ = counter::disable(fd);
    }
    tr.finish(a.errno_summary)?;
    let code = match wl {
        // The command is ended with rperf (perf leaves it running unobserved).
        Some(_) if stopped => ExitCode::SUCCESS,
        Some(w) => {
            let e = w.wait()?;
            ExitCode::from(e.code as u8)
        }
        None => ExitCode::SUCCESS,
    };
    Ok(code)
}

impl Tracer {
    /// Prints the summary when asked for and puts the output in place.
    fn finish(mut self, errno_summary: bool) -> Result<()> {
        if self.summary {
            let mut names = HashMap::new();
            for t in self.threads.values() {
                for id in t.stats.ids() {
                    let n = self
                        .table
                        .get(id)
                        .map_or_else(|| id.to_string(), |s| s.name.to_string());
                    names.insert(id, n);
                }
            }
            let text = summary::render(
                &self.threads_for_summary(),
                self.nr_events,
                self.sched,
                errno_summary,
                &names,
            );
            self.emit(&text)?;
        }
        self.out.finish()
    }

    fn threads_for_summary(&self) -> Vec<summary::ThreadRow<'_>> {
        self.threads
            .iter()
            .filter(|(_, t)| t.traced)
            .map(|(&tid, t)| summary::ThreadRow {
                tid,
                comm: t.comm.clone().unwrap_or_else(|| format!(":{tid}")),
                nr_events: t.nr_events,
                pfmaj: t.pfmaj,
                pfmin: t.pfmin,
                runtime_ms: t.runtime_ms,
                stats: &t.stats,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        t.handle(Rec::Sample {
            src,
            misc: 0,
            pid: 10,
            tid,
            time,
            raw: Payload::new(&raw),
            ip: 0,
            addr: 0,
            chain: None,
        })
        .unwrap();
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
