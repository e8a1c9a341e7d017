//! `stat --serve`: the counters' families and labels, handed to `cmd::serve`'s HTTP side,
//! which reads every counter at each scrape; and, with `-p`, following each target across
//! restarts (a new process running the same executable is counted from zero under its own
//! `pid` label, which Prometheus' `rate()` and `increase()` take as a new series, while the
//! other targets keep counting).
use std::path::PathBuf;
use std::sync::{OnceLock, RwLock};

use super::*;
use crate::stat::prometheus::{Family, Layout};

/// Counters opened together: with `-p` followed, one target process; else everything.
struct Part {
    plan: Plan,
    counters: Counters,
    /// The followed process and the executable its restart runs.
    follows: Option<(i32, PathBuf)>,
    /// When these counters started (seconds since the epoch): OpenMetrics' `_created`.
    created: f64,
}

/// What a scrape reads: every part's counters and their families, whose slot indices run
/// over the parts' slots back to back.
struct Served {
    parts: Vec<Part>,
    /// `(part, its slot)` of each slot of the families.
    slots: Vec<(usize, usize)>,
    fams: Vec<Family>,
    /// The page of `fams` without its numbers, in the text format.
    text: Layout,
    /// The same in OpenMetrics, made at the first scrape that asks for it.
    openmetrics: OnceLock<Layout>,
}

impl Served {
    fn new(parts: Vec<Part>, cfg: &StatConfig, events: &[Event], cgroups: &Cgroups) -> Served {
        let slots: Vec<(usize, usize)> = parts
            .iter()
            .enumerate()
            .flat_map(|(p, part)| (0..part.plan.slots.len()).map(move |s| (p, s)))
            .collect();
        let all: Vec<Slot> = parts.iter().flat_map(|p| p.plan.slots.clone()).collect();
        let support = parts
            .iter()
            .find(|p| !p.plan.slots.is_empty())
            .map_or(&[][..], |p| &p.counters.support[..]);
        let fams = families_of(cfg, events, &all, support, cgroups);
        Served {
            parts,
            slots,
            text: Layout::new(&fams, None),
            fams,
            openmetrics: OnceLock::new(),
        }
    }

    fn openmetrics(&self) -> &Layout {
        self.openmetrics.get_or_init(|| {
            // A series sums slots of one part (its labels name the process): that part's
            // start is the series'.
            let created: Vec<f64> = self
                .fams
                .iter()
                .flat_map(|f| &f.series)
                .map(|s| {
                    s.sources
                        .first()
                        .map_or(0.0, |&(_, slot)| self.parts[self.slots[slot].0].created)
                })
                .collect();
            Layout::new(&self.fams, Some(&created))
        })
    }
}

/// `--serve`: answers scrapes until the command ends, or without one until Ctrl-C/SIGTERM.
/// Each series is one event over the slots that share its labels: CPUs with `-A`,
/// processes (threads summed) with `-p`, threads with `--per-thread`, else everything.
/// With `-p` (and neither `-t` nor `--per-thread`) each target is followed on its own:
/// once it is gone the page keeps its last counts until a process running its executable
/// (and not counted already) appears, whose counters then replace its own; the other
/// targets' series go on. Otherwise serving ends when every `-p`/`-t` task is gone.
/// `plan` and `counters` are the ones counting when serving ends.
#[allow(clippy::too_many_arguments)]
pub(super) fn serve(
    bound: crate::cmd::serve::Bound,
    cfg: &StatConfig,
    events: &[Event],
    plan: &mut Plan,
    counters: &mut Counters,
    cgroups: &Cgroups,
    work: Option<&Workload>,
) -> Result<Option<workload::Exit>> {
    let follow = work.is_none()
        && !cfg.target.pids.is_empty()
        && cfg.target.tids.is_empty()
        && cfg.aggregation != Aggregation::PerThread;
    let whole = |plan, counters, follows| Part {
        plan,
        counters,
        follows,
        created: now(),
    };
    let parts: Vec<Part> = match &cfg.target.pids[..] {
        _ if !follow => vec![whole(std::mem::take(plan), std::mem::take(counters), None)],
        &[pid] => vec![whole(
            std::mem::take(plan),
            std::mem::take(counters),
            exe_of(pid).map(|x| (pid, x)),
        )],
        // Each target gets counters of its own, so that one can be replaced alone.
        pids => {
            let parts = pids
                .iter()
                .map(|&pid| {
                    let (plan, counters) = open_on(cfg, events, cgroups, &[pid])
                        .with_context(|| format!("counting process {pid}"))?;
                    Ok(whole(plan, counters, exe_of(pid).map(|x| (pid, x))))
                })
                .collect::<Result<Vec<_>>>()?;
            *plan = Plan::default();
            *counters = Counters::default();
            parts
        }
    };
    // Without an executable to look for (one we may not read), serving ends with them.
    let follow = parts.iter().any(|p| p.follows.is_some());
    let state = RwLock::new(Served::new(parts, cfg, events, cgroups));
    eprintln!(
        "rperf stat: serving {} counter families at http://{}/metrics (Ctrl-C stops)",
        state.read().expect("not shared yet").fams.len(),
        bound.addr
    );
    let page = |out: &mut String, om: bool| -> Result<()> {
        let st = state
            .read()
            .map_err(|_| anyhow::anyhow!("a scrape failed"))?;
        let counts = st
            .parts
            .iter()
            .map(|p| read_counts(&p.counters))
            .collect::<Result<Vec<_>>>()?;
        let layout = if om { st.openmetrics() } else { &st.text };
        crate::stat::prometheus::render(out, &st.fams, layout, |e, s| {
            let &(p, s) = st.slots.get(s)?;
            counts[p].get(e).and_then(|r| r.get(s)).copied().flatten()
        });
        Ok(())
    };
    let mut exit = None;
    let mut failed = None;
    crate::cmd::serve::run(bound, &page, || match work {
        Some(w) => match w.wait() {
            Ok(e) => exit = Some(e),
            Err(e) => failed = Some(e),
        },
        None if !follow => {
            let st = state.read().expect("no scrape panics holding the lock");
            wait_for_stop(&st.parts[0].plan, &cfg.target);
        }
        None => follow_each(cfg, events, cgroups, &state),
    })?;
    let st = state
        .into_inner()
        .expect("no scrape panics holding the lock");
    // What goes on counting ends in one plan for stat's own summary.
    for part in st.parts {
        if part.plan.slots.is_empty() {
            continue;
        }
        if plan.slots.is_empty() {
            *plan = part.plan;
            *counters = part.counters;
        } else {
            plan.append(part.plan);
            counters.append(part.counters);
        }
    }
    if let Some(e) = failed {
        return Err(anyhow::Error::new(e).context("waiting for the command"));
    }
    Ok(exit)
}

/// Until Ctrl-C/SIGTERM: each followed target that is gone is replaced, once a process
/// runs its executable that no part counts, by counters on that process (all of them:
/// a service may start as several processes), enabled.
fn follow_each(cfg: &StatConfig, events: &[Event], cgroups: &Cgroups, state: &RwLock<Served>) {
    let me = std::process::id() as i32;
    let mut told = std::collections::HashSet::new();
    while signals::received().is_none() {
        let gone: Vec<(usize, PathBuf)> = {
            let st = state.read().expect("no scrape panics holding the lock");
            st.parts
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    let (pid, exe) = p.follows.as_ref()?;
                    (!topology::is_alive(*pid)).then(|| (i, exe.clone()))
                })
                .collect()
        };
        for (i, exe) in gone {
            let st = state.read().expect("no scrape panics holding the lock");
            let (old, _) = st.parts[i].follows.clone().expect("a followed part");
            if told.insert(old) {
                eprintln!(
                    "rperf stat: process {old} is gone; serving its last counts until a process runs {}",
                    exe.display()
                );
            }
            let counted: Vec<i32> = st
                .parts
                .iter()
                .filter_map(|p| p.follows.as_ref().map(|f| f.0))
                .collect();
            drop(st);
            let pids: Vec<i32> = std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|&p| p != me && !counted.contains(&p))
                .filter(|&p| exe_of(p).is_some_and(|x| x == exe))
                .collect();
            if pids.is_empty() {
                continue;
            }
            // A process that ends meanwhile is looked for again.
            let Ok((plan, counters)) = open_on(cfg, events, cgroups, &pids) else {
                continue;
            };
            let names: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
            eprintln!("rperf stat: counting process {}", names.join(","));
            let mut st = state.write().expect("no scrape panics holding the lock");
            let mut parts = std::mem::take(&mut st.parts);
            parts[i] = Part {
                plan,
                counters,
                follows: Some((pids[0], exe)),
                created: now(),
            };
            *st = Served::new(parts, cfg, events, cgroups);
        }
        workload::sleep_interruptible(Duration::from_millis(100));
    }
}

/// Counters on processes `pids`, enabled.
fn open_on(
    cfg: &StatConfig,
    events: &[Event],
    cgroups: &Cgroups,
    pids: &[i32],
) -> Result<(Plan, Counters)> {
    let mut c = cfg.clone();
    c.target.pids = pids.to_vec();
    c.target.pid_text = None;
    let mut evs = events.to_vec();
    let copts = CountingOptions {
        inherit: cfg.inherit,
        enable_on_exec: false,
    };
    let p = plan(&c, None, "")?;
    let counters = open_counters(&mut evs, &p, copts, cgroups)?;
    for_each_leader(&evs, &counters, counter::enable)?;
    Ok((p, counters))
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The executable a process runs (a binary replaced on disk since it started keeps its
/// path: the restarted process runs the new one).
fn exe_of(pid: i32) -> Option<PathBuf> {
    let p = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let s = p.to_string_lossy();
    Some(match s.strip_suffix(" (deleted)") {
        Some(kept) => PathBuf::from(kept),
        None => p,
    })
}

/// The families of counters on `slots` (`support` per event).
fn families_of(
    cfg: &StatConfig,
    events: &[Event],
    slots: &[Slot],
    support: &[Support],
    cgroups: &Cgroups,
) -> Vec<Family> {
    use crate::stat::prometheus::{families, label_value, EventDesc};
    let descs: Vec<Option<EventDesc>> = events
        .iter()
        .zip(support)
        .enumerate()
        .map(|(i, (e, s))| {
            (*s == Support::Supported && !matches!(e.kind, EventKind::Tool(_))).then(|| EventDesc {
                name: e.name.clone(),
                cgroup: cgroups.name(i),
                unit: if e.kind.is_clock() {
                    "nanoseconds"
                } else {
                    "events"
                },
            })
        })
        .collect();
    let slot_labels: Vec<String> = slots
        .iter()
        .map(|slot| match slot {
            Slot::Cpu(c) if cfg.aggregation == Aggregation::PerCpu => format!("cpu=\"{c}\""),
            Slot::Cpu(_) => String::new(),
            Slot::Task(t) => {
                let pid = tgid_of(*t).unwrap_or(*t);
                let comm = topology::comm_of(pid).unwrap_or_default();
                let mut l = format!("pid=\"{pid}\",comm=\"{}\"", label_value(&comm));
                if cfg.aggregation == Aggregation::PerThread {
                    l.push_str(&format!(",tid=\"{t}\""));
                }
                l
            }
        })
        .collect();
    families(&descs, &slot_labels)
}

/// The process a thread belongs to (`Tgid:` in its status file).
fn tgid_of(tid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}
