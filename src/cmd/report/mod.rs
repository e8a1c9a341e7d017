//! `rperf report --stdio`: samples grouped by sort keys (comm, dso, sym, pid, tid, cpu), with
//! perf's Children/Self accounting when call chains exist, in perf 6.1's text layout.
use rustc_hash::FxHashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::data::{Mode, Record};
use crate::replay::{Item, Parts, Replay, Verdict};
use crate::report::graph;
use crate::session::Location;

mod entries;
mod histogram;
mod print;
mod rows;
mod sort;

use entries::*;
pub(crate) use entries::{Entry, EventHist};
// The browser (`report_browser`) and top reach convert_unit here, as before it moved.
pub(crate) use crate::report::convert_unit;
pub(crate) use histogram::histogram;
use print::*;
pub(crate) use print::{cell_text, lay_out};
pub(crate) use rows::{tie_cmp, tie_order, Extra, Histogram, Laid, LaidRow, LazyGraphs, RowGraph};
pub(crate) use sort::{Cell, SymCell};
pub use sort::{Field, SortKey};

/// Options of `rperf report`.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// `-i`.
    pub input: PathBuf,
    /// `--sort` (with `-F`: its keys, then the `--sort` keys it does not list).
    pub sort: Vec<SortKey>,
    /// `-F/--fields`: the columns, in order; they also order the rows.
    pub fields: Option<Vec<Field>>,
    /// With `-F`: the `--sort` keys given, which order the rows before the fields do.
    pub order_first: Vec<SortKey>,
    /// `--children` (None: on when the file has call chains, as perf).
    pub children: Option<bool>,
    /// `-n`.
    pub show_nr_samples: bool,
    /// `--show-total-period`: a Period column (the entry's own period) after Samples.
    pub show_total_period: bool,
    /// `--percent-limit`.
    pub percent_limit: f64,
    /// `--symfs`.
    pub symfs: Option<PathBuf>,
    /// `--comm/--pid/--tid` (hide entries), `--cpu` and `--time` (drop samples).
    pub filter: crate::replay::Filter,
    /// `--dso` filter (short or full names).
    pub dsos: Vec<String>,
    /// `--max-stack`.
    pub max_stack: Option<usize>,
    /// `-g`: how call graphs are printed under each entry; `None` for `-g none`.
    pub graph: Option<graph::GraphConfig>,
    /// `-g` was given (other than `none`): perf refuses files without call chains then.
    pub graph_asked: bool,
    /// `--header` / `--header-only`.
    pub header: crate::report::header::Header,
    /// `-p/--parent`: what a parent symbol looks like (perf's default `^sys_|^do_page_fault`).
    pub parent: String,
    /// `--no-inline` turns it off: the frames of DWARF-unwound stacks carry the functions
    /// inlined at their address (`name (inlined)`), as perf's do.
    pub inline: bool,
}

/// Runs `rperf report`.
pub fn run(cfg: ReportConfig) -> Result<ExitCode> {
    let header_text = match cfg.header {
        crate::report::header::Header::No => None,
        _ => Some(crate::report::header::text(&cfg.input)?),
    };
    if let (Some(t), crate::report::header::Header::Only) = (&header_text, cfg.header) {
        crate::output::stdout(t)?;
        return Ok(ExitCode::SUCCESS);
    }
    let hist = histogram(&cfg, &Extra::default())?;
    let mut out = String::new();
    match &header_text {
        // The header replaces the hint about it.
        Some(t) => out.push_str(t),
        None => out.push_str(
            "# To display the perf.data header info, please use --header/--header-only options.\n#\n",
        ),
    }
    // A --comm or --dso filter with one value hides that column and says so up here.
    for (k, v) in elided(&cfg) {
        let _ = writeln!(out, "# {k}: {v}");
    }
    // No sample left (none recorded, or none in the --time windows or on the --cpu list):
    // perf stops after the filter lines with an error, and still succeeds.
    if hist.hists.iter().all(|h| h.samples == 0) {
        crate::output::stdout(&out)?;
        eprintln!("Error:\nThe {} data has no samples!", cfg.input.display());
        return Ok(ExitCode::SUCCESS);
    }
    out.push_str("#\n");
    let _ = writeln!(out, "# Total Lost Samples: {}\n#", hist.lost_samples);
    let mut first = true;
    for (h, rows) in hist.hists.iter().zip(hist.rows) {
        if h.samples == 0 {
            continue;
        }
        if !first {
            out.push_str("\n\n");
        }
        first = false;
        print_hist(&mut out, h, rows, &cfg, hist.children, hist.order);
    }
    out.push_str("\n\n");
    crate::output::stdout(&out)?;
    if let Some(n) = hist.note {
        eprintln!("{n}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_counts_use_perf_units() {
        assert_eq!(convert_unit(864), "864 ");
        assert_eq!(convert_unit(1000), "1000 ");
        assert_eq!(convert_unit(1756), "1K");
        assert_eq!(convert_unit(43390), "43K");
        assert_eq!(convert_unit(2_500_000), "2M");
    }

    #[test]
    fn sort_lists_parse() {
        assert_eq!(
            SortKey::parse_list("comm,dso,symbol").unwrap(),
            vec![SortKey::Comm, SortKey::Dso, SortKey::Sym]
        );
        assert!(SortKey::parse_list("comm,bogus").is_err());
    }
}
