//! `rperf report`'s full-screen browser (perf report's default on a terminal): report's
//! own histogram and row layout ([`report::histogram`], [`report::lay_out`]) shown in the
//! shared [`crate::tui`] browser; call graphs laid out only when a row is opened, and `a`
//! annotates the selected symbol with `rperf annotate`'s text.
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cmd::report::{self, Cell, Histogram, Laid, ReportConfig, RowGraph, SymCell};
use crate::tui::term::{Input, Screen};
use crate::tui::{self, Action, Browser};

/// One event's view: the laid-out rows and the browser's table of them.
struct View {
    laid: Laid,
    table: tui::Table,
}

/// Runs the browser over `cfg.input`. `progress` (the stderr bar of the replay) is
/// dropped before the screen is taken over.
pub fn run(cfg: ReportConfig, progress: crate::cmd::progress::Progress) -> Result<ExitCode> {
    let extra = report::Extra {
        lazy_graphs: true,
        ..Default::default()
    };
    let mut hist = report::histogram(&cfg, &extra)?;
    drop(progress);
    let mut views = Vec::new();
    for (event, rows) in std::mem::take(&mut hist.rows).into_iter().enumerate() {
        let h = &hist.hists[event];
        if h.samples == 0 {
            continue;
        }
        let laid = report::lay_out(h, rows, &cfg, hist.children, hist.order);
        let table = table(&hist, event, &laid, &cfg);
        views.push(View { laid, table });
    }
    if views.is_empty() {
        anyhow::bail!(
            "{} has no samples to browse (rperf report --stdio prints its header)",
            cfg.input.display()
        );
    }
    let note = hist.note.take();
    browse(&cfg, &hist, &mut views)?;
    if let Some(n) = note {
        eprintln!("{n}");
    }
    Ok(ExitCode::SUCCESS)
}

/// perf's TUI title for an event and the rows of its histogram.
fn table(hist: &Histogram, event: usize, laid: &Laid, cfg: &ReportConfig) -> tui::Table {
    let h = &hist.hists[event];
    let key_at = |row: &report::LaidRow, k: report::SortKey| -> Option<Cell> {
        let i = cfg.sort.iter().position(|x| *x == k)?;
        row.keys.get(i).cloned()
    };
    let rows = laid
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let dso = match key_at(r, report::SortKey::Dso) {
                Some(Cell::Text(t)) => t,
                _ => String::new(),
            };
            let thread = match (
                key_at(r, report::SortKey::Pid),
                key_at(r, report::SortKey::Comm),
            ) {
                (Some(Cell::Thread(tid, comm)), _) => format!("{comm} {tid}"),
                (_, Some(Cell::Text(comm))) => comm,
                _ => String::new(),
            };
            let symbol = match key_at(r, report::SortKey::Sym) {
                Some(Cell::Sym(SymCell::Named(_, n))) => n,
                _ => String::new(),
            };
            // Numbers take report's widths (perf's TUI columns are as wide as --stdio's).
            let cells = r
                .cells
                .iter()
                .zip(laid.columns.iter().zip(&laid.widths))
                .map(|(c, ((_, right), &w))| {
                    if *right {
                        format!("{c:>w$}")
                    } else {
                        c.clone()
                    }
                })
                .collect();
            tui::Row {
                cells,
                dso,
                thread,
                symbol,
                key: i.to_string(),
                lazy_graph: match &r.graph {
                    RowGraph::Text(t) => !t.is_empty(),
                    RowGraph::Lazy(_) => true,
                },
                ..Default::default()
            }
        })
        .collect();
    let mut title = format!(
        "Samples: {} of event '{}'",
        report::convert_unit(h.samples),
        h.name
    );
    if let Some(t) = &cfg.filter.time {
        title.push_str(&format!(" (time slices: {t})"));
    }
    title.push_str(&format!(", Event count (approx.): {}", h.total));
    tui::Table {
        title,
        columns: laid
            .columns
            .iter()
            .map(|(title, right)| tui::Column {
                title: title.clone(),
                right: *right,
            })
            .collect(),
        rows,
    }
}

/// Above this many graphs to open at once, every tree of the event is built in one walk.
const MANY_GRAPHS: usize = 8;

fn browse(cfg: &ReportConfig, hist: &Histogram, views: &mut [View]) -> Result<()> {
    let mut screen = Screen::enter()?;
    let mut b = Browser::new();
    let mut at = 0;
    if views.len() > 1 {
        b.message = Some(format!(
            "{} events: Tab shows the next one; press 'h' for help",
            views.len()
        ));
    }
    let n = views.len();
    loop {
        let v = &mut views[at];
        // Graphs are built and laid out when their row is first opened; many at once
        // (E) in one walk over the stacks.
        let open: Vec<usize> = b
            .expanded_keys()
            .filter_map(|k| k.parse().ok())
            .filter(|&i: &usize| {
                v.table
                    .rows
                    .get(i)
                    .is_some_and(|r| r.graph_text.is_empty() && r.lazy_graph)
                    && i < v.laid.rows.len()
            })
            .collect();
        let texts = if open.len() > MANY_GRAPHS {
            let gs: Vec<&RowGraph> = open.iter().map(|&i| &v.laid.rows[i].graph).collect();
            hist.graph_texts(&gs)
        } else {
            open.iter()
                .map(|&i| hist.graph_text(&v.laid.rows[i].graph))
                .collect()
        };
        for (i, text) in open.into_iter().zip(texts) {
            let row = &mut v.table.rows[i];
            row.graph_text = text.lines().map(String::from).collect();
            if row.graph_text.is_empty() {
                // Everything under the threshold: say so rather than show nothing.
                row.graph_text
                    .push("            (no call-graph branch above the threshold)".into());
            }
        }
        screen
            .term
            .draw(|f| b.draw(f, &v.table))
            .context("drawing on the terminal")?;
        let k = match screen.input(Duration::from_millis(500))? {
            Input::Key(k) => k,
            Input::Resize | Input::Nothing => continue,
            // The terminal hung up: nobody is reading any more.
            Input::HungUp => break,
        };
        match b.key(k, &v.table) {
            Action::Quit => break,
            Action::Save => b.message = Some(crate::cmd::top::save(&b.export(&v.table))),
            Action::Annotate(i) => {
                let row = &v.table.rows[i];
                if row.symbol.is_empty() {
                    b.message = Some("no function to annotate in this entry".into());
                    continue;
                }
                b.message = Some(format!("annotating {}…", row.symbol));
                screen
                    .term
                    .draw(|f| b.draw(f, &v.table))
                    .context("drawing on the terminal")?;
                b.message = None;
                match annotate(cfg, &row.symbol, &row.dso) {
                    Ok(text) => b.show_text(format!("Annotate {}", row.symbol), &text),
                    Err(e) => b.message = Some(format!("cannot annotate {}: {e:#}", row.symbol)),
                }
            }
            Action::SwitchEvent(back) => {
                if n > 1 {
                    at = if back { (at + n - 1) % n } else { (at + 1) % n };
                    b = Browser::new();
                }
            }
            Action::None => {}
        }
    }
    Ok(())
}

/// `rperf annotate --stdio -s SYMBOL --dsos DSO` of the report's input.
fn annotate(cfg: &ReportConfig, symbol: &str, dso: &str) -> Result<String> {
    let acfg = crate::cmd::annotate::AnnotateConfig {
        input: cfg.input.clone(),
        symfs: cfg.symfs.clone(),
        symbol: Some(symbol.to_string()),
        dsos: if dso.is_empty() || dso == "[unknown]" {
            Vec::new()
        } else {
            vec![dso.to_string()]
        },
        style: crate::annotate::objdump::Style {
            intel: false,
            raw: false,
            source: true,
        },
        percent: Default::default(),
        print_line: false,
        filter: cfg.filter.clone(),
        stdio2: false,
    };
    let (mut text, warnings) = crate::cmd::annotate::text(&acfg)?;
    for w in warnings {
        text.push_str(&format!("\nrperf: {w}\n"));
    }
    Ok(text)
}
