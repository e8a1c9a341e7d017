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
fn dwarf_frames_match_perf_apart_from_inline_frames() {
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
    let ours = script(&f, "rperf").unwrap();
    // Inline frames (perf shows them through libdw) are not produced yet: drop them from
    // perf's stacks, and from ours the physical frames perf replaced by inline ones.
    let (pb, rb): (Vec<&str>, Vec<&str>) =
        (theirs.split("\n\n").collect(), ours.split("\n\n").collect());
    assert_eq!(pb.len(), rb.len());
    let addr = |l: &str| l.split_whitespace().next().unwrap_or("").to_string();
    let mut same = 0;
    for (a, b) in pb.iter().zip(&rb) {
        let inl: Vec<String> = a
            .lines()
            .filter(|l| l.contains("(inlined)"))
            .map(addr)
            .collect();
        let kept_p: Vec<&str> = a.lines().filter(|l| !l.contains("(inlined)")).collect();
        let kept_p_addrs: Vec<String> = kept_p.iter().map(|l| addr(l)).collect();
        let kept_r: Vec<&str> = b
            .lines()
            .filter(|l| !inl.contains(&addr(l)) || kept_p_addrs.contains(&addr(l)))
            .collect();
        if kept_p == kept_r {
            same += 1;
        }
    }
    assert!(
        same * 100 >= pb.len() * 95,
        "only {same} of {} stacks equal perf's",
        pb.len()
    );
}
