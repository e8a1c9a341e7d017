//! `rperf report`'s full-screen browser driven in a real terminal (tmux): the rows of
//! `report --stdio`, call graphs, zooms, the symbol filter, annotate, help, and the
//! terminal given back; text when stdout is not a terminal, as perf.
use std::path::{Path, PathBuf};

use crate::common::*;
use crate::top::{have_tmux, Tmux};

/// A -g recording of the burn workload (its `main` is the hot function).
fn recording(dir: &Path) -> Option<PathBuf> {
    let burn = compile_c(
        dir,
        "burn",
        BURN_C,
        &["-O1", "-g", "-fno-omit-frame-pointer"],
    );
    record_with(
        "rperf",
        dir,
        "r.data",
        &["-g", "--", burn.to_str().unwrap(), "300"],
    )
}

/// A line with its runs of spaces made one: the browser pads columns by the rows it
/// shows, report by all of them.
fn words(l: &str) -> String {
    l.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The table's rows on a screen: lines between the column header and the status line
/// that start with a fold mark and hold a symbol.
fn rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .skip(2)
        .filter(|l| (l.starts_with('+') || l.starts_with('-')) && l.contains("] "))
        .map(String::from)
        .collect()
}

#[test]
fn browser_shows_reports_rows_expands_zooms_filters_annotates_and_restores_the_terminal() {
    if !have_tmux() {
        return;
    }
    let dir = TempDir::new("report-tui");
    let Some(file) = recording(dir.path()) else {
        return;
    };
    let stdio = rperf_out(&["report", "--stdio"], &file);
    let rperf = env!("CARGO_BIN_EXE_rperf");
    // --stdio on the terminal prints text first; then the browser (the default there).
    let shell = format!(
        "{rperf} report --stdio --sort dso -g none -i r.data; {rperf} report -i r.data; \
         echo EXITED rc=$?; stty -a | grep -o -- '-\\?icanon'; sleep 60"
    );
    let t = Tmux::start("report", 160, 40, dir.path(), &shell);
    let s = t.wait_for(|s| s.lines().any(|l| l.ends_with("[.] main")));
    let lines: Vec<&str> = s.lines().collect();
    assert!(
        lines[0].starts_with("Samples: ") && lines[0].contains(" of event 'cpu-clock"),
        "title:\n{s}"
    );
    assert!(lines[0].contains(", Event count (approx.): "), "{s}");
    assert!(
        lines[1].starts_with("  Children      Self  Command  Shared Object"),
        "{s}"
    );
    assert!(lines[39].contains("Press 'h' for help"), "{s}");
    // The rows are report --stdio's, in its order.
    let want: Vec<String> = stdio
        .lines()
        .filter(|l| l.contains("%  ") && !l.starts_with('#'))
        .map(words)
        .collect();
    let got: Vec<String> = rows(&s).iter().map(|l| words(&l[1..])).collect();
    assert!(got.len() >= 5, "{s}");
    assert_eq!(got, want[..got.len()], "browser:\n{s}\nstdio:\n{stdio}");
    let main = lines.iter().position(|l| l.ends_with("[.] main")).unwrap();
    assert!(lines[main].starts_with('+'), "{s}");

    // Enter opens main's call graph: report's graph text under the row.
    t.keys(&vec!["Down"; main - 2]);
    t.keys(&["Enter"]);
    let s = t.wait_for(|s| s.contains("%--"));
    let at = s.lines().position(|l| l.ends_with("[.] main")).unwrap();
    assert!(s.lines().nth(at).unwrap().starts_with('-'), "{s}");
    let graph: Vec<&str> = s.lines().skip(at + 1).take(3).collect();
    let main_stdio = stdio.lines().position(|l| l.ends_with("[.] main")).unwrap();
    let graph_stdio: Vec<&str> = stdio
        .lines()
        .skip(main_stdio + 1)
        .take(3)
        .map(str::trim_end)
        .collect();
    let graph: Vec<&str> = graph.iter().map(|l| l.trim_end()).collect();
    assert_eq!(graph, graph_stdio, "{s}");
    // C closes every graph, E opens every one, c closes the selected one.
    t.keys(&["C"]);
    let s = t.wait_for(|s| !s.contains("%--"));
    assert!(rows(&s).iter().all(|l| l.starts_with('+')), "{s}");
    t.keys(&["E"]);
    let s = t.wait_for(|s| rows(s).iter().filter(|l| l.starts_with('-')).count() > 1);
    assert!(rows(&s).iter().all(|l| l.starts_with('-')), "{s}");
    t.keys(&["C"]);

    // d zooms into main's binary: only its rows; d again zooms out.
    t.keys(&["d"]);
    let s = t.wait_for(|s| s.contains("DSO: burn"));
    assert!(s.contains("DSO: burn"), "{s}");
    let zoomed = rows(&s);
    assert!(
        !zoomed.is_empty()
            && zoomed
                .iter()
                .all(|l| l.contains(" burn  ") && l.contains("[.] ")),
        "{s}"
    );
    t.keys(&["d"]);
    let s = t.wait_for(|s| !s.contains("DSO: burn"));
    assert!(rows(&s).len() > zoomed.len(), "{s}");
    // t zooms into the thread.
    t.keys(&["t"]);
    let s = t.wait_for(|s| s.contains("Thread: burn"));
    assert!(s.contains("Thread: burn"), "{s}");
    t.keys(&["t"]);
    // The symbol filter leaves the rows that match.
    t.keys(&["/", "main", "Enter"]);
    let s = t.wait_for(|s| s.contains("Filter: main"));
    let kept = rows(&s);
    assert!(
        !kept.is_empty() && kept.iter().all(|l| l.contains("main")),
        "{s}"
    );

    // a annotates the selected row (main): annotate's text for it.
    let pos = kept.iter().position(|l| l.ends_with("[.] main")).unwrap();
    t.keys(&["Home"]);
    t.keys(&vec!["Down"; pos]);
    t.keys(&["a"]);
    let s = t.wait_for(|s| s.contains("Percent |") && s.contains("Annotate main"));
    assert!(s.contains("Disassembly of burn for"), "{s}");
    assert!(s.contains("<main>:") && s.contains("Annotate main"), "{s}");
    t.keys(&["PageDown", "q"]);
    let s = t.wait_for(|s| s.contains("Filter: main"));
    assert!(!s.contains("Percent |"), "{s}");
    t.keys(&["Escape"]);
    // Help, then any key back.
    t.keys(&["h"]);
    // Waiting for the help's last line: an earlier one can be on the screen before the rest.
    let s = t.wait_for(|s| s.contains("q, Ctrl-C"));
    assert!(
        s.contains("annotate the entry's symbol")
            && s.contains("expand / collapse every call graph"),
        "{s}"
    );
    t.keys(&["x", "q"]);
    let s = t.wait_for(|s| s.contains("EXITED"));
    assert!(s.contains("EXITED rc=0"), "{s}");
    assert!(
        !s.lines().any(|l| l.starts_with("Samples: ")),
        "the alternate screen is still up:\n{s}"
    );
    // The --stdio run before it printed text on the terminal.
    assert!(s.contains("# Samples: ") && s.contains("  burn"), "{s}");
    let mode = t.wait_for(|s| s.contains("icanon"));
    assert!(
        mode.lines().any(|l| l.trim() == "icanon"),
        "the terminal was left in raw mode:\n{mode}"
    );
}

/// Off a terminal report prints text (perf's rule); --tui there says why it cannot.
#[test]
fn a_pipe_gets_text_and_tui_needs_a_terminal() {
    let dir = TempDir::new("report-tui-pipe");
    let Some(file) = recording(dir.path()) else {
        return;
    };
    let text = rperf_out(&["report"], &file);
    assert!(
        text.starts_with("# To display the perf.data header"),
        "{text}"
    );
    assert!(text.contains("[.] main"), "{text}");
    for (args, want) in [
        (&["report", "--tui"][..], "needs a terminal"),
        (&["report", "--tui", "--stdio"][..], "cannot be used with"),
    ] {
        let o = run({
            let mut c = rperf();
            c.args(args).arg("-i").arg(&file);
            c.stdin(std::process::Stdio::null());
            c
        });
        let e = stderr(&o);
        assert!(!o.status.success(), "{args:?}");
        assert!(e.contains(want), "{args:?}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
}

/// A larger recording (256 functions in four threads, `-F 20000 -g`): the browser shows
/// the rows before any call graph is built, and a row opened later gets the graph
/// `report --stdio` prints under it, line for line; q gives the terminal back.
#[test]
fn a_row_opened_later_gets_the_graph_report_prints() {
    if !have_tmux() {
        return;
    }
    let dir = TempDir::new("report-tui-lazy");
    let many = compile_c(
        dir.path(),
        "many",
        MANY_C,
        &["-O1", "-pthread", "-fno-omit-frame-pointer"],
    );
    let Some(file) = record_with(
        "rperf",
        dir.path(),
        "r.data",
        &[
            "-F",
            "20000",
            "-g",
            "--",
            many.to_str().unwrap(),
            "100000",
            "4",
        ],
    ) else {
        return;
    };
    let stdio = rperf_out(&["report", "--stdio"], &file);
    let rperf = env!("CARGO_BIN_EXE_rperf");
    let shell = format!(
        "{rperf} report -i r.data; echo EXITED rc=$?; stty -a | grep -o -- '-\\?icanon'; sleep 60"
    );
    let t = Tmux::start("report-lazy", 160, 40, dir.path(), &shell);
    // A loaded machine may take a while over the replay: wait longer than wait_for does.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut s = t.screen();
    while rows(&s).len() < 5 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        s = t.screen();
    }
    let shown = rows(&s);
    assert!(shown.len() >= 5, "{s}");
    assert!(shown.iter().all(|l| l.starts_with('+')), "{s}");
    // The first row whose graph report prints over several lines.
    let graph_of = |row: &str| -> Vec<String> {
        let at = stdio
            .lines()
            .position(|l| !l.starts_with('#') && words(l) == words(row))
            .unwrap_or_else(|| panic!("{row} not in report --stdio:\n{stdio}"));
        // Up to the blank line after a graph, or the next row: rows without a graph (under
        // the 0.5 % threshold) follow each other with no blank line between.
        let is_row = |l: &str| l.trim_start().starts_with(|c: char| c.is_ascii_digit());
        stdio
            .lines()
            .skip(at + 1)
            .take_while(|l| !l.trim().is_empty() && !is_row(l))
            .map(|l| l.trim_end().to_string())
            .collect()
    };
    let (pick, want) = shown
        .iter()
        .enumerate()
        .map(|(i, r)| (i, graph_of(&r[1..])))
        .find(|(_, g)| g.len() >= 3)
        .unwrap_or_else(|| panic!("no row with a graph of 3 lines or more:\n{stdio}"));
    let title = s.lines().position(|l| l == shown[pick]).unwrap();
    // The selection starts on the first row, under the title and the column header.
    t.keys(&vec!["Down"; title - 2]);
    t.keys(&["Enter"]);
    let s = t.wait_for(|s| {
        s.lines()
            .nth(title)
            .is_some_and(|l| l.starts_with('-') && s.lines().nth(title + 2).is_some())
            && s.contains("--")
    });
    let line = s.lines().nth(title).unwrap();
    assert!(line.starts_with('-'), "{s}");
    // Lines up to the status line (the screen's last) or the next row.
    let got: Vec<String> = s
        .lines()
        .skip(title + 1)
        .take(38 - title)
        .take_while(|l| !(l.starts_with('+') || l.starts_with('-')) || !l.contains("] "))
        .map(|l| l.trim_end().to_string())
        .collect();
    let n = got.len().min(want.len());
    assert!(n >= 3, "{s}");
    assert_eq!(got[..n], want[..n], "browser:\n{s}\nstdio:\n{stdio}");
    t.keys(&["q"]);
    let s = t.wait_for(|s| s.contains("EXITED"));
    assert!(s.contains("EXITED rc=0"), "{s}");
    assert!(
        !s.lines().any(|l| l.starts_with("Samples: ")),
        "the alternate screen is still up:\n{s}"
    );
    let mode = t.wait_for(|s| s.contains("icanon"));
    assert!(
        mode.lines().any(|l| l.trim() == "icanon"),
        "the terminal was left in raw mode:\n{mode}"
    );
}
