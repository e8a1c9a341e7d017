//! Opening a recording, shared by `rperf record` and `rperf top`: the events to sample (with
//! perf's cycles → cpu-clock fallback), their attrs opened per CPU and task, the rings
//! mapped over them, and the side-band a recording starts with (kernel maps, running
//! processes, synthesized from /proc).
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use crate::abi::Attr;
use crate::data::write::encode::{self, Trailer};
use crate::events::attr::{sampling_attr, CallGraph, SamplingOptions};
use crate::events::{self, Event, EventKind, SysSource};
use crate::record::offcpu::{self};
use crate::record::synth;
use crate::sys::counter;
use crate::sys::ring::{self, Ring};
use crate::target::Target;

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
pub(crate) fn max_sample_rate() -> Option<u64> {
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
                            return Err(crate::events::open_error::open_error(
                                &ev, &e, task, cpu as i32,
                            ));
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
    let ktext = synth::kernel_text_start(crate::dirs::cache_dir().as_deref());
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
                side.extend(encode::fork(p.pid, p.pid, *tid, p.pid, true, trailer));
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
