//! `stat --serve`'s page: counts in the Prometheus text exposition format (0.0.4) or
//! OpenMetrics 1.0, one counter family per event name plus the enabled/running times that
//! correct multiplexed rates. Pure text: the caller reads the counters.
use std::fmt::Write;

use crate::sys::counter::Count;

/// The content type of each format.
pub const TEXT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// OpenMetrics', asked for with `Accept: application/openmetrics-text`.
pub const OPENMETRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One time series: its label pairs (rendered once) and the counters (event, slot) summed
/// into it.
#[derive(Debug, Clone)]
pub struct Series {
    /// `event="page-faults",cpu="0"`: without braces.
    pub labels: String,
    /// `(event index, slot index)` of each counter summed.
    pub sources: Vec<(usize, usize)>,
}

/// One counter family: every event whose name sanitizes to `name`.
#[derive(Debug, Clone)]
pub struct Family {
    /// The metric name without `_total` (`rperf_page_faults`).
    pub name: String,
    /// The `# HELP` text.
    pub help: String,
    /// Its series.
    pub series: Vec<Series>,
}

/// `rperf_<event>`: the event name in Prometheus' metric charset (`[a-zA-Z0-9_]`, `:` being
/// kept for recording rules), runs of other characters one `_`.
pub fn metric_name(event: &str) -> String {
    let mut s = String::from("rperf_");
    let mut last_us = true;
    for c in event.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
            last_us = false;
        } else if !last_us {
            s.push('_');
            last_us = true;
        }
    }
    while s.ends_with('_') && s.len() > "rperf_".len() {
        s.pop();
    }
    s
}

/// A label value with `\`, `"` and newlines escaped.
pub fn label_value(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o
}

/// One event as the families need it.
#[derive(Debug, Clone)]
pub struct EventDesc {
    /// The name as typed.
    pub name: String,
    /// Its cgroup, if counted in one.
    pub cgroup: Option<String>,
    /// The unit of a count (`nanoseconds` for the clocks), for the help text.
    pub unit: &'static str,
}

/// Groups each event's slots into series (slots with the same `slot_labels` are summed)
/// and events into families by metric name, in first-seen order.
pub fn families(events: &[Option<EventDesc>], slot_labels: &[String]) -> Vec<Family> {
    let mut fams: Vec<Family> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (e, ev) in events.iter().enumerate() {
        let Some(ev) = ev else { continue };
        let name = metric_name(&ev.name);
        let mut base = format!("event=\"{}\"", label_value(&ev.name));
        if let Some(cg) = &ev.cgroup {
            let _ = write!(base, ",cgroup=\"{}\"", label_value(cg));
        }
        // An event given twice (same name, same cgroup) would repeat its series, which
        // Prometheus refuses for the whole scrape: the first one is served.
        if !seen.insert((ev.name.clone(), ev.cgroup.clone())) {
            continue;
        }
        let fi = match fams.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                fams.push(Family {
                    help: format!(
                        "Count of perf event {} ({}), raw: multiply rates by enabled/running seconds to correct multiplexing",
                        ev.name, ev.unit
                    ),
                    name,
                    series: Vec::new(),
                });
                fams.len() - 1
            }
        };
        let mut series: Vec<Series> = Vec::new();
        for (s, extra) in slot_labels.iter().enumerate() {
            let labels = if extra.is_empty() {
                base.clone()
            } else {
                format!("{base},{extra}")
            };
            match series.iter_mut().find(|x| x.labels == labels) {
                Some(x) => x.sources.push((e, s)),
                None => series.push(Series {
                    labels,
                    sources: vec![(e, s)],
                }),
            }
        }
        fams[fi].series.extend(series);
    }
    fams
}

/// The two time families (name, help) every series also has.
const TIMES: [(&str, &str); 2] = [
    (
        "rperf_event_enabled_seconds",
        "Seconds each event was enabled",
    ),
    (
        "rperf_event_running_seconds",
        "Seconds each event was on the PMU; enabled/running scales a multiplexed count",
    ),
];

fn header(out: &mut String, name: &str, help: &str, openmetrics: bool) {
    // OpenMetrics names the family without `_total`; the 0.0.4 text format names the sample.
    let fam = if openmetrics {
        name.to_string()
    } else {
        format!("{name}_total")
    };
    let _ = writeln!(out, "# HELP {fam} {help}");
    let _ = writeln!(out, "# TYPE {fam} counter");
}

/// Which number of which series (flat index over every family's series) goes in a hole.
#[derive(Debug, Clone, Copy)]
enum Hole {
    Count(usize),
    Enabled(usize),
    Running(usize),
}

/// The page with its numbers left out, built once per set of series: everything but the
/// numbers (headers, names, labels, OpenMetrics' `_created` lines) is one contiguous text,
/// so a scrape copies it in large runs and writes only the numbers between them. (Copying
/// each line's prefix from its own small string was most of a 12,800-series scrape.)
#[derive(Debug, Clone)]
pub struct Layout {
    text: String,
    /// In page order: the end of the text before each number, and which number.
    holes: Vec<(usize, Hole)>,
    series: usize,
}

impl Layout {
    /// The text exposition format's page, or with `created` (seconds since the epoch at
    /// which each series, in flat order, started from zero) OpenMetrics'.
    pub fn new(fams: &[Family], created: Option<&[f64]>) -> Layout {
        let openmetrics = created.is_some();
        let mut text = String::new();
        let mut holes = Vec::new();
        let mut sample = |text: &mut String, name: &str, labels: &str, hole: Hole| {
            let _ = write!(text, "{name}_total{{{labels}}} ");
            holes.push((text.len(), hole));
            text.push('\n');
            if let Some(c) = created {
                let (Hole::Count(i) | Hole::Enabled(i) | Hole::Running(i)) = hole;
                let _ = writeln!(text, "{name}_created{{{labels}}} {:.3}", c[i]);
            }
        };
        let mut i = 0;
        for f in fams {
            header(&mut text, &f.name, &f.help, openmetrics);
            for s in &f.series {
                sample(&mut text, &f.name, &s.labels, Hole::Count(i));
                i += 1;
            }
        }
        for (t, (name, help)) in TIMES.iter().enumerate() {
            header(&mut text, name, help, openmetrics);
            let series = fams.iter().flat_map(|f| &f.series).enumerate();
            for (i, s) in series {
                let hole = if t == 0 {
                    Hole::Enabled(i)
                } else {
                    Hole::Running(i)
                };
                sample(&mut text, name, &s.labels, hole);
            }
        }
        if openmetrics {
            text.push_str("# EOF\n");
        }
        Layout {
            text,
            holes,
            series: i,
        }
    }
}

/// Renders the page of `layout` (built from `fams`); `count(event, slot)` is the counter's
/// latest reading (`None` where the event has no counter there).
pub fn render(
    out: &mut String,
    fams: &[Family],
    layout: &Layout,
    count: impl Fn(usize, usize) -> Option<Count>,
) {
    let mut sums = Vec::with_capacity(layout.series);
    for s in fams.iter().flat_map(|f| &f.series) {
        sums.push(
            s.sources
                .iter()
                .filter_map(|&(e, sl)| count(e, sl))
                .fold(Count::default(), |a, b| a + b),
        );
    }
    // Sized for the whole page up front: growing a multi-megabyte string by doubling
    // was a quarter of a large scrape's time.
    out.reserve(layout.text.len() + 22 * layout.holes.len());
    let mut digits = itoa::Buffer::new();
    let mut at = 0;
    for &(end, hole) in &layout.holes {
        out.push_str(&layout.text[at..end]);
        at = end;
        let ns = match hole {
            Hole::Count(i) => {
                out.push_str(digits.format(sums[i].value));
                continue;
            }
            Hole::Enabled(i) => sums[i].enabled,
            Hole::Running(i) => sums[i].running,
        };
        out.push_str(digits.format(ns / 1_000_000_000));
        out.push('.');
        // The leading 1 keeps the fraction's zeros.
        out.push_str(&digits.format(ns % 1_000_000_000 + 1_000_000_000)[1..]);
    }
    out.push_str(&layout.text[at..]);
}

/// Whether an `Accept` header asks for OpenMetrics.
pub fn wants_openmetrics(accept: &str) -> bool {
    accept
        .split(',')
        .any(|p| p.trim().starts_with("application/openmetrics-text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_prometheus_charset() {
        assert_eq!(metric_name("page-faults"), "rperf_page_faults");
        assert_eq!(metric_name("cycles:u"), "rperf_cycles_u");
        assert_eq!(
            metric_name("sched:sched_switch"),
            "rperf_sched_sched_switch"
        );
        assert_eq!(metric_name("cpu/event=0x3c/"), "rperf_cpu_event_0x3c");
        assert_eq!(metric_name("L1-dcache-loads"), "rperf_l1_dcache_loads");
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    fn desc(name: &str, cg: Option<&str>) -> Option<EventDesc> {
        Some(EventDesc {
            name: name.into(),
            cgroup: cg.map(String::from),
            unit: "count",
        })
    }

    #[test]
    fn series_sum_slots_and_families_join_cgroups() {
        // Two cgroups of one event share a family; two CPUs without -A are summed.
        let events = vec![
            desc("page-faults", Some("a")),
            None,
            desc("page-faults", Some("b")),
        ];
        let fams = families(&events, &[String::new(), String::new()]);
        assert_eq!(fams.len(), 1);
        let twice = families(&[events[0].clone(), events[0].clone()], &[String::new()]);
        assert_eq!(twice[0].series.len(), 1);
        assert_eq!(fams[0].series.len(), 2);
        let mut out = String::new();
        render(&mut out, &fams, &Layout::new(&fams, None), |e, s| {
            Some(Count {
                value: (e * 10 + s) as u64,
                enabled: 2_500_000_000,
                running: 1_000_000_000,
            })
        });
        assert!(
            out.contains("# TYPE rperf_page_faults_total counter\n"),
            "{out}"
        );
        assert!(
            out.contains("rperf_page_faults_total{event=\"page-faults\",cgroup=\"a\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("rperf_page_faults_total{event=\"page-faults\",cgroup=\"b\"} 41\n"),
            "{out}"
        );
        assert!(out.contains("rperf_event_enabled_seconds_total{event=\"page-faults\",cgroup=\"a\"} 5.000000000\n"), "{out}");
        assert!(!out.contains("# EOF"));
        assert_eq!(out.matches("# TYPE").count(), 3);

        let fams = families(&events[..1], &["cpu=\"0\"".into(), "cpu=\"1\"".into()]);
        let mut om = String::new();
        render(
            &mut om,
            &fams,
            &Layout::new(&fams, Some(&[1700000000.5, 1700000001.25])),
            |_, s| {
                Some(Count {
                    value: s as u64 + 7,
                    enabled: 1,
                    running: 1,
                })
            },
        );
        assert!(om.contains("# TYPE rperf_page_faults counter\n"), "{om}");
        assert!(
            om.contains(
                "rperf_page_faults_total{event=\"page-faults\",cgroup=\"a\",cpu=\"1\"} 8\n"
            ),
            "{om}"
        );
        assert!(om.ends_with("# EOF\n"));
        // Each counter's start follows its value, as OpenMetrics groups a series' samples.
        assert!(
            om.contains(
                "cpu=\"1\"} 8\nrperf_page_faults_created{event=\"page-faults\",cgroup=\"a\",cpu=\"1\"} 1700000001.250\n"
            ),
            "{om}"
        );
        assert!(!out.contains("_created"));
        assert!(om.contains("rperf_event_running_seconds_total{event=\"page-faults\",cgroup=\"a\",cpu=\"0\"} 0.000000001\n"), "{om}");
        assert!(wants_openmetrics(
            "application/openmetrics-text; version=1.0.0,text/plain;q=0.5"
        ));
        assert!(!wants_openmetrics("text/plain"));
    }
}
