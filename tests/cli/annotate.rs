//! `rperf annotate` against `perf annotate --stdio` (which runs objdump per function): the
//! same text line by line on the fixture workloads, with each option; the disassembler
//! against objdump on whole fixture binaries; and bad input refused with a clear message.
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// The annotation sections of a `--stdio` output, each keyed by its header line (with
/// `-l`, the summary before a header is part of its section).
fn sections(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut summary: Option<Vec<String>> = None;
    for l in text.lines() {
        if l.starts_with("Sorted summary") {
            summary = Some(vec![l.to_string()]);
        } else if l.starts_with(" Percent |") {
            out.push((l.to_string(), summary.take().unwrap_or_default()));
        } else if let Some(s) = summary.as_mut() {
            s.push(l.to_string());
        } else if let Some(last) = out.last_mut() {
            last.1.push(l.to_string());
        }
    }
    out
}

/// A line's leading percentage (`   12.34 : ...`, ` 12.34 path`) and the rest.
fn split_percent(line: &str) -> Option<(f64, &str)> {
    let t = line.trim_start();
    let end = t.find(' ')?;
    let v: f64 = t[..end].parse().ok()?;
    Some((v, &t[end..]))
}

/// Whether two lines are the same apart from percentages within 0.01, and apart from
/// `-l`'s ` // file.c:12` mark: perf leaves a mark out when it equals the last one printed,
/// which it remembers across functions through a pointer into the previous function's
/// freed lines, so whether the first mark of a function shows is perf's accident.
fn same_line(p: &str, r: &str) -> bool {
    if p == r {
        return true;
    }
    let unmarked = |l: &str| l.split(" // ").next().unwrap_or(l).to_string();
    let (p, r) = (&unmarked(p)[..], &unmarked(r)[..]);
    if p == r {
        return true;
    }
    match (split_percent(p), split_percent(r)) {
        (Some((a, pa)), Some((b, rb))) => pa == rb && (a - b).abs() <= 0.0100001,
        _ => false,
    }
}

fn annotate(tool: Command, file: &Path, args: &[&str]) -> String {
    let mut c = tool;
    c.arg("annotate")
        .arg("--stdio")
        .arg("-i")
        .arg(file)
        .args(args);
    let o = run(c);
    assert!(o.status.success(), "annotate {args:?}: {}", stderr(&o));
    stdout(&o)
}

/// perf's and rperf's annotation of `file` with `args`: every section perf prints for a
/// binary whose name is in `ours` must be in rperf's output, line for line.
fn compare(file: &Path, args: &[&str], ours: &[&str]) {
    let Some(perf) = perf() else {
        return;
    };
    let p = annotate(perf, file, args);
    let r = annotate(rperf(), file, args);
    let (ps, rs) = (sections(&p), sections(&r));
    let mine = |h: &str| {
        ours.iter()
            .any(|b| h.contains(&format!("Disassembly of {b} for")))
    };
    // A sample in a PLT stub is `name@plt` for rperf; perf names it so or, depending on the
    // shape of its symbol tree, as the zero-sized `_init` it stretched over the PLT
    // (symbols/src/elf.rs). Such a one-sample `_init` section is perf's tree, not annotate.
    let plt_as_init = |body: &[String]| body.iter().any(|l| l.ends_with(" <_init>:"));
    // The same choice seen from rperf's side: a one-sample section rperf places in `.plt`
    // (its stub) where perf's tree placed the sample in a `.text` symbol.
    let in_plt = |body: &[String]| {
        body.iter()
            .any(|l| l.contains("Disassembly of section .plt"))
    };
    let plt_elsewhere = |h: &str, body: &[String]| {
        h.contains("(1 samples,")
            && !in_plt(body)
            && rs.iter().any(|(rh, rb)| rh == h && in_plt(rb))
    };
    let wanted: Vec<_> = ps
        .iter()
        .filter(|(h, body)| mine(h) && !plt_as_init(body) && !plt_elsewhere(h, body))
        .collect();
    assert!(
        !wanted.is_empty(),
        "{args:?}: perf annotated none of {ours:?}:\n{p}"
    );
    for (h, pl) in wanted {
        let Some((_, rl)) = rs.iter().find(|(rh, _)| rh == h) else {
            let heads: Vec<_> = rs.iter().map(|(h, _)| h).collect();
            panic!("{args:?}: rperf has no section {h:?}, only {heads:#?}\nperf:\n{p}");
        };
        for (a, b) in pl.iter().zip(rl) {
            assert!(
                same_line(a, b),
                "{args:?} {h}:\nperf:  {a:?}\nrperf: {b:?}\n\nperf:\n{p}\nrperf:\n{r}"
            );
        }
        assert_eq!(
            pl.len(),
            rl.len(),
            "{args:?} {h}: line counts differ\nperf:\n{p}\nrperf:\n{r}"
        );
    }
}

const OPTIONS: [&[&str]; 7] = [
    &[],
    &["-M", "intel"],
    &["--asm-raw"],
    &["--no-source"],
    &["-l"],
    &["--percent-type", "global-period"],
    &["--percent-type", "local-hits"],
];

/// Every option's text matches perf's for the fixture's own functions, with source lines
/// (and inlined functions' source) interleaved from DWARF, in recordings by perf and rperf.
#[test]
fn annotate_reads_like_perf_annotate() {
    let dir = TempDir::new("annotate");
    let burn = compile_c(dir.path(), "burn", BURN_C, &["-O1", "-g"]);
    let inl = compile_c(dir.path(), "inlined", INLINED_C, &["-O2", "-g"]);
    let script = format!("{} 300; {} 0.3", burn.display(), inl.display());
    let Some((p, r)) = record_both(dir.path(), &["--", "sh", "-c", &script]) else {
        return;
    };
    for args in OPTIONS {
        compare(&p, args, &["burn", "inlined"]);
    }
    // rperf's recording, and one function by name, as an argument or with -s and --dsos.
    compare(&r, &[], &["burn", "inlined"]);
    compare(&r, &["main"], &["burn", "inlined"]);
    compare(&p, &["-s", "main", "--dsos", "burn"], &["burn"]);
}

/// `--stdio2`'s blocks keyed by their `name() /path` line: the title line before it and
/// every line after.
fn blocks2(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut title = None;
    for l in text.lines() {
        if l.starts_with("Samples: ") {
            title = Some(l.to_string());
        } else if let Some(t) = title.take() {
            out.push((l.to_string(), vec![t]));
        } else if let Some(b) = out.last_mut() {
            b.1.push(l.to_string());
        }
    }
    out
}

/// perf 6.1 names a call through the PLT by the symbol its own table puts there (`_init`,
/// which it stretches over .plt), rperf by objdump's `name@plt`.
fn same_line2(p: &str, r: &str) -> bool {
    if same_line(p, r) {
        return true;
    }
    match (
        p.trim_end().strip_suffix(" _init"),
        r.trim_end().rsplit_once(' '),
    ) {
        (Some(pp), Some((rp, name))) => name.ends_with("@plt") && pp == rp,
        _ => false,
    }
}

/// `--stdio2` reads as perf's: offsets, jump labels and arrows, call targets by name,
/// RIP-relative operands by symbol, only hot lines with a share, the browser's title.
#[test]
fn stdio2_reads_like_perf_annotate_stdio2() {
    let dir = TempDir::new("annotate-stdio2");
    let burn = compile_c(dir.path(), "burn", BURN_C, &["-O1", "-g"]);
    let inl = compile_c(dir.path(), "inlined", INLINED_C, &["-O2", "-g"]);
    let script = format!("{} 300; {} 0.3", burn.display(), inl.display());
    let Some((p, r)) = record_both(dir.path(), &["--", "sh", "-c", &script]) else {
        return;
    };
    for (file, args) in [
        (&p, &["--stdio2"][..]),
        (&r, &["--stdio2"]),
        (&p, &["--stdio2", "main", "--percent-type", "local-hits"]),
        (&p, &["--stdio2", "--no-source", "-M", "intel"]),
    ] {
        let run2 = |tool: Command| {
            let mut c = tool;
            c.arg("annotate").arg("-i").arg(file).args(args);
            let o = run(c);
            assert!(o.status.success(), "{args:?}: {}", stderr(&o));
            stdout(&o)
        };
        let Some(perf) = perf() else { return };
        let (pt, rt) = (run2(perf), run2(rperf()));
        let (pb, rb) = (blocks2(&pt), blocks2(&rt));
        let mine: Vec<_> = pb
            .iter()
            .filter(|(n, _)| n.ends_with("/burn") || n.ends_with("/inlined"))
            // A PLT sample perf names `_init` (see `compare`): perf's symbol tree.
            .filter(|(n, _)| !n.starts_with("_init() "))
            .collect();
        assert!(
            !mine.is_empty(),
            "{args:?}: perf annotated no fixture:\n{pt}"
        );
        for (name, pl) in mine {
            let Some((_, rl)) = rb.iter().find(|(n, _)| n == name) else {
                panic!("{args:?}: rperf has no block {name:?}\nrperf:\n{rt}\nperf:\n{pt}");
            };
            for (a, b) in pl.iter().zip(rl) {
                assert!(
                    same_line2(a, b),
                    "{args:?} {name}:\nperf:  {a:?}\nrperf: {b:?}\n\nperf:\n{pt}\nrperf:\n{rt}"
                );
            }
            assert_eq!(
                pl.len(),
                rl.len(),
                "{args:?} {name}\nperf:\n{pt}\nrperf:\n{rt}"
            );
        }
    }
}

/// `--dsos` and a symbol leave out everything else; -l marks hot instructions with their
/// source line and sums them up first.
#[test]
fn filters_and_print_line_select_what_is_shown() {
    let dir = TempDir::new("annotate-filter");
    let burn = compile_c(dir.path(), "burn", BURN_C, &["-O1", "-g"]);
    let Some(file) = record_with(
        "rperf",
        dir.path(),
        "r.data",
        &[burn.to_str().unwrap(), "200"],
    ) else {
        return;
    };
    let text = annotate(rperf(), &file, &["--dsos", "burn", "-l"]);
    let heads: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with(" Percent |"))
        .collect();
    assert!(!heads.is_empty(), "{text}");
    assert!(
        heads.iter().all(|h| h.contains("Disassembly of burn for")),
        "{text}"
    );
    assert!(text.contains("Sorted summary for file "), "{text}");
    assert!(text.contains(" // burn.c:"), "{text}");
    let only = annotate(rperf(), &file, &["-s", "main"]);
    assert_eq!(only.matches(" Percent |").count(), 1, "{only}");
    assert!(only.contains("<main>:"), "{only}");
}

/// The in-process disassembler prints every instruction of the fixture binaries as
/// objdump 2.40 does (AT&T and Intel), names included.
#[test]
fn disassembly_reads_like_objdump() {
    if run({
        let mut c = Command::new("objdump");
        c.arg("--version");
        c
    })
    .status
    .code()
        != Some(0)
    {
        skip("objdump is not installed (apt-get install binutils)");
        return;
    }
    let dir = TempDir::new("annotate-objdump");
    for (name, src, flags) in [
        ("burn", BURN_C, &["-O1", "-g"][..]),
        ("chain", CHAIN_C, &["-O2"]),
        ("threads", THREADS_C, &["-O2", "-pthread"]),
        ("many", MANY_C, &["-O3"]),
    ] {
        let exe = compile_c(dir.path(), name, src, flags);
        for intel in [false, true] {
            let mut c = Command::new("objdump");
            c.args(["-d", "--no-show-raw-insn", "-w"]);
            if intel {
                c.args(["-M", "intel"]);
            }
            let want = stdout(&run({
                c.arg(&exe);
                c
            }));
            let got = rperf::annotate::objdump_all(&exe, intel).expect("disassembles");
            let want: Vec<(u64, String)> = want
                .lines()
                .filter_map(|l| {
                    let (a, t) = l.trim().split_once(":\t")?;
                    Some((u64::from_str_radix(a, 16).ok()?, t.trim_end().to_string()))
                })
                .collect();
            assert!(
                want.len() > 50,
                "{name}: objdump printed {} instructions",
                want.len()
            );
            let got: std::collections::HashMap<u64, String> = got.into_iter().collect();
            for (a, t) in &want {
                assert_eq!(got.get(a), Some(t), "{name} (intel: {intel}) at {a:x}");
            }
        }
    }
}

/// A symbol without samples, a binary gone or rebuilt since the recording, a missing file
/// and bad options: one clear line each and a non-zero exit.
#[test]
fn bad_input_is_refused_clearly() {
    let dir = TempDir::new("annotate-bad");
    let exe = compile_c(dir.path(), "burn", BURN_C, &["-O1", "-g"]);
    let Some(file) = record_with(
        "rperf",
        dir.path(),
        "r.data",
        &[exe.to_str().unwrap(), "100"],
    ) else {
        return;
    };
    // No build-id cache copy to fall back on.
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let fails = |args: &[&str], input: &Path, want: &str| {
        let o = run({
            let mut c = rperf();
            c.env("HOME", &home)
                .env("PERF_BUILDID_DIR", home.join(".debug"));
            c.arg("annotate")
                .arg("--stdio")
                .arg("-i")
                .arg(input)
                .args(args);
            c
        });
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} succeeded: {}", stdout(&o));
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    fails(
        &["no_such_function"],
        &file,
        "no samples in function 'no_such_function'",
    );
    fails(&[], &dir.path().join("missing.data"), "missing.data");
    fails(
        &["-M", "pdp11", "main"],
        &file,
        "unknown disassembler style 'pdp11'",
    );
    fails(
        &["--percent-type", "most", "main"],
        &file,
        "unknown --percent-type 'most'",
    );
    // Rebuilt: another program at the recorded path.
    std::fs::create_dir_all(dir.path().join("other")).unwrap();
    let other = compile_c(&dir.path().join("other"), "burn", CHAIN_C, &["-O1"]);
    std::fs::copy(&other, &exe).unwrap();
    fails(&["main"], &file, "is not the binary that was recorded");
    // Gone.
    std::fs::remove_file(&exe).unwrap();
    fails(&["main"], &file, "cannot read");
}

/// Kernel functions: disassembled from /proc/kcore where the kernel has it, else one line
/// says why, and the user-space functions are still shown.
#[test]
fn kernel_functions_need_kcore() {
    let dir = TempDir::new("annotate-kernel");
    let burn = compile_c(dir.path(), "burn", BURN_C, &["-O1", "-g"]);
    // Syscalls, so that kernel functions get samples.
    let script = format!(
        "dd if=/dev/zero of=/dev/null bs=1 count=300000 2>/dev/null; {} 100",
        burn.display()
    );
    let Some(file) = record_with("rperf", dir.path(), "r.data", &["--", "sh", "-c", &script])
    else {
        return;
    };
    let o = run({
        let mut c = rperf();
        c.args(["annotate", "--stdio", "-i"]).arg(&file);
        c
    });
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(o.status.success(), "{err}");
    assert!(out.contains("Disassembly of burn for"), "{out}");
    match std::fs::File::open("/proc/kcore") {
        Ok(_) => assert!(
            out.contains("Disassembly of [kernel.kallsyms] for"),
            "{out}\n{err}"
        ),
        Err(_) => {
            let lines: Vec<_> = err
                .lines()
                .filter(|l| l.contains("[kernel.kallsyms]"))
                .collect();
            assert_eq!(lines.len(), 1, "{err}");
            assert!(lines[0].contains("/proc/kcore"), "{err}");
        }
    }
}
