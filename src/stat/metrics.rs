//! Shadow metrics perf prints after `#`: CPUs utilized, rates, GHz, IPC, miss ratios.
use super::{Bucket, Results};
use crate::events::tables::{SW_CPU_CLOCK, SW_TASK_CLOCK};
use crate::events::EventKind;

/// A metric value with how perf prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The number.
    pub value: f64,
    /// Its unit text (`CPUs utilized`, `K/sec`, `of all branches`).
    pub unit: String,
    /// printf-style shape: `%8.3f`, `%7.2f` or `%7.2f%%`.
    pub shape: Shape,
}

/// The numeric shapes perf uses for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `%8.3f`
    F8_3,
    /// `%7.2f`
    F7_2,
    /// `%7.2f%%`
    Pct,
}

impl Shape {
    /// Formats a value in this shape.
    pub fn render(self, v: f64) -> String {
        match self {
            Shape::F8_3 => format!("{v:8.3}"),
            Shape::F7_2 => format!("{v:7.2}"),
            Shape::Pct => format!("{v:7.2}%"),
        }
    }
}

/// perf's `convert_unit_double`: K, M or G once the value passes 1e3, 1e6, 1e9.
fn rate_unit(v: f64) -> (f64, &'static str) {
    if v > 1e9 {
        (v / 1e9, "G/sec")
    } else if v > 1e6 {
        (v / 1e6, "M/sec")
    } else if v > 1e3 {
        (v / 1e3, "K/sec")
    } else {
        (v, "/sec")
    }
}

/// The mean of the first counted event in `bucket` and `cgroup` matching `pred` (perf
/// relates events of the same cgroup only).
fn find(
    r: &Results,
    b: usize,
    cgroup: &Option<String>,
    pred: impl Fn(&EventKind) -> bool,
) -> Option<f64> {
    r.events
        .iter()
        .zip(&r.values)
        .find(|(e, v)| pred(&e.kind) && v[b].counted && e.cgroup == *cgroup)
        .map(|(_, v)| v[b].stats.mean)
}

fn ratio_metric(num: f64, den: Option<f64>, unit: &str) -> Option<Metric> {
    let den = den?;
    Some(Metric {
        value: if den == 0.0 { 0.0 } else { 100.0 * num / den },
        unit: unit.to_string(),
        shape: Shape::Pct,
    })
}

/// The metric for event `e` in bucket index `b`, given the wall time the counts cover.
pub fn metric(r: &Results, e: usize, b: usize, wall_ns: f64) -> Option<Metric> {
    let ev = &r.events[e];
    let v = &r.values[e][b];
    if !v.counted {
        return None;
    }
    let avg = v.stats.mean;
    let hw = |c: u64| move |k: &EventKind| *k == EventKind::Hardware(c);
    let cache = |c: u64| move |k: &EventKind| *k == EventKind::Cache(c);
    let clock_ns = find(r, b, &ev.cgroup, |k| {
        matches!(
            k,
            EventKind::Software(SW_TASK_CLOCK) | EventKind::Software(SW_CPU_CLOCK)
        )
    });
    if ev.kind.is_clock() {
        return Some(Metric {
            value: if wall_ns > 0.0 { avg / wall_ns } else { 0.0 },
            unit: "CPUs utilized".into(),
            shape: Shape::F8_3,
        });
    }
    let special = match ev.kind {
        EventKind::Hardware(0) => clock_ns.map(|ns| Metric {
            value: if ns > 0.0 { avg / ns } else { 0.0 },
            unit: "GHz".into(),
            shape: Shape::F8_3,
        }),
        EventKind::Hardware(1) => find(r, b, &ev.cgroup, hw(0)).map(|cyc| Metric {
            value: if cyc > 0.0 { avg / cyc } else { 0.0 },
            unit: "insn per cycle".into(),
            shape: Shape::F7_2,
        }),
        EventKind::Hardware(3) => {
            ratio_metric(avg, find(r, b, &ev.cgroup, hw(2)), "of all cache refs")
        }
        EventKind::Hardware(5) => {
            ratio_metric(avg, find(r, b, &ev.cgroup, hw(4)), "of all branches")
        }
        EventKind::Hardware(7) => {
            ratio_metric(avg, find(r, b, &ev.cgroup, hw(0)), "frontend cycles idle")
        }
        EventKind::Hardware(8) => {
            ratio_metric(avg, find(r, b, &ev.cgroup, hw(0)), "backend cycles idle")
        }
        // load misses against loads of the same cache: id | 1 << 16 vs id
        EventKind::Cache(c) if c >> 8 == 1 << 8 => {
            let id = c & 0xff;
            let what = match id {
                0 => "of all L1-dcache accesses",
                1 => "of all L1-icache accesses",
                2 => "of all LL-cache accesses",
                3 => "of all dTLB cache accesses",
                4 => "of all iTLB cache accesses",
                _ => "",
            };
            if what.is_empty() {
                None
            } else {
                ratio_metric(avg, find(r, b, &ev.cgroup, cache(id)), what)
            }
        }
        _ => None,
    };
    if special.is_some() {
        return special;
    }
    if matches!(ev.kind, EventKind::Hardware(0 | 1 | 3 | 5 | 7 | 8)) {
        return None;
    }
    if ev.is_duration() {
        return None;
    }
    let ns = clock_ns?;
    let (value, unit) = if ns > 0.0 {
        rate_unit(1e9 * avg / ns)
    } else {
        (0.0, "/sec")
    };
    Some(Metric {
        value,
        unit: unit.into(),
        shape: Shape::F8_3,
    })
}

/// Convenience for tests and printers: the bucket index of `bucket`.
pub fn bucket_index(r: &Results, bucket: &Bucket) -> Option<usize> {
    r.buckets.iter().position(|b| b == bucket)
}

#[cfg(test)]
mod tests {
    use super::super::{EventInfo, Support};
    use super::*;
    use crate::sys::counter::Count;

    fn results(evs: &[(&str, EventKind, u64)]) -> Results {
        let infos = evs
            .iter()
            .map(|(n, k, _)| EventInfo {
                name: n.to_string(),
                kind: k.clone(),
                support: Support::Supported,
                cgroup: None,
            })
            .collect();
        let mut r = Results::new(infos, vec![Bucket::Global]);
        for (i, (_, _, v)) in evs.iter().enumerate() {
            r.values[i][0].add_run(Count {
                value: *v,
                enabled: 10,
                running: 10,
            });
        }
        r
    }

    #[test]
    fn clock_gives_cpus_utilized_and_rates() {
        let r = results(&[
            ("task-clock", EventKind::Software(1), 1_080_000),
            ("context-switches", EventKind::Software(3), 1),
            ("page-faults", EventKind::Software(2), 102),
        ]);
        let m = metric(&r, 0, 0, 1_886_110.0).unwrap();
        assert_eq!(m.unit, "CPUs utilized");
        assert_eq!(m.shape.render(m.value), "   0.573");
        let m = metric(&r, 1, 0, 1.0).unwrap();
        assert_eq!(
            (m.shape.render(m.value).as_str(), m.unit.as_str()),
            (" 925.926", "/sec")
        );
        let m = metric(&r, 2, 0, 1.0).unwrap();
        assert_eq!(
            (m.shape.render(m.value).as_str(), m.unit.as_str()),
            ("  94.444", "K/sec")
        );
    }

    #[test]
    fn no_clock_no_rate() {
        let r = results(&[("cs", EventKind::Software(3), 5)]);
        assert_eq!(metric(&r, 0, 0, 1.0), None);
    }

    #[test]
    fn hardware_ratios() {
        let r = results(&[
            ("cycles", EventKind::Hardware(0), 2_000_000),
            ("instructions", EventKind::Hardware(1), 3_000_000),
            ("branches", EventKind::Hardware(4), 2000),
            ("branch-misses", EventKind::Hardware(5), 25),
            ("L1-dcache-loads", EventKind::Cache(0), 400),
            ("L1-dcache-load-misses", EventKind::Cache(1 << 16), 100),
            ("task-clock", EventKind::Software(1), 1_000_000),
        ]);
        let ipc = metric(&r, 1, 0, 1.0).unwrap();
        assert_eq!(
            (ipc.shape.render(ipc.value).as_str(), ipc.unit.as_str()),
            ("   1.50", "insn per cycle")
        );
        let ghz = metric(&r, 0, 0, 1.0).unwrap();
        assert_eq!(
            (ghz.shape.render(ghz.value).as_str(), ghz.unit.as_str()),
            ("   2.000", "GHz")
        );
        let bm = metric(&r, 3, 0, 1.0).unwrap();
        assert_eq!(
            (bm.shape.render(bm.value).as_str(), bm.unit.as_str()),
            ("   1.25%", "of all branches")
        );
        let l1 = metric(&r, 5, 0, 1.0).unwrap();
        assert_eq!(l1.unit, "of all L1-dcache accesses");
        assert_eq!(l1.value, 25.0);
        let br = metric(&r, 2, 0, 1.0).unwrap();
        assert_eq!(br.unit, "M/sec");
    }
}
