//! `rperf sched`: record, latency, timehist, map and script compared line by line with
//! `perf sched` on the same recordings (one made by perf, one by rperf), on a workload whose
//! threads sleep, spin and block on a pipe.
use std::path::{Path, PathBuf};

use crate::common::*;

const SCHED_MIX_C: &str = include_str!("../../fixtures/workloads/sched_mix.c");

/// How long the fixture's threads sleep, spin and read, in ms.
const MS: &str = "100";

/// `TOOL sched record ARGS -o dir/name -- mix MS`; `None` when perf is missing.
fn sched_record(tool: &str, dir: &Path, name: &str, args: &[&str]) -> Option<PathBuf> {
    let exe = compile_c(dir, "sched_mix", SCHED_MIX_C, &["-O1", "-pthread"]);
    let mut c = if tool == "perf" { perf()? } else { rperf() };
    let out = dir.join(name);
    c.args(["sched", "record"])
        .args(args)
        .arg("-o")
        .arg(&out)
        .arg("--")
        .arg(&exe)
        .arg(MS);
    let o = run(c);
    assert!(o.status.success(), "{tool} sched record: {}", stderr(&o));
    Some(out)
}

/// `TOOL sched ARGS -i file`: stdout and stderr, asserting success.
fn sched_out(tool: &str, args: &[&str], file: &Path) -> (String, String) {
    let mut c = if tool == "perf" {
        perf().expect("perf")
    } else {
        rperf()
    };
    c.arg("sched").args(args).arg("-i").arg(file);
    let o = run(c);
    assert!(o.status.success(), "{tool} sched {args:?}: {}", stderr(&o));
    (stdout(&o), stderr(&o))
}

/// rperf's output equals perf's, line by line (the first differing line named).
fn same_as_perf(args: &[&str], file: &Path) -> String {
    let (theirs, their_err) = sched_out("perf", args, file);
    let (ours, our_err) = sched_out("rperf", args, file);
    for (n, (a, b)) in theirs.lines().zip(ours.lines()).enumerate() {
        assert_eq!(a, b, "sched {args:?} on {file:?}, line {}", n + 1);
    }
    assert_eq!(
        theirs.lines().count(),
        ours.lines().count(),
        "sched {args:?} on {file:?}: line counts"
    );
    // perf's one stderr note (no call chains) is rperf's too.
    let note = "Samples do not have callchains.";
    assert_eq!(their_err.contains(note), our_err.contains(note), "{args:?}");
    ours
}

/// The analyses of every layout and option, the same as perf's on both files.
const ANALYSES: &[&[&str]] = &[
    &["latency"],
    &["latency", "-p"],
    &["latency", "-s", "pid", "-C", "0"],
    &["timehist"],
    &["timehist", "-S", "-w", "-M", "-V", "--state", "-n"],
    &["timehist", "-I", "-S"],
    &["timehist", "-S", "-C", "0"],
    &["map"],
    &["map", "--compact"],
    &["map", "--cpus", "1"],
    &["map", "--compact", "--cpus", "0"],
];

#[test]
fn sched_analyses_match_perf_on_perf_and_rperf_recordings() {
    let dir = TempDir::new("sched");
    let Some(p) = sched_record("perf", dir.path(), "p.data", &[]) else {
        return;
    };
    let r = sched_record("rperf", dir.path(), "r.data", &[]).unwrap();
    // rperf records what perf sched record records.
    let events = |f: &Path| {
        let mut c = perf().unwrap();
        c.args(["evlist", "-i"]).arg(f);
        let mut v: Vec<String> = stdout(&run(c))
            .lines()
            .filter(|l| l.starts_with("sched:"))
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    assert_eq!(events(&p), events(&r));
    for file in [&p, &r] {
        for args in ANALYSES {
            same_as_perf(args, file);
        }
        // The threads' own id filter too.
        let lat = sched_out("rperf", &["latency", "-p"], file).0;
        let pid = lat
            .lines()
            .find_map(|l| l.trim().strip_prefix("spinner:"))
            .and_then(|l| l.split_whitespace().next())
            .expect("spinner in latency")
            .to_string();
        same_as_perf(&["timehist", "-S", "-t", &pid], file);
    }
}

#[test]
fn sched_shows_the_fixture_threads_as_they_behave() {
    let dir = TempDir::new("sched-mix");
    let r = sched_record("rperf", dir.path(), "r.data", &[]).unwrap();
    let ms: f64 = MS.parse().unwrap();
    // timehist -w: the sleeper goes off CPU and is woken its sleep later.
    let th = sched_out("rperf", &["timehist", "-w"], &r).0;
    let time = |l: &str| -> f64 { l.split_whitespace().next().unwrap().parse().unwrap() };
    let out = th
        .lines()
        .find(|l| l.contains(" sleeper[") && !l.contains("awakened"))
        .map(time)
        .unwrap_or_else(|| panic!("no sleeper switch:\n{th}"));
    let woken = th
        .lines()
        .filter(|l| l.contains("awakened: sleeper["))
        .map(time)
        .find(|&t| t > out)
        .unwrap_or_else(|| panic!("sleeper never woken:\n{th}"));
    let slept = (woken - out) * 1e3;
    assert!(
        slept >= 0.9 * ms && slept < 20.0 * ms,
        "slept {slept} ms:\n{th}"
    );
    // The summary: the spinner ran far longer than the sleeper; the reader blocked and
    // woke more than once (once per byte when it keeps up; bytes pile up under load).
    let sum = sched_out("rperf", &["timehist", "-s"], &r).0;
    let row = |name: &str| -> (u64, f64) {
        let l = sum
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name}[")))
            .unwrap_or_else(|| panic!("{name} in summary:\n{sum}"));
        let f: Vec<&str> = l.split_whitespace().collect();
        (f[2].parse().unwrap(), f[3].parse().unwrap())
    };
    let (_, spin_ms) = row("spinner");
    let (_, sleep_ms) = row("sleeper");
    let (reads, _) = row("reader");
    assert!(spin_ms > 10.0 * sleep_ms.max(0.1), "{sum}");
    assert!(reads >= 2, "reader switches {reads}:\n{sum}");
    // latency: one row per fixture thread, by final name.
    let lat = sched_out("rperf", &["latency"], &r).0;
    for t in ["sleeper:", "spinner:", "reader:", "TOTAL:"] {
        assert!(lat.contains(t), "{t}:\n{lat}");
    }
}

#[test]
fn sched_call_chains_match_perf() {
    let dir = TempDir::new("sched-g");
    let Some(p) = sched_record("perf", dir.path(), "p.data", &["-g"]) else {
        return;
    };
    let r = sched_record("rperf", dir.path(), "r.data", &["-g"]).unwrap();
    for file in [&p, &r] {
        let out = same_as_perf(&["timehist"], file);
        // Kernel frames name the sleep's path.
        assert!(out.contains("do_nanosleep"), "{out}");
        same_as_perf(&["timehist", "--max-stack", "2", "-n"], file);
        same_as_perf(&["timehist", "-I", "-S"], file);
    }
}

#[test]
fn sched_script_is_script_of_the_file() {
    let dir = TempDir::new("sched-script");
    let r = sched_record("rperf", dir.path(), "r.data", &[]).unwrap();
    let ours = sched_out("rperf", &["script"], &r).0;
    let mut c = rperf();
    c.arg("script").arg("-i").arg(&r);
    assert_eq!(ours, stdout(&run(c)));
    assert!(ours.contains("sched:sched_switch:"));
    // An output that cannot be written is an error, named.
    let full = std::fs::File::create("/dev/full").unwrap();
    let mut c = rperf();
    c.args(["sched", "latency", "-i"]).arg(&r).stdout(full);
    let o = run(c);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("writing the output"), "{}", stderr(&o));
}

#[test]
fn sched_bad_input_says_what_to_do() {
    let dir = TempDir::new("sched-bad");
    let fail = |args: &[&str]| {
        let mut c = rperf();
        c.arg("sched").args(args);
        let o = run(c);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(o.stdout.is_empty(), "{args:?} printed {}", stdout(&o));
        stderr(&o)
    };
    let missing = dir.path().join("missing.data");
    let e = fail(&["latency", "-i", missing.to_str().unwrap()]);
    assert!(
        e.contains("missing.data") && e.contains("No such file"),
        "{e}"
    );
    // A recording without scheduler events.
    let plain = record_with(
        "rperf",
        dir.path(),
        "plain.data",
        &["-e", "cpu-clock", "--", "true"],
    )
    .unwrap();
    for sub in ["latency", "timehist", "map"] {
        let e = fail(&[sub, "-i", plain.to_str().unwrap()]);
        assert!(
            e.contains("no sched:sched_switch events") && e.contains("rperf sched record"),
            "{sub}: {e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    let e = fail(&["replay"]);
    assert!(e.contains("unrecognized subcommand 'replay'"), "{e}");
    let e = fail(&["latency", "--sort", "bogus", "-i", plain.to_str().unwrap()]);
    assert!(e.contains("unknown --sort key 'bogus'"), "{e}");
    let e = fail(&["timehist", "-p", "x1", "-i", plain.to_str().unwrap()]);
    assert!(e.contains("invalid --pid 'x1'"), "{e}");
}

/// A copy of `file` where thread `tid` is the idle task (its switches name pid 0): this
/// loaded test machine seldom idles, so the idle paths get a recording where they show.
fn as_idle(file: &Path, tid: i32, out: &Path) -> usize {
    let id: u16 = std::fs::read_to_string("/sys/kernel/tracing/events/sched/sched_switch/id")
        .or_else(|_| {
            std::fs::read_to_string("/sys/kernel/debug/tracing/events/sched/sched_switch/id")
        })
        .expect("sched_switch's tracepoint id")
        .trim()
        .parse()
        .unwrap();
    let mut b = std::fs::read(file).unwrap();
    let mut n = 0;
    let mut i = 0;
    // A sample's raw data: its u32 size, then the payload, which opens with the event id;
    // prev_pid is at offset 24 and next_pid at 56 in sched_switch's format.
    while i + 4 + 60 <= b.len() {
        let size = u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        let ty = u16::from_le_bytes(b[i + 4..i + 6].try_into().unwrap());
        if ty == id && (64..=96).contains(&size) && i + 4 + size as usize <= b.len() {
            for off in [24, 56] {
                let at = i + 4 + off;
                if i32::from_le_bytes(b[at..at + 4].try_into().unwrap()) == tid {
                    b[at..at + 4].copy_from_slice(&0i32.to_le_bytes());
                    n += 1;
                }
            }
            i += 4 + size as usize;
        } else {
            i += 1;
        }
    }
    std::fs::write(out, b).unwrap();
    n
}

#[test]
fn sched_idle_time_matches_perf() {
    let dir = TempDir::new("sched-idle");
    let Some(p) = sched_record("perf", dir.path(), "p.data", &[]) else {
        return;
    };
    let r = sched_record("rperf", dir.path(), "r.data", &[]).unwrap();
    for (file, name) in [(&p, "pi.data"), (&r, "ri.data")] {
        // The reader's thread id from its events (latency leaves a task out when the
        // order of its wakeups and switches gives it no complete delay, as perf does on a
        // run where the main thread wakes it on its own CPU every time).
        let script = rperf_out(&["script", "-F", "comm,tid"], file);
        let tid: i32 = script
            .lines()
            .find_map(|l| l.trim().strip_prefix("reader "))
            .and_then(|t| t.trim().parse().ok())
            .expect("reader's events in script");
        let idle = dir.path().join(name);
        assert!(as_idle(file, tid, &idle) > 4, "no switches of the reader");
        let th = same_as_perf(&["timehist", "-S", "-V"], &idle);
        assert!(th.contains("<idle>") && th.contains(" idle for "), "{th}");
        same_as_perf(&["timehist", "-I", "-S"], &idle);
        same_as_perf(&["latency"], &idle);
        let map = same_as_perf(&["map"], &idle);
        assert!(map.contains(" . "), "swapper's '.' in:\n{map}");
    }
}
