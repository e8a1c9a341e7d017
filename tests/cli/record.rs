//! `rperf record` writes perf.data that Linux perf reads and attributes like its own.
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

fn record(args: &[&str], out: &Path) -> std::process::Output {
    let o = run({
        let mut c = rperf();
        c.arg("record").arg("-o").arg(out).args(args);
        c
    });
    assert!(
        o.status.success(),
        "rperf record {args:?} failed:\n{}",
        stderr(&o)
    );
    o
}

fn perf_record(args: &[&str], out: &Path) -> bool {
    let Some(mut p) = perf() else { return false };
    p.arg("record").arg("-q").arg("-o").arg(out).args(args);
    let o = run(p);
    assert!(o.status.success(), "perf record failed: {}", stderr(&o));
    true
}

/// `perf <cmd> -i file …`: stdout, asserting exit 0 and no warning about the file.
fn perf_read(cmd: &str, file: &Path, extra: &[&str]) -> Option<String> {
    let mut p = perf()?;
    p.arg(cmd).arg("-i").arg(file).args(extra);
    let o = run(p);
    let err = stderr(&o);
    assert!(
        o.status.success(),
        "perf {cmd} failed on {}: {err}",
        file.display()
    );
    for bad in ["Warning", "failed", "Error", "unexpected", "corrupt", "Bad"] {
        assert!(
            !err.contains(bad),
            "perf {cmd} complained about {}: {err}",
            file.display()
        );
    }
    Some(stdout(&o))
}

/// Rows of `perf report --stdio` without call graphs: (percent, key columns).
fn report_rows(text: &str) -> Vec<(f64, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.trim_start().contains('%'))
        .filter_map(|l| {
            let t = l.trim_start();
            let (pct, rest) = t.split_once('%')?;
            Some((
                pct.parse().ok()?,
                rest.split_whitespace().collect::<Vec<_>>().join(" "),
            ))
        })
        .collect()
}

/// Samples of `perf script` output: header line and frame symbols.
fn script_stacks(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines().filter(|l| !l.trim().is_empty());
        let Some(head) = lines.next() else { continue };
        let frames = lines
            .map(|l| {
                let mut w = l.split_whitespace();
                let _addr = w.next();
                let sym = w.next().unwrap_or("");
                sym.split('+').next().unwrap_or("").to_string()
            })
            .collect();
        out.push((head.to_string(), frames));
    }
    out
}

fn build(dir: &Path, name: &str, src: &str, fp: bool) -> String {
    let mut flags = vec!["-O1", "-g", "-pthread"];
    flags.push(if fp {
        "-fno-omit-frame-pointer"
    } else {
        "-fomit-frame-pointer"
    });
    compile_c(dir, name, src, &flags)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn fp_chains_are_read_by_perf_like_its_own_recording() {
    let dir = TempDir::new("rec-fp");
    let exe = build(dir.path(), "chain", CHAIN_C, true);
    let (ours, theirs) = (dir.path().join("r.data"), dir.path().join("p.data"));
    let o = record(&["-g", "--", &exe, "0.4"], &ours);
    assert!(
        stderr(&o).contains("[ rperf record: Captured and wrote"),
        "{}",
        stderr(&o)
    );
    if !perf_record(&["-g", "--", &exe, "0.4"], &theirs) {
        return;
    }
    let sort = [
        "--stdio",
        "--no-children",
        "-g",
        "none",
        "--sort",
        "comm,dso,sym",
    ];
    let r = report_rows(&perf_read("report", &ours, &sort).unwrap());
    let p = report_rows(&perf_read("report", &theirs, &sort).unwrap());
    assert_eq!(r[0].1, p[0].1, "top row differs:\nrperf {r:?}\nperf {p:?}");
    assert!(r[0].1.ends_with("[.] leaf") && r[0].0 >= 90.0, "{r:?}");
    let stacks = script_stacks(&perf_read("script", &ours, &[]).unwrap());
    let leaf: Vec<_> = stacks
        .iter()
        .filter(|(_, f)| f.first().is_some_and(|s| s == "leaf"))
        .collect();
    let full = leaf
        .iter()
        .filter(|(_, f)| f.iter().any(|s| s == "main"))
        .count();
    assert!(leaf.len() > 100, "{} leaf samples", leaf.len());
    assert!(
        full * 100 >= leaf.len() * 90,
        "{full} of {} leaf samples reach main",
        leaf.len()
    );
}

#[test]
fn dwarf_stacks_are_unwound_by_perf() {
    let dir = TempDir::new("rec-dwarf");
    let exe = build(dir.path(), "chain", CHAIN_C, false);
    let ours = dir.path().join("r.data");
    record(&["--call-graph", "dwarf", "--", &exe, "0.3"], &ours);
    let Some(text) = perf_read("script", &ours, &[]) else {
        return;
    };
    let stacks = script_stacks(&text);
    let leaf: Vec<_> = stacks
        .iter()
        .filter(|(_, f)| f.first().is_some_and(|s| s == "leaf"))
        .collect();
    let full = leaf
        .iter()
        .filter(|(_, f)| f.iter().any(|s| s == "mid") && f.iter().any(|s| s == "main"))
        .count();
    assert!(leaf.len() > 50, "{} leaf samples", leaf.len());
    assert!(
        full * 100 >= leaf.len() * 90,
        "{full} of {} dwarf stacks reach main",
        leaf.len()
    );
}

#[test]
fn threads_forks_and_execs_are_attributed() {
    let dir = TempDir::new("rec-threads");
    let exe = build(dir.path(), "threads", THREADS_C, true);
    let ours = dir.path().join("r.data");
    // The workload forks a shell that execs the threaded program.
    let script = format!("{exe} 0.3; true");
    record(&["-g", "--", "sh", "-c", &script], &ours);
    let Some(text) = perf_read("script", &ours, &["-F", "comm,tid,sym"]) else {
        return;
    };
    let mut tids: BTreeMap<String, usize> = BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| l.trim_start().starts_with("threads"))
    {
        let tid = l.split_whitespace().nth(1).unwrap().to_string();
        *tids.entry(tid).or_default() += 1;
    }
    assert!(
        tids.len() >= 2,
        "samples from {} threads of the exec'd program: {tids:?}",
        tids.len()
    );
    let rows = report_rows(
        &perf_read(
            "report",
            &ours,
            &[
                "--stdio",
                "--no-children",
                "-g",
                "none",
                "--sort",
                "comm,sym",
            ],
        )
        .unwrap(),
    );
    assert!(
        rows[0].1 == "threads [.] worker" && rows[0].0 > 80.0,
        "{rows:?}"
    );
}

#[test]
fn system_wide_records_every_cpu_and_features() {
    let dir = TempDir::new("rec-a");
    let ours = dir.path().join("r.data");
    record(&["-a", "-g", "-F", "999", "--", "sleep", "0.5"], &ours);
    let Some(text) = perf_read("script", &ours, &["-F", "comm,cpu"]) else {
        return;
    };
    let ncpu = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let cpus: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    assert!(
        ncpu.trim() == "0" || cpus.len() >= 2,
        "samples on CPUs {cpus:?}"
    );
    let header = perf_read("report", &ours, &["--header-only"]).unwrap();
    for want in [
        "# hostname :",
        "# os release :",
        "# arch :",
        "# nrcpus online :",
        "# total memory :",
        "# cmdline :",
        "# event : name = ",
    ] {
        assert!(header.contains(want), "{want} missing from:\n{header}");
    }
    // The data section agrees with itself: perf's own count of samples equals the summary.
    let stats = perf_read("report", &ours, &["--stats"]).unwrap();
    assert!(stats.contains("SAMPLE events:"), "{stats}");
}

#[test]
fn several_events_carry_their_ids() {
    let dir = TempDir::new("rec-ids");
    let exe = build(dir.path(), "touch", TOUCH_PAGES_C, true);
    let ours = dir.path().join("r.data");
    record(
        &[
            "-e",
            "cpu-clock,page-faults",
            "-c",
            "100",
            // A 100 ns cpu-clock period fills rings fast: room for a loaded CI machine's
            // slower drains, so that perf reads the file without a loss warning.
            "-m",
            "4M",
            "--",
            &exe,
            "20000",
        ],
        &ours,
    );
    let Some(text) = perf_read(
        "report",
        &ours,
        &["--stdio", "--no-children", "--sort", "sym"],
    ) else {
        return;
    };
    assert!(
        text.contains("of event 'cpu-clock'") && text.contains("of event 'page-faults'"),
        "{text}"
    );
    let script = perf_read("script", &ours, &["-F", "event"]).unwrap();
    let faults = script.lines().filter(|l| l.contains("page-faults")).count();
    // 20000 faults sampled every 100th: about 200 samples.
    assert!((150..=260).contains(&faults), "{faults} page-fault samples");
}

#[test]
fn tracepoints_keep_their_fields_and_filters() {
    let dir = TempDir::new("rec-tp");
    let ours = dir.path().join("r.data");
    record(
        &[
            "-e",
            "sched:sched_switch",
            "--filter",
            "prev_comm == \"sleep\"",
            "-a",
            "--",
            "sleep",
            "0.2",
        ],
        &ours,
    );
    let Some(text) = perf_read("script", &ours, &[]) else {
        return;
    };
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("sched:sched_switch"))
        .collect();
    assert!(!lines.is_empty(), "{text}");
    for l in lines {
        assert!(
            l.contains("prev_comm=sleep") && l.contains("==> next_comm="),
            "{l}"
        );
    }
}

#[test]
fn tiny_buffer_reports_losses_that_perf_sees() {
    let dir = TempDir::new("rec-lost");
    let exe = build(dir.path(), "chain", CHAIN_C, true);
    let ours = dir.path().join("r.data");
    let o = record(
        &["-m", "1", "-F", "20000", "-a", "-g", "--", &exe, "0.5"],
        &ours,
    );
    let e = stderr(&o);
    if !e.contains("lost") {
        eprintln!("SKIP: no loss happened with a 1-page ring on this machine: {e}");
        return;
    }
    let Some(mut p) = perf() else { return };
    p.args(["report", "--stdio", "-i"]).arg(&ours);
    let po = run(p);
    assert!(po.status.success());
    assert!(
        stderr(&po).contains("lost"),
        "perf did not see the LOST records: {}",
        stderr(&po)
    );
}

#[test]
fn ctrl_c_leaves_a_file_perf_reads() {
    let dir = TempDir::new("rec-int");
    let ours = dir.path().join("r.data");
    let child = rperf()
        .args(["record", "-a", "-o"])
        .arg(&ours)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Captured and wrote"));
    perf_read("report", &ours, &["--stdio"]);
}

#[test]
fn existing_output_becomes_old_and_files_are_private() {
    let dir = TempDir::new("rec-old");
    let ours = dir.path().join("perf.data");
    record(&["-e", "cpu-clock", "--", "true"], &ours);
    record(&["-e", "cpu-clock", "--", "true"], &ours);
    assert!(dir.path().join("perf.data.old").exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&ours).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn running_pid_is_recorded() {
    let dir = TempDir::new("rec-pid");
    let exe = build(dir.path(), "chain", CHAIN_C, true);
    let mut child = Command::new(&exe).arg("1.0").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let ours = dir.path().join("r.data");
    record(&["-p", &child.id().to_string()], &ours);
    let _ = child.wait();
    let Some(text) = perf_read(
        "report",
        &ours,
        &["--stdio", "--no-children", "--sort", "comm,sym"],
    ) else {
        return;
    };
    let rows = report_rows(&text);
    assert!(rows[0].1 == "chain [.] leaf", "{rows:?}");
}

fn rec_err(args: &[&str]) -> (String, i32) {
    let o = run({
        let mut c = rperf();
        c.arg("record").args(args);
        c
    });
    (stderr(&o), o.status.code().unwrap_or(-1))
}

#[test]
fn bad_record_inputs_are_explained() {
    let dir = TempDir::new("rec-bad");
    let out = dir.path().join("x.data");
    let out = out.to_str().unwrap();
    let (e, c) = rec_err(&["-o", out, "-e", "bogus", "true"]);
    assert_eq!(c, 129);
    assert!(e.contains("event syntax error: 'bogus'"), "{e}");
    let (e, c) = rec_err(&["-o", "/nonexistent-dir/perf.data", "true"]);
    assert_ne!(c, 0);
    assert!(
        e.contains("cannot create /nonexistent-dir/perf.data"),
        "{e}"
    );
    let (e, c) = rec_err(&["-o", out, "-p", "999999"]);
    assert_ne!(c, 0);
    assert!(e.contains("no such process: 999999"), "{e}");
    let (e, c) = rec_err(&["-o", out, "-m", "3", "true"]);
    assert_ne!(c, 0);
    assert!(e.contains("power of two"), "{e}");
    let (e, c) = rec_err(&["-o", out, "nosuchcmd-rperf"]);
    assert_eq!(c, 127, "{e}");
    let (e, c) = rec_err(&["-o", out, "--call-graph", "lbr", "true"]);
    assert_ne!(c, 0);
    assert!(e.contains("lbr"), "{e}");
    assert!(!Path::new(out).exists(), "a failed record left {out}");
}

#[test]
fn too_high_frequency_is_throttled_like_perf() {
    let max: u64 = std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let dir = TempDir::new("rec-freq");
    let out = dir.path().join("r.data");
    let f = (max * 2).to_string();
    let o = record(&["-F", &f, "--", "true"], &out);
    assert!(
        stderr(&o).contains(&format!("throttling from {f} Hz to {max} Hz")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn pipe_mode_streams_to_perf() {
    let dir = TempDir::new("rec-pipe");
    let exe = build(dir.path(), "chain", CHAIN_C, true);
    let Some(_) = perf() else { return };
    let sh = format!(
        "{} record -g -o - -- {exe} 0.3 | perf report -i - --stdio --no-children -g none --sort comm,sym",
        env!("CARGO_BIN_EXE_rperf")
    );
    let o = run({
        let mut c = Command::new("sh");
        c.args(["-c", &sh]);
        c
    });
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = report_rows(&out);
    assert!(
        !rows.is_empty() && rows[0].1 == "chain [.] leaf",
        "{out}\n{}",
        stderr(&o)
    );
    let sh = format!(
        "{} record -e sched:sched_switch -a -o - -- sleep 0.1 | perf script -i -",
        env!("CARGO_BIN_EXE_rperf")
    );
    let o = run({
        let mut c = Command::new("sh");
        c.args(["-c", &sh]);
        c
    });
    assert!(stdout(&o).contains("==> next_comm="), "{}", stderr(&o));
}

#[test]
fn quiet_system_wide_at_999_hz_loses_nothing() {
    let dir = TempDir::new("rec-999");
    let ours = dir.path().join("r.data");
    let o = record(&["-F", "999", "-a", "--", "sleep", "1"], &ours);
    assert!(!stderr(&o).contains("lost"), "{}", stderr(&o));
    let Some(stats) = perf_read("report", &ours, &["--stats"]) else {
        return;
    };
    assert!(!stats.contains("LOST events"), "{stats}");
}

#[test]
fn build_ids_of_hit_binaries_are_recorded() {
    let dir = TempDir::new("rec-bid");
    let exe = build(dir.path(), "chain", CHAIN_C, true);
    let ours = dir.path().join("r.data");
    record(&["--", &exe, "0.2"], &ours);
    let Some(list) = perf_read("buildid-list", &ours, &[]) else {
        return;
    };
    let notes = stdout(&run({
        let mut c = Command::new("readelf");
        c.args(["-n", &exe]);
        c
    }));
    let id = notes
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .unwrap_or_else(|| panic!("no build id in {exe}: {notes}"));
    assert!(
        list.lines().any(|l| l.starts_with(id) && l.ends_with(&exe)),
        "{list}"
    );
    // Only binaries that samples hit: never the unrelated rperf itself.
    assert!(!list.lines().any(|l| l.ends_with("/rperf")), "{list}");
}

#[test]
fn thread_and_cpu_targets_and_exit_status() {
    let dir = TempDir::new("rec-t");
    let exe = build(dir.path(), "chain", CHAIN_C, true);
    let mut child = Command::new(&exe).arg("0.8").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let ours = dir.path().join("t.data");
    record(&["-t", &child.id().to_string()], &ours);
    let _ = child.wait();
    if let Some(text) = perf_read("report", &ours, &["--stdio", "--sort", "comm"]) {
        assert!(
            report_rows(&text)
                .iter()
                .any(|(p, k)| k == "chain" && *p > 90.0),
            "{text}"
        );
    }
    let cpu0 = dir.path().join("c.data");
    record(&["-C", "0", "--", "sleep", "0.2"], &cpu0);
    if let Some(text) = perf_read("script", &cpu0, &["-F", "cpu"]) {
        assert!(text.lines().all(|l| l.trim() == "[000]"), "{text}");
    }
    let o = run({
        let mut c = rperf();
        c.arg("record")
            .arg("-o")
            .arg(dir.path().join("x.data"))
            .args(["--", "sh", "-c", "exit 3"]);
        c
    });
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

#[test]
fn sigterm_ends_recording_with_a_file_perf_reads() {
    let dir = TempDir::new("rec-term");
    let ours = dir.path().join("r.data");
    let child = rperf()
        .args(["record", "-a", "-o"])
        .arg(&ours)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    perf_read("report", &ours, &["--stdio"]);
}

#[test]
fn lost_samples_are_recorded_for_perf_report() {
    // A one-page ring cannot hold one 8 KB DWARF sample: the kernel drops every sample
    // and counts them; record writes the count as perf does (PERF_RECORD_LOST_SAMPLES).
    let dir = TempDir::new("record-lost");
    let exe = build(dir.path(), "chain", CHAIN_C, true);
    let out = dir.path().join("lost.data");
    let o = record(
        &[
            "-m",
            "1",
            "-F",
            "2000",
            "--call-graph",
            "dwarf",
            "--",
            &exe,
            "0.2",
        ],
        &out,
    );
    let err = stderr(&o);
    let n: u64 = err
        .split("the kernel lost ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no lost-samples warning: {err}"));
    assert!(n > 10, "{err}");
    // Every sample was lost: report says what perf's says, its header and "no samples".
    let r = run({
        let mut c = rperf();
        c.args(["report", "--stdio", "-i"]).arg(&out);
        c
    });
    assert!(
        stderr(&r).contains("data has no samples!"),
        "{}",
        stderr(&r)
    );
    let Some(mut p) = perf() else { return };
    let po = run({
        let mut c = perf().unwrap();
        c.args(["report", "--stdio", "-i"]).arg(&out);
        c
    });
    assert_eq!(stdout(&r), stdout(&po));
    // perf counts the same records.
    p.arg("report").arg("--stats").arg("-i").arg(&out);
    let stats = stdout(&run(p));
    let counted: Vec<u64> = stats
        .lines()
        .filter_map(|l| l.trim().strip_prefix("LOST_SAMPLES events:"))
        .filter_map(|r| r.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(counted.contains(&n), "perf --stats: {stats}");
}

/// Sleeps until process argv[1] has used argv[2] more clock ticks of CPU time (a command
/// that lasts as long as the process needs to do a known amount of work, however loaded
/// the machine; it wakes every 10 ms and uses next to no CPU itself).
const WAIT_CPU_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static long ticks(const char *pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) exit(1);
    int c;
    while ((c = fgetc(f)) != EOF && c != ')') ;
    long ut, st;
    if (fscanf(f, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) != 2) exit(1);
    fclose(f);
    return ut + st;
}
int main(int argc, char **argv) {
    long start = ticks(argv[1]), want = atol(argv[2]);
    struct timespec d = {0, 10000000};
    while (ticks(argv[1]) - start < want) nanosleep(&d, 0);
    return 0;
}
"#;

/// `-p PID CMD` (perf's way to bound the time): the command only sets how long to count or
/// record; the process is what is measured, and the command is not. The command waits for
/// the burner to use 30 ticks (300 ms) of CPU, so that much is there to count.
#[test]
fn a_command_after_pid_only_sets_the_duration() {
    let dir = TempDir::new("pid-timer");
    let burn = compile_c(dir.path(), "burner", BURN_C, &["-O1"]);
    let waiter = compile_c(dir.path(), "waiter", WAIT_CPU_C, &["-O1"]);
    let waiter = waiter.to_str().unwrap();
    let mut child = Command::new(&burn).arg("20000").spawn().unwrap();
    let pid = child.id().to_string();
    let o = run({
        let mut c = rperf();
        c.args(["stat", "-e", "task-clock", "-p", &pid, waiter, &pid, "30"]);
        c
    });
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(&format!("process id '{pid}'")), "{err}");
    // The burner's 300 ms (the command's own time, a few wake-ups, would be a millisecond
    // or two), less the ticks' granularity.
    let ms = value(&parse_human(&err), "task-clock", &err);
    assert!(ms > 200.0, "{ms} ms counted: {err}");
    // rperf ended with the command, not with the process: the burner (20 s of CPU time)
    // still runs.
    assert!(
        child.try_wait().unwrap().is_none(),
        "the burner ended first"
    );
    let data = dir.path().join("p.data");
    let o = run({
        let mut c = rperf();
        c.args(["record", "-q", "-o"])
            .arg(&data)
            .args(["-p", &pid, waiter, &pid, "30"]);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let comms = rperf_out(&["report", "--stdio", "--sort", "comm"], &data);
    let rows: Vec<&str> = comms.lines().filter(|l| l.contains('%')).collect();
    assert!(!rows.is_empty(), "{comms}");
    assert!(rows.iter().all(|l| l.contains("burner")), "{comms}");
    let _ = child.kill();
    let _ = child.wait();
}

/// `record -a -- CMD` stops sampling when the command exits, as perf does: the last sample
/// comes no later than a few milliseconds after the command's EXIT (it used to wait for the
/// next poll timeout, 36-110 ms of other processes' samples on a quiet machine).
///
/// rperf runs at a real-time priority (chrt), so that on a loaded machine the wake-up at the
/// command's exit runs at once instead of queueing behind other processes for tens of
/// milliseconds while they are sampled; a recording that sleeps until its poll timeout still
/// goes on sampling for up to 100 ms, which is what this catches.
#[test]
fn system_wide_recording_stops_when_the_command_exits() {
    let dir = TempDir::new("aexit");
    if !Command::new("chrt")
        .args(["-f", "10", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        skip("chrt -f (util-linux, as root) cannot give rperf a real-time priority");
        return;
    }
    let mut tails = Vec::new();
    for i in 0..3 {
        let f = dir.path().join(format!("a{i}.data"));
        let o = run({
            let mut c = Command::new("chrt");
            c.args(["-f", "10", env!("CARGO_BIN_EXE_rperf")])
                .args(["record", "-q", "-a", "-F", "99", "-o"])
                .arg(&f)
                .args(["--", "sleep", "0.3"]);
            c
        });
        assert!(o.status.success(), "{}", stderr(&o));
        let Some(mut p) = perf() else { return };
        p.args([
            "script",
            "--show-task-events",
            "-F",
            "comm,pid,time,event",
            "-i",
        ])
        .arg(&f);
        let text = stdout(&run(p));
        let time = |l: &str| {
            l.split_whitespace()
                .find_map(|w| w.strip_suffix(':').and_then(|t| t.parse::<f64>().ok()))
        };
        let exit = text
            .lines()
            .filter(|l| l.contains("PERF_RECORD_EXIT") && l.trim_start().starts_with("sleep"))
            .find_map(time)
            .unwrap_or_else(|| panic!("no EXIT of the command:\n{text}"));
        let last = text
            .lines()
            .filter(|l| !l.contains("PERF_RECORD_"))
            .filter_map(time)
            .fold(0.0f64, f64::max);
        tails.push((last - exit) * 1000.0);
    }
    tails.sort_by(f64::total_cmp);
    assert!(
        tails[1] < 50.0,
        "samples went on after the command exited (ms): {tails:?}"
    );
}

/// `record -R` (perf's --raw-samples): every event's samples carry raw data, time and CPU,
/// the same layout perf records, and both tools' script agree on the file.
#[test]
fn raw_samples_flag_records_perfs_layout() {
    let dir = TempDir::new("raw-samples");
    let args = [
        "-R",
        "-e",
        "cpu-clock,sched:sched_switch",
        "--",
        "sh",
        "-c",
        "cat /proc/version > /dev/null; sleep 0.05",
    ];
    let Some((p, r)) = record_both(dir.path(), &args) else {
        return;
    };
    let want = perf_sample_types(&p);
    assert_eq!(perf_sample_types(&r), want);
    assert!(
        want.iter().all(|l| l.contains("CPU") && l.contains("RAW")),
        "{want:?}"
    );
    let mut c = perf().unwrap();
    c.args(["script", "-i"]).arg(&r);
    assert_eq!(rperf_out(&["script"], &r), stdout(&run(c)));
}

/// Threads that were running before the recording keep their own names in perf's reading
/// of the file: the synthesized FORK comes before the thread's COMM, as perf writes them
/// (the other way round perf names the thread after its process).
#[test]
fn running_threads_keep_their_names() {
    let dir = TempDir::new("rec-named");
    let exe = compile_c(
        dir.path(),
        "named",
        include_str!("../../fixtures/workloads/named_thread.c"),
        &["-O1", "-pthread"],
    );
    let mut child = Command::new(&exe).arg("3").spawn().unwrap();
    // Give the thread time to start and name itself.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let data = dir.path().join("r.data");
    let pid = child.id().to_string();
    record(&["-p", &pid, "--", "sleep", "0.5"], &data);
    let _ = child.kill();
    let _ = child.wait();
    let Some(text) = perf_read("script", &data, &["-F", "comm,tid"]) else {
        return;
    };
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("namedworker")),
        "perf does not see the thread's name:\n{}",
        text.lines().take(5).collect::<Vec<_>>().join("\n")
    );
}
