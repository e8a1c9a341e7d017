//! `rperf top`'s live profile: events opened as `record` opens them, rings drained into
//! memory instead of a file, side-band followed in a [`Session`], addresses symbolized once
//! per (binary, address) and cached, samples added to a decaying histogram that renders as
//! perf top's text frame or as a [`crate::tui::Table`]. `histogram.rs` adds samples
//! (symbols, call trees, decay), `render.rs` lays the entries out, `a` annotates through
//! `crate::annotate::live_function`.
mod histogram;
mod render;
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
