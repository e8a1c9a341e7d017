//! One side of a diff: a file's histogram by report's aggregation, its entries keyed for pairing.
use super::*;

/// One entry of one file, its same-named entries merged (perf's collapse in diff mode).
pub(super) struct Item {
    pub(super) cells: Vec<Cell>,
    pub(super) period: u64,
    pub(super) hidden: bool,
    pub(super) comm_len: usize,
}

/// One event of one file.
pub(super) struct Side {
    pub(super) name: String,
    /// Every sample's period, and those no filter hides.
    pub(super) total: u64,
    pub(super) shown_total: u64,
    pub(super) items: Vec<Item>,
    pub(super) by_key: FxHashMap<Vec<Option<Cell>>, usize>,
}

/// What pairs entries across files: perf compares binaries by short name and functions by
/// name (`sort__sym_sort` in its diff mode); every unresolved address is one function.
pub(super) fn match_key(cells: &[Cell], sort: &[SortKey]) -> Vec<Option<Cell>> {
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
pub(super) fn read_side(cfg: &DiffConfig, path: &std::path::Path) -> Result<Vec<Side>> {
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

pub(super) fn add_item(side: &mut Side, sort: &[SortKey], cells: Vec<Cell>, e: &Entry) {
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

pub(super) fn event_base(name: &str) -> &str {
    match name.rfind('/') {
        Some(i) => &name[..=i],
        None => name.split(':').next().unwrap_or(name),
    }
}
