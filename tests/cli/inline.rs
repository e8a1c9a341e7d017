//! Inline frames from DWARF: `script --inline`, flame graphs (on by default, `--no-inline`),
//! checked against binutils' addr2line.
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// `addr2line -f -i`: the function names at `addr`, innermost first.
fn addr2line_functions(exe: &Path, addr: u64) -> Option<Vec<String>> {
    let o = Command::new("addr2line")
        .args(["-f", "-i", "-e"])
        .arg(exe)
        .arg(format!("{addr:#x}"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    Some(text.lines().step_by(2).map(String::from).collect())
}

#[test]
fn inlined_functions_show_as_frames() {
    let dir = TempDir::new("inline");
    let exe = compile_c(
        dir.path(),
        "inlined",
        INLINED_C,
        &["-O2", "-g", "-fno-omit-frame-pointer"],
    );
    let data = dir.path().join("r.data");
    let o = run({
        let mut c = rperf();
        c.args(["record", "-q", "-g", "-o"])
            .arg(&data)
            .arg("--")
            .arg(&exe)
            .arg("0.3");
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));

    // script --inline: the inlined calls sit above the frame that contains them, at its
    // address, with its offset, as binutils' addr2line names them.
    let text = rperf_out(&["script", "--inline"], &data);
    let (mut outer, mut with_inline, mut checked) = (0, 0, 0);
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block.lines().skip(1).collect();
        let Some(pos) = lines.iter().position(|l| l.contains(" outer+0x")) else {
            continue;
        };
        if pos
            != lines
                .iter()
                .take_while(|l| l.ends_with("(inlined)"))
                .count()
        {
            continue; // outer is not the leaf of this sample
        }
        outer += 1;
        let names: Vec<&str> = lines[..pos]
            .iter()
            .map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap()
                    .split('+')
                    .next()
                    .unwrap()
            })
            .collect();
        if names == ["inner", "middle"] {
            with_inline += 1;
        }
        let addr_of =
            |l: &str| u64::from_str_radix(l.split_whitespace().next().unwrap(), 16).unwrap();
        for l in &lines[..pos] {
            assert_eq!(addr_of(l), addr_of(lines[pos]), "{block}");
        }
        if checked < 20 {
            if let Some(want) = addr2line_functions(&exe, addr_of(lines[pos])) {
                let mut got: Vec<String> = names.iter().map(|s| s.to_string()).collect();
                got.push("outer".into());
                assert_eq!(got, want, "{block}");
                checked += 1;
            }
        }
    }
    assert!(outer > 100, "{outer} samples in outer:\n{text}");
    assert!(
        with_inline * 10 >= outer * 9,
        "{with_inline} of {outer} samples show inner and middle"
    );
    // Plain script output stays perf's: no inline lines.
    assert!(!rperf_out(&["script"], &data).contains("(inlined)"));

    // Flame graphs show them by default; --no-inline gives script --folded's stacks.
    let folded = |extra: &[&str]| -> Vec<String> {
        let out = dir.path().join("x.folded");
        let o = run({
            let mut c = rperf();
            c.args(["flamegraph", "--format", "folded", "-i"])
                .arg(&data)
                .arg("-o")
                .arg(&out)
                .args(extra);
            c
        });
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    let with = folded(&[]);
    let weight = |v: &[String], pat: &str| -> u64 {
        v.iter()
            .filter(|l| l.contains(pat))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    let total = weight(&with, "");
    assert!(
        weight(&with, ";outer;middle;inner ") * 10 >= total * 8,
        "{with:?}"
    );
    let without = folded(&["--no-inline"]);
    assert!(!without.iter().any(|l| l.contains(";middle")));
    let mut script_folded: Vec<String> = rperf_out(&["script", "--folded"], &data)
        .lines()
        .map(String::from)
        .collect();
    script_folded.sort();
    assert_eq!(without, script_folded);
}

/// perf 6.1 shows the functions inlined at each address of DWARF-unwound stacks by
/// default (its `append_inlines` runs on unwound frames only, never on `-g` chains): one
/// `addr name+off (inlined)` line per inlined call, and the containing function under its
/// DWARF name when that differs from its symbol. `--no-inline` leaves them out. rperf's
/// default and `--no-inline` must print what perf's do, on perf's and on rperf's recording.
#[test]
fn dwarf_stacks_show_inlined_functions_as_perf_does() {
    let Some(_) = perf() else { return };
    let dir = TempDir::new("inline-dwarf");
    let exe = compile_c(dir.path(), "inlined", INLINED_C, &["-O2", "-g"]);
    let exe = exe.to_str().unwrap();
    for tool in ["perf", "rperf"] {
        let data = record_with(
            tool,
            dir.path(),
            &format!("{tool}.data"),
            &["--call-graph", "dwarf", "--", exe, "0.2"],
        )
        .unwrap();
        for extra in [&[][..], &["--no-inline"][..]] {
            let mut args = vec!["script"];
            args.extend(extra);
            let ours = rperf_out(&args, &data);
            let theirs = stdout(&run({
                let mut p = perf().unwrap();
                p.args(&args).arg("-i").arg(&data);
                p
            }));
            let (pb, rb): (Vec<&str>, Vec<&str>) =
                (theirs.split("\n\n").collect(), ours.split("\n\n").collect());
            assert_eq!(pb.len(), rb.len(), "{tool} {extra:?}");
            let same = pb.iter().zip(&rb).filter(|(a, b)| a == b).count();
            assert!(
                same * 100 >= pb.len() * 99,
                "{tool} {extra:?}: {same} of {} samples as perf's; first difference: {:#?}",
                pb.len(),
                pb.iter().zip(&rb).find(|(a, b)| a != b)
            );
            let with_inner = rb
                .iter()
                .filter(|b| b.contains(" inner+0x") && b.contains(" (inlined)"))
                .count();
            if extra.is_empty() {
                assert!(with_inner * 2 >= rb.len(), "{tool}: {ours}");
            } else {
                assert_eq!(with_inner, 0, "{tool} --no-inline: {ours}");
            }
        }
    }
}

/// perf's report puts the same inlined functions into its DWARF call graphs and children
/// rows (`middle (inlined)`): rperf's report, with children and without, and with
/// `--no-inline`, prints what perf's does on perf's recording.
#[test]
fn report_call_graphs_show_inlined_functions_as_perf_does() {
    let Some(_) = perf() else { return };
    let dir = TempDir::new("inline-report");
    let exe = compile_c(dir.path(), "inlined", INLINED_C, &["-O2", "-g"]);
    let data = record_with(
        "perf",
        dir.path(),
        "perf.data",
        &["--call-graph", "dwarf", "--", exe.to_str().unwrap(), "0.2"],
    )
    .unwrap();
    // The entries of the inlined chain (outer, middle, inner) with their graphs. The
    // start-up and exit entries above them (`_start`, `main`) are left out: their share moves
    // with one sample that either tool unwinds differently (a sample at the first
    // instruction of crtstuff's `__do_global_dtors_aux`, which has no CFI, is unwound to its
    // callers by rperf and stops there in perf), which is not what this checks.
    // Each kept entry with its graph lines. Entries of equal weight come in an order perf
    // leaves to its tie-breaking (with children, once in hundreds of runs outer's entry
    // followed middle's and inner's, all three at 99.00 %), so they are sorted within each
    // weight.
    let rows = |text: &str| -> Vec<String> {
        let mut keep = false;
        let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
        for l in text.lines() {
            if l.starts_with('#') || l.trim().is_empty() {
                continue;
            }
            let mut words = l.split_whitespace();
            let first = words.next().unwrap_or("");
            if let Some(Ok(p)) = first.strip_suffix('%').map(str::parse::<f64>) {
                if !l.trim_start().starts_with("--") && !l.contains("--") {
                    if p < 50.0 {
                        break;
                    }
                    let sym = l.split("] ").nth(1).unwrap_or("");
                    keep = ["outer", "middle (inlined)", "inner (inlined)"].contains(&sym);
                    if keep {
                        blocks.push((first.to_string(), Vec::new()));
                    }
                }
            }
            if keep {
                if let Some(b) = blocks.last_mut() {
                    b.1.push(l.to_string());
                }
            }
        }
        let mut out = Vec::new();
        for group in blocks.chunk_by(|a, b| a.0 == b.0) {
            let mut g: Vec<&Vec<String>> = group.iter().map(|b| &b.1).collect();
            g.sort();
            out.extend(g.into_iter().flatten().cloned());
        }
        out
    };
    for extra in [&[][..], &["--no-children"][..], &["--no-inline"][..]] {
        let mut args = vec!["report", "--stdio"];
        args.extend(extra);
        let ours = rows(&rperf_out(&args, &data));
        let theirs = rows(&stdout(&run({
            let mut p = perf().unwrap();
            p.args(&args).arg("-i").arg(&data);
            p
        })));
        assert!(
            ours.iter().any(|l| l.ends_with("] outer")),
            "report {extra:?}: no outer entry: {ours:#?}"
        );
        assert_eq!(ours, theirs, "report {extra:?}");
        let inlined = ours.iter().any(|l| l.contains("inner (inlined)"));
        assert_eq!(
            inlined,
            extra != ["--no-inline"],
            "report {extra:?}: {ours:#?}"
        );
    }
}

/// The Rust inline fixture recorded by perf with DWARF call chains (perf, binutils'
/// addr2line, which perf runs for inline frames, and cargo needed), in a new `TempDir`.
fn rust_inline_recorded_by_perf(
    name: &str,
) -> Option<(TempDir, std::path::PathBuf, std::path::PathBuf)> {
    perf()?;
    if Command::new("addr2line").arg("--version").output().is_err() {
        skip("binutils' addr2line is not installed (perf runs it)");
        return None;
    }
    let exe = rust_inline_fixture()?;
    let dir = TempDir::new(name);
    let args = [
        "--call-graph",
        "dwarf",
        "-F",
        "2000",
        "--",
        exe.to_str()?,
        "0.4",
    ];
    let data = record_with("perf", dir.path(), "perf.data", &args).unwrap();
    Some((dir, exe, data))
}

/// fixtures/rust-inline built by cargo (release, line-tables-only DWARF) once per test run.
fn rust_inline_fixture() -> Option<std::path::PathBuf> {
    if Command::new("cargo").arg("--version").output().is_err() {
        skip("cargo is not installed");
        return None;
    }
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rust-inline");
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-inline");
    let exe = base.join("target/release/inlinefx");
    // cargo writes Cargo.lock beside the sources: build a copy; cargo's own lock on the
    // target directory serialises tests building it at once.
    let src = base.join(format!("src-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(src.join("src")).unwrap();
    for f in ["Cargo.toml", "src/main.rs"] {
        std::fs::copy(fixture.join(f), src.join(f)).unwrap();
    }
    let o = run({
        let mut c = Command::new("cargo");
        c.args([
            "build",
            "--release",
            "--offline",
            "--quiet",
            "--manifest-path",
        ])
        .arg(src.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", base.join("target"))
        .env("RUSTFLAGS", "");
        c
    });
    let _ = std::fs::remove_dir_all(&src);
    assert!(o.status.success(), "cargo build: {}", stderr(&o));
    Some(exe)
}

/// perf names inline frames by what binutils' addr2line prints, one addr2line per binary
/// for the session: without DWARF linkage names (Rust's line-tables-only DWARF) the first
/// lookup in a function prints the ELF symbol's name, later ones its DWARF name, and a
/// function whose symbol starts where it does keeps the symbol's name, also as the
/// caller of inlined code. So the same function shows as `quicksort<…> (inlined)` at one
/// frame and as `core::slice::sort::stable::quicksort::quicksort+OFF (binary)` at another:
/// rperf's frames are perf's, frame by frame, with both kinds present, and code the
/// compiler folded into aliases of one address named as binutils names it.
#[test]
fn rust_inline_frames_are_named_as_perfs_addr2line_names_them() {
    let Some((_dir, exe, data)) = rust_inline_recorded_by_perf("inline-rust") else {
        return;
    };
    let ours = rperf_out(&["script"], &data);
    let theirs = stdout(&run({
        let mut p = perf().unwrap();
        p.args(["script", "-i"]).arg(&data);
        p
    }));
    let (pb, rb): (Vec<&str>, Vec<&str>) =
        (theirs.split("\n\n").collect(), ours.split("\n\n").collect());
    assert_eq!(pb.len(), rb.len());
    let same = pb.iter().zip(&rb).filter(|(a, b)| a == b).count();
    assert!(
        same * 100 >= pb.len() * 99,
        "{same} of {} samples as perf's; first difference: {:#?}",
        pb.len(),
        pb.iter().zip(&rb).find(|(a, b)| a != b)
    );
    // Folded code (`fold_sum_first` and `fold_sum_second_longer`, aliases of one address):
    // perf's symbol is the longer name, but binutils names the code by the first alias of
    // the symbol table, so perf prints `fold_sum_first+OFF (inlined)` lines; rperf too.
    let folded: Vec<(&&str, &&str)> = pb
        .iter()
        .zip(&rb)
        .filter(|(a, _)| a.contains("fold_sum_first+0x"))
        .collect();
    assert!(
        !folded.is_empty(),
        "no sample in the folded functions: {theirs}"
    );
    for (a, b) in folded {
        assert_eq!(a, b, "a sample in folded code differs from perf's");
    }
    // Both kinds of caller frames (the last line of an address's group after inlined
    // calls): named by its symbol, with the binary, and named by DWARF, `(inlined)`.
    let (mut as_symbol, mut as_dwarf) = (0, 0);
    for s in &rb {
        let frames: Vec<(&str, &str)> = s
            .lines()
            .skip(1)
            .filter_map(|l| l.trim().split_once(' '))
            .collect();
        for (i, w) in frames.windows(2).enumerate() {
            let ((a0, f0), (a1, f1)) = (w[0], w[1]);
            let last = frames.get(i + 2).is_none_or(|(a2, _)| *a2 != a1);
            if a0 != a1 || !f0.ends_with(" (inlined)") || !last {
                continue;
            }
            if f1.ends_with(" (inlined)") {
                as_dwarf += 1;
            } else if f1.contains("+0x") && f1.ends_with(&format!("({})", exe.display())) {
                as_symbol += 1;
            }
        }
    }
    assert!(
        as_symbol > 0 && as_dwarf > 0,
        "{as_symbol} {as_dwarf}: {ours}"
    );
}

/// perf orders call-graph siblings of equal weight by its tree of children: inlined
/// functions by name (the greater first), others by binary and start address (the higher
/// first). On the Rust fixture (many one-sample branches, most of them inlined sorting
/// code) `report --stdio` prints perf's trees line for line, in both modes. Compared over
/// the longest run of samples whose stacks both tools print alike (rperf unwinds the odd
/// sample further than perf, which is not what this checks).
#[test]
fn rust_report_trees_order_equal_branches_as_perf() {
    let Some((_dir, _, data)) = rust_inline_recorded_by_perf("inline-rust-ties") else {
        return;
    };
    let perf_out = |args: &[&str]| {
        stdout(&run({
            let mut p = perf().unwrap();
            p.args(args).arg("-i").arg(&data);
            p
        }))
    };
    let theirs = perf_out(&["script"]);
    let ours = rperf_out(&["script"], &data);
    let blocks = |t: &str| -> Vec<String> {
        t.split("\n\n")
            .map(|b| b.trim_matches('\n').to_string())
            .filter(|b| !b.is_empty())
            .collect()
    };
    let (pb, rb) = (blocks(&theirs), blocks(&ours));
    assert_eq!(pb.len(), rb.len());
    // The longest run of alike samples, as a --time window.
    let (mut best, mut start) = ((0, 0), 0);
    for i in 0..=pb.len() {
        if i == pb.len() || pb[i] != rb[i] {
            if i - start > best.1 - best.0 {
                best = (start, i);
            }
            start = i + 1;
        }
    }
    assert!(
        (best.1 - best.0) * 2 >= pb.len(),
        "samples alike in a row: {} of {}",
        best.1 - best.0,
        pb.len()
    );
    let time = |s: &str| -> f64 {
        s.split_whitespace()
            .find_map(|w| w.strip_suffix(':').and_then(|t| t.parse().ok()))
            .unwrap()
    };
    let window = format!(
        "{:.6},{:.6}",
        time(&pb[best.0]) - 0.0001,
        time(&pb[best.1 - 1]) + 0.0001
    );
    for extra in [&[][..], &["--no-children"][..]] {
        let mut args = vec!["report", "--stdio", "--time", &window];
        args.extend(extra);
        // Each entry's block (its row and its tree) by the entry's name: rows of equal
        // weight (most of this profile's children rows) are ordered by another rule, not
        // checked here.
        // Rows by their text, each with its trees (one per row of that text: entries of one
        // name in different functions), in a fixed order.
        let entries = |t: &str| -> std::collections::BTreeMap<String, Vec<String>> {
            // A row starts with its percentage; the tree lines under it belong to it.
            let row = |l: &str| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|w| w.ends_with('%') && w[..w.len() - 1].parse::<f64>().is_ok())
            };
            let mut map = std::collections::BTreeMap::<String, Vec<String>>::new();
            let mut head = String::new();
            for l in t
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            {
                let blocks = map
                    .entry(if row(l) { l.to_string() } else { head.clone() })
                    .or_default();
                if row(l) {
                    head = l.to_string();
                    blocks.push(String::new());
                }
                if let Some(b) = blocks.last_mut() {
                    b.push_str(l);
                    b.push('\n');
                }
            }
            for blocks in map.values_mut() {
                blocks.sort_unstable();
            }
            map
        };
        let (ours, theirs) = (entries(&rperf_out(&args, &data)), entries(&perf_out(&args)));
        assert!(ours.len() > 5, "report {extra:?}: {ours:#?}");
        let only = |a: &std::collections::BTreeMap<String, Vec<String>>,
                    b: &std::collections::BTreeMap<String, Vec<String>>| {
            a.keys()
                .filter(|k| !b.contains_key(*k))
                .cloned()
                .collect::<Vec<_>>()
        };
        let (mine, perfs) = (only(&ours, &theirs), only(&theirs, &ours));
        // perf's entries of one inlined function sometimes split in two: its tree of
        // entries tells inlined functions apart by name and overlapping addresses, which
        // is no order, and a lookup can miss the entry there is. The other entries must be
        // perf's, and each of their trees.
        assert!(
            (mine.len() + perfs.len()) * 10 <= theirs.len(),
            "report {extra:?} --time {window}: entries of rperf only {mine:#?}, of perf only \
             {perfs:#?}"
        );
        for (head, tree) in ours.iter().filter(|(h, _)| theirs.contains_key(*h)) {
            assert_eq!(
                tree, &theirs[head],
                "report {extra:?} --time {window}: the tree of {head}"
            );
        }
    }
}
