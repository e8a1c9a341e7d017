//! `sched latency`: per task, the time from wake-up (or preemption) to running, merged by
//! command name, as perf 6.1 counts it.
use std::collections::HashMap;
use std::fmt::Write as _;

use super::{Counts, Events, Kind, LatencyOpts, SortKey, Threads};
use crate::data::{Record, Sample};
use crate::report::usec_time;

/// Where a task is in its last switch-out → wake-up → switch-in cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AtomState {
    Sleeping,
    WaitCpu,
    SchedIn,
    Ignore,
}

/// One task's last cycle and its running totals.
#[derive(Debug, Clone)]
struct Atoms {
    tid: i32,
    serial: u64,
    state: AtomState,
    sched_out: u64,
    wake_up: u64,
    max_lat: u64,
    max_start: u64,
    max_end: u64,
    total_lat: u64,
    count: u64,
    runtime: u64,
    merged: u32,
}

impl Atoms {
    fn new(tid: i32, serial: u64) -> Atoms {
        Atoms {
            tid,
            serial,
            state: AtomState::Sleeping,
            sched_out: 0,
            wake_up: 0,
            max_lat: 0,
            max_start: 0,
            max_end: 0,
            total_lat: 0,
            count: 0,
            runtime: 0,
            merged: 0,
        }
    }

    /// A new cycle from a switch-out: runnable ('R', preempted) waits for the CPU at once.
    fn sched_out(&mut self, runnable: bool, t: u64) {
        self.sched_out = t;
        self.state = if runnable {
            self.wake_up = t;
            AtomState::WaitCpu
        } else {
            self.wake_up = 0;
            AtomState::Sleeping
        };
    }

    fn sched_in(&mut self, t: u64) {
        if self.state != AtomState::WaitCpu {
            return;
        }
        if t < self.wake_up {
            self.state = AtomState::Ignore;
            return;
        }
        self.state = AtomState::SchedIn;
        let delta = t - self.wake_up;
        self.total_lat += delta;
        if delta > self.max_lat {
            self.max_lat = delta;
            self.max_start = self.wake_up;
            self.max_end = t;
        }
        self.count += 1;
    }

    fn avg(&self) -> u64 {
        self.total_lat.checked_div(self.count).unwrap_or(0)
    }
}

pub(super) struct Latency {
    opts: LatencyOpts,
    /// By thread serial: a thread id reused after a fork starts new atoms, as in perf.
    tasks: HashMap<u64, Atoms>,
    threads: Threads<()>,
}

impl Latency {
    pub(super) fn new(opts: LatencyOpts) -> Latency {
        Latency {
            opts,
            tasks: HashMap::new(),
            threads: Threads::new(),
        }
    }

    /// A task's atoms; one seen first gets an initial cycle as the event implies.
    fn task(&mut self, tid: i32, t: u64, first: Option<bool>) -> &mut Atoms {
        let serial = self.threads.get(-1, tid).serial;
        self.tasks.entry(serial).or_insert_with(|| {
            let mut a = Atoms::new(tid, serial);
            if let Some(runnable) = first {
                a.sched_out(runnable, t);
            }
            a
        })
    }

    pub(super) fn sample(&mut self, ev: &Events, kind: Kind, s: &Sample, counts: &mut Counts) {
        let t = s.time;
        match kind {
            Kind::Switch => {
                let prev = ev.int(s, "prev_pid") as i32;
                let next = ev.int(s, "next_pid") as i32;
                // perf 6.1 tests the raw state against its letter table, where only 0 is 'R'.
                let runnable = ev.int(s, "prev_state") == 0;
                let out = self.task(prev, t, None);
                out.sched_out(runnable, t);
                self.task(next, t, Some(true)).sched_in(t);
            }
            Kind::Runtime => {
                let pid = ev.int(s, "pid") as i32;
                let rt = ev.int(s, "runtime") as u64;
                self.task(pid, t, Some(true)).runtime += rt;
            }
            Kind::Wakeup => {
                let pid = ev.int(s, "pid") as i32;
                let one_cpu = self.opts.cpu.is_some();
                let a = self.task(pid, t, Some(false));
                if !one_cpu && a.state != AtomState::Sleeping {
                    return;
                }
                counts.timestamps += 1;
                if a.sched_out > t {
                    counts.unordered += 1;
                    return;
                }
                a.state = AtomState::WaitCpu;
                a.wake_up = t;
            }
            Kind::Migrate => {
                if self.opts.cpu.is_none() {
                    return;
                }
                let pid = ev.int(s, "pid") as i32;
                let a = self.task(pid, t, Some(true));
                a.sched_out = t;
                a.wake_up = t;
                counts.timestamps += 1;
            }
            Kind::Waking | Kind::Other => {}
        }
    }

    pub(super) fn side(&mut self, rec: &Record) {
        self.threads.side(rec);
    }

    pub(super) fn finish(&mut self, counts: &Counts, out: &mut String) {
        // perf's trees: by thread id, largest first (a reused id's later thread first);
        // merged by final command name, largest first; then a stable sort on the keys,
        // largest first.
        let mut by_tid: Vec<Atoms> = self.tasks.drain().map(|(_, a)| a).collect();
        by_tid.sort_by_key(|a| std::cmp::Reverse((a.tid, a.serial)));
        let threads = &self.threads;
        let mut rows: Vec<(String, Atoms)> = Vec::new();
        if self.opts.per_pid {
            rows = by_tid
                .into_iter()
                .map(|a| (threads.comm_of(a.serial, a.tid), a))
                .collect();
        } else {
            let mut index: HashMap<String, usize> = HashMap::new();
            for a in by_tid {
                let comm = threads.comm_of(a.serial, a.tid);
                match index.get(&comm) {
                    Some(&i) => {
                        let m = &mut rows[i].1;
                        m.merged += 1;
                        m.runtime += a.runtime;
                        m.count += a.count;
                        m.total_lat += a.total_lat;
                        if m.max_lat < a.max_lat {
                            m.max_lat = a.max_lat;
                            m.max_start = a.max_start;
                            m.max_end = a.max_end;
                        }
                    }
                    None => {
                        index.insert(comm.clone(), rows.len());
                        let mut a = a;
                        a.merged = 1;
                        rows.push((comm, a));
                    }
                }
            }
            rows.sort_by(|a, b| b.0.as_bytes().cmp(a.0.as_bytes()));
        }
        let keys = &self.opts.sort;
        rows.sort_by(|(_, a), (_, b)| {
            for k in keys {
                let o = match k {
                    SortKey::Pid => a.tid.cmp(&b.tid),
                    SortKey::Avg => {
                        // perf: a task without switches sorts below everything.
                        if a.count == 0 {
                            std::cmp::Ordering::Less
                        } else if b.count == 0 {
                            std::cmp::Ordering::Greater
                        } else {
                            a.avg().cmp(&b.avg())
                        }
                    }
                    SortKey::Max => a.max_lat.cmp(&b.max_lat),
                    SortKey::Switch => a.count.cmp(&b.count),
                    SortKey::Runtime => a.runtime.cmp(&b.runtime),
                };
                if o != std::cmp::Ordering::Equal {
                    return o.reverse();
                }
            }
            std::cmp::Ordering::Equal
        });
        let rule = format!(" {}\n", "-".repeat(139));
        out.push('\n');
        out.push_str(&rule);
        out.push_str("  Task                  |   Runtime ms  | Switches | Avg delay ms    | Max delay ms    | Max delay start           | Max delay end          |\n");
        out.push_str(&rule);
        let (mut all_runtime, mut all_count) = (0u64, 0u64);
        for (comm, a) in &rows {
            if a.count == 0 || comm == "swapper" {
                continue;
            }
            all_runtime += a.runtime;
            all_count += a.count;
            let name = if a.merged > 1 {
                format!("  {comm}:({}) ", a.merged)
            } else {
                format!("  {comm}:{} ", a.tid)
            };
            out.push_str(&name);
            let pad = 24usize.saturating_sub(name.len());
            out.extend(std::iter::repeat_n(' ', pad));
            let _ = writeln!(
                out,
                "|{:11.3} ms |{:9} | avg:{:8.3} ms | max:{:8.3} ms | max start: {:>12} s | max end: {:>12} s",
                a.runtime as f64 / 1e6,
                a.count,
                a.avg() as f64 / 1e6,
                a.max_lat as f64 / 1e6,
                usec_time(a.max_start),
                usec_time(a.max_end)
            );
        }
        let _ = writeln!(out, " {}", "-".repeat(113));
        let _ = writeln!(
            out,
            "  TOTAL:                |{:11.3} ms |{:9} |",
            all_runtime as f64 / 1e6,
            all_count
        );
        let _ = writeln!(out, " {}", "-".repeat(51));
        counts.bad_events(out);
        out.push('\n');
    }
}
