//! `rperf record`: sample a command, processes or the whole system into a perf.data file
//! that Linux perf reads.
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::abi::Attr;
use crate::data::write::encode::{self, Tally, Trailer};
use crate::data::write::features::EventDesc;
use crate::data::write::{self as file, PipeWriter, Writer};
use crate::events::attr::{file_attr, CallGraph};
use crate::events::EventKind;
use crate::record::containers::Containers;
use crate::record::drain::{Drain, Pipeline, RecordSink};
use crate::record::features;
use crate::record::hits::HitTracker;
use crate::record::leaf::LeafFixer;
use crate::record::offcpu::{self, OffCpu};
use crate::sys::counter;
use crate::sys::ring::{self, Ring};
use crate::sys::workload::{Stdio, Workload};
use crate::sys::{signals, topology};
use crate::target::{resolve_cpus, resolve_tasks, Target};

use crate::record::open::{
    events_to_record, map_rings, open_events, sampling_rate, synthesize, OpenPlan, Opened,
};
pub use crate::record::open::{RecordConfig, DEFAULT_DWARF_STACK, DEFAULT_FREQ};

mod drain;
mod finish;
mod side_band;
mod sink;

use drain::*;
use finish::*;
use side_band::*;
use sink::*;

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
    // refuses that (users, not root), perf's size. `--call-graph dwarf` samples are 8 KiB
    // each: perf's ring holds 64 of them, a few milliseconds at high rates, so a reader
    // woken late on busy CPUs loses samples; its rings are four times larger too.
    let perf_pages = (512 * 1024 / ring::page_size()).max(1);
    let default_pages = match cfg.call_graph {
        CallGraph::Fp if cfg.leaf_stack > 0 => 4 * perf_pages,
        CallGraph::Dwarf(_) => 4 * perf_pages,
        _ => perf_pages,
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
    let attrs_written = attrs.clone();
    let mut sink = create_sink(&cfg.output, attrs, &mut feats, tracing)?;
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
    // Rings are read here; records are processed and written on the pipeline's thread. With
    // the leaf fixer and a file to write, the recording is only a copy of the rings: the
    // samples are rewritten in the file once the events are off, as perf post-processes its
    // file for build-ids (--off-cpu's pass may add records, so it stays live).
    let rewritable = match &mut sink {
        Sink::File(w) => leaf.is_some() && off.is_none() && w.can_rewrite(),
        Sink::Pipe(_) => false,
    };
    let (mut drain, later) = match &sink {
        Sink::File(w) if rewritable => {
            let mut d = Drain::new(HitTracker::new(trailer.sample_type), None);
            d.raw = true;
            (d, Some((w.data_size(), hits, leaf)))
        }
        _ => (Drain::new(hits, leaf), None),
    };
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
    let (exit, wakeups) = drain_until_done(
        &mut pipeline,
        &mut rings,
        &opened,
        work.as_ref(),
        system_wide || has_cmd,
        t,
    )?;
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
        mut hits,
        mut leaf,
        offcpu,
        containers,
        ..
    } = drain;
    if let (Some((from, h, l)), Sink::File(w)) = (later, &mut sink) {
        let mut pass = Drain::new(h, l);
        w.rewrite(from, |io| pass.replay(io))
            .with_context(|| format!("cannot write {}", cfg.output.display()))?;
        (hits, leaf) = (pass.hits, pass.leaf);
    }
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
    let lost_samples = write_lost_samples(&opened, &attrs_written, &mut sink, &cfg.output)?;

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
