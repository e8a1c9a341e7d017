//! report's --stdio layout: columns, cells, call graphs under their entries.
use super::*;

pub(crate) fn cell_text(c: &Cell, key: SortKey) -> String {
    match (c, key) {
        (Cell::Text(t), _) => t.clone(),
        // perf's `%*.*d` with precision 3: a sample without a CPU (-1) is `-001`.
        (Cell::Num(n), SortKey::Cpu) if *n < 0 => format!("-{:03}", n.unsigned_abs()),
        (Cell::Num(n), SortKey::Cpu) => format!("{n:03}"),
        (Cell::Num(n), _) => n.to_string(),
        (Cell::Thread(tid, comm), _) => format!("{tid:>7}:{comm}"),
        (Cell::Sym(SymCell::Named(k, name)), _) => {
            format!("[{}] {name}", if *k { 'k' } else { '.' })
        }
        // printf's `%#x` writes no 0x for zero.
        (Cell::Sym(SymCell::Addr(k, 0)), _) => {
            format!("[{}] {:016x}", if *k { 'k' } else { '.' }, 0)
        }
        (Cell::Sym(SymCell::Addr(k, a)), _) => {
            format!("[{}] 0x{a:016x}", if *k { 'k' } else { '.' })
        }
    }
}

/// With a call graph, perf puts a caller above its callee of equal weight (the entry with
/// the deeper stored chain first) when both come from the same thread; between threads
/// the usual order stands. perf's comparison is not transitive across threads, so here
/// each thread's entries within a run of equal weight are reordered among the places
/// they already hold: a total order that is perf's whenever one thread is involved.
pub(super) fn caller_above_callee(
    rows: &mut [(Vec<Cell>, Entry, RowGraph)],
    weight: impl Fn(&Entry) -> u64,
    order: graph::Order,
) {
    let mut start = 0;
    while start < rows.len() {
        let w = weight(&rows[start].1);
        let end = start
            + rows[start..]
                .iter()
                .take_while(|r| weight(&r.1) == w)
                .count();
        // Each thread's rows in the group, in row order (one sort, not a scan per thread:
        // groups of equal weight hold thousands of rows in system-wide recordings).
        let mut by_thread: Vec<((i32, i32), usize)> =
            (start..end).map(|i| (rows[i].1.thread, i)).collect();
        by_thread.sort_unstable();
        for same in by_thread.chunk_by(|a, b| a.0 == b.0) {
            let slots: Vec<usize> = same.iter().map(|&(_, i)| i).collect();
            if slots.len() < 2 {
                continue;
            }
            // Stable: equal depths keep the order they already have.
            let mut picked: Vec<(Vec<Cell>, Entry, RowGraph)> = slots
                .iter()
                .map(|&i| std::mem::take(&mut rows[i]))
                .collect();
            picked.sort_by(|a, b| match order {
                graph::Order::Caller => b.1.max_depth.cmp(&a.1.max_depth),
                graph::Order::Callee => a.1.max_depth.cmp(&b.1.max_depth),
            });
            for (slot, row) in slots.into_iter().zip(picked) {
                rows[slot] = row;
            }
        }
        start = end;
    }
}

/// The sort keys a one-value `--comm`/`--dso` filter elides, with that value.
pub(super) fn elided(cfg: &ReportConfig) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    if cfg.filter.comms.len() == 1 && cfg.sort.contains(&SortKey::Comm) {
        v.push(("comm", cfg.filter.comms[0].clone()));
    }
    if cfg.dsos.len() == 1 && cfg.sort.contains(&SortKey::Dso) {
        v.push(("dso", cfg.dsos[0].clone()));
    }
    v
}

pub(super) fn print_hist(
    out: &mut String,
    h: &EventHist,
    rows: Vec<(Vec<Cell>, Entry, RowGraph)>,
    cfg: &ReportConfig,
    children: bool,
    order: graph::Order,
) {
    let _ = write!(
        out,
        "# Samples: {} of event '{}'",
        convert_unit(h.samples),
        h.name
    );
    // perf names the --time argument as given.
    if let Some(t) = &cfg.filter.time {
        let _ = write!(out, " (time slices: {t})");
    }
    out.push('\n');
    let _ = writeln!(out, "# Event count (approx.): {}", h.total);
    // Off-CPU weights are nanoseconds: say how long that is.
    if matches!(
        h.name.as_str(),
        crate::report::offcpu::BLOCKED | crate::report::offcpu::RUNNABLE
    ) {
        let _ = writeln!(out, "# Off-CPU time: {:.3} ms", h.total as f64 / 1e6);
    }
    out.push_str("#\n");
    let laid = lay_out(h, rows, cfg, children, order);
    // Header lines: every column padded to its width (the last one too), two spaces apart.
    // perf formats each header cell in a 1024-byte buffer: wider columns' headers stop at
    // 1023 characters (the dots and the rows keep the full width).
    const HEADER_CELL: usize = 1023;
    let head: Vec<String> = laid
        .columns
        .iter()
        .zip(&laid.widths)
        .map(|((h, right), &w)| {
            let w = w.min(HEADER_CELL);
            if *right {
                format!("{h:>w$}")
            } else {
                format!("{h:<w$}")
            }
        })
        .collect();
    let dots: Vec<String> = laid.widths.iter().map(|w| ".".repeat(*w)).collect();
    let _ = writeln!(
        out,
        "# {}
# {}
#",
        head.join("  "),
        dots.join("  ")
    );
    for row in &laid.rows {
        out.push_str(&laid.line(&row.cells));
        out.push('\n');
        if let RowGraph::Text(t) = &row.graph {
            out.push_str(t);
        }
    }
    // The process prints this and exits: freeing a large report's rows one by one (each
    // cell and graph its own string) took a twentieth of report's time.
    std::mem::forget(laid);
}

/// Orders, filters and formats one event's rows as report shows them.
pub(crate) fn lay_out(
    h: &EventHist,
    rows: Vec<(Vec<Cell>, Entry, RowGraph)>,
    cfg: &ReportConfig,
    children: bool,
    order: graph::Order,
) -> Laid {
    let total = h.total.max(1) as f64;
    let period = |e: &Entry| {
        if children {
            e.children_period
        } else {
            e.self_period
        }
    };
    let mut rows: Vec<(Vec<Cell>, Entry, RowGraph)> =
        rows.into_iter().filter(|(_, e, _)| period(e) > 0).collect();
    // The columns: perf's defaults (Children/Self or Overhead, Samples with -n, then every
    // sort key but those a single-valued filter elides), or -F's in its order followed by
    // the --sort keys it does not list.
    let mut cols: Vec<Col> = Vec::new();
    match &cfg.fields {
        None => {
            if children {
                cols.push(Col::Metric(Field::Children, "Children"));
                cols.push(Col::Metric(Field::Overhead, "Self"));
            } else {
                cols.push(Col::Metric(Field::Overhead, "Overhead"));
            }
            if cfg.show_nr_samples {
                cols.push(Col::Metric(Field::Samples, "Samples"));
            }
            if cfg.show_total_period {
                cols.push(Col::Metric(Field::Period, "Period"));
            }
            let hidden: Vec<&str> = elided(cfg).iter().map(|(k, _)| *k).collect();
            cols.extend(
                (0..cfg.sort.len())
                    .filter(|&i| match cfg.sort[i] {
                        SortKey::Comm => !hidden.contains(&"comm"),
                        SortKey::Dso => !hidden.contains(&"dso"),
                        _ => true,
                    })
                    .map(Col::Key),
            );
        }
        Some(fields) => {
            for f in fields {
                cols.push(match f {
                    Field::Key(k) => Col::Key(cfg.sort.iter().position(|x| x == k).unwrap_or(0)),
                    m => Col::Metric(*m, m.column().0),
                });
            }
            let listed = fields.iter().filter(|f| matches!(f, Field::Key(_))).count();
            cols.extend((listed..cfg.sort.len()).map(Col::Key));
        }
    }
    // perf widens the binary column to an address's width (16) when any entry's symbol is
    // unresolved (its hists__set_unres_dso_col_len), unless --dso filters.
    let unresolved_sym = cfg.dsos.is_empty()
        && rows.iter().any(|(key, e, _)| {
            e.unresolved
                || key
                    .iter()
                    .any(|c| matches!(c, Cell::Sym(SymCell::Addr(..))))
        });
    // Column widths cover every entry, also those --percent-limit hides, as perf's do.
    let widths: Vec<usize> = cols
        .iter()
        .map(|c| match *c {
            Col::Metric(f, h) => f.column().1.max(h.len()),
            Col::Key(i) => {
                let k = cfg.sort[i];
                rows.iter()
                    .map(|(key, e, _)| match k {
                        SortKey::Comm => e.thread_comm_len,
                        // perf sizes the column by the function's name; ` (inlined)` is
                        // added as the row prints and may overflow it.
                        SortKey::Sym => {
                            let t = cell_text(&key[i], k);
                            t.strip_suffix(" (inlined)").map_or(t.len(), str::len)
                        }
                        _ => cell_text(&key[i], k).len(),
                    })
                    .max()
                    .unwrap_or(0)
                    .max(k.header().len())
                    .max(if k == SortKey::Dso && unresolved_sym {
                        16
                    } else {
                        0
                    })
            }
        })
        .collect();
    rows.retain(|(_, e, _)| 100.0 * period(e) as f64 / total >= cfg.percent_limit);
    match &cfg.fields {
        None => {
            // Sorted as indices, then moved once: rows are large and a system-wide
            // recording has a hundred thousand of them.
            let mut at: Vec<usize> = (0..rows.len()).collect();
            at.sort_by(|&x, &y| {
                let ((ka, a, _), (kb, b, _)) = (&rows[x], &rows[y]);
                period(b)
                    .cmp(&period(a))
                    .then(b.self_period.cmp(&a.self_period))
                    .then_with(|| tie_cmp(ka, kb))
            });
            rows = at.iter().map(|&i| std::mem::take(&mut rows[i])).collect();
            if children && cfg.graph.is_some() {
                caller_above_callee(&mut rows, period, order);
            }
        }
        // perf's output sort with -F: field by field in the listed order (numbers
        // descending, keys by name with the unknown last), then the other sort keys.
        Some(fields) => {
            let mut order: Vec<Field> = cfg.order_first.iter().map(|k| Field::Key(*k)).collect();
            for f in fields {
                if !order.contains(f) {
                    order.push(*f);
                }
            }
            let depth = children && cfg.graph.is_some();
            rows.sort_by(|(ka, a, _), (kb, b, _)| {
                order
                    .iter()
                    .map(|f| match f {
                        Field::Overhead => b.self_period.cmp(&a.self_period),
                        // Without children mode the column orders nothing.
                        Field::Children if !children => std::cmp::Ordering::Equal,
                        // perf puts the deeper call chain first among equal children.
                        Field::Children => {
                            b.children_period.cmp(&a.children_period).then(if depth {
                                b.max_depth.cmp(&a.max_depth)
                            } else {
                                std::cmp::Ordering::Equal
                            })
                        }
                        Field::Sys => b.sys_period.cmp(&a.sys_period),
                        Field::Us => b.us_period.cmp(&a.us_period),
                        Field::Samples => b.samples.cmp(&a.samples),
                        Field::Period => b.self_period.cmp(&a.self_period),
                        Field::Key(k) => {
                            let i = cfg.sort.iter().position(|x| x == k).unwrap_or(0);
                            key_order(&ka[i]).cmp(&key_order(&kb[i]))
                        }
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
                    // Entries equal in every field keep perf's input order, which puts
                    // unresolved addresses in signed order.
                    .then_with(|| unresolved(ka).cmp(unresolved(kb)))
                    .then_with(|| tie_cmp(ka, kb))
            });
        }
    }
    let columns: Vec<(String, bool)> = cols
        .iter()
        .map(|c| match c {
            Col::Metric(_, h) => (h.to_string(), true),
            Col::Key(i) => (cfg.sort[*i].header().to_string(), false),
        })
        .collect();
    // perf pads every column but a trailing symbol, source line, trace or cgroup.
    let open_last = matches!(
        cols.last(),
        Some(Col::Key(i)) if matches!(
            cfg.sort[*i],
            SortKey::Sym | SortKey::Srcline | SortKey::Trace | SortKey::Cgroup | SortKey::CgroupId
        )
    );
    let pct = |p: u64| format!("{:.2}%", 100.0 * p as f64 / total);
    let rows = rows
        .into_iter()
        .map(|(k, e, graph)| {
            let cells = cols
                .iter()
                .zip(&widths)
                .map(|(c, &w)| match *c {
                    Col::Metric(f, _) => match f {
                        Field::Overhead => pct(e.self_period),
                        // Without children mode perf has no accumulated value.
                        Field::Children if !children => "N/A".to_string(),
                        Field::Children => pct(e.children_period),
                        Field::Sys => pct(e.sys_period),
                        Field::Us => pct(e.us_period),
                        Field::Samples => e.samples.to_string(),
                        Field::Period => e.self_period.to_string(),
                        Field::Key(_) => String::new(),
                    },
                    Col::Key(i) => {
                        let s = cell_text(&k[i], cfg.sort[i]);
                        if cfg.sort[i] == SortKey::Comm {
                            // A name longer than the column (its thread was renamed later,
                            // as perf-exec is by its exec) is cut, as perf's %-*.*s cuts it.
                            s.chars().take(w).collect()
                        } else {
                            s
                        }
                    }
                })
                .collect();
            LaidRow {
                cells,
                keys: k,
                graph,
            }
        })
        .collect();
    Laid {
        columns,
        widths,
        open_last,
        rows,
    }
}

/// A report column: a number (its header) or the sort key at an index of `cfg.sort`.
#[derive(Clone, Copy)]
pub(super) enum Col {
    Metric(Field, &'static str),
    Key(usize),
}

/// The unresolved addresses among an entry's keys, as signed numbers.
pub(super) fn unresolved(k: &[Cell]) -> impl Iterator<Item = i64> + '_ {
    k.iter().map(|c| match c {
        Cell::Sym(SymCell::Addr(_, a)) => *a as i64,
        _ => 0,
    })
}

/// How perf's `-F` output sort orders one key's values: by name (a symbol's without its
/// `[k]` level, numbers by value), entries without a binary or symbol last.
pub(super) fn key_order(c: &Cell) -> (bool, std::borrow::Cow<'_, str>, i64) {
    match c {
        Cell::Text(t) => (t == "[unknown]", t.as_str().into(), 0),
        Cell::Num(n) | Cell::Thread(n, _) => (false, "".into(), *n),
        Cell::Sym(SymCell::Named(_, n)) => (false, n.as_str().into(), 0),
        // perf finds two entries without symbols equal here: the next field decides.
        Cell::Sym(SymCell::Addr(..)) => (true, "".into(), 0),
    }
}
