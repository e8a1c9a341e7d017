//! DWARF stacks through ld.so's lazy binding: `_dl_runtime_resolve*` defines its CFA through
//! rbx, which framehop does not track; rperf's exact CFI walk must carry the stack on to
//! `main` as perf does, on perf's recordings and on its own.
use std::collections::HashMap;
use std::path::Path;

use crate::common::*;

const LAZYBIND_C: &str = include_str!("../../fixtures/workloads/lazybind.c");

/// `tool script` of `file`, as (header line → frame function names), for samples with a
/// stack.
fn stacks(tool: &str, file: &Path) -> HashMap<String, Vec<String>> {
    let mut c = if tool == "perf" {
        perf().expect("perf was found before")
    } else {
        rperf()
    };
    let o = run({
        c.arg("script").arg("-i").arg(file);
        c
    });
    assert!(o.status.success(), "{tool} script: {}", stderr(&o));
    stdout(&o)
        .split("\n\n")
        .filter_map(|block| {
            let mut lines = block.lines().filter(|l| !l.trim().is_empty());
            let head = lines.next()?.to_string();
            let frames: Vec<String> = lines
                .filter_map(|l| l.split_whitespace().nth(1))
                .map(|f| f.split('+').next().unwrap_or("").to_string())
                .collect();
            (!frames.is_empty()).then_some((head, frames))
        })
        .collect()
}

#[test]
fn lazy_binding_stacks_reach_main_and_are_never_shallower_than_perfs() {
    if perf().is_none() {
        return;
    }
    let dir = TempDir::new("lazybind");
    let exe = compile_c(
        dir.path(),
        "lazybind",
        LAZYBIND_C,
        &[
            "-O2",
            "-g",
            "-fno-builtin",
            "-Wl,-z,lazy",
            "-Wl,--no-as-needed",
            "-lm",
        ],
    );
    let exe = exe.to_str().unwrap();
    // A short period: each child lives a fraction of a millisecond.
    let args = [
        "-c",
        "50000",
        "--call-graph",
        "dwarf,4096",
        "--",
        exe,
        "0.3",
    ];
    let Some((p, r)) = record_both(dir.path(), &args) else {
        return;
    };
    for file in [p, r] {
        let theirs = stacks("perf", &file);
        let ours = stacks("rperf", &file);
        let mut resolving = 0;
        for (head, frames) in &ours {
            let Some(perfs) = theirs.get(head) else {
                continue;
            };
            assert!(
                frames.len() >= perfs.len(),
                "{}: rperf's stack is shallower than perf's:\n{head}\nrperf {frames:?}\nperf  {perfs:?}",
                file.display()
            );
            if !frames.iter().any(|f| f.starts_with("_dl_runtime_resolve")) {
                continue;
            }
            resolving += 1;
            // Through main, or (a binding that ld.so's or libc's start-up asks for before
            // main runs) to the program's `_start` or into ld.so's own start (`_dl_start`,
            // whose caller, ld.so's entry, is the last frame): either way the whole stack.
            let whole = frames.iter().any(|f| f == "main" || f == "_dl_start")
                || frames.last().is_some_and(|f| f == "_start");
            assert!(
                whole,
                "{}: a stack through the lazy-binding trampoline stops short of main (or of _start):\n{head}\n{frames:?}",
                file.display()
            );
            // Where perf gets through the trampoline too, the frames are perf's.
            if perfs.iter().any(|f| f == "main") {
                assert_eq!(frames, perfs, "{}: {head}", file.display());
            }
        }
        assert!(
            resolving >= 5,
            "{}: only {resolving} samples in _dl_runtime_resolve* ({} samples)",
            file.display(),
            ours.len()
        );
    }
}
