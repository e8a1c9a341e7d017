//! `record --off-cpu` and flamegraph's `--off-cpu`/`--wall` views against a workload that
//! measures its own blocking (fixtures/workloads/offcpu.c), and a switch-heavy ping-pong.
use std::collections::BTreeMap;
use std::path::Path;

use super::common::*;

const OFFCPU_C: &str = include_str!("../../fixtures/workloads/offcpu.c");
const PINGPONG_C: &str = include_str!("../../fixtures/workloads/pingpong.c");

/// What a fixture thread says of itself: role → (tid, elapsed ns, blocked ns).
fn truth(stderr: &str) -> BTreeMap<String, (u32, f64, f64)> {
    stderr
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [role, tid, elapsed, blocked] => Some((
                    role.to_string(),
                    (
                        tid.parse().ok()?,
                        elapsed.parse().ok()?,
                        blocked.parse().ok()?,
                    ),
                )),
                _ => None,
            }
        })
        .collect()
}

/// `rperf record --off-cpu ARGS -- exe`: its stderr, the workload's own report of itself
/// and rperf's summary.
fn record(dir: &Path, exe: &Path, args: &[&str], data: &str) -> String {
    let o = run({
        let mut c = rperf();
        c.args(["record", "--off-cpu", "-o"])
            .arg(dir.join(data))
            .args(args)
            .arg("--")
            .arg(exe);
        c
    });
    let err = stderr(&o);
    assert!(o.status.success(), "rperf record --off-cpu: {err}");
    err
}

/// Folded lines of a flamegraph view, as (stack, weight).
fn folded(data: &Path, view: &str) -> Vec<(String, f64)> {
    let text = rperf_out(
        &[
            "flamegraph",
            view,
            "--per-thread",
            "--format",
            "folded",
            "-o",
            "-",
        ],
        data,
    );
    text.lines()
        .filter_map(|l| {
            let (s, w) = l.rsplit_once(' ')?;
            Some((s.to_string(), w.parse().ok()?))
        })
        .collect()
}

/// Nanoseconds of the stacks of thread `tid` under `frame` holding `needle`.
fn sum(lines: &[(String, f64)], tid: u32, frame: &str, needle: &str) -> f64 {
    lines
        .iter()
        .filter(|(s, _)| {
            let mut parts = s.split(';');
            parts
                .next()
                .is_some_and(|r| r.ends_with(&format!("/{tid}")))
                && s.contains(&format!(";{frame};"))
                && s.contains(needle)
        })
        .map(|(_, w)| w)
        .sum()
}

fn within(got: f64, want: f64, what: &str) {
    let err = (got - want).abs() / want;
    assert!(
        err <= 0.05,
        "{what}: rperf says {:.3} ms, the workload {:.3} ms ({:.1}% apart)",
        got / 1e6,
        want / 1e6,
        err * 100.0
    );
}

#[test]
fn off_cpu_time_and_wall_clock_match_what_the_workload_measured() {
    let dir = TempDir::new("offcpu");
    let exe = compile_c(
        dir.path(),
        "offcpu",
        OFFCPU_C,
        &["-O1", "-fno-omit-frame-pointer", "-pthread"],
    );
    // DWARF: the frame-pointer chain loses the caller of libc's frameless nanosleep.
    let err = record(
        dir.path(),
        &exe,
        &["--call-graph", "dwarf", "-F", "999", "-m", "64"],
        "o.data",
    );
    let t = truth(&err);
    assert_eq!(t.len(), 4, "the workload's own report: {err}");
    let data = dir.path().join("o.data");

    // Off-CPU: each blocking function, under its callers, weighs the time it blocked.
    let off = folded(&data, "--off-cpu");
    let blocked = "[off-cpu: blocked]";
    let (sleeper, reader, feeder) = (t["sleeper"], t["reader"], t["feeder"]);
    let got_sleep = sum(&off, sleeper.0, blocked, ";a;b;wait_here;");
    let got_read = sum(&off, reader.0, blocked, ";read_from_pipe;");
    let got_feed = sum(&off, feeder.0, blocked, ";main;feed;");
    within(got_sleep, sleeper.2, "wait_here under a → b");
    within(got_read, reader.2, "read_from_pipe");
    within(got_feed, feeder.2, "feed's sleeps");
    // Their shares of the three.
    let (got_all, want_all) = (
        got_sleep + got_read + got_feed,
        sleeper.2 + reader.2 + feeder.2,
    );
    for (g, w, what) in [
        (got_sleep, sleeper.2, "wait_here's share"),
        (got_read, reader.2, "read_from_pipe's share"),
        (got_feed, feeder.2, "feed's share"),
    ] {
        within(g / got_all, w / want_all, what);
    }
    // The spinner never blocks: its off-CPU time, if any, is waiting for a CPU.
    let spinner = t["spinner"];
    assert!(
        sum(&off, spinner.0, blocked, "") < 0.05 * spinner.1,
        "the spinner shows blocked time: {off:?}"
    );

    // Wall clock: each thread's on- and off-CPU time add up to its elapsed time.
    let wall = folded(&data, "--wall");
    for (role, (tid, elapsed, _)) in &t {
        let total: f64 = wall
            .iter()
            .filter(|(s, _)| {
                s.split(';')
                    .next()
                    .is_some_and(|r| r.ends_with(&format!("/{tid}")))
            })
            .map(|(_, w)| w)
            .sum();
        within(total, *elapsed, &format!("{role}'s wall-clock time"));
    }
    // The spinner's wall is mostly on CPU: its stacks without an off-CPU frame.
    let on: f64 = wall
        .iter()
        .filter(|(s, _)| {
            s.split(';')
                .next()
                .is_some_and(|r| r.ends_with(&format!("/{}", spinner.0)))
                && !s.contains("[off-cpu")
                && s.contains(";spin")
        })
        .map(|(_, w)| w)
        .sum();
    assert!(on > 0.0, "no on-CPU time in spin: {wall:?}");

    // The SVG colours the off-CPU frames apart.
    let svg = dir.path().join("off.svg");
    let o = run({
        let mut c = rperf();
        c.args(["flamegraph", "--off-cpu", "-o"])
            .arg(&svg)
            .arg("-i")
            .arg(&data);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("[off-cpu: blocked]") && text.contains("wait_here"));
    assert!(
        !text.contains("wait_here_[w]"),
        "marks are for colours only"
    );
    // Blocked frames are drawn blue (inferno's io palette), not in the hot palette.
    let rect = text
        .split("<title>wait_here (")
        .nth(1)
        .and_then(|r| r.split("fill=\"rgb(").nth(1))
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no wait_here frame in the SVG"));
    let rgb: Vec<u32> = rect.split(',').filter_map(|v| v.parse().ok()).collect();
    assert!(
        rgb.len() == 3 && rgb[2] > rgb[0] && rgb[2] > rgb[1],
        "wait_here is rgb({rect})"
    );

    // rperf report names the events and says the time.
    let report = rperf_out(&["report", "--stdio", "--no-children"], &data);
    assert!(report.contains("of event 'offcpu-time'"), "{report}");
    assert!(report.contains("# Off-CPU time: "), "{report}");
    assert!(report.contains("wait_here"), "{report}");

    // perf reads the file: the same events, the same off-CPU nanoseconds.
    let Some(mut p) = perf() else { return };
    p.args(["script", "-F", "tid,period,event", "-i"])
        .arg(&data);
    let o = run(p);
    assert!(o.status.success(), "perf script: {}", stderr(&o));
    let mut perf_ns = 0.0;
    for l in stdout(&o).lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let [tid, period, "offcpu-time:"] = f.as_slice() {
            if tid.parse() == Ok(sleeper.0) {
                perf_ns += period.parse::<f64>().unwrap();
            }
        }
    }
    let ours = sum(&off, sleeper.0, blocked, "");
    assert!(
        (perf_ns - ours).abs() < 1.0,
        "perf script's offcpu-time of the sleeper: {perf_ns} ns, rperf's {ours} ns"
    );
    let mut p = perf().unwrap();
    p.args(["report", "--stdio", "--no-children", "-i"])
        .arg(&data);
    let o = run(p);
    assert!(o.status.success(), "perf report: {}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("of event 'offcpu-time'"), "{text}");
    assert!(text.contains("wait_here"), "{text}");
}

#[test]
fn frame_pointer_chains_and_the_sleep_still_counted() {
    let dir = TempDir::new("offcpu-fp");
    let exe = compile_c(
        dir.path(),
        "offcpu",
        OFFCPU_C,
        &["-O1", "-fno-omit-frame-pointer", "-pthread"],
    );
    let err = record(dir.path(), &exe, &["-g", "-F", "999"], "g.data");
    let t = truth(&err);
    let off = folded(&dir.path().join("g.data"), "--off-cpu");
    // libc's nanosleep keeps no frame: the chain shows b, not wait_here (as perf's would).
    let got = sum(&off, t["sleeper"].0, "[off-cpu: blocked]", ";b;");
    within(got, t["sleeper"].2, "the sleeper's blocked time with -g");
    assert!(
        sum(
            &off,
            t["reader"].0,
            "[off-cpu: blocked]",
            ";read_from_pipe;"
        ) > 0.0,
        "{off:?}"
    );
}

#[test]
fn a_switch_heavy_ping_pong_keeps_working_and_never_overweighs() {
    let dir = TempDir::new("offcpu-pp");
    let exe = compile_c(
        dir.path(),
        "pingpong",
        PINGPONG_C,
        &["-O1", "-fno-omit-frame-pointer", "-pthread"],
    );
    // Each thread's wall total as a share of its life, recorded with `-m PAGES`.
    let shares = |pages: &str, name: &str| -> (Vec<f64>, String) {
        let data = dir.path().join(name);
        let o = run({
            let mut c = rperf();
            c.args(["record", "--off-cpu", "-g", "-m", pages, "-o"])
                .arg(&data)
                .arg("--")
                .arg(&exe)
                .arg("30000");
            c
        });
        let err = stderr(&o);
        assert!(o.status.success(), "{err}");
        assert!(err.contains("rperf record: off-CPU:"), "{err}");
        let t = truth(&err);
        let wall = folded(&data, "--wall");
        let shares = ["ping", "pong"]
            .iter()
            .map(|role| {
                let (tid, elapsed, _) = t[*role];
                let total: f64 = wall
                    .iter()
                    .filter(|(s, _)| {
                        s.split(';')
                            .next()
                            .is_some_and(|r| r.ends_with(&format!("/{tid}")))
                    })
                    .map(|(_, w)| w)
                    .sum();
                assert!(total > 0.0, "{role} has no time at all\n{err}");
                total / elapsed
            })
            .collect();
        (shares, err)
    };
    // A small ring (8 pages) loses switches under any load; a large one, as a reference,
    // rarely does. Every lost stretch is left out, none is stretched over a loss: the
    // small ring's totals are never above the reference's. Without losses the wall adds
    // up to the thread's life: each stretch starts at the switch (SWITCH_OUT), not at the
    // sched_switch sample whose cost the CPU samples already count (at ~100k switches/s
    // that overlap once made 120 %).
    let (big, big_err) = shares("1024", "big.data");
    for (role, b) in ["ping", "pong"].iter().zip(&big) {
        assert!(
            *b <= 1.10,
            "{role}: {:.0} % of its life\n{big_err}",
            b * 100.0
        );
    }
    let (small, err) = shares("8", "small.data");
    for (role, (s, b)) in ["ping", "pong"].iter().zip(small.iter().zip(&big)) {
        assert!(
            *s <= b * 1.05,
            "{role}: {:.0} % of its life with losses against {:.0} % without\n{err}",
            s * 100.0,
            b * 100.0
        );
    }
}

#[test]
fn views_need_an_off_cpu_recording() {
    let dir = TempDir::new("offcpu-none");
    let exe = compile_c(dir.path(), "burn", BURN_C, &["-O1"]);
    let data = dir.path().join("c.data");
    assert!(record_to("rperf", &[exe.to_str().unwrap(), "50"], &data));
    let o = run({
        let mut c = rperf();
        c.args(["flamegraph", "--wall", "-o"])
            .arg(dir.path().join("w.svg"))
            .arg("-i")
            .arg(&data);
        c
    });
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("record --off-cpu"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!dir.path().join("w.svg").exists());
}

#[test]
fn a_thread_still_asleep_when_recording_stops_gets_its_time_up_to_the_stop() {
    let dir = TempDir::new("offcpu-end");
    let data = dir.path().join("e.data");
    // The background sleep outlives the command, whose exit ends the recording ~0.2 s in.
    let o = run({
        let mut c = rperf();
        c.args(["record", "--off-cpu", "-g", "-o"])
            .arg(&data)
            .args(["--", "sh", "-c", "sleep 0.6 & exec sleep 0.2"]);
        c
    });
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(" 1 still off CPU at the end"), "{err}");
    let text = rperf_out(&["script", "-F", "comm,tid,period,event"], &data);
    let periods: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("offcpu-time") && l.trim_start().starts_with("sleep"))
        .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
        .collect();
    // Both sleeps: the one that ended (~0.2 s) and the one cut at the stop, which must be
    // shorter than its 0.6 s and at least what the recording lasted after it fell asleep.
    assert_eq!(periods.len(), 2, "{text}");
    for p in periods {
        assert!((100_000_000..600_000_000).contains(&p), "{p} ns\n{text}");
    }
}

#[test]
fn system_wide_off_cpu_keeps_the_cpu_and_never_overweighs() {
    let dir = TempDir::new("offcpu-a");
    let exe = compile_c(
        dir.path(),
        "offcpu",
        OFFCPU_C,
        &["-O1", "-fno-omit-frame-pointer", "-pthread"],
    );
    let err = record(dir.path(), &exe, &["-a", "-g", "-F", "499"], "a.data");
    let t = truth(&err);
    let data = dir.path().join("a.data");
    let off = folded(&data, "--off-cpu");
    let sleeper = t["sleeper"];
    let got = sum(&off, sleeper.0, "[off-cpu: blocked]", ";b;");
    // Every CPU's switches, other processes' too: a loaded machine may lose some, which
    // leaves time out but never stretches it.
    if err.contains("lost their pair") {
        assert!(
            got <= sleeper.2 * 1.05,
            "{got} ns for {} ns\n{err}",
            sleeper.2
        );
    } else {
        within(got, sleeper.2, "the sleeper's blocked time with -a");
    }
    // CPU-wide samples keep their CPU, as perf's do.
    let text = rperf_out(&["script", "-F", "tid,cpu,event"], &data);
    assert!(
        text.lines()
            .any(|l| l.contains("offcpu-time") && l.contains('[')),
        "{}",
        text.lines().take(5).collect::<Vec<_>>().join("\n")
    );
}
