//! The counters stat opens: the plan of groups and slots, perf_event_open per CPU or task,
//! reading them back.
use super::*;

/// Where counters are opened: one slot per CPU (pid -1) or per thread (cpu -1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Slot {
    Cpu(u32),
    Task(i32),
}

/// Resolved targets for one run.
pub(super) struct Plan {
    pub(super) slots: Vec<Slot>,
    /// Buckets rows are printed for, and which bucket each slot adds into.
    pub(super) buckets: Vec<Bucket>,
    pub(super) slot_bucket: Vec<usize>,
    pub(super) system_wide: bool,
}

pub(super) fn plan(cfg: &StatConfig, child: Option<i32>, command_name: &str) -> Result<Plan> {
    let t = &cfg.target;
    let agg = cfg.aggregation;
    if let Some(cpus) = resolve_cpus(t)? {
        if agg == Aggregation::PerThread {
            bail!("--per-thread needs a command, -p or -t target, not system-wide counting");
        }
        let slots: Vec<Slot> = cpus.iter().map(|&c| Slot::Cpu(c)).collect();
        let (buckets, slot_bucket) = if agg == Aggregation::PerCpu {
            (
                cpus.iter().map(|&c| Bucket::Cpu(c)).collect(),
                (0..slots.len()).collect(),
            )
        } else {
            (vec![Bucket::Global], vec![0; slots.len()])
        };
        return Ok(Plan {
            slots,
            buckets,
            slot_bucket,
            system_wide: true,
        });
    }
    if agg == Aggregation::PerCpu {
        bail!("-A/--no-aggr/--per-cpu needs system-wide counting (-a or -C)");
    }
    let mut tasks = resolve_tasks(t)?;
    if let Some(pid) = child {
        tasks.push((pid, command_name.to_string()));
    }
    if tasks.is_empty() {
        bail!(
            "nothing to count: give a command (rperf stat -- CMD), -p PID, -t TID, -a or -C CPUS"
        );
    }
    let slots: Vec<Slot> = tasks.iter().map(|(t, _)| Slot::Task(*t)).collect();
    let (buckets, slot_bucket) = if agg == Aggregation::PerThread {
        (
            tasks
                .iter()
                .map(|(t, c)| Bucket::Thread(c.clone(), *t))
                .collect(),
            (0..slots.len()).collect(),
        )
    } else {
        (vec![Bucket::Global], vec![0; slots.len()])
    };
    Ok(Plan {
        slots,
        buckets,
        slot_bucket,
        system_wide: false,
    })
}

/// What the printers need to know of each event.
pub(super) fn event_infos(
    events: &[Event],
    support: &[Support],
    cgroups: &Cgroups,
) -> Vec<EventInfo> {
    events
        .iter()
        .zip(support)
        .enumerate()
        .map(|(i, (e, s))| EventInfo {
            name: e.name.clone(),
            kind: e.kind.clone(),
            support: *s,
            cgroup: cgroups.name(i),
        })
        .collect()
}

/// Open counters: `fds[event][slot]`, `None` where the event has no fd (tool events or
/// unsupported).
pub(super) struct Counters {
    pub(super) fds: Vec<Vec<Option<OwnedFd>>>,
    pub(super) support: Vec<Support>,
}

/// Opens every event on every slot. An event the kernel refuses to count in kernel space
/// (perf_event_paranoid >= 2, no CAP_PERFMON) is counted in user space only and renamed
/// `NAME:u` in `events`, as perf does.
pub(super) fn open_counters(
    events: &mut [Event],
    plan: &Plan,
    opts: CountingOptions,
    cgroups: &Cgroups,
) -> Result<Counters> {
    let mut fds: Vec<Vec<Option<OwnedFd>>> = Vec::with_capacity(events.len());
    let mut support = Vec::with_capacity(events.len());
    let mut i = 0;
    while i < events.len() {
        let ev = &mut events[i];
        let leader = ev.leader.filter(|&l| l != i);
        let mut row: Vec<Option<OwnedFd>> = Vec::with_capacity(plan.slots.len());
        let Some(attr) = counting_attr(ev, leader.is_none(), opts) else {
            // Tool events are computed, not opened.
            fds.push((0..plan.slots.len()).map(|_| None).collect());
            support.push(Support::Supported);
            i += 1;
            continue;
        };
        if let Some(l) = leader {
            if support[l] == Support::NotSupported {
                fds.push((0..plan.slots.len()).map(|_| None).collect());
                support.push(Support::NotSupported);
                i += 1;
                continue;
            }
        }
        let mut status = Support::Supported;
        let mut retry = false;
        for (s, slot) in plan.slots.iter().enumerate() {
            let (pid, cpu) = match slot {
                Slot::Cpu(c) => (-1, *c as i32),
                Slot::Task(t) => (*t, -1),
            };
            let group = leader.and_then(|l| fds[l][s].as_ref().map(|f| f.as_raw_fd()));
            let opened = match cgroups.of[i] {
                Some(g) => counter::open_in_cgroup(&attr, &cgroups.list[g].dir, cpu, group),
                None => counter::open(&attr, pid, cpu, group),
            };
            match opened {
                Ok(fd) => row.push(Some(fd)),
                Err(e) if crate::events::open_error::is_unsupported(&e) => {
                    status = Support::NotSupported;
                    break;
                }
                Err(e)
                    if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM))
                        && counter::paranoid().is_some_and(|p| p > 1)
                        && ev.fall_back_to_user() =>
                {
                    retry = true;
                    break;
                }
                Err(e) => return Err(crate::events::open_error::open_error(ev, &e, pid, cpu)),
            }
        }
        if retry {
            // Same event again, now user space only; the fds opened so far are dropped.
            continue;
        }
        if status == Support::NotSupported {
            row = (0..plan.slots.len()).map(|_| None).collect();
        }
        fds.push(row);
        support.push(status);
        i += 1;
    }
    Ok(Counters { fds, support })
}

pub(super) fn for_each_leader(
    events: &[Event],
    c: &Counters,
    f: fn(&OwnedFd) -> io::Result<()>,
) -> Result<()> {
    for (i, row) in c.fds.iter().enumerate() {
        if events[i].leader.is_some_and(|l| l != i) {
            continue;
        }
        for fd in row.iter().flatten() {
            f(fd).with_context(|| format!("enabling/disabling event '{}'", events[i].name))?;
        }
    }
    Ok(())
}

pub(super) fn read_counts(c: &Counters) -> Result<Vec<Vec<Option<Count>>>> {
    c.fds
        .iter()
        .map(|row| {
            row.iter()
                .map(|fd| fd.as_ref().map(counter::read).transpose())
                .collect::<io::Result<Vec<_>>>()
        })
        .collect::<io::Result<Vec<_>>>()
        .context("reading counters")
}
