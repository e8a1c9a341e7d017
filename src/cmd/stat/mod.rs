//! `rperf stat`: open counters on a command, processes, threads or CPUs, run, and print the
//! counts the way perf stat does.
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::events::attr::{counting_attr, CountingOptions};
use crate::events::{self, Event, EventKind, SysSource, ToolEvent};
use crate::stat::format::{self, Options, Style};
use crate::stat::{Aggregation, Bucket, EventInfo, Results, Support};
use crate::sys::counter::{self, Count};
use crate::sys::workload::{self, Workload};
use crate::sys::{locale, signals, topology};
use crate::target::{header_target, resolve_cpus, resolve_tasks, Target};

mod cgroups;
mod counters;
mod interval;
mod serve;

use cgroups::*;
use counters::*;
use interval::*;

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
        let mut plan = match plan(&cfg, counted_child, &command_name) {
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
        let mut counters = match open_counters(&mut events, &plan, copts, &cgroups) {
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
            exit = serve::serve(
                bound,
                &cfg,
                &events,
                &mut plan,
                &mut counters,
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
