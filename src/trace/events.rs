//! What live tracing opens: the syscalls, faults and tracepoints -e, -F, --sched and
//! --syscalls select, their attrs (sample types, call chains, tracking), the kernel's
//! filters, and the events opened per (task, CPU) with one ring per pair.
use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use rustc_hash::FxHashMap;

use super::{chain, field_offset, syscalls, tracepoint, Source, Tp, TraceArgs};
use crate::abi::{flag, sample, Attr};
use crate::sys::{counter, ring};

/// What -e, -F and --syscalls select.
pub(super) struct Selection {
    /// -F: major and minor faults.
    pub(super) pf: (bool, bool),
    /// `-e '!...'`: every syscall but those named.
    pub(super) negate: bool,
    /// The syscalls -e names.
    pub(super) selected: Option<Vec<i64>>,
    pub(super) tp_names: Vec<String>,
    pub(super) trace_syscalls: bool,
}

pub(super) fn selection(a: &TraceArgs) -> Result<Selection> {
    let pf = match a.pf.as_deref() {
        None => (false, false),
        Some("maj") => (true, false),
        Some("min") => (false, true),
        Some("all") => (true, true),
        Some(x) => bail!("invalid -F/--pf '{x}': use maj, min or all"),
    };
    // -e: syscalls (with a leading '!' negating them all) and SYSTEM:NAME tracepoints.
    let (negate, items) = a.event_items();
    let (tp_names, sc_names): (Vec<String>, Vec<String>) =
        items.into_iter().partition(|item| item.contains(':'));
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
pub(super) struct Tracepoints {
    pub(super) enter_tp: u64,
    pub(super) enter_fmt: String,
    pub(super) exit_tp: u64,
    pub(super) exit_fmt: String,
    pub(super) tps: Vec<Tp>,
    pub(super) tp_ids: Vec<u64>,
    pub(super) runtime_tp: Option<u64>,
    pub(super) runtime_at: usize,
}

pub(super) fn tracepoints(a: &TraceArgs, root: &Path, tp_names: &[String]) -> Result<Tracepoints> {
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

/// The attrs to open, in the printer's terms.
pub(super) fn attrs(
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
pub(super) fn filters(a: &TraceArgs, filter_pids: &[i32], sel: &Selection) -> (String, String) {
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
pub(super) struct Opened {
    pub(super) fds: Vec<OwnedFd>,
    pub(super) rings: Vec<ring::Ring>,
    pub(super) ids: FxHashMap<u64, (Source, u64)>,
    pub(super) leaders: Vec<usize>,
    pub(super) by_event: Vec<Vec<u64>>,
}

pub(super) fn open(
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
pub(super) fn open_error(e: std::io::Error, what: &str, pid: i32) -> anyhow::Error {
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
