//! `sched timehist`: one line per context switch (time waited, scheduling delay, time run),
//! wake-up and migration lines, the run-time, wait-time and idle summaries, as perf 6.1.
use std::collections::HashMap;
use std::fmt::Write as _;

use super::{Events, Kind, Threads, TimehistOpts};
use crate::callchain;
use crate::data::{Header, Record, Sample};
use crate::replay::{Parts, TimeRange};
use crate::report::usec_time;

mod print;

/// perf's thread name in timehist: `comm`, `comm[tid]` or `comm[tid/pid]`.
fn comm_str(comm: &str, pid: i32, tid: i32) -> String {
    if pid == 0 {
        comm.to_string()
    } else if tid != pid {
        format!("{comm}[{tid}/{pid}]")
    } else {
        format!("{comm}[{tid}]")
    }
}

/// perf's msec.usec with the milliseconds right-aligned in `width`, and a trailing space.
fn sched_time(out: &mut String, ns: u64, width: usize) {
    let _ = write!(
        out,
        "{:>width$}.{:03} ",
        ns / 1_000_000,
        (ns % 1_000_000) / 1000
    );
}

/// perf's running mean and variance (Welford), with min and max.
#[derive(Debug, Clone)]
struct Stats {
    n: u64,
    mean: f64,
    m2: f64,
    min: u64,
    max: u64,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            min: u64::MAX,
            max: 0,
        }
    }
}

impl Stats {
    fn update(&mut self, v: u64) {
        self.n += 1;
        let delta = v as f64 - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (v as f64 - self.mean);
        self.max = self.max.max(v);
        self.min = self.min.min(v);
    }

    /// The standard deviation of the mean, as a percentage of the mean.
    fn rel_stddev(&self) -> f64 {
        if self.n < 2 || self.mean == 0.0 {
            return 0.0;
        }
        let var = self.m2 / (self.n - 1) as f64;
        100.0 * (var / self.n as f64).sqrt() / self.mean
    }
}

/// One task's timehist numbers.
#[derive(Debug, Clone, Default)]
struct Runtime {
    last_time: u64,
    dt_run: u64,
    dt_sleep: u64,
    dt_iowait: u64,
    dt_preempt: u64,
    dt_delay: u64,
    ready_to_run: u64,
    stats: Stats,
    total_run: u64,
    total_sleep: u64,
    total_iowait: u64,
    total_preempt: u64,
    total_delay: u64,
    last_state: i64,
    migrations: u64,
    seen: bool,
    /// `--idle-hist`: the task that ran before this CPU went idle.
    last_thread: Option<i32>,
}

impl Runtime {
    /// perf's accounting at a switch-out at `t` of a task switched in at `tprev`.
    fn update(&mut self, t: u64, tprev: u64) {
        self.dt_delay = 0;
        self.dt_sleep = 0;
        self.dt_iowait = 0;
        self.dt_preempt = 0;
        self.dt_run = 0;
        if tprev != 0 {
            self.dt_run = t.saturating_sub(tprev);
            if self.ready_to_run != 0 && self.ready_to_run <= tprev {
                self.dt_delay = tprev - self.ready_to_run;
            }
            if self.last_time != 0 && self.last_time <= tprev {
                let wait = tprev - self.last_time;
                match self.last_state {
                    0 => self.dt_preempt = wait,
                    2 => self.dt_iowait = wait,
                    _ => self.dt_sleep = wait,
                }
            }
        }
        self.stats.update(self.dt_run);
        self.total_run += self.dt_run;
        self.total_delay += self.dt_delay;
        self.total_sleep += self.dt_sleep;
        self.total_iowait += self.dt_iowait;
        self.total_preempt += self.dt_preempt;
    }
}

/// perf 6.1's letter for a switched-out task's state: the lowest set bit indexes
/// "RSDTtZXxKWP" (so an idle kworker, 0x80, shows K); the idle task shows I.
fn state_char(tid: i32, state: i64) -> char {
    const LETTERS: &[u8] = b"RSDTtZXxKWP";
    if tid == 0 {
        return 'I';
    }
    let bit = if state == 0 {
        0
    } else {
        state.trailing_zeros() as usize + 1
    };
    LETTERS.get(bit).map_or('?', |&c| c as char)
}

pub(super) struct Timehist {
    opts: TimehistOpts,
    threads: Threads<Runtime>,
    /// Per-CPU idle tasks, outside the thread table as in perf.
    idle: Vec<Runtime>,
    /// The last switch time per CPU.
    last_switch: HashMap<u32, u64>,
    max_cpu: u32,
    comm_width: usize,
    window: (u64, u64),
    hist: (u64, u64),
    skipped: u64,
    callchain: bool,
    pub(super) online: Option<u32>,
}

impl Timehist {
    pub(super) fn new(opts: TimehistOpts) -> Timehist {
        let summary_only = opts.summary_only;
        let callchain = opts.callchain;
        Timehist {
            opts: TimehistOpts {
                with_summary: opts.with_summary || summary_only,
                ..opts
            },
            threads: Threads::new(),
            idle: Vec::new(),
            last_switch: HashMap::new(),
            max_cpu: 0,
            comm_width: 30,
            window: (0, 0),
            hist: (0, 0),
            skipped: 0,
            callchain,
            online: None,
        }
    }

    /// The header, once the file's CPU count and the sample span are known.
    pub(super) fn start(&mut self, header: &Header, out: &mut String) {
        self.max_cpu = self.online.unwrap_or(4);
        self.idle = vec![Runtime::default(); self.max_cpu as usize];
        if let Some(t) = &self.opts.time {
            if let Ok(r) = TimeRange::parse_all(t, header.sample_time) {
                if let Some(r) = r.first() {
                    self.window = (r.start, r.end);
                }
            }
        }
        if self.callchain {
            // perf 6.1 asks it of every event.
            if !header.events.iter().all(|e| e.has_callchain) {
                eprintln!("Samples do not have callchains.");
                self.callchain = false;
            }
        }
        if !self.opts.summary_only {
            self.header(out);
        }
    }

    fn filtered(&self, comm_pid: i32, tid: i32) -> bool {
        (!self.opts.pids.is_empty() && !self.opts.pids.contains(&comm_pid))
            || (!self.opts.tids.is_empty() && !self.opts.tids.contains(&tid))
    }

    /// perf's `timehist_skip_sample`, which also counts what it skips.
    fn skip(&mut self, pid: i32, tid: i32, kind: Kind, prev: i64, next: i64) -> bool {
        let mut rc = false;
        if self.filtered(pid, tid) {
            rc = true;
            self.skipped += 1;
        }
        if self.opts.idle_hist && (kind != Kind::Switch || (prev != 0 && next != 0)) {
            rc = true;
        }
        rc
    }

    /// A thread's name for the output, widening the name column as perf does.
    fn name(&mut self, pid: i32, tid: i32) -> String {
        let s = comm_str(&self.threads.get(-1, tid).comm(), pid, tid);
        self.comm_width = self.comm_width.max(s.len());
        s
    }

    fn idle_name(&mut self) -> String {
        self.comm_width = self.comm_width.max(6);
        "<idle>".to_string()
    }

    pub(super) fn side(&mut self, rec: &Record) {
        self.threads.side(rec);
    }

    fn cpu_ok(&self, cpu: u32) -> bool {
        self.opts.cpus.is_empty() || self.opts.cpus.contains(&cpu)
    }

    pub(super) fn sample(
        &mut self,
        ev: &Events,
        kind: Kind,
        s: &Sample,
        parts: &mut Parts,
        out: &mut String,
    ) {
        let cpu = s.cpu.unwrap_or(0);
        self.max_cpu = self.max_cpu.max(cpu);
        match kind {
            Kind::Switch => self.switch(ev, s, cpu, parts, out),
            Kind::Wakeup | Kind::Waking => {
                let pid = ev.int(s, "pid") as i32;
                let th = self.threads.get(0, pid);
                let wpid = th.pid;
                th.data.seen = true;
                if th.data.ready_to_run == 0 {
                    th.data.ready_to_run = s.time;
                }
                let in_window = (self.window.0 == 0 || s.time >= self.window.0)
                    && (self.window.1 == 0 || s.time <= self.window.1);
                if self.opts.wakeups && in_window {
                    self.event_line(s, cpu, (wpid, pid), "awakened", out, "");
                }
            }
            Kind::Migrate if self.opts.migrations => {
                let pid = ev.int(s, "pid") as i32;
                let th = self.threads.get(0, pid);
                th.data.migrations += 1;
                let mpid = th.pid;
                if !self.opts.summary_only {
                    let tail = format!(
                        " cpu {} => {}",
                        ev.int(s, "orig_cpu"),
                        ev.int(s, "dest_cpu")
                    );
                    self.event_line(s, cpu, (mpid, pid), "migrated", out, &tail);
                }
            }
            _ => {}
        }
    }

    /// A wake-up or migration line, unless both tasks are filtered out.
    #[allow(clippy::too_many_arguments)]
    fn event_line(
        &mut self,
        s: &Sample,
        cpu: u32,
        (opid, otid): (i32, i32),
        what: &str,
        out: &mut String,
        tail: &str,
    ) {
        let tid = s.tid;
        let pid = self.threads.get(s.pid, tid).pid;
        if self.skip(pid, tid, Kind::Other, 0, 0) && self.skip(opid, otid, Kind::Other, 0, 0) {
            return;
        }
        let _ = write!(out, "{:>15} [{cpu:04}] ", usec_time(s.time));
        if self.opts.cpu_visual {
            let n = self.max_cpu as usize + 1;
            if what == "migrated" {
                out.push_str("  ");
                for i in 0..n {
                    out.push(if i == cpu as usize { 'm' } else { ' ' });
                }
                out.push_str("  ");
            } else {
                let _ = write!(out, " {:n$} ", "");
            }
        }
        let name = self.name(pid, tid);
        let w = self.comm_width;
        let _ = write!(out, " {name:<w$} ");
        let _ = write!(out, "  {:9}  {:9}  {:9} ", "", "", "");
        let other = self.name(opid, otid);
        let _ = writeln!(out, "{what}: {other}{tail}");
    }

    fn switch(&mut self, ev: &Events, s: &Sample, cpu: u32, parts: &mut Parts, out: &mut String) {
        let prev = ev.int(s, "prev_pid");
        let next = ev.int(s, "next_pid");
        let state = ev.int(s, "prev_state");
        let mut t = s.time;
        let idle = prev == 0;
        let (pid, tid) = if idle {
            (0, 0)
        } else {
            let tid = if s.tid != 0 { s.tid } else { s.pid };
            let pid = self.threads.get(s.pid, tid).pid;
            (pid, tid)
        };
        let chain = if self.callchain && !idle {
            self.chain(s, parts)
        } else {
            Vec::new()
        };
        if !idle && self.opts.idle_hist {
            let c = cpu as usize;
            if c >= self.idle.len() {
                self.idle.resize(c + 1, Runtime::default());
            }
            self.idle[c].last_thread = Some(tid);
        }
        let tprev_raw = self.last_switch.get(&cpu).copied().unwrap_or(0);
        let mut has_tr = false;
        'body: {
            if self.skip(pid, tid, Kind::Switch, prev, next) {
                break 'body;
            }
            has_tr = true;
            let mut tprev = tprev_raw;
            let (start, end) = self.window;
            if start != 0 && start > t {
                break 'body;
            }
            if tprev != 0 && start > tprev {
                tprev = start;
            }
            if end != 0 {
                if tprev == 0 || tprev > end {
                    break 'body;
                }
                t = t.min(end);
            }
            let cpu_ok = self.cpu_ok(cpu);
            // With --idle-hist only the idle task's numbers move, but every switch to or
            // from idle prints (perf 6.1).
            if !self.opts.idle_hist || tid == 0 {
                if cpu_ok {
                    self.runtime(idle, cpu, tid).update(t, tprev);
                }
                if self.opts.idle_hist {
                    let c = cpu as usize;
                    if let Some(last) = self.idle[c].last_thread.take() {
                        let th = self.threads.get(-1, last);
                        th.data.update(t, tprev);
                        th.data.dt_run = 0;
                        th.data.dt_delay = 0;
                        th.data.dt_sleep = 0;
                        th.data.dt_iowait = 0;
                        th.data.dt_preempt = 0;
                    } else {
                        break 'body;
                    }
                }
            }
            if !self.opts.summary_only && cpu_ok {
                self.print(ev, s, cpu, (pid, tid), t, state, &chain, out);
            }
        }
        if self.hist.0 == 0 && t >= self.window.0 {
            self.hist.0 = t;
        }
        if self.window.1 == 0 || t <= self.window.1 {
            self.hist.1 = t;
        }
        if has_tr {
            let r = self.runtime(idle, cpu, tid);
            r.last_time = s.time;
            r.last_state = state;
            r.ready_to_run = 0;
        }
        self.last_switch.insert(cpu, s.time);
    }

    fn runtime(&mut self, idle: bool, cpu: u32, tid: i32) -> &mut Runtime {
        if idle {
            let c = cpu as usize;
            if c >= self.idle.len() {
                self.idle.resize(c + 1, Runtime::default());
            }
            &mut self.idle[c]
        } else {
            let th = self.threads.get(-1, tid);
            th.data.seen = true;
            &mut th.data
        }
    }

    /// The switched-out task's kernel and user frames, named, without the scheduler's own.
    fn chain(&self, s: &Sample, parts: &mut Parts) -> Vec<String> {
        if s.callchain.is_none_or(|c| c.is_empty()) {
            return Vec::new();
        }
        // perf stops reading at the limit: a bad marker past it does not void the chain.
        let max = self.opts.max_stack + 2;
        let frames = match callchain::walk(s, max) {
            (f, false) => f,
            (f, true) if f.len() >= max => f,
            _ => Vec::new(),
        };
        frames
            .iter()
            .map(|f| {
                // perf 6.1's timehist reads no MMAP2 records, so it names no user code:
                // user frames print as perf prints them.
                if f.mode != crate::data::Mode::Kernel {
                    return "[unknown]".to_string();
                }
                parts
                    .session
                    .resolve(s.pid, f.addr, f.mode)
                    .and_then(|loc| parts.syms.symbol(&parts.session, loc))
                    .map_or_else(|| "[unknown]".to_string(), |sym| sym.name)
            })
            .filter(|n| !matches!(n.as_str(), "schedule" | "__schedule" | "preempt_schedule"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_perf_61() {
        assert_eq!(state_char(5, 0), 'R');
        assert_eq!(state_char(5, 1), 'S');
        assert_eq!(state_char(5, 2), 'D');
        assert_eq!(state_char(5, 0x80), 'K');
        assert_eq!(state_char(5, 0x10), 'Z');
        assert_eq!(state_char(5, 0x20), 'X');
        assert_eq!(state_char(0, 1), 'I');
    }

    #[test]
    fn sched_times_print_msec_dot_usec() {
        let mut s = String::new();
        sched_time(&mut s, 1_234_567, 6);
        sched_time(&mut s, 999, 2);
        assert_eq!(s, "     1.234  0.000 ");
    }

    #[test]
    fn relative_stddev_matches_perf() {
        let mut st = Stats::default();
        for v in [10, 20, 30] {
            st.update(v);
        }
        assert_eq!(st.min, 10);
        assert_eq!(st.max, 30);
        assert!((st.mean - 20.0).abs() < 1e-9);
        // stddev 10, of the mean 10/sqrt(3), over the mean 20: 28.87 %.
        assert!((st.rel_stddev() - 28.8675).abs() < 1e-3);
    }

    #[test]
    fn thread_names_like_timehist() {
        assert_eq!(comm_str("sh", 7, 7), "sh[7]");
        assert_eq!(comm_str("sh", 7, 8), "sh[8/7]");
        assert_eq!(comm_str("sh", 0, 8), "sh");
        assert_eq!(comm_str(":-1", 9, -1), ":-1[-1/9]");
    }
}
