//! What the histogram hands its callers: one file's rows per event, their call graphs
//! (laid out now or when asked), and the rows laid out as report shows them.
use super::*;

/// What diff asks of the histogram beyond report's options.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    /// Keep the entries of samples the filters hide (as `Entry::hidden` rows): perf diff
    /// still pairs them, and `-b` counts them in the baseline's total.
    pub keep_hidden: bool,
    /// perf's `--symbols`: samples in other functions are hidden (kept with `keep_hidden`).
    pub symbols: Vec<String>,
    /// Keep call-graph trees as [`RowGraph::Lazy`] instead of laying every one out (the
    /// browser lays out only the rows opened).
    pub lazy_graphs: bool,
}

/// One file's histograms, one per event: the aggregation report prints and diff compares.
pub(crate) struct Histogram {
    /// Per event, in the file's order.
    pub hists: Vec<EventHist>,
    /// Per event: its rows (one cell per sort key, the entry, its call graph).
    pub rows: Vec<Vec<(Vec<Cell>, Entry, RowGraph)>>,
    /// Children mode (call chains and not `--no-children`).
    pub children: bool,
    /// The call-graph order.
    pub order: graph::Order,
    /// Samples the kernel lost.
    pub lost_samples: u64,
    /// A note for stderr about stacks cut short.
    pub note: Option<String>,
    /// With [`Extra::lazy_graphs`]: the trees the rows' [`RowGraph::Lazy`] point at.
    pub lazy: LazyGraphs,
}

/// A row's call graph: laid out already, or a tree laid out when asked
/// ([`Histogram::graph_text`]; the browser asks when a row is expanded).
#[derive(Debug, Clone)]
pub(crate) enum RowGraph {
    /// perf's text (empty without a graph).
    Text(String),
    /// An index into [`LazyGraphs::rows`].
    Lazy(usize),
}

/// What building and laying out the call graphs of rows not opened yet needs.
pub(crate) struct LazyGraphs {
    /// Per row with a graph: its event, its entry's key, the event's total and the
    /// entry's own weight.
    pub(super) rows: Vec<(usize, Key, u64, u64)>,
    /// The frames of the events' distinct stacks ([`EventHist::stacks`]).
    pub(super) frames: FrameTable,
    /// Per symbol id, where perf places it among equals.
    pub(super) orders: Vec<u64>,
    /// Per symbol id, its tie-break among equals ([`graph::tie`]).
    pub(super) ties: Vec<u64>,
    /// Children mode, and the graphs' order: which parts of a stack an entry holds.
    pub(super) children: bool,
    pub(super) order: graph::Order,
    /// Symbol text by name id.
    pub(super) names: Vec<String>,
    pub(super) print: Option<graph::Print>,
}

impl Default for LazyGraphs {
    fn default() -> Self {
        LazyGraphs {
            rows: Vec::new(),
            frames: FrameTable::default(),
            orders: Vec::new(),
            ties: Vec::new(),
            names: Vec::new(),
            print: None,
            children: false,
            order: graph::Order::Callee,
        }
    }
}

impl Default for RowGraph {
    fn default() -> Self {
        RowGraph::Text(String::new())
    }
}

impl Histogram {
    /// The call-graph text of a row, as `--stdio` prints it under the row.
    pub(crate) fn graph_text(&self, g: &RowGraph) -> String {
        match g {
            RowGraph::Text(t) => t.clone(),
            RowGraph::Lazy(i) => match self.lazy.rows.get(*i) {
                Some((event, key, ..)) => {
                    let l = &self.lazy;
                    let stacks = &self.hists[*event].stacks;
                    let tree = entry_tree(
                        stacks, &l.frames, &l.orders, &l.ties, l.children, l.order, key,
                    );
                    self.lay_out_graph(*i, &tree)
                }
                None => String::new(),
            },
        }
    }

    /// [`Histogram::graph_text`] of many rows at once (the browser's "open every graph"):
    /// each event's trees built in one walk over its stacks rather than one per row.
    pub(crate) fn graph_texts(&self, gs: &[&RowGraph]) -> Vec<String> {
        let l = &self.lazy;
        let mut trees: FxHashMap<usize, FxHashMap<Key, graph::Node>> = FxHashMap::default();
        gs.iter()
            .map(|g| match g {
                RowGraph::Text(t) => t.clone(),
                RowGraph::Lazy(i) => match l.rows.get(*i) {
                    Some((event, key, ..)) => {
                        let all = trees.entry(*event).or_insert_with(|| {
                            let stacks = &self.hists[*event].stacks;
                            all_trees(stacks, &l.frames, &l.orders, &l.ties, l.children, l.order)
                        });
                        match all.get(key) {
                            Some(tree) => self.lay_out_graph(*i, tree),
                            None => String::new(),
                        }
                    }
                    None => String::new(),
                },
            })
            .collect()
    }

    /// The text of lazy row `i`'s tree.
    fn lay_out_graph(&self, i: usize, tree: &graph::Node) -> String {
        let mut out = String::new();
        if let (Some((_, _, total, parent)), Some(p)) = (self.lazy.rows.get(i), self.lazy.print) {
            let names = &self.lazy.names;
            let name = |id: u32| names.get(id as usize).cloned().unwrap_or_default();
            graph::print(&mut out, tree, *total, *parent, p, &name);
        }
        out
    }
}

/// One event's histogram laid out as report prints it: the columns, their widths and the
/// rows in order (the `--stdio` text and the browser both show this).
pub(crate) struct Laid {
    /// Per column: its header, and whether it holds numbers (right-aligned).
    pub columns: Vec<(String, bool)>,
    /// Column widths (perf's: every entry's, also those --percent-limit hides).
    pub widths: Vec<usize>,
    /// The last column is printed unpadded (a symbol, source line or trace).
    pub open_last: bool,
    /// The rows, in order.
    pub rows: Vec<LaidRow>,
}

/// A row of [`Laid`].
pub(crate) struct LaidRow {
    /// Cell texts, unpadded.
    pub cells: Vec<String>,
    /// The sort keys' values.
    pub keys: Vec<Cell>,
    /// Its call graph.
    pub graph: RowGraph,
}

impl Laid {
    /// A row's line as `--stdio` prints it (two leading spaces, columns two apart).
    pub(crate) fn line(&self, cells: &[String]) -> String {
        let mut line = String::from(" ");
        for (n, ((c, &w), (_, right))) in cells
            .iter()
            .zip(&self.widths)
            .zip(&self.columns)
            .enumerate()
        {
            line.push_str(if n == 0 { " " } else { "  " });
            if *right {
                let _ = write!(line, "{c:>w$}");
            } else if n + 1 == cells.len() && self.open_last {
                line.push_str(c);
            } else {
                let _ = write!(line, "{c:<w$}");
            }
        }
        line
    }
}

/// Ties are broken by the keys, with entries outside any known binary last, as perf's
/// NULL-dso comparison puts them.
pub(crate) fn tie_order(k: &[Cell]) -> Vec<(bool, &Cell)> {
    k.iter()
        .map(|c| (matches!(c, Cell::Text(t) if t == "[unknown]"), c))
        .collect()
}

/// [`tie_order`]'s comparison of two rows' keys without building either list (row sorting
/// compares every pair of equal weight: a list per comparison was most of its time).
pub(crate) fn tie_cmp(a: &[Cell], b: &[Cell]) -> std::cmp::Ordering {
    let unknown = |c: &Cell| matches!(c, Cell::Text(t) if t == "[unknown]");
    a.iter()
        .map(|c| (unknown(c), c))
        .cmp(b.iter().map(|c| (unknown(c), c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tie_cmp_orders_as_tie_order() {
        let t = |s: &str| Cell::Text(s.to_string());
        let rows = [
            vec![t("cc1"), t("[unknown]"), Cell::Num(3)],
            vec![t("cc1"), t("libc.so.6"), Cell::Num(3)],
            vec![t("cc1"), t("libc.so.6"), Cell::Num(1)],
            vec![t("[unknown]"), t("libc.so.6")],
            vec![t("as"), t("[unknown]")],
            vec![t("as")],
        ];
        for a in &rows {
            for b in &rows {
                assert_eq!(
                    tie_cmp(a, b),
                    tie_order(a).cmp(&tie_order(b)),
                    "{a:?} {b:?}"
                );
            }
        }
        // The unknown binary sorts after every known one.
        assert_eq!(tie_cmp(&rows[0], &rows[1]), std::cmp::Ordering::Greater);
    }
}
