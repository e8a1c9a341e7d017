//! The histogram's entries and the dedup caches behind them: interned names, srclines and
//! symbols, call-graph frame tables and trees, the distinct-value fold.
use super::*;

#[derive(Debug, Default, Clone)]
pub(crate) struct Entry {
    pub(crate) self_period: u64,
    pub(super) children_period: u64,
    /// Self period of kernel-mode and of user-mode samples (`-F overhead_sys/overhead_us`).
    pub(super) sys_period: u64,
    pub(super) us_period: u64,
    pub(crate) samples: u64,
    /// The (pid, tid) of the sample that created the entry: perf's `he->thread`.
    pub(super) thread: (i32, i32),
    /// perf's `he->level` (`[k]`), shown for an address outside every mapping: for the
    /// sample's own entry whether it was taken in the kernel, for a chain frame's the level
    /// perf's walk of the chain had at that frame.
    pub(super) kernel_sample: bool,
    /// The length of that thread's last name: perf sizes the comm column by it (not by
    /// the names the entries show), cutting longer names to the width.
    pub(crate) thread_comm_len: usize,
    /// Longest chain stored under the entry (children mode, from the entry to the leaf):
    /// perf puts callers above callees of equal weight with it.
    pub(super) max_depth: usize,
    /// Made only of samples the filters hide ([`Extra::keep_hidden`]).
    pub(crate) hidden: bool,
    /// The sample that created the entry resolved to no symbol (perf's `he->ms.sym` NULL),
    /// whatever the sort keys: perf then widens the binary column to an address's width.
    pub(crate) unresolved: bool,
}

/// Up to this many sort keys; each is stored as a small integer id.
pub(super) const MAX_KEYS: usize = 6;

pub(super) type Key = [u64; MAX_KEYS];

pub(crate) struct EventHist {
    pub(super) entries: FxHashMap<Key, Entry>,
    /// With [`Extra::keep_hidden`]: the entries of hidden samples.
    pub(super) hidden: FxHashMap<Key, Entry>,
    pub(super) graphs: FxHashMap<Key, graph::Node>,
    /// Children mode with a graph: each distinct stack (the sample's own entry, then its
    /// frames leaf first, as [`FrameTable`] ids) in first-seen order, with its weight. The
    /// per-entry caller trees are built from these at the end, once per distinct stack.
    pub(super) stacks: Vec<(Vec<u32>, u64)>,
    pub(super) stack_index: FxHashMap<Vec<u32>, usize>,
    pub(crate) total: u64,
    /// The period of the samples no filter hides (perf's total_non_filtered_period).
    pub(crate) shown_total: u64,
    pub(crate) samples: u64,
    pub(crate) name: String,
}

/// (entry key, symbol id) pairs of stack frames, interned so a stack is a list of u32.
#[derive(Default)]
pub(super) struct FrameTable {
    pub(super) frames: Vec<(Key, u32)>,
    pub(super) ids: FxHashMap<(Key, u32), u32>,
}

impl FrameTable {
    pub(super) fn intern(&mut self, key: Key, sym: u32) -> u32 {
        let next = self.frames.len() as u32;
        let id = *self.ids.entry((key, sym)).or_insert(next);
        if id == next {
            self.frames.push((key, sym));
        }
        id
    }
}

/// perf's call graphs, from the distinct stacks of one event. Without children, each
/// entry holds the chains of its own samples. In children mode the sample's own entry
/// holds its whole chain, and every other entry on the chain (once per sample: its
/// outermost occurrence in caller order, its innermost in callee order) the part from
/// itself towards the leaf (caller order) or the root (callee order). Also records each
/// entry's longest stored chain, which orders rows of equal weight.
///
/// `min`: a tree whose whole weight stays below it prints nothing (perf's `graph` threshold,
/// a share of the event's total), so it is not built. Most entries of a system-wide
/// recording are such a tail, and their trees were most of report's time and memory.
pub(super) fn build_trees(
    h: &mut EventHist,
    table: &FrameTable,
    orders: &[u64],
    ties: &[u64],
    children: bool,
    order: graph::Order,
    min: u64,
) {
    let mut parts = Parts::new(table, orders, ties, order);
    let EventHist {
        stacks,
        graphs,
        entries,
        ..
    } = h;
    // Each entry's tree weight, summed first the way the trees below add it: a tree
    // whose whole weight is under the print threshold would print nothing.
    let mut weight: FxHashMap<Key, u64> = FxHashMap::default();
    if min > 0 {
        walk_stacks(stacks, table, children, order, |key, _, period| {
            *weight.entry(key).or_default() += period;
        });
    }
    let shown = |key: &Key| min == 0 || weight.get(key).is_some_and(|&w| w >= min);
    walk_stacks(stacks, table, children, order, |key, part, period| {
        if let Some(e) = entries.get_mut(&key) {
            e.max_depth = e.max_depth.max(part.len());
        }
        if !shown(&key) {
            return;
        }
        parts.add(
            part,
            period,
            graphs.entry(key).or_insert_with(graph::Node::root),
        );
    });
}

/// What [`build_trees`] records of each entry without building the trees: the longest
/// stored chain (row order), and so whether the entry has a graph at all (its depth is
/// then above zero). The browser builds a tree when its row is opened ([`entry_tree`]).
pub(super) fn entry_depths(
    h: &mut EventHist,
    table: &FrameTable,
    children: bool,
    order: graph::Order,
) {
    let EventHist {
        stacks, entries, ..
    } = h;
    walk_stacks(stacks, table, children, order, |key, part, _| {
        if let Some(e) = entries.get_mut(&key) {
            e.max_depth = e.max_depth.max(part.len());
        }
    });
}

/// The call-graph tree of one entry, node for node the one [`build_trees`] builds: the
/// parts [`walk_stacks`] stores under `want`, in the same order, found without its
/// per-stack bookkeeping (one look at each frame).
pub(super) fn entry_tree(
    stacks: &[(Vec<u32>, u64)],
    table: &FrameTable,
    orders: &[u64],
    ties: &[u64],
    children: bool,
    order: graph::Order,
    want: &Key,
) -> graph::Node {
    let mut tree = graph::Node::root();
    let mut parts = Parts::new(table, orders, ties, order);
    let is_want: Vec<bool> = table.frames.iter().map(|(k, _)| k == want).collect();
    let caller = order == graph::Order::Caller;
    for (ids, period) in stacks {
        let chain = &ids[1..];
        if is_want[ids[0] as usize] {
            parts.add(chain, *period, &mut tree);
            continue;
        }
        if !children {
            continue;
        }
        // The occurrence walk_stacks keeps: the outermost in caller order, the innermost
        // in callee order.
        let at = if caller {
            chain.iter().rposition(|f| is_want[*f as usize])
        } else {
            chain.iter().position(|f| is_want[*f as usize])
        };
        if let Some(j) = at {
            let part = if caller { &chain[..=j] } else { &chain[j..] };
            parts.add(part, *period, &mut tree);
        }
    }
    tree
}

/// Every entry's call-graph tree of one event, as [`build_trees`] builds them (for a
/// browser asked to open many rows at once: one walk instead of one per row).
pub(super) fn all_trees(
    stacks: &[(Vec<u32>, u64)],
    table: &FrameTable,
    orders: &[u64],
    ties: &[u64],
    children: bool,
    order: graph::Order,
) -> FxHashMap<Key, graph::Node> {
    let mut trees: FxHashMap<Key, graph::Node> = FxHashMap::default();
    let mut parts = Parts::new(table, orders, ties, order);
    walk_stacks(stacks, table, children, order, |key, part, period| {
        let tree = trees.entry(key).or_insert_with(graph::Node::root);
        parts.add(part, period, tree);
    });
    trees
}

/// Adds stored chain parts (leaf first) to trees, in the graph's order, nodes told apart
/// by symbol and ordered among equals as perf orders them.
struct Parts<'a> {
    path: Vec<((u64, u64), u32)>,
    table: &'a FrameTable,
    orders: &'a [u64],
    ties: &'a [u64],
    order: graph::Order,
}

impl<'a> Parts<'a> {
    fn new(table: &'a FrameTable, orders: &'a [u64], ties: &'a [u64], order: graph::Order) -> Self {
        Parts {
            path: Vec::new(),
            table,
            orders,
            ties,
            order,
        }
    }

    fn add(&mut self, part: &[u32], period: u64, tree: &mut graph::Node) {
        let (table, orders, ties) = (self.table, self.orders, self.ties);
        let item = |f: &u32| {
            let sym = table.frames[*f as usize].1;
            let at = orders.get(sym as usize).copied().unwrap_or(u64::MAX);
            let tie = ties.get(sym as usize).copied().unwrap_or(u64::from(sym));
            ((at, tie), sym)
        };
        self.path.clear();
        if self.order == graph::Order::Caller {
            self.path.extend(part.iter().rev().map(item));
        } else {
            self.path.extend(part.iter().map(item));
        }
        tree.add(&self.path, period);
    }
}

/// Calls `add(entry key, part stored under it (leaf first), weight)` for every part of
/// every distinct stack that [`build_trees`] stores, in the order it stores them.
fn walk_stacks(
    stacks: &[(Vec<u32>, u64)],
    table: &FrameTable,
    children: bool,
    order: graph::Order,
    mut add: impl FnMut(Key, &[u32], u64),
) {
    let caller = order == graph::Order::Caller;
    let mut seen: Vec<Key> = Vec::new();
    for (ids, period) in stacks {
        let self_key = table.frames[ids[0] as usize].0;
        let chain = &ids[1..];
        add(self_key, chain, *period);
        if !children {
            continue;
        }
        seen.clear();
        let mut visit = |j: usize| {
            let key = table.frames[chain[j] as usize].0;
            if key != self_key && !seen.contains(&key) {
                seen.push(key);
                if caller {
                    add(key, &chain[..=j], *period);
                } else {
                    add(key, &chain[j..], *period);
                }
            }
        };
        if caller {
            (0..chain.len()).rev().for_each(&mut visit);
        } else {
            (0..chain.len()).for_each(&mut visit);
        }
    }
}

/// Strings interned to ids.
#[derive(Default)]
pub(super) struct Names {
    pub(super) names: Vec<String>,
    pub(super) ids: FxHashMap<String, u32>,
}

impl Names {
    pub(super) fn with_first(first: &str) -> Names {
        let mut n = Names {
            names: Vec::new(),
            ids: FxHashMap::default(),
        };
        n.id(first);
        n
    }

    pub(super) fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.to_string());
        self.ids.insert(s.to_string(), i);
        i
    }
}

/// Source lines interned to ids, each address looked up once.
#[derive(Default)]
pub(super) struct Srclines {
    pub(super) names: Names,
    pub(super) by_addr: FxHashMap<(u32, u64), u32>,
}

impl Srclines {
    /// `caller`: the address is a call-chain frame's, which perf looks up without the
    /// `sym+off` fallback (its cache slot is kept apart).
    pub(super) fn id(
        &mut self,
        loc: Option<Location>,
        caller: bool,
        text: impl FnOnce() -> String,
    ) -> u32 {
        let slot = loc
            .map(|l| (l.dso | u32::from(caller) << 31, l.rel))
            .unwrap_or((u32::MAX, 0));
        if let Some(&id) = self.by_addr.get(&slot) {
            return id;
        }
        let id = self.names.id(&text());
        self.by_addr.insert(slot, id);
        id
    }
}

/// Symbol cells interned to ids, so keys hash as integers in the per-sample loop.
#[derive(Default)]
pub(super) struct SymTable {
    pub(super) cells: Vec<SymCell>,
    /// Per id, where its first instance lies ((binary, start address) packed; map-less
    /// entries first): perf orders call-graph branches of equal weight this way.
    pub(super) orders: Vec<u64>,
    /// Functions by where they start ((binary, start) packed, as `orders`): perf tells
    /// functions apart by address, so two of the same name stay two entries.
    pub(super) named: FxHashMap<u64, u32>,
    pub(super) addrs: FxHashMap<u64, u32>,
    /// Inlined functions by (containing symbol's place, name): perf tells them apart by
    /// name, as they share their container's start.
    pub(super) inlined: FxHashMap<(u64, String), u32>,
    /// Ids of addresses outside every mapping: perf shows them with the level of the sample
    /// that created each entry, so their `[k]`/`[.]` is decided per entry.
    pub(super) mapless: rustc_hash::FxHashSet<u32>,
    /// (dso, address, raw-address entry) → id: each distinct address is symbolized once.
    pub(super) by_addr: FxHashMap<(u32, u64, bool), u32>,
}

impl SymTable {
    /// Per id, the second half of its call-graph key ([`graph::tie`]): whether it is an
    /// inlined function and where its name sorts among all (perf compares inlined
    /// frames by name, `strcmp`'s byte order, without the ` (inlined)` mark).
    pub(super) fn ties(&self) -> Vec<u64> {
        let inlined: rustc_hash::FxHashSet<u32> = self.inlined.values().copied().collect();
        let name = |id: usize| match &self.cells[id] {
            SymCell::Named(_, n) if inlined.contains(&(id as u32)) => {
                Some(n.strip_suffix(" (inlined)").unwrap_or(n))
            }
            SymCell::Named(_, n) => Some(n.as_str()),
            SymCell::Addr(..) => None,
        };
        let mut by_name: Vec<(&str, usize)> = (0..self.cells.len())
            .filter_map(|id| Some((name(id)?, id)))
            .collect();
        by_name.sort_unstable();
        let mut rank = vec![None; self.cells.len()];
        let mut r = 0u32;
        for (i, &(n, id)) in by_name.iter().enumerate() {
            if i > 0 && by_name[i - 1].0 != n {
                r += 1;
            }
            rank[id] = Some(r);
        }
        (0..self.cells.len())
            .map(|id| graph::tie(id as u32, rank[id], inlined.contains(&(id as u32))))
            .collect()
    }

    /// The id of `name (inlined)` inside the function placed at `order`.
    pub(super) fn intern_inlined(&mut self, name: &str, order: u64) -> u32 {
        let next = self.cells.len() as u32;
        let id = *self
            .inlined
            .entry((order, name.to_string()))
            .or_insert(next);
        if id == next {
            self.cells
                .push(SymCell::Named(false, format!("{name} (inlined)")));
            self.orders.push(order);
        }
        id
    }

    pub(super) fn intern(&mut self, cell: SymCell, order: u64) -> u32 {
        let next = self.cells.len() as u32;
        let id = match &cell {
            SymCell::Named(..) => *self.named.entry(order).or_insert(next),
            SymCell::Addr(_, a) => *self.addrs.entry(*a).or_insert(next),
        };
        if id == next {
            self.cells.push(cell);
            self.orders.push(order);
        }
        id
    }
}

/// Samples that resolve alike, gathered: the first one's thread and keys, and the sum of
/// their periods.
pub(super) struct Uniq {
    pub(super) event: usize,
    pub(super) mode: Mode,
    pub(super) thread: (i32, i32),
    pub(super) self_key: Key,
    /// The other entries on the chain, each once, with the level (`[k]`) an entry made by
    /// that frame shows when its address is outside every mapping.
    pub(super) chain_keys: Vec<(Key, bool)>,
    /// With a graph: the sample's own entry, then its frames leaf first ([`FrameTable`] ids).
    pub(super) stack: Vec<u32>,
    pub(super) period: u64,
    pub(super) samples: u64,
    /// Dropped by `--dso`.
    pub(super) skip: bool,
    /// Hidden by a filter, kept for diff ([`Extra::keep_hidden`]).
    pub(super) hidden: bool,
    /// No symbol at the sampled address ([`Entry::unresolved`]).
    pub(super) unresolved: bool,
}

/// At most this many distinct samples are held before they are folded into the histograms.
pub(super) const MAX_DISTINCT: usize = 1 << 15;

/// Adds gathered samples to their histograms in first-seen order: entries are created by
/// the same sample, and stacks kept in the same order, as when added one by one.
pub(super) fn fold_distinct(uniqs: &mut Vec<Uniq>, hists: &mut [EventHist], graph_on: bool) {
    for u in uniqs.drain(..) {
        let Some(h) = hists.get_mut(u.event) else {
            continue;
        };
        if u.skip {
            continue;
        }
        if !u.hidden {
            h.shown_total += u.period;
        }
        if graph_on && u.stack.len() > 1 {
            match h.stack_index.get(u.stack.as_slice()) {
                Some(&i) => h.stacks[i].1 += u.period,
                None => {
                    h.stack_index.insert(u.stack.clone(), h.stacks.len());
                    h.stacks.push((u.stack, u.period));
                }
            }
        }
        let new = || Entry {
            thread: u.thread,
            kernel_sample: u.mode == Mode::Kernel,
            unresolved: u.unresolved,
            ..Entry::default()
        };
        let entries = if u.hidden {
            &mut h.hidden
        } else {
            &mut h.entries
        };
        let e = entries.entry(u.self_key).or_insert_with(new);
        e.self_period += u.period;
        e.children_period += u.period;
        match u.mode {
            Mode::Kernel => e.sys_period += u.period,
            Mode::User => e.us_period += u.period,
            Mode::Other => {}
        }
        e.samples += u.samples;
        for &(k, level_k) in &u.chain_keys {
            let e = entries.entry(k).or_insert_with(|| Entry {
                kernel_sample: level_k,
                ..new()
            });
            e.children_period += u.period;
        }
    }
}

pub(super) fn new_hist(name: &str) -> EventHist {
    EventHist {
        entries: FxHashMap::default(),
        hidden: FxHashMap::default(),
        graphs: FxHashMap::default(),
        stacks: Vec::new(),
        stack_index: FxHashMap::default(),
        total: 0,
        shown_total: 0,
        samples: 0,
        name: name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stacks over five entries, some of them recursive (an entry twice on a chain).
    fn hist_and_frames() -> (EventHist, FrameTable) {
        let mut frames = FrameTable::default();
        let key = |n: u64| {
            let mut k = [0u64; MAX_KEYS];
            k[0] = n;
            k
        };
        let mut h = new_hist("cpu-clock");
        for chain in [
            &[1u64, 1, 2, 3][..],
            &[2, 2, 3],
            &[1, 1, 2, 1, 3],
            &[4, 4, 2, 3],
            &[1, 1, 2, 3],
            &[5, 5],
        ] {
            let ids: Vec<u32> = chain
                .iter()
                .enumerate()
                .map(|(i, &n)| frames.intern(key(n), if i == 0 { u32::MAX } else { n as u32 }))
                .collect();
            for &n in chain {
                h.entries.entry(key(n)).or_default();
            }
            h.stacks.push((ids, 10 + chain.len() as u64));
        }
        // A sample without a chain: an entry with no graph.
        h.entries.entry(key(9)).or_default();
        (h, frames)
    }

    #[test]
    fn a_tree_built_alone_is_the_one_built_with_all_others() {
        let orders = [0u64, 50, 40, 30, 20, 10];
        for children in [false, true] {
            for order in [graph::Order::Caller, graph::Order::Callee] {
                let (mut all, frames) = hist_and_frames();
                build_trees(&mut all, &frames, &orders, &[], children, order, 0);
                let (mut depths, _) = hist_and_frames();
                entry_depths(&mut depths, &frames, children, order);
                assert!(!all.graphs.is_empty());
                for (k, e) in &all.entries {
                    assert_eq!(e.max_depth, depths.entries[k].max_depth, "{k:?}");
                    let alone = entry_tree(&all.stacks, &frames, &orders, &[], children, order, k);
                    let every = all_trees(&all.stacks, &frames, &orders, &[], children, order);
                    match all.graphs.get(k) {
                        Some(t) => {
                            assert_eq!(format!("{t:?}"), format!("{alone:?}"));
                            assert_eq!(format!("{t:?}"), format!("{:?}", every[k]));
                        }
                        None => assert_eq!(e.max_depth, 0, "{k:?}"),
                    }
                }
            }
        }
    }
}
