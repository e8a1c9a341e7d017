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
#[derive(Default)]
pub(super) struct Plan {
    pub(super) slots: Vec<Slot>,
    /// Buckets rows are printed for, and which bucket each slot adds into.
    pub(super) buckets: Vec<Bucket>,
    pub(super) slot_bucket: Vec<usize>,
    pub(super) system_wide: bool,
}

impl Plan {
    /// Adds `other`'s slots after these (both counting into the same buckets).
    pub(super) fn append(&mut self, other: Plan) {
        self.slots.extend(other.slots);
        self.slot_bucket.extend(other.slot_bucket);
    }
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
#[derive(Default)]
pub(super) struct Counters {
    pub(super) fds: Vec<Vec<Option<OwnedFd>>>,
    pub(super) support: Vec<Support>,
    /// Read groups: `members[leader][slot]`, the events whose counts a read of the leader's
    /// fd returns after its own, in the kernel's order (the order they joined); `None` for
    /// an event not opened with PERF_FORMAT_GROUP.
    members: Vec<Option<Vec<Vec<usize>>>>,
    /// `joined[event][slot]`: read through its group's leader.
    joined: Vec<Vec<bool>>,
}

impl Counters {
    /// Adds `other`'s slots (the same events opened on other tasks) after these.
    pub(super) fn append(&mut self, other: Counters) {
        for (row, more) in self.fds.iter_mut().zip(other.fds) {
            row.extend(more);
        }
        for (row, more) in self.joined.iter_mut().zip(other.joined) {
            row.extend(more);
        }
        // Which events share a read depends on the events alone: the same in both.
        for (m, more) in self.members.iter_mut().zip(other.members) {
            if let (Some(m), Some(more)) = (m.as_mut(), more) {
                m.extend(more);
            }
        }
    }
}

/// Most events one read group takes: a read(2) of a group is capped at 16 KiB by the kernel.
const GROUP_MAX: usize = 512;

/// Whether an event not grouped by the user may share a read group with other events
/// without changing what it counts: software events and tracepoints are never multiplexed
/// (a group of them is always on), so the group's enabled and running times are its own.
/// Hardware events keep their own fd and read: grouped, they would be scheduled together.
fn shares_reads(ev: &Event) -> bool {
    ev.leader.is_none()
        && matches!(
            ev.kind,
            EventKind::Software(_) | EventKind::Tracepoint { .. }
        )
}

/// Opens every event on every slot. An event the kernel refuses to count in kernel space
/// (perf_event_paranoid >= 2, no CAP_PERFMON) is counted in user space only and renamed
/// `NAME:u` in `events`, as perf does.
///
/// Reads are what a scrape of thousands of counters costs (a counter active on another CPU
/// is read there, through an interrupt): so groups the user made are read whole from their
/// leader (PERF_FORMAT_GROUP), and events that are never multiplexed (see [`shares_reads`])
/// are put, per slot and cgroup, into groups of up to [`GROUP_MAX`] made only to be read at
/// once. A member the kernel refuses to add is opened on its own.
pub(super) fn open_counters(
    events: &mut [Event],
    plan: &Plan,
    opts: CountingOptions,
    cgroups: &Cgroups,
) -> Result<Counters> {
    let n = plan.slots.len();
    let mut fds: Vec<Vec<Option<OwnedFd>>> = Vec::with_capacity(events.len());
    let mut support = Vec::with_capacity(events.len());
    let mut members: Vec<Option<Vec<Vec<usize>>>> = Vec::with_capacity(events.len());
    let mut joined: Vec<Vec<bool>> = Vec::with_capacity(events.len());
    // The open made-up read group of each cgroup (`None`: no cgroup): its leader.
    let mut shared: Vec<(Option<usize>, usize)> = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let ev = &mut events[i];
        let leader = ev.leader.filter(|&l| l != i);
        let mut row: Vec<Option<OwnedFd>> = Vec::with_capacity(n);
        let unopened = |fds: &mut Vec<_>, support: &mut Vec<_>, s| {
            fds.push((0..n).map(|_| None).collect());
            support.push(s);
        };
        let Some(attr) = counting_attr(ev, leader.is_none(), opts) else {
            // Tool events are computed, not opened.
            unopened(&mut fds, &mut support, Support::Supported);
            members.push(None);
            joined.push(vec![false; n]);
            i += 1;
            continue;
        };
        if let Some(l) = leader {
            if support[l] == Support::NotSupported {
                unopened(&mut fds, &mut support, Support::NotSupported);
                members.push(None);
                joined.push(vec![false; n]);
                i += 1;
                continue;
            }
        }
        let cg = cgroups.of[i];
        // The group this event is read through: its user group's leader, or a made-up
        // group's with room left; else it leads a read group itself (when it may).
        let via = match leader {
            Some(l) => members[l].is_some().then_some(l),
            None if shares_reads(ev) => shared
                .iter()
                .find(|&&(c, g)| {
                    c == cg
                        && members[g]
                            .as_ref()
                            .is_some_and(|m| m.first().map_or(0, Vec::len) + 1 < GROUP_MAX)
                })
                .map(|&(_, g)| g),
            None => None,
        };
        let leads = via.is_none() && (ev.leader == Some(i) || shares_reads(ev));
        let mut attr = attr;
        let alone = attr;
        if leads {
            attr.read_format |= crate::abi::read_format::GROUP;
        } else if via.is_some() && leader.is_none() {
            // A made-up group's member follows its leader, as a user group's members do.
            if let Some(a) = counting_attr(ev, false, opts) {
                attr = a;
            }
        }
        let mut row_joined = vec![false; n];
        let mut status = Support::Supported;
        let mut retry = false;
        for (s, slot) in plan.slots.iter().enumerate() {
            let (pid, cpu) = match slot {
                Slot::Cpu(c) => (-1, *c as i32),
                Slot::Task(t) => (*t, -1),
            };
            let user_group = leader.and_then(|l| fds[l][s].as_ref().map(|f| f.as_raw_fd()));
            let read_group = via.and_then(|g| fds[g][s].as_ref().map(|f| f.as_raw_fd()));
            let open = |a: &crate::abi::Attr, group| match cg {
                Some(g) => counter::open_in_cgroup(a, &cgroups.list[g].dir, cpu, group),
                None => counter::open(a, pid, cpu, group),
            };
            let mut opened = open(&attr, user_group.or(read_group));
            if leader.is_none() && read_group.is_some() {
                match opened {
                    Ok(_) => row_joined[s] = true,
                    // Not taken into the made-up group: counted on its own.
                    Err(_) => opened = open(&alone, None),
                }
            } else if opened.is_ok() && read_group.is_some() {
                row_joined[s] = true;
            }
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
            // Same event again, now user space only; the fds opened so far are dropped
            // (which takes them out of their groups too).
            continue;
        }
        if status == Support::NotSupported {
            row = (0..n).map(|_| None).collect();
            row_joined = vec![false; n];
        }
        let ok = status == Support::Supported;
        if let Some(g) = via {
            if let Some(m) = members[g].as_mut() {
                for (s, j) in row_joined.iter().enumerate() {
                    if *j {
                        m[s].push(i);
                    }
                }
            }
        }
        members.push((ok && leads).then(|| vec![Vec::new(); n]));
        if ok && leads && leader.is_none() {
            shared.retain(|&(c, _)| c != cg);
            shared.push((cg, i));
        }
        fds.push(row);
        support.push(status);
        joined.push(row_joined);
        i += 1;
    }
    Ok(Counters {
        fds,
        support,
        members,
        joined,
    })
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

/// Every counter's count: `counts[event][slot]`, one read(2) per group leader per slot and
/// one per counter read alone.
pub(super) fn read_counts(c: &Counters) -> Result<Vec<Vec<Option<Count>>>> {
    let mut counts: Vec<Vec<Option<Count>>> =
        c.fds.iter().map(|row| vec![None; row.len()]).collect();
    let mut buf = Vec::new();
    for (e, row) in c.fds.iter().enumerate() {
        for (s, fd) in row.iter().enumerate() {
            let Some(fd) = fd else { continue };
            if c.joined[e][s] {
                continue;
            }
            let Some(m) = &c.members[e] else {
                counts[e][s] = Some(counter::read(fd).context("reading counters")?);
                continue;
            };
            let got =
                counter::read_group(fd, 1 + m[s].len(), &mut buf).context("reading counters")?;
            for (ev, count) in std::iter::once(e).chain(m[s].iter().copied()).zip(got) {
                counts[ev][s] = Some(count);
            }
        }
    }
    Ok(counts)
}
