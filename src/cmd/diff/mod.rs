//! `rperf diff`: two or more perf.data files compared entry by entry, in perf 6.1's `perf
//! diff` layout. Each file is summed by report's own aggregation
//! ([`crate::cmd::report::histogram`]); entries pair up by name (binary short name, function
//! name, command…), never by address, so a rebuilt binary's functions still pair.
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use rustc_hash::FxHashMap;

use crate::cmd::report::{self, Cell, Entry, SortKey, SymCell};

mod print;
mod read;

use print::*;
pub(crate) use read::same_event;
use read::*;

/// `-c/--compute`: what each NEW file's column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compute {
    /// Share in NEW minus share in OLD, ordered by value.
    Delta,
    /// As delta, ordered by absolute value (perf's default).
    DeltaAbs,
    /// NEW period / OLD period.
    Ratio,
    /// NEW period × w2 − OLD period × w1.
    Wdiff(i64, i64),
}

impl Compute {
    /// Parses perf's `-c` value: `delta`, `delta-abs`, `ratio` or `wdiff:w1,w2`.
    pub fn parse(s: &str) -> Result<Compute> {
        let (name, opt) = match s.split_once(':') {
            Some((n, o)) => (n, Some(o)),
            None => (s, None),
        };
        let c = match name {
            "delta" => Compute::Delta,
            "delta-abs" => Compute::DeltaAbs,
            "ratio" => Compute::Ratio,
            "wdiff" => {
                let w = opt.and_then(|o| o.split_once(',')).and_then(|(a, b)| {
                    Some((a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?))
                });
                return match w {
                    Some((w1, w2)) if w1 != 0 && w2 != 0 => Ok(Compute::Wdiff(w1, w2)),
                    _ => bail!("-c {s}: wrong weights, use 'wdiff:w1,w2' with non-zero integers"),
                };
            }
            // perf 6.1 computes it from LBR branch stacks' cycle counts, which rperf
            // neither records nor reads (and this kind of VM has no LBR).
            "cycles" => bail!(
                "-c cycles compares basic-block cycles from branch stacks (perf record -b on \
                 LBR hardware), which rperf does not support: use delta, delta-abs, ratio or \
                 wdiff:w1,w2"
            ),
            _ => bail!(
                "-c {s}: not a computation method (use delta, delta-abs, ratio or wdiff:w1,w2)"
            ),
        };
        if opt.is_some() {
            bail!("-c {s}: only wdiff takes a value after ':'");
        }
        Ok(c)
    }

    /// The column header, as perf names it.
    fn header(self) -> (&'static str, usize) {
        match self {
            Compute::Delta => ("Delta", 7),
            Compute::DeltaAbs => ("Delta Abs", 7),
            Compute::Ratio => ("Ratio", 14),
            Compute::Wdiff(..) => ("Weighted diff", 14),
        }
    }
}

/// Options of `rperf diff`.
#[derive(Debug, Clone)]
pub struct DiffConfig {
    /// The baseline, then the files compared with it.
    pub files: Vec<PathBuf>,
    /// `-s/--sort` (default dso,sym).
    pub sort: Vec<SortKey>,
    /// `-c/--compute`.
    pub compute: Compute,
    /// `--percentage relative`: shares of what the filters keep, not of everything.
    pub relative: bool,
    /// `-p/--period`: the periods too.
    pub period: bool,
    /// `-F/--formula`: how each value was computed.
    pub formula: bool,
    /// `-o/--order`: the file whose column orders the rows first (0: none).
    pub order: usize,
    /// `-q/--quiet`: rows only.
    pub quiet: bool,
    /// `-b/--baseline-only`: only entries of the baseline that pair with another file's.
    pub baseline_only: bool,
    /// `--comms`, `--pid`, `--tid`: samples of other threads are hidden.
    pub filter: crate::replay::Filter,
    /// `-d/--dsos`: samples in other binaries are hidden.
    pub dsos: Vec<String>,
    /// `-S/--symbols`: samples in other functions are hidden.
    pub symbols: Vec<String>,
    /// `-t/--field-separator`.
    pub separator: Option<String>,
    /// `--symfs`.
    pub symfs: Option<PathBuf>,
    /// `-f/--force`: read files of other users.
    pub force: bool,
}

/// Runs `rperf diff`.
pub fn run(cfg: DiffConfig) -> Result<ExitCode> {
    if cfg.files.len() < 2 {
        bail!("rperf diff needs two files to compare: OLD NEW (default perf.data.old perf.data)");
    }
    if cfg.order >= cfg.files.len() {
        bail!(
            "--order {} is out of range: give a file index below {} (0 orders by baseline)",
            cfg.order,
            cfg.files.len()
        );
    }
    let files: Vec<Vec<Side>> = cfg
        .files
        .iter()
        .map(|f| read_side(&cfg, f))
        .collect::<Result<_>>()?;
    let base = &files[0];
    // Each NEW file's event for each baseline event, by name as perf's evsel__match2.
    let mut matched: Vec<Vec<Option<usize>>> = Vec::new();
    for (n, sides) in files.iter().enumerate().skip(1) {
        let m: Vec<Option<usize>> = base
            .iter()
            .map(|b| sides.iter().position(|s| same_event(&s.name, &b.name)))
            .collect();
        if m.iter().all(Option::is_none) {
            let names = |v: &[Side]| {
                v.iter()
                    .map(|s| format!("'{}'", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            bail!(
                "{} recorded {} and {} recorded {}: no event in common to compare (record \
                 both with the same -e)",
                cfg.files[0].display(),
                names(base),
                cfg.files[n].display(),
                names(sides)
            );
        }
        matched.push(m);
    }
    let mut out = String::new();
    let mut first = true;
    for (ev, b) in base.iter().enumerate() {
        let news: Vec<Option<&Side>> = std::iter::once(None)
            .chain(
                matched
                    .iter()
                    .enumerate()
                    .map(|(i, m)| m[ev].map(|j| &files[i + 1][j])),
            )
            .collect();
        // perf prints every event, also one without samples (or whose samples -C or
        // --time dropped): its header over an empty table.
        if !cfg.quiet {
            let _ = write!(
                out,
                "{}# Event '{}'\n#\n",
                if first { "" } else { "\n" },
                b.name
            );
        }
        first = false;
        if cfg.files.len() > 2 && !cfg.quiet {
            out.push_str("# Data files:\n");
            for (i, f) in cfg.files.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "#  [{i}] {} {}",
                    f.display(),
                    if i == 0 { "(Baseline)" } else { "" }
                );
            }
            out.push_str("#\n");
        }
        print_event(&mut out, &cfg, b, &news);
    }
    crate::output::stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_methods_parse_like_perf() {
        assert_eq!(Compute::parse("delta").unwrap(), Compute::Delta);
        assert_eq!(Compute::parse("delta-abs").unwrap(), Compute::DeltaAbs);
        assert_eq!(Compute::parse("ratio").unwrap(), Compute::Ratio);
        assert_eq!(Compute::parse("wdiff:1,2").unwrap(), Compute::Wdiff(1, 2));
        assert!(Compute::parse("wdiff").is_err());
        assert!(Compute::parse("wdiff:0,2").is_err());
        assert!(Compute::parse("ratio:3").is_err());
        assert!(Compute::parse("bogus").is_err());
    }

    #[test]
    fn events_pair_without_their_modifiers() {
        assert_eq!(event_base("cpu-clock:pppH"), event_base("cpu-clock:u"));
        assert_eq!(event_base("cpu/event=0x3c/u"), "cpu/event=0x3c/");
        assert_ne!(event_base("cpu-clock"), event_base("task-clock"));
    }

    #[test]
    fn functions_pair_by_name_and_unresolved_ones_as_one() {
        let sort = [SortKey::Dso, SortKey::Sym];
        let a = [
            Cell::Text("w".into()),
            Cell::Sym(SymCell::Named(false, "hot".into())),
        ];
        let b = [
            Cell::Text("w".into()),
            Cell::Sym(SymCell::Named(false, "hot".into())),
        ];
        assert_eq!(match_key(&a, &sort), match_key(&b, &sort));
        let u1 = [
            Cell::Text("w".into()),
            Cell::Sym(SymCell::Addr(false, 0x10)),
        ];
        let u2 = [
            Cell::Text("w".into()),
            Cell::Sym(SymCell::Addr(false, 0x20)),
        ];
        assert_eq!(match_key(&u1, &sort), match_key(&u2, &sort));
        assert_ne!(match_key(&a, &sort), match_key(&u1, &sort));
    }
}
