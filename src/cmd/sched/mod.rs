//! `rperf sched`: scheduler analysis of a `sched record` file in perf 6.1's layouts:
//! `latency` (per-task delays between wake-up and running), `timehist` (one line per context
//! switch: time waited, scheduling delay, time run), `map` (which task each CPU ran).
//! `sched record` and `sched script` are `record` and `script` with perf's arguments (cli.rs).
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::data::{Header, Record, Sample};
use crate::replay::{Filter, Item, Replay};
use crate::report::trace::{self, Format};

mod latency;
mod map;
mod timehist;

use latency::Latency;
use map::Map;
use timehist::Timehist;

mod threads;

use threads::*;

/// The events `perf sched record` records, in its order; `sched_waking` replaces
/// `sched_wakeup` where the kernel has it (perf's choice, so both read alike).
pub fn record_events(has_waking: bool) -> Vec<&'static str> {
    let mut v = vec![
        "sched:sched_switch",
        "sched:sched_stat_runtime",
        "sched:sched_process_fork",
        "sched:sched_wakeup_new",
        "sched:sched_migrate_task",
    ];
    v.push(if has_waking {
        "sched:sched_waking"
    } else {
        "sched:sched_wakeup"
    });
    v
}

/// `sched latency`'s sort keys (perf's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Thread id.
    Pid,
    /// Average delay.
    Avg,
    /// Maximum delay.
    Max,
    /// Number of switches.
    Switch,
    /// Total run time.
    Runtime,
}

impl SortKey {
    /// Parses perf's `--sort` list (`,` or space separated).
    pub fn parse_list(text: &str) -> Result<Vec<SortKey>> {
        text.split([',', ' '])
            .filter(|t| !t.is_empty())
            .map(|t| {
                Ok(match t {
                    "pid" => SortKey::Pid,
                    "avg" => SortKey::Avg,
                    "max" => SortKey::Max,
                    "switch" => SortKey::Switch,
                    "runtime" => SortKey::Runtime,
                    _ => bail!("unknown --sort key '{t}': use runtime, switch, avg, max or pid"),
                })
            })
            .collect()
    }
}

/// A comma-separated id list (`-p`/`-t`); 0, the idle task, is an id too.
pub fn ids(text: Option<&str>, what: &str) -> Result<Vec<i32>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            t.trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("invalid {what} '{t}': give ids like 1234,5678"))
        })
        .collect()
}

/// `sched latency` options.
#[derive(Debug, Clone)]
pub struct LatencyOpts {
    /// `--sort` keys, first decides.
    pub sort: Vec<SortKey>,
    /// `-p`: one row per thread instead of per command name.
    pub per_pid: bool,
    /// `-C`: the one CPU profiled (perf then trusts every wake-up).
    pub cpu: Option<u32>,
}

/// `sched timehist` options.
#[derive(Debug, Clone, Default)]
pub struct TimehistOpts {
    /// `-s`: only the summary.
    pub summary_only: bool,
    /// `-S`: the lines and the summary.
    pub with_summary: bool,
    /// `-w`: wake-up lines.
    pub wakeups: bool,
    /// `-M`: migration lines (and counts in the summary).
    pub migrations: bool,
    /// `-V`: a column per CPU.
    pub cpu_visual: bool,
    /// `-n`: the next task.
    pub next: bool,
    /// `--state`: the switched-out task's state, and the wait-time summary.
    pub state: bool,
    /// `-I`: idle time only, charged to the task that ran before.
    pub idle_hist: bool,
    /// `-g` (on by default): call chains of samples that have them.
    pub callchain: bool,
    /// `--max-stack`.
    pub max_stack: usize,
    /// `-p`.
    pub pids: Vec<i32>,
    /// `-t`.
    pub tids: Vec<i32>,
    /// `-C`.
    pub cpus: Vec<u32>,
    /// `--time start,stop`.
    pub time: Option<String>,
}

/// `sched map` options.
#[derive(Debug, Clone, Default)]
pub struct MapOpts {
    /// `--compact`: only the CPUs that ran something, in first-seen order.
    pub compact: bool,
    /// `--cpus`: only these CPUs' switches.
    pub cpus: Option<Vec<u32>>,
}

/// What to do with the file.
#[derive(Debug, Clone)]
pub enum Analysis {
    /// `sched latency`.
    Latency(LatencyOpts),
    /// `sched timehist`.
    Timehist(TimehistOpts),
    /// `sched map`.
    Map(MapOpts),
}

/// Everything `rperf sched latency|timehist|map` needs.
#[derive(Debug, Clone)]
pub struct SchedConfig {
    /// `-i`.
    pub input: PathBuf,
    /// `--symfs` (timehist's call chains).
    pub symfs: Option<PathBuf>,
    /// The analysis.
    pub analysis: Analysis,
}

/// The scheduler tracepoints the analyses follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Switch,
    Runtime,
    Wakeup,
    Waking,
    Migrate,
    Other,
}

/// Each event of the file: its kind and payload format.
struct Events {
    kinds: Vec<Kind>,
    formats: Vec<Option<Format>>,
}

impl Events {
    fn new(header: &Header) -> Events {
        let all = header
            .tracing_data
            .as_deref()
            .map(trace::parse_tracing_data)
            .unwrap_or_default();
        let kinds = header
            .events
            .iter()
            .map(|e| match e.name.as_str() {
                "sched:sched_switch" => Kind::Switch,
                "sched:sched_stat_runtime" => Kind::Runtime,
                "sched:sched_wakeup_new" => Kind::Wakeup,
                // perf 6.1's latency and map follow sched_wakeup alone, timehist
                // sched_waking too.
                "sched:sched_waking" => Kind::Waking,
                "sched:sched_wakeup" => Kind::Wakeup,
                "sched:sched_migrate_task" => Kind::Migrate,
                _ => Kind::Other,
            })
            .collect();
        let formats = header
            .events
            .iter()
            .map(|e| e.tracepoint.and_then(|id| all.get(&id).cloned()))
            .collect();
        Events { kinds, formats }
    }

    fn kind(&self, s: &Sample) -> Kind {
        self.kinds.get(s.event).copied().unwrap_or(Kind::Other)
    }

    fn int(&self, s: &Sample, name: &str) -> i64 {
        match (self.formats.get(s.event), s.raw.as_deref()) {
            (Some(Some(f)), Some(raw)) => trace::int_field(f, raw, name).unwrap_or(0),
            _ => 0,
        }
    }

    fn text(&self, s: &Sample, name: &str) -> String {
        match (self.formats.get(s.event), s.raw.as_deref()) {
            (Some(Some(f)), Some(raw)) => trace::str_field(f, raw, name).unwrap_or_default(),
            _ => String::new(),
        }
    }
}

/// The bytes of feature section `bit` of a perf.data file (None for a pipe, a damaged
/// table, or a section over 64 KiB: these are short ones).
fn feature(input: &Path, bit: u32) -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    if input.as_os_str() == "-" {
        return None;
    }
    let mut f = std::fs::File::open(input).ok()?;
    let h = crate::data::header::FileHeader::read(&mut f).ok()?;
    let table = h.read_feature_table(&mut f).ok()?;
    let (_, sec) = table.into_iter().find(|(b, _)| *b == bit)?;
    if sec.size > 1 << 16 {
        return None;
    }
    let mut b = vec![0u8; sec.size as usize];
    f.seek(SeekFrom::Start(sec.offset)).ok()?;
    f.read_exact(&mut b).ok()?;
    Some(b)
}

/// The online CPU count the file's NRCPUS feature records.
fn nr_cpus_online(input: &Path) -> Option<u32> {
    let b = feature(input, crate::abi::feature::NRCPUS)?;
    let mut c = crate::data::header::Cursor::new(&b);
    let _avail = c.u32()?;
    c.u32().filter(|&n| n > 0)
}

/// The one-line error for a file that has no context switches to analyse.
fn no_switches(input: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{} has no sched:sched_switch events: record them with 'rperf sched record -- CMD' (or -a)",
        input.display()
    )
}

/// Runs `rperf sched latency|timehist|map`.
pub fn run(cfg: SchedConfig) -> Result<ExitCode> {
    // Only kernel frames are named (see timehist): no user binaries to load up front.
    let load_symbols = false;
    let mut replay = Replay::new(
        &cfg.input,
        cfg.symfs.clone(),
        Filter::default(),
        load_symbols,
    )?;
    let mut out = String::new();
    let mut state = match &cfg.analysis {
        Analysis::Latency(o) => State::Latency(Latency::new(o.clone())),
        Analysis::Timehist(o) => {
            let mut t = Timehist::new(o.clone());
            t.online = nr_cpus_online(&cfg.input);
            State::Timehist(Box::new(t))
        }
        Analysis::Map(o) => State::Map(Map::new(o.clone())),
    };
    let mut events: Option<Events> = None;
    let mut checked = false;
    let mut bad: Option<anyhow::Error> = None;
    let mut counts = Counts::default();
    let mut io_err: Option<std::io::Error> = None;
    replay.run(&cfg.input, |parts, header, item| {
        if bad.is_some() || io_err.is_some() {
            return;
        }
        let ev = events.get_or_insert_with(|| Events::new(header));
        if !checked {
            checked = true;
            if !ev.kinds.contains(&Kind::Switch) {
                bad = Some(no_switches(&cfg.input));
                return;
            }
            if let State::Timehist(t) = &mut state {
                t.start(header, &mut out);
            }
        }
        counts.events += 1;
        match item {
            Item::Side(rec) => {
                if let Record::Lost { count } = rec {
                    counts.lost += count;
                    counts.lost_chunks += 1;
                }
                match &mut state {
                    State::Latency(l) => l.side(rec),
                    State::Timehist(t) => t.side(rec),
                    State::Map(m) => m.side(rec),
                }
            }
            Item::Sample(s, _) => {
                let kind = ev.kind(&s);
                if kind == Kind::Switch {
                    if let Some(cpu) = s.cpu {
                        counts.switch(cpu, &s, ev);
                    }
                }
                match &mut state {
                    State::Latency(l) => l.sample(ev, kind, &s, &mut counts),
                    State::Timehist(t) => t.sample(ev, kind, &s, parts, &mut out),
                    State::Map(m) => m.sample(ev, kind, &s, &mut out),
                }
            }
        }
        if out.len() > 1 << 16 {
            io_err = flush(&mut out).err();
        }
    })?;
    if let Some(e) = bad {
        return Err(e);
    }
    if let Some(e) = io_err {
        return written(e);
    }
    if events.is_none() {
        // Not one record: no events at all.
        return Err(no_switches(&cfg.input));
    }
    match &mut state {
        State::Latency(l) => l.finish(&counts, &mut out),
        State::Timehist(t) => t.finish(&mut out),
        State::Map(_) => counts.bad_events(&mut out),
    }
    match flush(&mut out) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => written(e),
    }
}

/// Writes and clears `out`.
fn flush(out: &mut String) -> std::io::Result<()> {
    let mut so = std::io::stdout().lock();
    so.write_all(out.as_bytes())?;
    so.flush()?;
    out.clear();
    Ok(())
}

/// The outcome of a failed write: a closed pipe (`| head`) is a normal end.
fn written(e: std::io::Error) -> Result<ExitCode> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return Ok(ExitCode::SUCCESS);
    }
    Err(anyhow::Error::new(e).context("writing the output"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_parse_and_reject() {
        assert_eq!(
            SortKey::parse_list("avg, max").unwrap(),
            vec![SortKey::Avg, SortKey::Max]
        );
        assert!(SortKey::parse_list("bogus").is_err());
    }
}
