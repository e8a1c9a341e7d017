//! Live tracing: the command, processes, threads or whole system traced, the events
//! (`events.rs`) opened for them, and the drain loop. Each round's records, from every
//! ring, are put in time order and decoded by `data::read::live` into the replay's
//! records, which the printer takes as it takes a file's (`-i`).
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use rustc_hash::FxHashMap;

use super::events::{attrs, filters, open, selection, tracepoints, Opened};
use super::{
    chain, field_offset, parse_ids, sink, syscalls, u32_at, u64_at, Source, TraceArgs, Tracer,
};
use crate::abi::{kind, sample, Attr};
use crate::data::read::live::LiveDecoder;
use crate::data::read::Record;
use crate::sys::{counter, ring, signals, topology, tracefs, workload};

/// The workload (prepared, not started) and the tasks to open events for, with the names
/// known now.
#[allow(clippy::type_complexity)]
fn task_list(
    a: &TraceArgs,
    pids: &Option<Vec<i32>>,
    tids: &Option<Vec<i32>>,
) -> Result<(Option<workload::Workload>, Vec<i32>, Vec<(i32, String)>)> {
    let mut wl = None;
    let mut tasks: Vec<i32> = Vec::new();
    let mut comms: Vec<(i32, String)> = Vec::new();
    if !a.command.is_empty() && !a.all_cpus {
        signals::install();
        let w = workload::Workload::prepare(&a.command, workload::Stdio::default())
            .map_err(|e| crate::exit::command_error(&a.command[0], &e))?;
        tasks.push(w.pid());
        let base = a.command[0].rsplit('/').next().unwrap_or("");
        comms.push((w.pid(), base.chars().take(15).collect()));
        wl = Some(w);
    } else if let Some(p) = pids {
        for &pid in p {
            let t = topology::threads_of(pid).map_err(|_| {
                anyhow!("no such process: {pid} (check the pid with `ps -p {pid}`)")
            })?;
            tasks.extend(t);
        }
        // Named now: a thread may be gone by the time its first event is read.
        for &t in &tasks {
            comms.extend(topology::comm_of(t).map(|c| (t, c)));
        }
    } else if let Some(t) = tids {
        for &tid in t {
            if !topology::is_alive(tid) {
                bail!("no such thread: {tid} (check the tid with `ps -eLf`)");
            }
            tasks.push(tid);
            comms.extend(topology::comm_of(tid).map(|c| (tid, c)));
        }
    }
    if a.all_cpus {
        signals::install();
        if !a.command.is_empty() {
            let w = workload::Workload::prepare(&a.command, workload::Stdio::default())
                .map_err(|e| crate::exit::command_error(&a.command[0], &e))?;
            wl = Some(w);
        }
        tasks = vec![-1];
    }
    if pids.is_some() || tids.is_some() {
        signals::install();
    }
    Ok((wl, tasks, comms))
}

/// Traces live.
pub(super) fn run(
    a: &TraceArgs,
    call_graph: Option<chain::CallGraph>,
    filter_pids: &[i32],
) -> Result<ExitCode> {
    let targets = [
        a.all_cpus,
        a.pid.is_some(),
        a.tid.is_some(),
        !a.command.is_empty(),
    ]
    .iter()
    .filter(|&&x| x)
    .count();
    if targets == 0 {
        bail!("nothing to trace: give a command, -p PID, -t TID or -a");
    }
    // `-a CMD` traces the whole system while CMD runs.
    if targets > 1 && (!a.all_cpus || a.command.is_empty()) {
        bail!("give one of a command, -p, -t or -a");
    }
    let sel = selection(a)?;
    let pids = a.pid.as_deref().map(|p| parse_ids(p, "pid")).transpose()?;
    let tids = a.tid.as_deref().map(|p| parse_ids(p, "tid")).transpose()?;

    let root = tracefs::root()?;
    let t = tracepoints(a, &root, &sel.tp_names)?;
    // Where to open: (pid, cpu) pairs; per CPU always, so inherited events can be mapped.
    let cpus = match &a.cpu {
        Some(list) => crate::target::resolve_cpus(&crate::target::Target {
            command: Vec::new(),
            pids: Vec::new(),
            tids: Vec::new(),
            system_wide: true,
            cpu_list: Some(list.clone()),
            pid_text: None,
            tid_text: None,
        })?
        .unwrap_or_default(),
        None => topology::online_cpus().context("reading the online CPU list")?,
    };
    let (mut wl, tasks, comms) = task_list(a, &pids, &tids)?;
    let enable_on_exec = wl.is_some() && !a.all_cpus;
    let inherit = enable_on_exec;
    // 2 MiB per CPU, what perf trace maps when run as root.
    let pages = a.mmap_pages.unwrap_or(512);
    if !pages.is_power_of_two() {
        bail!("invalid -m/--mmap-pages {pages}: give a power of two");
    }
    let specs = attrs(a, &sel, &t, call_graph, (inherit, enable_on_exec, pages))?;
    let (pid_filter, filter) = filters(a, filter_pids, &sel);
    let mut o = open(&tasks, &cpus, &specs, (&pid_filter, &filter), pages)?;
    let (pf, trace_syscalls) = (sel.pf, sel.trace_syscalls);
    let (enter_fmt, exit_fmt) = (&t.enter_fmt, &t.exit_fmt);
    let runtime_at = t.runtime_at;
    let tps = t.tps;

    let out = sink(a)?;
    let mut tr = Tracer {
        out,
        live: true,
        table: syscalls::Table::new(root.clone()),
        threads: FxHashMap::default(),
        current: None,
        base_time: 0,
        full_time: a.time,
        show_comm: !a.no_comm,
        multiple_threads: inherit || a.all_cpus || tasks.len() > 1,
        summary: a.summary || a.with_summary,
        summary_only: a.summary,
        failure_only: a.failure,
        duration_ns: a.duration.map(|d| d * 1e6),
        show_duration: true,
        trace_syscalls,
        sched: a.sched,
        nr_events: 0,
        enter_id: field_offset(enter_fmt, "id")?,
        enter_args: field_offset(enter_fmt, "args")?,
        exit_id: field_offset(exit_fmt, "id")?,
        exit_ret: field_offset(exit_fmt, "ret")?,
        tps,
        runtime_at,
        faults: (pf.0 || pf.1 || call_graph.is_some()).then(|| {
            let mut maps = chain::Maps::new(true);
            for &pid in pids.iter().flatten().chain(tids.iter().flatten()) {
                maps.learn(pid);
            }
            maps
        }),
        max_stack: a.max_stack.unwrap_or(127),
        min_stack: a.min_stack.unwrap_or(0),
        max_events: a.max_events,
        printed: 0,
    };
    for (tid, c) in comms {
        tr.thread(tid).comm = Some(c);
    }
    if !enable_on_exec {
        for fd in &o.fds {
            counter::enable(fd)?;
        }
    }
    if let Some(w) = &mut wl {
        w.start()
            .map_err(|e| crate::exit::command_error(&a.command[0], &e))?;
    }

    let stopped = drain(&mut tr, &mut o, &specs, &wl, &tasks)?;
    for fd in &o.fds {
        let _ = counter::disable(fd);
    }
    tr.finish(a.errno_summary)?;
    let code = match wl {
        // The command is ended with rperf (perf leaves it running unobserved).
        Some(_) if stopped => ExitCode::SUCCESS,
        Some(w) => {
            let e = w.wait()?;
            ExitCode::from(e.code as u8)
        }
        None => ExitCode::SUCCESS,
    };
    Ok(code)
}

/// Drains the rings until the command ends, the traced tasks are gone, a signal comes or
/// `--max-events` is reached (returned: true); each round's records, from every ring, go
/// to the printer in time order.
fn drain(
    tr: &mut Tracer,
    o: &mut Opened,
    specs: &[(Source, Attr)],
    wl: &Option<workload::Workload>,
    tasks: &[i32],
) -> Result<bool> {
    let events: Vec<(Attr, String, Vec<u64>)> = specs
        .iter()
        .zip(&o.by_event)
        .map(|((_, attr), ids)| (*attr, String::new(), ids.clone()))
        .collect();
    let mut decoder =
        LiveDecoder::new(&events).ok_or_else(|| anyhow!("cannot decode the events' records"))?;
    let (fds, leaders) = (&o.fds, &o.leaders);
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); o.rings.len()];
    let mut done = false;
    // --max-events reached: perf stops there, whatever is still queued.
    let mut stopped = false;
    let mut disabled = false;
    loop {
        for (r, buf) in o.rings.iter_mut().zip(bufs.iter_mut()) {
            buf.clear();
            r.drain_into(buf);
        }
        let mut recs: Vec<(u64, &[u8])> = Vec::new();
        for buf in &bufs {
            in_order(buf, &o.ids, &mut recs);
        }
        let got = !recs.is_empty();
        recs.sort_by_key(|(t, _)| *t);
        for (_, rec) in recs {
            if !stopped {
                handle(tr, &mut decoder, specs, rec)?;
                stopped = tr.max_reached();
            }
        }
        if stopped || (done && (!got || disabled)) {
            break;
        }
        // The end: the events are disabled and the rings drained once more. Waiting for
        // empty rings instead never ends with -a on a busy machine.
        if done {
            for fd in fds {
                let _ = counter::disable(fd);
            }
            disabled = true;
            continue;
        }
        if let Some((sig, from_user)) = signals::received() {
            // A terminal's ^C reached the command already; pass on what was sent to rperf
            // alone, so that the command ends too and its status can be collected.
            if let Some(w) = wl {
                if from_user || sig != libc::SIGINT {
                    signals::kill(w.pid(), sig);
                }
            }
            signals::clear();
            done = true;
            continue;
        }
        let exited = match wl {
            Some(w) => w.wait_timeout(Duration::ZERO),
            None => {
                let mut alive = tasks.iter().any(|&t| t == -1 || topology::is_alive(t));
                if tasks.is_empty() {
                    alive = false;
                }
                !alive
            }
        };
        if exited {
            done = true;
            continue;
        }
        let mut p: Vec<&OwnedFd> = leaders.iter().map(|&i| &fds[i]).collect();
        if let Some(f) = wl.as_ref().and_then(|w| w.exit_fd()) {
            p.push(f);
        }
        let _ = ring::poll(&p, 100);
    }
    Ok(stopped)
}

/// The records of one drained ring, with the time each is ordered by: a sample's own, a
/// side-band record's from its sample_id (every event samples TID, TIME, CPU and
/// IDENTIFIER, so those four words end it), 0 for the rest. Samples of events not opened
/// here are left out.
fn in_order<'a>(
    buf: &'a [u8],
    ids: &FxHashMap<u64, (Source, u64)>,
    out: &mut Vec<(u64, &'a [u8])>,
) {
    let mut p = 0;
    while p + 8 <= buf.len() {
        let ty = u32_at(buf, p);
        let size = u16::from_ne_bytes([buf[p + 6], buf[p + 7]]) as usize;
        if size < 8 || p + size > buf.len() {
            break;
        }
        let rec = &buf[p..p + size];
        let r = &rec[8..];
        p += size;
        let side_time = r.len().checked_sub(24).map_or(0, |at| u64_at(r, at));
        let time = match ty {
            kind::SAMPLE => {
                let Some(&(_, st)) = ids.get(&u64_at(r, 0)) else {
                    continue;
                };
                // IDENTIFIER, [IP], TID, then TIME.
                let at = if st & sample::IP != 0 { 24 } else { 16 };
                u64_at(r, at)
            }
            kind::COMM | kind::FORK | kind::MMAP => side_time,
            _ => 0,
        };
        out.push((time, rec));
    }
}

/// Decodes one record into the replay's shape and hands it to the printer, counting it as
/// perf's live loop does (every record but samples that do not decode).
fn handle(
    tr: &mut Tracer,
    decoder: &mut LiveDecoder,
    specs: &[(Source, Attr)],
    rec: &[u8],
) -> Result<()> {
    let is_sample = u32_at(rec, 0) == kind::SAMPLE;
    if !is_sample {
        tr.nr_events += 1;
    }
    let mut res = Ok(());
    decoder.decode(rec, |r| match r {
        Record::Sample(s) => {
            let Some(&(src, attr)) = specs.get(s.event) else {
                return;
            };
            tr.nr_events += 1;
            let st = attr.sample_type;
            // The replay's samples keep no data address: a fault's target is read where
            // the kernel put it (header, IDENTIFIER, [IP], TID, TIME, then ADDR).
            let addr = if st & sample::ADDR != 0 {
                let ip = if st & sample::IP != 0 { 8 } else { 0 };
                u64_at(rec, 8 + 8 + ip + 16)
            } else {
                0
            };
            let chained = st & (sample::CALLCHAIN | sample::REGS_USER) != 0;
            res = tr.sample(src, &s, addr, chained);
        }
        r => res = tr.side(&r),
    });
    res
}
