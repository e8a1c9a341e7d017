//! `rperf probe` against `perf probe`: the same definitions give the same tracefs lines,
//! event names, listings and messages; probes count exactly under stat and print their
//! arguments under script as perf's. Each test probes its own copy of the fixture under its
//! own name (perf's group is `probe_` and that name), and a guard deletes its probes.
use std::path::{Path, PathBuf};

use crate::common::*;

/// The probed program: `work(a, "abc", &p)` called argv[1] times (see the file).
const PROBED_C: &str = include_str!("../../fixtures/workloads/probed.c");
/// Where `work` is declared in probed.c, and a line inside it.
const WORK_LINE: u32 = 6;
const IF_LINE: u32 = 8;

/// tracefs's uprobe_events, when this machine lets tests write it (root, uprobes built in).
fn uprobe_events() -> Option<PathBuf> {
    if !rperf_is_root() {
        skip("probe tests need root (they write tracefs's uprobe_events)");
        return None;
    }
    for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        let p = Path::new(root).join("uprobe_events");
        if p.exists() {
            return Some(p);
        }
    }
    // rperf mounts tracefs when it is not mounted: let it, then look again.
    let _ = run({
        let mut c = rperf();
        c.args(["probe", "-l"]);
        c
    });
    let p = Path::new("/sys/kernel/tracing/uprobe_events");
    if p.exists() {
        Some(p.to_path_buf())
    } else {
        skip("this kernel has no uprobes (CONFIG_UPROBE_EVENTS)");
        None
    }
}

fn rperf_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
            .unwrap_or(false)
    })
}

/// Deletes every probe of its group when dropped (also when a test fails), writing tracefs
/// directly so that a broken rperf cannot leave probes behind.
struct Guard {
    events: PathBuf,
    group: String,
}

impl Guard {
    /// This group's lines in uprobe_events, in tracefs's order.
    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .next()
                    .and_then(|h| h.get(2..))
                    .is_some_and(|n| n.split('/').next() == Some(&self.group))
            })
            .map(String::from)
            .collect()
    }

    fn clear(&self) {
        use std::io::Write;
        for l in self.lines() {
            let name = l.split_whitespace().next().unwrap()[2..].to_string();
            // One write per command: tracefs parses each write on its own.
            if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&self.events) {
                let _ = f.write_all(format!("-:{name}\n").as_bytes());
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A copy of the fixture named `name` (built with `flags`) and the guard of its group.
fn setup(dir: &TempDir, name: &str, flags: &[&str]) -> Option<(PathBuf, Guard)> {
    // perf refuses an event name that any group has: each test's `work` has its own name.
    let mut flags = flags.to_vec();
    let rename = format!("-Dwork={name}_work");
    flags.push(&rename);
    setup_fixture(dir, name, PROBED_C, &flags)
}

/// Fixture `src` built as `name` with `flags`, and the cleared guard of its probe group
/// (`probe_NAME`); `None` (skipped) without uprobes or perf.
fn setup_fixture(dir: &TempDir, name: &str, src: &str, flags: &[&str]) -> Option<(PathBuf, Guard)> {
    let events = uprobe_events()?;
    perf()?;
    let exe = compile_c(dir.path(), name, src, flags);
    let guard = Guard {
        events,
        group: format!("probe_{name}"),
    };
    guard.clear();
    Some((exe, guard))
}

/// `tool probe ARGS` (tool "perf" or "rperf"): (status, stdout, stderr).
fn probe(tool: &str, args: &[&str]) -> (i32, String, String) {
    let mut c = if tool == "perf" {
        std::process::Command::new("perf")
    } else {
        rperf()
    };
    c.arg("probe").args(args);
    let o = run(c);
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

/// rperf suggests `rperf record` where perf suggests `perf record`.
fn as_perf(s: &str) -> String {
    s.replace("\trperf record", "\tperf record")
}

#[test]
fn probe_definitions_and_tracefs_lines_match_perf() {
    let dir = TempDir::new("probe-defs");
    let Some((exe, guard)) = setup(&dir, "pbdefs", &["-g", "-O0"]) else {
        return;
    };
    let x = exe.to_str().unwrap();
    // compile_c names the source after the binary.
    let src_line = format!("pbdefs.c:{IF_LINE}");
    let specs: Vec<&str> = vec![
        "pbdefs_work",
        "pbdefs_work%return",
        "pbdefs_work+4",
        "grp:ev=pbdefs_work",
        "pbdefs_named=pbdefs_work%return",
        "pbdefs_work:2",
        &src_line,
        "pbdefs_work@pbdefs.c",
        "pbdefs_main=main",
        "pbdefs_r=pbdefs_work %di +0(%si):string",
    ];
    // -D: the definitions, written nowhere.
    let mut d = vec!["-x", x];
    for s in &specs {
        d.extend(["-D", s]);
    }
    let (prc, pout, perr) = probe("perf", &d);
    let (rrc, rout, rerr) = probe("rperf", &d);
    assert_eq!(
        (prc, rrc, &pout),
        (0, 0, &rout),
        "-D: perf {perr} rperf {rerr}"
    );
    assert!(
        rout.contains(&format!("r:probe_pbdefs/pbdefs_named__return {x}:0x")),
        "{rout}"
    );
    assert!(guard.lines().is_empty(), "-D wrote tracefs");
    // Added for real, one at a time: the lines tracefs holds and the messages.
    for s in specs.iter().filter(|s| !s.starts_with("grp:")) {
        let (prc, pout, perr) = probe("perf", &["-x", x, s]);
        assert_eq!(prc, 0, "perf probe {s}: {perr}");
        let by_perf = guard.lines();
        guard.clear();
        let (rrc, rout, rerr) = probe("rperf", &["-x", x, s]);
        let by_rperf = guard.lines();
        guard.clear();
        assert_eq!(rrc, 0, "rperf probe {s}: {rerr}");
        assert!(!by_rperf.is_empty(), "{s}: nothing added");
        assert_eq!(by_perf, by_rperf, "tracefs lines for {s}");
        assert_eq!((pout, perr), (rout, as_perf(&rerr)), "messages for {s}");
    }
    // Several at once, -n and -q.
    let many = [
        "-x",
        x,
        "-a",
        "pbdefs_work",
        "-a",
        "pbdefs_work%return",
        "-a",
        "pbdefs_main=main",
    ];
    let (_, _, perr) = probe("perf", &many);
    let by_perf = guard.lines();
    guard.clear();
    let (rrc, _, rerr) = probe("rperf", &many);
    assert_eq!(rrc, 0, "{rerr}");
    assert_eq!(by_perf, guard.lines());
    assert_eq!(perr, as_perf(&rerr));
    assert!(rerr.starts_with("Added new events:\n"), "{rerr}");
    guard.clear();
    let (rrc, rout, rerr) = probe("rperf", &["-x", x, "-n", "pbdefs_work"]);
    assert_eq!((rrc, rout.as_str()), (0, ""));
    assert!(rerr.contains("probe_pbdefs:pbdefs_work"), "{rerr}");
    assert!(guard.lines().is_empty(), "-n wrote tracefs");
    let (rrc, rout, rerr) = probe("rperf", &["-x", x, "-q", "pbdefs_work"]);
    assert_eq!((rrc, rout.as_str(), rerr.as_str()), (0, "", ""));
    assert_eq!(guard.lines().len(), 1);
}

#[test]
fn probe_existing_names_force_and_bad_inputs_match_perf() {
    let dir = TempDir::new("probe-bad");
    let Some((exe, guard)) = setup(&dir, "pbbad", &["-g", "-O0"]) else {
        return;
    };
    let nodbg = compile_c(
        dir.path(),
        "pbnodbg",
        PROBED_C,
        &["-O0", "-Dwork=pbnodbg_work"],
    );
    let nodbg_guard = Guard {
        events: guard.events.clone(),
        group: "probe_pbnodbg".into(),
    };
    let notelf = dir.path().join("pbnotelf");
    std::fs::write(&notelf, "not an ELF file\n").unwrap();
    let x = exe.to_str().unwrap();
    let n = nodbg.to_str().unwrap();
    let t = notelf.to_str().unwrap();
    let line9 = format!("pbbad.c:{}", WORK_LINE - 3);
    // (arguments, expected status): each compared with perf's status and message.
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["-x", x, "nosuch"], 254),
        (vec!["-x", t, "pbbad_work"], 254),
        (vec!["-x", n, "pbnodbg_work:1"], 254),
        (vec!["-x", n, "pbnodbg_work@pbnodbg.c"], 254),
        (vec!["-x", x, &line9], 254),
        (vec!["-d", "pbbad_nothing:*"], 254),
        (
            vec!["-x", x, "--max-probes", "2", "-D", "pbbad_work:2"],
            222,
        ),
    ];
    for (args, code) in &cases {
        let (prc, pout, perr) = probe("perf", args);
        let (rrc, rout, rerr) = probe("rperf", args);
        assert_eq!(
            (prc, rrc),
            (*code, *code),
            "{args:?}: perf {perr} rperf {rerr}"
        );
        assert_eq!((pout, perr), (rout, rerr), "{args:?}");
    }
    assert!(guard.lines().is_empty() && nodbg_guard.lines().is_empty());
    // A missing binary: perf's first line (perf adds its usage text).
    let missing = dir.path().join("pbmissing");
    let (rrc, _, rerr) = probe("rperf", &["-x", missing.to_str().unwrap(), "pbbad_work"]);
    assert_eq!(rrc, 129);
    assert!(rerr.contains("Failed to get the absolute path of") && rerr.contains("No such file"));
    // Without debug info a function by name still works.
    let (rrc, _, rerr) = probe("rperf", &["-x", n, "-q", "pbnodbg_work"]);
    assert_eq!(rrc, 0, "{rerr}");
    assert_eq!(nodbg_guard.lines().len(), 1);
    // The same name twice: perf's refusal, then -f's `_1`.
    let (prc, _, perr) = probe("perf", &["-x", x, "pbbad_work"]);
    assert_eq!(prc, 0);
    let (prc, _, perr2) = probe("perf", &["-x", x, "pbbad_work"]);
    let (rrc, _, rerr) = probe("rperf", &["-x", x, "pbbad_work"]);
    assert_eq!((prc, rrc), (239, 239), "{perr} {rerr}");
    assert_eq!(perr2, rerr);
    assert!(
        rerr.contains("Error: event \"pbbad_work\" already exists."),
        "{rerr}"
    );
    let (rrc, _, rerr) = probe("rperf", &["-x", x, "-f", "pbbad_work"]);
    assert_eq!(rrc, 0, "{rerr}");
    assert!(rerr.contains("probe_pbbad:pbbad_work_1 "), "{rerr}");
    let names: Vec<String> = guard
        .lines()
        .iter()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["p:probe_pbbad/pbbad_work", "p:probe_pbbad/pbbad_work_1"],
        "{perr}"
    );
    // A refused batch adds nothing (perf would keep the probes before the bad one).
    guard.clear();
    let (rrc, _, _) = probe("rperf", &["-x", x, "-a", "pbbad_main=main", "-a", "nosuch"]);
    assert_eq!(rrc, 254);
    assert!(guard.lines().is_empty(), "{:?}", guard.lines());
}

#[test]
fn probe_list_and_delete_match_perf() {
    let dir = TempDir::new("probe-list");
    let Some((exe, guard)) = setup(&dir, "pblist", &["-g", "-O0"]) else {
        return;
    };
    let x = exe.to_str().unwrap();
    let filter = "probe_pblist:*";
    // Made by perf, listed by both (perf's -l also describes lines and returns).
    let (prc, _, perr) = probe(
        "perf",
        &[
            "-x",
            x,
            "-q",
            "-a",
            "pblist_work",
            "-a",
            "pblist_work%return",
            "-a",
            "pblist_work:2",
            "-a",
            "pblist_main=main",
            "-a",
            "pblist_wr=pblist_work%return $retval",
        ],
    );
    assert_eq!(prc, 0, "{perr}");
    let (_, pl, _) = probe("perf", &["-l", filter]);
    let (rrc, rl, rerr) = probe("rperf", &["-l", filter]);
    assert_eq!(rrc, 0, "{rerr}");
    assert_eq!(pl, rl);
    assert!(rl.contains("(on pblist_work:2@"), "{rl}");
    // A glob without a group, then a group glob: perf's messages and what remains.
    let (rrc, _, rerr) = probe("rperf", &["-d", "pblist_work*"]);
    assert_eq!(rrc, 0, "{rerr}");
    assert!(
        rerr.contains("Removed event: probe_pblist:pblist_work\n"),
        "{rerr}"
    );
    assert!(
        rerr.contains("Removed event: probe_pblist:pblist_work_L2\n"),
        "{rerr}"
    );
    let left = guard.lines();
    assert_eq!(left.len(), 2, "{left:?}");
    let (_, _, rerr) = probe("rperf", &["-d", filter]);
    assert!(guard.lines().is_empty());
    // Made by rperf, listed and deleted by perf.
    let (rrc, _, _) = probe(
        "rperf",
        &[
            "-x",
            x,
            "-q",
            "-a",
            "pblist_main=main",
            "-a",
            "pblist_w4=pblist_work+4",
        ],
    );
    assert_eq!(rrc, 0);
    let (_, pl, _) = probe("perf", &["-l", filter]);
    let (_, rl, _) = probe("rperf", &["-l", filter]);
    assert_eq!(pl, rl);
    assert!(
        rl.contains("probe_pblist:pblist_w4 (on pblist_work+4@"),
        "{rl}"
    );
    let (_, _, perr) = probe("perf", &["-d", filter]);
    assert!(guard.lines().is_empty(), "{perr}");
    assert_eq!(perr.lines().count(), 2, "{perr} vs {rerr}");
}

#[test]
fn probe_counts_exactly_and_script_prints_fetched_args_as_perf() {
    let dir = TempDir::new("probe-stat");
    let Some((exe, guard)) = setup(&dir, "pbstat", &["-g", "-O0"]) else {
        return;
    };
    let x = exe.to_str().unwrap();
    let (rrc, _, rerr) = probe(
        "rperf",
        &[
            "-x",
            x,
            "-q",
            "-a",
            "pbstat_work a=%di:s32 s=+0(%si):string",
            "-a",
            "pbstat_work%return $retval:s32",
        ],
    );
    assert_eq!(rrc, 0, "{rerr}");
    assert_eq!(guard.lines().len(), 2);
    assert_eq!(
        stat_counts(
            &exe,
            &[
                "probe_pbstat:pbstat_work",
                "probe_pbstat:pbstat_work__return"
            ],
            "37"
        ),
        ["37", "37"]
    );
    // Recorded by rperf, printed by both.
    let data = dir.path().join("p.data");
    let r = record_and_script(&exe, &data, "probe_pbstat:*", "3");
    let entries: Vec<&str> = r
        .lines()
        .filter(|l| l.contains("probe_pbstat:pbstat_work:"))
        .collect();
    assert_eq!(entries.len(), 3, "{r}");
    assert!(entries[2].ends_with(") a=2 s=\"abc\""), "{r}");
    assert!(r.contains("arg1=7\n"), "pbstat_work(2) returns 7: {r}");
    // report --sort trace: the fetched arguments are the rows.
    let rows = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(String::from)
            .collect()
    };
    let rr = rperf_out(&["report", "--stdio", "--sort", "trace"], &data);
    let pr = stdout(&run({
        let mut c = perf().unwrap();
        c.args(["report", "--stdio", "--sort", "trace", "-i"])
            .arg(&data);
        c
    }));
    assert_eq!(rows(&pr), rows(&rr));
    assert!(rr.contains(" a=2 s=\"abc\""), "{rr}");
}

#[test]
fn probe_funcs_and_lines_match_perf() {
    let dir = TempDir::new("probe-funcs");
    if uprobe_events().is_none() || perf().is_none() {
        return;
    }
    // -L prints the source: built here, so that the file stays where DWARF says it is.
    let src = dir.path().join("pbfuncs.c");
    std::fs::write(&src, PROBED_C).unwrap();
    let exe = dir.path().join("pbfuncs");
    let o = run({
        let mut c = std::process::Command::new("gcc");
        c.args(["-g", "-O0", "-Dwork=pbfuncs_work", "-o"])
            .arg(&exe)
            .arg(&src);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let x = exe.to_str().unwrap();
    for args in [
        vec!["-x", x, "-F"],
        vec!["-x", x, "-L", "pbfuncs_work"],
        vec!["-x", x, "-L", "main"],
        vec!["-x", x, "-L", "pbfuncs_work:1-3"],
        vec!["-x", x, "-L", "pbfuncs_work:2+2"],
        vec!["-x", x, "-L", "pbfuncs_work:1"],
        vec!["-x", x, "-L", "pbfuncs.c:7-10"],
        vec!["-x", x, "-L", "pbfuncs.c:14"],
        vec!["-x", x, "-L", "pbfuncs.c"],
    ] {
        let (prc, pout, _) = probe("perf", &args);
        let (rrc, rout, rerr) = probe("rperf", &args);
        assert_eq!((prc, rrc), (0, 0), "{args:?}: {rerr}");
        assert_eq!(pout, rout, "{args:?}");
    }
    // Lazy lines read the source too: the lines matching a glob, spaces ignored.
    for def in [
        "pbfuncs_work;if*",
        "pbfuncs_work;return* r",
        "pbfuncs.c;*sum*",
    ] {
        let args = ["-x", x, "-D", def];
        let (prc, pout, perr) = probe("perf", &args);
        let (rrc, rout, rerr) = probe("rperf", &args);
        assert_eq!((prc, rrc), (0, 0), "{def}: {perr} {rerr}");
        assert_eq!(pout, rout, "{def}");
        assert!(!rout.is_empty());
    }
    let nosuch = ["-x", x, "-L", "nosuch"];
    assert_eq!(probe("perf", &nosuch), probe("rperf", &nosuch));
    let (_, rout, _) = probe("rperf", &["-x", x, "-L", "pbfuncs_work"]);
    assert!(
        rout.contains("      2      if (s[0] == 'z') r++;"),
        "{rout}"
    );
    assert!(rout.starts_with("<pbfuncs_work@"), "{rout}");
}

#[test]
fn probe_without_permission_says_so_as_perf() {
    let dir = TempDir::new("probe-perm");
    let Some((exe, guard)) = setup(&dir, "pbperm", &["-O0"]) else {
        return;
    };
    let ok = std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip("setpriv (util-linux) is not installed");
        return;
    }
    let x = exe.to_str().unwrap();
    // The binary must be readable by the unprivileged user.
    let _ = std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    );
    for args in [
        vec!["-x", x, "pbperm_work"],
        vec!["-l"],
        vec!["-d", "probe_pbperm:*"],
    ] {
        let as_nobody = |tool: &str| {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
            if tool == "perf" {
                c.arg("perf");
            } else {
                c.arg(env!("CARGO_BIN_EXE_rperf"));
            }
            c.arg("probe").args(&args);
            let o = run(c);
            (o.status.code(), stderr(&o))
        };
        let (pc, pe) = as_nobody("perf");
        let (rc, re) = as_nobody("rperf");
        assert_eq!((pc, &pe), (rc, &re), "{args:?}");
        assert_eq!(rc, Some(243));
        assert!(re.contains("No permission to"), "{re}");
    }
    assert!(guard.lines().is_empty());
}

#[test]
fn probe_kernel_functions_need_kprobes() {
    if Path::new("/sys/kernel/tracing/kprobe_events").exists()
        || Path::new("/sys/kernel/debug/tracing/kprobe_events").exists()
    {
        // A kernel with kprobes: a definition (checked against perf's below), written nowhere.
        let (rc, out, err) = probe("rperf", &["-D", "do_sys_open"]);
        assert_eq!(rc, 0, "{err}");
        assert!(out.starts_with("p:probe/do_sys_open _text+"), "{out}");
        return;
    }
    let (rc, out, err) = probe("rperf", &["do_sys_open"]);
    assert_ne!(rc, 0);
    assert_eq!(out, "");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("CONFIG_KPROBES") && err.contains("-x BINARY"),
        "{err}"
    );
}

/// `-m MODULE.ko`: a relocatable object read offline as perf reads a module (DWARF and
/// symbols at section-relative places, the module's own name from its `struct module`,
/// call frames from .debug_frame as a kernel build leaves them): definitions, -F, -L, -V
/// compared with perf; adding needs kprobes, which this kernel may not have.
#[test]
fn probe_module_points_match_perf() {
    let dir = TempDir::new("probe-module");
    if perf().is_none() {
        return;
    }
    if !rperf_is_root() {
        skip("perf probe -D reads tracefs: needs root");
        return;
    }
    let src = dir.path().join("pbmod.c");
    std::fs::write(
        &src,
        include_str!("../../fixtures/workloads/probed_module.c"),
    )
    .unwrap();
    let ko = dir.path().join("pbmod.ko");
    let o = run({
        let mut c = std::process::Command::new("gcc");
        c.args(["-c", "-g", "-O0", "-fno-asynchronous-unwind-tables", "-o"])
            .arg(&ko)
            .arg(&src);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let m = ko.to_str().unwrap();
    let both = |args: &[&str]| {
        let mut a = vec!["-m", m];
        a.extend(args);
        let p = probe("perf", &a);
        let r = probe("rperf", &a);
        assert_eq!(p, r, "{args:?}");
        r
    };
    for def in [
        "helper_add",
        "mod_work",
        "helper_add a b",
        "mod_work n it->name:string total",
        "helper_add%return $retval",
        "helper_add+4",
        "mod_work;total*",
        "nosuch",
    ] {
        let (rc, out, _) = both(&["-D", def]);
        if def != "nosuch" {
            assert_eq!(rc, 0, "{def}");
            assert!(out.contains(" pbmod:"), "the module's own name: {out}");
        }
    }
    let (_, out, _) = both(&["-D", "helper_add+4"]);
    assert_eq!(out, "p:probe/helper_add pbmod:helper_add+4\n");
    let (_, out, _) = both(&["-D", "mod_work n"]);
    assert!(
        out.starts_with("p:probe/mod_work pbmod:mod_work+0 n=-"),
        "{out}"
    );
    let (_, out, _) = both(&["-F"]);
    assert!(out.contains("mod_work\n"), "{out}");
    both(&["-V", "helper_add"]);
    both(&["-V", "mod_work"]);
    // Optimized: helper_add is inlined (into mod_init with constants perf cannot read) and
    // arguments live in registers or nowhere.
    let ko2 = dir.path().join("pbmod2.ko");
    let o = run({
        let mut c = std::process::Command::new("gcc");
        c.args(["-c", "-g", "-O2", "-fno-asynchronous-unwind-tables", "-o"])
            .arg(&ko2)
            .arg(&src);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let m2 = ko2.to_str().unwrap();
    for args in [
        &["-D", "helper_add a b"][..],
        &["-D", "helper_add s"],
        &["-D", "helper_add"],
        &["-D", "mod_work it n total"],
        &["-D", "mod_work:5 total i"],
        &["-D", "mod_work $vars"],
        &["-V", "helper_add"],
        &["-V", "helper_add", "--range"],
        &["-V", "nosuch"],
    ] {
        let a = [&["-m", m2][..], args].concat();
        assert_eq!(probe("perf", &a), probe("rperf", &a), "-O2 {args:?}");
    }
    // An object with no `struct module` is named by its absolute path, as perf names it.
    let plain = dir.path().join("plain.o");
    let text = include_str!("../../fixtures/workloads/probed_module.c");
    let cut = text.find("/* Only the name").unwrap();
    std::fs::write(dir.path().join("plain.c"), &text[..cut]).unwrap();
    let o = run({
        let mut c = std::process::Command::new("gcc");
        c.args(["-c", "-g", "-O0", "-fno-asynchronous-unwind-tables", "-o"])
            .arg(&plain)
            .arg(dir.path().join("plain.c"));
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let p = plain.to_str().unwrap();
    let (rc, out, _) = probe("rperf", &["-m", p, "-D", "helper_add"]);
    assert_eq!(
        (rc, out.clone()),
        (0, format!("p:probe/helper_add {p}:helper_add+0\n"))
    );
    assert_eq!(probe("perf", &["-m", p, "-D", "helper_add"]).1, out);
    let kprobes = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .any(|t| Path::new(t).join("kprobe_events").exists());
    if !kprobes {
        let (rc, _, err) = probe("rperf", &["-m", m, "helper_add a"]);
        assert_eq!(rc, 218);
        assert!(err.contains("CONFIG_KPROBES"), "{err}");
        // A module by name must be loaded (none is on a kernel without modules).
        let (rc, _, err) = probe("rperf", &["-m", "pbmod", "-D", "helper_add"]);
        assert_eq!(rc, 234);
        assert!(err.contains("Module pbmod is not loaded"), "{err}");
    }
}

/// Lines sharing an address with another line: `-L` leaves them unnumbered and `FUNC:N` /
/// `FILE:N` refuse them with perf's suggestion, at -O0 (a function's `{` shares its entry
/// with the declaration) and -O2 (inlined code, merged lines); line probes are named after
/// the inlined function they are in.
#[test]
fn probe_shared_lines_match_perf() {
    let dir = TempDir::new("probe-lines");
    if perf().is_none() {
        return;
    }
    if !rperf_is_root() {
        skip("perf probe -D reads tracefs: needs root");
        return;
    }
    let src = dir.path().join("pl.c");
    std::fs::write(&src, include_str!("../../fixtures/workloads/probe_lines.c")).unwrap();
    for (name, flags) in [("pl0", "-O0"), ("pl2", "-O2")] {
        let exe = dir.path().join(name);
        let o = run({
            let mut c = std::process::Command::new("gcc");
            c.args(["-g", flags, "-o"]).arg(&exe).arg(&src);
            c
        });
        assert!(o.status.success(), "{}", stderr(&o));
        let x = exe.to_str().unwrap();
        let both = |args: &[&str]| {
            let mut a = vec!["-x", x];
            a.extend(args);
            let p = probe("perf", &a);
            let r = probe("rperf", &a);
            assert_eq!(p, r, "{flags} {args:?}");
            r
        };
        for l in [
            "work",
            "main",
            "tiny",
            "helper_add",
            "pl.c",
            "work:1-5",
            "pl.c:12-18",
        ] {
            let (rc, out, _) = both(&["-L", l]);
            assert_eq!(rc, 0, "{l}");
            // The declaration is line 0, never the brace below it.
            if l == "work" {
                assert!(out.contains("      0  __attribute__"), "{out}");
                assert!(!out.contains("      1  {"), "{out}");
            }
        }
        let mut refused = 0;
        for d in [
            "work:1",
            "work:2",
            "work:4",
            "work:5",
            "main:1",
            "main:2",
            "helper_add:4",
            "pl.c:8",
            "pl.c:10",
            "pl.c:17",
            "pl.c:22",
        ] {
            let (rc, _, err) = both(&["-D", d]);
            if rc != 0 {
                assert_eq!(rc, 254, "{d}");
                assert!(err.contains("This line is sharing the address"), "{err}");
                refused += 1;
            }
        }
        assert!(refused > 0, "{flags}: some line shares its address");
    }
}

/// Kernel functions without a vmlinux: perf finds them in /proc/kallsyms and writes them
/// against `_text` (returns against the function where kprobe_events takes no offset on a
/// return); globs, `.constprop` names, offsets past the end and unknown names as perf.
#[test]
fn probe_kernel_definitions_from_kallsyms_match_perf() {
    if perf().is_none() {
        return;
    }
    if !rperf_is_root() {
        skip("kallsyms addresses and perf probe -D's tracefs read need root");
        return;
    }
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    // A function listed more than once (static functions of one name in several files).
    let mut seen = std::collections::BTreeSet::new();
    let dup = kallsyms
        .lines()
        .filter(|l| !l.contains('[') && (l.contains(" t ") || l.contains(" T ")))
        .filter_map(|l| l.split_whitespace().nth(2))
        .find(|n| n.contains(".constprop") && !seen.insert(*n))
        .map(String::from);
    let mut defs = vec![
        "do_sys_open",
        "do_sys_open%return",
        "grp:ev=do_sys_open+4 dfd=%di %si:u64 +0(%si):string",
        "r=vfs_read%return $retval",
        "do_sys_op*",
        "do_sys_open+1000000",
        "no_such_function_here",
        "do_sys_open:0",
        // Variables and lines need a vmlinux, looked for where perf looks (none here).
        "do_sys_open filename",
        "do_sys_open $params",
        "do_sys_open:2",
        "fs/open.c:100",
    ];
    if let Some(d) = dup.as_deref() {
        defs.push(d);
    }
    for def in defs {
        let p = probe("perf", &["-D", def]);
        let r = probe("rperf", &["-D", def]);
        assert_eq!(p, r, "{def}");
        if def == "do_sys_open" {
            assert!(r.1.starts_with("p:probe/do_sys_open _text+"), "{r:?}");
        }
    }
}

#[test]
fn probe_arguments_by_name_match_perf() {
    let dir = TempDir::new("probe-args");
    let Some((exe, guard)) = setup(&dir, "pbargs", &["-g", "-O0"]) else {
        return;
    };
    let o2 = compile_c(
        dir.path(),
        "pbargso2",
        PROBED_C,
        &["-g", "-O2", "-Dwork=pbargso2_work"],
    );
    let x = exe.to_str().unwrap();
    let w = "pbargs_work";
    // Stack slots through the CFA after the prologue (-O0), registers and location lists
    // (-O2), members through pointers, casts, strings, $params; and the refusals.
    let o0_args = [
        "a s p",
        "s:string p->x p->name:string",
        "$params",
        "a:x32 b=a:u8",
        "p->y",
        "nosuchvar",
        "p.x",
        "a->x",
        "p->q",
        "p:string",
    ];
    for a in o0_args {
        let def = format!("{w} {a}");
        let args = ["-x", x, "-D", &def];
        let (prc, pout, perr) = probe("perf", &args);
        let (rrc, rout, rerr) = probe("rperf", &args);
        assert_eq!((prc, &pout, &perr), (rrc, &rout, &rerr), "{def}");
    }
    for def in [format!("{w}:2 r a"), format!("{w}%return $retval")] {
        let args = ["-x", x, "-D", &def];
        assert_eq!(probe("perf", &args), probe("rperf", &args), "{def}");
    }
    let y = o2.to_str().unwrap();
    for def in [
        "pbargso2_work a s p",
        "pbargso2_work s:string",
        "pbargso2_work $params",
        "main argc argv",
    ] {
        let args = ["-x", y, "-D", def];
        assert_eq!(probe("perf", &args), probe("rperf", &args), "-O2 {def}");
    }
    // -V: the variables with a location at each address.
    for (bin, point) in [
        (x, w.to_string()),
        (x, format!("{w}:2")),
        (y, "main".into()),
    ] {
        let args = ["-x", bin, "-V", &point];
        let (prc, pout, _) = probe("perf", &args);
        let (rrc, rout, rerr) = probe("rperf", &args);
        assert_eq!((prc, rrc), (0, 0), "{rerr}");
        assert_eq!(pout, rout, "-V {point}");
        assert!(rout.contains("\t\tstruct pt"), "{rout}");
    }
    // --range: [VAL]/[INV] and where each location holds, stack slots and location lists.
    for (bin, point) in [
        (x, w.to_string()),
        (y, "pbargso2_work".to_string()),
        (y, "pbargso2_work:2".to_string()),
        (y, "main".to_string()),
    ] {
        let args = ["-x", bin, "-V", &point, "--range"];
        let (prc, pout, _) = probe("perf", &args);
        let (rrc, rout, rerr) = probe("rperf", &args);
        assert_eq!((prc, rrc), (0, 0), "{rerr}");
        assert_eq!(pout, rout, "-V {point} --range");
        assert!(rout.contains("\t\t[VAL]\t"), "{rout}");
    }
    // Added, recorded, printed: the values the fixture passes.
    let def = format!("{w} a s:string p->x");
    let (rrc, _, rerr) = probe("rperf", &["-x", x, "-q", &def]);
    assert_eq!(rrc, 0, "{rerr}");
    assert_eq!(guard.lines().len(), 1);
    let data = dir.path().join("a.data");
    let o = run({
        let mut c = rperf();
        c.args(["record", "-q", "-e", "probe_pbargs:*", "-o"])
            .arg(&data)
            .arg(&exe)
            .arg("3");
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let r = rperf_out(&["script"], &data);
    let p = stdout(&run({
        let mut c = perf().unwrap();
        c.args(["script", "-i"]).arg(&data);
        c
    }));
    assert_eq!(p, r);
    assert!(r.contains(") a=2 s_string=\"abc\" x=3\n"), "{r}");
}

#[test]
fn probe_usdt_markers_match_perf_and_set_semaphores() {
    let dir = TempDir::new("probe-usdt");
    let Some(events) = uprobe_events() else {
        return;
    };
    if perf().is_none() {
        return;
    }
    let has_sdt_h = [
        "/usr/include/sys/sdt.h",
        "/usr/include/x86_64-linux-gnu/sys/sdt.h",
    ]
    .iter()
    .any(|p| Path::new(p).exists());
    if !has_sdt_h {
        skip("<sys/sdt.h> is missing (apt-get install systemtap-sdt-dev)");
        return;
    }
    let exe = compile_c(
        dir.path(),
        "pbusdt",
        include_str!("../../fixtures/workloads/usdt.c"),
        &["-O1"],
    );
    let guard = Guard {
        events,
        group: "sdt_usdt_fx".into(),
    };
    guard.clear();
    let x = exe.to_str().unwrap();
    // perf 6.1 probes only markers it has cached: give it a build-id cache of its own.
    let perf_home = dir.path().join("home");
    std::fs::create_dir_all(&perf_home).unwrap();
    let perf_in_home = |args: &[&str]| {
        let mut c = std::process::Command::new("perf");
        c.env("HOME", &perf_home).args(args);
        let o = run(c);
        (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
    };
    let (rc, _, err) = perf_in_home(&["buildid-cache", "--add", x]);
    assert_eq!(rc, 0, "{err}");
    // `list sdt`: the markers the cache knows, as perf lists them.
    let (_, pls, _) = perf_in_home(&["list", "sdt"]);
    let o = run({
        let mut c = rperf();
        c.env("HOME", &perf_home).args(["list", "sdt"]);
        c
    });
    assert_eq!(pls, stdout(&o));
    assert!(pls.contains("  sdt_usdt_fx:guarded    "), "{pls}");
    let d = [
        "-x",
        x,
        "-D",
        "sdt_usdt_fx:tick",
        "-D",
        "%sdt_usdt_fx:guarded",
    ];
    let mut pd = vec!["probe"];
    pd.extend(d);
    let (prc, pout, perr) = perf_in_home(&pd);
    let (rrc, rout, rerr) = probe("rperf", &d);
    assert_eq!((prc, rrc), (0, 0), "{perr} {rerr}");
    assert_eq!(pout, rout);
    assert!(rout.contains(") arg1=%ax:s64 arg2="), "{rout}");
    // Added by each: the same tracefs lines and messages.
    let add = [
        "-x",
        x,
        "-a",
        "sdt_usdt_fx:tick",
        "-a",
        "%sdt_usdt_fx:guarded",
    ];
    let mut pa = vec!["probe"];
    pa.extend(add);
    let (prc, _, perr) = perf_in_home(&pa);
    assert_eq!(prc, 0, "{perr}");
    let by_perf = guard.lines();
    let (_, pl, _) = probe("perf", &["-l", "sdt_usdt_fx:*"]);
    guard.clear();
    let (rrc, _, rerr) = probe("rperf", &add);
    assert_eq!(rrc, 0, "{rerr}");
    assert_eq!(by_perf, guard.lines());
    assert_eq!(perr, as_perf(&rerr));
    let (_, rl, _) = probe("rperf", &["-l", "sdt_usdt_fx:*"]);
    assert_eq!(pl, rl);
    // The guarded marker fires only because the probe's reference counter sets its
    // semaphore: both count exactly.
    assert_eq!(
        stat_counts(&exe, &["sdt_usdt_fx:tick", "sdt_usdt_fx:guarded"], "7"),
        ["7", "7"]
    );
    let r = record_and_script(&exe, &dir.path().join("u.data"), "sdt_usdt_fx:*", "2");
    assert!(
        r.contains("sdt_usdt_fx:guarded: (") && r.contains(") arg1=1\n"),
        "{r}"
    );
    // A marker the binary does not have: named, with the ones it has.
    let (rrc, _, rerr) = probe("rperf", &["-x", x, "sdt_usdt_fx:nope"]);
    assert_eq!(rrc, 254);
    assert!(rerr.contains("sdt_usdt_fx:tick"), "{rerr}");
}

#[test]
fn probe_elements_globals_and_bitfields_match_perf() {
    let dir = TempDir::new("probe-elems");
    if uprobe_events().is_none() || perf().is_none() {
        return;
    }
    let exe = compile_c(
        dir.path(),
        "pbelems",
        include_str!("../../fixtures/workloads/probed_arrays.c"),
        &["-g", "-O0"],
    );
    let x = exe.to_str().unwrap();
    for def in [
        "use b->v[1]",
        "use arr[2]",
        "use b->name:string",
        "use counter",
        "use $vars",
        "use b->flag",
        "use n[1]",
        "mix u c b e l sc any",
        // A structure is read as its first 64 bits (with perf's note), an array and a
        // member array untyped; $params/$vars standing for nothing is an unknown name.
        "main b",
        "main arr",
        "main b.name",
        "use b->name",
        "main $vars",
        "main $params",
    ] {
        let args = ["-x", x, "-D", def];
        assert_eq!(probe("perf", &args), probe("rperf", &args), "{def}");
    }
    let (_, out, _) = probe("rperf", &["-x", x, "-D", "use b->v[1] arr[2] counter"]);
    assert!(
        out.ends_with(" v=+4(-8(%bp)):s32 arr=+8(-16(%bp)):s32 counter=@counter+0:s32\n"),
        "{out}"
    );
    for args in [
        ["-x", x, "-V", "use", "--externs", "--range"],
        ["-x", x, "-V", "main", "--externs", "--range"],
        ["-x", x, "-V", "mix", "--externs", "--range"],
    ] {
        let (prc, pout, _) = probe("perf", &args);
        let (rrc, rout, rerr) = probe("rperf", &args);
        assert_eq!((prc, rrc), (0, 0), "{rerr}");
        assert_eq!(pout, rout, "{args:?}");
        assert!(rout.contains("\t\t[EXT]\tint\tcounter\n"), "{rout}");
    }
}

#[test]
fn probe_cpp_functions_by_name_match_perf() {
    let dir = TempDir::new("probe-cpp");
    if uprobe_events().is_none() || perf().is_none() {
        return;
    }
    // Built here so that -L finds the source where DWARF says it is.
    let src = dir.path().join("pbcpp.cc");
    std::fs::write(&src, include_str!("../../fixtures/workloads/probed.cc")).unwrap();
    let exe = dir.path().join("pbcpp");
    let o = run({
        let mut c = std::process::Command::new("g++");
        c.args(["-g", "-O0", "-o"]).arg(&exe).arg(&src);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let x = exe.to_str().unwrap();
    // A method by its DWARF name, a function by its demangled name; arguments through
    // `this` after the prologue of a function written on one line.
    for def in [
        "get",
        "freef",
        "get x",
        "get:0",
        "get this->v",
        "freef%return",
    ] {
        let args = ["-x", x, "-D", def];
        let (prc, pout, perr) = probe("perf", &args);
        let (rrc, rout, rerr) = probe("rperf", &args);
        assert_eq!((prc, &pout, &perr), (rrc, &rout, &rerr), "{def}");
        assert_eq!(rrc, 0, "{def}: {rerr}");
    }
    for args in [["-x", x, "-V", "get"], ["-x", x, "-L", "get"]] {
        assert_eq!(probe("perf", &args), probe("rperf", &args), "{args:?}");
    }
}

#[test]
fn probe_in_use_is_not_deleted_as_perf() {
    let dir = TempDir::new("probe-busy");
    let Some((exe, guard)) = setup(&dir, "pbbusy", &["-O0"]) else {
        return;
    };
    let x = exe.to_str().unwrap();
    let (rrc, _, rerr) = probe("rperf", &["-x", x, "-q", "pbbusy_work"]);
    assert_eq!(rrc, 0, "{rerr}");
    // A recording holds the event open while its workload waits; the workload says when it
    // runs (the events are open by then).
    let ready = dir.path().join("ready");
    let mut rec = rperf()
        .args(["record", "-q", "-e", "probe_pbbusy:pbbusy_work", "-o"])
        .arg(dir.path().join("b.data"))
        .args(["--", "sh", "-c"])
        .arg(format!("touch {}; exec sleep 30", ready.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !ready.exists() && t0.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let del = ["-d", "probe_pbbusy:pbbusy_work"];
    let by_perf = probe("perf", &del);
    let by_rperf = probe("rperf", &del);
    let _ = std::process::Command::new("kill")
        .args(["-INT", &rec.id().to_string()])
        .status();
    let _ = rec.wait();
    assert!(ready.exists(), "the recording never started its workload");
    // perf 6.1 also prints "Removed event" for the probe it failed to remove: rperf does not.
    let perf_err: String = by_perf
        .2
        .lines()
        .filter(|l| !l.starts_with("Removed event"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!((by_perf.0, perf_err), (by_rperf.0, by_rperf.2.clone()));
    assert_eq!(by_rperf.0, 254);
    assert!(
        by_rperf.2.contains("Device or resource busy"),
        "{}",
        by_rperf.2
    );
    assert_eq!(guard.lines().len(), 1, "the probe in use was kept");
}

#[test]
fn probe_library_through_its_separate_debug_file_matches_perf() {
    if uprobe_events().is_none() || perf().is_none() {
        return;
    }
    // libc's DWARF is in libc6-dbg's /usr/lib/debug/.build-id/ file (install-deps.sh).
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    let has_debug = rperf_debug_file(libc);
    if !has_debug {
        skip("libc has no separate debug file (apt-get install libc6-dbg)");
        return;
    }
    let l = libc.to_str().unwrap();
    for args in [
        vec!["-x", l, "-D", "__libc_malloc bytes"],
        vec!["-x", l, "-V", "malloc"],
    ] {
        let (prc, pout, perr) = probe("perf", &args);
        let (rrc, rout, rerr) = probe("rperf", &args);
        assert_eq!((prc, rrc), (0, 0), "{args:?}: {perr} {rerr}");
        assert_eq!(pout, rout, "{args:?}");
    }
    // malloc's inline helpers, probed in each copy; a variable on the frame base is out of
    // reach where the debug file has no call frames (perf reads them from that file only).
    for args in [
        vec!["-x", l, "-D", "tcache_get $params"],
        vec!["-x", l, "-D", "tcache_get tc_idx"],
        vec!["-x", l, "-V", "tcache_get", "--range"],
        // A name only a symbol alias knows (DWARF says __libc_malloc): perf finds no
        // variables there and fails with ENOENT.
        vec!["-x", l, "-n", "-D", "malloc bytes"],
    ] {
        assert_eq!(probe("perf", &args), probe("rperf", &args), "{args:?}");
    }
}

/// Whether a debug file for `bin` is installed under /usr/lib/debug/.build-id.
fn rperf_debug_file(bin: &Path) -> bool {
    let o = run({
        let mut c = std::process::Command::new("readelf");
        c.arg("-n").arg(bin);
        c
    });
    stdout(&o)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_string))
        .is_some_and(|id| {
            id.len() > 2
                && Path::new(&format!(
                    "/usr/lib/debug/.build-id/{}/{}.debug",
                    &id[..2],
                    &id[2..]
                ))
                .exists()
        })
}

/// The counts `rperf stat -x,` prints for `events` over `exe ARG`, in order.
fn stat_counts(exe: &Path, events: &[&str], arg: &str) -> Vec<String> {
    let o = run({
        let mut c = rperf();
        c.args(["stat", "-x,"]);
        for e in events {
            c.args(["-e", e]);
        }
        c.arg(exe).arg(arg);
        c
    });
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    err.lines()
        .filter(|l| events.iter().any(|e| l.contains(e)))
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect()
}

/// `rperf record -e PATTERN exe ARG` into `data`, then `script` of it by rperf, which must
/// print what perf's script prints.
fn record_and_script(exe: &Path, data: &Path, pattern: &str, arg: &str) -> String {
    let o = run({
        let mut c = rperf();
        c.args(["record", "-q", "-e", pattern, "-o"])
            .arg(data)
            .arg(exe)
            .arg(arg);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let r = rperf_out(&["script"], data);
    let p = stdout(&run({
        let mut c = perf().unwrap();
        c.args(["script", "-i"]).arg(data);
        c
    }));
    assert_eq!(p, r);
    r
}

/// The `probes` file `buildid-cache --add` leaves beside a cached binary under `home`.
fn cached_probes(home: &Path, exe: &Path) -> String {
    let id = stdout(&run({
        let mut c = rperf();
        c.args(["buildid-list", "-i"]).arg(exe);
        c
    }));
    let rel = exe.strip_prefix("/").unwrap();
    let p = home.join(".debug").join(rel).join(id.trim()).join("probes");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn buildid_cache_writes_perf_sdt_probes_file() {
    let dir = TempDir::new("probe-sdtcache");
    if perf().is_none() {
        return;
    }
    if ![
        "/usr/include/sys/sdt.h",
        "/usr/include/x86_64-linux-gnu/sys/sdt.h",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
    {
        skip("<sys/sdt.h> is missing (apt-get install systemtap-sdt-dev)");
        return;
    }
    let cached = compile_c(
        dir.path(),
        "sdtcache",
        include_str!("../../fixtures/workloads/usdt_cache.c"),
        &["-O2"],
    );
    let guarded = compile_c(
        dir.path(),
        "sdtguard",
        include_str!("../../fixtures/workloads/usdt.c"),
        &["-O1"],
    );
    let mut bins = vec![cached.clone(), guarded];
    // A distribution's binary with markers, when there is one (Debian's python has 8).
    let python = Path::new("/usr/bin/python3.11");
    if python.exists() {
        bins.push(python.to_path_buf());
    }
    let add = |tool: &str, home: &Path, exe: &Path| {
        let mut c = if tool == "perf" {
            std::process::Command::new("perf")
        } else {
            rperf()
        };
        c.env("HOME", home)
            .args(["buildid-cache", "--add"])
            .arg(exe);
        let o = run(c);
        assert!(o.status.success(), "{tool}: {}", stderr(&o));
    };
    let (ph, rh) = (dir.path().join("perf-home"), dir.path().join("rperf-home"));
    for exe in &bins {
        add("perf", &ph, exe);
        add("rperf", &rh, exe);
        let by_perf = cached_probes(&ph, exe);
        assert_eq!(by_perf, cached_probes(&rh, exe), "{}", exe.display());
        assert!(by_perf.starts_with("%sdt_"), "{by_perf}");
        // Adding again changes nothing.
        add("rperf", &ph, exe);
        assert_eq!(by_perf, cached_probes(&ph, exe));
    }
    // One entry for the two `step` markers, the constant operand left out but counted, and
    // the scaled-index operand left out before a kept one.
    let text = cached_probes(&rh, &cached);
    let x = cached.to_str().unwrap();
    let step: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "%sdt_cachefx:step=step")
        .skip(1)
        .take_while(|l| l.starts_with("p:"))
        .collect();
    assert_eq!(step.len(), 2, "{text}");
    assert!(step
        .iter()
        .all(|l| l.starts_with(&format!("p:sdt_cachefx/step {x}:0x"))));
    assert!(!text.contains("arg3="), "{text}");
    assert!(text.contains(" arg2=%dx:u8\n"), "{text}");
    // Entries already there (a `perf probe --cache` one, a marker's stale line) are kept
    // and merged as perf merges them.
    let file = {
        let id = stdout(&run({
            let mut c = rperf();
            c.args(["buildid-list", "-i"]).arg(&cached);
            c
        }));
        ph.join(".debug")
            .join(cached.strip_prefix("/").unwrap())
            .join(id.trim())
            .join("probes")
    };
    let seeded = format!(
        "#probe_sdtcache:main=main\np:probe_sdtcache/main {x}:0x1060\n\
         %sdt_cachefx:done=done\np:sdt_cachefx/done {x}:0x1\n"
    );
    std::fs::write(&file, &seeded).unwrap();
    add("perf", &ph, &cached);
    let by_perf = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, &seeded).unwrap();
    add("rperf", &ph, &cached);
    assert_eq!(by_perf, std::fs::read_to_string(&file).unwrap());
    assert!(
        by_perf.starts_with("#probe_sdtcache:main=main\n"),
        "{by_perf}"
    );
    // perf probes the markers from that file: `-D` prints its lines.
    if rperf_is_root() {
        let d = ["-x", x, "-D", "sdt_cachefx:step"];
        let mut c = std::process::Command::new("perf");
        c.env("HOME", &rh).arg("probe").args(d);
        let p = stdout(&run(c));
        let mut c = rperf();
        c.env("HOME", &rh).arg("probe").args(d);
        assert_eq!(p, stdout(&run(c)));
        assert_eq!(p.lines().collect::<Vec<_>>(), step);
    }
}

/// `-k VMLINUX`: kernel probe points and arguments found in the file's DWARF as perf finds
/// them. No vmlinux with DWARF is at hand, so the fixture stands in for one (perf reads any
/// ELF with DWARF there); its build-id is not the running kernel's, which `-n` reports as
/// perf does, and adding a probe says this kernel has no kprobes when it has none.
#[test]
fn probe_kernel_points_from_vmlinux_dwarf_match_perf() {
    let dir = TempDir::new("probe-vmlinux");
    if perf().is_none() {
        return;
    }
    if !rperf_is_root() {
        skip("perf probe -D reads tracefs: needs root");
        return;
    }
    // Built here (not by compile_c) so that the DWARF names a source file -L can read.
    let src = dir.path().join("probed.c");
    std::fs::write(&src, PROBED_C).unwrap();
    for (name, flags) in [("pbk0", "-O0"), ("pbk2", "-O2")] {
        let exe = dir.path().join(name);
        let o = run({
            let mut c = std::process::Command::new("gcc");
            c.args(["-g", flags, "-o"]).arg(&exe).arg(&src);
            c
        });
        assert!(o.status.success(), "{}", stderr(&o));
        let k = exe.to_str().unwrap();
        let both = |args: &[&str]| {
            let mut a = vec!["-k", k];
            a.extend(args);
            let p = probe("perf", &a);
            let r = probe("rperf", &a);
            assert_eq!(p, r, "{flags} {args:?}");
            r
        };
        for def in [
            "work a s p->x",
            "work $params",
            "work s:string",
            "work p->name:string",
            "work%return $retval",
            "work:2",
            "work+4",
            "probed.c:8",
            "main",
            "work nope",
        ] {
            let (rc, out, _) = both(&["-D", def]);
            if def != "work nope" {
                assert_eq!(rc, 0, "{def}");
                assert!(out.starts_with(&format!("{}:probe/", &out[..1])), "{out}");
                assert!(!out.contains(k), "a kprobe names no file: {out}");
            }
        }
        let (_, out, _) = both(&["-D", "work a"]);
        assert!(out.starts_with("p:probe/work work+0 a="), "{out}");
        for v in [
            &["-V", "work"][..],
            &["-V", "work", "--range"],
            &["-V", "main"],
        ] {
            let (rc, out, _) = both(v);
            assert_eq!(rc, 0);
            assert!(out.contains("\t@<"), "{out}");
        }
        let (rc, out, _) = both(&["-L", "work"]);
        assert_eq!(rc, 0);
        if flags == "-O0" {
            assert!(out.contains("      1      int r = a * 2 + p->x;"), "{out}");
        }
        // Adding needs the running kernel's own vmlinux: a dry run says it is not.
        let (rc, _, err) = both(&["-n", "work a"]);
        assert_eq!(rc, 254);
        assert!(err.contains("Mismatching build id"), "{err}");
    }
    let kprobes = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .any(|t| Path::new(t).join("kprobe_events").exists());
    if !kprobes {
        let exe = dir.path().join("pbk0");
        let (rc, _, err) = probe("rperf", &["-k", exe.to_str().unwrap(), "work a"]);
        assert_ne!(rc, 0);
        assert!(err.contains("CONFIG_KPROBES"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// The inline functions' fixture (see the file): `pbinl_step` inlined twice and out of line.
const PROBE_INLINE_C: &str = include_str!("../../fixtures/workloads/probe_inline.c");

#[test]
fn probe_inlined_copies_match_perf_and_count_exactly() {
    let dir = TempDir::new("probe-inline");
    let Some((exe, guard)) = setup_fixture(
        &dir,
        "pbinl",
        PROBE_INLINE_C,
        &["-g", "-O2", "-Dstep=pbinl_step"],
    ) else {
        return;
    };
    let x = exe.to_str().unwrap();
    // -D: one definition per copy in perf's order, each reading its own registers.
    let specs = [
        "pbinl_step",
        "pbinl_step a b",
        "pbinl_step $params",
        "pbinl_step+3",
        "pbinl_step:0 a",
        "pbinl_step@pbinl.c",
        "pbinl_step:2 r",
        "pbinl_step%return",
        "first $vars",
    ];
    for s in specs {
        let (prc, pout, perr) = probe("perf", &["-x", x, "-D", s]);
        let (rrc, rout, rerr) = probe("rperf", &["-x", x, "-D", s]);
        assert_eq!(
            (prc, &pout),
            (rrc, &rout),
            "-D {s}: perf {perr} rperf {rerr}"
        );
        assert_eq!(prc, 0, "{s}: {perr}");
    }
    let (_, defs, _) = probe("rperf", &["-x", x, "-D", "pbinl_step a b"]);
    assert_eq!(
        defs.lines().count(),
        3,
        "two inlined copies and one out of line: {defs}"
    );
    for v in [
        &["-V", "pbinl_step"][..],
        &["-V", "pbinl_step", "--range"],
        &["-V", "pbinl_step%return"],
        &["-V", "pbinl.c:24", "--externs"],
    ] {
        let (_, pout, _) = probe("perf", &[&["-x", x][..], v].concat());
        let (_, rout, rerr) = probe("rperf", &[&["-x", x][..], v].concat());
        assert_eq!(pout, rout, "{v:?}: {rerr}");
    }
    // -n: perf's messages, nothing written.
    let (_, _, perr) = probe("perf", &["-x", x, "-n", "pbinl_step a b"]);
    let (_, _, rerr) = probe("rperf", &["-x", x, "-n", "pbinl_step a b"]);
    assert_eq!(perr, as_perf(&rerr));
    assert!(guard.lines().is_empty(), "-n wrote tracefs");
    // Added: the same tracefs lines and -l listing as perf's.
    let (prc, _, perr) = probe("perf", &["-x", x, "-q", "pbinl_step a b"]);
    assert_eq!(prc, 0, "{perr}");
    let by_perf = guard.lines();
    let (_, perf_list, _) = probe("perf", &["-l", "probe_pbinl:*"]);
    guard.clear();
    let (rrc, _, rerr) = probe("rperf", &["-x", x, "pbinl_step a b"]);
    assert_eq!(rrc, 0, "{rerr}");
    assert_eq!(by_perf, guard.lines());
    assert_eq!(by_perf.len(), 3);
    let (_, rperf_list, _) = probe("rperf", &["-l", "probe_pbinl:*"]);
    assert_eq!(perf_list, rperf_list);
    // Every call counts, through either inlined copy or the pointer: 12 + 6 + 4.
    let counted = stat_counts(&exe, &["probe_pbinl:pbinl_step"], "12");
    let by_perf = stderr(&run({
        let mut c = perf().unwrap();
        c.args(["stat", "-x,", "-e", "probe_pbinl:pbinl_step"])
            .arg(&exe)
            .arg("12");
        c
    }));
    assert_eq!(counted, ["22"]);
    assert!(by_perf.lines().any(|l| l.starts_with("22,")), "{by_perf}");
    // Each copy fetches its own a and b: first(i, 4) runs step(i, 4), second(i, 4)
    // step(4, i), the pointer step(i, 2).
    let data = dir.path().join("p.data");
    let script = record_and_script(&exe, &data, "probe_pbinl:pbinl_step", "4");
    let mut pairs: Vec<&str> = script
        .lines()
        .filter_map(|l| l.split_once(") ").map(|(_, args)| args))
        .collect();
    pairs.sort_unstable();
    let mut want = vec![
        "a=0 b=4", "a=1 b=4", "a=2 b=4", "a=3 b=4", "a=4 b=0", "a=4 b=2", "a=0 b=2", "a=3 b=2",
    ];
    want.sort_unstable();
    assert_eq!(pairs, want, "{script}");
    guard.clear();

    // Inlined only: no return to probe, and a constant argument perf cannot read.
    let only = compile_c(
        dir.path(),
        "pbinlonly",
        PROBE_INLINE_C,
        &["-g", "-O2", "-Dstep=pbinl_step", "-DONLY_INLINED"],
    );
    let o = only.to_str().unwrap();
    for s in [
        "pbinl_step",
        "pbinl_step $params",
        "pbinl_step%return",
        "pbinl_step b",
        "pbinl_step a b",
    ] {
        let p = probe("perf", &["-x", o, "-D", s]);
        let r = probe("rperf", &["-x", o, "-D", s]);
        assert_eq!(p, r, "-D {s}");
    }
    // -V's failures in perf's words and statuses.
    for v in ["pbinl_step:1", "nosuch", "pbinl.c:2", "pbinl_step%return"] {
        let p = probe("perf", &["-x", o, "-V", v]);
        assert_eq!(p, probe("rperf", &["-x", o, "-V", v]), "-V {v}");
    }
    let (rc, _, err) = probe("rperf", &["-x", o, "-D", "pbinl_step b"]);
    assert_eq!(
        (rc, err.lines().next()),
        (
            161,
            Some("Sorry, we don't support this variable location yet.")
        )
    );
}

#[test]
fn probe_constants_are_fetched_as_immediates_as_perf() {
    let dir = TempDir::new("probe-const");
    let Some((exe, _guard)) = setup_fixture(
        &dir,
        "pbconst",
        include_str!("../../fixtures/workloads/probe_const.c"),
        &["-g", "-O2"],
    ) else {
        return;
    };
    let x = exe.to_str().unwrap();
    // Listed as perf lists them (and left out of --range's listing, as perf does), fetched
    // as `\VALUE` immediates, and refused as strings with perf's words.
    for args in [
        vec!["-x", x, "-V", "scale"],
        vec!["-x", x, "-V", "scale", "--range"],
        vec!["-x", x, "-n", "-D", "scale x k big"],
        vec!["-x", x, "-n", "-D", "scale $vars"],
        vec!["-x", x, "-n", "-D", "scale k:x8"],
        vec!["-x", x, "-n", "-D", "scale k:string"],
        vec!["-x", x, "-n", "-D", "scale x:string"],
    ] {
        assert_eq!(probe("perf", &args), probe("rperf", &args), "{args:?}");
    }
    let (_, def, _) = probe("rperf", &["-x", x, "-n", "-D", "scale k big"]);
    assert!(def.ends_with(" k=\\7:s32 big=\\-3:s64\n"), "{def}");
    // The kernel takes the immediates: every call prints them.
    let (rc, _, err) = probe("rperf", &["-q", "-x", x, "scale x k big"]);
    assert_eq!(rc, 0, "{err}");
    let out = record_and_script(&exe, &dir.path().join("c.data"), "probe_pbconst:scale", "4");
    let calls: Vec<&str> = out.lines().filter(|l| l.contains(" k=7 big=-3")).collect();
    assert_eq!(calls.len(), 4, "{out}");
    for (i, l) in calls.iter().enumerate() {
        assert!(l.contains(&format!(" x={i} k=7 big=-3")), "{out}");
    }
}
