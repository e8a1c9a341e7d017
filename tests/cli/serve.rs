//! `stat -G/--for-each-cgroup` against perf stat on real cgroups, and `stat --serve`
//! scraped by a real Prometheus server, checked through Prometheus' own query API.
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const CGROUP_PAGES_C: &str = include_str!("../../fixtures/workloads/cgroup_pages.c");

/// Where perf looks cgroups up: the v1 perf_event hierarchy, else cgroup2.
fn cgroup_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let mut v2 = None;
    for l in mounts.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        if f[2] == "cgroup" && f[3].split(',').any(|o| o == "perf_event") {
            return Some(PathBuf::from(f[1]));
        }
        if f[2] == "cgroup2" && v2.is_none() {
            v2 = Some(PathBuf::from(f[1]));
        }
    }
    v2
}

/// Test cgroups, removed (once empty) when dropped.
struct Cgroups {
    mount: PathBuf,
    names: Vec<String>,
}

impl Cgroups {
    fn new(tag: &str, n: usize) -> Option<Cgroups> {
        let Some(mount) = cgroup_mount() else {
            skip("no cgroup file system is mounted");
            return None;
        };
        let names: Vec<String> = (0..n)
            .map(|i| format!("rperf-test-{tag}-{}-{i}", std::process::id()))
            .collect();
        for name in &names {
            if let Err(e) = std::fs::create_dir(mount.join(name)) {
                skip(&format!(
                    "cannot create a cgroup under {} ({e}): run as root",
                    mount.display()
                ));
                return None;
            }
        }
        Some(Cgroups { mount, names })
    }
    fn procs(&self, i: usize) -> String {
        self.mount
            .join(&self.names[i])
            .join("cgroup.procs")
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = std::fs::remove_dir(self.mount.join(n));
        }
    }
}

/// Runs the fixture in cgroup `i`, returning the faults it counted itself.
fn touch_in(exe: &Path, cg: &Cgroups, i: usize, pages: u32) -> f64 {
    let o = run({
        let mut c = Command::new(exe);
        c.arg(cg.procs(i)).arg(pages.to_string());
        c
    });
    assert!(o.status.success(), "fixture failed: {}", stderr(&o));
    stdout(&o).trim().parse().unwrap()
}

#[test]
fn for_each_cgroup_counts_and_layout_match_perf() {
    let Some(cg) = Cgroups::new("stat", 2) else {
        return;
    };
    let dir = TempDir::new("cgstat");
    let exe = compile_c(dir.path(), "cgroup_pages", CGROUP_PAGES_C, &["-O1"]);
    let script = format!(
        "{e} {a} 3000 >/dev/null && {e} {b} 1000 >/dev/null",
        e = exe.display(),
        a = cg.procs(0),
        b = cg.procs(1)
    );
    let list = cg.names.join(",");
    let stat = |mut c: Command, csv: bool| -> String {
        c.args(["stat", "-a", "-e", "page-faults,cpu-clock"]);
        if csv {
            c.arg("-x,");
        }
        c.args(["--for-each-cgroup", &list, "--", "sh", "-c", &script]);
        let o = run(c);
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o)
    };
    let Some(p) = perf() else { return };
    let pc = stat(p, true);
    let rc = stat(rperf(), true);
    let rows = |t: &str| -> Vec<Vec<String>> {
        t.lines()
            .filter(|l| l.contains(",page-faults,") || l.contains(",cpu-clock,"))
            .map(|l| l.split(',').map(String::from).collect())
            .collect()
    };
    let (pr, rr) = (rows(&pc), rows(&rc));
    assert_eq!(pr.len(), 4, "{pc}");
    assert_eq!(rr.len(), 4, "{rc}");
    for (p, r) in pr.iter().zip(&rr) {
        // unit, event, cgroup in perf's places; values close.
        assert_eq!(p[1..4], r[1..4], "perf {p:?} rperf {r:?}");
        if p[2] == "page-faults" {
            let (pv, rv): (f64, f64) = (p[0].parse().unwrap(), r[0].parse().unwrap());
            assert!((pv - rv).abs() <= 16.0, "perf {pv} vs rperf {rv}");
            let want = if p[3] == cg.names[0] { 3000.0 } else { 1000.0 };
            assert!(
                (rv - want).abs() <= 16.0,
                "{want} pages touched, rperf saw {rv}"
            );
        }
    }
    // The human layout: the cgroup after the event name, in perf's columns.
    let human = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.contains("page-faults"))
            .map(|l| {
                let l = l.trim_start();
                let cut = l.find(|c: char| c.is_whitespace()).unwrap();
                l[cut..].split(" #").next().unwrap().trim_end().to_string()
            })
            .collect()
    };
    let Some(p) = perf() else { return };
    let (ph, rh) = (human(&stat(p, false)), human(&stat(rperf(), false)));
    assert_eq!(ph.len(), 2);
    assert_eq!(ph, rh);
}

#[test]
fn cgroup_bad_input_is_one_line() {
    for (args, want) in [
        (
            &["-a", "-e", "page-faults", "-G", "rperf-no-such-cgroup"][..],
            "no access to cgroup",
        ),
        (&["-e", "page-faults", "-G", "x"][..], "add -a"),
        (
            &[
                "-a",
                "-e",
                "page-faults",
                "-G",
                "a",
                "--for-each-cgroup",
                "b",
            ][..],
            "cannot be used together",
        ),
        (
            &["-a", "-e", "page-faults", "-G", "a,b"][..],
            "one cgroup per event",
        ),
    ] {
        let o = run({
            let mut c = rperf();
            c.arg("stat").args(args).args(["--", "true"]);
            c
        });
        let e = stderr(&o);
        assert!(!o.status.success(), "{args:?}");
        assert!(e.contains(want), "{args:?}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{args:?}: {e}");
    }
}

#[test]
fn serve_bad_address_or_taken_port_is_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    for (addr, want) in [
        (format!("127.0.0.1:{port}"), "pick a free port"),
        ("not-an-address".to_string(), "expected ADDR:PORT"),
        ("127.0.0.1:70000".to_string(), "expected ADDR:PORT"),
        (
            "192.0.2.7:9464".to_string(),
            "not an address of this machine",
        ),
    ] {
        let o = run({
            let mut c = rperf();
            c.args(["stat", "--serve", &addr, "-e", "page-faults", "-a"]);
            c
        });
        let e = stderr(&o);
        assert!(!o.status.success(), "{addr}");
        assert!(e.contains(want), "{addr}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{addr}: {e}");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.0 GET: (status line, headers and body).
fn http_get(port: u16, path: &str, accept: Option<&str>) -> Option<(String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{accept}\r\n").ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    let (head, body) = r.split_once("\r\n\r\n")?;
    Some((head.to_string(), body.to_string()))
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The first value of an instant query's result vector (None while it is empty).
fn query(port: u16, q: &str, at: Option<f64>) -> Option<f64> {
    let time = at.map(|t| format!("&time={t:.3}")).unwrap_or_default();
    let (_, body) = http_get(
        port,
        &format!("/api/v1/query?query={}{time}", url_encode(q)),
        None,
    )?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    assert_eq!(v["status"], "success", "{q}: {body}");
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Kills a child of the test when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Killed {
    /// SIGTERMs a served rperf, waits for it to stop successfully, and returns its stderr.
    fn terminate(&mut self) -> String {
        assert!(Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap()
            .success());
        let status = poll(10, "rperf to stop on SIGTERM", || {
            self.0.try_wait().unwrap()
        });
        let mut err = String::new();
        self.0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(status.success(), "{err}");
        err
    }
}

fn poll<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn prometheus_scrapes_cgroup_page_faults() {
    let have = Command::new("prometheus")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        skip("prometheus is not installed (apt-get install prometheus)");
        return;
    }
    let Some(cg) = Cgroups::new("prom", 2) else {
        return;
    };
    let dir = TempDir::new("prom");
    let exe = compile_c(dir.path(), "cgroup_pages", CGROUP_PAGES_C, &["-O1"]);
    let rport = free_port();
    let list = cg.names.join(",");
    let _rperf = Killed(
        rperf()
            .args(["stat", "--serve", &format!("127.0.0.1:{rport}")])
            .args([
                "-a",
                "-e",
                "page-faults,cpu-clock",
                "--for-each-cgroup",
                &list,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let page = poll(20, "rperf's /metrics", || http_get(rport, "/metrics", None));
    assert!(page.0.contains("text/plain; version=0.0.4"), "{}", page.0);
    assert!(
        page.1.contains("# TYPE rperf_page_faults_total counter"),
        "{}",
        page.1
    );
    let om = http_get(
        rport,
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0"),
    )
    .unwrap();
    assert!(om.0.contains("application/openmetrics-text"), "{}", om.0);
    assert!(om.1.contains("# TYPE rperf_page_faults counter") && om.1.ends_with("# EOF\n"));

    let pport = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: rperf\n    static_configs:\n      - targets: ['127.0.0.1:{rport}']\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prom = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let series = |i: usize| format!("rperf_page_faults_total{{cgroup=\"{}\"}}", cg.names[i]);
    // A zero sample of both series before anything runs in the cgroups.
    for i in 0..2 {
        poll(40, "Prometheus' first scrape", || {
            query(pport, &series(i), None)
        });
    }
    let a = touch_in(&exe, &cg, 0, 3000);
    let b = touch_in(&exe, &cg, 1, 1000);
    let done = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for (i, want) in [(0, a), (1, b)] {
        // A scrape taken after the fixture ended; increase() evaluated at that sample
        // neither extrapolates past it nor below the first (zero) sample: the exact rise.
        let at = poll(20, "a scrape after the workload", || {
            query(pport, &format!("timestamp({})", series(i)), None).filter(|&t| t > done + 0.01)
        });
        let inc = query(pport, &format!("increase({}[10m])", series(i)), Some(at)).unwrap();
        assert!(
            (inc - want).abs() <= 16.0,
            "cgroup {}: the fixture took {want} faults, Prometheus' increase() says {inc}",
            cg.names[i]
        );
    }
    assert!(a >= 3000.0 && (1000.0..2000.0).contains(&b), "{a} {b}");
}

#[test]
fn serve_labels_a_process_and_stops_on_sigterm() {
    let mut target = Killed(
        Command::new("sleep")
            .arg("30")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = target.0.id();
    let port = free_port();
    let mut served = rperf()
        .args(["stat", "--serve", &format!("127.0.0.1:{port}")])
        .args(["-e", "task-clock,context-switches", "-p", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let page = poll(20, "rperf's /metrics", || http_get(port, "/metrics", None)).1;
    let want = format!(
        "rperf_context_switches_total{{event=\"context-switches\",pid=\"{pid}\",comm=\"sleep\"}} "
    );
    assert!(page.contains(&want), "{page}");
    assert!(
        page.contains("# TYPE rperf_task_clock_total counter"),
        "{page}"
    );
    let (code, _) = http_get(port, "/nothing", None).unwrap();
    assert!(code.contains(" 404"), "{code}");
    // SIGTERM: the server stops and the counts print as a plain stat run's do.
    assert!(Command::new("kill")
        .args(["-TERM", &served.id().to_string()])
        .status()
        .unwrap()
        .success());
    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = served.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "rperf did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    served
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("context-switches"), "{err}");
    let _ = target.0.kill();
}

const LATE_PAGES_C: &str = include_str!("../../fixtures/workloads/late_pages.c");

/// The value of the page's sample line that starts with `prefix`.
fn sample(page: &str, prefix: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn serve_follows_a_restarted_process() {
    let dir = TempDir::new("serve-restart");
    let exe = compile_c(dir.path(), "svc", LATE_PAGES_C, &["-O1"]);
    let start = |pages: &str| {
        Killed(
            Command::new(&exe)
                .args(["300", pages, "60"])
                .spawn()
                .unwrap(),
        )
    };
    let mut first = start("3000");
    let pid1 = first.0.id();
    let port = free_port();
    let mut served = Killed(
        rperf()
            .args(["stat", "--serve", &format!("127.0.0.1:{port}")])
            .args(["-e", "page-faults", "-p", &pid1.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let line = |pid: u32| {
        format!("rperf_page_faults_total{{event=\"page-faults\",pid=\"{pid}\",comm=\"svc\"}} ")
    };
    let before = poll(30, "the first process's 3000 faults", || {
        let (_, page) = http_get(port, "/metrics", None)?;
        sample(&page, &line(pid1)).filter(|&v| v >= 3000.0)
    });
    // The target ends: rperf keeps serving its last count.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (_, page) = http_get(port, "/metrics", None).expect("rperf stopped with its target");
    assert_eq!(sample(&page, &line(pid1)), Some(before), "{page}");
    assert!(served.0.try_wait().unwrap().is_none(), "rperf ended");
    // The service restarts: a new process, the same executable, counted from zero under
    // its own pid, and the old series gone (Prometheus marks it stale).
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let second = start("50");
    let pid2 = second.0.id();
    let (page, after) = poll(30, "the restarted process's faults", || {
        let (_, page) = http_get(port, "/metrics", None)?;
        let v = sample(&page, &line(pid2)).filter(|&v| v >= 50.0)?;
        Some((page, v))
    });
    assert!(
        after < before,
        "not counted from zero: {after} after {before}"
    );
    assert!(!page.contains(&format!("pid=\"{pid1}\"")), "{page}");
    // OpenMetrics says when the new counter started.
    let (_, om) = http_get(port, "/metrics", Some("application/openmetrics-text")).unwrap();
    let created = sample(
        &om,
        &format!("rperf_page_faults_created{{event=\"page-faults\",pid=\"{pid2}\",comm=\"svc\"}} "),
    )
    .unwrap_or_else(|| panic!("no _created: {om}"));
    assert!(
        created >= t0 - 1.0,
        "created {created} before the restart at {t0}"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    drop(second);
    let err = served.terminate();
    assert!(err.contains(&format!("counting process {pid2}")), "{err}");
}

#[test]
fn serve_follows_each_of_two_targets() {
    // Two processes of one service under one `-p`: the one that restarts is re-attached
    // on its own (a new series from zero), the other keeps its counters and its start.
    let dir = TempDir::new("serve-two");
    let exe = compile_c(dir.path(), "svc", LATE_PAGES_C, &["-O1"]);
    let start = |pages: &str| {
        Killed(
            Command::new(&exe)
                .args(["300", pages, "60"])
                .spawn()
                .unwrap(),
        )
    };
    let mut a = start("3000");
    let b = start("2000");
    let (pa, pb) = (a.0.id(), b.0.id());
    let port = free_port();
    let mut served = Killed(
        rperf()
            .args(["stat", "--serve", &format!("127.0.0.1:{port}")])
            .args(["-e", "page-faults", "-p", &format!("{pa},{pb}")])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let line = |pid: u32| {
        format!("rperf_page_faults_total{{event=\"page-faults\",pid=\"{pid}\",comm=\"svc\"}} ")
    };
    let created = |om: &str, pid: u32| {
        sample(
            om,
            &format!(
                "rperf_page_faults_created{{event=\"page-faults\",pid=\"{pid}\",comm=\"svc\"}} "
            ),
        )
        .unwrap_or_else(|| panic!("no _created of {pid}: {om}"))
    };
    let (a_count, b_count) = poll(30, "both processes' faults", || {
        let (_, page) = http_get(port, "/metrics", None)?;
        let a = sample(&page, &line(pa)).filter(|&v| v >= 3000.0)?;
        let b = sample(&page, &line(pb)).filter(|&v| v >= 2000.0)?;
        Some((a, b))
    });
    let (_, om) = http_get(port, "/metrics", Some("application/openmetrics-text")).unwrap();
    let b_created = created(&om, pb);
    // One target ends and its service starts again (the same executable as the other).
    let t_kill = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    let again = start("50");
    let pa2 = again.0.id();
    let page = poll(30, "the restarted process's series", || {
        let (_, page) = http_get(port, "/metrics", None)?;
        sample(&page, &line(pa2))?;
        Some(page)
    });
    // The restarted one is counted from zero under its own pid; the old series is gone.
    let a2 = sample(&page, &line(pa2)).unwrap();
    assert!(a2 < a_count, "not counted from zero: {a2} after {a_count}");
    assert!(!page.contains(&format!("pid=\"{pa}\"")), "{page}");
    // The other one kept its counters: a reopened counter would start again near zero
    // (it only sleeps now), and it is one series, not counted twice.
    assert_eq!(page.matches(&line(pb)).count(), 1, "{page}");
    let b_now = sample(&page, &line(pb)).unwrap();
    assert!(b_now >= b_count, "reset: {b_now} after {b_count}");
    let (_, om) = http_get(port, "/metrics", Some("application/openmetrics-text")).unwrap();
    assert_eq!(created(&om, pb), b_created, "{om}");
    let a2_created = created(&om, pa2);
    assert!(
        a2_created >= t_kill - 0.001 && a2_created > b_created,
        "restart's start {a2_created}, kill at {t_kill}, other's start {b_created}"
    );
    drop(again);
    drop(b);
    let err = served.terminate();
    assert!(err.contains(&format!("counting process {pa2}\n")), "{err}");
    assert!(err.contains(&format!("process {pa} is gone")), "{err}");
}
