//! `rperf report --stdio`: samples grouped by sort keys (comm, dso, sym, pid, tid, cpu), with
//! perf's Children/Self accounting when call chains exist, in perf 6.1's text layout.
use rustc_hash::FxHashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::data::{Mode, Record};
use crate::replay::{Item, Parts, Replay, Verdict};
use crate::report::graph;
use crate::session::Location;

/// One `--sort` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Command name.
    Comm,
    /// Thread id and its command name (perf's `pid` key: the sample's thread).
    Pid,
    /// Binary.
    Dso,
    /// Function.
    Sym,
    /// CPU.
    Cpu,
    /// Source file and line (`file.c:12`), from DWARF.
    Srcline,
    /// The innermost caller matching `--parent` (perf's `[other]` when none does).
    Parent,
    /// A tracepoint sample's formatted fields (perf's `trace` key; `N/A` for other events).
    Trace,
    /// The sample's cgroup by path (`--all-cgroups` recordings; perf's `cgroup` key).
    Cgroup,
    /// The thread's cgroup namespace as dev/inode (`--namespaces` recordings; perf's
    /// `cgroup_id` key).
    CgroupId,
}

impl SortKey {
    /// Parses perf's `--sort` list.
    pub fn parse_list(s: &str) -> Result<Vec<SortKey>> {
        s.split(',')
            .map(|k| {
                Ok(match k.trim() {
                    "comm" => SortKey::Comm,
                    "pid" => SortKey::Pid,
                    "dso" => SortKey::Dso,
                    "sym" | "symbol" => SortKey::Sym,
                    "cpu" => SortKey::Cpu,
                    "srcline" => SortKey::Srcline,
                    "parent" => SortKey::Parent,
                    "trace" => SortKey::Trace,
                    "cgroup" => SortKey::Cgroup,
                    "cgroup_id" => SortKey::CgroupId,
                    other => {
                        bail!("unknown --sort key '{other}': use comm, pid, dso, sym, srcline, parent, cpu, trace, cgroup or cgroup_id")
                    }
                })
            })
            .collect()
    }

    /// perf's column header for the key.
    pub(crate) fn header(self) -> &'static str {
        match self {
            SortKey::Comm => "Command",
            SortKey::Pid => "    Pid:Command",
            SortKey::Dso => "Shared Object",
            SortKey::Sym => "Symbol",
            SortKey::Cpu => "CPU",
            SortKey::Srcline => "Source:Line",
            SortKey::Parent => "Parent symbol",
            SortKey::Trace => "Trace output",
            SortKey::Cgroup => "Cgroup",
            SortKey::CgroupId => "cgroup id (dev/inode)",
        }
    }
}

/// One `-F/--fields` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Self share (`overhead`).
    Overhead,
    /// Share with callees (`overhead_children`).
    Children,
    /// Self share of kernel-mode samples (`overhead_sys`).
    Sys,
    /// Self share of user-mode samples (`overhead_us`).
    Us,
    /// Sample count (`sample`).
    Samples,
    /// Self period (`period`).
    Period,
    /// A sort key.
    Key(SortKey),
}

impl Field {
    /// Parses perf's `-F` list.
    pub fn parse_list(s: &str) -> Result<Vec<Field>> {
        s.split(',')
            .map(|f| {
                Ok(match f.trim() {
                    "overhead" => Field::Overhead,
                    "overhead_children" => Field::Children,
                    "overhead_sys" => Field::Sys,
                    "overhead_us" => Field::Us,
                    "sample" => Field::Samples,
                    "period" => Field::Period,
                    k => Field::Key(SortKey::parse_list(k).map_err(|_| {
                        anyhow::anyhow!(
                            "unknown --fields key '{k}': use overhead, overhead_children, overhead_sys, overhead_us, sample, period or a --sort key"
                        )
                    })?[0]),
                })
            })
            .collect()
    }

    /// Header and width of a number column.
    fn column(self) -> (&'static str, usize) {
        match self {
            Field::Overhead => ("Overhead", 8),
            Field::Children => ("Children", 8),
            Field::Sys => ("sys", 8),
            Field::Us => ("usr", 8),
            Field::Samples => ("Samples", 12),
            Field::Period => ("Period", 12),
            Field::Key(_) => ("", 0),
        }
    }
}

/// Options of `rperf report`.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// `-i`.
    pub input: PathBuf,
    /// `--sort` (with `-F`: its keys, then the `--sort` keys it does not list).
    pub sort: Vec<SortKey>,
    /// `-F/--fields`: the columns, in order; they also order the rows.
    pub fields: Option<Vec<Field>>,
    /// With `-F`: the `--sort` keys given, which order the rows before the fields do.
    pub order_first: Vec<SortKey>,
    /// `--children` (None: on when the file has call chains, as perf).
    pub children: Option<bool>,
    /// `-n`.
    pub show_nr_samples: bool,
    /// `--show-total-period`: a Period column (the entry's own period) after Samples.
    pub show_total_period: bool,
    /// `--percent-limit`.
    pub percent_limit: f64,
    /// `--symfs`.
    pub symfs: Option<PathBuf>,
    /// `--comm/--pid/--tid` (hide entries), `--cpu` and `--time` (drop samples).
    pub filter: crate::replay::Filter,
    /// `--dso` filter (short or full names).
    pub dsos: Vec<String>,
    /// `--max-stack`.
    pub max_stack: Option<usize>,
    /// `-g`: how call graphs are printed under each entry; `None` for `-g none`.
    pub graph: Option<graph::GraphConfig>,
    /// `-g` was given (other than `none`): perf refuses files without call chains then.
    pub graph_asked: bool,
    /// `--header` / `--header-only`.
    pub header: crate::report::header::Header,
    /// `-p/--parent`: what a parent symbol looks like (perf's default `^sys_|^do_page_fault`).
    pub parent: String,
    /// `--no-inline` turns it off: the frames of DWARF-unwound stacks carry the functions
    /// inlined at their address (`name (inlined)`), as perf's do.
    pub inline: bool,
}

/// What a symbol cell shows.
#[derive(Debug, Clone)]
pub(crate) enum SymCell {
    /// A function: kernel flag, name.
    Named(bool, String),
    /// Unresolved address with the [k]/[.] level it was first seen with. As in perf, the
    /// level is not part of the entry's identity: only the address is.
    Addr(bool, u64),
}

impl SymCell {
    /// Name before level, so ties list `[k] a`, `[.] b`, `[k] c` alphabetically as perf.
    fn identity(&self) -> (u8, &str, bool, u64) {
        match self {
            SymCell::Named(k, n) => (0, n.as_str(), *k, 0),
            SymCell::Addr(_, a) => (1, "", false, *a),
        }
    }
}

impl PartialEq for SymCell {
    fn eq(&self, o: &Self) -> bool {
        self.identity() == o.identity()
    }
}

impl Eq for SymCell {}

impl std::hash::Hash for SymCell {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.identity().hash(h)
    }
}

impl PartialOrd for SymCell {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for SymCell {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.identity().cmp(&o.identity())
    }
}

/// One value of one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Cell {
    Text(String),
    Num(i64),
    /// A thread: tid and its (latest) command name.
    Thread(i64, String),
    Sym(SymCell),
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Entry {
    pub(crate) self_period: u64,
    children_period: u64,
    /// Self period of kernel-mode and of user-mode samples (`-F overhead_sys/overhead_us`).
    sys_period: u64,
    us_period: u64,
    pub(crate) samples: u64,
    /// The (pid, tid) of the sample that created the entry: perf's `he->thread`.
    thread: (i32, i32),
    /// Whether that sample was taken in the kernel (perf's `he->level`).
    kernel_sample: bool,
    /// The length of that thread's last name: perf sizes the comm column by it (not by
    /// the names the entries show), cutting longer names to the width.
    pub(crate) thread_comm_len: usize,
    /// Longest chain stored under the entry (children mode, from the entry to the leaf):
    /// perf puts callers above callees of equal weight with it.
    max_depth: usize,
    /// Made only of samples the filters hide ([`Extra::keep_hidden`]).
    pub(crate) hidden: bool,
}

/// Up to this many sort keys; each is stored as a small integer id.
const MAX_KEYS: usize = 6;
type Key = [u64; MAX_KEYS];

pub(crate) struct EventHist {
    entries: FxHashMap<Key, Entry>,
    /// With [`Extra::keep_hidden`]: the entries of hidden samples.
    hidden: FxHashMap<Key, Entry>,
    graphs: FxHashMap<Key, graph::Node>,
    /// Children mode with a graph: each distinct stack (the sample's own entry, then its
    /// frames leaf first, as [`FrameTable`] ids) in first-seen order, with its weight. The
    /// per-entry caller trees are built from these at the end, once per distinct stack.
    stacks: Vec<(Vec<u32>, u64)>,
    stack_index: FxHashMap<Vec<u32>, usize>,
    pub(crate) total: u64,
    /// The period of the samples no filter hides (perf's total_non_filtered_period).
    pub(crate) shown_total: u64,
    pub(crate) samples: u64,
    pub(crate) name: String,
}

/// (entry key, symbol id) pairs of stack frames, interned so a stack is a list of u32.
#[derive(Default)]
struct FrameTable {
    frames: Vec<(Key, u32)>,
    ids: FxHashMap<(Key, u32), u32>,
}

impl FrameTable {
    fn intern(&mut self, key: Key, sym: u32) -> u32 {
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
fn build_trees(
    h: &mut EventHist,
    table: &FrameTable,
    orders: &[u64],
    children: bool,
    order: graph::Order,
) {
    let caller = order == graph::Order::Caller;
    let mut seen: Vec<Key> = Vec::new();
    let mut path: Vec<((u64, u64), u32)> = Vec::new();
    for (ids, period) in &h.stacks {
        let self_key = table.frames[ids[0] as usize].0;
        let chain = &ids[1..];
        // `part`: the frames stored under `key`, leaf first.
        let mut add = |key: Key, part: &[u32]| {
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
            if let Some(e) = h.entries.get_mut(&key) {
                e.max_depth = e.max_depth.max(part.len());
            }
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
struct Names {
    names: Vec<String>,
    ids: FxHashMap<String, u32>,
}

impl Names {
    fn with_first(first: &str) -> Names {
        let mut n = Names {
            names: Vec::new(),
            ids: FxHashMap::default(),
        };
        n.id(first);
        n
    }

    fn id(&mut self, s: &str) -> u32 {
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
struct Srclines {
    names: Names,
    by_addr: FxHashMap<(u32, u64), u32>,
}

impl Srclines {
    /// `caller`: the address is a call-chain frame's, which perf looks up without the
    /// `sym+off` fallback (its cache slot is kept apart).
    fn id(&mut self, loc: Option<Location>, caller: bool, text: impl FnOnce() -> String) -> u32 {
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
struct SymTable {
    cells: Vec<SymCell>,
    /// Per id, where its first instance lies ((binary, start address) packed; map-less
    /// entries first): perf orders call-graph branches of equal weight this way.
    orders: Vec<u64>,
    /// Functions by where they start ((binary, start) packed, as `orders`): perf tells
    /// functions apart by address, so two of the same name stay two entries.
    named: FxHashMap<u64, u32>,
    addrs: FxHashMap<u64, u32>,
    /// Inlined functions by (containing symbol's place, name): perf tells them apart by
    /// name, as they share their container's start.
    inlined: FxHashMap<(u64, String), u32>,
    /// Ids of addresses outside every mapping: perf shows them with the level of the sample
    /// that created each entry, so their `[k]`/`[.]` is decided per entry.
    mapless: rustc_hash::FxHashSet<u32>,
    /// (dso, address, raw-address entry) → id: each distinct address is symbolized once.
    by_addr: FxHashMap<(u32, u64, bool), u32>,
}

impl SymTable {
    /// The id of `name (inlined)` inside the function placed at `order`.
    fn intern_inlined(&mut self, name: &str, order: u64) -> u32 {
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

    fn intern(&mut self, cell: SymCell, order: u64) -> u32 {
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
struct Uniq {
    event: usize,
    mode: Mode,
    thread: (i32, i32),
    self_key: Key,
    /// The other entries on the chain, each once.
    chain_keys: Vec<Key>,
    /// With a graph: the sample's own entry, then its frames leaf first ([`FrameTable`] ids).
    stack: Vec<u32>,
    period: u64,
    samples: u64,
    /// Dropped by `--dso`.
    skip: bool,
    /// Hidden by a filter, kept for diff ([`Extra::keep_hidden`]).
    hidden: bool,
}

/// At most this many distinct samples are held before they are folded into the histograms.
const MAX_DISTINCT: usize = 1 << 15;

/// Adds gathered samples to their histograms in first-seen order: entries are created by
/// the same sample, and stacks kept in the same order, as when added one by one.
fn fold_distinct(uniqs: &mut Vec<Uniq>, hists: &mut [EventHist], graph_on: bool) {
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

/// perf's `convert_unit`: the count and its unit letter, a space when there is none.
pub(crate) fn convert_unit(n: u64) -> String {
    if n > 1_000_000_000 {
        format!("{}G", n / 1_000_000_000)
    } else if n > 1_000_000 {
        format!("{}M", n / 1_000_000)
    } else if n > 1000 {
        format!("{}K", n / 1000)
    } else {
        format!("{n} ")
    }
}

/// Runs `rperf report`.
pub fn run(cfg: ReportConfig) -> Result<ExitCode> {
    let header_text = match cfg.header {
        crate::report::header::Header::No => None,
        _ => Some(crate::report::header::text(&cfg.input)?),
    };
    if let (Some(t), crate::report::header::Header::Only) = (&header_text, cfg.header) {
        crate::output::stdout(t)?;
        return Ok(ExitCode::SUCCESS);
    }
    let hist = histogram(&cfg, &Extra::default())?;
    let mut out = String::new();
    match &header_text {
        // The header replaces the hint about it.
        Some(t) => out.push_str(t),
        None => out.push_str(
            "# To display the perf.data header info, please use --header/--header-only options.\n#\n",
        ),
    }
    // A --comm or --dso filter with one value hides that column and says so up here.
    for (k, v) in elided(&cfg) {
        let _ = writeln!(out, "# {k}: {v}");
    }
    out.push_str("#\n");
    let _ = writeln!(out, "# Total Lost Samples: {}\n#", hist.lost_samples);
    let mut first = true;
    for (h, rows) in hist.hists.iter().zip(hist.rows) {
        if h.samples == 0 {
            continue;
        }
        if !first {
            out.push_str("\n\n");
        }
        first = false;
        print_hist(&mut out, h, rows, &cfg, hist.children, hist.order);
    }
    out.push_str("\n\n");
    crate::output::stdout(&out)?;
    if let Some(n) = hist.note {
        eprintln!("{n}");
    }
    Ok(ExitCode::SUCCESS)
}

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
    /// An index into [`LazyGraphs::trees`].
    Lazy(usize),
}

/// The call-graph trees of rows not laid out yet, and what laying them out needs.
#[derive(Default)]
pub(crate) struct LazyGraphs {
    /// Per tree: the tree, the event's total and the entry's own weight.
    trees: Vec<(graph::Node, u64, u64)>,
    /// Symbol text by name id.
    names: Vec<String>,
    print: Option<graph::Print>,
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
            RowGraph::Lazy(i) => {
                let mut out = String::new();
                if let (Some((tree, total, parent)), Some(p)) =
                    (self.lazy.trees.get(*i), self.lazy.print)
                {
                    let names = &self.lazy.names;
                    let name = |id: u32| names.get(id as usize).cloned().unwrap_or_default();
                    graph::print(&mut out, tree, *total, *parent, p, &name);
                }
                out
            }
        }
    }
}

/// Replays `cfg.input` and sums its samples by `cfg.sort` (the one aggregation of report
/// and diff).
pub(crate) fn histogram(cfg: &ReportConfig, extra: &Extra) -> Result<Histogram> {
    if cfg.sort.len() > MAX_KEYS {
        bail!("at most {MAX_KEYS} --sort keys");
    }
    let mut table = SymTable::default();
    let mut srclines = Srclines::default();
    let mut inline_stacks: rustc_hash::FxHashMap<
        (u32, u64),
        std::rc::Rc<[rperf_symbols::InlineFrame]>,
    > = Default::default();
    let parent_re = if cfg.sort.contains(&SortKey::Parent) {
        Some(
            regex_lite::Regex::new(&cfg.parent)
                .map_err(|e| anyhow::anyhow!("bad --parent pattern '{}': {e}", cfg.parent))?,
        )
    } else {
        None
    };
    let mut parents = Names::with_first("[other]");
    let mut dso_rep: FxHashMap<u32, u32> = FxHashMap::default();
    let mut dso_by_name: FxHashMap<String, u32> = FxHashMap::default();
    let by_trace = cfg.sort.contains(&SortKey::Trace);
    let mut traces = Names::with_first("N/A");
    let mut formats = crate::report::trace::Formats::default();
    let mut hists: Vec<EventHist> = Vec::new();
    let mut any_chain = false;
    let max = cfg.max_stack.unwrap_or(usize::MAX);
    let want_children = cfg.children != Some(false);
    // The order perf resolves call chains in: its graph's, caller first in children mode.
    let query_caller = cfg
        .graph
        .and_then(|g| g.order)
        .map_or(want_children, |o| o == graph::Order::Caller);
    // Symbolizing is the costly part: skip it when no key needs the symbol. perf prints a
    // callee graph under each entry in --no-children mode, a caller graph in children mode.
    let graph_on = cfg.graph.is_some();
    let want_sym =
        cfg.sort.contains(&SortKey::Sym) || cfg.graph.is_some() || !extra.symbols.is_empty();
    let mut frames: FrameTable = FrameTable::default();
    let by_cpu = cfg.sort.contains(&SortKey::Cpu);
    let by_cgroup = cfg.sort.contains(&SortKey::Cgroup);
    // Cgroup namespaces (dev, inode) seen, by key.
    let mut cgroup_nss: Vec<(u64, u64)> = vec![(0, 0)];
    let uses_chain = want_children || graph_on || parent_re.is_some();
    let mut raw_key: Vec<u64> = Vec::new();
    let mut distinct: FxHashMap<Box<[u64]>, u32> = FxHashMap::default();
    let mut uniqs: Vec<Uniq> = Vec::new();
    let mut lost_samples = 0u64;
    let mut replay = Replay::new(&cfg.input, cfg.symfs.clone(), cfg.filter.clone(), want_sym)?;
    let header = replay.run(&cfg.input, |parts, header, item| {
        let (s, verdict) = match item {
            Item::Sample(s, verdict) => (s, verdict),
            Item::Side(Record::LostSamples { count }) => {
                lost_samples += count;
                return;
            }
            Item::Side(_) => return,
        };
        let Parts {
            session,
            syms,
            stacks,
        } = parts;
        if hists.is_empty() {
            hists = header.events.iter().map(|e| new_hist(&e.name)).collect();
        }
        let Some(h) = hists.get_mut(s.event) else {
            return;
        };
        // Filters hide entries; percentages stay shares of everything (perf's default
        // `--percentage global`), so the totals count every sample -C and --time keep.
        h.total += s.period;
        h.samples += 1;
        any_chain |= s.callchain.is_some();
        if verdict != Verdict::Shown && !extra.keep_hidden {
            return;
        }
        let hidden = verdict != Verdict::Shown;
        let comm = session.comm_id(s.tid);
        // Samples with the same thread, comm, address spaces and chain resolve alike:
        // each distinct one is resolved once and later ones only add their period.
        // DWARF samples are unwound from their own stack bytes and are never merged.
        let mode_word = |m: Mode| match m {
            Mode::Kernel => 1u64,
            Mode::User => 2,
            Mode::Other => 3,
        };
        // --sort trace: the sample's formatted tracepoint fields, as script prints them.
        let trace_id = if by_trace {
            match header.events.get(s.event).and_then(|e| e.tracepoint) {
                Some(id) => {
                    let raw = s.raw.as_deref().unwrap_or(&[]);
                    let tracing = header.tracing_data.as_deref();
                    traces.id(&formats.text(tracing, Some(id), raw, syms))
                }
                None => 0,
            }
        } else {
            0
        };
        let cacheable = s.user_stack.is_none();
        if cacheable {
            raw_key.clear();
            raw_key.extend([
                s.event as u64,
                u64::from(s.pid as u32) | u64::from(s.tid as u32) << 32,
                u64::from(comm) | mode_word(s.mode) << 32,
                session.maps_generation(s.pid),
                session.kernel_generation(),
                if by_cpu {
                    u64::from(s.cpu.unwrap_or(0))
                } else {
                    0
                },
                s.ip,
            ]);
            if by_trace {
                raw_key.push(u64::from(trace_id));
            }
            if by_cgroup {
                raw_key.push(s.cgroup.unwrap_or(0));
            }
            if extra.keep_hidden {
                raw_key.push(u64::from(hidden));
            }
            // Without children, a graph or --sort parent the chain changes nothing.
            if uses_chain {
                raw_key.extend_from_slice(s.callchain.unwrap_or(&[]));
            }
            if let Some(&i) = distinct.get(raw_key.as_slice()) {
                let u = &mut uniqs[i as usize];
                u.period += s.period;
                u.samples += 1;
                return;
            }
        }
        let chain = s.callchain.is_some();
        // The parent: the innermost frame whose symbol matches --parent.
        let parent_id: u64 = match &parent_re {
            Some(re) => stacks
                .parent_frames(session, &s, max)
                .into_iter()
                .find_map(|f| {
                    let loc = session.resolve(s.pid, f.addr, f.mode)?;
                    let sym = syms.symbol(session, loc)?;
                    re.is_match(&sym.name).then_some(sym.name)
                })
                .map(|name| u64::from(parents.id(&name)))
                .unwrap_or(0),
            None => 0,
        };
        // perf asks addr2line about a chain's frames in the order it resolves them, its
        // graph's (root first in caller order), and addr2line's names depend on what it
        // was asked before (`Symbolizer::addr2line_stack`): ask in that order.
        let mut chain_frames = None;
        let walks = chain && (want_children || graph_on);
        if walks && cfg.inline && want_sym && query_caller && cfg.dsos.is_empty() {
            let fs = stacks.frames(session, &s, max);
            for f in fs.iter().rev().filter(|f| f.unwound) {
                let Some(l) = session.resolve(s.pid, f.addr, f.mode) else {
                    continue;
                };
                if syms.symbol(session, l).is_some() {
                    inline_stacks
                        .entry((l.dso, l.rel))
                        .or_insert_with(|| syms.addr2line_stack(session, l).into());
                }
            }
            chain_frames = Some(fs);
        }
        // `abs`: unresolved call-chain addresses keep the raw address, as perf's call-chain
        // entries do (the sample's own entry uses the map-relative one).
        #[allow(clippy::type_complexity)]
        let mut key_of = |addr: u64,
                          mode: Mode,
                          abs: bool,
                          unwound: bool|
         -> (Option<Location>, Key, u32, Vec<(Key, u32)>) {
            let loc = session.resolve(s.pid, addr, mode);
            let slot = (
                loc.map(|l| l.dso).unwrap_or(u32::MAX),
                loc.map(|l| l.rel).unwrap_or(addr),
                abs,
            );
            let sym = if !want_sym {
                0
            } else {
                match table.by_addr.get(&slot) {
                    Some(&id) => id,
                    None => {
                        // perf compares call-graph nodes by binary, then symbol start.
                        let pack = |dso: u32, a: u64| {
                            (u64::from(dso.wrapping_add(1)) << 44) | (a & ((1 << 44) - 1))
                        };
                        let (cell, order) = match loc {
                            Some(l) => {
                                let kernel = session.dsos()[l.dso as usize].kernel;
                                match syms.symbol(session, l) {
                                    Some(sy) => (
                                        SymCell::Named(kernel, sy.name),
                                        pack(l.dso, l.rel - sy.offset),
                                    ),
                                    None if abs => (SymCell::Addr(kernel, addr), pack(l.dso, addr)),
                                    None => (SymCell::Addr(kernel, l.rel), pack(l.dso, l.rel)),
                                }
                            }
                            // perf leaves a map-less chain entry with the sample's own level.
                            None if abs => {
                                (SymCell::Addr(s.mode == Mode::Kernel, addr), addr >> 20)
                            }
                            None => (SymCell::Addr(mode == Mode::Kernel, addr), addr >> 20),
                        };
                        let id = table.intern(cell, order);
                        if loc.is_none() {
                            table.mapless.insert(id);
                        }
                        table.by_addr.insert(slot, id);
                        id
                    }
                }
            };
            let mut key = [0u64; MAX_KEYS];
            for (i, k) in cfg.sort.iter().enumerate() {
                key[i] = match k {
                    SortKey::Comm => u64::from(comm),
                    SortKey::Pid => s.tid as u32 as u64,
                    SortKey::Cpu => u64::from(s.cpu.unwrap_or(u32::MAX)),
                    // perf compares binaries by their short names: two files both called
                    // `rustc` (a toolchain's driver and its wrapper) are one row.
                    SortKey::Dso => loc
                        .map(|l| {
                            let rep = *dso_rep.entry(l.dso).or_insert_with(|| {
                                let name = session.dsos()[l.dso as usize].short_name();
                                *dso_by_name.entry(name.to_string()).or_insert(l.dso)
                            });
                            u64::from(rep) + 1
                        })
                        .unwrap_or(0),
                    SortKey::Sym => u64::from(sym),
                    SortKey::Parent => parent_id,
                    SortKey::Trace => u64::from(trace_id),
                    SortKey::Cgroup => s.cgroup.unwrap_or(0),
                    SortKey::CgroupId => {
                        let ns = session.cgroup_ns(s.tid).unwrap_or((0, 0));
                        match cgroup_nss.iter().position(|&n| n == ns) {
                            Some(i) => i as u64,
                            None => {
                                cgroup_nss.push(ns);
                                (cgroup_nss.len() - 1) as u64
                            }
                        }
                    }
                    // perf's srcline of a sample's address falls back to `sym+off`; a
                    // DWARF-unwound caller's comes from addr2line's inline list, `??:0`
                    // when it knows no line.
                    SortKey::Srcline => u64::from(srclines.id(loc, abs && unwound, || match loc {
                        Some(l) => {
                            let text = syms.srcline(session, l);
                            let fallback = syms
                                .symbol(session, l)
                                .is_some_and(|s| text == format!("{}+{}", s.name, s.offset));
                            if abs && unwound && fallback {
                                "??:0".to_string()
                            } else {
                                text
                            }
                        }
                        None => "??:0".to_string(),
                    })),
                };
            }
            // perf's append_inlines: an unwound frame stands for every function DWARF
            // places at its address, innermost first; those not named as its symbol are
            // `name (inlined)` entries of their own.
            let mut expanded = Vec::new();
            if let (true, Some(l)) = (unwound && cfg.inline && want_sym, loc) {
                if let Some(sy) = syms.symbol(session, l) {
                    let stack = inline_stacks
                        .entry((l.dso, l.rel))
                        .or_insert_with(|| syms.addr2line_stack(session, l).into())
                        .clone();
                    let line_slot = cfg.sort.iter().position(|k| *k == SortKey::Srcline);
                    for (n, i) in stack.iter().enumerate() {
                        let name = crate::cmd::script::binutils_name(n, i, &sy.name);
                        // perf gives each function of the stack its own line: the
                        // address's for the innermost, the call site in it for each caller.
                        let mut k = key;
                        if let (Some(slot), Some(text)) = (line_slot, i.srcline()) {
                            k[slot] = u64::from(srclines.names.id(&text));
                        }
                        if name == sy.name {
                            expanded.push((k, sym));
                            continue;
                        }
                        let id = table.intern_inlined(name, table.orders[sym as usize]);
                        for (slot, sk) in cfg.sort.iter().enumerate() {
                            if *sk == SortKey::Sym {
                                k[slot] = u64::from(id);
                            }
                        }
                        expanded.push((k, id));
                    }
                }
            }
            if expanded.is_empty() {
                expanded.push((key, sym));
            }
            (loc, key, sym, expanded)
        };
        let (loc0, self_key, sym0, _) = key_of(s.ip, s.mode, false, false);
        let mut u = Uniq {
            event: s.event,
            mode: s.mode,
            thread: (s.pid, s.tid),
            self_key,
            chain_keys: Vec::new(),
            stack: Vec::new(),
            period: s.period,
            samples: 1,
            skip: false,
            hidden,
        };
        // --dso keeps the samples taken in those binaries, as perf marks the sample
        // filtered by its own location: in children mode their callers elsewhere still show.
        if !cfg.dsos.is_empty() {
            u.skip = !loc0.is_some_and(|l| {
                let d = &session.dsos()[l.dso as usize];
                cfg.dsos.iter().any(|x| *x == d.path || x == d.short_name())
            });
        }

        if !u.skip && chain && (want_children || graph_on) {
            if graph_on {
                u.stack.push(frames.intern(self_key, u32::MAX));
            }
            let fs = chain_frames
                .take()
                .unwrap_or_else(|| stacks.frames(session, &s, max));
            for f in fs {
                let (_, _, _, expanded) = key_of(f.addr, f.mode, true, f.unwound);
                for (k, sym) in expanded {
                    if graph_on {
                        u.stack.push(frames.intern(k, sym));
                    }
                    // Every caller gets the period once per sample.
                    if want_children && k != self_key && !u.chain_keys.contains(&k) {
                        u.chain_keys.push(k);
                    }
                }
            }
        }
        if !extra.symbols.is_empty() && !u.skip {
            u.skip = !matches!(&table.cells[sym0 as usize],
                SymCell::Named(_, n) if extra.symbols.contains(n));
        }
        // diff pairs what the filters hide too: those samples make hidden entries.
        if extra.keep_hidden && u.skip {
            u.skip = false;
            u.hidden = true;
        }
        if cacheable {
            distinct.insert(raw_key.as_slice().into(), uniqs.len() as u32);
        }
        uniqs.push(u);
        // Bounded memory: fold what is gathered into the histograms now and then.
        if uniqs.len() >= MAX_DISTINCT {
            fold_distinct(&mut uniqs, &mut hists, graph_on);
            distinct.clear();
        }
    })?;
    fold_distinct(&mut uniqs, &mut hists, graph_on);
    let Parts {
        session, stacks, ..
    } = &replay.parts;
    if hists.is_empty() {
        hists = header.events.iter().map(|e| new_hist(&e.name)).collect();
    }
    if cfg.graph_asked && !header.events.iter().any(|e| e.has_callchain) {
        bail!(
            "-g asks for call graphs, but {} has no call chains (record with -g or --call-graph)",
            cfg.input.display()
        );
    }
    for h in hists.iter_mut() {
        for (k, e) in std::mem::take(&mut h.hidden) {
            match h.entries.get_mut(&k) {
                // perf keeps one entry per key, shown as its first sample was: here
                // shown when any sample was.
                Some(shown) => {
                    shown.self_period += e.self_period;
                    shown.samples += e.samples;
                }
                None => {
                    h.entries.insert(k, Entry { hidden: true, ..e });
                }
            }
        }
    }
    let children = cfg.children.unwrap_or(any_chain) && any_chain;
    let order = cfg.graph.and_then(|g| g.order).unwrap_or(if children {
        graph::Order::Caller
    } else {
        graph::Order::Callee
    });
    if graph_on {
        for h in hists.iter_mut() {
            build_trees(h, &frames, &table.orders, children, order);
        }
    }
    let mut all_rows = Vec::with_capacity(hists.len());
    let name = |id: u32| match &table.cells[id as usize] {
        SymCell::Named(_, n) => n.clone(),
        // printf's %#lx: no 0x for zero.
        SymCell::Addr(_, a) => format!("{a:#x}").replace("0x0", "0"),
    };
    let mut lazy = LazyGraphs::default();
    if extra.lazy_graphs && graph_on {
        lazy.names = (0..table.cells.len() as u32).map(name).collect();
    }
    for h in hists.iter_mut() {
        let mut trees = std::mem::take(&mut h.graphs);
        let h = &*h;
        let rows: Vec<(Vec<Cell>, Entry, RowGraph)> = h
            .entries
            .iter()
            .map(|(k, e)| {
                let cells = cfg
                    .sort
                    .iter()
                    .enumerate()
                    .map(|(i, sk)| match sk {
                        SortKey::Comm => Cell::Text(session.comm_name(k[i] as u32).to_string()),
                        SortKey::Pid => Cell::Thread(
                            k[i] as u32 as i32 as i64,
                            session.comm(k[i] as u32 as i32),
                        ),
                        SortKey::Cpu => Cell::Num(k[i] as u32 as i32 as i64),
                        SortKey::Dso => Cell::Text(match k[i] {
                            0 => "[unknown]".to_string(),
                            d => session.dsos()[(d - 1) as usize].short_name().to_string(),
                        }),
                        SortKey::Sym => Cell::Sym(match &table.cells[k[i] as usize] {
                            SymCell::Addr(_, a) if table.mapless.contains(&(k[i] as u32)) => {
                                SymCell::Addr(e.kernel_sample, *a)
                            }
                            c => c.clone(),
                        }),
                        SortKey::Srcline => Cell::Text(srclines.names.names[k[i] as usize].clone()),
                        SortKey::Parent => Cell::Text(parents.names[k[i] as usize].clone()),
                        SortKey::Trace => Cell::Text(traces.names[k[i] as usize].clone()),
                        // perf: N/A for a sample without one, `unknown` for an id that no
                        // CGROUP record named.
                        SortKey::Cgroup => Cell::Text(match k[i] {
                            0 => "N/A".to_string(),
                            id => session.cgroup_path(id).unwrap_or("unknown").to_string(),
                        }),
                        SortKey::CgroupId => {
                            let (dev, ino) = cgroup_nss[k[i] as usize];
                            Cell::Text(format!("{dev}/0x{ino:x}"))
                        }
                    })
                    .collect();
                let mut graph_text = RowGraph::Text(String::new());
                if let (Some(t), Some(g)) = (trees.remove(k), cfg.graph) {
                    let parent = if children {
                        e.children_period
                    } else {
                        e.self_period
                    };
                    let p = graph::Print {
                        style: g.style,
                        min_percent: g.min_percent,
                        limit: g.limit,
                        // perf leaves out the entry's own symbol at the top of its graph
                        // when sorted by symbol first, but not with -F.
                        skip_first: cfg.fields.is_none() && cfg.sort.first() == Some(&SortKey::Sym),
                    };
                    if extra.lazy_graphs {
                        lazy.print = Some(p);
                        graph_text = RowGraph::Lazy(lazy.trees.len());
                        lazy.trees.push((t, h.total, parent));
                    } else {
                        let mut text = String::new();
                        graph::print(&mut text, &t, h.total, parent, p, &name);
                        graph_text = RowGraph::Text(text);
                    }
                }
                let mut e = e.clone();
                e.thread_comm_len = session.comm(e.thread.1).chars().count();
                (cells, e, graph_text)
            })
            .collect();
        all_rows.push(rows);
    }
    Ok(Histogram {
        hists,
        rows: all_rows,
        children,
        order,
        lost_samples,
        note: stacks.truncation_note(),
        lazy,
    })
}

fn new_hist(name: &str) -> EventHist {
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

/// Ties are broken by the keys, with entries outside any known binary last, as perf's
/// NULL-dso comparison puts them.
pub(crate) fn tie_order(k: &[Cell]) -> Vec<(bool, &Cell)> {
    k.iter()
        .map(|c| (matches!(c, Cell::Text(t) if t == "[unknown]"), c))
        .collect()
}

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
fn caller_above_callee(
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
        let mut threads: Vec<(i32, i32)> = rows[start..end].iter().map(|r| r.1.thread).collect();
        threads.sort_unstable();
        threads.dedup();
        for t in threads {
            let slots: Vec<usize> = (start..end).filter(|&i| rows[i].1.thread == t).collect();
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
fn elided(cfg: &ReportConfig) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    if cfg.filter.comms.len() == 1 && cfg.sort.contains(&SortKey::Comm) {
        v.push(("comm", cfg.filter.comms[0].clone()));
    }
    if cfg.dsos.len() == 1 && cfg.sort.contains(&SortKey::Dso) {
        v.push(("dso", cfg.dsos[0].clone()));
    }
    v
}

fn print_hist(
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
        && rows.iter().any(|(key, _, _)| {
            key.iter()
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
            rows.sort_by(|(ka, a, _), (kb, b, _)| {
                period(b)
                    .cmp(&period(a))
                    .then(b.self_period.cmp(&a.self_period))
                    .then_with(|| tie_order(ka).cmp(&tie_order(kb)))
            });
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
                    .then_with(|| tie_order(ka).cmp(&tie_order(kb)))
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
enum Col {
    Metric(Field, &'static str),
    Key(usize),
}

/// The unresolved addresses among an entry's keys, as signed numbers.
fn unresolved(k: &[Cell]) -> impl Iterator<Item = i64> + '_ {
    k.iter().map(|c| match c {
        Cell::Sym(SymCell::Addr(_, a)) => *a as i64,
        _ => 0,
    })
}

/// How perf's `-F` output sort orders one key's values: by name (a symbol's without its
/// `[k]` level, numbers by value), entries without a binary or symbol last.
fn key_order(c: &Cell) -> (bool, std::borrow::Cow<'_, str>, i64) {
    match c {
        Cell::Text(t) => (t == "[unknown]", t.as_str().into(), 0),
        Cell::Num(n) | Cell::Thread(n, _) => (false, "".into(), *n),
        Cell::Sym(SymCell::Named(_, n)) => (false, n.as_str().into(), 0),
        // perf finds two entries without symbols equal here: the next field decides.
        Cell::Sym(SymCell::Addr(..)) => (true, "".into(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_counts_use_perf_units() {
        assert_eq!(convert_unit(864), "864 ");
        assert_eq!(convert_unit(1000), "1000 ");
        assert_eq!(convert_unit(1756), "1K");
        assert_eq!(convert_unit(43390), "43K");
        assert_eq!(convert_unit(2_500_000), "2M");
    }

    #[test]
    fn sort_lists_parse() {
        assert_eq!(
            SortKey::parse_list("comm,dso,symbol").unwrap(),
            vec![SortKey::Comm, SortKey::Dso, SortKey::Sym]
        );
        assert!(SortKey::parse_list("comm,bogus").is_err());
    }
}
