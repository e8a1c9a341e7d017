//! Live tracing: the events -e, -F and --sched ask for, opened per CPU for the command,
//! processes, threads or the whole system, and the drain loop. Each round's records, from
//! every ring, are put in time order and decoded by `data::read::live` into the replay's
//! records, which the printer takes as it takes a file's (`-i`).
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use rustc_hash::FxHashMap;

use super::{
    chain, field_offset, parse_ids, sink, syscalls, tracepoint, u32_at, u64_at, Source, Tp,
    TraceArgs, Tracer,
};
use crate::abi::{flag, kind, sample, Attr};
use crate::data::read::live::LiveDecoder;
use crate::data::read::Record;
use crate::sys::{counter, ring, signals, topology, tracefs, workload};

/// What -e, -F and --syscalls select.
struct Selection {
    /// -F: major and minor faults.
    pf: (bool, bool),
    /// `-e '!...'`: every syscall but those named.
    negate: bool,
    /// The syscalls -e names.
    selected: Option<Vec<i64>>,
    tp_names: Vec<String>,
    trace_syscalls: bool,
}

fn selection(a: &TraceArgs) -> Result<Selection> {
    let pf = match a.pf.as_deref() {
        None => (false, false),
        Some("maj") => (true, false),
        Some("min") => (false, true),
        Some("all") => (true, true),
        Some(x) => bail!("invalid -F/--pf '{x}': use maj, min or all"),
    };
    // -e: syscalls (with a leading '!' negating them all) and SYSTEM:NAME tracepoints.
    let mut negate = false;
    let mut sc_names = Vec::new();
    let mut tp_names = Vec::new();
    for list in &a.events {
        let list = match list.strip_prefix('!') {
            Some(rest) => {
                negate = true;
                rest
            }
            None => list.as_str(),
        };
        for item in list.split(',').filter(|s| !s.is_empty()) {
            if item.contains(':') {
                tp_names.push(item.to_string());
            } else {
                sc_names.push(item.to_string());
            }
        }
    }
    let selected = if sc_names.is_empty() {
        None
    } else {
        Some(syscalls::select(&sc_names)?)
    };
    // perf traces syscalls when asked (--syscalls, syscall names in -e), or when nothing
    // else was: -F or -e tracepoints alone show just those.
    let trace_syscalls = !a.no_syscalls
        && (a.syscalls || selected.is_some() || (a.pf.is_none() && tp_names.is_empty()));
    Ok(Selection {
        pf,
        negate,
        selected,
        tp_names,
        trace_syscalls,
    })
}

/// The tracepoints opened: raw_syscalls' enter and exit (id, format), -e's, and --sched's
/// sched_stat_runtime (id, offset of its `runtime`).
struct Tracepoints {
    enter_tp: u64,
    enter_fmt: String,
    exit_tp: u64,
    exit_fmt: String,
    tps: Vec<Tp>,
    tp_ids: Vec<u64>,
    runtime_tp: Option<u64>,
    runtime_at: usize,
}

fn tracepoints(a: &TraceArgs, root: &Path, tp_names: &[String]) -> Result<Tracepoints> {
    let (enter_tp, enter_fmt) = tracepoint(root, "raw_syscalls", "sys_enter")?;
    let (exit_tp, exit_fmt) = tracepoint(root, "raw_syscalls", "sys_exit")?;
    let mut tps = Vec::new();
    let mut tp_ids = Vec::new();
    for n in tp_names {
        let (sys, name) = n.split_once(':').expect("has ':'");
        let (id, text) = tracepoint(root, sys, name)?;
        let (_, format) = crate::report::trace::parse_format(&text)
            .ok_or_else(|| anyhow!("unreadable format of tracepoint '{n}'"))?;
        tps.push(Tp {
            name: n.clone(),
            format,
            types: syscalls::format_fields(&text),
        });
        tp_ids.push(id);
    }
    let (runtime_tp, runtime_at) = if a.sched {
        let (id, text) = tracepoint(root, "sched", "sched_stat_runtime")?;
        (Some(id), field_offset(&text, "runtime")?)
    } else {
        (None, 0)
    };
    Ok(Tracepoints {
        enter_tp,
        enter_fmt,
        exit_tp,
        exit_fmt,
        tps,
        tp_ids,
        runtime_tp,
        runtime_at,
    })
}

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

/// The attrs to open, in the printer's terms.
fn attrs(
    a: &TraceArgs,
    sel: &Selection,
    t: &Tracepoints,
    call_graph: Option<chain::CallGraph>,
    (inherit, enable_on_exec, pages): (bool, bool, usize),
) -> Result<Vec<(Source, Attr)>> {
    let (pf, trace_syscalls) = (sel.pf, sel.trace_syscalls);
    let (enter_tp, exit_tp, runtime_tp) = (t.enter_tp, t.exit_tp, t.runtime_tp);
    let tp_ids = &t.tp_ids;
    let mk = |type_: u32, config: u64, tracking: bool, st: u64| {
        let mut flags = flag::DISABLED | flag::SAMPLE_ID_ALL;
        // Only a command's children are followed; -p and -t trace the threads named, as
        // perf trace does.
        if inherit {
            flags |= flag::INHERIT;
        }
        if enable_on_exec {
            flags |= flag::ENABLE_ON_EXEC;
        }
        if tracking {
            flags |= flag::COMM | flag::COMM_EXEC | flag::TASK | flag::MMAP;
        }
        if a.all_cpus {
            flags &= !flag::INHERIT;
        }
        Attr {
            type_,
            config,
            sample_period: 1,
            sample_type: sample::IDENTIFIER | sample::TID | sample::TIME | sample::CPU | st,
            // Woken when the ring is half full, not per event: a busy syscall loop
            // must not wake rperf for every call.
            flags: flags | flag::WATERMARK,
            wakeup_events: (pages * ring::page_size() / 2) as u32,
            ..Attr::default()
        }
    };
    let tp_type = perf_event_open_sys::bindings::PERF_TYPE_TRACEPOINT;
    let sw_type = perf_event_open_sys::bindings::PERF_TYPE_SOFTWARE;
    let mut specs: Vec<(Source, Attr)> = Vec::new();
    if trace_syscalls {
        specs.push((Source::Enter, mk(tp_type, enter_tp, false, sample::RAW)));
        specs.push((Source::Exit, mk(tp_type, exit_tp, false, sample::RAW)));
    }
    if pf.0 {
        specs.push((
            Source::Fault { major: true },
            mk(
                sw_type,
                perf_event_open_sys::bindings::PERF_COUNT_SW_PAGE_FAULTS_MAJ as u64,
                false,
                sample::IP | sample::ADDR,
            ),
        ));
    }
    if pf.1 {
        specs.push((
            Source::Fault { major: false },
            mk(
                sw_type,
                perf_event_open_sys::bindings::PERF_COUNT_SW_PAGE_FAULTS_MIN as u64,
                false,
                sample::IP | sample::ADDR,
            ),
        ));
    }
    for (i, id) in tp_ids.iter().enumerate() {
        specs.push((
            Source::Tracepoint(i),
            mk(tp_type, *id, false, sample::PERIOD | sample::RAW),
        ));
    }
    if let Some(id) = runtime_tp {
        specs.push((
            Source::Runtime,
            mk(tp_type, id, false, sample::PERIOD | sample::RAW),
        ));
    }
    if specs.is_empty() {
        bail!("nothing to trace: --no-syscalls needs -e SYSTEM:NAME tracepoints or -F");
    }
    // Chains are printed under syscall exits, faults and tracepoints (perf samples them at
    // the entry too, and never prints them). A syscall's kernel part is the syscall path
    // itself: left out unless asked for, as perf does.
    if let Some(cg) = call_graph {
        for (src, attr) in specs.iter_mut() {
            if matches!(src, Source::Enter | Source::Runtime) {
                continue;
            }
            let user_only = *src == Source::Exit && !a.kernel_syscall_graph;
            match cg {
                chain::CallGraph::Fp => {
                    attr.sample_type |= sample::CALLCHAIN;
                    if user_only {
                        attr.flags |= flag::EXCLUDE_CALLCHAIN_KERNEL;
                    }
                }
                chain::CallGraph::Dwarf(size) => {
                    attr.sample_type |= sample::REGS_USER | sample::STACK_USER;
                    attr.sample_regs_user = crate::abi::LEAF_REGS_USER;
                    attr.sample_stack_user = size;
                    if !user_only {
                        attr.sample_type |= sample::CALLCHAIN;
                        attr.flags |= flag::EXCLUDE_CALLCHAIN_USER;
                    }
                }
            }
        }
    }
    // The first event carries comm/fork/mmap records, as perf's tracking event.
    specs[0].1.flags |= flag::COMM | flag::COMM_EXEC | flag::TASK | flag::MMAP;
    if a.all_cpus && call_graph.is_none() {
        specs[0].1.flags &= !flag::MMAP;
    } else if pf.0 || pf.1 {
        // Fault targets are data too: perf samples addresses, and so tracks data maps.
        specs[0].1.flags |= flag::MMAP_DATA;
    }
    Ok(specs)
}

/// The kernel's filters: rperf's own syscalls under -a, and the -e selection (for
/// raw_syscalls; the pid part alone for the other tracepoints).
fn filters(a: &TraceArgs, filter_pids: &[i32], sel: &Selection) -> (String, String) {
    let (selected, negate) = (&sel.selected, sel.negate);
    // Kernel filters: rperf's own syscalls under -a, and the -e selection.
    // --filter-pids leaves rperf out too, as perf's list always starts with its own pid.
    let mut own: Vec<i32> = Vec::new();
    if a.all_cpus || !filter_pids.is_empty() {
        own.push(std::process::id() as i32);
    }
    own.extend(filter_pids);
    let pid_filter = own
        .iter()
        .map(|p| format!("common_pid != {p}"))
        .collect::<Vec<_>>()
        .join(" && ");
    let mut filter = Vec::new();
    if !pid_filter.is_empty() {
        filter.push(pid_filter.clone());
    }
    if let Some(ids) = &selected {
        let (op, join) = if negate {
            ("!=", " && ")
        } else {
            ("==", " || ")
        };
        let f: Vec<String> = ids.iter().map(|i| format!("id {op} {i}")).collect();
        filter.push(format!("({})", f.join(join)));
    }
    let filter = filter.join(" && ");
    (pid_filter, filter)
}

/// The events opened: fds, one ring per (task, CPU) with the others' output redirected
/// to it, what each kernel id is, and the ids of each attr.
struct Opened {
    fds: Vec<OwnedFd>,
    rings: Vec<ring::Ring>,
    ids: FxHashMap<u64, (Source, u64)>,
    leaders: Vec<usize>,
    by_event: Vec<Vec<u64>>,
}

fn open(
    tasks: &[i32],
    cpus: &[u32],
    specs: &[(Source, Attr)],
    (pid_filter, filter): (&str, &str),
    pages: usize,
) -> Result<Opened> {
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut rings: Vec<ring::Ring> = Vec::new();
    let mut ids: FxHashMap<u64, (Source, u64)> = FxHashMap::default();
    let mut leaders: Vec<usize> = Vec::new();
    let mut by_event: Vec<Vec<u64>> = vec![Vec::new(); specs.len()];
    for &task in tasks {
        for &cpu in cpus {
            let mut leader: Option<usize> = None;
            for (i, (src, attr)) in specs.iter().enumerate() {
                let what = match src {
                    Source::Enter | Source::Exit => "raw_syscalls",
                    Source::Fault { .. } => "page fault",
                    Source::Runtime => "sched:sched_stat_runtime",
                    Source::Tracepoint(_) => "tracepoint",
                };
                let mut attr = *attr;
                if leader.is_some() {
                    attr.flags &= !(flag::COMM | flag::COMM_EXEC | flag::TASK | flag::MMAP);
                }
                let fd = counter::open(&attr, task, cpu as i32, None)
                    .map_err(|e| open_error(e, what, task))?;
                if matches!(src, Source::Enter | Source::Exit) && !filter.is_empty() {
                    counter::set_filter(&fd, filter)
                        .with_context(|| format!("setting the filter '{filter}'"))?;
                } else if matches!(src, Source::Tracepoint(_) | Source::Runtime)
                    && !pid_filter.is_empty()
                {
                    let _ = counter::set_filter(&fd, pid_filter);
                }
                let id = ring::event_id(&fd)?;
                ids.insert(id, (*src, attr.sample_type));
                by_event[i].push(id);
                match leader {
                    None => {
                        let r = ring::Ring::map(&fd, pages).or_else(|e| {
                            if pages > 16 && e.raw_os_error() == Some(libc::EPERM) {
                                ring::Ring::map(&fd, 16)
                            } else {
                                Err(e)
                            }
                        });
                        rings.push(r.context("mapping the event ring (try a smaller -m)")?);
                        leader = Some(fds.len());
                        leaders.push(fds.len());
                    }
                    Some(l) => ring::set_output(&fd, &fds[l])?,
                }
                fds.push(fd);
            }
        }
    }
    Ok(Opened {
        fds,
        rings,
        ids,
        leaders,
        by_event,
    })
}

/// Why an event could not be opened, with what to do.
fn open_error(e: std::io::Error, what: &str, pid: i32) -> anyhow::Error {
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => anyhow!(
            "no permission to trace {what} ({e}): rperf trace needs root or CAP_PERFMON \
             (kernel.perf_event_paranoid is {})",
            counter::paranoid().map_or("unreadable".into(), |p| p.to_string())
        ),
        Some(libc::ESRCH) => anyhow!("process {pid} is gone (check the pid with `ps -p {pid}`)"),
        _ => anyhow!("cannot open the {what} event: {e}"),
    }
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
