//! `rperf top`'s live profile: events opened as `record` opens them, rings drained into
//! memory instead of a file, side-band followed in a [`Session`], addresses symbolized once
//! per (binary, address) and cached, samples added to a decaying histogram that renders as
//! perf top's text frame or as a [`crate::tui::Table`].
use std::fmt::Write as _;
use std::os::fd::OwnedFd;

use anyhow::{Context, Result};
use rustc_hash::FxHashMap;

use crate::callchain::{self, Frame};
use crate::data::read::live::LiveDecoder;
use crate::data::{Mode, Record, Sample};
use crate::record::open::{self as rec, OpenPlan, Opened, RecordConfig};
use crate::report::graph;
use crate::session::{Session, Symbolizer};
use crate::sys::ring::{self, Ring};
use crate::sys::topology;
use crate::target::{resolve_cpus, resolve_tasks};
use crate::tui;

/// A dso id for addresses outside every known mapping.
const NO_DSO: u32 = u32::MAX;
/// perf's default call-chain depth (`kernel.perf_event_max_stack`).
const MAX_STACK: usize = 127;
/// Cached (binary, address) lookups at most: a long session on a busy machine sees many
/// addresses; past this the cache starts over rather than grow without bound.
const MAX_CACHED: usize = 1 << 20;

pub use crate::report::sort::SortKey;

/// The sort keys top can show: report's, less srcline, parent and trace.
const TOP_KEYS: [SortKey; 5] = [
    SortKey::Comm,
    SortKey::Pid,
    SortKey::Dso,
    SortKey::Sym,
    SortKey::Cpu,
];

/// perf's `--sort` list for top (`dso,sym`), naming a key top cannot show in the error.
pub fn parse_sort(s: &str) -> Result<Vec<SortKey>> {
    s.split(',')
        .filter(|k| !k.trim().is_empty())
        .map(|k| match SortKey::parse_list(k).ok().as_deref() {
            Some(&[key]) if TOP_KEYS.contains(&key) => Ok(key),
            _ => anyhow::bail!(
                "unknown --sort key '{}' for top: use comm, pid, dso, sym or cpu",
                k.trim()
            ),
        })
        .collect()
}

/// A key's column title in top (its pid column is not padded as report's).
fn title(k: SortKey) -> &'static str {
    match k {
        SortKey::Pid => "Pid:Command",
        k => k.header(),
    }
}

/// What to show and how, besides what is sampled.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Sort keys (perf top's default: dso, sym).
    pub sort: Vec<SortKey>,
    /// `-K`: no kernel entries.
    pub hide_kernel: bool,
    /// `-U`: no user entries.
    pub hide_user: bool,
    /// `--comm`, `--dso`, `--sym`: only these.
    pub comms: Option<Vec<String>>,
    /// See `comms`.
    pub dsos: Option<Vec<String>>,
    /// See `comms`.
    pub syms: Option<Vec<String>>,
    /// Call graphs sampled and kept.
    pub graph: bool,
    /// `--children`: cumulated callee time per entry (perf's default with -g).
    pub children: bool,
    /// `--percent-limit`.
    pub percent_limit: f64,
}

/// A symbol (or an unresolved address) and where it runs: perf's `[k]`/`[.]` level.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SymName {
    level: char,
    name: String,
}

/// Entry identity: the sort keys' values, the others zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
struct Key {
    /// The event's index: each event keeps its own histogram.
    event: u32,
    comm: u32,
    pid: i32,
    dso: u32,
    sym: u32,
    cpu: u32,
}

/// A stack tree: callers (or callees in children mode) below a symbol.
#[derive(Debug, Clone, Default)]
struct Tree {
    sym: u32,
    hits: u64,
    cumul: u64,
    kids: Vec<Tree>,
}

impl Tree {
    fn add(&mut self, path: &[u32], w: u64) {
        let mut n = self;
        n.cumul += w;
        for &s in path {
            let i = match n.kids.iter().position(|k| k.sym == s) {
                Some(i) => i,
                None => {
                    n.kids.push(Tree {
                        sym: s,
                        ..Tree::default()
                    });
                    n.kids.len() - 1
                }
            };
            n = &mut n.kids[i];
            n.cumul += w;
        }
        n.hits += w;
    }

    /// perf's decay: every weight to 7/8, branches that reach zero dropped.
    fn decay(&mut self) {
        self.hits = self.hits * 7 / 8;
        self.cumul = self.cumul * 7 / 8;
        self.kids.retain_mut(|k| {
            k.decay();
            k.cumul > 0
        });
    }

    /// Every path of the tree with the weight that ends there, for report's printer.
    fn paths(&self, prefix: &mut Vec<u32>, out: &mut graph::Node) {
        if self.hits > 0 && !prefix.is_empty() {
            let frames: Vec<((u64, u64), u32)> =
                prefix.iter().map(|&s| ((u64::from(s), 0), s)).collect();
            out.add(&frames, self.hits);
        }
        for k in &self.kids {
            prefix.push(k.sym);
            k.paths(prefix, out);
            prefix.pop();
        }
    }
}

/// One histogram entry.
#[derive(Debug, Clone, Default)]
struct Entry {
    key: Key,
    comm: u32,
    pid: i32,
    dso: u32,
    sym: u32,
    cpu: u32,
    own: u64,
    children: u64,
    tree: Tree,
}

/// What was seen since the last frame, for perf top's `PerfTop:` line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Interval {
    /// Samples.
    pub samples: u64,
    /// Of them in the kernel.
    pub kernel: u64,
    /// Of them with an exact ip.
    pub exact: u64,
    /// Records the kernel dropped.
    pub lost: u64,
}

/// The live session: open events, rings, side-band, symbols and the histogram.
pub struct Top {
    opened: Vec<Opened>,
    rings: Vec<(Ring, usize, usize)>,
    decoder: LiveDecoder,
    session: Session,
    symbolizer: Symbolizer,
    buf: Vec<u8>,
    cache: FxHashMap<(u32, u64), (u32, u32)>,
    syms: Vec<SymName>,
    sym_ids: FxHashMap<SymName, u32>,
    entries: Vec<Entry>,
    index: FxHashMap<Key, usize>,
    /// The view's settings.
    pub view: View,
    /// Since the last frame.
    pub interval: Interval,
    /// Samples since the start.
    pub samples: u64,
    /// Records lost since the start.
    pub lost_total: u64,
    /// The sampled event's name (`cpu-clock:pppH`).
    pub event: String,
    /// `-F` in effect, or the period with `-c`.
    pub rate: (Option<u64>, Option<u64>),
    /// How perf top's header names the target (`(all, 2 CPUs)`).
    pub target: String,
    /// The tasks watched with -p/-t (none with -a/-C).
    watched: Vec<i32>,
    /// Every event's name, in `-e` order.
    pub events: Vec<String>,
    /// The event whose histogram is shown (perf top's TAB in the browser).
    pub active: usize,
    /// Samples per event since the start.
    samples_by: Vec<u64>,
    /// Samples and period per (event, binary, address) of the entries' own frames, for
    /// annotation
    /// (kept only when [`Top::track_addresses`] is set, as perf top does in its browser).
    addr_hits: FxHashMap<(u32, u32, u64), (u64, u64)>,
    /// See `addr_hits`.
    pub track_addresses: bool,
    /// The event of the sample being added.
    cur_event: u32,
}

/// Kernel functions a CPU idles in: perf top leaves their samples out of the table (an
/// idle machine would otherwise show only them).
fn is_idle(name: &str) -> bool {
    const IDLE: [&str; 16] = [
        "acpi_idle_do_entry",
        "acpi_processor_ffh_cstate_enter",
        "arch_cpu_idle",
        "cpu_idle",
        "cpu_startup_entry",
        "default_idle",
        "do_idle",
        "enter_idle",
        "exit_idle",
        "idle_cpu",
        "intel_idle",
        "intel_idle_irq",
        "mwait_idle",
        "native_safe_halt",
        "poll_idle",
        "pv_native_safe_halt",
    ];
    IDLE.contains(&name) || name.starts_with("mwait_idle_with_hints")
}

/// perf top's target text in its header: `(all, 2 CPUs)`, `(target_pid: 12, 2 CPUs)`.
fn target_text(t: &crate::target::Target, ncpus: usize) -> String {
    let mut s = String::from(" (");
    if let Some(p) = &t.pid_text {
        let _ = write!(s, "target_pid: {p}");
    } else if let Some(p) = &t.tid_text {
        let _ = write!(s, "target_tid: {p}");
    } else {
        s.push_str("all");
    }
    if let Some(c) = &t.cpu_list {
        let plural = if ncpus > 1 { "s" } else { "" };
        let _ = write!(s, ", CPU{plural}: {c})");
    } else if t.tid_text.is_some() || t.pid_text.is_some() {
        s.push(')');
    } else {
        let plural = if ncpus > 1 { "s" } else { "" };
        let _ = write!(s, ", {ncpus} CPU{plural})");
    }
    s
}

impl Top {
    /// Opens the events of `cfg` on its target (every CPU when none is given) and reads
    /// the processes already running.
    pub fn open(cfg: &RecordConfig, view: View) -> Result<Top> {
        let mut t = cfg.target.clone();
        if t.pids.is_empty() && t.tids.is_empty() && t.cpu_list.is_none() {
            t.system_wide = true;
        }
        let system_wide = t.system_wide || t.cpu_list.is_some();
        let evs = rec::events_to_record(cfg)?;
        let (freq, period) = rec::sampling_rate(cfg)?;
        let cpus = match resolve_cpus(&t)? {
            Some(c) => c,
            None => topology::online_cpus().context("reading the online CPU list")?,
        };
        let tasks: Vec<i32> = if system_wide {
            vec![-1]
        } else {
            resolve_tasks(&t)?.into_iter().map(|(tid, _)| tid).collect()
        };
        let how = OpenPlan {
            freq,
            period,
            system_wide,
            has_cmd: false,
            timer_only: false,
        };
        let opened = rec::open_events(cfg, &evs, how, &cpus, &tasks)?;
        let pages = (512 * 1024 / ring::page_size()).max(1);
        let pages = cfg.mmap_pages.unwrap_or(pages);
        let rings = rec::map_rings(&opened, cpus.len(), tasks.len(), pages, false, pages)?;
        let described: Vec<_> = opened
            .iter()
            .map(|o| (o.attr, o.ev.name.clone(), o.ids.clone()))
            .collect();
        let decoder = LiveDecoder::new(&described)
            .ok_or_else(|| anyhow::anyhow!("cannot decode the samples of these events"))?;
        let trailer = crate::data::write::encode::Trailer {
            sample_type: opened[0].attr.sample_type,
            id: opened[0].ids[0],
        };
        let watched = if system_wide {
            Vec::new()
        } else {
            t.pids.iter().chain(&t.tids).copied().collect()
        };
        let events: Vec<String> = opened.iter().map(|o| o.ev.name.clone()).collect();
        let mut top = Top {
            samples_by: vec![0; events.len()],
            events,
            active: 0,
            addr_hits: FxHashMap::default(),
            track_addresses: false,
            cur_event: 0,
            event: opened[0].ev.name.clone(),
            rate: (freq, period),
            target: target_text(&t, cpus.len()),
            opened,
            rings,
            decoder,
            session: Session::new(),
            symbolizer: Symbolizer::new(None),
            buf: Vec::with_capacity(1 << 20),
            cache: FxHashMap::default(),
            syms: Vec::new(),
            sym_ids: FxHashMap::default(),
            entries: Vec::new(),
            index: FxHashMap::default(),
            view,
            interval: Interval::default(),
            samples: 0,
            lost_total: 0,
            watched,
        };
        let side = rec::synthesize(&t, trailer, system_wide, true, None);
        top.feed(&side);
        for o in &top.opened {
            for fd in &o.fds {
                crate::sys::counter::enable(fd).context("enabling events")?;
            }
        }
        Ok(top)
    }

    /// Whether every process or thread watched with -p/-t is gone.
    pub fn target_gone(&self) -> bool {
        !self.watched.is_empty() && !self.watched.iter().any(|&p| topology::is_alive(p))
    }

    /// Reads everything now in the rings into the histogram.
    pub fn drain(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        for (r, _, _) in &mut self.rings {
            r.drain_into(&mut buf);
        }
        self.feed(&buf);
        self.buf = buf;
    }

    /// Waits up to `ms` for the rings to fill, then drains them.
    pub fn wait_and_drain(&mut self, ms: i32) {
        let fds: Vec<&OwnedFd> = self
            .rings
            .iter()
            .map(|(_, e, k)| &self.opened[*e].fds[*k])
            .collect();
        let _ = ring::poll(&fds, ms);
        self.drain();
    }

    /// Side-band first, then samples: a process's MMAP may sit in another CPU's ring than
    /// its samples.
    fn feed(&mut self, buf: &[u8]) {
        use crate::abi::kind::SAMPLE;
        let mut samples = Vec::new();
        crate::data::write::encode::for_each_record(buf, |ty, misc, rec| {
            if ty == SAMPLE {
                samples.push((
                    rec.as_ptr() as usize - buf.as_ptr() as usize,
                    rec.len(),
                    misc,
                ));
                return;
            }
            let session = &mut self.session;
            let lost = &mut self.interval.lost;
            let lost_total = &mut self.lost_total;
            self.decoder.decode(rec, |r| {
                if let Record::Lost { count } = r {
                    *lost += count;
                    *lost_total += count;
                }
                session.apply(&r);
            });
        });
        for (at, len, misc) in samples {
            let rec = &buf[at..at + len];
            let mut owned: Option<(Sample<'static>, Vec<u64>)> = None;
            self.decoder.decode(rec, |r| {
                if let Record::Sample(s) = r {
                    let chain = s.callchain.map(<[u64]>::to_vec).unwrap_or_default();
                    owned = Some((s.with_parts(None, None, None), chain));
                }
            });
            if let Some((s, chain)) = owned {
                let exact = misc & crate::abi::misc::EXACT_IP != 0;
                self.sample(&s, &chain, exact);
            }
        }
    }

    fn intern(&mut self, level: char, name: String) -> u32 {
        let k = SymName { level, name };
        if let Some(&id) = self.sym_ids.get(&k) {
            return id;
        }
        let id = self.syms.len() as u32;
        self.syms.push(k.clone());
        self.sym_ids.insert(k, id);
        id
    }

    /// (dso, symbol, map-relative address) of a frame, looked up once per binary and
    /// address.
    fn resolve(&mut self, pid: i32, f: Frame) -> (u32, u32, u64) {
        let level = match f.mode {
            Mode::Kernel => 'k',
            Mode::User => '.',
            Mode::Other => 'H',
        };
        let loc = self.session.resolve(pid, f.addr, f.mode);
        let ck = match loc {
            Some(l) => (l.dso, l.rel),
            None => (NO_DSO, f.addr),
        };
        if let Some(&(d, sym)) = self.cache.get(&ck) {
            return (d, sym, ck.1);
        }
        let name = match loc {
            Some(l) => match self.symbolizer.symbol(&self.session, l) {
                Some(s) => s.name,
                None => format!("0x{:016x}", l.rel),
            },
            None => format!("0x{:016x}", f.addr),
        };
        let v = (ck.0, self.intern(level, name));
        if self.cache.len() >= MAX_CACHED {
            self.cache.clear();
        }
        self.cache.insert(ck, v);
        (v.0, v.1, ck.1)
    }

    fn dso_name(&self, dso: u32) -> &str {
        match self.session.dsos().get(dso as usize) {
            None => "[unknown]",
            Some(d) if d.path == "[kernel.kallsyms]" => "[kernel]",
            Some(d) => d.short_name(),
        }
    }

    fn sample(&mut self, s: &Sample, chain: &[u64], exact: bool) {
        self.samples += 1;
        if let Some(n) = self.samples_by.get_mut(s.event) {
            *n += 1;
        }
        self.interval.samples += 1;
        if s.mode == Mode::Kernel {
            self.interval.kernel += 1;
        }
        if exact {
            self.interval.exact += 1;
        }
        if (self.view.hide_kernel && s.mode == Mode::Kernel)
            || (self.view.hide_user && s.mode != Mode::Kernel)
        {
            return;
        }
        let with_chain = s.with_parts(
            (self.view.graph && !chain.is_empty()).then_some(chain),
            None,
            None,
        );
        let frames = if with_chain.callchain.is_some() {
            callchain::frames(&with_chain, MAX_STACK)
        } else {
            vec![Frame {
                addr: s.ip,
                mode: s.mode,
                unwound: false,
            }]
        };
        if frames.is_empty() {
            return;
        }
        // The command filter before any symbol lookup: binaries of other commands are
        // never loaded.
        let comm = self.session.comm_id(s.tid);
        if let Some(c) = &self.view.comms {
            if !c.iter().any(|c| c == self.session.comm_name(comm)) {
                return;
            }
        }
        let full: Vec<(u32, u32, u64)> = frames.iter().map(|&f| self.resolve(s.pid, f)).collect();
        let resolved: Vec<(u32, u32)> = full.iter().map(|r| (r.0, r.1)).collect();
        let (dso, sym) = resolved[0];
        if s.mode == Mode::Kernel && is_idle(&self.syms[sym as usize].name) {
            return;
        }
        if let Some(d) = &self.view.dsos {
            let name = self.dso_name(dso);
            let full = self
                .session
                .dsos()
                .get(dso as usize)
                .map(|d| d.path.as_str());
            if !d.iter().any(|d| d == name || Some(d.as_str()) == full) {
                return;
            }
        }
        if let Some(f) = &self.view.syms {
            if !f.iter().any(|f| *f == self.syms[sym as usize].name) {
                return;
            }
        }
        let w = s.period;
        if self.track_addresses && dso != NO_DSO {
            let h = self
                .addr_hits
                .entry((s.event as u32, dso, full[0].2))
                .or_default();
            h.0 += 1;
            h.1 += w;
        }
        self.cur_event = s.event as u32;
        let syms: Vec<u32> = resolved.iter().map(|r| r.1).collect();
        let cpu = s.cpu.unwrap_or(0);
        self.add(comm, s.pid, resolved[0], cpu, w, true, &syms);
        if self.view.graph && self.view.children {
            // Every caller gets the sample's weight once as children time.
            let mut seen = vec![sym];
            for (i, &(d, f)) in resolved.iter().enumerate().skip(1) {
                if seen.contains(&f) {
                    continue;
                }
                seen.push(f);
                let mut path: Vec<u32> = syms[..=i].to_vec();
                path.reverse();
                self.add(comm, s.pid, (d, f), cpu, w, false, &path);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        comm: u32,
        pid: i32,
        (dso, sym): (u32, u32),
        cpu: u32,
        w: u64,
        own: bool,
        path: &[u32],
    ) {
        let mut key = Key {
            event: self.cur_event,
            ..Key::default()
        };
        for k in &self.view.sort {
            match k {
                SortKey::Comm => key.comm = comm,
                SortKey::Pid => key.pid = pid,
                SortKey::Dso => key.dso = dso,
                SortKey::Sym => key.sym = sym,
                SortKey::Cpu => key.cpu = cpu,
                // parse_sort never gives these.
                SortKey::Srcline
                | SortKey::Parent
                | SortKey::Trace
                | SortKey::Cgroup
                | SortKey::CgroupId => {}
            }
        }
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.entries.push(Entry {
                    key,
                    comm,
                    pid,
                    dso,
                    sym,
                    cpu,
                    ..Entry::default()
                });
                self.index.insert(key, self.entries.len() - 1);
                self.entries.len() - 1
            }
        };
        let e = &mut self.entries[i];
        e.children += w;
        if own {
            e.own += w;
            if self.view.graph && !self.view.children {
                e.tree.add(path, w);
            }
        }
        if self.view.graph && self.view.children {
            // Children mode: the callees below this entry, from it down to the sample.
            e.tree.add(if own { &path[..1] } else { path }, w);
        }
    }

    /// Ends a refresh interval: perf's decay (7/8 of every weight, empty entries dropped)
    /// or, with `zero`, a fresh start.
    pub fn end_interval(&mut self, zero: bool) {
        self.interval = Interval::default();
        if zero {
            self.entries.clear();
        } else {
            self.entries.retain_mut(|e| {
                e.own = e.own * 7 / 8;
                e.children = e.children * 7 / 8;
                e.tree.decay();
                e.own > 0 || e.children > 0
            });
        }
        self.index = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.key, i))
            .collect();
        if zero {
            self.addr_hits.clear();
        } else {
            self.addr_hits.retain(|_, (n, w)| {
                *n = *n * 7 / 8;
                *w = *w * 7 / 8;
                *n > 0
            });
        }
    }

    /// Shows the next event's histogram (`back`: the previous one); false with one event.
    pub fn switch_event(&mut self, back: bool) -> bool {
        let n = self.events.len();
        if n < 2 {
            return false;
        }
        self.active = if back {
            (self.active + n - 1) % n
        } else {
            (self.active + 1) % n
        };
        self.event = self.events[self.active].clone();
        true
    }

    /// The entries of the event shown.
    fn shown(&self) -> impl Iterator<Item = &Entry> {
        let active = self.active as u32;
        self.entries.iter().filter(move |e| e.key.event == active)
    }

    /// The annotation of the function of the entry the table row `key` stands for, as
    /// perf annotate lays it out, with the samples of its instructions so far.
    pub fn annotate(&mut self, key: &str) -> std::result::Result<String, String> {
        if !self.view.sort.contains(&SortKey::Sym) {
            return Err("annotation needs sym among the --sort keys".into());
        }
        let e = self
            .shown()
            .find(|e| format!("{:?}", e.key) == key)
            .ok_or("that entry is gone: pick it again")?;
        let (dso, sym, event) = (e.dso, e.sym, e.key.event);
        let name = self.syms[sym as usize].name.clone();
        let Some(d) = self.session.dsos().get(dso as usize) else {
            return Err(format!("{name} lies in no known binary"));
        };
        let (path, kernel) = (d.path.clone(), d.kernel);
        // The function's own addresses with their samples, as offsets from its start.
        let mut start: Option<u64> = None;
        let mut hits: Vec<(u64, u64, u64)> = Vec::new();
        let addrs: Vec<(u64, (u64, u64))> = self
            .addr_hits
            .iter()
            .filter(|((ev, d, _), _)| *ev == event && *d == dso)
            .map(|((_, _, rel), w)| (*rel, *w))
            .collect();
        for (rel, (n, w)) in addrs {
            if self.cache.get(&(dso, rel)).is_some_and(|&(_, s)| s != sym) {
                continue;
            }
            let loc = crate::session::Location { dso, rel };
            let Some(found) = self.symbolizer.symbol(&self.session, loc) else {
                continue;
            };
            if found.name != name {
                continue;
            }
            let at = if kernel {
                rel
            } else {
                match self.symbolizer.vaddr(&self.session, loc) {
                    Some(v) => v,
                    None => continue,
                }
            };
            start.get_or_insert(at - found.offset);
            hits.push((found.offset, n, w));
        }
        let Some(start) = start else {
            return Err(format!(
                "no samples of {name} kept for annotation yet: wait for the next refresh"
            ));
        };
        crate::annotate::live_function(
            &self.symbolizer,
            &path,
            kernel,
            start,
            &name,
            &hits,
            &self.events[self.active],
        )
    }

    /// The total weight the percentages are of.
    fn total(&self) -> u64 {
        self.shown().map(|e| e.own).sum()
    }

    fn children_mode(&self) -> bool {
        self.view.graph && self.view.children
    }

    /// Entries in display order with their percentages, `--percent-limit` applied.
    fn sorted(&self) -> Vec<&Entry> {
        let total = self.total().max(1) as f64;
        let cm = self.children_mode();
        let weight = |e: &Entry| if cm { e.children } else { e.own };
        let mut v: Vec<&Entry> = self
            .shown()
            .filter(|e| weight(e) as f64 * 100.0 / total >= self.view.percent_limit)
            .filter(|e| weight(e) > 0)
            .collect();
        v.sort_by(|a, b| {
            weight(b).cmp(&weight(a)).then_with(|| {
                self.syms[a.sym as usize]
                    .name
                    .cmp(&self.syms[b.sym as usize].name)
            })
        });
        v
    }

    fn columns(&self) -> Vec<tui::Column> {
        let mut c = Vec::new();
        if self.children_mode() {
            c.push(tui::Column {
                title: "Children".into(),
                right: true,
            });
            c.push(tui::Column {
                title: "Self".into(),
                right: true,
            });
        } else {
            c.push(tui::Column {
                title: "Overhead".into(),
                right: true,
            });
        }
        for k in &self.view.sort {
            c.push(tui::Column {
                title: title(*k).into(),
                right: *k == SortKey::Cpu,
            });
        }
        c
    }

    fn cells(&self, e: &Entry, total: f64) -> Vec<String> {
        let pct = |w: u64| format!("{:.2}%", w as f64 * 100.0 / total);
        let mut c = Vec::new();
        if self.children_mode() {
            c.push(pct(e.children));
        }
        c.push(pct(e.own));
        for k in &self.view.sort {
            c.push(match k {
                SortKey::Comm => self.session.comm_name(e.comm).to_string(),
                SortKey::Pid => format!("{:>7}:{}", e.pid, self.session.comm_name(e.comm)),
                SortKey::Dso => self.dso_name(e.dso).to_string(),
                SortKey::Sym => {
                    let s = &self.syms[e.sym as usize];
                    format!("[{}] {}", s.level, s.name)
                }
                SortKey::Cpu => format!("{:03}", e.cpu),
                SortKey::Srcline
                | SortKey::Parent
                | SortKey::Trace
                | SortKey::Cgroup
                | SortKey::CgroupId => String::new(),
            });
        }
        c
    }

    fn nodes(&self, t: &Tree, total: f64, depth: usize) -> Vec<tui::Node> {
        // perf's default threshold: branches under 0.5% of the total are not shown.
        let mut kids: Vec<&Tree> = t
            .kids
            .iter()
            .filter(|k| k.cumul as f64 * 100.0 / total >= 0.5)
            .collect();
        kids.sort_by_key(|k| std::cmp::Reverse(k.cumul));
        kids.into_iter()
            .map(|k| tui::Node {
                percent: k.cumul as f64 * 100.0 / total,
                name: self.syms[k.sym as usize].name.clone(),
                children: if depth < 64 {
                    self.nodes(k, total, depth + 1)
                } else {
                    Vec::new()
                },
            })
            .collect()
    }

    /// The rate part of perf's headers: `4000Hz` or the period.
    fn rate_text(&self, space: bool) -> String {
        match self.rate {
            (_, Some(p)) => format!("{p}"),
            (Some(f), None) if space => format!("{f} Hz"),
            (Some(f), None) => format!("{f}Hz"),
            (None, None) => String::new(),
        }
    }

    /// The browser's table: perf top's TUI title and the rows.
    pub fn table(&self, limit: Option<usize>) -> tui::Table {
        let total = self.total().max(1) as f64;
        let mut rows = Vec::new();
        for e in self.sorted().into_iter().take(limit.unwrap_or(usize::MAX)) {
            let s = &self.syms[e.sym as usize];
            rows.push(tui::Row {
                cells: self.cells(e, total),
                dso: self.dso_name(e.dso).to_string(),
                thread: format!("{} {}", self.session.comm_name(e.comm), e.pid),
                symbol: s.name.clone(),
                key: format!("{:?}", e.key),
                graph: if self.view.graph {
                    // The entry's own symbol heads its tree: with sym among the keys it
                    // repeats the row, and perf leaves it out.
                    let t = match e.tree.kids.as_slice() {
                        [only] if only.sym == e.sym && self.view.sort.contains(&SortKey::Sym) => {
                            only
                        }
                        _ => &e.tree,
                    };
                    self.nodes(t, total, 0)
                } else {
                    Vec::new()
                },
                ..Default::default()
            });
        }
        let freq = match self.rate {
            (Some(_), None) => format!(" {},", self.rate_text(true)),
            _ => String::new(),
        };
        tui::Table {
            title: format!(
                "Samples: {} of event '{}',{freq} Event count (approx.): {} lost: {}/{} drop: 0/0",
                crate::report::convert_unit(self.samples_by.get(self.active).copied().unwrap_or(0)),
                self.event,
                self.total(),
                self.interval.lost,
                self.lost_total,
            ),
            columns: self.columns(),
            rows,
        }
    }

    /// perf top's `PerfTop:` line for a frame that covered `secs` seconds.
    pub fn stdio_header(&self, secs: f64) -> String {
        let i = self.interval;
        let per_sec = i.samples as f64 / secs;
        let kernel = if i.samples > 0 {
            100.0 * i.kernel as f64 / i.samples as f64
        } else {
            0.0
        };
        let exact = if i.samples > 0 {
            100.0 * i.exact as f64 / i.samples as f64
        } else {
            0.0
        };
        let rate = if self.opened.len() == 1 {
            format!("{} ", self.rate_text(false))
        } else {
            String::new()
        };
        format!(
            "   PerfTop:{per_sec:8.0} irqs/sec  kernel:{kernel:4.1}%  exact: {exact:4.1}% lost: {}/{} drop: 0/0 [{rate}{}], {}",
            i.lost, self.lost_total, self.event, self.target
        )
    }

    /// perf top's text frame: clear screen, header, dashes, blank line, the rows (and call
    /// graphs with -g), each cut to `width - 1` columns; `rows` entries at most.
    pub fn stdio_frame(&self, secs: f64, width: usize, rows: usize) -> String {
        let w = width.saturating_sub(1).max(1);
        let mut out = String::from("\x1b[H\x1b[2J\n");
        let _ = writeln!(out, "{}", self.stdio_header(secs));
        let _ = writeln!(out, "{}", "-".repeat(w));
        out.push('\n');
        let t = self.table(Some(rows));
        let widths = tui::widths(&t.columns, t.rows.iter());
        let total = self.total().max(1);
        let entries = self.sorted();
        for (r, e) in t.rows.iter().zip(entries) {
            let line = format!("  {}", tui::layout(&r.cells, &widths, &t.columns));
            let _ = writeln!(out, "{}", line.chars().take(w).collect::<String>());
            if self.view.graph {
                let mut g = graph::Node::root();
                e.tree.paths(&mut Vec::new(), &mut g);
                let p = graph::Print {
                    style: graph::Style::Graph,
                    min_percent: 0.5,
                    limit: 0,
                    skip_first: self.view.sort.contains(&SortKey::Sym),
                };
                let parent = if self.children_mode() {
                    e.children
                } else {
                    e.own
                };
                graph::print(&mut out, &g, total, parent, p, &|id| {
                    self.syms[id as usize].name.clone()
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_parse_and_name_the_unknown() {
        assert_eq!(parse_sort("dso,sym").unwrap(), [SortKey::Dso, SortKey::Sym]);
        let e = parse_sort("comm,bogus").unwrap_err().to_string();
        assert!(e.contains("'bogus'"), "{e}");
    }

    #[test]
    fn decay_keeps_seven_eighths_and_drops_empty_branches() {
        let mut t = Tree::default();
        t.add(&[1, 2], 16);
        t.add(&[3], 1);
        t.decay();
        assert_eq!(t.cumul, 14);
        assert_eq!(t.kids.len(), 1);
        assert_eq!(t.kids[0].kids[0].hits, 14);
    }

    #[test]
    fn header_target_reads_as_perf_top() {
        let mut t = crate::target::Target {
            system_wide: true,
            ..Default::default()
        };
        assert_eq!(target_text(&t, 2), " (all, 2 CPUs)");
        t.cpu_list = Some("1".into());
        assert_eq!(target_text(&t, 1), " (all, CPU: 1)");
        t.cpu_list = None;
        t.pid_text = Some("42".into());
        assert_eq!(target_text(&t, 4), " (target_pid: 42)");
        assert!(is_idle("intel_idle") && !is_idle("main"));
    }
}
