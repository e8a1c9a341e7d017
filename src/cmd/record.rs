//! `rperf record`: sample a command, processes or the whole system into a perf.data file
//! that Linux perf reads.
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::abi::Attr;
use crate::data::write::encode::{self, Tally, Trailer};
use crate::data::write::features::EventDesc;
use crate::data::write::{self as file, PipeWriter, Writer};
use crate::events::attr::{file_attr, sampling_attr, CallGraph, SamplingOptions};
use crate::events::{self, Event, EventKind, SysSource};
use crate::record::containers::Containers;
use crate::record::drain::{Drain, Pipeline, RecordSink};
use crate::record::features;
use crate::record::hits::HitTracker;
use crate::record::leaf::LeafFixer;
use crate::record::offcpu::{self, OffCpu};
use crate::record::synth;
use crate::sys::counter;
use crate::sys::ring::{self, Ring};
use crate::sys::workload::{Stdio, Workload};
use crate::sys::{signals, topology};
use crate::target::{resolve_cpus, resolve_tasks, Target};

/// perf's default sampling frequency.
pub const DEFAULT_FREQ: u64 = 4000;
/// perf's default user stack copy for `--call-graph dwarf`.
pub const DEFAULT_DWARF_STACK: u32 = 8192;

/// Everything `rperf record` needs, free of clap.
#[derive(Debug, Clone, Default)]
pub struct RecordConfig {
    /// `-e` arguments, each with the `--filter` that followed it.
    pub events: Vec<(String, Option<String>)>,
    /// `-F`.
    pub freq: Option<u64>,
    /// `-c`.
    pub period: Option<u64>,
    /// `-g` / `--call-graph`.
    pub call_graph: CallGraph,
    /// What to record.
    pub target: Target,
    /// `-m` data pages per ring (power of two).
    pub mmap_pages: Option<usize>,
    /// `-o`.
    pub output: PathBuf,
    /// `-q`: no summary line.
    pub quiet: bool,
    /// `-v`: say what was chosen on the user's behalf (fallbacks).
    pub verbose: bool,
    /// The full command line, for the CMDLINE feature.
    pub cmdline: Vec<String>,
    /// `--fp-leaf-stack`: user stack bytes sampled with `-g` to keep a frameless leaf's
    /// caller (0: plain frame-pointer chains, as perf).
    pub leaf_stack: u32,
    /// `-R`: every sample carries its raw data, time and CPU (perf's --raw-samples).
    pub raw_samples: bool,
    /// `--off-cpu`: off-CPU samples from sched_switch (see `record::offcpu`).
    pub off_cpu: bool,
    /// `-N`/`--no-buildid-cache`: binaries seen only inside containers are not stored in
    /// the build-id cache (see `record::containers`).
    pub no_buildid_cache: bool,
    /// `--all-cgroups`: samples carry their cgroup id, with CGROUP records for the paths.
    pub all_cgroups: bool,
    /// `-G`: only tasks in these cgroups (comma-separated), per CPU.
    pub cgroup: Option<String>,
    /// `--namespaces`: NAMESPACES records for every task.
    pub namespaces: bool,
}

/// perf's `-F` ceiling: `/proc/sys/kernel/perf_event_max_sample_rate`.
fn max_sample_rate() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// An event with everything opened for it.
pub(crate) struct Opened {
    pub(crate) ev: Event,
    pub(crate) attr: Attr,
    pub(crate) ids: Vec<u64>,
    pub(crate) fds: Vec<OwnedFd>,
}

/// Hardware cycles become cpu-clock where there is no PMU, keeping the modifiers (perf's
/// `evsel__fallback`).
fn fallback(ev: &Event) -> Option<Event> {
    if ev.kind != EventKind::Hardware(0) {
        return None;
    }
    let mut e = ev.clone();
    e.kind = EventKind::Software(crate::events::tables::SW_CPU_CLOCK);
    // perf names the event it built from its exclude bits (`cpu-clock:pppH` for the default,
    // `cpu-clock:uH` for cycles:u), not from what was typed.
    e.name = format!("cpu-clock{}", ev.mods.perf_suffix());
    Some(e)
}

/// Runs `rperf record`.
pub fn run(cfg: RecordConfig) -> Result<ExitCode> {
    signals::install();
    let t = &cfg.target;
    let system_wide = t.system_wide || t.cpu_list.is_some();
    let has_cmd = !t.command.is_empty();
    if !has_cmd && !system_wide && t.pids.is_empty() && t.tids.is_empty() {
        bail!("nothing to record: give a command (rperf record -- CMD), -p PID, -t TID, -a or -C CPUS");
    }
    // As perf: with -p/-t a command only sets how long to record; it is not recorded.
    let timer_only = has_cmd && (!t.pids.is_empty() || !t.tids.is_empty());
    let evs = events_to_record(&cfg)?;
    let (freq, period) = sampling_rate(&cfg)?;
    // Targets.
    let cpus = match resolve_cpus(t)? {
        Some(c) => c,
        None => topology::online_cpus().context("reading the online CPU list")?,
    };
    let to_stdout = cfg.output.as_os_str() == "-";
    // As perf: in pipe mode stdout is the data stream, so the command prints to stderr.
    let stdio = Stdio {
        stdout_to_stderr: to_stdout,
    };
    let mut work = if has_cmd {
        Some(
            Workload::prepare(&t.command, stdio)
                .map_err(|e| super::command_error(&t.command[0], &e))?,
        )
    } else {
        None
    };
    let kill_work = |w: &Option<Workload>| {
        if let Some(w) = w {
            signals::kill(w.pid(), libc::SIGKILL);
            let _ = w.wait();
        }
    };
    let tasks: Vec<i32> = if system_wide {
        vec![-1]
    } else if let Some(w) = work.as_ref().filter(|_| !timer_only) {
        vec![w.pid()]
    } else {
        match resolve_tasks(t) {
            Ok(v) => v.into_iter().map(|(tid, _)| tid).collect(),
            Err(e) => {
                kill_work(&work);
                return Err(e);
            }
        }
    };
    // perf's default ring is 512 KiB per CPU. `-g` with the leaf stack samples about four
    // times perf's bytes (registers and 256 stack bytes beside a ~100-byte sample), so its
    // default ring is four times larger to fill no sooner than perf's; where the lock limit
    // refuses that (users, not root), perf's size.
    let perf_pages = (512 * 1024 / ring::page_size()).max(1);
    let default_pages = if cfg.call_graph == CallGraph::Fp && cfg.leaf_stack > 0 {
        4 * perf_pages
    } else {
        perf_pages
    };
    let pages = cfg.mmap_pages.unwrap_or(default_pages);
    let how = OpenPlan {
        freq,
        period,
        system_wide,
        has_cmd,
        timer_only,
    };
    let opened = match open_events(&cfg, &evs, how, &cpus, &tasks) {
        Ok(o) => o,
        Err(e) => {
            kill_work(&work);
            return Err(e);
        }
    };
    let mut rings = map_rings(
        &opened,
        cpus.len(),
        tasks.len(),
        pages,
        cfg.mmap_pages.is_none(),
        perf_pages,
    )?;
    // What the file announces: -g's leaf registers and stack are consumed while recording.
    let file_attrs: Vec<Attr> = opened.iter().map(|o| file_attr(&o.attr)).collect();
    let mut attrs: Vec<(Attr, Vec<u64>)> = opened
        .iter()
        .zip(&file_attrs)
        .map(|(o, a)| (*a, o.ids.clone()))
        .collect();
    // --off-cpu: the file announces offcpu-time and offcpu-runnable in sched_switch's place.
    let off = cfg.off_cpu.then(|| opened.len() - 1);
    let off_attrs = off.map(|i| {
        let a = OffCpu::file_attr(&file_attrs[i], system_wide);
        attrs[i] = (a, opened[i].ids.clone());
        attrs.push((a, OffCpu::runnable_ids(&opened[i].ids)));
        (a, OffCpu::runnable_ids(&opened[i].ids))
    });
    let leaf = opened
        .iter()
        .zip(&file_attrs)
        .any(|(o, a)| o.attr != *a)
        .then(|| {
            let by_id = opened
                .iter()
                .flat_map(|o| o.ids.iter().map(|&id| (id, o.attr.sample_type)))
                .collect();
            LeafFixer::new(opened[0].attr.sample_type, by_id)
        });
    let mut descs: Vec<EventDesc> = opened
        .iter()
        .zip(&attrs)
        .map(|(o, (attr, _))| EventDesc {
            attr,
            name: &o.ev.name,
            ids: &o.ids,
        })
        .collect();
    if let (Some(i), Some((attr, ids))) = (off, &off_attrs) {
        descs[i].name = offcpu::BLOCKED_EVENT;
        descs.push(EventDesc {
            attr,
            name: offcpu::RUNNABLE_EVENT,
            ids,
        });
    }
    let mut feats = features::system_features(&cfg.cmdline, &descs);
    let tps: Vec<(String, String)> = opened
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != off)
        .filter_map(|(_, o)| match &o.ev.kind {
            EventKind::Tracepoint { system, name, .. } => Some((system.clone(), name.clone())),
            _ => None,
        })
        .collect();
    let tracing = if tps.is_empty() {
        None
    } else {
        let root = crate::sys::tracefs::root().context("finding tracefs for the event formats")?;
        Some(features::tracing_data(&root, &tps).context("reading tracepoint formats")?)
    };
    // `-` and a FIFO get perf's pipe format (a FIFO cannot be seeked back to its header), as
    // in perf; a device is written in place and a regular file staged beside its name.
    let attrs_written = attrs.clone();
    let dest = crate::output::dest_kind(&cfg.output)
        .with_context(|| format!("cannot write {}", cfg.output.display()))?;
    let mut sink = if matches!(
        dest,
        crate::output::Dest::Stdout | crate::output::Dest::Fifo
    ) {
        let out = crate::output::Output::create(&cfg.output, crate::output::Options::default())
            .with_context(|| format!("cannot open {}", cfg.output.display()))?;
        Sink::Pipe(
            PipeWriter::start(out, &attrs, &feats, tracing.as_deref()).with_context(|| {
                format!("writing the perf.data stream to {}", cfg.output.display())
            })?,
        )
    } else {
        if let Some(t) = tracing {
            feats.push((file::feature::TRACING_DATA, t));
        }
        Sink::File(Writer::create(&cfg.output, attrs).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                " (pick a directory you may write to with -o FILE)"
            } else {
                ""
            };
            anyhow!("cannot create {}: {e}{hint}", cfg.output.display())
        })?)
    };
    let trailer = Trailer {
        sample_type: opened[0].attr.sample_type,
        id: opened[0].ids[0],
    };
    let child = work.as_ref().filter(|_| !timer_only).map(Workload::pid);
    let mut side = synthesize(t, trailer, system_wide, !has_cmd || timer_only, child);
    side.extend(cgroup_side_band(&cfg, trailer, system_wide, child)?);
    let mut hits = HitTracker::new(trailer.sample_type);
    hits.observe(&side);
    let mut containers = if cfg.no_buildid_cache {
        None
    } else {
        crate::buildid_cache::root()
            .ok()
            .and_then(|root| Containers::new(root, cfg.verbose))
    };
    if let Some(c) = containers.as_mut() {
        c.observe(&side);
    }
    sink.write(&side)?;
    if let Sink::Pipe(p) = &mut sink {
        p.finished_init()?;
    }

    // Go.
    if !has_cmd || system_wide || timer_only {
        for o in &opened {
            for fd in &o.fds {
                counter::enable(fd).context("enabling events")?;
            }
        }
    }
    if let Some(w) = work.as_mut() {
        w.start()
            .map_err(|e| super::command_error(&t.command[0], &e))?;
    }
    // Rings are read here; records are processed and written on the pipeline's thread.
    let mut drain = Drain::new(hits, leaf);
    drain.containers = containers;
    if let Some(i) = off {
        let types = opened
            .iter()
            .zip(&file_attrs)
            .flat_map(|(o, a)| o.ids.iter().map(|&id| (id, a.sample_type)))
            .collect();
        drain.offcpu = Some(off_cpu_pass(
            &file_attrs[i],
            &opened[i].ids,
            types,
            system_wide,
        )?);
    }
    let mut pipeline = Pipeline::start(drain, sink).context("starting the record writer")?;
    let mut exit = None;
    let watched: Vec<i32> = if system_wide || has_cmd {
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
        ring_fds.extend(work.as_ref().and_then(Workload::exit_fd));
        let _ = ring::poll(&ring_fds, 100).context("waiting for samples")?;
        if pipeline.pass(rings.iter_mut().map(|(r, _, _)| r)) > 0 {
            wakeups += 1;
        }
        if pipeline.stopped() {
            break;
        }
        if let Some(w) = &work {
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
    for o in &opened {
        for fd in &o.fds {
            let _ = counter::disable(fd);
        }
    }
    let stopped_at = crate::sys::clock::monotonic_ns();
    pipeline.pass(rings.iter_mut().map(|(r, _, _)| r));
    drop(rings);
    let (drain, mut sink) = pipeline
        .finish()
        .context("writing samples (is the disk full?)")?;
    let Drain {
        mut tally,
        hits,
        leaf,
        offcpu,
        containers,
        ..
    } = drain;
    let captured = containers.map(|c| c.ids).unwrap_or_default();
    // Threads still off CPU at the end: their time up to the stop.
    let offcpu_stats = match offcpu {
        Some(mut o) => {
            let mut rest = Vec::new();
            o.finish(stopped_at, &mut rest);
            if !rest.is_empty() {
                rest.extend_from_slice(&encode::finished_round());
                sink.write(&rest)
                    .with_context(|| format!("cannot write {}", cfg.output.display()))?;
            }
            // The summary counts the samples written, not the switches read.
            tally.samples =
                tally.samples.saturating_sub(o.stats.consumed) + o.stats.blocked + o.stats.runnable;
            Some(o.stats)
        }
        None => None,
    };
    // Samples the kernel dropped, per event and fd, as perf records them: perf report's
    // "Total Lost Samples".
    let mut lost_samples = 0u64;
    for (o, (file_attr, _)) in opened.iter().zip(&attrs_written) {
        for (fd, id) in o.fds.iter().zip(&o.ids) {
            let Ok(n) = counter::read_lost(fd, o.attr.read_format) else {
                continue;
            };
            if n > 0 {
                lost_samples += n;
                // The trailer as the file's attr for the id lays it out (--off-cpu's differs).
                let t = encode::Trailer {
                    sample_type: file_attr.sample_type,
                    id: *id,
                };
                sink.write(&encode::lost_samples(n, t))
                    .with_context(|| format!("cannot write {}", cfg.output.display()))?;
            }
        }
    }

    let (size, shown) = match sink {
        Sink::File(w) => {
            feats.push((file::feature::BUILD_ID, build_id_feature(&hits, &captured)));
            // The first and last sample times: perf's `--time` shares (10%/2) are of this span.
            if let Some((first, last)) = hits.sample_span() {
                let mut b = first.to_ne_bytes().to_vec();
                b.extend_from_slice(&last.to_ne_bytes());
                feats.push((file::feature::SAMPLE_TIME, b));
            }
            (
                w.finish(feats)
                    .with_context(|| format!("cannot write {}", cfg.output.display()))?,
                cfg.output.display().to_string(),
            )
        }
        Sink::Pipe(p) => (
            p.finish().context("flushing the perf.data stream")?,
            cfg.output.display().to_string(),
        ),
    };
    let end = Ending {
        wakeups,
        size,
        shown,
        lost_samples,
    };
    summarize(&cfg, leaf.as_ref(), &tally, &end);
    if let Some(s) = offcpu_stats {
        offcpu::summarize(&s, cfg.quiet);
    }
    let code = exit.map(|e| e.code).unwrap_or(0);
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

/// The events to sample with their `--filter`s: perf's default (`cycles:P`, user space only
/// where the kernel may not be profiled) or the `-e` list, checked for what sampling refuses.
pub(crate) fn events_to_record(cfg: &RecordConfig) -> Result<Vec<(Event, Option<String>)>> {
    let src = SysSource::default();
    let mut evs: Vec<(Event, Option<String>)> = Vec::new();
    let default_event = cfg.events.is_empty();
    if default_event {
        let can_profile_kernel = counter::can_profile_kernel();
        for mut e in events::parse_all(&["cycles:P".to_string()], &src)? {
            if !can_profile_kernel {
                // perf's default event leaves out the kernel up front when it may not count
                // it (the hypervisor stays in, so the fallback below is perf's `:uhpppH`).
                e.mods.exclude_kernel = true;
                e.name.push('u');
            }
            evs.push((e, None));
        }
    }
    for (spec, filter) in &cfg.events {
        let mut v = Vec::new();
        events::parse_into(spec, &src, &mut v)?;
        for e in v {
            if filter.is_some() && !matches!(e.kind, EventKind::Tracepoint { .. }) {
                bail!(
                    "--filter '{}' only applies to tracepoints, not to '{}'",
                    filter.as_deref().unwrap_or(""),
                    e.name
                );
            }
            if let Some(p) = e.period.filter(|&p| p > i64::MAX as u64) {
                bail!(
                    "period={p} in '{}' is too large: the kernel takes sample periods up to {} (2^63-1)",
                    e.name,
                    i64::MAX
                );
            }
            evs.push((e, filter.clone()));
        }
    }
    if cfg.off_cpu {
        // Last, so the off-CPU event is the one after the user's.
        let mut v = Vec::new();
        events::parse_into("sched:sched_switch", &src, &mut v)
            .context("--off-cpu needs the sched:sched_switch tracepoint (is tracefs mounted?)")?;
        evs.extend(v.into_iter().map(|e| (e, None)));
    }
    if evs
        .iter()
        .any(|(e, _)| matches!(e.kind, EventKind::Tool(_)))
    {
        bail!("tool events (duration_time…) cannot be sampled; use `rperf stat` for them");
    }
    Ok(evs)
}

/// `-F`/`-c` as the kernel will take them: (frequency, period).
pub(crate) fn sampling_rate(cfg: &RecordConfig) -> Result<(Option<u64>, Option<u64>)> {
    // perf reads `-c 0` as no period at all and samples at its default frequency; a period
    // the kernel would refuse (it takes a signed 64-bit one) is named, not blamed on the event.
    let period = cfg.period.filter(|&p| p != 0);
    if cfg.period == Some(0) && cfg.verbose {
        eprintln!("-c 0 asks for no period: sampling at the default frequency instead");
    }
    if let Some(p) = period.filter(|&p| p > i64::MAX as u64) {
        bail!(
            "-c {p} is too large: the kernel takes sample periods up to {} (2^63-1)",
            i64::MAX
        );
    }
    let mut freq = cfg.freq;
    if period.is_none() {
        let want = freq.unwrap_or(DEFAULT_FREQ);
        let max = max_sample_rate().unwrap_or(u64::MAX);
        if want > max {
            eprintln!(
                "warning: Maximum frequency rate ({max} Hz) exceeded, throttling from {want} Hz to {max} Hz.\n\
                 The limit can be raised via /proc/sys/kernel/perf_event_max_sample_rate."
            );
            freq = Some(max);
        } else {
            freq = Some(want);
        }
    }
    Ok((freq, period))
}

/// How the events are opened, besides the config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenPlan {
    pub(crate) freq: Option<u64>,
    pub(crate) period: Option<u64>,
    pub(crate) system_wide: bool,
    pub(crate) has_cmd: bool,
    pub(crate) timer_only: bool,
}

/// Opens every event on every CPU and task, falling back as perf does (no PMU: cpu-clock;
/// paranoid: user space only; old kernels: no LOST read_format).
pub(crate) fn open_events(
    cfg: &RecordConfig,
    evs: &[(Event, Option<String>)],
    how: OpenPlan,
    cpus: &[u32],
    tasks: &[i32],
) -> Result<Vec<Opened>> {
    let with_id = evs.len() > 1;
    // -G: one cgroup per event in order; a single one for every event.
    let cgroups = match &cfg.cgroup {
        Some(names) => {
            if !how.system_wide {
                bail!("-G/--cgroup {names} counts per CPU: add -a (or -C CPUS)");
            }
            let v = crate::record::cgroups::open_all(names)?;
            if v.len() > evs.len() {
                bail!(
                    "-G {names}: {} cgroups for {} events: give at most one cgroup per -e event",
                    v.len(),
                    evs.len()
                );
            }
            v
        }
        None => Vec::new(),
    };
    let mut opened: Vec<Opened> = Vec::new();
    for (i, (ev, filter)) in evs.iter().enumerate() {
        let cgroup = match cgroups.len() {
            0 => None,
            1 => Some(&cgroups[0].1),
            _ => cgroups.get(i).map(|(_, f)| f),
        };
        let mut ev = ev.clone();
        let opts = SamplingOptions {
            freq: how.freq,
            period: how.period,
            // An off-CPU sample is its stack: frame pointers when no --call-graph is given.
            call_graph: if cfg.off_cpu && i + 1 == evs.len() && cfg.call_graph == CallGraph::None {
                CallGraph::Fp
            } else {
                cfg.call_graph
            },
            cpu_wide: how.system_wide,
            with_id,
            inherit: !how.system_wide,
            enable_on_exec: how.has_cmd && !how.system_wide && !how.timer_only,
            tracking: i == 0,
            leaf_stack: cfg.leaf_stack,
            raw_samples: cfg.raw_samples,
        };
        let mut fds = Vec::new();
        let mut attr;
        // Kernels before 6.0 refuse read_format LOST: then without it, as perf does.
        let mut lost_format = true;
        'retry: loop {
            attr = sampling_attr(&ev, opts)
                .ok_or_else(|| anyhow!("event '{}' cannot be sampled", ev.name))?;
            if cfg.off_cpu {
                offcpu::adjust_attr(&mut attr, i + 1 == evs.len());
            }
            if cfg.all_cgroups {
                attr.sample_type |= crate::abi::sample::CGROUP;
                if i == 0 {
                    attr.flags |= crate::abi::flag::CGROUP;
                }
            }
            if cfg.namespaces && i == 0 {
                attr.flags |= crate::abi::flag::NAMESPACES;
            }
            if !lost_format {
                attr.read_format &= !crate::abi::read_format::LOST;
            }
            fds.clear();
            for &cpu in cpus {
                for &task in tasks {
                    let fd = match cgroup {
                        Some(dir) => counter::open_in_cgroup(&attr, dir, cpu as i32, None),
                        None => counter::open(&attr, task, cpu as i32, None),
                    };
                    match fd {
                        Ok(fd) => fds.push(fd),
                        Err(e) => {
                            let code = e.raw_os_error().unwrap_or(0);
                            if code == libc::EINVAL && lost_format {
                                lost_format = false;
                                continue 'retry;
                            }
                            if matches!(
                                code,
                                libc::ENOENT | libc::EOPNOTSUPP | libc::ENODEV | libc::EINVAL
                            ) {
                                if let Some(fb) = fallback(&ev) {
                                    if cfg.verbose {
                                        eprintln!("The {} event is not supported, trying to fall back to cpu-clock", ev.name);
                                    }
                                    ev = fb;
                                    continue 'retry;
                                }
                            }
                            // As perf: without the right to count the kernel, count user space.
                            if matches!(code, libc::EACCES | libc::EPERM)
                                && counter::paranoid().is_some_and(|p| p > 1)
                                && ev.fall_back_to_user()
                            {
                                if cfg.verbose {
                                    eprintln!(
                                        "kernel.perf_event_paranoid={}, trying to fall back to excluding kernel and hypervisor samples",
                                        counter::paranoid().unwrap_or(2)
                                    );
                                }
                                continue 'retry;
                            }
                            return Err(super::open_error(&ev, &e, task, cpu as i32));
                        }
                    }
                }
            }
            break;
        }
        if let Some(f) = filter {
            for fd in &fds {
                counter::set_filter(fd, f).map_err(|e| {
                    anyhow!("bad --filter '{f}' for event '{}': {e} (check the field names in the event's format file)", ev.name)
                })?;
            }
        }
        let mut ids = Vec::with_capacity(fds.len());
        for fd in &fds {
            ids.push(ring::event_id(fd).context("reading an event id")?);
        }
        opened.push(Opened { ev, attr, ids, fds });
    }
    Ok(opened)
}

/// One ring per CPU; every other fd on that CPU writes into it. `may_shrink`: the size is
/// the default, so perf's smaller one is tried where the lock limit refuses it.
pub(crate) fn map_rings(
    opened: &[Opened],
    ncpus: usize,
    ntasks: usize,
    pages: usize,
    may_shrink: bool,
    perf_pages: usize,
) -> Result<Vec<(Ring, usize, usize)>> {
    let mut rings: Vec<(Ring, usize, usize)> = Vec::new(); // ring, event, fd index of owner
    let mut ring_of_cpu: Vec<Option<(usize, usize)>> = vec![None; ncpus];
    for (e, o) in opened.iter().enumerate() {
        for (k, fd) in o.fds.iter().enumerate() {
            let c = k / ntasks;
            match ring_of_cpu[c] {
                None => {
                    let r = match Ring::map(fd, pages) {
                        Err(err)
                            if may_shrink
                                && pages > perf_pages
                                && err.raw_os_error() == Some(libc::EPERM) =>
                        {
                            Ring::map(fd, perf_pages)
                        }
                        r => r,
                    }
                    .map_err(|err| ring_error(pages, &err))?;
                    rings.push((r, e, k));
                    ring_of_cpu[c] = Some((e, k));
                }
                Some((oe, ok)) => {
                    ring::set_output(fd, &opened[oe].fds[ok]).context("sharing a ring buffer")?
                }
            }
        }
    }
    Ok(rings)
}

/// The side-band records perf writes before the first sample: the kernel's and its modules'
/// maps, then the threads, names and maps of the processes already running that are
/// recorded (`existing`: -p/-t, or everything with `system_wide`), and the command's name
/// before its exec (`child`).
pub(crate) fn synthesize(
    t: &Target,
    trailer: Trailer,
    system_wide: bool,
    existing: bool,
    child: Option<i32>,
) -> Vec<u8> {
    let mut side = Vec::new();
    let ktext = synth::kernel_text_start(crate::session::cache_dir().as_deref());
    if ktext != 0 {
        side.extend(encode::kernel_mmap(
            ktext,
            u64::MAX - ktext,
            ktext,
            "[kernel.kallsyms]_text",
            trailer,
        ));
    }
    for (name, start, size) in synth::kernel_modules() {
        side.extend(encode::kernel_mmap(
            start,
            size,
            0,
            &format!("[{name}]"),
            trailer,
        ));
    }
    let procs = if system_wide {
        synth::all_processes().unwrap_or_default()
    } else if existing {
        let mut pids: Vec<i32> = t.pids.clone();
        for &tid in &t.tids {
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{tid}/status")) {
                if let Some(tgid) = s
                    .lines()
                    .find_map(|l| l.strip_prefix("Tgid:"))
                    .and_then(|v| v.trim().parse().ok())
                {
                    pids.push(tgid);
                }
            }
        }
        pids.sort_unstable();
        pids.dedup();
        pids.into_iter().filter_map(synth::read_process).collect()
    } else {
        Vec::new()
    };
    for p in &procs {
        for (tid, comm) in &p.threads {
            // FORK first, as perf: a reader makes the thread from its parent at the FORK
            // (taking the parent's name), so the thread's own COMM must come after it.
            if *tid != p.pid {
                side.extend(encode::fork(p.pid, p.pid, *tid, p.pid, trailer));
            }
            side.extend(encode::comm(p.pid, *tid, comm, false, trailer));
        }
        for m in &p.maps {
            side.extend(encode::mmap2(p.pid, m, trailer));
        }
    }
    if let Some(pid) = child {
        // The child's own name before exec; the kernel's exec COMM follows.
        side.extend(encode::comm(pid, pid, "rperf", false, trailer));
    }
    side
}

/// The side-band perf adds with `--all-cgroups` (a CGROUP record for every cgroup, so
/// samples' ids have paths) and `--namespaces` (a NAMESPACES record for every thread
/// recorded that already runs, and the command's).
fn cgroup_side_band(
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

/// The off-CPU pass for the sched_switch event as the file has it, finding `prev_state`
/// in the tracepoint's format.
fn off_cpu_pass(
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

/// What a finished recording reports besides the counts the drain kept.
struct Ending {
    wakeups: u64,
    size: u64,
    shown: String,
    lost_samples: u64,
}

/// perf's closing lines on stderr: lost and throttled samples, the leaf fixer's work with
/// -v, and (unless -q) the wake-ups and what was written.
fn summarize(cfg: &RecordConfig, leaf: Option<&LeafFixer>, tally: &Tally, end: &Ending) {
    if let (Some(l), true) = (leaf, cfg.verbose) {
        eprintln!(
            "-g: put back the caller of a frameless function in {} of {} user stacks",
            l.fixed, l.checked
        );
        if l.kept > 0 {
            eprintln!(
                "-g: {} stacks kept the kernel's chain: their binary's unwinding rules were not read in time",
                l.kept
            );
        }
    }
    if tally.lost > 0 {
        eprintln!(
            "Warning: lost {} events in {} chunks: the ring buffers overflowed; raise -m or lower -F",
            tally.lost, tally.lost_chunks
        );
    }
    if end.lost_samples > 0 {
        eprintln!(
            "Warning: the kernel lost {} samples; raise -m or lower -F",
            end.lost_samples
        );
    }
    if tally.throttles > 0 {
        eprintln!(
            "Warning: the kernel throttled sampling {} times (too many samples per second); \
             lower -F or raise /proc/sys/kernel/perf_cpu_time_max_percent",
            tally.throttles
        );
    }
    if !cfg.quiet {
        eprintln!(
            "[ rperf record: Woken up {} times to write data ]",
            end.wakeups
        );
        eprintln!(
            "[ rperf record: Captured and wrote {:.3} MB {} ({} samples) ]",
            end.size as f64 / (1024.0 * 1024.0),
            end.shown,
            tally.samples
        );
    }
}

/// Why a ring could not be mapped, with the limit that refused it: users may lock
/// perf_event_mlock_kb per CPU (plus `ulimit -l`); root and CAP_IPC_LOCK are exempt.
fn ring_error(pages: usize, err: &std::io::Error) -> anyhow::Error {
    let kib = pages * ring::page_size() / 1024;
    if err.raw_os_error() == Some(libc::EPERM) {
        let limit = std::fs::read_to_string("/proc/sys/kernel/perf_event_mlock_kb")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        anyhow!(
            "cannot map a {pages}-page ({kib} KiB) ring buffer per CPU ({err}): users may lock \
             {limit} KiB per CPU (/proc/sys/kernel/perf_event_mlock_kb) plus `ulimit -l`; lower -m, \
             raise that limit, or run as root (CAP_IPC_LOCK)"
        )
    } else {
        anyhow!(
            "cannot map a {pages}-page ({kib} KiB) ring buffer ({err}): lower -m, or raise \
             /proc/sys/kernel/perf_event_mlock_kb"
        )
    }
}

/// The BUILD_ID feature for every binary a sample hit (the kernel as `[kernel.kallsyms]`);
/// a binary read inside a container (`captured`) with the build-id found there.
fn build_id_feature(hits: &HitTracker, captured: &HashMap<String, Vec<u8>>) -> Vec<u8> {
    let (paths, kernel) = hits.hits();
    let mut entries = Vec::new();
    if kernel {
        if let Some(id) = rperf_symbols::kernel_build_id() {
            entries.push((
                -1,
                encode::misc::KERNEL,
                id,
                "[kernel.kallsyms]".to_string(),
            ));
        }
    }
    for p in paths {
        // Pseudo files ([vdso], //anon) have no file to read; deleted ones are gone.
        if !p.starts_with('/') {
            continue;
        }
        if let Some(id) = captured.get(p) {
            entries.push((-1, encode::misc::USER, id.clone(), p.to_string()));
        } else if let Ok(Some(id)) = rperf_symbols::build_id(std::path::Path::new(p)) {
            entries.push((-1, encode::misc::USER, id, p.to_string()));
        }
    }
    crate::data::write::features::build_ids(&entries)
}

/// Where records go: a perf.data file, or perf's pipe format on stdout.
enum Sink {
    File(Writer),
    Pipe(PipeWriter<crate::output::Output>),
}

impl RecordSink for Sink {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.write(b)
    }
}

impl Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::File(w) => w.write(b),
            Sink::Pipe(p) => p.write(b),
        }
    }
}
