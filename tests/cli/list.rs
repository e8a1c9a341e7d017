//! `rperf list` against `perf list`.
use std::io::Read;
use std::process::Stdio;

use crate::common::*;

fn lines(mut c: std::process::Command) -> Vec<String> {
    stdout(&run({
        c.stderr(Stdio::null());
        c
    }))
    .lines()
    .map(String::from)
    .collect()
}

#[test]
fn software_and_tracepoint_listings_equal_perf() {
    for filter in [
        "sw",
        "sched:*",
        "tool",
        "page",
        "sched_switch",
        "irq",
        "clock",
    ] {
        let Some(mut p) = perf() else { return };
        p.args(["list", filter]);
        let mut r = rperf();
        r.args(["list", filter]);
        let (pl, rl) = (lines(p), lines(r));
        let pl: Vec<_> = pl.into_iter().filter(|l| l.starts_with("  ")).collect();
        assert!(filter == "tool" || !rl.is_empty(), "filter {filter}");
        assert_eq!(rl, pl, "filter {filter}");
    }
}

#[test]
fn full_listing_has_perf_categories() {
    let Some(mut p) = perf() else { return };
    p.arg("list");
    let mut r = rperf();
    r.arg("list");
    let (pl, rl) = (lines(p), lines(r));
    for cat in [
        "[Software event]",
        "[Tool event]",
        "[Kernel PMU event]",
        "[Tracepoint event]",
        "[Hardware event]",
        "[Hardware cache event]",
    ] {
        let of = |v: &[String]| {
            v.iter()
                .filter(|l| l.ends_with(cat))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(of(&rl), of(&pl), "{cat}");
    }
}

#[test]
fn closed_pipe_exits_quietly() {
    let mut child = rperf()
        .arg("list")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
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
}
