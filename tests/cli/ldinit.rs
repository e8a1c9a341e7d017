//! DWARF stacks through ld.so's start-up: a preloaded library's DT_INIT function runs from
//! `_dl_init` through `call_init`. With glibc's debug info, DWARF places an inlined copy of
//! `call_init` inside its own out-of-line body at the call, so perf (through binutils'
//! addr2line) prints `call_init+0x84` twice in a row: that is perf's frame list, not an
//! unwinder repeating a frame, and rperf's must be the same.
use std::path::Path;

use crate::common::*;

const INIT_BURN_C: &str = include_str!("../../fixtures/workloads/init_burn.c");

/// `tool script -i file` split into samples (header and frame lines as printed).
fn samples(tool: &str, file: &Path) -> Vec<String> {
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
        .map(|s| s.trim_matches('\n').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn stacks_through_ld_so_init_calls_are_perfs() {
    if perf().is_none() {
        return;
    }
    let dir = TempDir::new("ldinit");
    let lib = compile_c(
        dir.path(),
        "libinitburn.so",
        INIT_BURN_C,
        &["-O1", "-g", "-shared", "-fPIC", "-Wl,-init=burn_init"],
    );
    let preload = format!("LD_PRELOAD={}", lib.display());
    let args = [
        "--call-graph",
        "dwarf",
        "-F",
        "1000",
        "--",
        "env",
        &preload,
        "true",
    ];
    let Some((p, r)) = record_both(dir.path(), &args) else {
        return;
    };
    for file in [p, r] {
        let theirs = samples("perf", &file);
        let ours = samples("rperf", &file);
        assert_eq!(theirs.len(), ours.len(), "{}", file.display());
        // Samples in the init function whose stack perf follows into ld.so.
        let through: Vec<(&String, &String)> = theirs
            .iter()
            .zip(&ours)
            .filter(|(t, _)| t.contains(" burn_init+") && t.contains(" _dl_init+"))
            .collect();
        assert!(
            through.len() >= 10,
            "{}: only {} samples in burn_init reach _dl_init ({} samples)",
            file.display(),
            through.len(),
            theirs.len()
        );
        for (t, o) in through {
            assert_eq!(t, o, "{}: a stack through ld.so's init", file.display());
        }
    }
}
