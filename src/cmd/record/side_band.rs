//! The cgroup and namespace side-band a recording starts with (`--all-cgroups`, `--namespaces`).
use super::*;

use crate::record::synth;

/// The side-band perf adds with `--all-cgroups` (a CGROUP record for every cgroup, so
/// samples' ids have paths) and `--namespaces` (a NAMESPACES record for every thread
/// recorded that already runs, and the command's).
pub(super) fn cgroup_side_band(
    cfg: &RecordConfig,
    trailer: Trailer,
    system_wide: bool,
    child: Option<i32>,
) -> Result<Vec<u8>> {
    let mut side = Vec::new();
    if cfg.all_cgroups {
        let root = crate::cgroup::mount_point()?;
        for (id, path) in crate::record::cgroups::all(&root) {
            side.extend(encode::cgroup(id, &path, trailer));
        }
    }
    if cfg.namespaces {
        let t = &cfg.target;
        let mut pids: Vec<i32> = if system_wide {
            synth::all_pids()
        } else {
            t.pids.iter().chain(&t.tids).copied().collect()
        };
        pids.extend(child);
        for pid in pids {
            let tids = crate::sys::topology::threads_of(pid).unwrap_or_default();
            for tid in tids {
                if let Some(ns) = synth::namespaces(tid) {
                    side.extend(encode::namespaces(pid, tid, &ns, trailer));
                }
            }
        }
    }
    Ok(side)
}
