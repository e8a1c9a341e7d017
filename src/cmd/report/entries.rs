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
    /// Whether that sample was taken in the kernel (perf's `he->level`).
    pub(super) kernel_sample: bool,
    /// The length of that thread's last name: perf sizes the comm column by it (not by
    /// the names the entries show), cutting longer names to the width.
    pub(crate) thread_comm_len: usize,
    /// Longest chain stored under the entry (children mode, from the entry to the leaf):
    /// perf puts callers above callees of equal weight with it.
    pub(super) max_depth: usize,
    /// Made only of samples the filters hide ([`Extra::keep_hidden`]).
    pub(crate) hidden: bool,
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
    children: bool,
    order: graph::Order,
    min: u64,
) {
    let caller = order == graph::Order::Caller;
    let mut seen: Vec<Key> = Vec::new();
    let mut path: Vec<((u64, u64), u32)> = Vec::new();
    // Each entry's tree weight, summed first the way the trees below add it.
    let mut weight: FxHashMap<Key, u64> = FxHashMap::default();
    if min > 0 {
        for (ids, period) in &h.stacks {
            let self_key = table.frames[ids[0] as usize].0;
            *weight.entry(self_key).or_default() += period;
            if !children {
                continue;
            }
            seen.clear();
            for &f in &ids[1..] {
                let key = table.frames[f as usize].0;
                if key != self_key && !seen.contains(&key) {
                    seen.push(key);
                    *weight.entry(key).or_default() += period;
                }
            }
        }
    }
    let shown = |key: &Key| min == 0 || weight.get(key).is_some_and(|&w| w >= min);
    for (ids, period) in &h.stacks {
        let self_key = table.frames[ids[0] as usize].0;
        let chain = &ids[1..];
        // `part`: the frames stored under `key`, leaf first.
        let mut add = |key: Key, part: &[u32]| {
            if let Some(e) = h.entries.get_mut(&key) {
                e.max_depth = e.max_depth.max(part.len());
            }
            if !shown(&key) {
                return;
            }
            path.clear();
            // Nodes are told apart by symbol, ordered among equals as perf orders them.
            let item = |f: &u32| {
                let sym = table.frames[*f as usize].1;
                let at = orders.get(sym as usize).copied().unwrap_or(u64::MAX);
                ((at, u64::from(sym)), sym)
            };
            if caller {
                path.extend(part.iter().rev().map(item));
            } else {
                path.extend(part.iter().map(item));
            }
            h.graphs
                .entry(key)
                .or_insert_with(graph::Node::root)
                .add(&path, *period);
        };
        add(self_key, chain);
        if !children {
            continue;
        }
        seen.clear();
        let mut visit = |j: usize| {
            let key = table.frames[chain[j] as usize].0;
            if key != self_key && !seen.contains(&key) {
                seen.push(key);
                if caller {
                    add(key, &chain[..=j]);
                } else {
                    add(key, &chain[j..]);
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
    /// The other entries on the chain, each once.
    pub(super) chain_keys: Vec<Key>,
    /// With a graph: the sample's own entry, then its frames leaf first ([`FrameTable`] ids).
    pub(super) stack: Vec<u32>,
    pub(super) period: u64,
    pub(super) samples: u64,
    /// Dropped by `--dso`.
    pub(super) skip: bool,
    /// Hidden by a filter, kept for diff ([`Extra::keep_hidden`]).
    pub(super) hidden: bool,
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
        for k in &u.chain_keys {
            entries.entry(*k).or_insert_with(new).children_period += u.period;
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
