//! `rperf top`: perf top's text frames against a known busy program (and perf top's own
//! frames where perf is installed), the full-screen view driven in a real terminal (tmux),
//! and the errors for bad input.
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| stdout(&o).trim() == "0")
        .unwrap_or(false)
}

/// A busy program that burns CPU until killed (its `main` is the hot function).
struct Busy(Child);

impl Busy {
    fn start(dir: &std::path::Path) -> Busy {
        let exe = compile_c(dir, "burn", BURN_C, &["-O1", "-fno-omit-frame-pointer"]);
        Busy(Command::new(exe).arg("600000").spawn().unwrap())
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a live view with stdout on a pipe until `done(output so far)` or `wait` passes,
/// then interrupts it as Ctrl-C would and returns everything it printed and its status.
fn frames_until(
    mut cmd: Command,
    wait: Duration,
    done: impl Fn(&str) -> bool,
) -> (String, std::process::ExitStatus) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let text = Arc::new(Mutex::new(String::new()));
    let mut out = child.stdout.take().unwrap();
    let sink = Arc::clone(&text);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline && !done(&text.lock().unwrap()) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(child.stdin.take());
    let _ = reader.join();
    let t = text.lock().unwrap().clone();
    (t, status)
}

/// The last complete frame (from the clear-screen sequence on) whose rows name `main`.
fn frame_with_main(text: &str) -> Option<String> {
    text.split("\x1b[H\x1b[2J")
        .filter(|f| f.lines().any(|l| l.ends_with("[.] main")))
        .last()
        .map(String::from)
}

/// Digits and runs of spaces made uniform: a line's layout without its numbers.
fn shape(line: &str) -> String {
    let mut s = String::new();
    for c in line.chars() {
        let c = if c.is_ascii_digit() { '9' } else { c };
        if c == '9' && s.ends_with('9') {
            continue;
        }
        s.push(c);
    }
    s.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn stdio_frames_put_the_busy_function_on_top_in_perf_tops_layout() {
    if !is_root() {
        skip("rperf top -p of a process needs its owner or root; these tests run as root");
        return;
    }
    let dir = TempDir::new("top-stdio");
    let busy = Busy::start(dir.path());
    let pid = busy.pid().to_string();
    let mut cmd = rperf();
    cmd.args(["top", "--stdio", "-d", "0.5", "-p", &pid]);
    let (text, status) = frames_until(cmd, Duration::from_secs(25), |t| {
        frame_with_main(t).is_some()
    });
    assert!(
        status.success(),
        "rperf top did not end cleanly on SIGINT: {status:?}"
    );
    let frame = frame_with_main(&text).unwrap_or_else(|| panic!("no frame names main:\n{text}"));
    let lines: Vec<&str> = frame.lines().collect();
    // perf top's frame: the clear sequence on a line of its own, the header, 79 dashes (the
    // 80-column default off a terminal), a blank line, then the rows.
    assert_eq!(lines[0], "", "{frame}");
    assert!(
        lines[1].starts_with("   PerfTop:")
            && lines[1].contains(" irqs/sec  kernel:")
            && lines[1].contains("Hz cpu-clock")
            && lines[1].ends_with(&format!("],  (target_pid: {pid})")),
        "header: {}",
        lines[1]
    );
    assert_eq!(lines[2], "-".repeat(79));
    assert_eq!(lines[3], "");
    let first = lines[4];
    assert!(
        first.contains("  burn  ") && first.ends_with("[.] main"),
        "the busy function is not on top:\n{frame}"
    );
    let Some(mut perf) = perf() else { return };
    perf.args(["top", "--stdio", "-d", "1", "-p", &pid]);
    let (theirs, _) = frames_until(perf, Duration::from_secs(25), |t| {
        frame_with_main(t).is_some()
    });
    let Some(their_frame) = frame_with_main(&theirs) else {
        panic!("perf top printed no frame naming main:\n{theirs}");
    };
    let their: Vec<&str> = their_frame.lines().collect();
    assert_eq!(shape(their[1]), shape(lines[1]), "header layout");
    assert_eq!(their[2], lines[2]);
    let main_row = |l: &[&str]| {
        l.iter()
            .find(|r| r.ends_with("[.] main"))
            .map(|r| r.replace(|c: char| c.is_ascii_digit(), "9"))
    };
    assert_eq!(main_row(&their), main_row(&lines), "row layout");
}

#[test]
fn stdio_system_wide_by_default_with_filters_and_call_graphs() {
    if !is_root() {
        skip("rperf top -a needs root (or perf_event_paranoid <= 0)");
        return;
    }
    let dir = TempDir::new("top-a");
    let _busy = Busy::start(dir.path());
    let mut cmd = rperf();
    cmd.args([
        "top",
        "--stdio",
        "-d",
        "0.5",
        "--comm",
        "burn",
        "-g",
        "--no-children",
        "-E",
        "3",
    ]);
    let (text, status) = frames_until(cmd, Duration::from_secs(25), |t| {
        frame_with_main(t).is_some()
    });
    assert!(status.success(), "{status:?}");
    let frame = frame_with_main(&text).unwrap_or_else(|| panic!("no frame names main:\n{text}"));
    let lines: Vec<&str> = frame.lines().collect();
    assert!(
        lines[1].contains("(all, ") && lines[1].ends_with("CPUs)") || lines[1].ends_with("CPU)"),
        "{}",
        lines[1]
    );
    let rows: Vec<&str> = lines[4..]
        .iter()
        .copied()
        .filter(|l| l.contains('%') && (l.contains("[.]") || l.contains("[k]")))
        .collect();
    assert!(!rows.is_empty() && rows.len() <= 3, "-E 3:\n{frame}");
    assert!(rows[0].ends_with("[.] main"), "{frame}");
    // --comm burn: nothing of other commands; the idle loop never shows.
    assert!(
        !frame.contains("swapper") && !frame.contains("intel_idle"),
        "{frame}"
    );
}

/// A tmux session that goes away with the test, whatever happens (report's browser
/// tests use it too).
pub(crate) struct Tmux(String);

impl Tmux {
    pub(crate) fn start(name: &str, w: u32, h: u32, dir: &std::path::Path, shell: &str) -> Tmux {
        let s = Tmux(format!("rperf-{name}-{}", std::process::id()));
        let o = run({
            let mut c = Command::new("tmux");
            c.args(["new-session", "-d", "-s", &s.0, "-x", &w.to_string(), "-y"])
                .arg(h.to_string())
                .arg("-c")
                .arg(dir)
                .arg(shell);
            c
        });
        assert!(o.status.success(), "tmux: {}", stderr(&o));
        s
    }
    pub(crate) fn keys(&self, keys: &[&str]) {
        let mut c = Command::new("tmux");
        c.args(["send-keys", "-t", &self.0]).args(keys);
        run(c);
    }
    pub(crate) fn screen(&self) -> String {
        let mut c = Command::new("tmux");
        c.args(["capture-pane", "-p", "-t", &self.0]);
        stdout(&run(c))
    }
    /// The screen once `ok` holds, or the last one after 20 seconds.
    pub(crate) fn wait_for(&self, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if ok(&s) || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

pub(crate) fn have_tmux() -> bool {
    if Command::new("tmux").arg("-V").output().is_err() {
        skip("tmux is not installed (apt-get install tmux)");
        return false;
    }
    true
}

#[test]
fn full_screen_view_browses_expands_filters_zooms_saves_and_restores_the_terminal() {
    if !is_root() {
        skip("rperf top -p of a process needs its owner or root; these tests run as root");
        return;
    }
    if !have_tmux() {
        return;
    }
    let dir = TempDir::new("top-tui");
    let busy = Busy::start(dir.path());
    // After rperf ends the shell says how, and whether the terminal is back in cooked mode.
    let shell = format!(
        "{} top -d 0.5 -g -p {}; echo EXITED rc=$?; stty -a | grep -o -- '-\\?icanon'; sleep 60",
        env!("CARGO_BIN_EXE_rperf"),
        busy.pid()
    );
    let t = Tmux::start("top", 80, 24, dir.path(), &shell);
    let s = t.wait_for(|s| s.lines().any(|l| l.ends_with("[.] main")));
    let lines: Vec<&str> = s.lines().collect();
    assert!(
        lines[0].starts_with("Samples: ") && lines[0].contains(" of event 'cpu-clock"),
        "title:\n{s}"
    );
    assert!(lines[0].contains("Event count (approx.): "), "{s}");
    assert_eq!(
        lines[1].trim_end(),
        "  Children    Self  Shared Object  Symbol",
        "{s}"
    );
    let main = lines.iter().position(|l| l.ends_with("[.] main")).unwrap();
    assert!(
        lines[main].starts_with('+') && lines[main].contains("  burn  "),
        "{s}"
    );
    assert!(lines[23].contains("Press 'h' for help"), "{s}");
    // Expand main's call graph: the callees it reaches show under it.
    let moves = vec!["Down"; main - 2];
    if !moves.is_empty() {
        t.keys(&moves);
    }
    t.keys(&["Enter"]);
    let s = t.wait_for(|s| s.contains("%--"));
    let at = s.lines().position(|l| l.ends_with("[.] main")).unwrap();
    assert!(s.lines().nth(at).unwrap().starts_with('-'), "{s}");
    assert!(
        s.lines().nth(at + 1).unwrap().contains("%--"),
        "graph under main:\n{s}"
    );
    // The symbol filter leaves only rows that match it.
    t.keys(&["/", "mai"]);
    let s = t.wait_for(|s| s.contains("Symbol filter: mai"));
    assert!(s.contains("Symbol filter: mai"), "{s}");
    t.keys(&["n", "Enter"]);
    let s = t.wait_for(|s| s.contains("Filter: main"));
    let rows: Vec<&str> = s.lines().skip(2).filter(|l| l.contains("] ")).collect();
    assert!(
        !rows.is_empty() && rows.iter().all(|l| l.contains("main")),
        "{s}"
    );
    t.keys(&["Escape"]);
    // Zoom into main's dso.
    t.keys(&["Home", "d"]);
    let s = t.wait_for(|s| s.contains("DSO: "));
    assert!(s.contains("DSO: "), "{s}");
    t.keys(&["Escape"]);
    // Help, then any key back.
    t.keys(&["h"]);
    // Waiting for the help's last line: an earlier one can be on the screen before the rest.
    let s = t.wait_for(|s| s.contains("q, Ctrl-C"));
    assert!(
        s.contains("zoom into the selected entry's dso")
            && s.contains("write the current view to a file"),
        "{s}"
    );
    t.keys(&["x", "P"]);
    let s = t.wait_for(|s| s.contains("rperf.hist.0 written"));
    assert!(s.contains("rperf.hist.0 written"), "{s}");
    let saved = std::fs::read_to_string(dir.path().join("rperf.hist.0")).unwrap();
    assert!(
        saved.starts_with("Samples: ") && saved.contains("[.] main"),
        "{saved}"
    );
    t.keys(&["q"]);
    let s = t.wait_for(|s| s.contains("EXITED"));
    assert!(s.contains("EXITED rc=0"), "{s}");
    assert!(
        !s.contains("Samples: "),
        "the alternate screen is still up:\n{s}"
    );
    let mode = t.wait_for(|s| s.contains("icanon"));
    assert!(
        mode.lines().any(|l| l.trim() == "icanon"),
        "the terminal was left in raw mode:\n{mode}"
    );
}

#[test]
fn a_terminal_too_small_is_told_so_and_ctrl_c_quits() {
    if !is_root() {
        skip("rperf top -p of a process needs its owner or root; these tests run as root");
        return;
    }
    if !have_tmux() {
        return;
    }
    let dir = TempDir::new("top-small");
    let shell = format!(
        "{} top -p {}; echo EXITED rc=$?; sleep 60",
        env!("CARGO_BIN_EXE_rperf"),
        std::process::id()
    );
    let t = Tmux::start("small", 30, 5, dir.path(), &shell);
    let s = t.wait_for(|s| s.contains("too small"));
    assert!(s.contains("terminal too small (30x5)"), "{s}");
    t.keys(&["C-c"]);
    let s = t.wait_for(|s| s.contains("EXITED"));
    assert!(s.contains("EXITED rc=0"), "{s}");
}

#[test]
fn bad_input_gets_one_clear_line() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["top", "--stdio", "--sort", "bogus"],
            "unknown --sort key 'bogus'",
        ),
        (&["top", "--stdio", "-d", "0"], "invalid -d 0"),
        (
            &["top", "--stdio", "--percent-limit", "200"],
            "--percent-limit 200",
        ),
        (&["top", "--stdio", "-p", "2147483646"], "2147483646"),
    ];
    for (args, want) in cases {
        let o = run({
            let mut c = rperf();
            c.args(args);
            c
        });
        let e = stderr(&o);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(e.contains(want), "{args:?}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{args:?}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
}

#[test]
fn tab_switches_events_and_a_annotates_the_selected_function() {
    if !is_root() {
        skip("rperf top -p of a process needs its owner or root; these tests run as root");
        return;
    }
    if !have_tmux() {
        return;
    }
    let dir = TempDir::new("top-events");
    let busy = Busy::start(dir.path());
    let shell = format!(
        "{} top -d 0.5 -e cpu-clock -e task-clock -p {}; echo EXITED rc=$?; sleep 60",
        env!("CARGO_BIN_EXE_rperf"),
        busy.pid()
    );
    let t = Tmux::start("events", 100, 30, dir.path(), &shell);
    let title = |s: &str| s.lines().next().unwrap_or("").to_string();
    let s = t.wait_for(|s| s.lines().any(|l| l.ends_with("[.] main")));
    assert!(title(&s).contains(" of event 'cpu-clock'"), "{s}");
    // Tab shows the next event's histogram, Shift-Tab the previous one's; each names its
    // event in the title and has the busy function.
    t.keys(&["Tab"]);
    let s = t.wait_for(|s| title(s).contains("'task-clock'") && s.contains("[.] main"));
    assert!(title(&s).contains(" of event 'task-clock'"), "{s}");
    t.keys(&["BTab"]);
    let s = t.wait_for(|s| title(s).contains("'cpu-clock'"));
    assert!(title(&s).contains(" of event 'cpu-clock'"), "{s}");
    // `a` on main's row: its disassembly with per-instruction shares, Esc back.
    let s = t.wait_for(|s| s.lines().any(|l| l.ends_with("[.] main")));
    let main = s.lines().position(|l| l.ends_with("[.] main")).unwrap();
    t.keys(&["Home"]);
    let moves = vec!["Down"; main - 2];
    if !moves.is_empty() {
        t.keys(&moves);
    }
    t.keys(&["a"]);
    let s = t.wait_for(|s| s.contains("Source code & Disassembly of burn for cpu-clock"));
    // The browser's text page names what it shows on its status line.
    assert!(
        s.lines()
            .any(|l| l.trim_start().starts_with("Annotation of main (cpu-clock)")),
        "{s}"
    );
    assert!(s.contains("<main>:"), "{s}");
    let shares: Vec<f64> = s
        .lines()
        .filter_map(|l| l.split(" :   ").next()?.trim().parse().ok())
        .collect();
    assert!(
        shares.iter().any(|&p| p > 0.0),
        "no instruction has samples:\n{s}"
    );
    t.keys(&["PageDown", "Escape"]);
    let s = t.wait_for(|s| s.contains("Shared Object") && s.contains("Press 'h'"));
    assert!(title(&s).starts_with("Samples: "), "{s}");
    t.keys(&["q"]);
    let s = t.wait_for(|s| s.contains("EXITED"));
    assert!(s.contains("EXITED rc=0"), "{s}");
}

#[test]
fn a_terminal_that_hangs_up_ends_the_view() {
    if !is_root() {
        skip("rperf top -p of a process needs its owner or root; these tests run as root");
        return;
    }
    if !have_tmux() {
        return;
    }
    let dir = TempDir::new("top-hup");
    let pidfile = dir.path().join("pid");
    // The shell becomes rperf, so its pid is rperf's.
    let shell = format!(
        "echo $$ > {}; exec {} top -d 0.5 -p {}",
        pidfile.display(),
        env!("CARGO_BIN_EXE_rperf"),
        std::process::id()
    );
    let t = Tmux::start("hup", 80, 24, dir.path(), &shell);
    t.wait_for(|s| s.starts_with("Samples: "));
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    // Closing the window (as a dropped ssh session does) hangs up its terminal.
    drop(t);
    let stat = format!("/proc/{pid}/stat");
    let gone = |deadline: Instant| loop {
        // Gone, or a zombie nobody has reaped yet.
        let state = std::fs::read_to_string(&stat)
            .ok()
            .and_then(|s| s.rsplit_once(") ")?.1.chars().next());
        if state.is_none_or(|c| c == 'Z') {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let ended = gone(Instant::now() + Duration::from_secs(10));
    if !ended {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    }
    assert!(ended, "rperf top kept running after its terminal hung up");
}
