//! Waiting for the end of a run, and -I's periodic printing.
use super::*;

/// Without a command: count until Ctrl-C/SIGTERM, or until every `-p`/`-t` task is gone.
pub(super) fn wait_for_stop(plan: &Plan, t: &Target) {
    let watched: Vec<i32> = if plan.system_wide {
        Vec::new()
    } else {
        t.pids.iter().chain(&t.tids).copied().collect()
    };
    loop {
        if signals::received().is_some() {
            return;
        }
        if !watched.is_empty() && !watched.iter().any(|&p| topology::is_alive(p)) {
            return;
        }
        workload::sleep_interruptible(Duration::from_millis(if watched.is_empty() {
            1000
        } else {
            100
        }));
    }
}

/// `-I`: prints the counts of each interval until the command ends or a stop is asked for.
#[allow(clippy::too_many_arguments)]
pub(super) fn interval_loop(
    cfg: &StatConfig,
    opts: &Options,
    events: &[Event],
    plan: &Plan,
    counters: &Counters,
    work: Option<&Workload>,
    t0: Instant,
    ms: u64,
    sink: &mut Sink,
    cgroups: &Cgroups,
) -> Result<Option<workload::Exit>> {
    let infos = event_infos(events, &counters.support, cgroups);
    let mut prev = read_counts(counters)?;
    let mut last = t0;
    let mut printed = 0u64;
    let step = Duration::from_millis(ms);
    let watched: Vec<i32> = cfg
        .target
        .pids
        .iter()
        .chain(&cfg.target.tids)
        .copied()
        .collect();
    loop {
        let next = t0 + step * (printed as u32 + 1);
        let mut finished = false;
        let mut exit = None;
        loop {
            let now = Instant::now();
            if now >= next {
                break;
            }
            let left = next - now;
            match work {
                Some(w) => {
                    if w.wait_timeout(left) {
                        finished = true;
                        break;
                    }
                }
                None => workload::sleep_interruptible(left.min(Duration::from_millis(100))),
            }
            if signals::received().is_some() && work.is_none() {
                finished = true;
                break;
            }
            if !watched.is_empty() && !watched.iter().any(|&p| topology::is_alive(p)) {
                finished = true;
                break;
            }
        }
        if finished {
            if let Some(w) = work {
                exit = Some(w.wait().context("waiting for the command")?);
            }
        }
        let now_counts = read_counts(counters)?;
        let d = delta(&now_counts, &prev);
        prev = now_counts;
        let now = Instant::now();
        let span = now.duration_since(last).as_nanos() as f64;
        last = now;
        let mut res = Results::new(infos.clone(), plan.buckets.clone());
        accumulate(
            &mut res,
            events,
            plan,
            &d,
            ToolTimes {
                wall_ns: span,
                ..ToolTimes::default()
            },
        );
        let mut out = String::new();
        if matches!(opts.style, Style::Human) && printed % 25 == 0 {
            out.push_str(format::interval_header(opts.aggregation));
        }
        let stamp = now.duration_since(t0).as_nanos() as u64;
        format::rows(&mut out, &res, opts, Some(stamp), span);
        sink.write(&out)?;
        printed += 1;
        if finished || cfg.interval_count.is_some_and(|n| printed >= n) {
            if !finished {
                if let Some(w) = work {
                    signals::kill(w.pid(), libc::SIGTERM);
                    exit = Some(w.wait().context("waiting for the command")?);
                }
            }
            return Ok(exit);
        }
    }
}
