//! The `-s`/`-S` summary: per thread, per syscall, the calls, errors and the duration
//! statistics perf keeps (Welford's running mean and variance), printed in perf trace's
//! table and order.
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Running statistics of one syscall in one thread (perf's `struct stats`).
#[derive(Debug, Default, Clone)]
pub struct One {
    n: u64,
    mean: f64,
    m2: f64,
    min: u64,
    max: u64,
    failures: u64,
    /// Failures by errno.
    errnos: BTreeMap<i64, u64>,
}

/// A thread's statistics, by syscall number.
#[derive(Debug, Default)]
pub struct Stats(BTreeMap<i64, One>);

impl Stats {
    /// Counts one call of syscall `id` that took `ns`.
    pub fn update(&mut self, id: i64, ns: u64, ret: i64) {
        let failed = ret < 0;
        let s = self.0.entry(id).or_default();
        s.n += 1;
        let v = ns as f64;
        let delta = v - s.mean;
        s.mean += delta / s.n as f64;
        s.m2 += delta * (v - s.mean);
        if s.n == 1 || ns < s.min {
            s.min = ns;
        }
        if ns > s.max {
            s.max = ns;
        }
        if failed {
            s.failures += 1;
            *s.errnos.entry(-ret).or_default() += 1;
        }
    }
}

impl Stats {
    /// The syscall numbers seen.
    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.0.keys().copied()
    }
}

/// One thread's line of the summary.
#[derive(Debug)]
pub struct ThreadRow<'a> {
    /// Thread id.
    pub tid: i32,
    /// Its command name.
    pub comm: String,
    /// Events seen for it (a syscall's entry and exit are two).
    pub nr_events: u64,
    /// Major page faults.
    pub pfmaj: u64,
    /// Minor page faults.
    pub pfmin: u64,
    /// Scheduler run time (`--sched`).
    pub runtime_ms: f64,
    /// Its syscalls.
    pub stats: &'a Stats,
}

fn stddev_mean(s: &One) -> f64 {
    if s.n < 2 {
        return 0.0;
    }
    let variance = s.m2 / (s.n - 1) as f64;
    (variance / s.n as f64).sqrt()
}

/// The summary text; `total_events` is every record read, as perf's percentage uses.
pub fn render(
    threads: &[ThreadRow<'_>],
    total_events: u64,
    sched: bool,
    errno_summary: bool,
    names: &std::collections::HashMap<i64, String>,
) -> String {
    let mut out = String::from("\n Summary of events:\n\n");
    // perf walks its thread hash buckets (tid % 256), each in ascending event count.
    let mut order: Vec<&ThreadRow<'_>> = threads.iter().collect();
    order.sort_by_key(|t| (t.tid.rem_euclid(256), t.nr_events, t.tid));
    for t in order {
        let ratio = t.nr_events as f64 / total_events.max(1) as f64 * 100.0;
        let _ = write!(
            out,
            " {} ({}), {} events, {:.1}%",
            t.comm, t.tid, t.nr_events, ratio
        );
        if t.pfmaj > 0 {
            let _ = write!(out, ", {} majfaults", t.pfmaj);
        }
        if t.pfmin > 0 {
            let _ = write!(out, ", {} minfaults", t.pfmin);
        }
        if sched {
            let _ = writeln!(out, ", {:.3} msec", t.runtime_ms);
        } else {
            out.push('\n');
        }
        // perf prints the table head even for a thread whose only syscall never returned.
        out.push('\n');
        out.push_str("   syscall            calls  errors  total       min       avg       max       stddev\n");
        out.push_str("                                     (msec)    (msec)    (msec)    (msec)        (%)\n");
        out.push_str("   --------------- --------  ------ -------- --------- --------- ---------     ------\n");
        let mut rows: Vec<(i64, &One, f64)> = t
            .stats
            .0
            .iter()
            .map(|(&id, s)| (id, s, s.n as f64 * (s.mean / 1e6)))
            .collect();
        // Descending total; equal totals keep syscall-number order, as perf's tree does.
        rows.sort_by(|a, b| b.2.total_cmp(&a.2));
        for (id, s, msecs) in rows {
            let name = names.get(&id).map_or_else(|| id.to_string(), |s| s.clone());
            let pct = if s.mean != 0.0 {
                100.0 * stddev_mean(s) / s.mean
            } else {
                0.0
            };
            let _ = writeln!(
                out,
                "   {:<15} {:>8} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.2}%",
                name,
                s.n,
                s.failures,
                msecs,
                s.min as f64 / 1e6,
                s.mean / 1e6,
                s.max as f64 / 1e6,
                pct
            );
            if errno_summary {
                for (e, n) in &s.errnos {
                    let name = syscalls::Errno::new(*e as i32).name().unwrap_or("");
                    let _ = writeln!(out, "\t\t\t\t{name}: {n}");
                }
            }
        }
        out.push_str("\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_follow_perf() {
        let mut s = Stats::default();
        s.update(1, 1_000_000, 0);
        s.update(1, 3_000_000, -2);
        let o = &s.0[&1];
        assert_eq!(
            (o.n, o.failures, o.min, o.max),
            (2, 1, 1_000_000, 3_000_000)
        );
        assert!((o.mean - 2e6).abs() < 1e-6);
        // sqrt(variance / n) / mean: variance 2e12, / 2 = 1e12, sqrt 1e6, 50%.
        assert!((100.0 * stddev_mean(o) / o.mean - 50.0).abs() < 1e-9);
    }
}
