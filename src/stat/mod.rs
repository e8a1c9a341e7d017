//! Counting results: scaling multiplexed counts, aggregating CPUs/threads, statistics over
//! `-r` runs, shadow metrics, and perf stat's human, CSV and JSON layouts.

pub mod format;
pub mod metrics;
pub mod prometheus;

use crate::events::{EventKind, ToolEvent};
use crate::sys::counter::Count;

/// How counts are grouped into output rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregation {
    /// One row per event (the default).
    #[default]
    Global,
    /// One row per event and CPU (`-A`, `--no-aggr`, `--per-cpu`).
    PerCpu,
    /// One row per event and thread (`--per-thread`).
    PerThread,
}

/// Which slice of the counters a row covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// Everything.
    Global,
    /// One CPU.
    Cpu(u32),
    /// One thread: its command name and tid.
    Thread(String, i32),
}

/// Whether an event could be counted at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Opened fine.
    Supported,
    /// The kernel or hardware cannot count it (`<not supported>`).
    NotSupported,
}

/// Static facts about an event needed for display.
#[derive(Debug, Clone, PartialEq)]
pub struct EventInfo {
    /// Name as typed.
    pub name: String,
    /// What it is.
    pub kind: EventKind,
    /// Whether it opened.
    pub support: Support,
    /// The cgroup it counts in (`-G`, `--for-each-cgroup`).
    pub cgroup: Option<String>,
}

impl EventInfo {
    /// The unit shown next to values (`msec` for clocks, `ns` for tool times).
    pub fn unit(&self) -> &'static str {
        match self.kind {
            _ if self.kind.is_clock() => "msec",
            EventKind::Tool(_) => "ns",
            _ => "",
        }
    }

    /// Multiplier from the raw count to the displayed value.
    pub fn scale(&self) -> f64 {
        if self.kind.is_clock() {
            1e-6
        } else {
            1.0
        }
    }

    /// Whether this is duration_time (its rows get no CPUs-utilized metric).
    pub fn is_duration(&self) -> bool {
        matches!(self.kind, EventKind::Tool(ToolEvent::DurationTime))
    }
}

/// Scales a multiplexed count as perf does: `value * enabled / running`; `None` when the
/// counter never ran.
pub fn scaled(c: Count) -> Option<f64> {
    if c.running == 0 || c.enabled == 0 {
        return None;
    }
    if c.running >= c.enabled {
        Some(c.value as f64)
    } else {
        Some((c.value as f64 * c.enabled as f64 / c.running as f64).trunc())
    }
}

/// Running mean and variance (Welford), as perf's `struct stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Samples.
    pub n: u64,
    /// Mean.
    pub mean: f64,
    m2: f64,
}

impl Stats {
    /// Adds one observation.
    pub fn update(&mut self, v: f64) {
        self.n += 1;
        let delta = v - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (v - self.mean);
    }

    /// Standard deviation of the mean (perf's `stddev_stats`).
    pub fn stddev_of_mean(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let variance = self.m2 / (self.n - 1) as f64;
        (variance / self.n as f64).sqrt()
    }

    /// The stddev of the mean relative to the mean, in percent (perf's `rel_stddev_stats`).
    pub fn rel_stddev_pct(&self) -> f64 {
        if self.mean == 0.0 {
            0.0
        } else {
            100.0 * self.stddev_of_mean() / self.mean
        }
    }
}

/// One output row's numbers: an event in a bucket, over one or more runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Value {
    /// Scaled counts over runs (mean is shown). `None` observations are not counted.
    pub stats: Stats,
    /// Whether any run counted it.
    pub counted: bool,
    /// Sum of enabled time (ns), averaged over runs.
    pub enabled: Stats,
    /// Sum of running time (ns), averaged over runs.
    pub running: Stats,
}

impl Value {
    /// Adds one run's aggregated count.
    pub fn add_run(&mut self, c: Count) {
        self.add_observation(scaled(c), c.enabled, c.running);
    }

    /// Adds one run's already scaled value (`None`: not counted) with its summed times.
    pub fn add_observation(&mut self, scaled: Option<f64>, enabled: u64, running: u64) {
        if let Some(v) = scaled {
            self.stats.update(v);
            self.counted = true;
        }
        self.enabled.update(enabled as f64);
        self.running.update(running as f64);
    }

    /// Adds a tool value (already in its unit).
    pub fn add_tool(&mut self, v: f64) {
        self.stats.update(v);
        self.counted = v != 0.0;
        self.enabled.update(1.0);
        self.running.update(1.0);
    }

    /// Percentage of time the counter was on the PMU (100 when never enabled, as perf).
    pub fn pct_running(&self) -> f64 {
        if self.enabled.mean == 0.0 {
            100.0
        } else {
            100.0 * self.running.mean / self.enabled.mean
        }
    }

    /// Whether the counter was multiplexed (running less than enabled).
    pub fn multiplexed(&self) -> bool {
        self.counted && self.running.mean < self.enabled.mean
    }
}

/// Everything one `stat` invocation prints: events × buckets.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Events in command-line order.
    pub events: Vec<EventInfo>,
    /// Buckets in display order.
    pub buckets: Vec<Bucket>,
    /// `values[event][bucket]`.
    pub values: Vec<Vec<Value>>,
    /// Wall time of each run, ns.
    pub wall_ns: Stats,
}

impl Results {
    /// Empty results for these events and buckets.
    pub fn new(events: Vec<EventInfo>, buckets: Vec<Bucket>) -> Results {
        let values = vec![vec![Value::default(); buckets.len()]; events.len()];
        Results {
            events,
            buckets,
            values,
            wall_ns: Stats::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplexed_counts_scale_up() {
        let c = Count {
            value: 100,
            enabled: 1000,
            running: 250,
        };
        assert_eq!(scaled(c), Some(400.0));
        assert_eq!(
            scaled(Count {
                value: 5,
                enabled: 10,
                running: 10
            }),
            Some(5.0)
        );
        assert_eq!(scaled(Count::default()), None);
    }

    #[test]
    fn stats_match_perf_formula() {
        let mut s = Stats::default();
        for v in [10.0, 12.0, 14.0] {
            s.update(v);
        }
        assert_eq!(s.mean, 12.0);
        // sample variance 4, variance of the mean 4/3
        assert!((s.stddev_of_mean() - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((s.rel_stddev_pct() - 100.0 * (4.0f64 / 3.0).sqrt() / 12.0).abs() < 1e-9);
        let mut one = Stats::default();
        one.update(3.0);
        assert_eq!(one.stddev_of_mean(), 0.0);
    }

    #[test]
    fn value_tracks_running_percentage() {
        let mut v = Value::default();
        v.add_run(Count {
            value: 1,
            enabled: 200,
            running: 100,
        });
        assert!(v.multiplexed());
        assert_eq!(v.pct_running(), 50.0);
        assert_eq!(v.stats.mean, 2.0);
        let mut never = Value::default();
        never.add_run(Count::default());
        assert!(!never.counted);
        assert_eq!(never.pct_running(), 100.0);
    }
}
