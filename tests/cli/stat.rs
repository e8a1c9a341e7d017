//! `rperf stat` against `perf stat` on the same workloads.
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;

fn stat_both(args: &[&str]) -> Option<((String, i32), (String, i32))> {
    let mut p = perf()?;
    let po = run({
        p.arg("stat").args(args);
        p
    });
    let ro = run({
        let mut r = rperf();
        r.arg("stat").args(args);
        r
    });
    Some((
        (stderr(&po), po.status.code().unwrap_or(-1)),
        (stderr(&ro), ro.status.code().unwrap_or(-1)),
    ))
}

#[test]
fn page_faults_match_perf_within_2_percent() {
    let dir = TempDir::new("pf");
    let exe = compile_c(dir.path(), "touch", TOUCH_PAGES_C, &["-O1"]);
    let exe = exe.to_str().unwrap();
    let Some(((p, _), (r, rc))) = stat_both(&["-e", "page-faults", "--", exe, "20000"]) else {
        return;
    };
    assert_eq!(rc, 0, "{r}");
    let pv = value(&parse_human(&p), "page-faults", &p);
    let rv = value(&parse_human(&r), "page-faults", &r);
    assert!(rv >= 20000.0, "rperf saw {rv} faults:\n{r}");
    assert!((rv - pv).abs() / pv <= 0.02, "rperf {rv} vs perf {pv}");
}

#[test]
fn sys_enter_read_counts_match_perf() {
    let n = 5000;
    let count = format!("count={n}");
    let args = [
        "-e",
        "syscalls:sys_enter_read",
        "--",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=512",
        &count,
    ];
    let Some(((p, _), (r, rc))) = stat_both(&args) else {
        return;
    };
    assert_eq!(rc, 0, "{r}");
    let pv = value(&parse_human(&p), "syscalls:sys_enter_read", &p);
    let rv = value(&parse_human(&r), "syscalls:sys_enter_read", &r);
    assert!(rv >= n as f64, "rperf counted {rv} reads for {n} blocks");
    assert!((rv - pv).abs() <= 5.0, "rperf {rv} vs perf {pv}");
}

#[test]
fn task_clock_and_context_switches_are_plausible_against_perf() {
    let dir = TempDir::new("burn");
    let exe = compile_c(dir.path(), "burn", BURN_C, &["-O1"]);
    let exe = exe.to_str().unwrap();
    let Some(((p, _), (r, rc))) =
        stat_both(&["-e", "task-clock,context-switches", "--", exe, "300"])
    else {
        return;
    };
    assert_eq!(rc, 0, "{r}");
    let (pm, rm) = (parse_human(&p), parse_human(&r));
    let (pt, rt) = (value(&pm, "task-clock", &p), value(&rm, "task-clock", &r));
    assert!(
        (250.0..1000.0).contains(&rt),
        "task-clock {rt} msec for a 300 ms burn"
    );
    assert!(
        rt / pt > 0.7 && rt / pt < 1.4,
        "rperf {rt} vs perf {pt} msec"
    );
    let (pc, rcs) = (
        value(&pm, "context-switches", &p),
        value(&rm, "context-switches", &r),
    );
    // Switches depend on what else runs: only an order of magnitude is comparable.
    assert!(
        rcs <= (pc + 30.0) * 10.0,
        "context switches rperf {rcs} vs perf {pc}"
    );
    assert!(r.contains("CPUs utilized"), "{r}");
}

#[test]
fn unsupported_hardware_events_print_like_perf() {
    let Some(((p, _), (r, rc))) = stat_both(&["-e", "cycles,instructions", "--", "true"]) else {
        return;
    };
    assert_eq!(rc, 0);
    let rows = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.contains("<not supported>"))
            .map(String::from)
            .collect()
    };
    if rows(&p).is_empty() {
        eprintln!("SKIP: this machine has a hardware PMU, cycles are counted");
        assert!(parse_human(&r).contains_key("cycles"));
        return;
    }
    assert_eq!(rows(&r), rows(&p));
    assert!(r.contains(" Performance counter stats for 'true':"));
    assert!(
        r.contains("seconds time elapsed")
            && r.contains("seconds user")
            && r.contains("seconds sys")
    );
}

#[test]
fn default_layout_has_perf_rows_and_lines() {
    let Some(((p, _), (r, _))) = stat_both(&["--", "true"]) else {
        return;
    };
    let names = |t: &str| parse_human(t).keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&r), names(&p));
    let shape = |t: &str| -> Vec<String> {
        // Every line with its digits blanked: the layout must be perf's exactly.
        t.lines()
            .map(|l| {
                l.chars()
                    .map(|c| if c.is_ascii_digit() { '9' } else { c })
                    .collect::<String>()
            })
            .collect()
    };
    let (ps, rs) = (shape(&p), shape(&r));
    assert_eq!(rs.len(), ps.len(), "perf:\n{p}\nrperf:\n{r}");
    for (a, b) in rs.iter().zip(&ps) {
        assert_eq!(a.len(), b.len(), "line widths differ:\n{a:?}\n{b:?}");
    }
}

#[test]
fn system_wide_counts_on_every_cpu() {
    let cpus = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let n = cpus
        .trim()
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum::<usize>();
    let o = run({
        let mut r = rperf();
        r.args(["stat", "-a", "-A", "-e", "cpu-clock,cs", "sleep", "1"]);
        r
    });
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(
        e.contains("Performance counter stats for 'system wide':"),
        "{e}"
    );
    let rows: Vec<&str> = e
        .lines()
        .filter(|l| l.starts_with("CPU") && l.contains("cpu-clock"))
        .collect();
    assert_eq!(rows.len(), n, "{e}");
    for row in rows {
        let msec: f64 = row
            .split_whitespace()
            .nth(1)
            .unwrap()
            .replace(',', "")
            .parse()
            .unwrap();
        assert!(
            msec > 800.0,
            "a CPU clock counted only {msec} ms in 1 s: {row}"
        );
    }
    // Aggregated, the clock covers every CPU.
    let o = run({
        let mut r = rperf();
        r.args(["stat", "-a", "-e", "cpu-clock", "sleep", "0.5"]);
        r
    });
    let e = stderr(&o);
    let total = value(&parse_human(&e), "cpu-clock", &e);
    assert!(total > 0.8 * 500.0 * n as f64, "{e}");
}

/// `stat -p` counts the process until it exits, and then ends by itself. The burn starts
/// only once rperf has attached (the shell waits for a line first), so all of its 1.2 s of
/// CPU time is there to count however late a loaded machine lets rperf start; and the
/// process stays a zombie (unreaped) until rperf is done, which must not keep rperf waiting.
#[test]
fn pid_of_running_process_is_counted_until_it_exits() {
    let dir = TempDir::new("pid");
    let exe = compile_c(dir.path(), "burn", BURN_C, &["-O1"]);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("read go; exec '{}' 1200", exe.display()))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut r = rperf()
        .args(["stat", "-e", "task-clock", "-p", &pid.to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("rperf stat -p to attach", || {
        let ended = r.try_wait().unwrap();
        assert!(ended.is_none(), "rperf ended before attaching: {ended:?}");
        attached(r.id(), "nanosleep")
    });
    let mut go = child.stdin.take().unwrap();
    go.write_all(b"go\n").unwrap();
    drop(go);
    // The burn is over when the process is a zombie; rperf must then end on its own.
    wait_for("the burn to end", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, st)| st.starts_with('Z'))
        })
    });
    wait_for("rperf stat -p to end after the process did", || {
        r.try_wait().unwrap().is_some()
    });
    let o = r.wait_with_output().unwrap();
    let _ = child.wait();
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(e.contains(&format!("process id '{pid}'")), "{e}");
    // All of the 1.2 s burn, less what the tick-based clocks may disagree on.
    let ms = value(&parse_human(&e), "task-clock", &e);
    assert!(ms > 1000.0, "only {ms} ms counted of a 1.2 s burn:\n{e}");
}

fn event_order(t: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for (k, _) in parse_human(t) {
        seen.push(k);
    }
    seen
}

#[test]
fn repeat_shows_runs_and_noise_like_perf() {
    let Some(((p, _), (r, rc))) = stat_both(&[
        "-r",
        "3",
        "-e",
        "task-clock,page-faults,cycles",
        "--",
        "ls",
        "/",
    ]) else {
        return;
    };
    assert_eq!(rc, 0, "{r}");
    assert!(
        r.contains(" Performance counter stats for 'ls /' (3 runs):"),
        "{r}"
    );
    assert_eq!(event_order(&r), event_order(&p));
    let elapsed = r
        .lines()
        .find(|l| l.contains("seconds time elapsed"))
        .unwrap();
    assert!(elapsed.contains(" +- "), "{elapsed}");
    assert!(!r.contains("seconds user"));
}

fn csv_rows(t: &str) -> Vec<Vec<String>> {
    t.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(',').map(|f| f.trim().to_string()).collect())
        .collect()
}

#[test]
fn csv_output_has_perf_fields() {
    for extra in [&[][..], &["-r", "2"][..]] {
        let mut args = vec!["-x,", "-e", "task-clock,page-faults,cycles"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "true"]);
        let Some(((p, _), (r, _))) = stat_both(&args) else {
            return;
        };
        let (pr, rr) = (csv_rows(&p), csv_rows(&r));
        assert_eq!(rr.len(), pr.len(), "perf:\n{p}\nrperf:\n{r}");
        for (a, b) in rr.iter().zip(&pr) {
            assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
            assert_eq!(a[1..3], b[1..3], "unit and event");
            assert_eq!(a[0].starts_with('<'), b[0].starts_with('<'));
        }
    }
}

#[test]
fn json_output_parses_with_perf_keys() {
    let Some(((p, _), (r, _))) =
        stat_both(&["-j", "-e", "task-clock,page-faults,cycles", "--", "true"])
    else {
        return;
    };
    let parse = |t: &str| -> Vec<serde_json::Map<String, serde_json::Value>> {
        t.lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let (pj, rj) = (parse(&p), parse(&r));
    assert_eq!(rj.len(), pj.len());
    for (a, b) in rj.iter().zip(&pj) {
        let keys =
            |m: &serde_json::Map<String, serde_json::Value>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(a), keys(b));
        assert_eq!(a["event"], b["event"]);
        assert_eq!(a["unit"], b["unit"]);
    }
}

#[test]
fn interval_output_repeats_the_events() {
    let Some(((p, _), (r, rc))) =
        stat_both(&["-I", "200", "-e", "task-clock,cs", "--", "sleep", "0.5"])
    else {
        return;
    };
    assert_eq!(rc, 0);
    let stamps = |t: &str| -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for l in t
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let mut w = l.split_whitespace();
            let ts = w.next().unwrap().to_string();
            let name = l
                .split_whitespace()
                .rfind(|w| *w == "task-clock" || *w == "cs");
            if let Some(n) = name {
                m.entry(ts).or_default().push(n.to_string());
            }
        }
        m
    };
    let (ps, rs) = (stamps(&p), stamps(&r));
    assert!(rs.len() >= 2 && rs.len() <= 4, "{r}");
    assert_eq!(rs.len(), ps.len(), "perf:\n{p}\nrperf:\n{r}");
    for evs in rs.values() {
        assert_eq!(evs, &["task-clock", "cs"]);
    }
    assert!(
        r.starts_with("#           time             counts unit events\n"),
        "{r}"
    );
    // CSV and JSON intervals carry the timestamp first.
    let o = run({
        let mut c = rperf();
        c.args([
            "stat",
            "-j",
            "-I",
            "200",
            "-e",
            "task-clock",
            "--",
            "sleep",
            "0.3",
        ]);
        c
    });
    for l in stderr(&o).lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["interval"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn exit_status_of_the_command_is_kept() {
    let o = run({
        let mut r = rperf();
        r.args(["stat", "-e", "task-clock", "--", "sh", "-c", "exit 3"]);
        r
    });
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("task-clock"));
}

#[test]
fn output_file_gets_the_counts() {
    let dir = TempDir::new("out");
    let f = dir.path().join("counts.txt");
    let o = run({
        let mut r = rperf();
        r.args(["stat", "-e", "page-faults", "-o"])
            .arg(&f)
            .arg("true");
        r
    });
    assert!(o.status.success());
    assert!(!stderr(&o).contains("page-faults"));
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(parse_human(&text).contains_key("page-faults"), "{text}");
}

/// Runs `c` (an rperf), sends it SIGINT once its counters are open and it waits in `wait`
/// (so the signal finds its handler, however late a loaded machine starts it), and returns
/// its stderr and status once it ends (a 120 s guard turns a hang into a failure).
fn interrupt_when_waiting(mut c: Command, wait: &str) -> (String, Option<i32>) {
    let mut child = c.stderr(Stdio::piped()).spawn().unwrap();
    wait_for("rperf to start counting", || {
        let ended = child.try_wait().unwrap();
        assert!(ended.is_none(), "rperf ended by itself: {ended:?}");
        attached(child.id(), wait)
    });
    unsafe_free_kill(child.id() as i32, "INT");
    wait_for("rperf to end after SIGINT", || {
        child.try_wait().unwrap().is_some()
    });
    let o = child.wait_with_output().unwrap();
    (stderr(&o), o.status.code())
}

fn unsafe_free_kill(pid: i32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

/// SIGINT ends counting, and the counts still print; with a command the signal is passed
/// on (the 10-minute sleep ends with it, or the wait for rperf fails).
#[test]
fn ctrl_c_stops_counting_and_still_prints() {
    let mut c = rperf();
    c.args(["stat", "-a", "-e", "cpu-clock,cs"]);
    let (e, code) = interrupt_when_waiting(c, "nanosleep");
    assert_eq!(code, Some(0), "{e}");
    assert!(parse_human(&e).contains_key("cpu-clock"), "{e}");
    let mut c = rperf();
    c.args(["stat", "-e", "task-clock", "--", "sleep", "600"]);
    let (e, _) = interrupt_when_waiting(c, "wait");
    assert!(parse_human(&e).contains_key("task-clock"), "{e}");
}

fn rperf_err(args: &[&str]) -> (String, i32) {
    let o = run({
        let mut r = rperf();
        r.arg("stat").args(args);
        r
    });
    (stderr(&o), o.status.code().unwrap_or(-1))
}

#[test]
fn unknown_event_is_a_syntax_error() {
    let (e, code) = rperf_err(&["-e", "bogus", "true"]);
    assert_eq!(code, 129);
    assert!(
        e.starts_with("event syntax error: 'bogus'\n                     \\___ parser error\n"),
        "{e}"
    );
    assert!(e.contains("rperf list"));
}

#[test]
fn bad_modifier_points_at_it() {
    let (e, code) = rperf_err(&["-e", "cycles:z", "true"]);
    assert_eq!(code, 129);
    assert!(
        e.contains("event syntax error: 'cycles:z'\n                           \\___ parser error"),
        "{e}"
    );
}

#[test]
fn unknown_tracepoint_is_named() {
    let (e, code) = rperf_err(&["-e", "sched:nosuch", "true"]);
    assert_eq!(code, 129);
    assert!(
        e.contains("unknown tracepoint") && e.contains("sched/nosuch"),
        "{e}"
    );
}

#[test]
fn missing_pid_and_cpu_and_command() {
    let (e, code) = rperf_err(&["-p", "999999"]);
    assert_ne!(code, 0);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("no such process: 999999"), "{e}");
    let (e, code) = rperf_err(&["-C", "999", "true"]);
    assert_ne!(code, 0);
    assert!(e.contains("CPU 999 is not online"), "{e}");
    let (e, code) = rperf_err(&["nosuchcmd-rperf"]);
    assert_eq!(code, 127);
    assert!(
        e.contains("cannot run 'nosuchcmd-rperf'") && e.contains("No such file"),
        "{e}"
    );
    let (e, code) = rperf_err(&[]);
    assert_ne!(code, 0);
    assert!(e.contains("nothing to count"), "{e}");
}

#[test]
fn no_permission_is_explained() {
    let paranoid: i32 = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(2);
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| stdout(&o).trim() == "0")
        .unwrap_or(false);
    if !is_root || paranoid < 1 {
        eprintln!(
            "SKIP: needs root to drop privileges and perf_event_paranoid >= 1 (is {paranoid})"
        );
        return;
    }
    // Copy the binary where the unprivileged user can run it.
    let dir = TempDir::new("perm");
    let bin = dir.path().join("rperf");
    std::fs::copy(env!("CARGO_BIN_EXE_rperf"), &bin).unwrap();
    let o = run({
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["stat", "-a", "-e", "cs", "true"]);
        c
    });
    let e = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{e}");
    assert!(
        e.contains("no permission") && e.contains("perf_event_paranoid"),
        "{e}"
    );
}

#[test]
fn groups_pmu_and_detail_sets_name_the_same_rows_as_perf() {
    for args in [
        &["-e", "{task-clock,page-faults},cs", "--", "true"][..],
        &["-e", "msr/tsc/,cpu-clock:u", "--", "true"][..],
        &["-dd", "--", "true"][..],
        &["-e", "L1-dcache-loads,r1234,ref-cycles", "--", "true"][..],
    ] {
        let Some(((p, _), (r, rc))) = stat_both(args) else {
            return;
        };
        assert_eq!(rc, 0, "{r}");
        let rows = |t: &str| -> Vec<(String, bool)> {
            t.lines()
                .filter_map(|l| {
                    let m = parse_human(l);
                    m.into_iter()
                        .next()
                        .map(|(k, v)| (k, v == Cell::NotSupported))
                })
                .collect()
        };
        assert_eq!(rows(&r), rows(&p), "{args:?}\nperf:\n{p}\nrperf:\n{r}");
    }
}

#[test]
fn thread_ids_are_counted_per_thread() {
    let dir = TempDir::new("tid");
    let exe = compile_c(dir.path(), "burn", BURN_C, &["-O1"]);
    let mut child = Command::new(&exe).arg("800").spawn().unwrap();
    let tid = child.id().to_string();
    let o = run({
        let mut r = rperf();
        r.args(["stat", "--per-thread", "-e", "task-clock", "-t", &tid]);
        r
    });
    let _ = child.wait();
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(e.contains(&format!("thread id '{tid}'")), "{e}");
    let row = e
        .lines()
        .find(|l| l.contains(&format!("burn-{tid}")))
        .unwrap_or_else(|| panic!("{e}"));
    let ms: f64 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(ms > 300.0, "{row}");
}

#[test]
fn thousands_separator_follows_the_locale_like_perf() {
    let dir = TempDir::new("locale");
    let made = Command::new("localedef")
        .args(["-i", "en_US", "-f", "UTF-8"])
        .arg(dir.path().join("en_US.UTF-8"))
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success() && dir.path().join("en_US.UTF-8").exists())
        .unwrap_or(false);
    if !made {
        skip("localedef cannot build en_US.UTF-8 (locale sources missing)");
        return;
    }
    let exe = compile_c(dir.path(), "touch", TOUCH_PAGES_C, &["-O1"]);
    let grouped = |mut c: Command, extra: &[&str]| -> String {
        c.env("LOCPATH", dir.path()).env("LC_ALL", "en_US.UTF-8");
        c.arg("stat")
            .args(extra)
            .args(["-e", "page-faults", "--"])
            .arg(&exe)
            .arg("5000");
        let e = stderr(&run(c));
        e.lines()
            .find(|l| l.contains("page-faults"))
            .unwrap_or_else(|| panic!("{e}"))
            .to_string()
    };
    let Some(p) = perf() else { return };
    let pl = grouped(p, &[]);
    let rl = grouped(rperf(), &[]);
    assert!(
        pl.contains(",0") || pl.contains(",1"),
        "perf did not group: {pl}"
    );
    let number = |l: &str| l.split_whitespace().next().unwrap().to_string();
    assert!(number(&rl).contains(','), "{rl}");
    assert_eq!(number(&rl).len(), number(&pl).len(), "{rl} vs {pl}");
    assert_eq!(rl.find("page-faults"), pl.find("page-faults"));
    let plain = grouped(rperf(), &["--no-big-num"]);
    assert!(!number(&plain).contains(','), "{plain}");
}

#[test]
fn tracefs_is_mounted_when_missing() {
    // A private mount namespace lets the test unmount tracefs without disturbing anything else.
    let probe = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .status();
    if !probe.map(|s| s.success()).unwrap_or(false) {
        skip("cannot create a mount namespace (needs root and unshare)");
        return;
    }
    let script = format!(
        "umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug/tracing 2>/dev/null; \
         if grep -q tracefs /proc/mounts; then echo still-mounted; exit 0; fi; \
         {} stat -e sched:sched_process_exec -- true && grep -c tracefs /proc/mounts",
        env!("CARGO_BIN_EXE_rperf")
    );
    let o = run({
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
        c
    });
    let (out, err) = (stdout(&o), stderr(&o));
    if out.contains("still-mounted") {
        skip("tracefs could not be unmounted here");
        return;
    }
    assert!(o.status.success(), "{err}");
    assert_eq!(
        value(&parse_human(&err), "sched:sched_process_exec", &err),
        1.0,
        "{err}"
    );
    assert_eq!(
        out.trim(),
        "1",
        "rperf should have mounted tracefs once: {out}"
    );
}

#[test]
fn breakpoint_counts_writes_like_perf() {
    let dir = TempDir::new("bp");
    let src = r#"
volatile long target;
int main(void) { for (int i = 0; i < 1000; i++) target = i; return 0; }
"#;
    let exe = compile_c(dir.path(), "bp", src, &["-O1", "-no-pie"]);
    let nm = stdout(&run({
        let mut c = Command::new("nm");
        c.arg(&exe);
        c
    }));
    let Some(addr) = nm
        .lines()
        .find(|l| l.ends_with(" target"))
        .and_then(|l| l.split_whitespace().next())
    else {
        skip("nm did not list the variable");
        return;
    };
    let ev = format!("mem:0x{addr}:w");
    let Some(((p, _), (r, rc))) = stat_both(&["-e", &ev, "--", exe.to_str().unwrap()]) else {
        return;
    };
    assert_eq!(rc, 0, "{r}");
    let rv = value(&parse_human(&r), &ev, &r);
    assert_eq!(
        rv,
        value(&parse_human(&p), &ev, &p),
        "rperf\n{r}\nperf\n{p}"
    );
    // The loop writes 1000 times; start-up code may touch the variable a few more.
    assert!((1000.0..1020.0).contains(&rv), "{rv}");
}
