//! rperf under faults and without privileges: killed by SIGKILL, writing perf.data to a pipe,
//! odd -c/-F values, and an unprivileged user under perf_event_paranoid.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{perf, rperf, run, skip, stderr, stdout, TempDir};

/// perf, or a skip (a failure under CI).
fn need_perf() -> Option<Command> {
    let p = perf();
    if p.is_none() {
        skip("Linux perf is not installed");
    }
    p
}

/// The direct children of `pid`, from every thread's children list.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for t in fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
    {
        let Ok(t) = t else { continue };
        if let Ok(s) = fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
    }
    out
}

/// A process's command name and state letter, or None once it is gone.
fn comm_and_state(pid: u32) -> Option<(String, char)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let state = s[close + 1..].trim_start().chars().next()?;
    Some((s[open + 1..close].to_string(), state))
}

/// Starts `rperf ARGS -- sleep 60`, waits for the sleep to be exec'd, SIGKILLs rperf, and
/// asserts the sleep dies too (gone, or a zombie nobody has reaped yet).
fn workload_dies_with_rperf(args: &[&str]) {
    let mut child = rperf()
        .args(args)
        .args(["--", "sleep", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting rperf");
    let deadline = Instant::now() + Duration::from_secs(20);
    let sleeper = loop {
        let found = children(child.id())
            .into_iter()
            .find(|&c| comm_and_state(c).is_some_and(|(comm, _)| comm == "sleep"));
        if let Some(c) = found {
            break c;
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("rperf {args:?} never ran its workload");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL: no handler, no cleanup in rperf.
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match comm_and_state(sleeper) {
            None => return,
            Some((_, 'Z' | 'X')) => return,
            Some((comm, _)) if comm != "sleep" => return, // gone, pid reused
            Some(_) if Instant::now() > deadline => {
                // Leave nothing behind even when the assertion fails.
                let _ = Command::new("kill")
                    .args(["-9", &sleeper.to_string()])
                    .status();
                panic!("rperf {args:?} was SIGKILLed but its workload {sleeper} kept running");
            }
            Some(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
fn record_workload_dies_when_rperf_is_killed() {
    let dir = TempDir::new("faults-kill");
    let out = dir.path().join("perf.data");
    workload_dies_with_rperf(&["record", "-q", "-o", out.to_str().unwrap()]);
}

#[test]
fn stat_workload_dies_when_rperf_is_killed() {
    workload_dies_with_rperf(&["stat"]);
}

#[test]
fn pipe_mode_sends_the_workload_stdout_to_stderr() {
    let o = run({
        let mut c = rperf();
        // The printed text is not in the command line, which the stream carries (CMDLINE).
        c.args([
            "record",
            "-q",
            "-o",
            "-",
            "--",
            "sh",
            "-c",
            "echo hello-$((6*7))",
        ]);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        o.stdout.starts_with(b"PERFILE2"),
        "the stream must start with the pipe header, got {:?}",
        String::from_utf8_lossy(&o.stdout[..o.stdout.len().min(40)])
    );
    assert!(
        !stdout(&o).contains("hello-42"),
        "the workload's output leaked into the data stream"
    );
    assert!(stderr(&o).contains("hello-42"), "{}", stderr(&o));
    let Some(mut p) = need_perf() else { return };
    let dir = TempDir::new("faults-pipe");
    let data = dir.path().join("pipe.data");
    fs::write(&data, &o.stdout).unwrap();
    let r = run({
        p.args(["report", "-i", "-", "--stdio", "--sort", "comm"])
            .stdin(fs::File::open(&data).unwrap());
        p
    });
    assert!(r.status.success(), "perf report -i -: {}", stderr(&r));
    assert!(stdout(&r).contains(" sh"), "{}", stdout(&r));
}

/// `perf evlist -v` of a file, as `user` (the file's owner) or root.
fn evlist(file: &Path) -> Option<String> {
    let mut p = need_perf()?;
    let o = run({
        p.args(["evlist", "-v", "-f", "-i"]).arg(file);
        p
    });
    assert!(o.status.success(), "perf evlist: {}", stderr(&o));
    Some(stdout(&o))
}

/// A short loop that keeps a CPU busy in user space.
const BUSY: &[&str] = &[
    "sh",
    "-c",
    "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done",
];

#[test]
fn count_zero_samples_at_the_default_frequency() {
    let dir = TempDir::new("faults-c0");
    let out = dir.path().join("c0.data");
    let o = run({
        let mut c = rperf();
        c.args(["record", "-c", "0", "-o"]).arg(&out).args(BUSY);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = stderr(&o);
    let samples: u64 = summary
        .rsplit_once('(')
        .and_then(|(_, r)| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no sample count in {summary}"));
    assert!(samples > 0, "-c 0 recorded nothing: {summary}");
    if let Some(v) = evlist(&out) {
        assert!(
            v.contains("sample_freq }: 4000") && v.contains("freq: 1"),
            "-c 0 must fall back to perf's 4000 Hz: {v}"
        );
    }
}

#[test]
fn absurd_periods_and_frequencies_are_named() {
    let dir = TempDir::new("faults-c-big");
    let out = dir.path().join("big.data");
    for (args, named) in [
        (&["-c", "9223372036854775808"][..], "9223372036854775808"),
        (&["-c", "99999999999999999999"][..], "99999999999999999999"),
        (&["-F", "0"][..], "-F"),
    ] {
        let o = run({
            let mut c = rperf();
            c.arg("record").args(args).arg("-o").arg(&out).arg("true");
            c
        });
        assert!(!o.status.success(), "{args:?} was accepted");
        let e = stderr(&o);
        assert!(e.contains(named), "{args:?}: {e}");
        assert!(
            !e.contains("not supported"),
            "{args:?} blamed the event: {e}"
        );
        assert!(!out.exists(), "{args:?} left a file behind");
    }
}

// ---- an unprivileged user -------------------------------------------------------------

/// kernel.perf_event_paranoid.
fn paranoid() -> i32 {
    fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A directory `nobody` may write to, and an rperf it may run; None (after a skip) when
/// not root or without setpriv.
struct Nobody {
    dir: TempDir,
    rperf: PathBuf,
}

impl Nobody {
    fn new(tag: &str) -> Option<Nobody> {
        let root = fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .map(|u| u.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false);
        if !root {
            skip("the unprivileged-user tests switch to nobody and need root to do so");
            return None;
        }
        let ok = Command::new("setpriv")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            skip("setpriv (util-linux) is not installed");
            return None;
        }
        let dir = TempDir::new(tag);
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let mut n = Nobody {
            dir,
            rperf: PathBuf::from(env!("CARGO_BIN_EXE_rperf")),
        };
        // A checkout nobody cannot enter: run a copy.
        if !n
            .cmd(&n.rperf.clone())
            .arg("--version")
            .status()
            .is_ok_and(|s| s.success())
        {
            let copy = n.dir.path().join("rperf");
            fs::copy(&n.rperf, &copy).unwrap();
            n.rperf = copy;
        }
        Some(n)
    }

    /// `program` run as nobody, in the shared directory.
    fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(program)
            .current_dir(self.dir.path());
        c
    }

    fn rperf(&self, args: &[&str]) -> Output {
        let mut c = self.cmd(&self.rperf.clone());
        c.args(args);
        run(c)
    }

    fn perf(&self, args: &[&str]) -> Option<Output> {
        need_perf()?;
        let mut c = self.cmd(Path::new("perf"));
        c.args(args);
        Some(run(c))
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

/// The event names of `stat -x,` output, in order.
fn csv_events(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split(',').nth(2))
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn nonroot_stat_counts_user_space_like_perf() {
    let Some(n) = Nobody::new("faults-stat") else {
        return;
    };
    let o = n.rperf(&["stat", "-x,", "--", "true"]);
    assert!(o.status.success(), "rperf stat as nobody: {}", stderr(&o));
    let names = csv_events(&stderr(&o));
    assert!(names.len() >= 8, "{}", stderr(&o));
    let clock = &names[0];
    if paranoid() >= 2 {
        // The kernel is off limits: everything counts user space, named as perf names it.
        assert_eq!(clock, "task-clock:u", "{}", stderr(&o));
        assert!(names.iter().all(|e| e.ends_with(":u")), "{names:?}");
    } else {
        assert_eq!(clock, "task-clock", "{}", stderr(&o));
    }
    let Some(p) = n.perf(&["stat", "-x,", "--", "true"]) else {
        return;
    };
    assert!(p.status.success(), "perf stat as nobody: {}", stderr(&p));
    assert_eq!(
        names,
        csv_events(&stderr(&p)),
        "rperf and perf count different events"
    );
}

#[test]
fn nonroot_record_samples_user_space_like_perf() {
    let Some(n) = Nobody::new("faults-record") else {
        return;
    };
    let file = n.path("user.data");
    let mut args = vec!["record", "-q", "-o", &file];
    args.extend(BUSY);
    let o = n.rperf(&args);
    assert!(o.status.success(), "rperf record as nobody: {}", stderr(&o));
    // Every sample is a user-space address.
    let s = n.rperf(&["script", "-F", "ip", "-i", &file]);
    assert!(s.status.success(), "rperf script: {}", stderr(&s));
    let ips: Vec<u64> = stdout(&s)
        .lines()
        .filter_map(|l| u64::from_str_radix(l.trim(), 16).ok())
        .collect();
    assert!(!ips.is_empty(), "no samples: {}", stdout(&s));
    if paranoid() >= 2 {
        assert!(
            ips.iter().all(|&ip| ip < 0xffff_8000_0000_0000),
            "kernel samples without kernel access: {ips:x?}"
        );
    }
    // perf reads the file, and names its event as it names its own recording's.
    let perf_file = n.path("perf.data");
    let mut pargs = vec!["record", "-q", "-o", &perf_file];
    pargs.extend(BUSY);
    let Some(p) = n.perf(&pargs) else { return };
    assert!(p.status.success(), "perf record as nobody: {}", stderr(&p));
    let name = |f: &str| {
        let e = n.perf(&["evlist", "-i", f]).unwrap();
        assert!(e.status.success(), "perf evlist {f}: {}", stderr(&e));
        stdout(&e).trim().to_string()
    };
    assert_eq!(name(&file), name(&perf_file));
    let r = n.perf(&["report", "--stdio", "-i", &file]).unwrap();
    assert!(r.status.success(), "perf report: {}", stderr(&r));
}

#[test]
fn nonroot_errors_name_the_fix() {
    let Some(n) = Nobody::new("faults-errors") else {
        return;
    };
    let level = paranoid();
    let fails = |args: &[&str], wants: &[&str]| {
        let o = n.rperf(args);
        assert!(!o.status.success(), "{args:?} succeeded as nobody");
        let e = stderr(&o);
        for w in wants {
            assert!(e.contains(w), "{args:?}: missing {w:?} in\n{e}");
        }
        assert!(!e.contains("panicked"), "{e}");
    };
    let lvl = format!("it is {level}");
    if level >= 1 {
        for cmd in ["stat", "record"] {
            let out = n.path("a.data");
            let mut args = vec![cmd, "-a"];
            if cmd == "record" {
                args.extend(["-o", &out]);
            }
            args.extend(["sleep", "0.1"]);
            fails(
                &args,
                &[
                    "-a/-C",
                    &lvl,
                    "sysctl kernel.perf_event_paranoid=",
                    "setcap cap_perfmon,cap_sys_ptrace",
                ],
            );
        }
    }
    if level >= 2 {
        let out = n.path("k.data");
        fails(
            &["record", "-e", "cpu-clock:k", "-o", &out, "true"],
            &["'cpu-clock:u'", &lvl, "setcap cap_perfmon"],
        );
    }
    // Another user's process: ptrace rules, whatever the paranoid level.
    fails(
        &["stat", "-p", "1"],
        &["process 1", "ptrace", "CAP_SYS_PTRACE"],
    );
    // A ring above what users may lock (when `ulimit -l` is not what lets it through).
    let memlock = fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max locked memory"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse::<u64>().ok());
    if memlock.is_some_and(|b| b < 64 << 20) {
        let out = n.path("m.data");
        fails(
            &["record", "-m", "65536", "-o", &out, "true"],
            &["perf_event_mlock_kb", "lower -m", "ulimit -l"],
        );
    }
    // tracefs as mounted by default (0700): where nobody cannot list the tracepoints.
    let hidden = !n
        .cmd(Path::new("ls"))
        .arg("/sys/kernel/tracing/events")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if hidden {
        fails(
            &["stat", "-e", "sched:sched_switch", "true"],
            &["no permission to read", "mode=755"],
        );
    }
    // An output directory nobody may write to.
    let locked = TempDir::new("faults-locked");
    let out = locked.path().join("perf.data");
    fails(
        &["record", "-o", out.to_str().unwrap(), "true"],
        &["cannot create", "-o FILE"],
    );
    assert!(!out.exists());
    let txt = locked.path().join("counts.txt");
    fails(
        &["stat", "-o", txt.to_str().unwrap(), "true"],
        &["cannot open output file", "-o FILE"],
    );
}

#[test]
fn nonroot_event_names_match_perf() {
    let Some(n) = Nobody::new("faults-names") else {
        return;
    };
    if need_perf().is_none() {
        return;
    }
    let (mine, theirs) = (n.path("r.data"), n.path("p.data"));
    for ev in [
        "cycles",
        "task-clock",
        "cycles:p",
        "cycles,page-faults",
        "cpu-clock:u",
    ] {
        let o = n.rperf(&["record", "-q", "-e", ev, "-o", &mine, "true"]);
        assert!(o.status.success(), "rperf record -e {ev}: {}", stderr(&o));
        let p = n
            .perf(&["record", "-q", "-e", ev, "-o", &theirs, "true"])
            .unwrap();
        assert!(p.status.success(), "perf record -e {ev}: {}", stderr(&p));
        let names = |f: &str| stdout(&n.perf(&["evlist", "-i", f]).unwrap());
        assert_eq!(names(&mine), names(&theirs), "-e {ev}");
    }
}

/// The cpu-clock that stands in for cycles without a PMU is named from its exclude bits, as
/// perf names it, for root too (the default event is `cpu-clock:pppH`).
#[test]
fn fallback_names_match_perf() {
    let Some(_) = need_perf() else { return };
    let dir = TempDir::new("faults-fb-names");
    let (mine, theirs) = (dir.path().join("r.data"), dir.path().join("p.data"));
    for ev in [
        None,
        Some("cycles"),
        Some("cycles:u"),
        Some("cycles:k"),
        Some("cycles:G"),
    ] {
        if ev.is_none() && Path::new("/sys/bus/event_source/devices/cpu").exists() {
            // With a PMU the default stays cycles, whose naming is not what this checks.
            continue;
        }
        let ev_args: Vec<&str> = ev.map(|e| vec!["-e", e]).unwrap_or_default();
        for (tool, out) in [("rperf", &mine), ("perf", &theirs)] {
            let mut c = if tool == "rperf" {
                rperf()
            } else {
                perf().unwrap()
            };
            c.args(["record", "-q"])
                .args(&ev_args)
                .arg("-o")
                .arg(out)
                .arg("true");
            let o = run(c);
            assert!(o.status.success(), "{tool} record {ev:?}: {}", stderr(&o));
        }
        let names = |f: &Path| {
            let mut p = perf().unwrap();
            p.args(["evlist", "-i"]).arg(f);
            stdout(&run(p))
        };
        assert_eq!(names(&mine), names(&theirs), "-e {ev:?}");
    }
}
