//! `rperf script` prints what `perf script` prints for the same perf.data.
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

fn both(file: &Path) -> Option<(String, String)> {
    let mut p = perf()?;
    p.arg("script").arg("-i").arg(file);
    let po = run(p);
    assert!(po.status.success());
    let ro = run({
        let mut c = rperf();
        c.arg("script").arg("-i").arg(file);
        c
    });
    assert!(ro.status.success(), "{}", stderr(&ro));
    Some((stdout(&po), stdout(&ro)))
}

fn assert_same(p: &str, r: &str) {
    let (pl, rl): (Vec<&str>, Vec<&str>) = (p.lines().collect(), r.lines().collect());
    for (i, (a, b)) in pl.iter().zip(&rl).enumerate() {
        // Deliberate difference: a PLT stub is always `name@plt` in rperf; perf sometimes
        // names it after the symbol before the PLT (`_init`) or not at all.
        let addr = |l: &str| l.split_whitespace().next().map(String::from);
        // (With -F ip,sym there is no offset: `name@plt` against `_init`.)
        let plt_like = |t: &str| t == "_init" || t.starts_with("_init+") || t == "[unknown]";
        if b.contains("@plt") && a.split_whitespace().any(plt_like) && addr(a) == addr(b) {
            continue;
        }
        // perf names vDSO functions only from the copy of the vDSO in its build-id cache,
        // which a concurrent or absent perf record leaves missing; rperf reads its own.
        if a.contains("([vdso])") && b.contains("([vdso])") && addr(a) == addr(b) {
            continue;
        }
        assert_eq!(b, a, "line {} differs (rperf, then perf)", i + 1);
    }
    assert_eq!(rl.len(), pl.len());
}

#[test]
fn fp_chains_match_perf_line_for_line() {
    let dir = TempDir::new("script-fp");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-g", "-fno-omit-frame-pointer"],
    );
    let Some(f) = record_with(
        "perf",
        dir.path(),
        "p.data",
        &["-g", "--", exe.to_str().unwrap(), "0.2"],
    ) else {
        return;
    };
    let (p, r) = both(&f).unwrap();
    assert!(p.contains("leaf+"), "{p}");
    assert_same(&p, &r);
}

#[test]
fn system_wide_and_chainless_match_perf() {
    let dir = TempDir::new("script-a");
    // A name no other test's process has: other tests run `sleep` under perf too, and
    // their pre-exec samples are named differently by perf and rperf.
    let sleeper = dir.path().join("sleeper");
    std::fs::copy("/bin/sleep", &sleeper).unwrap();
    let Some(f) = record_with(
        "perf",
        dir.path(),
        "a.data",
        &["-a", "-g", "--", sleeper.to_str().unwrap(), "0.3"],
    ) else {
        return;
    };
    let (p, r) = both(&f).unwrap();
    // A system-wide recording holds whatever else ran (other tests, CI): compare the idle
    // task and the workload, whose frames are kernel and C code. (C++ names from other
    // processes can differ: cpp_demangle and GNU's demangler spell thunks differently.)
    let ours_only = |t: &str| -> String {
        t.split("\n\n")
            .filter(|b| b.starts_with("swapper ") || b.starts_with("sleeper "))
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    let (p, r) = (ours_only(&p), ours_only(&r));
    // (On a loaded machine the idle task may never run during the recording.)
    assert!(p.contains("swapper") || p.contains("sleeper"), "{p}");
    assert_same(&p, &r);
    let exe = compile_c(dir.path(), "chain", CHAIN_C, &["-O1"]);
    let f = record_with(
        "perf",
        dir.path(),
        "n.data",
        &["--", exe.to_str().unwrap(), "0.2"],
    )
    .unwrap();
    let (p, r) = both(&f).unwrap();
    assert_same(&p, &r);
}

#[test]
fn rperf_recordings_print_like_perf_reads_them() {
    let dir = TempDir::new("script-r");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-fno-omit-frame-pointer"],
    );
    let f = dir.path().join("r.data");
    let o = run({
        let mut c = rperf();
        c.arg("record")
            .arg("-g")
            .arg("-o")
            .arg(&f)
            .arg("--")
            .arg(&exe)
            .arg("0.2");
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let Some((p, r)) = both(&f) else { return };
    assert_same(&p, &r);
}

#[test]
fn bad_files_get_clear_errors() {
    let dir = TempDir::new("script-bad");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-fno-omit-frame-pointer"],
    );
    let good = dir.path().join("good.data");
    let o = run({
        let mut c = rperf();
        c.arg("record")
            .arg("-g")
            .arg("-o")
            .arg(&good)
            .arg("--")
            .arg(&exe)
            .arg("0.1");
        c
    });
    assert!(o.status.success());
    let bytes = std::fs::read(&good).unwrap();
    let script = |path: &Path| {
        let o = run({
            let mut c = rperf();
            c.arg("script").arg("-i").arg(path);
            c
        });
        (o.status.code(), stderr(&o))
    };
    // Missing file.
    let (code, e) = script(&dir.path().join("nope.data"));
    assert_ne!(code, Some(0));
    assert!(e.contains("cannot open") && e.contains("nope.data"), "{e}");
    // Not perf.data at all.
    let junk = dir.path().join("junk.data");
    std::fs::write(
        &junk,
        b"this is not a perf.data file, just text that is long enough",
    )
    .unwrap();
    let (code, e) = script(&junk);
    assert_ne!(code, Some(0));
    assert!(e.contains("not a perf.data file"), "{e}");
    // Truncated at many places, and garbage inside: never a panic.
    for cut in [8usize, 50, 104, 200, bytes.len() / 2, bytes.len() - 9] {
        let t = dir.path().join(format!("cut{cut}.data"));
        std::fs::write(&t, &bytes[..cut]).unwrap();
        let (code, e) = script(&t);
        assert!(code.is_some(), "killed by a signal at cut {cut}");
        assert!(!e.contains("panicked"), "panic at cut {cut}: {e}");
    }
    let mut garbled = bytes.clone();
    for i in (200..garbled.len()).step_by(97) {
        garbled[i] ^= 0x5a;
    }
    let g = dir.path().join("garbled.data");
    std::fs::write(&g, &garbled).unwrap();
    let (code, e) = script(&g);
    assert!(code.is_some() && !e.contains("panicked"), "{e}");
    // Header fields pointing outside the file (data size, feature table, a feature).
    let data_end = u64::from_le_bytes(bytes[40..48].try_into().unwrap())
        + u64::from_le_bytes(bytes[48..56].try_into().unwrap());
    for (at, value) in [
        (48usize, u64::MAX / 2),
        (32, 1 << 40),
        (data_end as usize + 8, 1 << 62),
    ] {
        let mut b = bytes.clone();
        b[at..at + 8].copy_from_slice(&value.to_le_bytes());
        let p = dir.path().join(format!("hdr{at}.data"));
        std::fs::write(&p, &b).unwrap();
        let (code, e) = script(&p);
        assert_eq!(code, Some(1), "header byte {at}: {e}");
        assert!(e.contains("damaged or truncated"), "header byte {at}: {e}");
    }
    // Scattered garbage at many places: an error or a partial result, never a crash.
    for seed in 1..=12usize {
        let mut b = bytes.clone();
        for k in 0..40 {
            let i = 104 + (seed * 7919 + k * 104_729) % (b.len() - 104);
            b[i] = b[i].wrapping_mul(31).wrapping_add(seed as u8);
        }
        let p = dir.path().join(format!("seed{seed}.data"));
        std::fs::write(&p, &b).unwrap();
        let (code, e) = script(&p);
        assert!(
            code.is_some() && !e.contains("panicked"),
            "seed {seed}: {e}"
        );
    }
}

#[test]
fn closed_pipe_ends_quietly() {
    let dir = TempDir::new("script-pipe");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-fno-omit-frame-pointer"],
    );
    let f = dir.path().join("r.data");
    let o = run({
        let mut c = rperf();
        c.arg("record")
            .arg("-g")
            .arg("-F")
            .arg("20000")
            .arg("-o")
            .arg(&f)
            .arg("--")
            .arg(&exe)
            .arg("0.3");
        c
    });
    assert!(o.status.success());
    let mut child = rperf()
        .arg("script")
        .arg("-i")
        .arg(&f)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let _ = Command::new("true");
}

#[test]
fn tracepoint_fields_print_like_perf() {
    let dir = TempDir::new("script-tp");
    let events = "syscalls:sys_enter_read,sched:sched_process_exec,sched:sched_wakeup,sched:sched_process_exit";
    let work = ["--", "sh", "-c", "cat /proc/version > /dev/null; sleep 0.1"];
    let Some(f) = record_with(
        "perf",
        dir.path(),
        "p.data",
        &[&["-e", events, "-a"][..], &work[..]].concat(),
    ) else {
        return;
    };
    // System-wide: other processes' names depend on when their threads were named, which perf
    // and rperf may learn differently; the workload's lines are compared.
    let workload = |t: &str| -> String {
        t.lines()
            .filter(|l| ["sh", "cat", "sleep"].contains(&l.split_whitespace().next().unwrap_or("")))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let (p, r) = both(&f).unwrap();
    let (p, r) = (workload(&p), workload(&r));
    assert!(
        p.contains("fd: 0x") && p.contains("sched:sched_process_exec: filename="),
        "{p}"
    );
    assert_same(&p, &r);
    // rperf's own recording of the same, read by both.
    let f = dir.path().join("r.data");
    let o = run({
        let mut c = rperf();
        c.arg("record")
            .arg("-q")
            .arg("-o")
            .arg(&f)
            .args(["-e", events, "-a"])
            .args(work);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let (p, r) = both(&f).unwrap();
    assert_same(&workload(&p), &workload(&r));
}

#[test]
fn field_selection_matches_perf() {
    let dir = TempDir::new("script-F");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-fno-omit-frame-pointer"],
    );
    let exe = exe.to_str().unwrap();
    let Some(chains) = record_with("perf", dir.path(), "g.data", &["-g", "--", exe, "0.2"]) else {
        return;
    };
    let plain = record_with("perf", dir.path(), "n.data", &["--", exe, "0.2"]).unwrap();
    // A tracepoint without chains shows its address only when -F asks for it.
    let tp = record_with(
        "perf",
        dir.path(),
        "t.data",
        &["-e", "sched:sched_switch", "--", exe, "0.1"],
    )
    .unwrap();
    for file in [&chains, &plain, &tp] {
        for fields in [
            "comm,tid,time,event,ip,sym,dso",
            "comm,pid,tid,time,period",
            "ip,sym",
            "comm,tid,sym",
            "comm,pid,time,event,ip,sym,symoff,dso",
            "tid,ip,dso",
            "event,period,ip",
        ] {
            let mut p = perf().unwrap();
            p.arg("script").arg("-i").arg(file).args(["-F", fields]);
            let want = stdout(&run(p));
            let o = run({
                let mut c = rperf();
                c.arg("script").arg("-i").arg(file).args(["-F", fields]);
                c
            });
            assert!(o.status.success(), "{}", stderr(&o));
            assert_same(&want, &stdout(&o));
        }
    }
    let o = run({
        let mut c = rperf();
        c.arg("script")
            .arg("-i")
            .arg(&plain)
            .args(["-F", "comm,cpu"]);
        c
    });
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("carry no CPU"), "{}", stderr(&o));
    let o = run({
        let mut c = rperf();
        c.arg("script")
            .arg("-i")
            .arg(&plain)
            .args(["-F", "comm,bogus"]);
        c
    });
    assert!(
        stderr(&o).contains("unknown -F field 'bogus'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sched_and_timer_formats_print_like_perf() {
    // Formats built on C expressions and libtraceevent's helpers: sched_switch's
    // prev_state (__print_flags under bit arithmetic and ?:), softirq_entry's vector
    // (__print_symbolic), hrtimer_start's %p, %ps (a kernel symbol) and a symbolic table of
    // enum names the format does not define (printed in hex, as perf does).
    let dir = TempDir::new("script-sched");
    let sleeper = dir.path().join("sleeper");
    std::fs::copy("/bin/sleep", &sleeper).unwrap();
    let events = "sched:sched_switch,sched:sched_waking,irq:softirq_entry,timer:hrtimer_start";
    let Some(f) = record_with(
        "perf",
        dir.path(),
        "s.data",
        &["-e", events, "-a", "--", sleeper.to_str().unwrap(), "0.2"],
    ) else {
        return;
    };
    let (p, r) = both(&f).unwrap();
    // System-wide: the idle task's and the workload's lines (others' names can differ).
    let ours = |t: &str| -> String {
        t.lines()
            .filter(|l| {
                let comm = l.split_whitespace().next().unwrap_or("");
                comm == "swapper" || comm == "sleeper"
            })
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let (p, r) = (ours(&p), ours(&r));
    assert!(p.contains("prev_state="), "{p}");
    assert!(
        p.contains("next_comm=sleeper") || p.contains("prev_comm=sleeper"),
        "{p}"
    );
    assert_same(&p, &r);
    assert!(!r.contains("prev_state=0"), "decoded, not field=value: {r}");
}

#[test]
fn sched_switch_prints_like_perf() {
    // sched_switch's print fmt: bit arithmetic, shifts, parentheses and ?: around
    // __print_flags for prev_state, and a second ?: for the preemption "+".
    let dir = TempDir::new("script-switch");
    let Some(f) = record_with(
        "perf",
        dir.path(),
        "sw.data",
        &["-e", "sched:sched_switch", "-a", "--", "sleep", "0.2"],
    ) else {
        return;
    };
    let (p, r) = both(&f).unwrap();
    // System-wide: other processes' comm names can legitimately differ between the tools,
    // so only the workload's lines are compared: those whose comm is `sleep` or that switch
    // to it.
    let sleep = |t: &str| -> String {
        t.lines()
            .filter(|l| {
                l.split_whitespace().next() == Some("sleep") || l.contains("next_comm=sleep ")
            })
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let (p, r) = (sleep(&p), sleep(&r));
    assert!(p.contains("prev_comm=sleep"), "{p}");
    assert!(p.contains("prev_state="), "{p}");
    assert_same(&p, &r);
    assert!(!r.contains("prev_state=0"), "decoded, not field=value: {r}");
}

/// Tracepoints recorded for one command carry the CPU, as perf's do: `script` shows the
/// `[cpu]` column, and the attr perf reads back has perf's own sample layout.
#[test]
fn per_task_tracepoints_carry_their_cpu_like_perf() {
    let dir = TempDir::new("script-tp-cpu");
    let events = "sched:sched_switch,syscalls:sys_enter_read";
    let work = [
        "--",
        "sh",
        "-c",
        "cat /proc/version > /dev/null; sleep 0.05",
    ];
    let args = [&["-e", events][..], &work[..]].concat();
    let Some((pf, rf)) = record_both(dir.path(), &args) else {
        return;
    };
    assert_eq!(perf_sample_types(&rf), perf_sample_types(&pf));
    let (p, r) = both(&rf).unwrap();
    assert!(!r.is_empty());
    for l in r.lines() {
        let cpu = l.split_whitespace().nth(2).unwrap_or("");
        assert!(
            cpu.starts_with('[') && cpu.ends_with(']'),
            "no [cpu] column: {l}"
        );
    }
    assert_same(&p, &r);
}

/// script's filters, as perf script's: --comm (and perf's -c/--comms), --pid, --tid and -C
/// keep the same samples.
#[test]
fn filters_keep_the_samples_perf_keeps() {
    let dir = TempDir::new("script-filters");
    let exe = compile_c(dir.path(), "threads", THREADS_C, &["-O1", "-pthread"]);
    let exe = exe.to_str().unwrap();
    let Some(f) = record_with("perf", dir.path(), "p.data", &["-a", "--", exe, "0.15"]) else {
        return;
    };
    let all = rperf_out(&["script", "-F", "comm,pid,tid,cpu"], &f);
    let line = all
        .lines()
        .find(|l| l.trim_start().starts_with("threads"))
        .unwrap_or_else(|| panic!("no sample of the workload:\n{all}"));
    let ids: Vec<&str> = line.split_whitespace().collect();
    let (pid, tid) = ids[1].split_once('/').unwrap();
    // A CPU the workload ran on (it may have run on one only).
    let cpu = ids[2].trim_matches(['[', ']']).trim_start_matches('0');
    let cpu = if cpu.is_empty() { "0" } else { cpu };
    for args in [
        vec!["--comm", "threads"],
        vec!["-c", "threads"],
        vec!["--comms", "threads"],
        vec!["--pid", pid],
        vec!["--tid", tid],
        // (Other processes' samples on a CPU are the machine's business: the workload's.)
        vec!["--comm", "threads", "-C", cpu],
        vec!["--pid", pid, "-C", cpu],
    ] {
        let mut p = perf().unwrap();
        p.arg("script").args(&args).arg("-i").arg(&f);
        let want = stdout(&run(p));
        let mut full = vec!["script"];
        full.extend(&args);
        let have = rperf_out(&full, &f);
        assert!(!have.is_empty(), "{args:?} kept nothing");
        assert_same(&want, &have);
    }
}

/// `script -D` dumps every record as perf's does, line for line: where it lies, its bytes,
/// its fields, and each sample's usual lines, in perf's delivery order.
#[test]
fn raw_dump_matches_perf_line_for_line() {
    let dir = TempDir::new("script-dump");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-g", "-fno-omit-frame-pointer"],
    );
    let e = exe.to_str().unwrap();
    let events = ["-e", "sched:sched_switch", "-e", "cpu-clock"];
    let recordings: [(&str, &str, Vec<&str>); 5] = [
        ("perf", "g.data", vec!["-g", "--", e, "0.1"]),
        (
            "perf",
            "d.data",
            vec!["--call-graph", "dwarf,1024", "--", e, "0.05"],
        ),
        ("perf", "t.data", [&events[..], &["--", e, "0.05"]].concat()),
        ("rperf", "r.data", vec!["-g", "--", e, "0.1"]),
        (
            "rperf",
            "rt.data",
            [&events[..], &["--", e, "0.05"]].concat(),
        ),
    ];
    for (tool, name, args) in recordings {
        let Some(f) = record_with(tool, dir.path(), name, &args) else {
            return;
        };
        let Some(mut p) = perf() else { return };
        let po = run({
            p.args(["script", "-D", "-i"]).arg(&f);
            p
        });
        assert!(po.status.success(), "{}", stderr(&po));
        let r = rperf_out(&["script", "-D"], &f);
        let p = stdout(&po);
        assert!(
            p.contains(". ... raw event: size") && p.contains("PERF_RECORD_SAMPLE(IP, 0x"),
            "{p}"
        );
        // The dump's own lines equal perf's; the sample lines between them are rperf
        // script's own, in their places (how they compare with perf's is for the tests
        // above: perf's DWARF unwinder, for one, gives up where rperf's goes on).
        let ((pd, _), (rd, rs)) = (split_dump(&p), split_dump(&r));
        assert_same(&pd, &rd);
        assert_eq!(rs, rperf_out(&["script"], &f), "{name}");
    }
    // Input the dump cannot take gets one line naming the file and the fix.
    let f = dir.path().join("pipe.data");
    let o = run({
        let mut c = rperf();
        c.args(["record", "-q", "-o", "-", "--", e, "0.01"])
            .stdout(Stdio::from(std::fs::File::create(&f).unwrap()));
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let not_data = dir.path().join("text");
    std::fs::write(&not_data, "hello").unwrap();
    for bad in [&f, &not_data] {
        let o = run({
            let mut c = rperf();
            c.args(["script", "-D", "-i"]).arg(bad);
            c
        });
        let err = stderr(&o);
        assert!(!o.status.success() && o.stdout.is_empty(), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(bad.to_str().unwrap()), "{err}");
    }
}

/// A `script -D` text split into the dump's lines and the sample lines script prints after
/// each sample's ` ...... dso:` line. perf names a vDSO it had to extract after the
/// temporary file it wrote (`/tmp/perf-vdso.so-XXXXXX`); rperf keeps `[vdso]`.
fn split_dump(text: &str) -> (String, String) {
    let (mut dump, mut samples) = (Vec::new(), Vec::new());
    let mut in_sample = false;
    for l in text.lines() {
        let header = l.starts_with("0x") && l.contains(" event: ");
        if in_sample && header {
            in_sample = false;
            // The blank line before a record's header is the dump's.
            if let Some(blank) = samples.pop() {
                dump.push(blank);
            }
        }
        if in_sample {
            samples.push(l);
            continue;
        }
        if l.starts_with(" ...... dso: /tmp/perf-vdso.so-") {
            dump.push(" ...... dso: [vdso]");
        } else {
            dump.push(l);
        }
        in_sample = l.starts_with(" ...... dso: ");
    }
    let join = |v: Vec<&str>| v.iter().map(|l| format!("{l}\n")).collect::<String>();
    (join(dump), join(samples))
}
