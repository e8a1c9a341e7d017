//! `rperf top`: a live profile of the whole machine (or of CPUs, processes, threads),
//! refreshed every `-d` seconds, in the full-screen browser or as perf top's text frames.
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::cmd::record::RecordConfig;
use crate::sys::signals;
use crate::top::{Top, View};
use crate::tui::term::{Input, Screen};
use crate::tui::{self, Action, Browser};

/// Everything `rperf top` needs, free of clap.
#[derive(Debug, Clone)]
pub struct TopConfig {
    /// Events, rate, call graphs and target, as record takes them.
    pub record: RecordConfig,
    /// What the table shows.
    pub view: View,
    /// `-d`: seconds between refreshes.
    pub delay: f64,
    /// `-z`: every refresh starts from zero instead of decaying.
    pub zero: bool,
    /// `-E`: rows at most.
    pub entries: Option<usize>,
    /// `--stdio`: text frames even on a terminal.
    pub stdio: bool,
}

/// The terminal's size as perf top reads it: stdout's window size, else `$COLUMNS` and
/// `$LINES`, else 80x25.
fn term_size() -> (usize, usize) {
    if std::io::stdout().is_terminal() {
        if let Ok((w, h)) = ratatui::crossterm::terminal::size() {
            if w > 0 && h > 0 {
                return (w as usize, h as usize);
            }
        }
    }
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|v| *v > 0)
    };
    (env("COLUMNS").unwrap_or(80), env("LINES").unwrap_or(25))
}

/// Runs `rperf top`.
pub fn run(cfg: TopConfig) -> Result<ExitCode> {
    if !(cfg.delay.is_finite() && cfg.delay > 0.0) {
        anyhow::bail!(
            "invalid -d {}: give the refresh delay in seconds, above 0",
            cfg.delay
        );
    }
    signals::install();
    // As perf: the browser only where stdout is a terminal, text frames otherwise.
    let browse = !cfg.stdio && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let mut top = Top::open(&cfg.record, cfg.view.clone())?;
    if browse {
        browser(&cfg, &mut top)?;
    } else {
        stdio(&cfg, &mut top)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn stdio(cfg: &TopConfig, top: &mut Top) -> Result<()> {
    let delay = Duration::from_secs_f64(cfg.delay);
    let mut last = Instant::now();
    let mut out = std::io::stdout().lock();
    loop {
        let left = delay.saturating_sub(last.elapsed());
        std::thread::sleep(left.min(Duration::from_millis(100)));
        top.drain();
        if signals::received().is_some() {
            return Ok(());
        }
        if last.elapsed() >= delay {
            // perf top leaves five lines for its header.
            let (w, h) = term_size();
            let rows = cfg.entries.unwrap_or(h.saturating_sub(5).max(1));
            let frame = top.stdio_frame(last.elapsed().as_secs_f64(), w, rows);
            match out.write_all(frame.as_bytes()).and_then(|_| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                r => r.context("writing to stdout")?,
            }
            top.end_interval(cfg.zero);
            last = Instant::now();
        }
        if top.target_gone() {
            eprintln!("rperf top: the processes watched have exited");
            return Ok(());
        }
    }
}

/// `P`: the view as text in `rperf.hist.N`, the first N free in the current directory
/// (perf writes `perf.hist.N`).
pub(crate) fn save(text: &str) -> String {
    for n in 0..1000 {
        let p = PathBuf::from(format!("rperf.hist.{n}"));
        if p.symlink_metadata().is_ok() {
            continue;
        }
        return match crate::output::write_file(&p, text.as_bytes(), Default::default()) {
            Ok(()) => format!("{} written", p.display()),
            Err(e) => format!("cannot write {}: {e}", p.display()),
        };
    }
    "cannot write the view: rperf.hist.0 to rperf.hist.999 all exist".into()
}

fn browser(cfg: &TopConfig, top: &mut Top) -> Result<()> {
    let delay = Duration::from_secs_f64(cfg.delay);
    let mut screen = Screen::enter()?;
    let mut b = Browser::new();
    // perf top's browser keeps per-instruction samples for its annotations.
    top.track_addresses = true;
    let mut table: tui::Table = top.table(cfg.entries);
    let mut last = Instant::now();
    let mut dirty = true;
    loop {
        if dirty {
            screen
                .term
                .draw(|f| b.draw(f, &table))
                .context("drawing on the terminal")?;
            dirty = false;
        }
        match screen.input(Duration::from_millis(100))? {
            Input::Key(k) => {
                dirty = true;
                match b.key(k, &table) {
                    Action::Quit => break,
                    Action::Save => b.message = Some(save(&b.export(&table))),
                    Action::SwitchEvent(back) => {
                        if top.switch_event(back) {
                            table = top.table(cfg.entries);
                        } else {
                            b.message = Some("one event sampled: give several -e to switch".into());
                        }
                    }
                    Action::Annotate(i) => {
                        let row = &table.rows[i];
                        match top.annotate(&row.key) {
                            Ok(text) => b.show_text(
                                format!("Annotation of {} ({})", row.symbol, top.event),
                                &text,
                            ),
                            Err(e) => b.message = Some(format!("cannot annotate: {e}")),
                        }
                    }
                    Action::None => {}
                }
            }
            Input::Resize => dirty = true,
            Input::Nothing => {}
            // The terminal hung up: nobody is watching any more.
            Input::HungUp => break,
        }
        top.drain();
        if signals::received().is_some() {
            break;
        }
        if last.elapsed() >= delay {
            table = top.table(cfg.entries);
            top.end_interval(cfg.zero);
            last = Instant::now();
            dirty = true;
        }
        if top.target_gone() {
            drop(screen);
            eprintln!("rperf top: the processes watched have exited");
            return Ok(());
        }
    }
    Ok(())
}
