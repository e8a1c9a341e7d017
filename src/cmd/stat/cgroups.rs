//! perf stat's `-G/--cgroup` and `--for-each-cgroup`: which cgroup each event counts in.
use super::*;
use crate::cgroup::Cgroup;

/// Which cgroup each event counts in (`of[event]` indexes `list`).
#[derive(Default)]
pub(super) struct Cgroups {
    pub(super) of: Vec<Option<usize>>,
    pub(super) list: Vec<Cgroup>,
}

impl Cgroups {
    pub(super) fn name(&self, e: usize) -> Option<String> {
        self.of
            .get(e)
            .copied()
            .flatten()
            .map(|g| self.list[g].name.clone())
    }
}

/// perf stat's cgroup options: `-G` pairs its names with the events in order (one name
/// goes to every event; an empty name leaves that event system-wide); `--for-each-cgroup`
/// repeats every event once per cgroup, cgroup by cgroup. Both count per CPU, so both need
/// `-a` or `-C`.
pub(super) fn apply_cgroups(
    cfg: &StatConfig,
    events: Vec<Event>,
    system_wide: bool,
) -> Result<(Vec<Event>, Cgroups)> {
    let (names, each) = match (&cfg.cgroups, &cfg.for_each_cgroup) {
        (None, None) => {
            let n = events.len();
            return Ok((
                events,
                Cgroups {
                    of: vec![None; n],
                    list: Vec::new(),
                },
            ));
        }
        (Some(_), Some(_)) => bail!("--cgroup and --for-each-cgroup cannot be used together"),
        (Some(g), None) => (g.as_str(), false),
        (None, Some(g)) => (g.as_str(), true),
    };
    if !system_wide {
        bail!("-G/--cgroup and --for-each-cgroup count per CPU: add -a (or -C CPUS)");
    }
    if !each && cfg.events.is_empty() {
        bail!(
            "-G/--cgroup needs events: give them with -e (perf: must define events before cgroups)"
        );
    }
    let parts: Vec<&str> = names.split(',').collect();
    let named: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if named.is_empty() {
        bail!("no cgroup named in '{names}': give NAME[,NAME...]");
    }
    if !each && parts.len() > events.len() {
        bail!(
            "-G names {} cgroups for {} events: give one cgroup per event, or one for all",
            parts.len(),
            events.len()
        );
    }
    let list = crate::cgroup::open_all(&named)?;
    if each {
        let n = events.len();
        let mut out = Vec::with_capacity(n * list.len());
        let mut of = Vec::with_capacity(n * list.len());
        for g in 0..list.len() {
            for ev in &events {
                let mut ev = ev.clone();
                ev.leader = ev.leader.map(|l| l + g * n);
                out.push(ev);
                of.push(Some(g));
            }
        }
        return Ok((out, Cgroups { of, list }));
    }
    let of = if parts.len() == 1 {
        vec![Some(0); events.len()]
    } else {
        let mut next = 0;
        let mut of = vec![None; events.len()];
        for (e, p) in parts.iter().enumerate() {
            if !p.is_empty() {
                of[e] = Some(next);
                next += 1;
            }
        }
        of
    };
    Ok((events, Cgroups { of, list }))
}
