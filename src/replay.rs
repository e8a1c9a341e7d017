//! The one replay of a perf.data file that every reading command shares: side-band records
//! rebuild the session (threads, comms, address spaces), DWARF stacks are unwound ahead
//! when that pays, the binaries samples hit are loaded at the first sample, and each sample
//! is handed to the command with the verdict of the filters (perf's `--comm/--pid/--tid`,
//! `-C/--cpu` and `--time`). report, script, flamegraph and the exports are callbacks on it.
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::callchain::Stacks;
use crate::data::{self, Header, Record, Sample};
use crate::session::{Session, Symbolizer};

/// What the reading commands state about which samples they want.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `--comm`: command names.
    pub comms: Vec<String>,
    /// `--pid`: process ids.
    pub pids: Vec<i32>,
    /// `--tid`: thread ids.
    pub tids: Vec<i32>,
    /// `-C/--cpu`: CPUs.
    pub cpus: Vec<u32>,
    /// `--time`, as given: resolved against the file's sample times when it is opened.
    pub time: Option<String>,
}

/// perf's verdict on a sample: dropped before anything is counted (`-C`, `--time`), counted
/// in the totals but not shown (`--comm/--pid/--tid` in report, whose percentages stay
/// shares of everything), or shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Passes every filter.
    Shown,
    /// Counts in totals; hidden by a `--comm/--pid/--tid` filter.
    Hidden,
}

/// What a callback works with: the session replayed up to the sample, the symbolizer and
/// the stack unwinder, all owned by the replay so that each command stays a callback.
pub struct Parts {
    /// Threads, comms and address spaces at the sample's time.
    pub session: Session,
    /// Symbols of the binaries and the kernel.
    pub syms: Symbolizer,
    /// Frame-pointer chains and DWARF unwinding.
    pub stacks: Stacks,
}

/// One item of the replay, in time order. (Samples unboxed, as in [`Record`].)
#[allow(clippy::large_enum_variant)]
pub enum Item<'a, 'b> {
    /// A sample that was not dropped, with the filters' verdict.
    Sample(Sample<'a>, Verdict),
    /// A side-band record, already applied to the session.
    Side(&'b Record<'a>),
}

/// A replay of one input.
pub struct Replay {
    /// The parts callbacks use.
    pub parts: Parts,
    filter: Filter,
    load_symbols: bool,
}

impl Replay {
    /// A replay of `input` with binaries read below `symfs`. `load_symbols`: load the
    /// symbol tables of the binaries the file says samples hit at the first sample (in
    /// parallel), for commands that print symbols.
    pub fn new(
        input: &Path,
        symfs: Option<PathBuf>,
        filter: Filter,
        load_symbols: bool,
    ) -> Result<Replay> {
        let mut stacks = Stacks::new(symfs.clone());
        // DWARF stacks are unwound in parallel ahead of the pass where that pays.
        stacks.unwind_ahead(input)?;
        Ok(Replay {
            parts: Parts {
                session: Session::new(),
                syms: Symbolizer::new(symfs),
                stacks,
            },
            filter,
            load_symbols,
        })
    }

    /// Replays `input`, calling `on` for every side-band record (after the session applied
    /// it) and every sample the filters do not drop. Returns the file's header.
    pub fn run(
        &mut self,
        input: &Path,
        mut on: impl FnMut(&mut Parts, &Header, Item<'_, '_>),
    ) -> Result<Header> {
        let Replay {
            parts,
            filter,
            load_symbols,
        } = self;
        let mut started = false;
        let mut ranges: Option<Vec<TimeRange>> = None;
        let mut bad_time: Option<anyhow::Error> = None;
        let header = data::read(input, |header, rec| {
            if bad_time.is_some() {
                return;
            }
            let Record::Sample(s) = rec else {
                parts.session.apply(&rec);
                on(parts, header, Item::Side(&rec));
                return;
            };
            if !started {
                started = true;
                parts.syms.recorded_on(header.kernel_build_id.clone());
                // The first sample: the binaries known so far, of those samples hit, load
                // at once.
                if *load_symbols {
                    parts.syms.preload(&parts.session, &header.hits);
                }
                parts.stacks.binaries(&header.hits);
                // perf refuses -C on a file whose samples carry no CPU rather than show
                // nothing.
                if !filter.cpus.is_empty() && s.cpu.is_none() {
                    bad_time = Some(anyhow::anyhow!(
                        "{}: its samples do not say their CPU (recorded without -a/-C): \
                         remove -C/--cpu to proceed",
                        input.display()
                    ));
                    return;
                }
                if let Some(t) = &filter.time {
                    match TimeRange::parse_all(t, header.sample_time) {
                        Ok(r) => ranges = Some(r),
                        Err(e) => {
                            bad_time = Some(e);
                            return;
                        }
                    }
                }
            }
            if !filter.cpus.is_empty() && !s.cpu.is_some_and(|c| filter.cpus.contains(&c)) {
                return;
            }
            if let Some(r) = &ranges {
                if TimeRange::skips(r, s.time) {
                    return;
                }
            }
            let hidden = (!filter.pids.is_empty() && !filter.pids.contains(&s.pid))
                || (!filter.tids.is_empty() && !filter.tids.contains(&s.tid))
                || (!filter.comms.is_empty() && {
                    let id = parts.session.comm_id(s.tid);
                    let name = parts.session.comm_name(id);
                    !filter.comms.iter().any(|c| c == name)
                });
            let verdict = if hidden {
                Verdict::Hidden
            } else {
                Verdict::Shown
            };
            on(parts, header, Item::Sample(s, verdict));
        })?;
        if let Some(e) = bad_time {
            return Err(e);
        }
        Ok(header)
    }
}

/// One `--time` window in nanoseconds; 0 leaves that end open, as in perf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First time kept.
    pub start: u64,
    /// Last time kept.
    pub end: u64,
}

impl TimeRange {
    /// perf's `--time` argument: `start,stop` in seconds (either may be empty), several
    /// such windows separated by spaces, or shares of the recording: `10%/2` (the second
    /// tenth), `0%-10%,30%-40%`, `25%`. Shares need the first and last sample times the
    /// file records (its SAMPLE_TIME feature).
    pub fn parse_all(text: &str, sample_time: Option<(u64, u64)>) -> Result<Vec<TimeRange>> {
        let invalid =
            || anyhow::anyhow!("invalid --time '{text}' (start,stop in seconds, or 10%/2, 0%-10%)");
        if text.contains('%') {
            let Some((first, last)) = sample_time.filter(|&(a, b)| a != 0 || b != 0) else {
                bail!(
                    "--time with percentages needs the first and last sample times, which this \
                     file does not record (give start,stop in seconds instead)"
                );
            };
            let mut out = Vec::new();
            if text.contains('/') {
                for part in text.split(',') {
                    let (pct, nth) = part.split_once('/').ok_or_else(invalid)?;
                    let pct = percent(pct).ok_or_else(invalid)?;
                    let nth: i64 = nth.parse().map_err(|_| invalid())?;
                    if pct <= 0.0 {
                        return Err(invalid());
                    }
                    let (a, b) = (pct * (nth - 1) as f64, pct * nth as f64);
                    out.push(share(a, b, first, last).ok_or_else(invalid)?);
                }
            } else if text.contains('-') {
                for part in text.split(',') {
                    let (a, b) = part.split_once('-').ok_or_else(invalid)?;
                    let (a, b) = (
                        percent(a).ok_or_else(invalid)?,
                        percent(b).ok_or_else(invalid)?,
                    );
                    out.push(share(a, b, first, last).ok_or_else(invalid)?);
                }
            } else {
                if !text.ends_with('%') {
                    return Err(invalid());
                }
                let pct = percent(text).ok_or_else(invalid)?;
                if pct <= 0.0 {
                    return Err(invalid());
                }
                out.push(share(0.0, pct, first, last).ok_or_else(invalid)?);
            }
            return Ok(out);
        }
        let pieces = text.split_whitespace().collect::<Vec<_>>();
        if pieces.is_empty() || !pieces.iter().all(|p| p.matches(',').count() == 1) {
            return Err(invalid());
        }
        let mut out = Vec::with_capacity(pieces.len());
        for p in pieces {
            let (a, b) = p.split_once(',').ok_or_else(invalid)?;
            let start = if a.is_empty() {
                0
            } else {
                seconds(a).ok_or_else(invalid)?
            };
            let end = if b.is_empty() {
                0
            } else {
                seconds(b).ok_or_else(invalid)?
            };
            if end != 0 && end < start {
                return Err(invalid());
            }
            out.push(TimeRange { start, end });
        }
        if out.windows(2).any(|w| w[0].end >= w[1].start) {
            return Err(invalid());
        }
        Ok(out)
    }

    /// Whether a sample at `time` falls outside every window (a time of 0, unknown, never
    /// does).
    pub fn skips(ranges: &[TimeRange], time: u64) -> bool {
        if time == 0 || ranges.is_empty() {
            return false;
        }
        if let [r] = ranges {
            return (r.start != 0 && time < r.start) || (r.end != 0 && time > r.end);
        }
        !ranges
            .iter()
            .any(|r| time >= r.start && (r.end == 0 || time <= r.end))
    }
}

/// `12345.678901` seconds in nanoseconds (at most nine decimals).
fn seconds(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 9 || !whole.bytes().all(|b| b.is_ascii_digit()) || whole.is_empty() {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ns: u64 = format!("{frac:0<9}").parse().ok()?;
    whole
        .parse::<u64>()
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(ns)
}

/// `12.5%` as 0.125.
fn percent(s: &str) -> Option<f64> {
    let v: f64 = s.strip_suffix('%')?.parse().ok()?;
    Some(v / 100.0)
}

/// The window between shares `a` and `b` of the recording from `first` to `last`; the end
/// is pulled in by a nanosecond so that adjacent slices do not share a sample, except at
/// the very end.
fn share(a: f64, b: f64, first: u64, last: u64) -> Option<TimeRange> {
    if !(0.0..=1.0).contains(&a) || !(0.0..=1.0).contains(&b) {
        return None;
    }
    let total = last.saturating_sub(first) as f64;
    let start = first + (a * total).round() as u64;
    let mut end = first + (b * total).round() as u64;
    if end > start && end != last {
        end -= 1;
    }
    Some(TimeRange { start, end })
}

/// perf's rule for reading a perf.data: a file that belongs to another user (root's files
/// excepted) is refused unless `-f/--force` is given, since its content is that user's to
/// craft and rperf often runs as root. `-` (a pipe) and missing files pass here (the reader
/// names a missing file); a FIFO named as a file is refused (opening it would wait for a
/// writer: streams come through `-`).
pub fn check_input(path: &std::path::Path, force: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    if path.as_os_str() == "-" {
        return Ok(());
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if meta.file_type().is_fifo() {
        anyhow::bail!(
            "{} is a FIFO: read a stream from standard input with `-i - < {0}`",
            path.display()
        );
    }
    if !force && !crate::sys::ids::trusted_owner(meta.uid()) {
        anyhow::bail!(
            "File {} not owned by current user or root (use -f to override)",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_windows_parse_like_perf() {
        let r = TimeRange::parse_all("12.5,13", None).unwrap();
        assert_eq!(
            r,
            [TimeRange {
                start: 12_500_000_000,
                end: 13_000_000_000
            }]
        );
        let r = TimeRange::parse_all(",1.000000001", None).unwrap();
        assert_eq!(
            r,
            [TimeRange {
                start: 0,
                end: 1_000_000_001
            }]
        );
        let r = TimeRange::parse_all("1,2 3,", None).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[1],
            TimeRange {
                start: 3_000_000_000,
                end: 0
            }
        );
        for bad in ["", "5", "2,1", "1,3 2,4", "1.0123456789,", "x,1", "1,2,3"] {
            assert!(TimeRange::parse_all(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn shares_split_the_recording() {
        let span = Some((1_000, 2_000));
        let r = TimeRange::parse_all("10%/2", span).unwrap();
        assert_eq!(
            r,
            [TimeRange {
                start: 1_100,
                end: 1_199
            }]
        );
        let r = TimeRange::parse_all("0%-10%,90%-100%", span).unwrap();
        assert_eq!(
            r,
            [
                TimeRange {
                    start: 1_000,
                    end: 1_099
                },
                TimeRange {
                    start: 1_900,
                    end: 2_000
                }
            ]
        );
        assert_eq!(
            TimeRange::parse_all("50%", span).unwrap(),
            [TimeRange {
                start: 1_000,
                end: 1_499
            }]
        );
        assert!(TimeRange::parse_all("50%", None).is_err());
        assert!(TimeRange::parse_all("120%-130%", span).is_err());
    }

    #[test]
    fn samples_outside_every_window_are_skipped() {
        let one = [TimeRange { start: 10, end: 20 }];
        assert!(TimeRange::skips(&one, 9));
        assert!(!TimeRange::skips(&one, 10));
        assert!(!TimeRange::skips(&one, 20));
        assert!(TimeRange::skips(&one, 21));
        assert!(!TimeRange::skips(&one, 0), "unknown times are kept");
        let open = [TimeRange { start: 10, end: 0 }];
        assert!(!TimeRange::skips(&open, u64::MAX));
        let two = [
            TimeRange { start: 10, end: 20 },
            TimeRange { start: 30, end: 0 },
        ];
        assert!(TimeRange::skips(&two, 25));
        assert!(!TimeRange::skips(&two, 35));
    }
}
