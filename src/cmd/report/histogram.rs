//! The one "sum a file by sort keys": report prints it, diff runs it per file.
use super::*;

/// perf compares call-graph nodes by binary, then symbol start: both packed in one number.
fn pack(dso: u32, a: u64) -> u64 {
    (u64::from(dso.wrapping_add(1)) << 44) | (a & ((1 << 44) - 1))
}

/// [`SymTable::by_addr`]'s mark for a call-chain address in a binary that no symbol covers:
/// its id follows the raw address, not the (binary, offset) slot.
const UNNAMED: u32 = u32::MAX;

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
        // Only read where no sort key shows the symbol (those rows tell it themselves).
        let unresolved = !cfg.sort.contains(&SortKey::Sym)
            && cfg.sort.contains(&SortKey::Dso)
            && session
                .resolve(s.pid, s.ip, s.mode)
                .is_none_or(|l| syms.symbol(session, l).is_none());
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
                    // A call-chain address no symbol covers keeps its raw address, which
                    // differs between processes that load the binary at other places.
                    Some(&UNNAMED) => table.intern(
                        SymCell::Addr(session.dsos()[slot.0 as usize].kernel, addr),
                        pack(slot.0, addr),
                    ),
                    Some(&id) => id,
                    None => {
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
                            // The level of an address outside every mapping is its entry's
                            // (`Entry::kernel_sample`), not the cell's.
                            None if abs => {
                                (SymCell::Addr(s.mode == Mode::Kernel, addr), addr >> 20)
                            }
                            None => (SymCell::Addr(mode == Mode::Kernel, addr), addr >> 20),
                        };
                        let unnamed = abs && loc.is_some() && matches!(cell, SymCell::Addr(..));
                        let id = table.intern(cell, order);
                        if loc.is_none() {
                            table.mapless.insert(id);
                        }
                        table
                            .by_addr
                            .insert(slot, if unnamed { UNNAMED } else { id });
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
                    SortKey::Srcline => u64::from(srclines.id(loc, abs && unwound, || {
                        match loc {
                            Some(l) if abs && unwound => syms
                                .dwarf_srcline(session, l)
                                .unwrap_or_else(|| "??:0".to_string()),
                            Some(l) => syms.srcline(session, l),
                            None => "??:0".to_string(),
                        }
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
            unresolved,
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
            // Each frame's entries, and whether the frame is in a mapping of the kernel
            // (None: in no mapping at all).
            type Resolved = (Option<bool>, Vec<(Key, u32)>);
            let mut resolved: Vec<Resolved> = (fs.iter())
                .map(|f| {
                    let (loc, _, _, expanded) = key_of(f.addr, f.mode, true, f.unwound);
                    (loc.map(|l| session.dsos()[l.dso as usize].kernel), expanded)
                })
                .collect();
            // perf walks the chain in its graph's order (root first in caller order, as
            // `query_caller`) with one location it overwrites frame by frame, starting
            // from the sample's own; a frame outside every mapping keeps the level the
            // frame before it left, and an entry such a frame creates shows that level.
            let mut level_k = s.mode == Mode::Kernel;
            let mut walk = |r: &mut Resolved| {
                level_k = r.0.unwrap_or(level_k);
                r.0 = Some(level_k);
            };
            if query_caller {
                resolved.iter_mut().rev().for_each(&mut walk);
            } else {
                resolved.iter_mut().for_each(&mut walk);
            }
            for (level, expanded) in resolved {
                let level_k = level.unwrap_or_default();
                for (k, sym) in expanded {
                    if graph_on {
                        u.stack.push(frames.intern(k, sym));
                    }
                    // Every caller gets the period once per sample.
                    if want_children && k != self_key && !u.chain_keys.iter().any(|c| c.0 == k) {
                        u.chain_keys.push((k, level_k));
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
    // The browser shows the rows first: a tree is built when its row is opened.
    let lazy_graphs = extra.lazy_graphs && graph_on;
    let ties = if graph_on { table.ties() } else { Vec::new() };
    if let Some(g) = cfg.graph {
        for h in hists.iter_mut() {
            if lazy_graphs {
                entry_depths(h, &frames, children, order);
                continue;
            }
            // graph::print's threshold for `graph`; other styles keep every tree.
            let min = match g.style {
                graph::Style::Graph => (h.total as f64 * g.min_percent / 100.0) as u64,
                _ => 0,
            };
            build_trees(h, &frames, &table.orders, &ties, children, order, min);
        }
    }
    let mut all_rows = Vec::with_capacity(hists.len());
    let name = |id: u32| match &table.cells[id as usize] {
        SymCell::Named(_, n) => n.clone(),
        // printf's %#lx: no 0x for zero.
        SymCell::Addr(_, a) => format!("{a:#x}").replace("0x0", "0"),
    };
    let mut lazy = LazyGraphs::default();
    if lazy_graphs {
        lazy.names = (0..table.cells.len() as u32).map(name).collect();
        lazy.children = children;
        lazy.order = order;
    }
    for (event, h) in hists.iter_mut().enumerate() {
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
                let tree = if lazy_graphs {
                    // An entry has a graph when a chain part is stored under it.
                    (e.max_depth > 0).then(graph::Node::root)
                } else {
                    trees.remove(k)
                };
                if let (Some(t), Some(g)) = (tree, cfg.graph) {
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
                    if lazy_graphs {
                        lazy.print = Some(p);
                        graph_text = RowGraph::Lazy(lazy.rows.len());
                        lazy.rows.push((event, *k, h.total, parent));
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
    if lazy_graphs {
        lazy.frames = frames;
        lazy.orders = table.orders;
        lazy.ties = ties;
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
