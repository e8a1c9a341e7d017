//! `rperf diff` against `perf diff` on the same recordings of a rebuilt program, pairing by
//! name, and its refusals of bad input.
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// Two builds of one program (`fixtures/workloads/rebuilt.c`): every function moves.
const REBUILT_C: &str = include_str!("../../fixtures/workloads/rebuilt.c");

/// The old build in `dir/a/w`, the new one in `dir/b/w`: one binary name, two builds.
fn builds(dir: &Path) -> (PathBuf, PathBuf) {
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    (
        compile_c(&a, "w", REBUILT_C, &["-O1", "-g"]),
        compile_c(&b, "w", REBUILT_C, &["-O1", "-g", "-DV2"]),
    )
}

/// `nm`'s address of `sym` in `exe`.
fn address(exe: &Path, sym: &str) -> Option<String> {
    let o = run({
        let mut c = Command::new("nm");
        c.arg(exe);
        c
    });
    stdout(&o).lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() == 3 && f[2] == sym).then(|| f[0].to_string())
    })
}

fn diff_out(tool: Command, args: &[&str], files: &[&Path]) -> std::process::Output {
    let mut c = tool;
    c.arg("diff").args(args).args(files);
    run(c)
}

/// The lines of a diff output worth comparing: rows in the vDSO (named by perf only from
/// its build-id cache, which tests running beside this one write) and PLT stubs (named
/// differently on purpose, see the report tests) are left out, and with them the column
/// widths they may set.
fn comparable(text: &str) -> (Vec<String>, Vec<String>, bool) {
    let mut head = Vec::new();
    let mut rows = Vec::new();
    let mut dropped = false;
    for l in text.lines() {
        if l.contains("[vdso]") || l.contains("@plt") || l.ends_with("[.] _init") {
            dropped = true;
            continue;
        }
        if l.starts_with('#') {
            head.push(l.to_string());
        } else {
            rows.push(l.to_string());
        }
    }
    (head, rows, dropped)
}

/// Whether two row lines agree: the same words, numbers within 0.01.
fn same_row(p: &str, r: &str) -> bool {
    let split = |s: &str| -> Vec<String> {
        s.split([' ', ';', ','])
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect()
    };
    let (pw, rw) = (split(p), split(r));
    pw.len() == rw.len()
        && pw.iter().zip(&rw).all(|(a, b)| {
            let num = |s: &str| s.trim_end_matches('%').parse::<f64>().ok();
            match (num(a), num(b)) {
                // `-nan%` (shares of nothing) must be spelled alike.
                (Some(x), Some(y)) if x.is_nan() || y.is_nan() => a == b,
                (Some(x), Some(y)) => (x - y).abs() <= 0.01 + 1e-9,
                _ => a == b,
            }
        })
}

/// perf diff and rperf diff with `args` on `files`, compared line by line.
fn compare(args: &[&str], files: &[&Path]) {
    let Some(p) = perf() else { return };
    let po = diff_out(p, args, files);
    let ro = diff_out(rperf(), args, files);
    assert!(po.status.success(), "perf diff {args:?}: {}", stderr(&po));
    assert!(ro.status.success(), "rperf diff {args:?}: {}", stderr(&ro));
    let (pt, rt) = (stdout(&po), stdout(&ro));
    let ((mut ph, pr, pd), (mut rh, rr, rd)) = (comparable(&pt), comparable(&rt));
    if pd || rd {
        let width = |h: &String| h.starts_with("# Baseline") || h.starts_with("# ....");
        ph.retain(|h| !width(h));
        rh.retain(|h| !width(h));
    }
    assert_eq!(ph, rh, "header of diff {args:?}\nperf:\n{pt}\nrperf:\n{rt}");
    assert_eq!(
        pr.len(),
        rr.len(),
        "rows of diff {args:?}\nperf:\n{pt}\nrperf:\n{rt}"
    );
    for (a, b) in pr.iter().zip(&rr) {
        assert!(
            same_row(a, b),
            "diff {args:?}: perf row\n{a}\nrperf row\n{b}\nperf:\n{pt}\nrperf:\n{rt}"
        );
    }
}

/// The option sets compared with two files.
const TWO_FILE_ARGS: &[&[&str]] = &[
    &[],
    &["-c", "delta"],
    &["-c", "ratio", "-p"],
    &["-c", "wdiff:2,3", "-F"],
    &["-F", "-p"],
    &["-b"],
    &["-q"],
    &["-o", "0"],
    &["-s", "comm,dso"],
    &["-s", "pid"],
    &["-s", "sym"],
    &["--comms", "w", "--dsos", "w"],
    &[
        "--comms",
        "w",
        "--dsos",
        "w",
        "--percentage",
        "relative",
        "-F",
    ],
    &["--symbols", "hot,gone", "-b", "-F"],
    &["-t", ";"],
    &["-c", "ratio", "-p", "-F", "-t", ","],
    &["--time", "10%/2"],
    &["--time", "0%-40%,60%-100%", "-p"],
];

#[test]
fn diff_agrees_with_perf_on_a_rebuilt_program() {
    let dir = TempDir::new("diff-perf");
    let (old_exe, new_exe) = builds(dir.path());
    let (o, n) = (old_exe.to_str().unwrap(), new_exe.to_str().unwrap());
    let mut runs: Vec<(Vec<&str>, Vec<PathBuf>)> = Vec::new();
    for tool in ["perf", "rperf"] {
        let Some(old) = record_with(tool, dir.path(), &format!("{tool}.old"), &[o, "0.3"]) else {
            return;
        };
        let new = record_with(tool, dir.path(), &format!("{tool}.new"), &[n, "0.3"]).unwrap();
        if tool == "perf" {
            for args in TWO_FILE_ARGS {
                runs.push((args.to_vec(), vec![old.clone(), new.clone()]));
            }
            // Several NEW files: a column (or three) per file, ordered by any of them.
            let third = record_with(tool, dir.path(), "perf.3", &[o, "0.2"]).unwrap();
            let three = vec![old.clone(), new.clone(), third];
            runs.push((vec!["-p"], three.clone()));
            runs.push((vec!["-c", "delta", "-o", "2", "-F"], three.clone()));
            runs.push((vec!["-c", "wdiff:3,1", "-F"], three.clone()));
            runs.push((vec!["-b", "-o", "0"], three));
        } else {
            // rperf's recordings read the same, by both tools.
            for args in [&[][..], &["-c", "ratio", "-p"], &["-b", "-s", "comm,dso"]] {
                runs.push((args.to_vec(), vec![old.clone(), new.clone()]));
            }
        }
    }
    // Each comparison waits on two processes: run them side by side.
    std::thread::scope(|s| {
        for (args, files) in &runs {
            s.spawn(move || {
                let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
                compare(args, &files);
            });
        }
    });
}

/// The row of `sym` in a diff output: (baseline cell, delta cell), empty when blank.
fn row_of(text: &str, sym: &str) -> Option<(String, String)> {
    text.lines().find_map(|l| {
        l.ends_with(&format!("[.] {sym}")).then(|| {
            // Baseline: 2..12, Delta Abs: 12..23 in perf's layout.
            (l[..12].trim().to_string(), l[12..23].trim().to_string())
        })
    })
}

#[test]
fn functions_of_a_rebuilt_binary_pair_by_name() {
    let dir = TempDir::new("diff-rebuilt");
    let (old_exe, new_exe) = builds(dir.path());
    // The rebuild moved the functions: pairing by address would mismatch them.
    assert_ne!(address(&old_exe, "hot"), address(&new_exe, "hot"));
    let old = dir.path().join("perf.data.old");
    let new = dir.path().join("perf.data");
    record_to("rperf", &[old_exe.to_str().unwrap(), "0.3"], &old);
    record_to("rperf", &[new_exe.to_str().unwrap(), "0.3"], &new);
    // No file named: perf.data.old and perf.data in the current directory, as perf.
    let o = run({
        let mut c = rperf();
        c.arg("diff").current_dir(dir.path());
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("# Event '"), "{text}");
    assert!(
        text.contains("# Baseline  Delta Abs  Shared Object"),
        "{text}"
    );
    let pct = |s: &str| {
        s.trim_start_matches('+')
            .trim_end_matches('%')
            .parse::<f64>()
    };
    // hot and warm are in both builds: a baseline share and a change.
    for f in ["hot", "warm"] {
        let (base, delta) = row_of(&text, f).unwrap_or_else(|| panic!("no {f} row:\n{text}"));
        assert!(pct(&base).unwrap() > 1.0, "{f}: {base}\n{text}");
        assert!(pct(&delta).is_ok(), "{f}: {delta}\n{text}");
    }
    // hot lost half its work: its share fell.
    let (_, hot_delta) = row_of(&text, "hot").unwrap();
    assert!(hot_delta.starts_with('-'), "{text}");
    // added is only new (no baseline), gone only old (no delta).
    let (base, delta) = row_of(&text, "added").unwrap_or_else(|| panic!("{text}"));
    assert!(base.is_empty() && delta.starts_with('+'), "{text}");
    let (base, delta) = row_of(&text, "gone").unwrap_or_else(|| panic!("{text}"));
    assert!(!base.is_empty() && delta.is_empty(), "{text}");
    // One file named: perf.data.old against it.
    let o = run({
        let mut c = rperf();
        c.arg("diff").arg(&new).current_dir(dir.path());
        c
    });
    assert_eq!(stdout(&o), text);

    // flamegraph --diff pairs the same way: hot's frame carries the change.
    let svg = dir.path().join("d.svg");
    let o = run({
        let mut c = rperf();
        c.args(["flamegraph", "--diff"])
            .arg(&old)
            .arg(&new)
            .arg("-o")
            .arg(&svg);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.lines()
            .any(|l| l.contains("<title>hot (") && l.contains("%; -")),
        "hot is not marked as shrinking"
    );
}

/// `--cpu` (on recordings whose samples carry their CPU) and events without samples, as
/// perf diff: every event's header, also over an empty table.
#[test]
fn cpu_filter_and_empty_events_agree_with_perf() {
    let dir = TempDir::new("diff-cpu");
    let exe = compile_c(dir.path(), "burn", BURN_C, &["-O1"]);
    let exe = exe.to_str().unwrap();
    let mut files = Vec::new();
    for name in ["c1.data", "c2.data"] {
        let args = [
            "--sample-cpu",
            "-e",
            "cpu-clock",
            "-e",
            "major-faults",
            exe,
            "150",
        ];
        let Some(f) = record_with("perf", dir.path(), name, &args) else {
            return;
        };
        files.push(f);
    }
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    for args in [
        &[][..],
        &["--cpu", "0"],
        &["--cpu", "0-1", "-p"],
        &["--cpu", "1"],
    ] {
        compare(args, &files);
    }
}

/// A failed diff: non-zero, nothing on stdout, one line naming `what`.
fn refused(args: &[&str], cwd: &Path, what: &str) {
    let o = run({
        let mut c = rperf();
        c.arg("diff").args(args).current_dir(cwd);
        c
    });
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} succeeded");
    assert!(o.stdout.is_empty(), "{args:?} printed {}", stdout(&o));
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(what), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
}

#[test]
fn bad_diff_inputs_are_refused_clearly() {
    let dir = TempDir::new("diff-bad");
    let exe = compile_c(dir.path(), "burn", BURN_C, &["-O1"]);
    let exe = exe.to_str().unwrap();
    let d = dir.path();
    record_to("rperf", &[exe, "50"], &d.join("a.data"));
    record_to(
        "rperf",
        &["-e", "task-clock", exe, "50"],
        &d.join("task.data"),
    );
    // Nothing to compare with.
    refused(&[], d, "perf.data.old");
    refused(&["a.data"], d, "perf.data.old: no such file");
    refused(&["a.data", "missing.data"], d, "missing.data: no such file");
    // Not perf.data files.
    std::fs::write(d.join("junk.data"), b"not a perf.data file").unwrap();
    refused(&["a.data", "junk.data"], d, "junk.data");
    let corrupt = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/corrupt/data-size.data");
    refused(&["a.data", corrupt.to_str().unwrap()], d, "data-size.data");
    // Different events: nothing pairs.
    refused(&["a.data", "task.data"], d, "no event in common");
    let o = run({
        let mut c = rperf();
        c.args(["flamegraph", "--diff", "a.data", "task.data", "-o", "x.svg"])
            .current_dir(d);
        c
    });
    assert!(!o.status.success() && stderr(&o).contains("no event in common"));
    assert!(!d.join("x.svg").exists());
    // Options perf refuses.
    refused(&["-o", "2", "a.data", "a.data"], d, "--order 2");
    refused(&["-c", "wdiff:1", "a.data", "a.data"], d, "wdiff:w1,w2");
    refused(
        &["-c", "bogus", "a.data", "a.data"],
        d,
        "delta, delta-abs, ratio",
    );
    refused(
        &["--percentage", "x", "a.data", "a.data"],
        d,
        "relative or absolute",
    );
    refused(
        &["-s", "bogus", "a.data", "a.data"],
        d,
        "--sort key 'bogus'",
    );
    // What needs branch stacks, and -C on samples without a CPU, say so.
    refused(&["-c", "cycles", "a.data", "a.data"], d, "LBR");
    refused(&["--stream", "a.data", "a.data"], d, "--stream");
    refused(&["--cpu", "0", "a.data", "a.data"], d, "remove -C/--cpu");
    refused(&["--time", "bogus", "a.data", "a.data"], d, "bogus");
}
