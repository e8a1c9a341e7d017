//! Containers and cgroups: a program run from a path that exists only inside its own mount
//! namespace is named by report after it is gone (perf 6.1 shows raw addresses), by perf
//! reading rperf's file, and on "another machine" through `rperf archive`; samples carry
//! their cgroup (`--all-cgroups`, `report --sort cgroup`) as perf's do.
use std::path::Path;
use std::process::Command;

use crate::common::*;

const CONTAINED_C: &str = include_str!("../../fixtures/workloads/contained.c");

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| stdout(&o).trim() == "0")
        .unwrap_or(false)
}

/// Whether this test may make mount namespaces (root with `unshare`), saying why not.
fn can_unshare() -> bool {
    if !is_root() {
        skip("container tests need root (unshare -m and a tmpfs mount)");
        return false;
    }
    let ok = Command::new("unshare")
        .args(["-m", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip("unshare -m does not work here (util-linux missing, or no CAP_SYS_ADMIN)");
    }
    ok
}

/// The shell line that runs `exe` in a new mount namespace from `inside`, a directory
/// covered there by a tmpfs: the copy exists only in that namespace, gone when it ends.
fn contained_line(exe: &Path, inside: &Path) -> String {
    format!(
        "mount -t tmpfs none {i} && cp {e} {i}/ && exec {i}/contained 300",
        i = inside.display(),
        e = exe.display()
    )
}

/// `tool report --stdio` rows of the dso `contained` (HOME set for perf's ~/.debug).
fn contained_rows(tool: Command, data: &Path, extra: &[&str]) -> Vec<String> {
    let mut c = tool;
    c.args(["report", "--stdio", "-i"]).arg(data).args(extra);
    let o = run(c);
    assert!(o.status.success(), "report: {}", stderr(&o));
    stdout(&o)
        .lines()
        .filter(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            !l.starts_with('#') && w.windows(2).any(|p| p == ["contained", "[.]"])
        })
        .map(String::from)
        .collect()
}

#[test]
fn a_binary_only_inside_a_mount_namespace_is_named_after_it_is_gone() {
    if !can_unshare() {
        return;
    }
    let d = TempDir::new("contained");
    let exe = compile_c(
        d.path(),
        "contained",
        CONTAINED_C,
        &["-O1", "-g", "-fno-omit-frame-pointer"],
    );
    let inside = d.path().join("inside");
    std::fs::create_dir(&inside).unwrap();
    let home = d.path().join("home");
    let cache = home.join(".debug");
    let line = contained_line(&exe, &inside);
    let record = |extra: &[&str], out: &str| {
        let mut c = rperf();
        c.env("PERF_BUILDID_DIR", &cache)
            .args(["record", "-q", "-g", "-o"])
            .arg(d.path().join(out))
            .args(extra)
            .args(["--", "unshare", "-m", "sh", "-c", &line]);
        let o = run(c);
        assert!(o.status.success(), "rperf record: {}", stderr(&o));
        d.path().join(out)
    };
    let data = record(&[], "r.data");
    // The namespace is gone, and with it the only copy at that path.
    assert!(!inside.join("contained").exists());
    let rperf_in = |h: &Path| {
        let mut c = rperf();
        c.env("PERF_BUILDID_DIR", h);
        c
    };
    let rows = contained_rows(rperf_in(&cache), &data, &[]);
    assert!(
        rows.iter().any(|r| r.contains("contained_inner")),
        "report does not name the contained binary's functions: {rows:#?}"
    );
    // script and the call graph see it too.
    let o = run({
        let mut c = rperf_in(&cache);
        c.args(["script", "-F", "ip,sym", "-i"]).arg(&data);
        c
    });
    assert!(stdout(&o).contains("contained_outer"), "{}", stderr(&o));
    let o = run({
        let mut c = rperf_in(&cache);
        c.args(["flamegraph", "--format", "folded", "-o", "-", "-i"])
            .arg(&data);
        c
    });
    assert!(
        stdout(&o).contains(";contained_inner"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let empty = d.path().join("empty");
    // On another machine: the archive holds the captured binary at its recorded path.
    let o = run({
        let mut c = rperf_in(&cache);
        c.arg("archive").arg(&data);
        c
    });
    assert!(o.status.success(), "archive: {}", stderr(&o));
    let sym = d.path().join("sym");
    std::fs::create_dir(&sym).unwrap();
    let o = run({
        let mut c = Command::new("tar");
        c.arg("xjf")
            .arg(d.path().join("r.data.tar.bz2"))
            .arg("-C")
            .arg(&sym);
        c
    });
    assert!(o.status.success(), "tar: {}", stderr(&o));
    let rows = contained_rows(rperf_in(&empty), &data, &["--symfs", sym.to_str().unwrap()]);
    assert!(
        rows.iter().any(|r| r.contains("contained_inner")),
        "{rows:#?}"
    );

    let Some(_) = perf() else { return };
    // perf reads rperf's capture from its ~/.debug.
    let mut p = Command::new("perf");
    p.env("HOME", &home);
    let rows = contained_rows(p, &data, &[]);
    assert!(
        rows.iter().any(|r| r.contains("contained_inner")),
        "{rows:#?}"
    );
    // perf 6.1's own recording of the same run shows raw addresses (the improvement).
    let pdata = d.path().join("p.data");
    let o = run({
        let mut c = Command::new("perf");
        c.env("HOME", &home)
            .args(["record", "-q", "-o"])
            .arg(&pdata)
            .args(["--", "unshare", "-m", "sh", "-c", &line]);
        c
    });
    assert!(o.status.success(), "perf record: {}", stderr(&o));
    let mut p = Command::new("perf");
    p.env("HOME", &empty);
    let rows = contained_rows(p, &pdata, &[]);
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.contains("[.] 0x")),
        "{rows:#?}"
    );
}

/// The cgroup v2 mount perf_event follows here, or why the cgroup tests cannot run (a v1
/// perf_event hierarchy names cgroups other than the v2 ids samples carry).
fn cgroup2_root() -> Option<std::path::PathBuf> {
    if !is_root() {
        skip("cgroup tests need root (they make two cgroups)");
        return None;
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut v2 = None;
    for l in mounts.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        if f[2] == "cgroup" && f[3].split(',').any(|o| o == "perf_event") {
            skip("perf_event is a cgroup v1 hierarchy here: sample ids are v2's");
            return None;
        }
        if f[2] == "cgroup2" && v2.is_none() {
            v2 = Some(std::path::PathBuf::from(f[1]));
        }
    }
    if v2.is_none() {
        skip("no cgroup2 mount");
    }
    v2
}

/// Two cgroups made for a test, removed when dropped (their tasks have ended by then).
struct Cgroups(Vec<std::path::PathBuf>);

impl Drop for Cgroups {
    fn drop(&mut self) {
        for c in &self.0 {
            // A cgroup is removable once its last task has exited; give stragglers a moment.
            for _ in 0..50 {
                if std::fs::remove_dir(c).is_ok() || !c.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// Report lines without the comment header.
fn rows(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(String::from)
        .collect()
}

fn report(tool: &str, data: &Path, sort: &str) -> Vec<String> {
    let mut c = if tool == "perf" {
        Command::new("perf")
    } else {
        rperf()
    };
    c.args(["report", "--stdio", "--sort", sort, "-i"])
        .arg(data);
    let o = run(c);
    assert!(
        o.status.success(),
        "{tool} report --sort {sort}: {}",
        stderr(&o)
    );
    rows(&stdout(&o))
}

#[test]
fn samples_carry_their_cgroup_as_in_perf() {
    let Some(root) = cgroup2_root() else { return };
    let d = TempDir::new("cgroups");
    let burn = compile_c(d.path(), "burn", BURN_C, &["-O1"]);
    let tag = format!("rperf-test-{}", std::process::id());
    let names = [format!("{tag}-a"), format!("{tag}-b")];
    let cgs = Cgroups(names.iter().map(|n| root.join(n)).collect());
    for c in &cgs.0 {
        std::fs::create_dir(c).unwrap();
    }
    // Two workloads, each moving itself into its cgroup before it execs the burner.
    let script = cgs
        .0
        .iter()
        .map(|c| {
            format!(
                "sh -c 'echo $$ > {}/cgroup.procs && exec {} 200' &\n",
                c.display(),
                burn.display()
            )
        })
        .collect::<String>()
        + "wait\n";
    let sh = d.path().join("two.sh");
    std::fs::write(&sh, script).unwrap();
    let sh = sh.to_str().unwrap();
    let r = record_with(
        "rperf",
        d.path(),
        "r.data",
        &["--all-cgroups", "--namespaces", "sh", sh],
    )
    .unwrap();
    let by_cgroup = report("rperf", &r, "cgroup,comm");
    for n in &names {
        assert!(
            by_cgroup
                .iter()
                .any(|l| l.contains(&format!("/{n} ")) && l.trim_end().ends_with("burn")),
            "no burn row in cgroup /{n}: {by_cgroup:#?}"
        );
    }
    // -G: only the first cgroup's tasks, system-wide.
    let g = record_with(
        "rperf",
        d.path(),
        "g.data",
        &["-a", "-G", &names[0], "--all-cgroups", "sh", sh],
    )
    .unwrap();
    let only = report("rperf", &g, "cgroup");
    assert!(
        !only.is_empty()
            && only
                .iter()
                .all(|l| l.trim_end().ends_with(&format!("/{}", names[0]))),
        "{only:#?}"
    );
    // A cgroup that does not exist: one line naming it, nothing written.
    let o = run({
        let mut c = rperf();
        c.args(["record", "-q", "-a", "-G", &format!("{tag}-none"), "-o"])
            .arg(d.path().join("x.data"))
            .args(["true"]);
        c
    });
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("no access to cgroup")
            && err.contains(&format!("{tag}-none"))
            && err.lines().count() == 1,
        "{err}"
    );
    assert!(!d.path().join("x.data").exists());

    if perf().is_none() {
        return;
    }
    // perf reads rperf's file alike, and rperf perf's.
    for sort in ["cgroup", "cgroup,comm", "comm,cgroup_id"] {
        assert_eq!(
            report("perf", &r, sort),
            report("rperf", &r, sort),
            "--sort {sort}"
        );
    }
    let p = record_with(
        "perf",
        d.path(),
        "p.data",
        &["--all-cgroups", "--namespaces", "sh", sh],
    )
    .unwrap();
    for sort in ["cgroup", "cgroup,comm", "comm,cgroup_id"] {
        assert_eq!(
            report("perf", &p, sort),
            report("rperf", &p, sort),
            "--sort {sort}"
        );
    }
    // script prints the cgroup and namespace records among the samples as perf does.
    for data in [&r, &p] {
        let script = |tool: &str| {
            let mut c = if tool == "perf" {
                Command::new("perf")
            } else {
                rperf()
            };
            c.args(["script", "--show-cgroup-events", "--show-namespace-events"])
                .args(["-F", "comm,tid,time,event", "-i"])
                .arg(data);
            let o = run(c);
            assert!(o.status.success(), "{tool} script: {}", stderr(&o));
            stdout(&o)
        };
        let ours = script("rperf");
        for n in &names {
            assert!(
                ours.lines()
                    .any(|l| l.contains("PERF_RECORD_CGROUP cgroup: ")
                        && l.ends_with(&format!(" /{n}"))),
                "{ours}"
            );
        }
        assert!(ours.contains("PERF_RECORD_NAMESPACES"), "{ours}");
        assert_eq!(ours, script("perf"), "{}", data.display());
    }
}

#[test]
fn a_pid_as_a_container_sees_it_is_translated_for_p() {
    if !can_unshare() {
        return;
    }
    let d = TempDir::new("pidns");
    let burn = compile_c(d.path(), "burn", BURN_C, &["-O1"]);
    // A new pid namespace: sh is its pid 1, the burner it starts its pid 2.
    let mut ns = Command::new("unshare")
        .args(["-p", "-f", "--kill-child", "sh", "-c"])
        .arg(format!("{} 20000 & wait", burn.display()))
        .spawn()
        .unwrap();
    let kids = format!("/proc/{0}/task/{0}/children", ns.id());
    let mut init = None;
    for _ in 0..200 {
        init = std::fs::read_to_string(&kids)
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok());
        let has_burner = init.is_some_and(|i| {
            std::fs::read_to_string(format!("/proc/{i}/task/{i}/children"))
                .is_ok_and(|c| !c.trim().is_empty())
        });
        if has_burner {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let init = init.expect("the namespace's sh did not start");
    let out = d.path().join("r.data");
    let o = run({
        let mut c = rperf();
        c.args(["record", "-q", "-o"])
            .arg(&out)
            .args(["-p", &format!("2@{init}"), "sleep", "0.3"]);
        c
    });
    let bad = run({
        let mut c = rperf();
        c.args(["record", "-q", "-o"])
            .arg(d.path().join("x.data"))
            .args(["-p", &format!("99@{init}"), "true"]);
        c
    });
    let _ = ns.kill();
    let _ = ns.wait();
    assert!(o.status.success(), "{}", stderr(&o));
    let comms = report("rperf", &out, "comm");
    assert!(
        !comms.is_empty() && comms.iter().all(|l| l.trim_end().ends_with("burn")),
        "{comms:#?}"
    );
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("no process 99 in the pid namespace"),
        "{}",
        stderr(&bad)
    );
}
