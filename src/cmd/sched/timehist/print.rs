//! timehist's output: the column header, one line per switch, and the summary tables.
use super::*;

impl Timehist {
    pub(super) fn header(&self, out: &mut String) {
        let ncpus = self.max_cpu as usize + 1;
        let w = self.comm_width;
        let _ = write!(out, "{:>15} {:>6} ", "time", "cpu");
        if self.opts.cpu_visual {
            out.push(' ');
            for i in 0..ncpus {
                let _ = write!(out, "{:x}", i % 16);
            }
            out.push(' ');
        }
        let _ = write!(out, " {:<w$}", "task name");
        let _ = write!(
            out,
            "  {:>9}  {:>9}  {:>9}",
            "wait time", "sch delay", "run time"
        );
        if self.opts.state {
            out.push_str("  state");
        }
        out.push('\n');
        let _ = write!(out, "{:>15} {:<6} ", "", "");
        if self.opts.cpu_visual {
            let _ = write!(out, " {:ncpus$} ", "");
        }
        let _ = write!(out, " {:<w$}", "[tid/pid]");
        let _ = write!(out, "  {:>9}  {:>9}  {:>9}", "(msec)", "(msec)", "(msec)");
        if self.opts.state {
            out.push_str("       ");
        }
        out.push('\n');
        let d = |n: usize| "-".repeat(n);
        let _ = write!(out, "{} {} ", d(15), d(6));
        if self.opts.cpu_visual {
            let _ = write!(out, " {} ", d(ncpus));
        }
        let _ = write!(out, " {}", d(w));
        let _ = write!(out, "  {}  {}  {}", d(9), d(9), d(9));
        if self.opts.state {
            let _ = write!(out, "  {}", d(5));
        }
        out.push('\n');
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn print(
        &mut self,
        ev: &Events,
        s: &Sample,
        cpu: u32,
        (pid, tid): (i32, i32),
        t: u64,
        state: i64,
        chain: &[String],
        out: &mut String,
    ) {
        let _ = write!(out, "{:>15} [{cpu:04}] ", usec_time(t));
        if self.opts.cpu_visual {
            out.push(' ');
            for i in 0..=self.max_cpu {
                out.push(if i != cpu {
                    ' '
                } else if tid == 0 {
                    'i'
                } else {
                    's'
                });
            }
            out.push(' ');
        }
        let name = if tid == 0 {
            self.idle_name()
        } else {
            self.name(pid, tid)
        };
        let w = self.comm_width;
        let _ = write!(out, " {name:<w$} ");
        let r = if tid == 0 {
            &self.idle[cpu as usize]
        } else {
            &self.threads.get(-1, tid).data
        };
        let (wait, delay, run) = (
            r.dt_sleep + r.dt_iowait + r.dt_preempt,
            r.dt_delay,
            r.dt_run,
        );
        sched_time(out, wait, 6);
        sched_time(out, delay, 6);
        sched_time(out, run, 6);
        if self.opts.state {
            let _ = write!(out, " {:>5} ", state_char(tid, state));
        }
        if self.opts.next {
            let n = format!(
                "next: {}[{}]",
                ev.text(s, "next_comm"),
                ev.int(s, "next_pid")
            );
            let _ = write!(out, " {n:<w$}");
        }
        if self.opts.wakeups && !self.opts.next {
            let _ = write!(out, "  {:w$}", "");
        }
        if tid != 0 && self.callchain {
            // The chain already stops at --max-stack + 2 frames, counted before the
            // scheduler's own are left out, as perf counts them.
            out.push_str("  ");
            if !chain.is_empty() {
                out.push(' ');
                out.push_str(&chain.join(" <- "));
            }
        }
        out.push('\n');
    }

    pub(in crate::cmd::sched) fn finish(&mut self, out: &mut String) {
        if !self.opts.with_summary {
            return;
        }
        // perf's unsigned difference, wrapped when a window holds no switch.
        let hist_time = self.hist.1.wrapping_sub(self.hist.0);
        let w = self.comm_width;
        if self.opts.idle_hist {
            out.push_str("\nIdle-time summary\n");
            let _ = write!(out, "{:>w$}  parent  sched-out  ", "comm");
            out.push_str("  idle-time   min-idle    avg-idle    max-idle  stddev  migrations\n");
        } else if self.opts.state {
            out.push_str("\nWait-time summary\n");
            let _ = write!(out, "{:>w$}  parent   sched-in  ", "comm");
            out.push_str("   run-time      sleep      iowait     preempt       delay\n");
        } else {
            out.push_str("\nRuntime summary\n");
            let _ = write!(out, "{:>w$}  parent   sched-in  ", "comm");
            out.push_str("   run-time    min-run     avg-run     max-run  stddev  migrations\n");
        }
        let _ = write!(out, "{:>w$}            (count)  ", "");
        let _ = writeln!(
            out,
            "     (msec)     (msec)      (msec)      (msec)       {}",
            if self.opts.state { "(msec)" } else { "%" }
        );
        let _ = writeln!(out, "{}", "-".repeat(117));
        // perf's order: hash buckets of 256 by thread id, ids ascending inside each, then
        // the bucket's replaced threads in the order they were replaced.
        let bucket = |t: i32| (t as u32) % 256;
        let mut order: Vec<(u32, usize, i32)> = self
            .threads
            .map
            .keys()
            .map(|&t| (bucket(t), 0, t))
            .chain(
                self.threads
                    .replaced
                    .iter()
                    .enumerate()
                    .map(|(i, th)| (bucket(th.tid), 1 + i, th.tid)),
            )
            .collect();
        order.sort_unstable();
        let rows = |dead: bool, out: &mut String, this: &Timehist| {
            let (mut tasks, mut scheds, mut total_run) = (0u64, 0u64, 0u64);
            for &(_, replaced, tid) in &order {
                let th = match replaced {
                    0 => &this.threads.map[&tid],
                    i => &this.threads.replaced[i - 1],
                };
                if th.dead != dead || this.filtered(th.pid, tid) {
                    continue;
                }
                let r = &th.data;
                if r.stats.n == 0 {
                    continue;
                }
                tasks += 1;
                scheds += r.stats.n;
                total_run += r.total_run;
                let name = comm_str(&th.comm(), th.pid, tid);
                let _ = write!(out, "{name:>w$}   {:5}  {:9} ", th.ppid, r.stats.n);
                sched_time(out, r.total_run, 8);
                if this.opts.state {
                    sched_time(out, r.total_sleep, 6);
                    out.push(' ');
                    sched_time(out, r.total_iowait, 6);
                    out.push(' ');
                    sched_time(out, r.total_preempt, 6);
                    out.push(' ');
                    sched_time(out, r.total_delay, 6);
                } else {
                    sched_time(out, r.stats.min, 6);
                    out.push(' ');
                    sched_time(out, r.stats.mean as u64, 6);
                    out.push(' ');
                    sched_time(out, r.stats.max, 6);
                    out.push_str("  ");
                    let _ = write!(out, "{:5.2}", r.stats.rel_stddev());
                    let _ = write!(out, "   {:5}", r.migrations);
                }
                out.push('\n');
            }
            (tasks, scheds, total_run)
        };
        let (alive, s1, r1) = rows(false, out, self);
        if alive == 0 {
            out.push_str("<no still running tasks>\n");
        }
        out.push_str("\nTerminated tasks:\n");
        let (dead, s2, r2) = rows(true, out, self);
        let (tasks, mut scheds, total_run) = (alive + dead, s1 + s2, r1 + r2);
        if dead == 0 {
            out.push_str("<no terminated tasks>\n");
        }
        if self.skipped > 0 && !self.opts.idle_hist {
            return;
        }
        out.push_str("\nIdle stats:\n");
        for (i, r) in self.idle.iter().enumerate() {
            if !self.cpu_ok(i as u32) {
                continue;
            }
            if r.stats.n > 0 {
                scheds += r.stats.n;
                let _ = write!(out, "    CPU {i:2} idle for ");
                sched_time(out, r.total_run, 6);
                let pct = 100.0 * r.total_run as f64 / hist_time as f64;
                let _ = writeln!(out, " msec  ({pct:6.2}%)");
            } else {
                let _ = writeln!(out, "    CPU {i:2} idle entire time window");
            }
        }
        if self.opts.idle_hist && self.callchain {
            out.push_str("\nIdle stats by callchain:\n");
            for (i, r) in self.idle.iter().enumerate() {
                let _ = write!(out, "  CPU {i:2}:");
                sched_time(out, r.total_run, 6);
                out.push_str(" msec\n");
                let _ = writeln!(
                    out,
                    "  {:>16}  {:>8}  Callchains",
                    "Idle time (msec)", "Count"
                );
                let _ = writeln!(
                    out,
                    "  {}  {}  {}",
                    "-".repeat(16),
                    "-".repeat(8),
                    "-".repeat(50)
                );
                // perf 6.1 lists no chains here (its copy of the task's chain comes out
                // empty), so neither does rperf: the headings alone.
                out.push('\n');
            }
        }
        let _ = writeln!(out, "\n    Total number of unique tasks: {tasks}");
        let _ = writeln!(out, "Total number of context switches: {scheds}");
        out.push_str("           Total run time (msec): ");
        sched_time(out, total_run, 2);
        out.push('\n');
        out.push_str("    Total scheduling time (msec): ");
        sched_time(out, hist_time, 2);
        let _ = writeln!(out, " (x {})", self.max_cpu);
    }
}
