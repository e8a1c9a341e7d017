//! perf diff's layout: the baseline and each NEW file's column, rows ordered and paired.
use super::*;

/// A row of the output: a baseline entry or a dummy standing for an entry only the NEW
/// files have, with its pair in each file (index 0: the baseline's own).
pub(super) struct Row {
    pub(super) pairs: Vec<Option<usize>>,
    pub(super) cells: Vec<Cell>,
    pub(super) hidden: bool,
    pub(super) comm_len: usize,
}

impl Row {
    pub(super) fn dummy(&self) -> bool {
        self.pairs[0].is_none()
    }
    pub(super) fn has_pairs(&self) -> bool {
        self.pairs[1..].iter().any(Option::is_some) || self.dummy()
    }
}

/// The values of one row against one NEW file.
pub(super) struct Values {
    pub(super) old: u64,
    pub(super) new: u64,
    pub(super) delta: f64,
}

/// A column of the output.
#[derive(Clone, Copy)]
pub(super) enum Col {
    Baseline,
    BasePeriod,
    Compute(usize),
    Formula(usize),
    Period(usize),
    Key(usize),
}

/// The rows and columns of one event: `news[i]` is file i's matching event (None at 0).
pub(super) fn print_event(out: &mut String, cfg: &DiffConfig, b: &Side, news: &[Option<&Side>]) {
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
pub(super) fn key_order(cells: &[Cell]) -> Vec<(bool, std::borrow::Cow<'_, str>, i64)> {
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
