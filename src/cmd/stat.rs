//! `rperf stat`: open counters on a command, processes, threads or CPUs, run, and print the
//! counts the way perf stat does.
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cgroup::Cgroup;
use crate::events::attr::{counting_attr, CountingOptions};
use crate::events::{self, Event, EventKind, SysSource, ToolEvent};
use crate::stat::format::{self, Options, Style};
use crate::stat::{Aggregation, Bucket, EventInfo, Results, Support};
use crate::sys::counter::{self, Count};
use crate::sys::workload::{self, Workload};
use crate::sys::{locale, signals, topology};
use crate::target::{header_target, resolve_cpus, resolve_tasks, Target};

/// Everything `rperf stat` needs, free of clap.
#[derive(Debug, Clone, Default)]
pub struct StatConfig {
    /// `-e` arguments.
    pub events: Vec<String>,
    /// `-d` count.
    pub detailed: u8,
    /// What to count.
    pub target: Target,
    /// `-r`.
    pub repeat: u32,
    /// Output style.
    pub style: Style,
    /// `-I` in milliseconds.
    pub interval_ms: Option<u64>,
    /// `--interval-count`.
    pub interval_count: Option<u64>,
    /// Row grouping.
    pub aggregation: Aggregation,
    /// `-o`.
    pub output: Option<PathBuf>,
    /// `--append`.
    pub append: bool,
    /// Thousands grouping (perf's default on).
    pub big_num: bool,
    /// Counters inherited by children.
    pub inherit: bool,
    /// `-G` as typed.
    pub cgroups: Option<String>,
    /// `--for-each-cgroup` as typed.
    pub for_each_cgroup: Option<String>,
    /// `--serve ADDR:PORT`.
    pub serve: Option<String>,
}

/// The events perf stat counts when none are given, plus the `-d` levels.
pub fn default_events(system_wide: bool, detailed: u8) -> Vec<String> {
    let clock = if system_wide {
        "cpu-clock"
    } else {
        "task-clock"
    };
    let mut v: Vec<String> = [
        clock,
        "context-switches",
        "cpu-migrations",
        "page-faults",
        "cycles",
        "instructions",
        "branches",
        "branch-misses",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let levels: [&[&str]; 3] = [
        &[
            "L1-dcache-loads",
            "L1-dcache-load-misses",
            "LLC-loads",
            "LLC-load-misses",
        ],
        &[
            "L1-icache-loads",
            "L1-icache-load-misses",
            "dTLB-loads",
            "dTLB-load-misses",
            "iTLB-loads",
            "iTLB-load-misses",
        ],
        &["L1-dcache-prefetches", "L1-dcache-prefetch-misses"],
    ];
    for level in levels.iter().take(detailed as usize) {
        v.extend(level.iter().map(|s| s.to_string()));
    }
    v
}

/// Where counters are opened: one slot per CPU (pid -1) or per thread (cpu -1).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Cpu(u32),
    Task(i32),
}

/// Resolved targets for one run.
struct Plan {
    slots: Vec<Slot>,
    /// Buckets rows are printed for, and which bucket each slot adds into.
    buckets: Vec<Bucket>,
    slot_bucket: Vec<usize>,
    system_wide: bool,
}

fn plan(cfg: &StatConfig, child: Option<i32>, command_name: &str) -> Result<Plan> {
    let t = &cfg.target;
    let agg = cfg.aggregation;
    if let Some(cpus) = resolve_cpus(t)? {
        if agg == Aggregation::PerThread {
            bail!("--per-thread needs a command, -p or -t target, not system-wide counting");
        }
        let slots: Vec<Slot> = cpus.iter().map(|&c| Slot::Cpu(c)).collect();
        let (buckets, slot_bucket) = if agg == Aggregation::PerCpu {
            (
                cpus.iter().map(|&c| Bucket::Cpu(c)).collect(),
                (0..slots.len()).collect(),
            )
        } else {
            (vec![Bucket::Global], vec![0; slots.len()])
        };
        return Ok(Plan {
            slots,
            buckets,
            slot_bucket,
            system_wide: true,
        });
    }
    if agg == Aggregation::PerCpu {
        bail!("-A/--no-aggr/--per-cpu needs system-wide counting (-a or -C)");
    }
    let mut tasks = resolve_tasks(t)?;
    if let Some(pid) = child {
        tasks.push((pid, command_name.to_string()));
    }
    if tasks.is_empty() {
        bail!(
            "nothing to count: give a command (rperf stat -- CMD), -p PID, -t TID, -a or -C CPUS"
        );
    }
    let slots: Vec<Slot> = tasks.iter().map(|(t, _)| Slot::Task(*t)).collect();
    let (buckets, slot_bucket) = if agg == Aggregation::PerThread {
        (
            tasks
                .iter()
                .map(|(t, c)| Bucket::Thread(c.clone(), *t))
                .collect(),
            (0..slots.len()).collect(),
        )
    } else {
        (vec![Bucket::Global], vec![0; slots.len()])
    };
    Ok(Plan {
        slots,
        buckets,
        slot_bucket,
        system_wide: false,
    })
}

/// Which cgroup each event counts in (`of[event]` indexes `list`).
#[derive(Default)]
struct Cgroups {
    of: Vec<Option<usize>>,
    list: Vec<Cgroup>,
}

impl Cgroups {
    fn name(&self, e: usize) -> Option<String> {
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
fn apply_cgroups(
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

/// What the printers need to know of each event.
fn event_infos(events: &[Event], support: &[Support], cgroups: &Cgroups) -> Vec<EventInfo> {
    events
        .iter()
        .zip(support)
        .enumerate()
        .map(|(i, (e, s))| EventInfo {
            name: e.name.clone(),
            kind: e.kind.clone(),
            support: *s,
            cgroup: cgroups.name(i),
        })
        .collect()
}

/// Open counters: `fds[event][slot]`, `None` where the event has no fd (tool events or
/// unsupported).
struct Counters {
    fds: Vec<Vec<Option<OwnedFd>>>,
    support: Vec<Support>,
}

/// Opens every event on every slot. An event the kernel refuses to count in kernel space
/// (perf_event_paranoid >= 2, no CAP_PERFMON) is counted in user space only and renamed
/// `NAME:u` in `events`, as perf does.
fn open_counters(
    events: &mut [Event],
    plan: &Plan,
    opts: CountingOptions,
    cgroups: &Cgroups,
) -> Result<Counters> {
    let mut fds: Vec<Vec<Option<OwnedFd>>> = Vec::with_capacity(events.len());
    let mut support = Vec::with_capacity(events.len());
    let mut i = 0;
    while i < events.len() {
        let ev = &mut events[i];
        let leader = ev.leader.filter(|&l| l != i);
        let mut row: Vec<Option<OwnedFd>> = Vec::with_capacity(plan.slots.len());
        let Some(attr) = counting_attr(ev, leader.is_none(), opts) else {
            // Tool events are computed, not opened.
            fds.push((0..plan.slots.len()).map(|_| None).collect());
            support.push(Support::Supported);
            i += 1;
            continue;
        };
        if let Some(l) = leader {
            if support[l] == Support::NotSupported {
                fds.push((0..plan.slots.len()).map(|_| None).collect());
                support.push(Support::NotSupported);
                i += 1;
                continue;
            }
        }
        let mut status = Support::Supported;
        let mut retry = false;
        for (s, slot) in plan.slots.iter().enumerate() {
            let (pid, cpu) = match slot {
                Slot::Cpu(c) => (-1, *c as i32),
                Slot::Task(t) => (*t, -1),
            };
            let group = leader.and_then(|l| fds[l][s].as_ref().map(|f| f.as_raw_fd()));
            let opened = match cgroups.of[i] {
                Some(g) => counter::open_in_cgroup(&attr, &cgroups.list[g].dir, cpu, group),
                None => counter::open(&attr, pid, cpu, group),
            };
            match opened {
                Ok(fd) => row.push(Some(fd)),
                Err(e) if super::is_unsupported(&e) => {
                    status = Support::NotSupported;
                    break;
                }
                Err(e)
                    if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM))
                        && counter::paranoid().is_some_and(|p| p > 1)
                        && ev.fall_back_to_user() =>
                {
                    retry = true;
                    break;
                }
                Err(e) => return Err(super::open_error(ev, &e, pid, cpu)),
            }
        }
        if retry {
            // Same event again, now user space only; the fds opened so far are dropped.
            continue;
        }
        if status == Support::NotSupported {
            row = (0..plan.slots.len()).map(|_| None).collect();
        }
        fds.push(row);
        support.push(status);
        i += 1;
    }
    Ok(Counters { fds, support })
}

fn for_each_leader(
    events: &[Event],
    c: &Counters,
    f: fn(&OwnedFd) -> io::Result<()>,
) -> Result<()> {
    for (i, row) in c.fds.iter().enumerate() {
        if events[i].leader.is_some_and(|l| l != i) {
            continue;
        }
        for fd in row.iter().flatten() {
            f(fd).with_context(|| format!("enabling/disabling event '{}'", events[i].name))?;
        }
    }
    Ok(())
}

fn read_counts(c: &Counters) -> Result<Vec<Vec<Option<Count>>>> {
    c.fds
        .iter()
        .map(|row| {
            row.iter()
                .map(|fd| fd.as_ref().map(counter::read).transpose())
                .collect::<io::Result<Vec<_>>>()
        })
        .collect::<io::Result<Vec<_>>>()
        .context("reading counters")
}

/// Times the tool events need.
#[derive(Debug, Clone, Copy, Default)]
struct ToolTimes {
    wall_ns: f64,
    user_ns: f64,
    sys_ns: f64,
}

/// Adds one run's (or one interval's) counts into `results`, aggregated per bucket.
fn accumulate(
    results: &mut Results,
    events: &[Event],
    plan: &Plan,
    counts: &[Vec<Option<Count>>],
    tools: ToolTimes,
) {
    for (e, ev) in events.iter().enumerate() {
        if let EventKind::Tool(t) = ev.kind {
            let v = match t {
                ToolEvent::DurationTime => tools.wall_ns,
                ToolEvent::UserTime => tools.user_ns,
                ToolEvent::SystemTime => tools.sys_ns,
            };
            for b in 0..plan.buckets.len() {
                results.values[e][b].add_tool(v);
            }
            continue;
        }
        let mut sums = vec![(0.0f64, false, 0u64, 0u64); plan.buckets.len()];
        for (s, c) in counts[e].iter().enumerate() {
            let Some(c) = c else { continue };
            let b = plan.slot_bucket[s];
            if let Some(v) = crate::stat::scaled(*c) {
                sums[b].0 += v;
                sums[b].1 = true;
            }
            sums[b].2 += c.enabled;
            sums[b].3 += c.running;
        }
        for (b, (v, counted, en, run)) in sums.into_iter().enumerate() {
            results.values[e][b].add_observation(counted.then_some(v), en, run);
        }
    }
}

fn delta(now: &[Vec<Option<Count>>], prev: &[Vec<Option<Count>>]) -> Vec<Vec<Option<Count>>> {
    now.iter()
        .zip(prev)
        .map(|(n, p)| {
            n.iter()
                .zip(p)
                .map(|(n, p)| match (n, p) {
                    (Some(n), Some(p)) => Some(*n - *p),
                    (n, _) => *n,
                })
                .collect()
        })
        .collect()
}

/// The output sink: stderr by default, or `-o FILE`.
struct Sink {
    file: Option<std::fs::File>,
}

impl Sink {
    fn open(cfg: &StatConfig) -> Result<Sink> {
        let file = match &cfg.output {
            Some(p) => Some(
                OpenOptions::new()
                    .create(true)
                    .write(true)
                    .append(cfg.append)
                    .truncate(!cfg.append)
                    .open(p)
                    .map_err(|e| {
                        let hint = if e.kind() == io::ErrorKind::PermissionDenied {
                            " (pick a file you may write with -o FILE)"
                        } else {
                            ""
                        };
                        anyhow::anyhow!("cannot open output file {}: {e}{hint}", p.display())
                    })?,
            ),
            None => None,
        };
        Ok(Sink { file })
    }

    fn write(&mut self, s: &str) -> Result<()> {
        let r = match &mut self.file {
            Some(f) => f.write_all(s.as_bytes()),
            None => io::stderr().lock().write_all(s.as_bytes()),
        };
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            r => r.context("writing the counts"),
        }
    }
}

/// Runs `rperf stat`.
pub fn run(cfg: StatConfig) -> Result<ExitCode> {
    signals::install();
    let t = &cfg.target;
    let has_cmd = !t.command.is_empty();
    let system_wide = t.system_wide || t.cpu_list.is_some();
    // As perf: with -p/-t (or -a) a command only sets how long to count; it is not counted.
    let timer_only = has_cmd && (!t.pids.is_empty() || !t.tids.is_empty());
    let specs = if cfg.events.is_empty() {
        vec![default_events(system_wide, cfg.detailed).join(",")]
    } else {
        let mut v = cfg.events.clone();
        if cfg.detailed > 0 {
            v.push(default_events(system_wide, cfg.detailed)[8..].join(","));
        }
        v
    };
    let events = events::parse_all(&specs, &SysSource::default())?;
    let (mut events, cgroups) = apply_cgroups(&cfg, events, system_wide)?;
    // Bound before anything is counted: a taken port is an error, not a lost run.
    let mut server = cfg.serve.as_deref().map(super::serve::bind).transpose()?;
    let thousands = match (&cfg.style, cfg.big_num) {
        (Style::Human, true) => locale::thousands_separator(),
        _ => String::new(),
    };
    let opts = Options {
        style: cfg.style.clone(),
        thousands_sep: thousands,
        runs: cfg.repeat,
        aggregation: cfg.aggregation,
    };
    let mut sink = Sink::open(&cfg)?;
    let command_name = t
        .command
        .first()
        .map(|c| {
            c.rsplit('/')
                .next()
                .unwrap_or(c)
                .chars()
                .take(15)
                .collect::<String>()
        })
        .unwrap_or_default();

    let mut results: Option<Results> = None;
    let mut exit_code = 0i32;
    let mut last_user_sys = None;
    for _ in 0..cfg.repeat {
        let mut work = if has_cmd {
            Some(
                Workload::prepare(&t.command, workload::Stdio::default())
                    .map_err(|e| super::command_error(&t.command[0], &e))?,
            )
        } else {
            None
        };
        let child = work.as_ref().map(|w| w.pid());
        let counted_child = if system_wide || timer_only {
            None
        } else {
            child
        };
        let plan = match plan(&cfg, counted_child, &command_name) {
            Ok(p) => p,
            Err(e) => {
                if let Some(w) = &work {
                    signals::kill(w.pid(), libc::SIGKILL);
                    let _ = w.wait();
                }
                return Err(e);
            }
        };
        let copts = CountingOptions {
            inherit: cfg.inherit,
            enable_on_exec: counted_child.is_some(),
        };
        let counters = match open_counters(&mut events, &plan, copts, &cgroups) {
            Ok(c) => c,
            Err(e) => {
                if let Some(w) = &work {
                    signals::kill(w.pid(), libc::SIGKILL);
                    let _ = w.wait();
                }
                return Err(e);
            }
        };
        let res = results.get_or_insert_with(|| {
            Results::new(
                event_infos(&events, &counters.support, &cgroups),
                plan.buckets.clone(),
            )
        });
        let t0 = Instant::now();
        if !copts.enable_on_exec {
            for_each_leader(&events, &counters, counter::enable)?;
        }
        if let Some(w) = work.as_mut() {
            w.start()
                .map_err(|e| super::command_error(&t.command[0], &e))?;
        }
        let mut exit = None;
        if let Some(bound) = server.take() {
            exit = serve(
                bound,
                &cfg,
                &events,
                &plan,
                &counters,
                &cgroups,
                work.as_ref(),
            )?;
        } else if let Some(ms) = cfg.interval_ms {
            exit = interval_loop(
                &cfg,
                &opts,
                &events,
                &plan,
                &counters,
                work.as_ref(),
                t0,
                ms,
                &mut sink,
                &cgroups,
            )?;
        } else if let Some(w) = &work {
            exit = Some(w.wait().context("waiting for the command")?);
        } else {
            wait_for_stop(&plan, &cfg.target);
        }
        for_each_leader(&events, &counters, counter::disable)?;
        let wall = t0.elapsed().as_nanos() as f64;
        if cfg.interval_ms.is_some() {
            if let Some(e) = exit {
                exit_code = e.code;
            }
            break;
        }
        let counts = read_counts(&counters)?;
        let tools = ToolTimes {
            wall_ns: wall,
            user_ns: exit.map(|e| e.user_s * 1e9).unwrap_or(0.0),
            sys_ns: exit.map(|e| e.sys_s * 1e9).unwrap_or(0.0),
        };
        accumulate(res, &events, &plan, &counts, tools);
        res.wall_ns.update(wall);
        if let Some(e) = exit {
            exit_code = e.code;
            last_user_sys = Some((e.user_s, e.sys_s));
        }
        if signals::received().is_some() {
            break;
        }
    }
    let Some(res) = results else {
        return Ok(ExitCode::from(exit_code as u8));
    };
    if cfg.interval_ms.is_none() {
        let mut out = String::new();
        let human = matches!(opts.style, Style::Human);
        if human {
            out.push_str(&format::header(&header_target(t), cfg.repeat));
        }
        format::rows(&mut out, &res, &opts, None, res.wall_ns.mean);
        if human {
            let ru = if has_cmd && !system_wide && !timer_only {
                last_user_sys
            } else {
                None
            };
            out.push_str(&format::footer(&res.wall_ns, cfg.repeat, ru));
        }
        sink.write(&out)?;
    }
    Ok(ExitCode::from(exit_code.clamp(0, 255) as u8))
}

/// `--serve`: answers scrapes until the command ends, or without one until Ctrl-C/SIGTERM
/// or every `-p`/`-t` task is gone. Each series is one event over the slots that share its
/// labels: CPUs with `-A`, processes (threads summed) with `-p`, threads with
/// `--per-thread`, else everything.
fn serve(
    bound: super::serve::Bound,
    cfg: &StatConfig,
    events: &[Event],
    plan: &Plan,
    counters: &Counters,
    cgroups: &Cgroups,
    work: Option<&Workload>,
) -> Result<Option<workload::Exit>> {
    use crate::stat::prometheus::{families, label_value, EventDesc};
    let descs: Vec<Option<EventDesc>> = events
        .iter()
        .zip(&counters.support)
        .enumerate()
        .map(|(i, (e, s))| {
            (*s == Support::Supported && !matches!(e.kind, EventKind::Tool(_))).then(|| EventDesc {
                name: e.name.clone(),
                cgroup: cgroups.name(i),
                unit: if e.kind.is_clock() {
                    "nanoseconds"
                } else {
                    "events"
                },
            })
        })
        .collect();
    let slot_labels: Vec<String> = plan
        .slots
        .iter()
        .map(|slot| match slot {
            Slot::Cpu(c) if cfg.aggregation == Aggregation::PerCpu => format!("cpu=\"{c}\""),
            Slot::Cpu(_) => String::new(),
            Slot::Task(t) => {
                let pid = tgid_of(*t).unwrap_or(*t);
                let comm = topology::comm_of(pid).unwrap_or_default();
                let mut l = format!("pid=\"{pid}\",comm=\"{}\"", label_value(&comm));
                if cfg.aggregation == Aggregation::PerThread {
                    l.push_str(&format!(",tid=\"{t}\""));
                }
                l
            }
        })
        .collect();
    let fams = families(&descs, &slot_labels);
    eprintln!(
        "rperf stat: serving {} counter families at http://{}/metrics (Ctrl-C stops)",
        fams.len(),
        bound.addr
    );
    let mut exit = None;
    let mut failed = None;
    super::serve::run(bound, &fams, &|| read_counts(counters), || match work {
        Some(w) => match w.wait() {
            Ok(e) => exit = Some(e),
            Err(e) => failed = Some(e),
        },
        None => wait_for_stop(plan, &cfg.target),
    })?;
    if let Some(e) = failed {
        return Err(anyhow::Error::new(e).context("waiting for the command"));
    }
    Ok(exit)
}

/// The process a thread belongs to (`Tgid:` in its status file).
fn tgid_of(tid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Without a command: count until Ctrl-C/SIGTERM, or until every `-p`/`-t` task is gone.
fn wait_for_stop(plan: &Plan, t: &Target) {
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
fn interval_loop(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_perf() {
        let d = default_events(false, 0);
        assert_eq!(d[0], "task-clock");
        assert_eq!(d.len(), 8);
        assert_eq!(default_events(true, 0)[0], "cpu-clock");
        assert_eq!(default_events(false, 1).len(), 12);
        assert_eq!(default_events(false, 2).len(), 18);
        assert_eq!(
            default_events(false, 3).last().unwrap(),
            "L1-dcache-prefetch-misses"
        );
    }
}
