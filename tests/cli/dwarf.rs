//! `--call-graph dwarf` stacks unwound by rperf (framehop) for code without frame pointers.
use std::path::Path;

use crate::common::*;

fn script(file: &Path, tool: &str) -> Option<String> {
    let mut c = if tool == "perf" { perf()? } else { rperf() };
    c.arg("script").arg("-i").arg(file);
    let o = run(c);
    assert!(o.status.success(), "{tool} script: {}", stderr(&o));
    Some(stdout(&o))
}

/// The function names of one `perf script` stack block (its header line skipped).
fn frame_names(block: &str) -> Vec<&str> {
    block
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|s| s.split('+').next().unwrap_or(""))
        .collect()
}

/// Share (percent) of samples whose innermost frame is `leaf` that reach `main` through
/// `mid`, and how many such samples there are.
fn completeness(text: &str) -> (f64, usize) {
    let mut leaf = 0;
    let mut full = 0;
    for block in text.split("\n\n") {
        let frames: Vec<&str> = block
            .lines()
            .skip(1)
            .filter(|l| !l.contains("(inlined)"))
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(|s| s.split('+').next().unwrap_or(""))
            .collect();
        if frames.first() != Some(&"leaf") {
            continue;
        }
        leaf += 1;
        if frames.contains(&"mid") && frames.contains(&"main") {
            full += 1;
        }
    }
    (
        if leaf == 0 {
            0.0
        } else {
            100.0 * full as f64 / leaf as f64
        },
        leaf,
    )
}

#[test]
fn dwarf_stacks_reach_main_without_frame_pointers() {
    let dir = TempDir::new("dwarf");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-g", "-fomit-frame-pointer"],
    );
    let exe = exe.to_str().unwrap();
    for tool in ["rperf", "perf"] {
        let f = dir.path().join(format!("{tool}.data"));
        let mut c = if tool == "perf" {
            match perf() {
                Some(p) => p,
                None => continue,
            }
        } else {
            rperf()
        };
        c.arg("record")
            .arg("-q")
            .arg("--call-graph")
            .arg("dwarf")
            .arg("-o")
            .arg(&f)
            .args(["--", exe, "0.3"]);
        let o = run(c);
        assert!(o.status.success(), "{}", stderr(&o));
        let ours = script(&f, "rperf").unwrap();
        // Unwinding in parallel ahead of the pass (the default with more than two CPUs)
        // gives the very same output as unwinding each sample in turn.
        for mode in ["0", "1"] {
            let o = run({
                let mut c = rperf();
                c.env("RPERF_PARALLEL_UNWIND", mode)
                    .arg("script")
                    .arg("-i")
                    .arg(&f);
                c
            });
            assert!(o.status.success(), "{}", stderr(&o));
            assert!(
                stdout(&o) == ours,
                "RPERF_PARALLEL_UNWIND={mode} changed the output"
            );
        }
        let (pct, n) = completeness(&ours);
        assert!(n > 50, "{n} leaf samples in the {tool} recording");
        assert!(
            pct >= 95.0,
            "only {pct:.1}% of {n} leaf stacks reach main ({tool} recording)"
        );
        if let Some(theirs) = script(&f, "perf") {
            let (ppct, _) = completeness(&theirs);
            assert!(
                pct + 0.5 >= ppct,
                "rperf {pct:.1}% complete vs perf {ppct:.1}%"
            );
        }
        // The same stacks drive report and flame graphs.
        let folded = stdout(&run({
            let mut c = rperf();
            c.arg("script").arg("--folded").arg("-i").arg(&f);
            c
        }));
        let (mut total, mut with_main) = (0u64, 0u64);
        for l in folded.lines().filter(|l| l.contains(";leaf ")) {
            let w: u64 = l.rsplit(' ').next().unwrap().parse().unwrap();
            total += w;
            if l.contains(";main;mid;leaf ") {
                with_main += w;
            }
        }
        assert!(total > 0 && with_main * 100 >= total * 95, "{folded}");
    }
}

#[test]
fn dwarf_frames_match_perf_with_inline_frames() {
    let dir = TempDir::new("dwarf-eq");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-g", "-fomit-frame-pointer"],
    );
    let f = dir.path().join("p.data");
    let Some(mut p) = perf() else { return };
    p.arg("record")
        .arg("-q")
        .arg("--call-graph")
        .arg("dwarf")
        .arg("-o")
        .arg(&f)
        .arg("--")
        .arg(&exe)
        .arg("0.2");
    assert!(run(p).status.success());
    let theirs = script(&f, "perf").unwrap();
    let o = run({
        let mut c = rperf();
        c.arg("script").arg("-i").arg(&f);
        c
    });
    let ours = stdout(&o);
    // Stacks that end in an entry point (_start, of the program or of ld.so while it
    // starts) are whole: the note on stacks cut short counts none of them.
    let whole = ours
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .all(|b| {
            b.lines()
                .last()
                .is_some_and(|l| l.contains(" _start+") || l.contains("[kernel.kallsyms]"))
        });
    if whole {
        assert!(
            !stderr(&o).contains("DWARF stacks stop"),
            "{}\n{ours}",
            stderr(&o)
        );
    }
    // Each stack line for line, the functions DWARF says are inlined at each address
    // (perf's `(inlined)` lines, libc's start-up under its DWARF name) included.
    let (pb, rb): (Vec<&str>, Vec<&str>) =
        (theirs.split("\n\n").collect(), ours.split("\n\n").collect());
    assert_eq!(pb.len(), rb.len());
    let same = pb.iter().zip(&rb).filter(|(a, b)| a == b).count();
    let inlined = rb.iter().filter(|b| b.contains(" (inlined)")).count();
    assert!(
        inlined * 2 >= rb.len(),
        "{inlined} of {} stacks show inlined functions:\n{ours}",
        rb.len()
    );
    assert!(
        same * 100 >= pb.len() * 95,
        "only {same} of {} stacks equal perf's",
        pb.len()
    );
}

const LIB_C: &str = r#"
__attribute__((noinline)) void lib_leaf(volatile unsigned long *x) { for (int i = 0; i < 200000; i++) *x += i; }
__attribute__((noinline)) void lib_work(volatile unsigned long *x) { lib_leaf(x); *x += 1; }
"#;

const USES_LIB_C: &str = r#"
#include <stdlib.h>
#include <time.h>
void lib_work(volatile unsigned long *x);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
__attribute__((noinline)) void caller(volatile unsigned long *x) { lib_work(x); *x += 2; }
int main(int argc, char **argv) {
    double end = now() + (argc > 1 ? atof(argv[1]) : 0.3);
    volatile unsigned long x = 0;
    while (now() < end) caller(&x);
    return 0;
}
"#;

#[test]
fn dwarf_stacks_cross_a_shared_library() {
    let dir = TempDir::new("dwarf-lib");
    let lib = dir.path().join("libwork.so");
    let src = dir.path().join("lib.c");
    std::fs::write(&src, LIB_C).unwrap();
    let o = run({
        let mut c = std::process::Command::new("gcc");
        c.args([
            "-O1",
            "-g",
            "-fomit-frame-pointer",
            "-fPIC",
            "-shared",
            "-o",
        ])
        .arg(&lib)
        .arg(&src);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let exe = dir.path().join("uses");
    let main_src = dir.path().join("uses.c");
    std::fs::write(&main_src, USES_LIB_C).unwrap();
    let o = run({
        // Libraries go after the source for the linker.
        let mut c = std::process::Command::new("gcc");
        c.args(["-O1", "-g", "-fomit-frame-pointer", "-o"])
            .arg(&exe)
            .arg(&main_src)
            .arg(format!("-L{}", dir.path().display()))
            .arg(format!("-Wl,-rpath,{}", dir.path().display()))
            .arg("-lwork");
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let f = dir.path().join("r.data");
    let o = run({
        let mut c = rperf();
        c.arg("record")
            .arg("-q")
            .args(["--call-graph", "dwarf", "-o"])
            .arg(&f)
            .arg("--")
            .arg(&exe)
            .arg("0.3");
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let text = script(&f, "rperf").unwrap();
    let (mut leaf, mut full) = (0, 0);
    for block in text.split("\n\n") {
        let frames = frame_names(block);
        if frames.first() == Some(&"lib_leaf") {
            leaf += 1;
            if frames
                .windows(3)
                .any(|w| w == ["lib_work", "caller", "main"])
            {
                full += 1;
            }
        }
    }
    assert!(leaf > 50, "{leaf} samples in the library");
    assert!(
        full * 100 >= leaf * 95,
        "{full} of {leaf} library stacks reach main"
    );
}

const DEEP_C: &str = r#"
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static double end;
__attribute__((noinline)) void spin(void) { volatile unsigned long x = 0; while (now() < end) for (int i = 0; i < 10000; i++) x += i; }
__attribute__((noinline)) int down(int n) { if (n == 0) { spin(); return 0; } return down(n - 1) + 1; }
int main(int argc, char **argv) {
    end = now() + 0.3;
    return down(argc > 1 ? atoi(argv[1]) : 300) == -1;
}
"#;

#[test]
fn deep_recursion_is_shown_whole() {
    let dir = TempDir::new("dwarf-deep");
    let exe = compile_c(
        dir.path(),
        "deep",
        DEEP_C,
        &["-O1", "-g", "-fomit-frame-pointer"],
    );
    let f = dir.path().join("r.data");
    let o = run({
        let mut c = rperf();
        c.arg("record")
            .arg("-q")
            .args(["--call-graph", "dwarf,32768", "-o"])
            .arg(&f)
            .arg("--")
            .arg(&exe)
            .arg("300");
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let text = script(&f, "rperf").unwrap();
    let (mut spin, mut whole) = (0, 0);
    for block in text.split("\n\n") {
        let frames = frame_names(block);
        if frames.iter().take(3).any(|f| *f == "spin") {
            spin += 1;
            let downs = frames.iter().filter(|f| **f == "down").count();
            if downs == 301 && frames.contains(&"main") {
                whole += 1;
            }
        }
    }
    assert!(spin > 50, "{spin} samples in spin");
    // perf would stop at 127 frames; rperf shows all 301 recursive frames and main.
    assert!(
        whole * 100 >= spin * 95,
        "{whole} of {spin} stacks are whole"
    );
}

/// A leaf that sets up no frame of its own but keeps 96 bytes of locals below its return
/// address, in a program otherwise built with frame pointers.
const BIG_LEAF_C: &str = r#"
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
__attribute__((noinline, optimize("omit-frame-pointer"))) void leaf(volatile unsigned long *x) {
    volatile unsigned long a[10];
    for (int i = 0; i < 200000; i++) { a[i % 10] = i; *x += a[(i * 7) % 10]; }
}
__attribute__((noinline)) void mid(volatile unsigned long *x) { leaf(x); *x += 1; }
int main(int argc, char **argv) {
    double end = now() + (argc > 1 ? atof(argv[1]) : 0.3);
    volatile unsigned long x = 0;
    while (now() < end) mid(&x);
    return 0;
}
"#;

fn record_g(tool: &str, exe: &Path, extra: &[&str], out: &Path) -> bool {
    let exe = exe.to_str().unwrap();
    let args: Vec<&str> = ["-g"]
        .into_iter()
        .chain(extra.iter().copied())
        .chain(["--", exe, "0.4"])
        .collect();
    record_to(tool, &args, out)
}

#[test]
fn fp_recording_keeps_the_caller_of_a_frameless_leaf() {
    let dir = TempDir::new("leaf");
    // CHAIN_C's leaf at -O1 sets up no frame even with -fno-omit-frame-pointer (gcc leaves
    // leaf functions frameless); BIG_LEAF_C's leaf has locals between sp and its return.
    for (name, src) in [("chain", CHAIN_C), ("bigleaf", BIG_LEAF_C)] {
        let exe = compile_c(dir.path(), name, src, &["-O1", "-fno-omit-frame-pointer"]);
        // The workload really loses `mid` with plain frame-pointer chains: perf's own
        // recording, and rperf's with the fix turned off.
        let plain = dir.path().join(format!("{name}-plain.data"));
        assert!(record_g("rperf", &exe, &["--fp-leaf-stack", "0"], &plain));
        let (pct, n) = completeness(&script(&plain, "rperf").unwrap());
        assert!(
            n > 100 && pct < 10.0,
            "{name}: plain -g kept mid in {pct}% of {n}"
        );
        let theirs = dir.path().join(format!("{name}-perf.data"));
        if record_g("perf", &exe, &[], &theirs) {
            let (pct, n) = completeness(&script(&theirs, "perf").unwrap());
            assert!(
                n > 100 && pct < 10.0,
                "{name}: perf -g kept mid in {pct}% of {n}"
            );
        }
        // rperf's -g puts the caller back, and the file stays a plain frame-pointer file:
        // perf reads it and shows `mid` too.
        let fixed = dir.path().join(format!("{name}.data"));
        assert!(record_g("rperf", &exe, &[], &fixed));
        let (pct, n) = completeness(&script(&fixed, "rperf").unwrap());
        assert!(
            n > 100 && pct >= 95.0,
            "{name}: rperf script: mid in {pct}% of {n}"
        );
        if let Some(text) = script(&fixed, "perf") {
            let (pct, n) = completeness(&text);
            assert!(
                n > 100 && pct >= 95.0,
                "{name}: perf script: mid in {pct}% of {n}"
            );
            let mut c = perf().unwrap();
            c.args(["evlist", "-v", "-i"]).arg(&fixed);
            let o = run(c);
            let attrs = stdout(&o);
            assert!(
                attrs.contains("CALLCHAIN") && !attrs.contains("REGS_USER"),
                "{attrs}"
            );
        }
        // report's call graph under leaf starts at its caller (the sort key is the leaf).
        let o = run({
            let mut c = rperf();
            c.args(["report", "--stdio", "--no-children", "--sort", "sym", "-i"])
                .arg(&fixed);
            c
        });
        let text = stdout(&o);
        let graph: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.contains("[.] leaf"))
            .take(6)
            .collect();
        assert!(
            graph.iter().any(|l| l.trim() == "---mid") && graph.iter().any(|l| l.trim() == "main"),
            "{text}"
        );
    }
}

#[test]
fn dwarf_stacks_use_cfi_from_a_separate_debug_file() {
    // A binary built without .eh_frame: its only CFI is .debug_frame, which stripping moves
    // to the debug file that .gnu_debuglink names.
    let dir = TempDir::new("dwarf-debuglink");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &[
            "-O1",
            "-g",
            "-fomit-frame-pointer",
            "-fno-asynchronous-unwind-tables",
            "-fno-unwind-tables",
        ],
    );
    let (e, d) = (exe.to_str().unwrap(), dir.path().join("chain.debug"));
    let d = d.to_str().unwrap();
    for args in [
        vec!["--only-keep-debug", e, d],
        vec!["--strip-debug", e],
        vec![&format!("--add-gnu-debuglink={d}"), e],
    ] {
        let ok = std::process::Command::new("objcopy").args(&args).status();
        if !ok.map(|s| s.success()).unwrap_or(false) {
            skip("objcopy (binutils) is needed");
            return;
        }
    }
    let f = dir.path().join("r.data");
    assert!(record_to(
        "rperf",
        &["--call-graph", "dwarf", "--", e, "0.3"],
        &f
    ));
    let (pct, n) = completeness(&script(&f, "rperf").unwrap());
    assert!(n > 50, "{n} leaf samples");
    assert!(pct >= 95.0, "only {pct:.1}% of {n} leaf stacks reach main");
    // Without the debug file the same recording has no rules for these functions.
    std::fs::remove_file(d).unwrap();
    let (without, _) = completeness(&script(&f, "rperf").unwrap());
    assert!(
        without < pct,
        "{without:.1}% without the debug file, {pct:.1}% with it"
    );
}

#[test]
fn dwarf_stacks_of_a_rebuilt_binary_unwind_with_the_recorded_one() {
    // The binary at the recorded path is replaced after recording (a rebuild); the copy in
    // perf's build-id cache is the code that ran: both its symbols and its CFI are used.
    let dir = TempDir::new("dwarf-rebuilt");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-g", "-fomit-frame-pointer"],
    );
    let f = dir.path().join("r.data");
    let o = run({
        let mut c = rperf();
        c.args(["record", "-q", "--call-graph", "dwarf", "-o"])
            .arg(&f)
            .arg("--")
            .arg(&exe)
            .arg("0.3");
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let Some(mut p) = perf() else { return };
    p.env("HOME", &home).args(["buildid-cache", "-a"]).arg(&exe);
    let o = run(p);
    assert!(o.status.success(), "{}", stderr(&o));
    let other = compile_c(dir.path(), "other", BURN_C, &["-O1", "-g"]);
    std::fs::remove_file(&exe).unwrap();
    std::fs::copy(&other, &exe).unwrap();
    let o = run({
        let mut c = rperf();
        c.env("HOME", &home).arg("script").arg("-i").arg(&f);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let (pct, n) = completeness(&stdout(&o));
    assert!(n > 50, "{n} leaf samples");
    assert!(pct >= 95.0, "only {pct:.1}% of {n} leaf stacks reach main");
}
