//! DWARF stacks through ld.so's start-up: a preloaded library's DT_INIT function runs from
//! `_dl_init` through `call_init`. With glibc's debug info, DWARF places an inlined copy of
//! `call_init` inside its own out-of-line body at the call, so perf (through binutils'
//! addr2line) prints `call_init+0x84` twice in a row: that is perf's frame list, not an
//! unwinder repeating a frame, and rperf's must be the same (perf stops some runs at
//! call_init; rperf goes on to `_dl_init`, its frames then starting with perf's).
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
        let pairs: Vec<(&String, &String)> = theirs
            .iter()
            .zip(&ours)
            .filter(|(t, _)| t.contains(" burn_init+"))
            .collect();
        // rperf follows every stack in the init function into ld.so, through the doubled
        // call_init line perf prints too.
        let through = pairs
            .iter()
            .filter(|(_, o)| o.contains(" _dl_init+") && o.matches(" call_init+").count() == 2)
            .count();
        assert!(
            through >= 10 && through == pairs.len(),
            "{}: {through} of {} samples in burn_init reach _dl_init",
            file.display(),
            pairs.len()
        );
        for (t, o) in pairs {
            if t.contains(" _dl_init+") {
                assert_eq!(t, o, "{}: a stack through ld.so's init", file.display());
            } else {
                // perf 6.1 stops some runs' stacks at call_init (run to run, whatever the
                // load): its frames are then the first of rperf's.
                assert!(
                    o.starts_with(t.as_str()),
                    "{}: perf's stack is not the start of rperf's:\n{t}\n--\n{o}",
                    file.display()
                );
            }
        }
    }
}
