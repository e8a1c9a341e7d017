//! `rperf diff`: two or more perf.data files compared entry by entry, in perf 6.1's `perf
//! diff` layout. Each file is summed by report's own aggregation
//! ([`crate::cmd::report::histogram`]); entries pair up by name (binary short name, function
//! name, command…), never by address, so a rebuilt binary's functions still pair.
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use rustc_hash::FxHashMap;

use crate::cmd::report::{self, Cell, Entry, SortKey, SymCell};

/// `-c/--compute`: what each NEW file's column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compute {
    /// Share in NEW minus share in OLD, ordered by value.
    Delta,
    /// As delta, ordered by absolute value (perf's default).
    DeltaAbs,
    /// NEW period / OLD period.
    Ratio,
    /// NEW period × w2 − OLD period × w1.
    Wdiff(i64, i64),
}

impl Compute {
    /// Parses perf's `-c` value: `delta`, `delta-abs`, `ratio` or `wdiff:w1,w2`.
    pub fn parse(s: &str) -> Result<Compute> {
        let (name, opt) = match s.split_once(':') {
            Some((n, o)) => (n, Some(o)),
            None => (s, None),
        };
        let c = match name {
            "delta" => Compute::Delta,
            "delta-abs" => Compute::DeltaAbs,
            "ratio" => Compute::Ratio,
            "wdiff" => {
                let w = opt.and_then(|o| o.split_once(',')).and_then(|(a, b)| {
                    Some((a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?))
                });
                return match w {
                    Some((w1, w2)) if w1 != 0 && w2 != 0 => Ok(Compute::Wdiff(w1, w2)),
                    _ => bail!("-c {s}: wrong weights, use 'wdiff:w1,w2' with non-zero integers"),
                };
            }
            // perf 6.1 computes it from LBR branch stacks' cycle counts, which rperf
            // neither records nor reads (and this kind of VM has no LBR).
            "cycles" => bail!(
                "-c cycles compares basic-block cycles from branch stacks (perf record -b on \
                 LBR hardware), which rperf does not support: use delta, delta-abs, ratio or \
                 wdiff:w1,w2"
            ),
            _ => bail!(
                "-c {s}: not a computation method (use delta, delta-abs, ratio or wdiff:w1,w2)"
            ),
        };
        if opt.is_some() {
            bail!("-c {s}: only wdiff takes a value after ':'");
        }
        Ok(c)
    }

    /// The column header, as perf names it.
    fn header(self) -> (&'static str, usize) {
        match self {
            Compute::Delta => ("Delta", 7),
            Compute::DeltaAbs => ("Delta Abs", 7),
            Compute::Ratio => ("Ratio", 14),
            Compute::Wdiff(..) => ("Weighted diff", 14),
        }
    }
}

/// Options of `rperf diff`.
#[derive(Debug, Clone)]
pub struct DiffConfig {
    /// The baseline, then the files compared with it.
    pub files: Vec<PathBuf>,
    /// `-s/--sort` (default dso,sym).
    pub sort: Vec<SortKey>,
    /// `-c/--compute`.
    pub compute: Compute,
    /// `--percentage relative`: shares of what the filters keep, not of everything.
    pub relative: bool,
    /// `-p/--period`: the periods too.
    pub period: bool,
    /// `-F/--formula`: how each value was computed.
    pub formula: bool,
    /// `-o/--order`: the file whose column orders the rows first (0: none).
    pub order: usize,
    /// `-q/--quiet`: rows only.
    pub quiet: bool,
    /// `-b/--baseline-only`: only entries of the baseline that pair with another file's.
    pub baseline_only: bool,
    /// `--comms`, `--pid`, `--tid`: samples of other threads are hidden.
    pub filter: crate::replay::Filter,
    /// `-d/--dsos`: samples in other binaries are hidden.
    pub dsos: Vec<String>,
    /// `-S/--symbols`: samples in other functions are hidden.
    pub symbols: Vec<String>,
    /// `-t/--field-separator`.
    pub separator: Option<String>,
    /// `--symfs`.
    pub symfs: Option<PathBuf>,
    /// `-f/--force`: read files of other users.
    pub force: bool,
}

/// One entry of one file, its same-named entries merged (perf's collapse in diff mode).
struct Item {
    cells: Vec<Cell>,
    period: u64,
    hidden: bool,
    comm_len: usize,
}

/// One event of one file.
struct Side {
    name: String,
    /// Every sample's period, and those no filter hides.
    total: u64,
    shown_total: u64,
    items: Vec<Item>,
    by_key: FxHashMap<Vec<Option<Cell>>, usize>,
}

/// What pairs entries across files: perf compares binaries by short name and functions by
/// name (`sort__sym_sort` in its diff mode); every unresolved address is one function.
fn match_key(cells: &[Cell], sort: &[SortKey]) -> Vec<Option<Cell>> {
    cells
        .iter()
        .zip(sort)
        .map(|(c, k)| match (c, k) {
            (Cell::Sym(SymCell::Named(_, n)), _) => Some(Cell::Text(n.clone())),
            (Cell::Sym(SymCell::Addr(..)), _) => None,
            (Cell::Thread(tid, _), _) => Some(Cell::Num(*tid)),
            (c, _) => Some(c.clone()),
        })
        .collect()
}

/// The events of one file, each collapsed by [`match_key`].
fn read_side(cfg: &DiffConfig, path: &std::path::Path) -> Result<Vec<Side>> {
    if !path.exists() {
        bail!(
            "{}: no such file (rperf diff compares OLD and NEW recordings, by default \
             perf.data.old and perf.data: record them, or name them)",
            path.display()
        );
    }
    crate::cmd::check_input(path, cfg.force)?;
    let rcfg = report::ReportConfig {
        input: path.to_path_buf(),
        sort: cfg.sort.clone(),
        fields: None,
        order_first: Vec::new(),
        children: Some(false),
        show_nr_samples: false,
        show_total_period: false,
        percent_limit: 0.0,
        symfs: cfg.symfs.clone(),
        filter: cfg.filter.clone(),
        dsos: cfg.dsos.clone(),
        max_stack: None,
        graph: None,
        graph_asked: false,
        header: crate::report::header::Header::No,
        parent: "^sys_|^do_page_fault".into(),
        inline: true,
    };
    let extra = report::Extra {
        keep_hidden: true,
        symbols: cfg.symbols.clone(),
        lazy_graphs: false,
    };
    let hist = report::histogram(&rcfg, &extra)?;
    let mut sides = Vec::new();
    for (h, mut rows) in hist.hists.into_iter().zip(hist.rows) {
        // The entry that names a merged group is the first in perf's order (the lowest
        // address among unresolved ones).
        rows.sort_by(|a, b| report::tie_order(&a.0).cmp(&report::tie_order(&b.0)));
        let mut side = Side {
            name: h.name.clone(),
            total: h.total,
            shown_total: h.shown_total,
            items: Vec::new(),
            by_key: FxHashMap::default(),
        };
        for (cells, e, _) in rows {
            add_item(&mut side, &cfg.sort, cells, &e);
        }
        sides.push(side);
    }
    Ok(sides)
}

fn add_item(side: &mut Side, sort: &[SortKey], cells: Vec<Cell>, e: &Entry) {
    let key = match_key(&cells, sort);
    match side.by_key.get(&key) {
        Some(&i) => {
            let it = &mut side.items[i];
            it.period += e.self_period;
            it.hidden &= e.hidden;
        }
        None => {
            side.by_key.insert(key, side.items.len());
            side.items.push(Item {
                cells,
                period: e.self_period,
                hidden: e.hidden,
                comm_len: e.thread_comm_len,
            });
        }
    }
}

/// Whether two files' events pair: perf matches their type and config, which the name
/// without its modifiers stands for. `flamegraph --diff` pairs its two events the same way.
pub(crate) fn same_event(a: &str, b: &str) -> bool {
    event_base(a) == event_base(b)
}

fn event_base(name: &str) -> &str {
    match name.rfind('/') {
        Some(i) => &name[..=i],
        None => name.split(':').next().unwrap_or(name),
    }
}

/// A row of the output: a baseline entry or a dummy standing for an entry only the NEW
/// files have, with its pair in each file (index 0: the baseline's own).
struct Row {
    pairs: Vec<Option<usize>>,
    cells: Vec<Cell>,
    hidden: bool,
    comm_len: usize,
}

impl Row {
    fn dummy(&self) -> bool {
        self.pairs[0].is_none()
    }
    fn has_pairs(&self) -> bool {
        self.pairs[1..].iter().any(Option::is_some) || self.dummy()
    }
}

/// The values of one row against one NEW file.
struct Values {
    old: u64,
    new: u64,
    delta: f64,
}

/// A column of the output.
#[derive(Clone, Copy)]
enum Col {
    Baseline,
    BasePeriod,
    Compute(usize),
    Formula(usize),
    Period(usize),
    Key(usize),
}

/// Runs `rperf diff`.
pub fn run(cfg: DiffConfig) -> Result<ExitCode> {
    if cfg.files.len() < 2 {
        bail!("rperf diff needs two files to compare: OLD NEW (default perf.data.old perf.data)");
    }
    if cfg.order >= cfg.files.len() {
        bail!(
            "--order {} is out of range: give a file index below {} (0 orders by baseline)",
            cfg.order,
            cfg.files.len()
        );
    }
    let files: Vec<Vec<Side>> = cfg
        .files
        .iter()
        .map(|f| read_side(&cfg, f))
        .collect::<Result<_>>()?;
    let base = &files[0];
    // Each NEW file's event for each baseline event, by name as perf's evsel__match2.
    let mut matched: Vec<Vec<Option<usize>>> = Vec::new();
    for (n, sides) in files.iter().enumerate().skip(1) {
        let m: Vec<Option<usize>> = base
            .iter()
            .map(|b| sides.iter().position(|s| same_event(&s.name, &b.name)))
            .collect();
        if m.iter().all(Option::is_none) {
            let names = |v: &[Side]| {
                v.iter()
                    .map(|s| format!("'{}'", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            bail!(
                "{} recorded {} and {} recorded {}: no event in common to compare (record \
                 both with the same -e)",
                cfg.files[0].display(),
                names(base),
                cfg.files[n].display(),
                names(sides)
            );
        }
        matched.push(m);
    }
    let mut out = String::new();
    let mut first = true;
    for (ev, b) in base.iter().enumerate() {
        let news: Vec<Option<&Side>> = std::iter::once(None)
            .chain(
                matched
                    .iter()
                    .enumerate()
                    .map(|(i, m)| m[ev].map(|j| &files[i + 1][j])),
            )
            .collect();
        // perf prints every event, also one without samples (or whose samples -C or
        // --time dropped): its header over an empty table.
        if !cfg.quiet {
            let _ = write!(
                out,
                "{}# Event '{}'\n#\n",
                if first { "" } else { "\n" },
                b.name
            );
        }
        first = false;
        if cfg.files.len() > 2 && !cfg.quiet {
            out.push_str("# Data files:\n");
            for (i, f) in cfg.files.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "#  [{i}] {} {}",
                    f.display(),
                    if i == 0 { "(Baseline)" } else { "" }
                );
            }
            out.push_str("#\n");
        }
        print_event(&mut out, &cfg, b, &news);
    }
    crate::output::stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The rows and columns of one event: `news[i]` is file i's matching event (None at 0).
fn print_event(out: &mut String, cfg: &DiffConfig, b: &Side, news: &[Option<&Side>]) {
    let n = cfg.files.len();
    let mut rows: Vec<Row> = b
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let mut pairs = vec![None; n];
            pairs[0] = Some(i);
            Row {
                pairs,
                cells: it.cells.clone(),
                hidden: it.hidden,
                comm_len: it.comm_len,
            }
        })
        .collect();
    let mut index: FxHashMap<Vec<Option<Cell>>, usize> =
        b.by_key.iter().map(|(k, &i)| (k.clone(), i)).collect();
    // perf's hists__match then hists__link, file by file: entries only a NEW file has get
    // a dummy baseline row, which later files pair with too.
    for (f, side) in news.iter().enumerate() {
        let Some(side) = side else { continue };
        for (j, it) in side.items.iter().enumerate() {
            let key = match_key(&it.cells, &cfg.sort);
            match index.get(&key) {
                Some(&r) => rows[r].pairs[f] = Some(j),
                None if !cfg.baseline_only => {
                    let mut pairs = vec![None; n];
                    pairs[f] = Some(j);
                    index.insert(key, rows.len());
                    rows.push(Row {
                        pairs,
                        cells: it.cells.clone(),
                        hidden: it.hidden,
                        comm_len: it.comm_len,
                    });
                }
                None => {}
            }
        }
    }
    if cfg.baseline_only {
        rows.retain(|r| r.has_pairs());
    }
    let total_of = |s: &Side| if cfg.relative { s.shown_total } else { s.total };
    let base_total = total_of(b);
    // perf recounts the baseline's totals from the entries left before printing: with -b
    // its shares (and the formula's total) are of the rows kept; deltas were computed before.
    let shown_base_total = if cfg.baseline_only {
        rows.iter()
            .filter_map(|r| r.pairs[0])
            .filter(|&i| !cfg.relative || !b.items[i].hidden)
            .map(|i| b.items[i].period)
            .sum()
    } else {
        base_total
    };
    let old_of = |r: &Row| r.pairs[0].map_or(0, |i| b.items[i].period);
    let values = |r: &Row, f: usize| -> Option<Values> {
        let side = news[f]?;
        let j = r.pairs[f]?;
        let (old, new) = (old_of(r), side.items[j].period);
        let pct = |p: u64, t: u64| p as f64 * 100.0 / t as f64;
        Some(Values {
            old,
            new,
            delta: pct(new, total_of(side)) - pct(old, base_total),
        })
    };
    let compare = |v: &Values| -> f64 {
        match cfg.compute {
            Compute::Delta => v.delta,
            Compute::DeltaAbs => v.delta.abs(),
            Compute::Ratio => v.new as f64 / v.old.max(1) as f64,
            Compute::Wdiff(w1, w2) => (v.new as i64 * w2 - v.old as i64 * w1) as f64,
        }
    };
    // perf's sort list: the --order file's column (rows without a pair there last, and
    // for ratio and wdiff the dummies after the others), the baseline's share, each NEW
    // file's column, then the sort keys by name.
    let by_file = |a: &Row, b: &Row, f: usize, dummies: bool| -> Ordering {
        match (values(a, f), values(b, f)) {
            (None, None) => Ordering::Equal,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(va), Some(vb)) => {
                if dummies && !matches!(cfg.compute, Compute::Delta | Compute::DeltaAbs) {
                    match (a.dummy(), b.dummy()) {
                        (true, false) => return Ordering::Greater,
                        (false, true) => return Ordering::Less,
                        _ => {}
                    }
                }
                compare(&vb)
                    .partial_cmp(&compare(&va))
                    .unwrap_or(Ordering::Equal)
            }
        }
    };
    rows.sort_by(|x, y| {
        let mut o = Ordering::Equal;
        if cfg.order > 0 {
            o = by_file(x, y, cfg.order, true);
        }
        o.then_with(|| old_of(y).cmp(&old_of(x)))
            .then_with(|| {
                (1..n)
                    .map(|f| match (x.has_pairs(), y.has_pairs()) {
                        (false, false) => Ordering::Equal,
                        (true, false) => Ordering::Less,
                        (false, true) => Ordering::Greater,
                        _ => by_file(x, y, f, false),
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
            .then_with(|| key_order(&x.cells).cmp(&key_order(&y.cells)))
    });
    rows.retain(|r| !r.hidden);

    // Columns: perf's per file (baseline, base period; compute, formula, period), then the
    // sort keys a one-value filter does not elide.
    let mut cols = Vec::new();
    for f in 0..n {
        if f == 0 {
            cols.push(Col::Baseline);
            if cfg.period {
                cols.push(Col::BasePeriod);
            }
        } else {
            cols.push(Col::Compute(f));
            if cfg.formula {
                cols.push(Col::Formula(f));
            }
            if cfg.period {
                cols.push(Col::Period(f));
            }
        }
    }
    let elided = |k: SortKey| match k {
        SortKey::Dso => cfg.dsos.len() == 1,
        SortKey::Comm => cfg.filter.comms.len() == 1,
        SortKey::Sym => cfg.symbols.len() == 1,
        _ => false,
    };
    cols.extend(
        (0..cfg.sort.len())
            .filter(|&i| !elided(cfg.sort[i]))
            .map(Col::Key),
    );
    let sep = cfg.separator.as_deref();
    let unresolved = cfg.dsos.is_empty()
        && sep.is_none()
        && rows.iter().any(|r| {
            r.cells
                .iter()
                .any(|c| matches!(c, Cell::Sym(SymCell::Addr(..))))
        });
    let head = |c: Col| -> (String, usize) {
        let (name, width) = match c {
            Col::Baseline => ("Baseline", 0),
            Col::BasePeriod => ("Base period", 14),
            Col::Compute(_) => cfg.compute.header(),
            Col::Formula(_) => ("Formula", 70),
            Col::Period(_) => ("Period", 14),
            Col::Key(i) => {
                let k = cfg.sort[i];
                let w = rows
                    .iter()
                    .map(|r| match k {
                        SortKey::Comm => r.comm_len,
                        // perf's CPU column is as wide as its header, whatever it holds.
                        SortKey::Cpu => 0,
                        _ => report::cell_text(&r.cells[i], k).len(),
                    })
                    .max()
                    .unwrap_or(0)
                    .max(k.header().len())
                    .max(if k == SortKey::Dso && unresolved {
                        16
                    } else {
                        0
                    });
                return (k.header().to_string(), w);
            }
        };
        let file = match c {
            Col::Baseline | Col::BasePeriod => 0,
            Col::Compute(f) | Col::Formula(f) | Col::Period(f) => f,
            Col::Key(_) => 0,
        };
        let name = if n > 2 {
            format!("{name}/{file}")
        } else {
            name.to_string()
        };
        let w = width.max(name.len());
        (format!("{name:>w$}"), w)
    };
    let heads: Vec<(String, usize)> = cols.iter().map(|&c| head(c)).collect();
    if !cfg.quiet {
        // perf formats each header cell in a 1024-byte buffer: a wider column's header
        // stops at 1023 characters (its dots and rows keep the full width).
        let cells: Vec<String> = heads
            .iter()
            .map(|(h, w)| format!("{h:<w$}", w = (*w).min(1023)))
            .collect();
        match sep {
            Some(s) => {
                let _ = writeln!(out, "# {}", cells.join(s));
            }
            None => {
                let dots: Vec<String> = heads.iter().map(|(_, w)| ".".repeat(*w)).collect();
                let _ = write!(out, "# {}\n# {}\n#\n", cells.join("  "), dots.join("  "));
            }
        }
    }
    let pct = |p: u64, t: u64| p as f64 * 100.0 / t as f64;
    let tot = |s: &Side, f: usize| {
        if f == 0 {
            shown_base_total
        } else if cfg.relative {
            s.shown_total
        } else {
            s.total
        }
    };
    for r in &rows {
        let mut line = String::new();
        if sep.is_none() {
            line.push_str("  ");
        }
        for (ci, (&c, (_, w))) in cols.iter().zip(&heads).enumerate() {
            let w = *w;
            if ci > 0 {
                line.push_str(sep.unwrap_or("  "));
            }
            let text = match c {
                Col::Key(i) => {
                    let k = cfg.sort[i];
                    let mut s = report::cell_text(&r.cells[i], k);
                    if k == SortKey::Comm {
                        s = s.chars().take(w).collect();
                    }
                    if ci + 1 == cols.len()
                        && matches!(k, SortKey::Sym | SortKey::Srcline | SortKey::Trace)
                    {
                        line.push_str(&s);
                    } else {
                        let _ = write!(line, "{s:<w$}");
                    }
                    continue;
                }
                Col::Baseline => match r.pairs[0] {
                    Some(i) => {
                        let p = pct(b.items[i].period, shown_base_total);
                        if sep.is_some() {
                            format!("{p:.2}")
                        } else {
                            format!("{p:6.2}%")
                        }
                    }
                    None => " ".into(),
                },
                Col::BasePeriod => old_of(r).to_string(),
                Col::Compute(f) => match values(r, f) {
                    None => " ".into(),
                    Some(v) => match cfg.compute {
                        // A file whose filters kept nothing has shares 0/0: C's printf
                        // spells x86's NaN (sign bit set) `-nan`.
                        Compute::Delta | Compute::DeltaAbs if v.delta.is_nan() => "-nan%".into(),
                        Compute::Delta | Compute::DeltaAbs => format!("{:+.2}%", v.delta),
                        _ if r.dummy() => "N/A".into(),
                        Compute::Ratio => {
                            let ratio = v.new as f64 / v.old.max(1) as f64;
                            if ratio > 0.0 {
                                format!("{ratio:14.6}")
                            } else {
                                " ".into()
                            }
                        }
                        Compute::Wdiff(w1, w2) => {
                            let wd = v.new as i64 * w2 - v.old as i64 * w1;
                            // perf's coloured (padded) output prints every value 14
                            // wide, then fills the column; -t's plain one leaves 0 out.
                            if sep.is_none() {
                                let _ = write!(line, "{:<w$}", format!("{wd:14}"));
                                continue;
                            } else if wd != 0 {
                                format!("{wd:14}")
                            } else {
                                " ".into()
                            }
                        }
                    },
                },
                Col::Formula(f) => match (values(r, f), news[f]) {
                    (Some(v), Some(side)) => match cfg.compute {
                        Compute::Delta | Compute::DeltaAbs => format!(
                            "({} * 100 / {}) - ({} * 100 / {})",
                            v.new,
                            tot(side, f),
                            v.old,
                            tot(b, 0)
                        ),
                        Compute::Ratio => format!("{} / {}", v.new, v.old),
                        Compute::Wdiff(w1, w2) => {
                            format!("({} * {w2}) - ({} * {w1})", v.new, v.old)
                        }
                    },
                    _ => " ".into(),
                },
                Col::Period(f) => match values(r, f) {
                    Some(v) => v.new.to_string(),
                    None => " ".into(),
                },
            };
            if sep.is_some() {
                let _ = write!(line, "{text:<w$}");
            } else {
                let _ = write!(line, "{text:>w$}");
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
}

/// How perf's diff orders rows equal in every number: each key by name (numbers by value),
/// unknown binaries and unresolved functions last.
fn key_order(cells: &[Cell]) -> Vec<(bool, std::borrow::Cow<'_, str>, i64)> {
    cells
        .iter()
        .map(|c| match c {
            Cell::Text(t) => (t == "[unknown]", t.as_str().into(), 0),
            Cell::Num(v) | Cell::Thread(v, _) => (false, "".into(), *v),
            Cell::Sym(SymCell::Named(_, n)) => (false, n.as_str().into(), 0),
            Cell::Sym(SymCell::Addr(_, a)) => (true, "".into(), *a as i64),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_methods_parse_like_perf() {
        assert_eq!(Compute::parse("delta").unwrap(), Compute::Delta);
        assert_eq!(Compute::parse("delta-abs").unwrap(), Compute::DeltaAbs);
        assert_eq!(Compute::parse("ratio").unwrap(), Compute::Ratio);
        assert_eq!(Compute::parse("wdiff:1,2").unwrap(), Compute::Wdiff(1, 2));
        assert!(Compute::parse("wdiff").is_err());
        assert!(Compute::parse("wdiff:0,2").is_err());
        assert!(Compute::parse("ratio:3").is_err());
        assert!(Compute::parse("bogus").is_err());
    }

    #[test]
    fn events_pair_without_their_modifiers() {
        assert_eq!(event_base("cpu-clock:pppH"), event_base("cpu-clock:u"));
        assert_eq!(event_base("cpu/event=0x3c/u"), "cpu/event=0x3c/");
        assert_ne!(event_base("cpu-clock"), event_base("task-clock"));
    }

    #[test]
    fn functions_pair_by_name_and_unresolved_ones_as_one() {
        let sort = [SortKey::Dso, SortKey::Sym];
        let a = [
            Cell::Text("w".into()),
            Cell::Sym(SymCell::Named(false, "hot".into())),
        ];
        let b = [
            Cell::Text("w".into()),
            Cell::Sym(SymCell::Named(false, "hot".into())),
        ];
        assert_eq!(match_key(&a, &sort), match_key(&b, &sort));
        let u1 = [
            Cell::Text("w".into()),
            Cell::Sym(SymCell::Addr(false, 0x10)),
        ];
        let u2 = [
            Cell::Text("w".into()),
            Cell::Sym(SymCell::Addr(false, 0x20)),
        ];
        assert_eq!(match_key(&u1, &sort), match_key(&u2, &sort));
        assert_ne!(match_key(&a, &sort), match_key(&u1, &sort));
    }
}
