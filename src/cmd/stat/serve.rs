//! `stat --serve`: the counters' families and labels, handed to `cmd::serve`'s HTTP side,
//! which reads every counter at each scrape.
use super::*;

/// `--serve`: answers scrapes until the command ends, or without one until Ctrl-C/SIGTERM
/// or every `-p`/`-t` task is gone. Each series is one event over the slots that share its
/// labels: CPUs with `-A`, processes (threads summed) with `-p`, threads with
/// `--per-thread`, else everything.
pub(super) fn serve(
    bound: crate::cmd::serve::Bound,
    cfg: &StatConfig,
    events: &[Event],
    plan: &Plan,
    counters: &Counters,
    cgroups: &Cgroups,
    work: Option<&Workload>,
) -> Result<Option<workload::Exit>> {
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
    let fams = families(&descs, &slot_labels);
    eprintln!(
        "rperf stat: serving {} counter families at http://{}/metrics (Ctrl-C stops)",
        fams.len(),
        bound.addr
    );
    let mut exit = None;
    let mut failed = None;
    crate::cmd::serve::run(bound, &fams, &|| read_counts(counters), || match work {
        Some(w) => match w.wait() {
            Ok(e) => exit = Some(e),
            Err(e) => failed = Some(e),
        },
        None => wait_for_stop(plan, &cfg.target),
    })?;
    if let Some(e) = failed {
        return Err(anyhow::Error::new(e).context("waiting for the command"));
    }
    Ok(exit)
}

/// The process a thread belongs to (`Tgid:` in its status file).
fn tgid_of(tid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}
