//! The recording's main loop over the rings, and --off-cpu's pass set up for the drain.
use super::*;

/// Reads the rings until the command exits, the watched processes are gone, a signal stops
/// rperf or the writer stops; returns the command's exit and how many passes found data.
pub(super) fn drain_until_done(
    pipeline: &mut Pipeline<Sink>,
    rings: &mut [(Ring, usize, usize)],
    opened: &[Opened],
    work: Option<&Workload>,
    watch_none: bool,
    t: &Target,
) -> Result<(Option<crate::sys::workload::Exit>, u64)> {
    let mut exit = None;
    let watched: Vec<i32> = if watch_none {
        Vec::new()
    } else {
        t.pids.iter().chain(&t.tids).copied().collect()
    };
    let mut wakeups = 0u64;
    loop {
        let mut ring_fds: Vec<&OwnedFd> =
            rings.iter().map(|(_, e, k)| &opened[*e].fds[*k]).collect();
        // The command's exit wakes the wait too: with -a the other CPUs' samples must stop
        // when it ends, not up to a poll timeout later.
        ring_fds.extend(work.and_then(Workload::exit_fd));
        let _ = ring::poll(&ring_fds, 100).context("waiting for samples")?;
        if pipeline.pass(rings.iter_mut().map(|(r, _, _)| r)) > 0 {
            wakeups += 1;
        }
        if pipeline.stopped() {
            break;
        }
        if let Some(w) = work {
            if w.wait_timeout(Duration::ZERO) {
                exit = Some(w.wait().context("waiting for the command")?);
                break;
            }
            if let Some((sig, from_user)) = signals::received() {
                if from_user || sig != libc::SIGINT {
                    signals::kill(w.pid(), sig);
                }
                signals::clear();
            }
        } else {
            if signals::received().is_some() {
                break;
            }
            if !watched.is_empty() && !watched.iter().any(|&p| topology::is_alive(p)) {
                break;
            }
        }
    }
    Ok((exit, wakeups))
}

/// The off-CPU pass for the sched_switch event as the file has it, finding `prev_state`
/// in the tracepoint's format.
pub(super) fn off_cpu_pass(
    tp: &Attr,
    ids: &[u64],
    types: rustc_hash::FxHashMap<u64, u64>,
    keep_cpu: bool,
) -> Result<OffCpu> {
    let root = crate::sys::tracefs::root().context("finding tracefs for sched_switch's format")?;
    let path = root.join("events/sched/sched_switch/format");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("--off-cpu: cannot read {}", path.display()))?;
    let field = crate::report::trace::parse_format(&text)
        .and_then(|(_, f)| f.fields.into_iter().find(|f| f.name == "prev_state"))
        .ok_or_else(|| anyhow!("--off-cpu: {} has no prev_state field", path.display()))?;
    let state = offcpu::StateField {
        offset: field.offset,
        size: field.size,
    };
    OffCpu::new(tp.sample_type, ids, state, types, keep_cpu).ok_or_else(|| {
        anyhow!("--off-cpu cannot be combined with sample fields beyond -g/--call-graph and -R")
    })
}
