//! `rperf trace` against `perf trace` on a workload with known syscalls: the lines (times,
//! pids and addresses masked), the -s summary counts, -e selection, --failure, --duration,
//! and the errors for bad input.
use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;

const SYSCALLS_C: &str = include_str!("../../fixtures/workloads/syscalls.c");

fn as_root() -> bool {
    rustix_uid() == 0
}

fn rustix_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

/// A trace line with what changes between runs masked: the timestamp and duration, the
/// thread id, addresses, and the `<path>` perf appends to fds it reads from /proc at print
/// time.
fn normalize(line: &str) -> String {
    let head =
        regex_lite::Regex::new(r"^\s*(\?|\d+\.\d{3}) \((\s+|\s*\d+\.\d{3} ms)\): (.*)$").unwrap();
    let Some(c) = head.captures(line) else {
        return line.to_string();
    };
    let ts = if &c[1] == "?" { "?" } else { "T" };
    let dur = if c[2].trim().is_empty() { " " } else { "D" };
    let mut rest = c[3].to_string();
    if let Some(tid) = regex_lite::Regex::new(r"^[^ ]*/(\d+) ")
        .unwrap()
        .captures(&rest)
        .map(|m| m[1].to_string())
    {
        rest = rest.replace(&tid, "TID");
    }
    let rest = regex_lite::Regex::new(r"0x[0-9a-f]+")
        .unwrap()
        .replace_all(&rest, "0xX");
    let rest = regex_lite::Regex::new(r"<[^>]*>")
        .unwrap()
        .replace_all(&rest, "");
    // Padding depends on the masked values' widths.
    let rest = regex_lite::Regex::new(r"\) +=")
        .unwrap()
        .replace_all(&rest, ") =");
    format!("{ts} ({dur}): {rest}")
}

/// stderr of `tool trace ARGS fixture`, with the fixture path replaced.
fn trace(
    tool: Command,
    args: &[&str],
    exe: &std::path::Path,
) -> (Vec<String>, std::process::Output) {
    let mut c = tool;
    c.arg("trace").args(args).arg(exe);
    let o = run(c);
    let text = stderr(&o);
    (text.lines().map(str::to_string).collect(), o)
}

fn setup() -> Option<(TempDir, std::path::PathBuf)> {
    if !as_root() {
        skip("rperf trace needs root (tracefs and raw_syscalls)");
        return None;
    }
    perf()?;
    let d = TempDir::new("trace");
    let exe = compile_c(d.path(), "syscalls", SYSCALLS_C, &["-O1", "-static"]);
    Some((d, exe))
}

fn compare(args: &[&str]) {
    let Some((_d, exe)) = setup() else { return };
    let (p, po) = trace(perf().unwrap(), args, &exe);
    let (r, ro) = trace(rperf(), args, &exe);
    assert!(po.status.success() && ro.status.success(), "{p:?}\n{r:?}");
    let p: Vec<String> = p.iter().map(|l| normalize(l)).collect();
    let r: Vec<String> = r.iter().map(|l| normalize(l)).collect();
    assert!(!r.is_empty());
    assert_eq!(r, p, "rperf trace {args:?} differs from perf trace");
}

#[test]
fn trace_lines_match_perf() {
    compare(&[]);
}

#[test]
fn trace_selection_failure_and_duration_match_perf() {
    compare(&["-e", "openat,close,write,lseek,kill"]);
    compare(&["-e", "!brk,mmap,mprotect,readlink"]);
    compare(&["--failure"]);
    compare(&["--duration", "2"]);
}

/// name → (calls, errors) of a summary table, and the thread line's event count.
fn summary(text: &str) -> (std::collections::BTreeMap<String, (u64, u64)>, Option<u64>) {
    let mut rows = std::collections::BTreeMap::new();
    let mut events = None;
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if l.contains(" events, ") {
            events = f
                .iter()
                .position(|w| *w == "events,")
                .and_then(|i| f[i - 1].parse().ok());
        }
        if f.len() == 8 && f[7].ends_with('%') {
            if let (Ok(c), Ok(e)) = (f[1].parse(), f[2].parse()) {
                rows.insert(f[0].to_string(), (c, e));
            }
        }
    }
    (rows, events)
}

#[test]
fn summary_counts_match_perf() {
    let Some((_d, exe)) = setup() else { return };
    let (p, _) = trace(perf().unwrap(), &["-s"], &exe);
    let (r, ro) = trace(rperf(), &["-s"], &exe);
    assert!(ro.status.success());
    let (p, r) = (p.join("\n"), r.join("\n"));
    let (prows, pev) = summary(&p);
    let (rrows, rev) = summary(&r);
    assert!(rrows.get("close") == Some(&(2, 1)), "{r}");
    assert_eq!(rrows, prows, "perf:\n{p}\nrperf:\n{r}");
    assert_eq!(rev, pev);
    // The table head is perf's, line for line.
    let head = |t: &str| {
        t.lines()
            .filter(|l| l.contains("syscall ") || l.contains("(msec)") || l.contains("-----"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(head(&r), head(&p));
    // --errno-summary: each failure's errno under its syscall, as perf.
    let errnos = |tool: Command| {
        let (t, _) = trace(tool, &["-s", "--errno-summary"], &exe);
        t.into_iter()
            .filter(|l| l.starts_with("\t\t\t\t"))
            .collect::<Vec<_>>()
    };
    let re = errnos(rperf());
    assert!(re.contains(&"\t\t\t\tEBADF: 1".to_string()), "{re:?}");
    let mut pe = errnos(perf().unwrap());
    let mut re = re;
    pe.sort();
    re.sort();
    assert_eq!(re, pe);
    // -S: every line, then the same table.
    let (s, _) = trace(rperf(), &["-S"], &exe);
    let s = s.join("\n");
    assert!(
        s.contains("kill(pid: ") && s.contains("Summary of events:"),
        "{s}"
    );
}

#[test]
fn output_file_time_and_comm_options() {
    let Some((d, exe)) = setup() else { return };
    let out = d.path().join("trace.txt");
    let o = run({
        let mut c = rperf();
        c.args(["trace", "-T", "--no-comm", "-o"])
            .arg(&out)
            .arg(&exe);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("openat("),
        "-o must take the trace off stderr"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("kill("))
        .expect("kill line");
    // -T: milliseconds since boot, far from 0; --no-comm: the tid alone.
    let ts: f64 = line.split_whitespace().next().unwrap().parse().unwrap();
    assert!(ts > 1000.0, "{line}");
    assert!(!line.contains("syscalls/"), "{line}");
}

#[test]
fn trace_bad_input_is_explained() {
    let o = run({
        let mut c = rperf();
        c.args(["trace", "-e", "nosuchcall", "true"]);
        c
    });
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unknown syscall 'nosuchcall'"),
        "{}",
        stderr(&o)
    );
    // A pid that is gone.
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let o = run({
        let mut c = rperf();
        c.args(["trace", "-p", &pid.to_string()]);
        c
    });
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!("no such process: {pid}")),
        "{}",
        stderr(&o)
    );
    // Without privileges.
    if !as_root() {
        skip("the no-permission check drops root with setpriv");
        return;
    }
    let o = run({
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_rperf"))
            .args(["trace", "true"]);
        c
    });
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("no permission") && e.lines().count() <= 2, "{e}");
}

#[test]
fn page_faults_name_symbols_and_maps_as_perf() {
    let Some((_d, exe)) = setup() else { return };
    // The faults on the (static, non-PIE) binary's own pages are the same in every run;
    // stack and heap faults move with ASLR.
    let own = |lines: Vec<String>| {
        let mut v: Vec<String> = lines
            .iter()
            .filter(|l| l.contains("syscalls@"))
            .map(|l| l.split("): ").nth(1).unwrap_or("").to_string())
            .map(|l| {
                l.split_once(' ')
                    .map_or(l.clone(), |(_, rest)| rest.to_string())
            })
            .collect();
        v.sort();
        v
    };
    let (p, _) = trace(perf().unwrap(), &["-F", "min"], &exe);
    let (r, ro) = trace(rperf(), &["-F", "min"], &exe);
    assert!(ro.status.success());
    let (p, r) = (own(p), own(r));
    assert!(
        r.iter().any(|l| l.starts_with("minfault [_start+0x0] => ")),
        "{r:?}"
    );
    assert_eq!(r, p);
    // -F alone traces no syscalls, as perf.
    let (s, _) = trace(rperf(), &["-F", "all", "-s"], &exe);
    let s = s.join("\n");
    assert!(s.contains(" minfaults") && !s.contains("openat "), "{s}");
}

/// `tool trace -p PID` of a `head -c 1` blocked reading a pipe, until it exits. The byte it
/// waits for is written only once the tracer has attached (its counters open, and gone on to
/// poll them), so both tools see the same syscalls however late a loaded machine starts
/// them (a timed `sleep` was over before perf attached).
fn trace_pid(tool: Command) -> Vec<String> {
    let mut reader = Command::new("head")
        .args(["-c", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = reader.id();
    wait_for("head to block reading its pipe", || {
        blocked_in(pid, "pipe_read")
    });
    let mut c = tool;
    let mut tracer = c
        .args(["trace", "-p", &pid.to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the tracer to attach", || {
        let ended = tracer.try_wait().unwrap();
        assert!(
            ended.is_none(),
            "the tracer ended before attaching: {ended:?}"
        );
        attached(tracer.id(), "poll")
    });
    reader.stdin.take().unwrap().write_all(b"x").unwrap();
    let o = tracer.wait_with_output().unwrap();
    reader.wait().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stderr(&o).lines().map(normalize).collect()
}

#[test]
fn attaching_to_a_process_matches_perf() {
    let Some((_d, _exe)) = setup() else { return };
    let p = trace_pid(perf().unwrap());
    let r = trace_pid(rperf());
    // The read is caught inside: its return comes without an entry; then head's exit.
    assert!(
        r.first()
            .is_some_and(|l| l.contains("... [continued]: read()) = 1")),
        "{r:?}"
    );
    assert!(r.last().is_some_and(|l| l.contains("exit_group(")), "{r:?}");
    assert_eq!(r, p);
}

#[test]
fn interrupting_trace_still_prints_the_summary() {
    if !as_root() {
        skip("rperf trace needs root");
        return;
    }
    let child = rperf()
        .args(["trace", "-s", "--", "sleep", "5"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    // As a user would with kill(1): the signal reaches rperf alone.
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("Summary of events:") && e.contains(" sleep ("),
        "{e}"
    );
    // The command was interrupted too: its status is the signal's.
    assert_eq!(o.status.code(), Some(130), "{e}");
}

const TRACE_CHAIN_C: &str = include_str!("../../fixtures/workloads/trace_chain.c");

/// The call-chain fixture, static with frame pointers.
fn chain_fixture() -> Option<(TempDir, std::path::PathBuf)> {
    let (d, _) = setup()?;
    let exe = compile_c(
        d.path(),
        "trace_chain",
        TRACE_CHAIN_C,
        &["-O1", "-static", "-fno-omit-frame-pointer"],
    );
    Some((d, exe))
}

fn compare_on(exe: &std::path::Path, args: &[&str]) -> Vec<String> {
    let (p, po) = trace(perf().unwrap(), args, exe);
    let (r, ro) = trace(rperf(), args, exe);
    assert!(po.status.success() && ro.status.success(), "{p:?}\n{r:?}");
    let p: Vec<String> = p.iter().map(|l| normalize(l)).collect();
    let r: Vec<String> = r.iter().map(|l| normalize(l)).collect();
    assert_eq!(r, p, "rperf trace {args:?} differs from perf trace");
    r
}

#[test]
fn frame_pointer_chains_match_perf() {
    let Some((_d, exe)) = chain_fixture() else {
        return;
    };
    // The user part alone (perf's default), then with the kernel's syscall path.
    let r = compare_on(&exe, &["--call-graph", "fp", "-e", "write,close"]);
    let at = r.iter().position(|l| l.contains("write(fd: 3")).unwrap();
    assert!(
        r[at + 1].starts_with(&format!("{} __libc_write (", " ".repeat(38))),
        "{r:?}"
    );
    assert!(r[at + 2].contains(" mid ("), "{r:?}");
    let k = compare_on(
        &exe,
        &[
            "--call-graph",
            "fp",
            "--kernel-syscall-graph",
            "-e",
            "write",
        ],
    );
    assert!(
        k.iter().any(|l| l.ends_with("([kernel.kallsyms])")),
        "{k:?}"
    );
}

#[test]
fn dwarf_chains_reach_main() {
    let Some((_d, exe)) = chain_fixture() else {
        return;
    };
    // perf 6.1's trace stops DWARF chains after the first frame; rperf unwinds the whole
    // user stack, as perf record --call-graph dwarf does.
    for args in [
        &["--call-graph", "dwarf", "-e", "write"][..],
        &["--max-stack", "3", "-e", "write"],
    ] {
        let (r, o) = trace(rperf(), args, &exe);
        assert!(o.status.success(), "{r:?}");
        let names: Vec<&str> = r
            .iter()
            .skip_while(|l| !l.contains("write(fd: 3"))
            .skip(1)
            .map(|l| l.split_whitespace().next().unwrap_or(""))
            .collect();
        let want = ["__libc_write", "leaf", "mid", "main"];
        let n = if args.contains(&"--max-stack") { 3 } else { 4 };
        assert_eq!(names[..n.min(names.len())], want[..n], "{r:?}");
        if n == 3 {
            assert_eq!(names.len(), 3, "--max-stack 3: {r:?}");
        }
    }
    // --min-stack above the chain's depth hides the event.
    let (r, _) = trace(rperf(), &["--min-stack", "50", "-e", "write"], &exe);
    assert!(!r.iter().any(|l| l.contains("write(")), "{r:?}");
}

#[test]
fn max_events_stops_as_perf() {
    let Some((_d, exe)) = setup() else { return };
    let r = compare_on(&exe, &["--max-events", "5"]);
    assert_eq!(r.len(), 5, "{r:?}");
    // The count is perf's: printed events, not the filtered ones.
    let r = compare_on(&exe, &["--max-events", "2", "-e", "close"]);
    assert_eq!(r.len(), 2, "{r:?}");
}

/// The full path of `prog` on $PATH.
fn which(prog: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(prog))
        .find(|p| p.is_file())
}

#[test]
fn cpu_list_and_filter_pids_select_as_perf() {
    if !as_root() {
        skip("rperf trace needs root");
        return;
    }
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    // A sleep under a name of its own: other tests' sleeps run on every CPU.
    let d = TempDir::new("trace-cpu");
    let nap = d.path().join("rperf_nap");
    std::os::unix::fs::symlink(which("sleep").unwrap_or_else(|| "/bin/sleep".into()), &nap)
        .unwrap();
    let sleeps = |tool: Command, cpu: &str, on: &str| {
        let mut c = tool;
        c.args(["trace", "-C", cpu, "-e", "clock_nanosleep", "--"])
            .args(["taskset", "-c", on])
            .arg(&nap)
            .arg("0.05");
        let o = run(c);
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o).lines().any(|l| l.contains(" rperf_nap/"))
    };
    assert!(sleeps(rperf(), "0", "0"));
    if online.trim() != "0" {
        // The sleep on CPU 0 is not seen from CPU 1, by either tool.
        assert!(!sleeps(rperf(), "1", "0"));
        if let Some(p) = perf() {
            assert!(!sleeps(p, "1", "0"));
        }
    }
    if let Some(p) = perf() {
        assert!(sleeps(p, "0", "0"));
    }
    // A looping shell's own syscalls (its wait4 and clone) are left out with its pid.
    let mut sh = Command::new("sh")
        .args(["-c", "while :; do sleep 0.02; done"])
        .spawn()
        .unwrap();
    let pid = sh.id().to_string();
    let shown = |tool: Option<Command>, filter: bool| {
        let mut c = tool.unwrap();
        c.args(["trace", "-a", "-s"]);
        if filter {
            c.args(["--filter-pids", &pid]);
        }
        c.args(["--", "sleep", "0.3"]);
        let o = run(c);
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o).contains(&format!(" sh ({pid}), "))
    };
    let (r_all, r_filtered) = (shown(Some(rperf()), false), shown(Some(rperf()), true));
    let p_filtered = perf().map(|p| shown(Some(p), true));
    let _ = sh.kill();
    let _ = sh.wait();
    assert!(r_all && !r_filtered);
    if let Some(p) = p_filtered {
        assert!(!p, "perf trace --filter-pids shows the shell too");
    }
}

#[test]
fn new_trace_options_reject_bad_values() {
    for (args, want) in [
        (&["--max-events", "0"][..], "invalid --max-events 0"),
        (&["-C", "4096"], "CPU 4096 is not online"),
        (&["-C", "x"], "invalid CPU list 'x'"),
        (
            &["--filter-pids", "12,abc", "-a"],
            "invalid --filter-pids pid 'abc'",
        ),
        (&["--call-graph", "lbr"], "--call-graph lbr needs"),
        (
            &["--call-graph", "dwarf,0"],
            "invalid --call-graph dwarf size",
        ),
    ] {
        let o = run({
            let mut c = rperf();
            c.arg("trace").args(args).arg("true");
            c
        });
        assert!(!o.status.success(), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains(want) && e.lines().count() == 1, "{args:?}: {e}");
    }
}

/// stderr of `tool trace -i FILE ARGS`.
fn replay(tool: Command, file: &std::path::Path, args: &[&str]) -> String {
    let mut c = tool;
    c.args(["trace", "-i"]).arg(file).args(args);
    let o = run(c);
    assert!(o.status.success(), "{}", stderr(&o));
    stderr(&o)
}

#[test]
fn trace_record_files_replay_as_perf() {
    let Some((d, exe)) = chain_fixture() else {
        return;
    };
    let rec = |tool: Command, name: &str, extra: &[&str]| {
        let out = d.path().join(name);
        let mut c = tool;
        c.args(["trace", "record", "-o"])
            .arg(&out)
            .args(extra)
            .arg(&exe);
        let o = run(c);
        assert!(o.status.success(), "{}", stderr(&o));
        out
    };
    let mine = rec(rperf(), "rperf.data", &[]);
    let theirs = rec(perf().unwrap(), "perf.data", &[]);
    let chains = rec(rperf(), "chains.data", &["--call-graph", "fp"]);
    // Each file, whoever wrote it, replays to the same text in perf and rperf.
    for (file, args) in [
        (&mine, &[][..]),
        (&mine, &["-s"]),
        (&theirs, &[]),
        (&theirs, &["-S", "--failure"]),
        (&chains, &[]),
    ] {
        let p = replay(perf().unwrap(), file, args);
        let r = replay(rperf(), file, args);
        assert!(r.contains("write"), "{r}");
        assert_eq!(r, p, "trace -i {} {args:?}", file.display());
    }
    // The recorded chain names the fixture's functions.
    let r = replay(rperf(), &chains, &[]);
    assert!(r.contains(" mid (") && r.contains(" main ("), "{r}");
    // As live: -e and --max-events apply (perf 6.1's replay ignores both).
    let r = replay(rperf(), &mine, &["-e", "write", "--max-events", "1"]);
    assert_eq!(r.lines().count(), 1, "{r}");
    assert!(r.contains("write(fd: 3"), "{r}");
}

#[test]
fn trace_input_errors_are_explained() {
    for (args, want) in [
        (
            &["-i", "/nonexistent/perf.data"][..],
            "/nonexistent/perf.data",
        ),
        (&["-i", "/dev/null", "true"], "-i replays a file"),
    ] {
        let o = run({
            let mut c = rperf();
            c.arg("trace").args(args);
            c
        });
        assert!(!o.status.success(), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains(want) && e.lines().count() == 1, "{args:?}: {e}");
    }
}
