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
    // It is the capture that names them: without it, raw addresses as perf shows.
    let bare = record(&["-N"], "bare.data");
    let empty = d.path().join("empty");
    let rows = contained_rows(rperf_in(&empty), &bare, &[]);
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.contains("[.] 0x")),
        "{rows:#?}"
    );

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
