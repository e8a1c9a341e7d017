//! perf stat's output layouts: human (column widths of perf 6.1), CSV (`-x`) and JSON (`-j`).
use std::fmt::Write as _;

use super::metrics::{metric, Metric};
use super::{Aggregation, Bucket, Results, Support, Value};

/// Output style.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Style {
    /// Aligned columns.
    #[default]
    Human,
    /// Separator-delimited fields (`-x SEP`).
    Csv(String),
    /// One JSON object per line (`-j`).
    Json,
}

/// How to print.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Human, CSV or JSON.
    pub style: Style,
    /// Group thousands (`--big-num`, perf's default) with this separator; empty for none.
    pub thousands_sep: String,
    /// Number of runs (`-r`), for the noise column.
    pub runs: u32,
    /// Row grouping.
    pub aggregation: Aggregation,
}

const METRIC_LEN: usize = 35;
const NOT_COUNTED: &str = "<not counted>";
const NOT_SUPPORTED: &str = "<not supported>";

/// Inserts `sep` between groups of three digits of the integer part of a formatted number.
pub fn group_thousands(num: &str, sep: &str) -> String {
    if sep.is_empty() {
        return num.to_string();
    }
    let (sign, rest) = match num.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", num),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut out = String::with_capacity(num.len() + int.len() / 3 * sep.len());
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push_str(sep);
        }
        out.push(ch);
    }
    format!("{sign}{out}{frac}")
}

/// The wall-clock header line of an interval: `%6lu.%09lu`.
pub fn interval_stamp(ns: u64) -> String {
    format!("{:6}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// The value in its unit: two decimals for scaled units (msec), none for counts.
fn plain_value(info: &super::EventInfo, v: &Value) -> String {
    let shown = v.stats.mean * info.scale();
    if info.scale().fract() != 0.0 {
        format!("{shown:.2}")
    } else {
        format!("{shown:.0}")
    }
}

fn value_text(r: &Results, e: usize, v: &Value, opts: &Options) -> String {
    group_thousands(&plain_value(&r.events[e], v), &opts.thousands_sep)
}

/// What stands in for a value that was not counted.
fn status_word(info: &super::EventInfo) -> &'static str {
    if info.support == Support::Supported {
        NOT_COUNTED
    } else {
        NOT_SUPPORTED
    }
}

/// perf prints the unit of a counter that opened, none for one that did not.
fn shown_unit(info: &super::EventInfo) -> &'static str {
    if info.support == Support::Supported {
        info.unit()
    } else {
        ""
    }
}

fn bucket_prefix_human(b: &Bucket) -> String {
    match b {
        Bucket::Global => String::new(),
        Bucket::Cpu(c) => format!("CPU{c:<7} "),
        Bucket::Thread(comm, tid) => format!("{comm:>16}-{tid:<8} "),
    }
}

fn bucket_prefix_csv(b: &Bucket, sep: &str) -> String {
    match b {
        Bucket::Global => String::new(),
        Bucket::Cpu(c) => format!("CPU{c}{sep}"),
        Bucket::Thread(comm, tid) => format!("{comm}-{tid}{sep}"),
    }
}

/// perf prints an event's cgroup after its name, one space apart.
fn cgroup_human(info: &super::EventInfo) -> String {
    info.cgroup
        .as_deref()
        .map(|c| format!(" {c}"))
        .unwrap_or_default()
}

fn metric_human(m: Option<&Metric>) -> String {
    match m {
        None => " ".repeat(METRIC_LEN),
        Some(m) => {
            let head = format!(" # {}", m.shape.render(m.value));
            let width = METRIC_LEN.saturating_sub(head.len() + 1);
            format!("{head} {:<width$}", m.unit)
        }
    }
}

fn metric_csv_number(m: &Metric) -> String {
    // perf keeps only the digits and dot of the formatted metric.
    m.shape
        .render(m.value)
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect()
}

fn json_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// Writes every row (event-major, then bucket) for one report or one interval.
/// `stamp` is the interval timestamp, `wall_ns` the time the counts cover.
pub fn rows(out: &mut String, r: &Results, opts: &Options, stamp: Option<u64>, wall_ns: f64) {
    let unit_width = r
        .events
        .iter()
        .map(|e| e.unit().len())
        .max()
        .unwrap_or(0)
        .max(4);
    for (e, info) in r.events.iter().enumerate() {
        for (b, bucket) in r.buckets.iter().enumerate() {
            let v = &r.values[e][b];
            let m = metric(r, e, b, wall_ns);
            match &opts.style {
                Style::Human => {
                    if let Some(ns) = stamp {
                        out.push_str(&interval_stamp(ns));
                        out.push(' ');
                    }
                    out.push_str(&bucket_prefix_human(bucket));
                    let unit = info.unit();
                    if info.support == Support::Supported && v.counted {
                        let _ = write!(
                            out,
                            "{:>18} {:<unit_width$} {:<32}{}{}",
                            value_text(r, e, v, opts),
                            unit,
                            info.name,
                            cgroup_human(info),
                            metric_human(m.as_ref())
                        );
                        if opts.runs > 1 {
                            let pct = v.stats.rel_stddev_pct();
                            if pct != 0.0 {
                                let _ = write!(out, "  ( +-{pct:6.2}% )");
                            }
                        }
                        if v.multiplexed() {
                            let _ = write!(out, "  ({:.2}%)", v.pct_running());
                        }
                    } else {
                        let (word, unit) = if info.support == Support::Supported {
                            (NOT_COUNTED, unit)
                        } else {
                            (NOT_SUPPORTED, "")
                        };
                        let _ = write!(
                            out,
                            "{word:>18} {unit:<unit_width$} {:<25}{}{}",
                            info.name,
                            cgroup_human(info),
                            " ".repeat(METRIC_LEN)
                        );
                    }
                    out.push('\n');
                }
                Style::Csv(sep) => {
                    if let Some(ns) = stamp {
                        out.push_str(&interval_stamp(ns));
                        out.push_str(sep);
                    }
                    out.push_str(&bucket_prefix_csv(bucket, sep));
                    let ok = info.support == Support::Supported && v.counted;
                    let value = if ok {
                        plain_value(info, v)
                    } else {
                        status_word(info).to_string()
                    };
                    let unit = shown_unit(info);
                    let _ = write!(out, "{value}{sep}{unit}{sep}{}", info.name);
                    if let Some(cg) = &info.cgroup {
                        let _ = write!(out, "{sep}{cg}");
                    }
                    if opts.runs > 1 {
                        let _ = write!(out, "{sep}{:.2}%", v.stats.rel_stddev_pct());
                    }
                    let runtime = if ok { v.running.mean as u64 } else { 0 };
                    let _ = write!(out, "{sep}{runtime}{sep}{:.2}", v.pct_running());
                    match (&m, ok) {
                        (Some(m), true) => {
                            let _ = write!(out, "{sep}{}{sep}{}", metric_csv_number(m), m.unit);
                        }
                        _ => {
                            let _ = write!(out, "{sep}{sep}");
                        }
                    }
                    out.push('\n');
                }
                Style::Json => {
                    out.push('{');
                    if let Some(ns) = stamp {
                        let _ = write!(
                            out,
                            "\"interval\" : {}.{:09}, ",
                            ns / 1_000_000_000,
                            ns % 1_000_000_000
                        );
                    }
                    match bucket {
                        Bucket::Global => {}
                        Bucket::Cpu(c) => {
                            let _ = write!(out, "\"cpu\" : \"{c}\", ");
                        }
                        Bucket::Thread(comm, tid) => {
                            let _ = write!(out, "\"thread\" : \"{}-{tid}\", ", json_escape(comm));
                        }
                    }
                    let ok = info.support == Support::Supported && v.counted;
                    let value = if ok {
                        format!("{:.6}", v.stats.mean * info.scale())
                    } else {
                        status_word(info).to_string()
                    };
                    let unit = shown_unit(info);
                    let _ = write!(
                        out,
                        "\"counter-value\" : \"{value}\", \"unit\" : \"{unit}\", \"event\" : \"{}\", ",
                        json_escape(&info.name)
                    );
                    if let Some(cg) = &info.cgroup {
                        let _ = write!(out, "\"cgroup\" : \"{}\", ", json_escape(cg));
                    }
                    if opts.runs > 1 {
                        let _ = write!(out, "\"variance\" : {:.2}, ", v.stats.rel_stddev_pct());
                    }
                    let runtime = if ok { v.running.mean as u64 } else { 0 };
                    let (mv, mu) = match (&m, ok) {
                        (Some(m), true) => (m.value, m.unit.as_str()),
                        _ => (0.0, ""),
                    };
                    let _ = writeln!(
                        out,
                        "\"event-runtime\" : {runtime}, \"pcnt-running\" : {:.2}, \"metric-value\" : {mv:.6}, \"metric-unit\" : \"{}\"}}",
                        v.pct_running(),
                        json_escape(mu)
                    );
                }
            }
        }
    }
}

/// The `#  time counts unit events` line printed before every 25th interval (human only).
pub fn interval_header(agg: Aggregation) -> &'static str {
    match agg {
        Aggregation::Global => "#           time             counts unit events\n",
        Aggregation::PerCpu => "#           time CPU                    counts unit events\n",
        Aggregation::PerThread => {
            "#           time             comm-pid                  counts unit events\n"
        }
    }
}

/// The opening lines of a human report.
pub fn header(target: &str, runs: u32) -> String {
    let runs = if runs > 1 {
        format!(" ({runs} runs)")
    } else {
        String::new()
    };
    format!("\n Performance counter stats for {target}{runs}:\n\n")
}

/// perf's `get_precision`: digits needed to show the stddev's leading digit.
fn precision_for(sd: f64) -> usize {
    if sd <= 0.0 || !sd.is_finite() {
        return 0;
    }
    if sd > 1.0 {
        return 0;
    }
    (-sd.log10()).ceil() as usize
}

/// The closing lines: elapsed time, and user/sys CPU time for a single run of a command.
pub fn footer(wall: &super::Stats, runs: u32, user_sys: Option<(f64, f64)>) -> String {
    let mut out = String::from("\n");
    let avg = wall.mean / 1e9;
    if runs <= 1 {
        let _ = write!(out, " {avg:17.9} seconds time elapsed");
        if let Some((u, s)) = user_sys {
            let _ = write!(out, "\n\n {u:17.9} seconds user\n {s:17.9} seconds sys\n");
        }
    } else {
        let sd = wall.stddev_of_mean() / 1e9;
        let p = precision_for(sd) + 2;
        let _ = write!(out, " {avg:17.p$} +- {sd:.p$} seconds time elapsed");
        let pct = wall.rel_stddev_pct();
        if pct != 0.0 {
            let _ = write!(out, "  ( +-{pct:6.2}% )");
        }
    }
    out.push_str("\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::{EventInfo, Stats};
    use super::*;
    use crate::events::EventKind;
    use crate::sys::counter::Count;

    fn sample() -> Results {
        let evs = [
            (
                "task-clock",
                EventKind::Software(1),
                Support::Supported,
                1_080_000u64,
            ),
            (
                "context-switches",
                EventKind::Software(3),
                Support::Supported,
                1,
            ),
            ("cycles", EventKind::Hardware(0), Support::NotSupported, 0),
        ];
        let infos = evs
            .iter()
            .map(|(n, k, s, _)| EventInfo {
                name: n.to_string(),
                kind: k.clone(),
                support: *s,
                cgroup: None,
            })
            .collect();
        let mut r = Results::new(infos, vec![Bucket::Global]);
        for (i, e) in evs.iter().enumerate() {
            if e.2 == Support::Supported {
                r.values[i][0].add_run(Count {
                    value: e.3,
                    enabled: 965228,
                    running: 965228,
                });
            }
        }
        r
    }

    #[test]
    fn human_rows_match_perf_columns() {
        let mut out = String::new();
        rows(&mut out, &sample(), &Options::default(), None, 1_886_110.0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "              1.08 msec task-clock                       #    0.573 CPUs utilized          "
        );
        assert_eq!(
            lines[1],
            "                 1      context-switches                 #  925.926 /sec                   "
        );
        assert_eq!(
            lines[2],
            "   <not supported>      cycles                                                      "
        );
    }

    #[test]
    fn csv_and_json_rows() {
        let r = sample();
        let mut out = String::new();
        let opts = Options {
            style: Style::Csv(",".into()),
            ..Options::default()
        };
        rows(&mut out, &r, &opts, None, 1_886_110.0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "1.08,msec,task-clock,965228,100.00,0.573,CPUs utilized"
        );
        assert_eq!(lines[2], "<not supported>,,cycles,0,100.00,,");
        let mut out = String::new();
        let opts = Options {
            style: Style::Json,
            ..Options::default()
        };
        rows(&mut out, &r, &opts, Some(1_500_000_000), 1_886_110.0);
        assert!(out.lines().next().unwrap().starts_with(
            "{\"interval\" : 1.500000000, \"counter-value\" : \"1.080000\", \"unit\" : \"msec\", \"event\" : \"task-clock\", \"event-runtime\" : 965228, \"pcnt-running\" : 100.00, \"metric-value\" : 0.572607"
        ));
    }

    #[test]
    fn per_cpu_thread_prefixes_and_not_counted() {
        let infos = vec![EventInfo {
            name: "cs".into(),
            kind: EventKind::Software(3),
            support: Support::Supported,
            cgroup: None,
        }];
        let mut r = Results::new(
            infos,
            vec![Bucket::Cpu(0), Bucket::Thread("bash".into(), 1075)],
        );
        r.values[0][0].add_run(Count {
            value: 7,
            enabled: 5,
            running: 5,
        });
        r.values[0][1].add_run(Count::default());
        let mut out = String::new();
        rows(&mut out, &r, &Options::default(), None, 1.0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "CPU0                        7      cs                                                                 "
        );
        assert_eq!(
            lines[1],
            "            bash-1075          <not counted>      cs                                                          "
        );
    }

    #[test]
    fn multiplexed_and_noise_columns() {
        let infos = vec![EventInfo {
            name: "page-faults".into(),
            kind: EventKind::Software(2),
            support: Support::Supported,
            cgroup: None,
        }];
        let mut r = Results::new(infos, vec![Bucket::Global]);
        r.values[0][0].add_run(Count {
            value: 100,
            enabled: 100,
            running: 50,
        });
        r.values[0][0].add_run(Count {
            value: 120,
            enabled: 100,
            running: 50,
        });
        let opts = Options {
            runs: 2,
            ..Options::default()
        };
        let mut out = String::new();
        rows(&mut out, &r, &opts, None, 1.0);
        assert!(out.ends_with("  ( +-  9.09% )  (50.00%)\n"), "{out:?}");
        assert!(out.starts_with("               220      page-faults"));
    }

    #[test]
    fn thousands_grouping() {
        assert_eq!(group_thousands("655484", ","), "655,484");
        assert_eq!(group_thousands("1234567.89", "."), "1.234.567.89");
        assert_eq!(group_thousands("999", ","), "999");
        assert_eq!(group_thousands("-1000", ","), "-1,000");
        assert_eq!(group_thousands("1000", ""), "1000");
    }

    #[test]
    fn footers() {
        let mut w = Stats::default();
        w.update(1_886_110.0);
        assert_eq!(
            footer(&w, 1, Some((0.001767, 0.0))),
            "\n       0.001886110 seconds time elapsed\n\n       0.001767000 seconds user\n       0.000000000 seconds sys\n\n\n"
        );
        let mut w = Stats::default();
        for v in [1_200_000.0, 1_355_000.0, 1_510_000.0] {
            w.update(v);
        }
        let f = footer(&w, 3, None);
        assert!(
            f.starts_with("\n         0.0013550 +- 0.0000895 seconds time elapsed  ( +-  6.60% )"),
            "{f:?}"
        );
        assert_eq!(
            header("'ls'", 3),
            "\n Performance counter stats for 'ls' (3 runs):\n\n"
        );
    }
}
