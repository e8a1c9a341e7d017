//! `stat --serve`: the counters' families and labels, handed to `cmd::serve`'s HTTP side,
//! which reads every counter at each scrape; and, with `-p`, following the target across
//! restarts (a new process running the same executable is counted from zero under its own
//! `pid` label, which Prometheus' `rate()` and `increase()` take as a new series).
use std::path::PathBuf;
use std::sync::RwLock;

use super::*;
use crate::stat::prometheus::Family;

/// What a scrape reads: the current target's counters and their families.
struct Served {
    plan: Plan,
    counters: Counters,
    fams: Vec<Family>,
    /// When these counters started (seconds since the epoch): OpenMetrics' `_created`.
    created: f64,
}

/// `--serve`: answers scrapes until the command ends, or without one until Ctrl-C/SIGTERM.
/// Each series is one event over the slots that share its labels: CPUs with `-A`,
/// processes (threads summed) with `-p`, threads with `--per-thread`, else everything.
/// With `-p` (and neither `-t` nor `--per-thread`), once every target is gone the page
/// keeps their last counts until a process running one of their executables appears; its
/// counters replace theirs. Otherwise serving ends when every `-p`/`-t` task is gone.
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
    let exes: Vec<PathBuf> = if follow {
        cfg.target.pids.iter().filter_map(|&p| exe_of(p)).collect()
    } else {
        Vec::new()
    };
    let fams = families_of(cfg, events, plan, counters, cgroups);
    eprintln!(
        "rperf stat: serving {} counter families at http://{}/metrics (Ctrl-C stops)",
        fams.len(),
        bound.addr
    );
    let state = RwLock::new(Served {
        plan: std::mem::take(plan),
        counters: std::mem::take(counters),
        fams,
        created: now(),
    });
    let page = |out: &mut String, om: bool| -> Result<()> {
        let st = state
            .read()
            .map_err(|_| anyhow::anyhow!("a scrape failed"))?;
        let counts = read_counts(&st.counters)?;
        crate::stat::prometheus::render(
            out,
            &st.fams,
            |e, s| counts.get(e).and_then(|r| r.get(s)).copied().flatten(),
            om.then_some(st.created),
        );
        Ok(())
    };
    let mut exit = None;
    let mut failed = None;
    crate::cmd::serve::run(bound, &page, || match work {
        Some(w) => match w.wait() {
            Ok(e) => exit = Some(e),
            Err(e) => failed = Some(e),
        },
        None => {
            let mut target = cfg.target.clone();
            loop {
                {
                    let st = state.read().expect("no scrape panics holding the lock");
                    wait_for_stop(&st.plan, &target);
                }
                if exes.is_empty() || signals::received().is_some() {
                    return;
                }
                let Some((pids, plan, counters)) = reattach(cfg, events, cgroups, &exes) else {
                    return;
                };
                target.pids = pids;
                let fams = families_of(cfg, events, &plan, &counters, cgroups);
                let mut st = state.write().expect("no scrape panics holding the lock");
                *st = Served {
                    plan,
                    counters,
                    fams,
                    created: now(),
                };
            }
        }
    })?;
    let st = state
        .into_inner()
        .expect("no scrape panics holding the lock");
    *plan = st.plan;
    *counters = st.counters;
    if let Some(e) = failed {
        return Err(anyhow::Error::new(e).context("waiting for the command"));
    }
    Ok(exit)
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

/// Waits for processes running one of `exes` (all of them, rperf aside), then opens the
/// counters on them, enabled; `None` on Ctrl-C/SIGTERM.
fn reattach(
    cfg: &StatConfig,
    events: &[Event],
    cgroups: &Cgroups,
    exes: &[PathBuf],
) -> Option<(Vec<i32>, Plan, Counters)> {
    eprintln!(
        "rperf stat: every target is gone; serving their last counts until a process runs {}",
        exes.iter()
            .map(|e| e.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    );
    let me = std::process::id() as i32;
    loop {
        if signals::received().is_some() {
            return None;
        }
        let pids: Vec<i32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&p| p != me && exe_of(p).is_some_and(|x| exes.contains(&x)))
            .collect();
        if !pids.is_empty() {
            let mut c = cfg.clone();
            c.target.pids = pids.clone();
            c.target.pid_text = None;
            let mut evs = events.to_vec();
            let copts = CountingOptions {
                inherit: cfg.inherit,
                enable_on_exec: false,
            };
            // A process that ends meanwhile is looked for again.
            let opened = plan(&c, None, "").and_then(|p| {
                let counters = open_counters(&mut evs, &p, copts, cgroups)?;
                for_each_leader(&evs, &counters, counter::enable)?;
                Ok((p, counters))
            });
            if let Ok((p, counters)) = opened {
                let names: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
                eprintln!("rperf stat: counting process {}", names.join(","));
                return Some((pids, p, counters));
            }
        }
        workload::sleep_interruptible(Duration::from_millis(100));
    }
}

/// The families of the counters of `plan`.
fn families_of(
    cfg: &StatConfig,
    events: &[Event],
    plan: &Plan,
    counters: &Counters,
    cgroups: &Cgroups,
) -> Vec<Family> {
    use crate::stat::prometheus::{families, label_value, EventDesc};
    let descs: Vec<Option<EventDesc>> = events
        .iter()
        .zip(&counters.support)
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
    let slot_labels: Vec<String> = plan
        .slots
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
