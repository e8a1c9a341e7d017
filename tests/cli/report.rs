//! `rperf report --stdio` against `perf report --stdio` on the same perf.data.
use std::collections::BTreeSet;
use std::path::Path;

use crate::common::*;

/// Header lines and rows; rows with the same percentages form one group whose order perf
/// leaves to its tie-breaking, so groups are compared as sets.
fn parse(text: &str) -> (Vec<String>, Vec<(String, BTreeSet<String>)>) {
    let mut head = Vec::new();
    let mut groups: Vec<(String, BTreeSet<String>)> = Vec::new();
    for l in text.lines() {
        if l.starts_with("# (Tip") {
            break;
        }
        if l.starts_with('#') {
            if l != "#" {
                head.push(l.trim_end().to_string());
            }
            continue;
        }
        if l.trim().is_empty() {
            continue;
        }
        let t = l.trim_start();
        let pct_end = t.rfind('%').unwrap_or(0);
        let (pcts, rest) = t.split_at(pct_end + 1);
        let pcts = pcts.split_whitespace().collect::<Vec<_>>().join(" ");
        let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
        // Deliberate difference: rperf always names PLT stubs `name@plt`; perf sometimes
        // shows them as the symbol before the PLT (`_init`), depending on its symbol tree.
        // The symbol column's width then differs too.
        if rest.ends_with("@plt") || rest.ends_with("[.] _init") {
            head.retain(|h| !is_width_line(h));
            continue;
        }
        // perf names vDSO functions only from the copy of the vDSO in its build-id cache
        // (written by perf record, possibly by a test running beside this one): rows in the
        // vDSO, and the column widths they set, are left out.
        if rest.contains("[vdso]") {
            head.retain(|h| !is_width_line(h));
            continue;
        }
        match groups.last_mut() {
            Some((p, set)) if *p == pcts => {
                set.insert(rest);
            }
            _ => groups.push((pcts, BTreeSet::from([rest]))),
        }
    }
    (head, groups)
}

/// Both reports parsed, the column-width lines kept only when both kept them (a row left
/// out of one side, by the rules in [`parse`], can set its widths).
fn parse_both(p: &str, r: &str) -> (Parsed, Parsed) {
    let (mut p, mut r) = (parse(p), parse(r));
    let widths = |h: &[String]| h.iter().filter(|l| is_width_line(l)).count();
    if widths(&p.0) != widths(&r.0) {
        p.0.retain(|l| !is_width_line(l));
        r.0.retain(|l| !is_width_line(l));
    }
    (p, r)
}

type Parsed = (Vec<String>, Vec<(String, BTreeSet<String>)>);

fn is_width_line(h: &str) -> bool {
    h.starts_with("# Overhead") || h.starts_with("# Children") || h.starts_with("# ....")
}

/// `perf report --stdio` and `rperf report --stdio` on one file, both required to succeed.
fn reports(file: &Path, args: &[&str]) -> Option<(String, String)> {
    let mut p = perf()?;
    p.arg("report")
        .arg("--stdio")
        .arg("-i")
        .arg(file)
        .args(args);
    let po = run(p);
    assert!(po.status.success(), "{}", stderr(&po));
    let ro = run({
        let mut c = rperf();
        c.arg("report")
            .arg("--stdio")
            .arg("-i")
            .arg(file)
            .args(args);
        c
    });
    assert!(ro.status.success(), "{args:?}: {}", stderr(&ro));
    Some((stdout(&po), stdout(&ro)))
}

fn compare(file: &Path, args: &[&str]) {
    let Some((po, ro)) = reports(file, args) else {
        return;
    };
    let ((ph, pg), (rh, rg)) = parse_both(&po, &ro);
    assert_eq!(
        rh, ph,
        "{args:?}: header lines differ\nperf:\n{po}\nrperf:\n{ro}"
    );
    assert!(!rg.is_empty(), "{args:?}: no rows");
    if rg != pg {
        let only_r: Vec<_> = rg.iter().filter(|g| !pg.contains(g)).collect();
        let only_p: Vec<_> = pg.iter().filter(|g| !rg.contains(g)).collect();
        panic!("{args:?}: rows differ\nonly rperf: {only_r:?}\nonly perf: {only_p:?}");
    }
}

const MODES: [&[&str]; 2] = [
    &["--no-children", "-g", "none"],
    &["--children", "-g", "none"],
];
const SORTS: [&str; 5] = ["comm,dso,sym", "comm", "dso", "sym", "dso,sym"];

#[test]
fn perf_recordings_report_like_perf() {
    let dir = TempDir::new("report-p");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-g", "-fno-omit-frame-pointer"],
    );
    let exe = exe.to_str().unwrap();
    let Some(f) = record_with("perf", dir.path(), "p.data", &["-g", "--", exe, "0.3"]) else {
        return;
    };
    for m in MODES {
        for s in SORTS {
            let mut args = m.to_vec();
            args.extend(["--sort", s]);
            compare(&f, &args);
        }
    }
    compare(
        &f,
        &["--no-children", "-g", "none", "-n", "--sort", "comm,dso"],
    );
    compare(
        &f,
        &["--no-children", "-g", "none", "-n", "--show-total-period"],
    );
    compare(&f, &["--no-children", "-g", "none", "--percent-limit", "1"]);
    compare(
        &f,
        &[
            "--no-children",
            "-g",
            "none",
            "--comm",
            "chain",
            "--sort",
            "dso,sym",
        ],
    );
    // One-value filters on shown keys hide the column and name the value in the header;
    // percentages stay shares of every sample.
    compare(&f, &["--no-children", "-g", "none", "--comm", "chain"]);
    compare(
        &f,
        &[
            "--no-children",
            "-g",
            "none",
            "--comm",
            "chain",
            "--dso",
            "chain",
        ],
    );
    compare(&f, &["--no-children", "-g", "none", "--dso", "chain"]);
    // perf's own spellings of the filters: -c/--comms, -d/--dsos.
    compare(
        &f,
        &["--no-children", "-g", "none", "-c", "chain", "-d", "chain"],
    );
    compare(
        &f,
        &["--no-children", "-g", "none", "--comms", "chain,sleep"],
    );
    compare(&f, &["--no-children", "-g", "none", "--dsos", "chain"]);
    compare_text(
        &f,
        &[
            "--children",
            "-g",
            "none",
            "--comm",
            "nothing-has-this-name",
        ],
    );
    let f = record_with("perf", dir.path(), "n.data", &["--", exe, "0.2"]).unwrap();
    compare(&f, &["--sort", "comm,dso,sym"]);
}

#[test]
fn rperf_recordings_report_like_perf() {
    let dir = TempDir::new("report-r");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-g", "-fno-omit-frame-pointer"],
    );
    let exe = exe.to_str().unwrap();
    let f = record_with("rperf", dir.path(), "r.data", &["-g", "--", exe, "0.3"]).unwrap();
    for m in MODES {
        compare(&f, &[m, &["--sort", "comm,dso,sym"][..]].concat());
    }
    let f = record_with(
        "rperf",
        dir.path(),
        "two.data",
        &["-e", "cpu-clock,page-faults", "--", exe, "0.2"],
    )
    .unwrap();
    compare(&f, &["--sort", "comm,dso"]);
}

#[test]
fn system_wide_report_like_perf() {
    let dir = TempDir::new("report-a");
    let Some(f) = record_with(
        "perf",
        dir.path(),
        "a.data",
        &["-a", "-g", "--", "sleep", "0.3"],
    ) else {
        return;
    };
    compare(&f, &["--no-children", "-g", "none", "--sort", "comm,dso"]);
    compare(&f, &["--no-children", "-g", "none", "--sort", "comm"]);
    // --cpu drops the other CPUs' samples before anything is counted.
    // (Sorted by binary: a process named before its exec can be named differently.)
    compare(
        &f,
        &["--no-children", "-g", "none", "--sort", "dso", "--cpu", "0"],
    );
    compare(
        &f,
        &[
            "--no-children",
            "-g",
            "none",
            "--sort",
            "cpu,dso",
            "-C",
            "0-1",
        ],
    );
    // The parent: the innermost caller matching a pattern ([other] when none does).
    compare(&f, &["--no-children", "-g", "none", "--sort", "parent"]);
    compare(
        &f,
        &[
            "--no-children",
            "-g",
            "none",
            "--sort",
            "dso,parent",
            "-p",
            "^__x64_sys_|^asm_exc",
        ],
    );
    // Every print type on a many-thread file (equal-weight rows from different threads
    // once broke the row sort): they all succeed, and the entries are perf's.
    for g in ["graph", "fractal", "flat", "folded", "caller", "callee"] {
        for mode in ["--children", "--no-children"] {
            let o = run({
                let mut c = rperf();
                c.args(["report", "--stdio", mode, "-g", g, "-i"]).arg(&f);
                c
            });
            assert!(o.status.success(), "{mode} -g {g}: {}", stderr(&o));
        }
    }
    compare(&f, &["--children", "-g", "none", "--sort", "comm,dso"]);
}

/// A system-wide recording begins with a FORK for every running process, marked as
/// synthesized, then its own maps: the child of a running parent must not get a copy of the
/// parent's maps. Its made-up caller, mapped only in the parent, is [unknown] to perf; a
/// copy named the parent's binary (a compiler's collect2 showed gcc's).
#[test]
fn a_running_child_gets_none_of_its_parents_maps() {
    let dir = TempDir::new("report-synth-fork");
    let forker = compile_c(dir.path(), "forker", FAKE_CALLER_C, &["-O1", "-no-pie"]);
    let child = compile_c(
        dir.path(),
        "fakeframe",
        FAKE_CALLER_C,
        &["-O1", "-fPIE", "-pie"],
    );
    for tool in ["perf", "rperf"] {
        let mut parent = std::process::Command::new(&forker)
            .arg(&child)
            .arg("30")
            .spawn()
            .unwrap();
        // Recording starts once the child runs the program it execs.
        let child_pid = || {
            let me = parent.id();
            let c = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")).ok()?;
            let pid = c.split_whitespace().next()?.to_string();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim() == "fakeframe").then_some(pid)
        };
        wait_for("the forked child to exec", || child_pid().is_some());
        let pid = child_pid().unwrap();
        let f = record_with(
            tool,
            dir.path(),
            &format!("{tool}.data"),
            &["-a", "-g", "--", "sleep", "0.5"],
        );
        let _ = std::process::Command::new("kill").arg(&pid).status();
        let _ = parent.wait();
        let Some(f) = f else {
            return;
        };
        // fakeframe's rows, as perf and rperf show them.
        let rows = |text: &str| -> BTreeSet<String> {
            text.lines()
                .filter(|l| l.contains("fakeframe") && !l.starts_with('#'))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect()
        };
        let Some((po, ro)) = reports(&f, &["--children", "-g", "none", "--sort", "comm,dso"])
        else {
            return;
        };
        assert_eq!(rows(&ro), rows(&po), "{tool}'s recording");
        assert!(
            rows(&ro).iter().any(|r| r.ends_with("fakeframe [unknown]")) && !ro.contains("forker"),
            "{tool}'s recording:\n{ro}"
        );
        // --comm hides the other programs' samples; the row of the made-up caller stays
        // although another program's samples made an [unknown] row first (perf 6.1 then
        // hides it: the first sample decides whether a row shows).
        let out = rperf_out(
            &[
                "report",
                "--stdio",
                "--children",
                "-g",
                "none",
                "--sort",
                "dso",
                "--comm",
                "fakeframe",
            ],
            &f,
        );
        assert!(
            out.lines().any(|l| l.trim_end().ends_with("[unknown]")),
            "{tool}'s recording:\n{out}"
        );
    }
}

/// [`crafted_file`] with call chains: one sample per (ip, misc, chain) of process 7, the
/// samples' times 1000, 1001, ...
fn crafted_chains(
    path: &Path,
    side: impl FnOnce(rperf::data::write::encode::Trailer) -> Vec<u8>,
    samples: &[(u64, u16, &[u64])],
) -> std::path::PathBuf {
    use rperf::abi::sample;
    let st = sample::IP | sample::TID | sample::TIME | sample::PERIOD | sample::CALLCHAIN;
    let bodies: Vec<(u16, Vec<u64>)> = (samples.iter().enumerate())
        .map(|(i, &(ip, misc, chain))| {
            let head = [
                ip,
                (7u64 << 32) | 7,
                1000 + i as u64,
                1000,
                chain.len() as u64,
            ];
            (
                misc,
                head.into_iter().chain(chain.iter().copied()).collect(),
            )
        })
        .collect();
    crafted_file(path, st, side, &bodies);
    path.to_path_buf()
}

/// perf fills one location frame by frame along a sample's chain, in its graph's order
/// (root first in caller order, the default with children), and a frame outside every
/// mapping keeps the level the frame before it left: the sample's own for the root, `[.]`
/// after a mapped user frame. Written with rperf's encoder: no program here returns to
/// code nothing maps.
#[test]
fn unmapped_chain_frames_take_the_level_perf_gives_them() {
    use rperf::abi::{misc, PERF_CONTEXT_KERNEL, PERF_CONTEXT_USER};
    use rperf::data::write::encode::{self, Mapping};
    let dir = TempDir::new("report-levels");
    let exe = compile_c(dir.path(), "chain", CHAIN_C, &["-O1"]);
    let (after_kernel, after_user) = (0x7000_dead_0000u64, 0x7000_beef_0000u64);
    let kernel_ip = 0xffff_ffff_8100_0000;
    let chain = [
        PERF_CONTEXT_KERNEL,
        kernel_ip,
        PERF_CONTEXT_USER,
        after_kernel,
        0x40_0010,
        after_user,
    ];
    let map = |t| {
        encode::mmap2(
            7,
            &Mapping {
                start: 0x40_0000,
                end: 0x40_1000,
                pgoff: 0,
                maj: 0,
                min: 0,
                ino: 0,
                prot: (libc::PROT_READ | libc::PROT_EXEC) as u32,
                flags: libc::MAP_PRIVATE as u32,
                path: exe.to_str().unwrap().to_string(),
            },
            t,
        )
    };
    let sample = (kernel_ip, misc::KERNEL, &chain[..]);
    let f = crafted_chains(&dir.path().join("levels.data"), map, &[sample; 3]);
    let row = |text: &str, addr: u64| -> String {
        let a = format!("0x{addr:016x}");
        text.lines()
            .find(|l| l.contains(&a) && l.contains('%'))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("no row for {a}:\n{text}"))
    };
    // Caller order walks root first: the root keeps the kernel sample's [k]. Callee order
    // walks from the kernel frames: the frame after them keeps [k].
    for (g, kernel_level) in [("none", after_user), ("callee", after_kernel)] {
        let Some((po, ro)) = reports(&f, &["--children", "-g", g, "--sort", "sym"]) else {
            return;
        };
        for a in [after_kernel, after_user] {
            assert_eq!(
                row(&ro, a),
                row(&po, a),
                "-g {g}: perf:\n{po}\nrperf:\n{ro}"
            );
            let want = if a == kernel_level { "[k]" } else { "[.]" };
            assert!(row(&ro, a).contains(want), "-g {g}: {a:#x}:\n{ro}");
        }
    }
}

/// A file recorded on another kernel (its kernel build-id not the running one's) must not
/// have its kernel addresses named with this kernel's symbols: perf looks for that kernel's
/// table in its build-id cache and otherwise prints the addresses. The file here is a real
/// recording whose kernel build-id was changed.
#[test]
fn another_kernels_recording_is_not_named_with_this_kernels_symbols() {
    let Some(running) = rperf_symbols::buildid::kernel_build_id() else {
        skip("/sys/kernel/notes has no build-id");
        return;
    };
    let dir = TempDir::new("report-other-kernel");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let work = [
        "--",
        "sh",
        "-c",
        "for i in $(seq 300); do cat /proc/self/stat; done >/dev/null",
    ];
    for tool in ["perf", "rperf"] {
        let Some(f) = record_with(tool, dir.path(), &format!("{tool}.data"), &work) else {
            return;
        };
        let sort = ["--stdio", "--no-children", "--sort", "sym", "-i"];
        let kernel_rows = |tool: &str, file: &Path| -> BTreeSet<String> {
            let mut c = if tool == "perf" {
                perf().unwrap()
            } else {
                rperf()
            };
            c.env("HOME", &home).arg("report").args(sort).arg(file);
            let o = run(c);
            assert!(o.status.success(), "{tool}: {}", stderr(&o));
            stdout(&o)
                .lines()
                .filter(|l| l.contains("[k] "))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect()
        };
        let named = kernel_rows("rperf", &f);
        assert!(
            named.iter().any(|r| !r.contains("[k] 0x")),
            "{tool}: this kernel's recording has named kernel rows: {named:?}"
        );
        // Another kernel: every copy of the build-id in the file changed.
        let mut bytes = std::fs::read(&f).unwrap();
        let at: Vec<usize> = (bytes.windows(running.len()))
            .enumerate()
            .filter(|(_, w)| *w == running.as_slice())
            .map(|(i, _)| i)
            .collect();
        assert!(!at.is_empty(), "{tool}: the file names no kernel build-id");
        for i in at {
            for b in &mut bytes[i..i + running.len()] {
                *b ^= 0x5a;
            }
        }
        let other = dir.path().join(format!("{tool}-other.data"));
        std::fs::write(&other, bytes).unwrap();
        let ours = kernel_rows("rperf", &other);
        assert!(
            !ours.is_empty() && ours.iter().all(|r| r.contains("[k] 0x")),
            "{tool}: kernel rows named from the wrong kernel: {ours:?}"
        );
        assert_eq!(ours, kernel_rows("perf", &other), "{tool}-recorded file");
        // With that kernel's table in perf's build-id cache, both name its addresses.
        let id: Vec<u8> = running.iter().map(|b| b ^ 0x5a).collect();
        let copy = (home.join(".debug/[kernel.kallsyms]")).join(rperf_symbols::buildid::hex(&id));
        std::fs::create_dir_all(&copy).unwrap();
        std::fs::copy("/proc/kallsyms", copy.join("kallsyms")).unwrap();
        let ours = kernel_rows("rperf", &other);
        assert_eq!(ours, named, "{tool}: the cached table");
        assert_eq!(
            ours,
            kernel_rows("perf", &other),
            "{tool}: the cached table"
        );
        std::fs::remove_dir_all(home.join(".debug")).unwrap();
    }
}

/// Entries without a symbol tie on weight in the order perf's address comparison gives them:
/// by the sign of the 64-bit difference, which puts the garbage addresses of broken chains
/// that have the top bit set before the others (an unsigned order puts them last).
#[test]
fn unresolved_addresses_of_equal_weight_come_in_perfs_order() {
    use rperf::abi::{misc, PERF_CONTEXT_USER};
    let dir = TempDir::new("report-addr-order");
    let chain = [
        PERF_CONTEXT_USER,
        0x1000,
        0x0000_1234_5678_0000,
        0x9cee_350b_5f85_55c1,
        0x617b_8e35_c657_e6dc,
        0xc3c0_3103_7401_4078,
        0x0000_0012_c000_0000,
    ];
    let f = crafted_chains(
        &dir.path().join("a.data"),
        |_| Vec::new(),
        &[(0x1000, misc::USER, &chain[..]); 2],
    );
    let args = ["--children", "-g", "none", "--sort", "sym"];
    let Some((po, ro)) = reports(&f, &args) else {
        return;
    };
    let rows = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.contains("[.] 0x") && !l.contains("0x0000000000001000"))
            .map(|l| l.trim_end().to_string())
            .collect()
    };
    assert_eq!(rows(&ro).len(), 5, "{ro}");
    assert_eq!(rows(&ro), rows(&po), "perf:\n{po}\nrperf:\n{ro}");
}

#[test]
fn bad_report_inputs() {
    let dir = TempDir::new("report-bad");
    let o = run({
        let mut c = rperf();
        c.arg("report")
            .arg("-i")
            .arg(dir.path().join("missing.data"));
        c
    });
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("cannot open"), "{}", stderr(&o));
    let o = run({
        let mut c = rperf();
        c.args(["report", "--sort", "bogus", "-i"])
            .arg(dir.path().join("x"));
        c
    });
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("unknown --sort key 'bogus'"),
        "{}",
        stderr(&o)
    );
    for (args, want) in [
        (
            &["report", "-F", "overhead,bogus", "-i"][..],
            "unknown --fields key 'bogus'",
        ),
        (
            &["report", "--sort", "tid", "-i"][..],
            "unknown --sort key 'tid'",
        ),
    ] {
        let o = run({
            let mut c = rperf();
            c.args(args).arg(dir.path().join("x"));
            c
        });
        assert_ne!(o.status.code(), Some(0));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    // -g on a file without call chains is refused, as perf refuses it.
    let f = dir.path().join("flat.data");
    let o = run({
        let mut c = rperf();
        c.args(["record", "-q", "-o"]).arg(&f).args(["--", "true"]);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run({
        let mut c = rperf();
        c.args(["report", "--stdio", "-g", "caller", "-i"]).arg(&f);
        c
    });
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("no call chains"), "{}", stderr(&o));
}

#[test]
fn jit_perf_maps_name_jitted_code_like_perf() {
    let dir = TempDir::new("jit");
    let exe = compile_c(dir.path(), "jit", JIT_C, &["-O1"]);
    let exe = exe.to_str().unwrap();
    for tool in ["perf", "rperf"] {
        let out = dir.path().join(format!("{tool}.data"));
        let mut c = if tool == "perf" {
            match perf() {
                Some(p) => p,
                None => return,
            }
        } else {
            rperf()
        };
        c.arg("record")
            .arg("-q")
            .arg("-o")
            .arg(&out)
            .args(["--", exe, "0.3"]);
        let o = run(c);
        assert!(o.status.success(), "{}", stderr(&o));
        let pid = stdout(&o).trim().to_string();
        compare(&out, &["--no-children", "--sort", "comm,dso,sym"]);
        let r = stdout(&run({
            let mut c = rperf();
            c.args(["report", "--stdio", "-i"]).arg(&out);
            c
        }));
        assert!(
            r.contains(&format!("[JIT] tid {pid}")) && r.contains("[.] jitted_loop"),
            "{r}"
        );
        let _ = std::fs::remove_file(format!("/tmp/perf-{pid}.map"));
    }
}

/// The whole text of both reports, compared line by line (tip block and PLT rows aside).
fn compare_text(file: &Path, args: &[&str]) {
    let Some((po, ro)) = reports(file, args) else {
        return;
    };
    // Rows in the vDSO, and the column widths they may set, are left out: perf names vDSO
    // functions only from the copy in its build-id cache (see `parse`).
    let vdso = po.contains("[vdso]") || ro.contains("[vdso]");
    let clean = |t: &str| -> Vec<String> {
        t.lines()
            .take_while(|l| !l.starts_with("# (Tip"))
            .filter(|l| !(l.contains("@plt") || l.ends_with("[.] _init")))
            .filter(|l| {
                !vdso
                    || !(l.contains("[vdso]")
                        || l.starts_with("# Overhead")
                        || l.starts_with("# Children")
                        || l.starts_with("# ...."))
            })
            // perf's fractal `[...]` line carries an uninitialised `inlined` flag, so it
            // sometimes reads "[...] (inlined)"; rperf prints "[...]".
            .map(|l| l.trim_end().replace("[...] (inlined)", "[...]"))
            .filter(|l| l != "#")
            .collect()
    };
    let (pl, rl) = (blocks(&clean(&po)), blocks(&clean(&ro)));
    // Entries under 1% of equal weight may come in another order: single samples in
    // process start-up and exit code, where perf's tie rule (the deeper stored chain first,
    // then self) meets chains that differ between the tools' views of libc's frameless
    // code. Everything else, heavier ties included, is compared in order.
    let mut i = 0;
    while i < pl.len().min(rl.len()) {
        if pl[i] == rl[i] {
            i += 1;
            continue;
        }
        let w = weight(&pl[i][0]);
        let run = |v: &[Vec<String>]| {
            v[i..]
                .iter()
                .take_while(|b| weight(&b[0]) == w)
                .cloned()
                .collect::<Vec<_>>()
        };
        let (mut a, mut b) = (run(&pl), run(&rl));
        let tiny = w
            .as_deref()
            .and_then(|p| p.trim_end_matches('%').parse::<f64>().ok());
        assert!(
            tiny.is_some_and(|p| p < 1.0) && a.len() == b.len(),
            "{args:?}: entry {} differs (rperf, then perf)\n{}\n{}",
            i + 1,
            rl[i].join("\n"),
            pl[i].join("\n")
        );
        let n = a.len();
        a.sort();
        b.sort();
        assert_eq!(b, a, "{args:?}: the {w:?} entries differ");
        i += n;
    }
    assert_eq!(rl.len(), pl.len(), "{args:?}");
}

/// Report lines grouped per entry: the entry's row, then its call-graph lines.
fn blocks(lines: &[String]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for l in lines {
        let row = weight(l).is_some();
        match out.last_mut() {
            Some(b) if !row => b.push(l.clone()),
            _ => out.push(vec![l.clone()]),
        }
    }
    out
}

/// The first percentage of an entry's row (children, or overhead); None for other lines.
fn weight(l: &str) -> Option<String> {
    let first = l.split_whitespace().next()?;
    (first.ends_with('%')
        && first.trim_end_matches('%').parse::<f64>().is_ok()
        && !l.contains('|')
        && !l.contains("--"))
    .then(|| first.to_string())
}

/// Runs for argv[1] seconds of its own CPU time, so that the samples are as many (and a
/// single one in start-up code as small a share) however loaded the machine is.
const BRANCHY_C: &str = r#"
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec / 1e9; }
__attribute__((noinline)) void leaf(volatile unsigned long *x) { for (int i = 0; i < 100000; i++) *x += i; }
__attribute__((noinline)) void mid_a(volatile unsigned long *x) { leaf(x); *x += 1; }
__attribute__((noinline)) void mid_b(volatile unsigned long *x) { leaf(x); leaf(x); *x += 2; }
int main(int argc, char **argv) {
    double end = now() + (argc > 1 ? atof(argv[1]) : 0.3);
    volatile unsigned long x = 0;
    while (now() < end) { mid_a(&x); mid_b(&x); }
    return 0;
}
"#;

/// BRANCHY_C recorded with -g by perf (when present) and by rperf.
fn branchy_recordings(dir: &TempDir) -> Vec<std::path::PathBuf> {
    let exe = compile_c(
        dir.path(),
        "branchy",
        BRANCHY_C,
        &["-O0", "-fno-omit-frame-pointer"],
    );
    let exe = exe.to_str().unwrap();
    ["perf", "rperf"]
        .into_iter()
        .filter_map(|tool| {
            record_with(
                tool,
                dir.path(),
                &format!("{tool}.data"),
                &["-g", "--", exe, "0.3"],
            )
        })
        .collect()
}

#[test]
fn callee_graphs_equal_perf() {
    let dir = TempDir::new("graph");
    for f in branchy_recordings(&dir) {
        compare_text(&f, &["--no-children"]);
        compare_text(&f, &["--no-children", "-g", "graph,5"]);
        compare_text(&f, &["--no-children", "--sort", "dso,sym"]);
        compare_text(&f, &["--no-children", "--sort", "sym"]);
        let r = rperf_out(&["report", "--stdio", "--no-children"], &f);
        assert!(r.contains("--mid_a") && r.contains("--mid_b"), "{r}");
    }
    // System-wide graphs are left out: perf orders equal-weight branches by its rb-tree
    // keys, which rperf does not reproduce yet.
}

#[test]
fn caller_graphs_equal_perf() {
    let dir = TempDir::new("caller-graph");
    for f in branchy_recordings(&dir) {
        // perf's default for a file with chains: children, caller graph, 0.5% threshold;
        // rows of equal weight in caller-above-callee order.
        compare_text(&f, &[]);
        compare_text(&f, &["--children", "-g", "graph,5"]);
        compare_text(&f, &["--children", "--sort", "sym"]);
        compare_text(&f, &["--children", "--sort", "dso,sym"]);
        compare_text(&f, &["--children", "--sort", "comm", "-n"]);
        compare_text(
            &f,
            &["--children", "-g", "none", "-n", "--show-total-period"],
        );
        // The other print types and orders. Entries under 1% are left out: their
        // equal-weight branches are ordered by perf's symbol addresses in memory.
        for g in [
            "flat",
            "folded",
            "fractal",
            "fractal,0.05",
            "caller",
            "callee",
            "graph,0.5,1",
            "folded,0.5,callee",
        ] {
            for mode in ["--children", "--no-children"] {
                compare_text(&f, &[mode, "-g", g, "--percent-limit", "1"]);
            }
        }
        // -G (--inverted): caller order whatever -g says, in both modes.
        for args in [
            &["--no-children", "-G"][..],
            &[
                "--no-children",
                "-G",
                "-g",
                "callee",
                "--percent-limit",
                "1",
            ],
            &[
                "--children",
                "--inverted",
                "-g",
                "fractal",
                "--percent-limit",
                "1",
            ],
        ] {
            compare_text(&f, args);
        }
        let r = rperf_out(&["report", "--stdio"], &f);
        // main's graph goes down to both mids (caller order).
        let main_graph: String = r
            .lines()
            .skip_while(|l| !l.ends_with("[.] main"))
            .take_while(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        // (A lone root prints as ---main; with some of main's own samples above the
        // threshold the graph has two roots with percentages.)
        assert!(
            main_graph.contains("main") && main_graph.contains("--mid_b"),
            "{r}"
        );
    }
}

#[test]
fn srcline_sort_equals_perf() {
    let dir = TempDir::new("srcline");
    let exe = compile_c(
        dir.path(),
        "inlined",
        INLINED_C,
        &["-O2", "-g", "-fno-omit-frame-pointer"],
    );
    let exe = exe.to_str().unwrap();
    for tool in ["perf", "rperf"] {
        let Some(f) = record_with(
            tool,
            dir.path(),
            &format!("{tool}.data"),
            &["-g", "--", exe, "0.3"],
        ) else {
            return;
        };
        // The workload's own binary: system libraries' DWARF is where perf's addr2line
        // and gimli disagree (perf names the CU's file for code from an included header).
        // perf also misreads addr2line's "(discriminator N)" suffix for some addresses in
        // main ("inlined.c:1" for line 13, main's loop), so rows of main are left out, and
        // with them the column widths they may set.
        for sort in ["srcline", "dso,srcline", "sym,srcline"] {
            let args = [
                "--no-children",
                "-g",
                "none",
                "--dso",
                "inlined",
                "--sort",
                sort,
            ];
            let Some((po, ro)) = reports(&f, &args) else {
                return;
            };
            let keep = |text: &str| {
                let (head, groups) = parse(text);
                let head: Vec<String> = head
                    .into_iter()
                    .filter(|l| !l.starts_with("# Overhead") && !l.starts_with("# ...."))
                    .collect();
                let groups: Vec<(String, BTreeSet<String>)> = groups
                    .into_iter()
                    .map(|(p, set)| {
                        let set: BTreeSet<String> = set
                            .into_iter()
                            .filter(|r| {
                                !r.contains("[.] main")
                                    && !r.ends_with("inlined.c:1")
                                    && !r.ends_with("inlined.c:13")
                            })
                            .collect();
                        (p, set)
                    })
                    .filter(|(_, set)| !set.is_empty())
                    .collect();
                (head, groups)
            };
            assert_eq!(keep(&ro), keep(&po), "{args:?}");
        }
        let r = rperf_out(
            &[
                "report",
                "--stdio",
                "--no-children",
                "-g",
                "none",
                "--sort",
                "srcline",
            ],
            &f,
        );
        // The hot loop's line is the inlined function's (line 6 of the program).
        assert!(r.contains("inlined.c:6"), "{r}");
    }
}

/// Code without debug info or symbols (a binary linked with `-s`): perf's srcline falls
/// back to the binary's name and the address (`burnstripped[1281]`), and an entry without a
/// symbol widens the binary column to an address's width whatever the sort keys.
#[test]
fn srcline_and_columns_of_stripped_code_equal_perf() {
    let dir = TempDir::new("srcline-stripped");
    let exe = compile_c(dir.path(), "burnstripped", BURN_C, &["-O2", "-s"]);
    let exe = exe.to_str().unwrap();
    let Some(f) = record_with("perf", dir.path(), "perf.data", &["--", exe, "300"]) else {
        return;
    };
    let (_, r) = reports(&f, &["--sort", "srcline", "--dso", "burnstripped"]).unwrap();
    assert!(r.contains("  burnstripped["), "{r}");
    for sort in ["srcline", "sym,srcline", "dso,srcline"] {
        compare(
            &f,
            &["--no-children", "--sort", sort, "--dso", "burnstripped"],
        );
    }
    // Without --dso the column takes the width of an address when any entry has no symbol.
    for sort in ["comm,dso", "dso"] {
        compare(&f, &["--no-children", "--sort", sort]);
    }
}

/// perf names PLT stubs (`name@plt`) only when the symbol table it read gave it symbols: a
/// stripped program whose .dynsym defines nothing shows samples in its PLT as addresses.
#[test]
fn plt_stubs_of_a_program_without_symbols_stay_addresses_like_perf() {
    let dir = TempDir::new("plt-stripped");
    let src = include_str!("../../fixtures/workloads/plt_calls.c");
    let exe = compile_c(dir.path(), "pltcalls", src, &["-O2", "-s"]);
    let Some(f) = record_with(
        "perf",
        dir.path(),
        "perf.data",
        &["--", exe.to_str().unwrap(), "0.3"],
    ) else {
        return;
    };
    let args = ["--no-children", "--sort", "sym", "--dso", "pltcalls"];
    compare(&f, &args);
    let r = rperf_out(&[&["report", "--stdio"][..], &args].concat(), &f);
    assert!(
        !r.contains("@plt") && r.contains("[.] 0x"),
        "the PLT's samples:\n{r}"
    );
}

#[test]
fn header_equals_perf() {
    let dir = TempDir::new("header");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-fno-omit-frame-pointer"],
    );
    let exe = exe.to_str().unwrap();
    let recordings: [(&str, &str, Vec<&str>); 4] = [
        ("perf", "g.data", vec!["-g", "--", exe, "0.2"]),
        (
            "perf",
            "tp.data",
            vec![
                "-e",
                "sched:sched_switch,cpu-clock",
                "-c",
                "1",
                "--call-graph",
                "dwarf",
                "--",
                "sleep",
                "0.05",
            ],
        ),
        ("rperf", "r.data", vec!["-g", "--", exe, "0.2"]),
        (
            "rperf",
            "r2.data",
            vec![
                "-e",
                "syscalls:sys_enter_read,page-faults",
                "--",
                "cat",
                "/proc/version",
            ],
        ),
    ];
    for (tool, name, args) in recordings {
        let Some(f) = record_with(tool, dir.path(), name, &args) else {
            return;
        };
        let mut p = perf().unwrap();
        p.args(["report", "--header-only", "-i"]).arg(&f);
        let want = stdout(&run(p));
        let got = rperf_out(&["report", "--header-only"], &f);
        assert!(want.contains("# event : name = "), "{want}");
        assert_eq!(got, want, "{tool} {name}");
        // --header: the block in place of the hint, then the usual report; the lost-sample
        // count as perf's (the dwarf recording loses some).
        let with = rperf_out(&["report", "--stdio", "--header", "-g", "none"], &f);
        let plain = rperf_out(&["report", "--stdio", "-g", "none"], &f);
        let hint = "# To display the perf.data header info, please use --header/--header-only options.\n#\n";
        assert_eq!(with, format!("{want}{}", plain.strip_prefix(hint).unwrap()));
        let lost = |t: &str| {
            t.lines()
                .find(|l| l.starts_with("# Total Lost Samples"))
                .map(String::from)
        };
        let mut p = perf().unwrap();
        p.args(["report", "--stdio", "-i"]).arg(&f);
        assert_eq!(lost(&plain), lost(&stdout(&run(p))), "{tool} {name}");
        let mut p = perf().unwrap();
        p.args(["script", "--header-only", "-i"]).arg(&f);
        let want = stdout(&run(p));
        let got = rperf_out(&["script", "--header-only"], &f);
        assert_eq!(got, want, "script {tool} {name}");
    }
}

/// For perf's and rperf's recordings of the chain program in turn: perf's build-id cache
/// (in a `$HOME` of the test's own) takes a copy of the binary, `change` then replaces the
/// file at its path (a new file: the cache hard-links the old one), and rperf's report of
/// the workload's binary must name `leaf` and equal perf's. The binary is built afresh
/// after each round. (The workload's binary only: with a fresh `$HOME` perf finds no copy
/// of the vDSO to name its functions.)
fn report_after_caching(tag: &str, record: &[&str], change: impl Fn(&Path, &Path)) {
    let dir = TempDir::new(tag);
    let build = || {
        compile_c(
            dir.path(),
            "chain",
            CHAIN_C,
            &["-O1", "-fno-omit-frame-pointer"],
        )
    };
    let exe = build();
    let home = dir.path().join("home");
    for tool in ["perf", "rperf"] {
        std::fs::create_dir_all(&home).unwrap();
        let args = [record, &["--", exe.to_str().unwrap(), "0.2"][..]].concat();
        let Some(f) = record_with(tool, dir.path(), &format!("{tool}.data"), &args) else {
            return;
        };
        let mut p = perf().unwrap();
        p.env("HOME", &home).args(["buildid-cache", "-a"]).arg(&exe);
        let o = run(p);
        assert!(o.status.success(), "{}", stderr(&o));
        change(dir.path(), &exe);
        let args = [
            "--stdio",
            "--no-children",
            "-g",
            "none",
            "--sort",
            "dso,sym",
            "--dso",
            "chain",
        ];
        let mut p = perf().unwrap();
        p.env("HOME", &home)
            .arg("report")
            .args(args)
            .arg("-i")
            .arg(&f);
        let want = stdout(&run(p));
        let got = run({
            let mut c = rperf();
            c.env("HOME", &home)
                .arg("report")
                .args(args)
                .arg("-i")
                .arg(&f);
            c
        });
        assert!(got.status.success(), "{}", stderr(&got));
        let got = stdout(&got);
        assert!(got.contains("[.] leaf"), "{tool}: {got}");
        let (w, g) = parse_both(&want, &got);
        assert_eq!(g, w, "{tool}-recorded file");
        std::fs::remove_file(&exe).unwrap();
        assert_eq!(build(), exe);
        std::fs::remove_dir_all(&home).unwrap();
    }
}

/// The path gets another program (a rebuild) after perf cached the recorded one: its
/// symbols must not be used for the recording; the cached copy's are.
#[test]
fn rebuilt_binaries_are_found_by_build_id_like_perf() {
    report_after_caching("buildid", &["-g"], |dir, exe| {
        let other = compile_c(dir, "other", BURN_C, &["-O1"]);
        std::fs::remove_file(exe).unwrap();
        std::fs::copy(&other, exe).unwrap();
    });
}

/// perf takes the function table from its build-id cache's copy before the binary's own: a
/// binary stripped after it was cached (the copy keeps its .symtab; the build-id stays)
/// still has its static functions named.
#[test]
fn a_binary_stripped_after_caching_is_named_from_the_cache_like_perf() {
    report_after_caching("buildid-strip", &[], |dir, exe| {
        let stripped = dir.join("chain.stripped");
        let o = run({
            let mut c = std::process::Command::new("strip");
            c.arg("-o").arg(&stripped).arg(exe);
            c
        });
        assert!(o.status.success(), "strip: {}", stderr(&o));
        std::fs::rename(&stripped, exe).unwrap();
    });
}

/// Two processes of one static binary (no PLT, no dynamic loader, no vDSO calls), so every
/// row has the same name in perf and rperf and the orders can be compared line by line.
const FORKER_C: &str = r#"
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
__attribute__((noinline)) void leaf(volatile unsigned long *x, long n) { for (long i = 0; i < n; i++) *x += i; }
__attribute__((noinline)) void mid(volatile unsigned long *x, long n) { leaf(x, n); *x += 1; }
__attribute__((noinline)) void other(volatile unsigned long *x, long n) { for (long i = 0; i < n / 3; i++) *x ^= i; }
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000000;
    volatile unsigned long x = 0;
    pid_t c = fork();
    mid(&x, n);
    if (c == 0) other(&x, n);
    if (c > 0) waitpid(c, 0, 0);
    return 0;
}
"#;

/// The report text up to perf's closing tip.
fn body(text: &str) -> String {
    text.lines()
        .take_while(|l| !l.starts_with("# (Tip"))
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .trim_end_matches("#\n")
        .to_string()
}

#[test]
fn fields_choose_columns_and_order_like_perf() {
    let dir = TempDir::new("report-fields");
    let exe = compile_c(
        dir.path(),
        "forker",
        FORKER_C,
        &["-O1", "-static", "-fno-omit-frame-pointer"],
    );
    let Some(f) = record_with(
        "perf",
        dir.path(),
        "f.data",
        &["-g", "--", exe.to_str().unwrap(), "60000000"],
    ) else {
        return;
    };
    let cases: &[&[&str]] = &[
        &["-g", "none", "-F", "overhead,sym"],
        &["-g", "none", "-F", "sym,overhead"],
        &["-g", "none", "-F", "dso,sym"],
        &["-g", "none", "-F", "overhead_children,overhead,sym"],
        &["-g", "none", "-F", "overhead_sys,overhead_us,overhead,sym"],
        &["-g", "none", "-F", "pid,overhead,sym"],
        &["-g", "none", "-F", "overhead,sym", "--sort", "pid"],
        &["-g", "none", "--no-children", "-F", "sample,period,dso,sym"],
        &[
            "-g",
            "none",
            "--no-children",
            "-F",
            "dso,overhead_children,sym",
        ],
        &["--no-children", "-F", "overhead,sym"],
        &["-g", "none", "--sort", "pid,sym"],
    ];
    for args in cases {
        let Some((p, r)) = reports(&f, args) else {
            return;
        };
        let (p, r) = (body(&p), body(&r));
        assert!(
            p.lines().count() > 12,
            "{args:?}: perf printed no rows\n{p}"
        );
        assert_eq!(r, p, "{args:?}");
    }
    // Both processes have a row with --sort pid, each named by its tid and command.
    let r = rperf_out(&["report", "--stdio", "-g", "none", "-F", "pid"], &f);
    assert_eq!(r.matches(":forker").count(), 2, "{r}");
}

/// Burns CPU under its own name, renames itself (a COMM record, as perf's workload child
/// gets when it execs), and burns on.
const RENAME_C: &str = r#"
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void burn(double s) { double end = now() + s; volatile unsigned long x = 0; while (now() < end) for (int i = 0; i < 10000; i++) x += i; }
int main(void) {
    burn(0.15);
    prctl(PR_SET_NAME, "x");
    burn(0.15);
    return 0;
}
"#;

#[test]
fn comm_column_is_sized_by_each_threads_last_name_like_perf() {
    // perf sizes the comm column by the length of each entry's thread's current name and
    // cuts longer names to it: samples taken under the long name print cut short.
    let dir = TempDir::new("report-rename");
    let exe = compile_c(dir.path(), "longworkername", RENAME_C, &["-O1"]);
    for tool in ["perf", "rperf"] {
        let Some(f) = record_with(
            tool,
            dir.path(),
            &format!("{tool}.data"),
            &["--", exe.to_str().unwrap()],
        ) else {
            return;
        };
        let Some((p, r)) = reports(&f, &["--no-children", "--sort", "comm"]) else {
            return;
        };
        assert!(p.contains("  longwor\n"), "{p}");
        let (p, r) = parse_both(&p, &r);
        assert_eq!(r, p, "{tool}-recorded file");
    }
}

#[test]
fn a_chain_with_an_unknown_context_marker_is_dropped_like_perf() {
    // A file written with rperf's own encoder: one process, samples with plain chains and
    // one whose chain holds a value past PERF_CONTEXT_MAX that is no context marker (what
    // garbage frames of code without frame pointers can hold). perf drops that chain
    // whole; so must rperf, in children counts and in script.
    use rperf::abi::misc;
    let dir = TempDir::new("report-corrupt-chain");
    let user = u64::MAX - 511; // PERF_CONTEXT_USER
    let plain = [user, 0x1000, 0x2000];
    let bad = [user, 0x1000, u64::MAX - 3, 0x3000];
    let f = crafted_chains(
        &dir.path().join("c.data"),
        |_| Vec::new(),
        &[
            (0x1000, misc::USER, &plain[..]),
            (0x1000, misc::USER, &plain[..]),
            (0x1000, misc::USER, &bad[..]),
        ],
    );
    let r = rperf_out(
        &[
            "report",
            "--stdio",
            "--children",
            "-g",
            "none",
            "--sort",
            "sym",
        ],
        &f,
    );
    // 0x2000 is a caller in two samples of three; 0x3000 in none, its chain being dropped.
    assert!(
        r.contains("66.67%     0.00%  [.] 0x0000000000002000"),
        "{r}"
    );
    assert!(!r.contains("0x0000000000003000"), "{r}");
    let args = ["--children", "-g", "none", "--sort", "sym"];
    let Some((p, r)) = reports(&f, &args) else {
        return;
    };
    // (Rows only: this file has no EVENT_DESC feature, and perf then names the event from
    // its attr, "cpu-clock:HG", where rperf says "unknown".)
    let (p, r) = parse_both(&p, &r);
    assert_eq!(r.1, p.1);
    assert!(p
        .1
        .iter()
        .all(|(_, rows)| !rows.iter().any(|x| x.contains("3000"))));
    let script = |c: Option<std::process::Command>| {
        let mut c = c?;
        c.arg("script").arg("-i").arg(&f);
        Some(stdout(&run(c)))
    };
    if let (Some(p), Some(r)) = (script(perf()), script(Some(rperf()))) {
        // The same stacks, the dropped one empty (event names aside, as above).
        let stacks = |t: &str| -> Vec<String> {
            t.split("\n\n")
                .map(|b| b.lines().skip(1).collect::<Vec<_>>().join("\n"))
                .collect()
        };
        assert_eq!(stacks(&r), stacks(&p));
    }
}

/// `--sort trace`: rows by each tracepoint sample's formatted fields (`N/A` for other
/// events), the trailing column unpadded, as perf prints them; for perf's and rperf's files.
#[test]
fn trace_sort_key_equals_perf() {
    let dir = TempDir::new("sort-trace");
    let args = [
        "-e",
        "sched:sched_switch,sched:sched_wakeup,cpu-clock",
        "--",
        "sh",
        "-c",
        "cat /proc/version > /dev/null; sleep 0.05",
    ];
    let Some((p, r)) = record_both(dir.path(), &args) else {
        return;
    };
    for f in [&p, &r] {
        // Not `comm,trace`: perf sizes the trace column only from entries its sort happened
        // to compare by trace (it formats the text lazily, in the comparison), so other
        // rows come out cut; rperf sizes it by every row (README, differences from perf).
        for sort in [&["--sort", "trace"][..], &["--sort", "trace,comm", "-n"]] {
            compare_text(f, sort);
        }
    }
}

/// Two binaries with one file name in different directories (a toolchain's `rustc` and its
/// wrapper, two builds of `a.out`) are one `dso` row, as perf compares binaries by their
/// short names.
#[test]
fn binaries_with_one_name_share_a_dso_row_like_perf() {
    let dir = TempDir::new("same-name");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let first = compile_c(&a, "work", BURN_C, &["-O1"]);
    // A different binary (other code, other build-id) under the same name.
    let second = compile_c(&b, "work", CHAIN_C, &["-O1"]);
    let script = format!("{} 150; {} 0.15", first.display(), second.display());
    let args = ["--", "sh", "-c", script.as_str()];
    let Some((p, r)) = record_both(dir.path(), &args) else {
        return;
    };
    for f in [&p, &r] {
        for sort in ["dso", "comm,dso"] {
            compare(f, &["--no-children", "-g", "none", "--sort", sort]);
        }
        let text = rperf_out(&["report", "--stdio", "--sort", "dso"], f);
        let rows = text
            .lines()
            .filter(|l| l.trim_end().ends_with(" work"))
            .count();
        assert_eq!(rows, 1, "{text}");
    }
}

/// perf's compressed recordings (`record -z`: zstd-compressed record batches) report and
/// script as perf shows them.
#[test]
fn compressed_recordings_read_like_perf() {
    let dir = TempDir::new("zstd");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-fno-omit-frame-pointer"],
    );
    let Some(f) = record_with(
        "perf",
        dir.path(),
        "z.data",
        &["-z", "-g", "--", exe.to_str().unwrap(), "0.3"],
    ) else {
        return;
    };
    compare(
        &f,
        &["--no-children", "-g", "none", "--sort", "comm,dso,sym"],
    );
    compare_text(&f, &["--children", "-g", "none"]);
    let mut p = perf().unwrap();
    p.args(["script", "-i"]).arg(&f);
    let want = stdout(&run(p));
    assert!(want.contains("leaf"), "{want}");
    assert_eq!(rperf_out(&["script"], &f), want);
}

/// A workload whose two halves run different functions, so that a time window shows which
/// half it covers. Each half is argv[1] seconds of its own CPU time: a loaded machine
/// stretches the run instead of leaving it too few samples.
const PHASES_C: &str = r#"
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec / 1e9; }
volatile unsigned long sink;
__attribute__((noinline)) void phase_a(double until) { while (now() < until) for (int i = 0; i < 100000; i++) sink += i; }
__attribute__((noinline)) void phase_b(double until) { while (now() < until) for (int i = 0; i < 100000; i++) sink ^= i; }
int main(int argc, char **argv) { double s = argc > 1 ? atof(argv[1]) : 0.2; phase_a(now() + s); phase_b(now() + s); return 0; }
"#;

/// `--time` keeps the samples of a window — seconds as script prints them, several windows,
/// open ends, or shares of the recording — in report (whose header names the slices) and
/// script alike, as perf does; a malformed window is a one-line error.
#[test]
fn time_windows_filter_like_perf() {
    let dir = TempDir::new("time");
    let exe = compile_c(
        dir.path(),
        "phases",
        PHASES_C,
        &["-O1", "-fno-omit-frame-pointer"],
    );
    // rperf's recordings carry the first/last sample times (SAMPLE_TIME) perf's shares need.
    let args = ["-F", "2000", "-g", "--", exe.to_str().unwrap(), "0.3"];
    let Some(mine) = record_with("rperf", dir.path(), "r.data", &args) else {
        return;
    };
    for pct in ["10%/2", "0%-30%,60%-100%"] {
        compare(&mine, &["--no-children", "--sort", "sym", "--time", pct]);
    }
    let Some(f) = record_with("perf", dir.path(), "t.data", &args) else {
        return;
    };
    let times: Vec<String> = rperf_out(&["script", "-F", "time"], &f)
        .lines()
        .map(|l| l.trim().trim_end_matches(':').to_string())
        .collect();
    assert!(times.len() > 100, "too few samples: {}", times.len());
    let (a, b) = (&times[times.len() / 4], &times[times.len() * 3 / 4]);
    let (c, d) = (&times[times.len() / 8], &times[times.len() * 7 / 8]);
    let windows = [
        format!("{a},{b}"),
        format!("{a},"),
        format!(",{b}"),
        format!("{c},{a} {b},{d}"),
        "10%/2".to_string(),
        "0%-30%,60%-100%".to_string(),
        "50%".to_string(),
    ];
    for t in &windows {
        compare(
            &f,
            &["--no-children", "-g", "none", "--sort", "sym", "--time", t],
        );
        compare(&f, &["--children", "--sort", "comm,sym", "--time", t]);
        let mut p = perf().unwrap();
        p.args(["script", "--time", t, "-i"]).arg(&f);
        // A frame in the PLT: perf names it after `_init` or the stub depending on how its
        // synthesized PLT symbols came out; rperf always names the stub (see report.rs'
        // compare_text). Those lines aside, the windows keep the same samples.
        let plain = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| !l.contains("@plt") && !l.contains(" _init+"))
                .map(String::from)
                .collect()
        };
        let want = plain(&stdout(&run(p)));
        let have = plain(&rperf_out(&["script", "--time", t], &f));
        assert_eq!(have.len(), want.len(), "--time {t}: line counts differ");
        if let Some((h, w)) = have.iter().zip(&want).find(|(h, w)| h != w) {
            panic!("--time {t}: rperf printed\n{h}\nwhere perf printed\n{w}");
        }
    }
    // The first fifth of the recording is the first phase.
    let early = rperf_out(
        &[
            "report",
            "--stdio",
            "--no-children",
            "--sort",
            "sym",
            "--time",
            "0%-20%",
        ],
        &f,
    );
    assert!(
        early.contains("phase_a") && !early.contains("phase_b"),
        "{early}"
    );
    // A window without samples (boot's first second): perf's header, its error, success.
    let Some((po, ro)) = reports(&f, &["--time", "1,2"]) else {
        return;
    };
    assert_eq!(ro, po);
    let o = run({
        let mut c = rperf();
        c.args(["report", "--stdio", "--time", "1,2", "-i"]).arg(&f);
        c
    });
    assert!(
        stderr(&o).contains(&format!("The {} data has no samples!", f.display())),
        "{}",
        stderr(&o)
    );
    for bad in ["5", "2,1", "abc,", "120%"] {
        let o = run({
            let mut c = rperf();
            c.args(["report", "--stdio", "--time", bad, "-i"]).arg(&f);
            c
        });
        let err = stderr(&o);
        assert!(!o.status.success(), "--time {bad} accepted");
        assert!(
            err.trim().lines().count() == 1 && err.contains("--time"),
            "--time {bad}: {err}"
        );
    }
}

/// Rows of equal weight come in perf's order (its output sort: the weight, then each sort
/// key's own comparison in turn), compared row by row, not as sets: 256 tiny functions in
/// eight threads give hundreds of ties by symbol, thread, and both. A file without CPUs
/// sorts by CPU as perf does, under `-001`.
#[test]
fn ties_come_in_perfs_order() {
    let dir = TempDir::new("report-ties");
    let exe = compile_c(dir.path(), "many", MANY_C, &["-O1", "-pthread"]);
    let Some(f) = record_with(
        "perf",
        dir.path(),
        "p.data",
        &["--", exe.to_str().unwrap(), "20000", "8"],
    ) else {
        return;
    };
    let rows = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.trim_end().to_string())
            .collect()
    };
    for sort in [
        &[][..],
        &["--sort", "sym"],
        &["--sort", "pid"],
        &["--sort", "pid,sym"],
        &["--sort", "sym,pid"],
        &["--sort", "dso,sym"],
        &["-n", "--sort", "comm,pid"],
        &["--sort", "cpu"],
    ] {
        let Some(mut p) = perf() else { return };
        let po = run({
            p.args(["report", "--stdio", "-i"]).arg(&f).args(sort);
            p
        });
        assert!(po.status.success(), "{}", stderr(&po));
        let r = rperf_out(&[&["report", "--stdio"][..], sort].concat(), &f);
        let (p, r) = (rows(&stdout(&po)), rows(&r));
        // The same rows first (a difference there is not about order), then their order.
        let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
        assert_eq!(set(&r), set(&p), "{sort:?}");
        let weights: Vec<&str> = p
            .iter()
            .map(|l| l.split_whitespace().next().unwrap_or(""))
            .collect();
        if sort.contains(&"sym") {
            assert!(
                weights.windows(2).filter(|w| w[0] == w[1]).count() > 20,
                "too few ties to test: {p:?}"
            );
        }
        assert_eq!(r, p, "{sort:?}: rows in another order (rperf, then perf)");
    }
}

/// `--sort sym,srcline` on DWARF stacks: each function of an inline stack is its own row
/// with its own line, as perf's (the address's line for the innermost, the call site for
/// each caller, the containing function's row apart from its self row), and the column
/// is sized by names without ` (inlined)`.
#[test]
fn inlined_entries_get_their_call_site_lines() {
    let dir = TempDir::new("report-inline-srcline");
    let exe = compile_c(dir.path(), "inlined", INLINED_C, &["-O2", "-g"]);
    let Some(f) = record_with(
        "perf",
        dir.path(),
        "d.data",
        &["--call-graph", "dwarf", "--", exe.to_str().unwrap(), "0.3"],
    ) else {
        return;
    };
    // (With dso in the keys: by sym,srcline alone rperf sometimes keeps one sample of
    // `outer` apart, a symbol-identity difference of its own.)
    let args = [
        "report",
        "--stdio",
        "-g",
        "none",
        "--sort",
        "dso,sym,srcline",
    ];
    let Some(mut p) = perf() else { return };
    let po = run({
        p.args(args).arg("-i").arg(&f);
        p
    });
    assert!(po.status.success(), "{}", stderr(&po));
    let r = rperf_out(&args, &f);
    // The workload's rows, exactly (libc's own lines depend on its debug files).
    let ours = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#') && l.contains(" inlined.c:"))
            .map(|l| l.trim_end().to_string())
            .collect()
    };
    let (p, r) = (ours(&stdout(&po)), ours(&r));
    assert!(
        p.iter().any(|l| l.contains("middle (inlined)")) && p.len() >= 4,
        "{p:?}"
    );
    // The (function, line) pairs, as sets: the percentages are left out, as rperf
    // sometimes keeps one sample of a function in a row of its own (a symbol-identity
    // difference that is not about lines).
    let set = |v: &[String]| {
        v.iter()
            .map(|l| l.split_whitespace().skip(2).collect::<Vec<_>>().join(" "))
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(set(&r), set(&p));
}

/// A binary rebuilt in place after an rperf recording (which caches no copy) is another
/// build: its symbols would name other code. perf then shows raw addresses, and so does
/// rperf, instead of the rebuilt binary's names.
#[test]
fn a_rebuilt_binary_is_not_read_for_the_recorded_one() {
    let dir = TempDir::new("report-rebuilt");
    // A build-id no cache holds yet: the source carries this run's own marker.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let src = format!("{BURN_C}\nint rebuilt_marker_{nanos}(void) {{ return 7; }}\n");
    let exe = compile_c(dir.path(), "w", &src, &["-O1"]);
    let data = dir.path().join("r.data");
    let o = run({
        let mut c = rperf();
        c.args(["record", "-q", "-o"])
            .arg(&data)
            .arg("--")
            .arg(&exe)
            .arg("300");
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    // The same program with a function in front: main moves.
    let moved = format!("int pad_first(int x) {{ return x * 3; }}\n{src}");
    let exe2 = compile_c(dir.path(), "w2", &moved, &["-O1"]);
    std::fs::rename(&exe2, &exe).unwrap();
    let ro = rperf_out(&["report", "--stdio", "--sort", "dso,sym"], &data);
    let own: Vec<&str> = ro.lines().filter(|l| l.contains(" w ")).collect();
    assert!(!own.is_empty(), "{ro}");
    assert!(
        own.iter().all(|l| l.contains("[.] 0x")),
        "the rebuilt binary's names were used:\n{ro}"
    );
    compare(&data, &["--sort", "dso,sym"]);
}
