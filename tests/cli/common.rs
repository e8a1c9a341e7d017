//! Helpers shared by the end-to-end tests: running rperf and perf, temp dirs, C workloads,
//! and parsing perf stat's human output.
#![allow(dead_code)]
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The rperf binary under test.
pub fn rperf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rperf"))
}

/// Says why a test does not run. The `SKIP:` line goes to stderr past the test harness's
/// capture, so `cargo test` shows it; under `CI=true` a skip fails the test instead, so CI
/// never passes a check it did not make.
pub fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("a check was skipped under CI=true: {why}");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP: {why}");
}

/// Linux perf, when installed; tests that need it print why they skip.
pub fn perf() -> Option<Command> {
    let ok = Command::new("perf")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some(Command::new("perf"))
    } else {
        skip("Linux perf is not installed (apt-get install linux-perf)");
        None
    }
}

/// `tool record -q -o out ARGS` ("perf" or "rperf"), asserting success; false (with the
/// printed reason) when perf is wanted and absent.
pub fn record_to(tool: &str, args: &[&str], out: &Path) -> bool {
    let mut c = if tool == "perf" {
        match perf() {
            Some(p) => p,
            None => return false,
        }
    } else {
        rperf()
    };
    c.arg("record").arg("-q").arg("-o").arg(out).args(args);
    let o = run(c);
    assert!(o.status.success(), "{tool} record {args:?}: {}", stderr(&o));
    true
}

/// The same recording made by perf (`dir/p.data`) and by rperf (`dir/r.data`); `None`
/// (after saying why) where perf cannot record.
pub fn record_both(dir: &Path, args: &[&str]) -> Option<(PathBuf, PathBuf)> {
    let p = record_with("perf", dir, "p.data", args)?;
    let r = record_with("rperf", dir, "r.data", args).expect("rperf record failed");
    Some((p, r))
}

/// [`record_to`] into `dir/name`, returning the file.
pub fn record_with(tool: &str, dir: &Path, name: &str, args: &[&str]) -> Option<PathBuf> {
    let out = dir.join(name);
    record_to(tool, args, &out).then_some(out)
}

/// rperf's stdout for `ARGS -i file`, asserting success.
pub fn rperf_out(args: &[&str], file: &Path) -> String {
    let o = run({
        let mut c = rperf();
        c.args(args).arg("-i").arg(file);
        c
    });
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

/// Runs a command and returns its output, panicking with context if it cannot start.
pub fn run(mut c: Command) -> Output {
    c.output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"))
}

/// Text of stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Text of stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "rperf-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // A failing test's recordings are what a flake is diagnosed from: with
        // RPERF_TEST_KEEP set they stay, and the failure names where.
        if std::thread::panicking() && std::env::var_os("RPERF_TEST_KEEP").is_some() {
            eprintln!("kept {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Compiles a C source (one of `fixtures/workloads/`) into `dir/name` with gcc and extra
/// flags. Each (name, source, flags) is built once per test run, into
/// `CARGO_TARGET_TMPDIR/workloads/`, and copied: a test may strip or replace its copy.
pub fn compile_c(dir: &Path, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (name, src, flags).hash(&mut h);
    let built = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("workloads")
        .join(format!("{:016x}", h.finish()));
    if !built.join(name).is_file() {
        // Built aside and renamed, so that a test running alongside never sees half of it.
        // Unique per call: tests in this process build the same workload at once.
        static BUILDS: AtomicU32 = AtomicU32::new(0);
        let tmp = built.with_extension(format!(
            "tmp{}-{}",
            std::process::id(),
            BUILDS.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        let c = tmp.join(format!("{name}.c"));
        std::fs::write(&c, src).unwrap();
        let o = run({
            let mut cmd = Command::new("gcc");
            cmd.args(flags).arg("-o").arg(tmp.join(name)).arg(&c);
            cmd
        });
        assert!(o.status.success(), "gcc failed: {}", stderr(&o));
        if std::fs::rename(&tmp, &built).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    let exe = dir.join(name);
    std::fs::copy(built.join(name), &exe).unwrap();
    exe
}

/// One row of perf stat's human output.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Value(f64),
    NotSupported,
    NotCounted,
}

/// Parses the event rows of perf stat's human output into name → value (commas removed).
pub fn parse_human(text: &str) -> BTreeMap<String, Cell> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let t = line.trim_start();
        let (cell, rest) = if let Some(r) = t.strip_prefix("<not supported>") {
            (Cell::NotSupported, r)
        } else if let Some(r) = t.strip_prefix("<not counted>") {
            (Cell::NotCounted, r)
        } else {
            let Some((num, r)) = t.split_once(' ') else {
                continue;
            };
            match num.replace(',', "").parse::<f64>() {
                Ok(v) => (Cell::Value(v), r),
                Err(_) => continue,
            }
        };
        let mut words = rest.split_whitespace();
        let mut name = words.next().unwrap_or("");
        if name == "msec" || name == "ns" {
            name = words.next().unwrap_or("");
        }
        if name.is_empty() || name == "seconds" {
            continue;
        }
        m.insert(name.to_string(), cell);
    }
    m
}

/// The value of a counted event, panicking with the output if it is missing.
pub fn value(m: &BTreeMap<String, Cell>, name: &str, text: &str) -> f64 {
    match m.get(name) {
        Some(Cell::Value(v)) => *v,
        other => panic!("{name}: {other:?} in\n{text}"),
    }
}

/// A C program that touches `pages` fresh pages (one page fault each).
pub const TOUCH_PAGES_C: &str = include_str!("../../fixtures/workloads/touch_pages.c");

/// A C program that burns CPU for about `ms` milliseconds.
pub const BURN_C: &str = include_str!("../../fixtures/workloads/burn.c");

/// Time in a loop inlined twice into `outer` (inner → middle → outer), for DWARF lines
/// and inline frames; the argument is seconds to run.
pub const INLINED_C: &str = include_str!("../../fixtures/workloads/inlined.c");

/// A C program with a known call chain main → mid → leaf and the time in leaf; the
/// argument is seconds to run.
pub const CHAIN_C: &str = include_str!("../../fixtures/workloads/chain.c");

/// 256 tiny functions `f0000`..`f3333`, each run `argv[1]` loop steps three times by each
/// of `argv[2]` threads: many report rows of equal weight.
pub const MANY_C: &str = include_str!("../../fixtures/workloads/many.c");

/// Two threads burning in `worker` for the given seconds.
pub const THREADS_C: &str = include_str!("../../fixtures/workloads/threads.c");

/// A "JIT": copies a small x86-64 loop into executable anonymous memory, announces it in
/// /tmp/perf-PID.map as `jitted_loop`, and runs it for the given seconds. Prints its pid.
pub const JIT_C: &str = include_str!("../../fixtures/workloads/jit.c");

/// `forker CHILD SECONDS` forks and execs CHILD as `fakeframe`, which spins under a made-up
/// caller: an address in forker's text that its own process never maps (forker built
/// -no-pie, fakeframe -pie).
pub const FAKE_CALLER_C: &str = include_str!("../../fixtures/workloads/fake_caller.c");

/// A perf.data of one cpu-clock event written with rperf's own encoder, for what no
/// workload here records: process 7 (`work`) named by a COMM, the side-band records `side`
/// makes, then one sample per (misc, body words) laid out as `sample_type` says.
pub fn crafted_file(
    path: &Path,
    sample_type: u64,
    side: impl FnOnce(rperf::data::write::encode::Trailer) -> Vec<u8>,
    samples: &[(u16, Vec<u64>)],
) {
    use rperf::abi::{flag, kind, Attr};
    use rperf::data::write::encode::{self, Trailer};
    use rperf::data::write::Writer;
    let attr = Attr {
        type_: 1,
        sample_period: 1000,
        sample_type,
        flags: flag::SAMPLE_ID_ALL | flag::COMM | flag::MMAP,
        ..Attr::default()
    };
    let t = Trailer { sample_type, id: 0 };
    let mut recs = encode::comm(7, 7, "work", false, t);
    recs.extend(side(t));
    for (misc, words) in samples {
        let body: Vec<u8> = words.iter().flat_map(|v| v.to_le_bytes()).collect();
        recs.extend_from_slice(&kind::SAMPLE.to_le_bytes());
        recs.extend_from_slice(&misc.to_le_bytes());
        recs.extend_from_slice(&(8 + body.len() as u16).to_le_bytes());
        recs.extend(body);
    }
    recs.extend(encode::finished_round());
    let mut w = Writer::create(path, vec![(attr, vec![1])]).unwrap();
    w.write(&recs).unwrap();
    w.finish(Vec::new()).unwrap();
}

/// Each event's sample layout in `file` as `perf evlist -v` prints it, without the sample id
/// flag: perf identifies samples by ID when all events share a layout, rperf always by
/// IDENTIFIER (both valid), so the rest is what must agree.
pub fn perf_sample_types(file: &Path) -> Vec<String> {
    let mut p = perf().expect("perf is needed for perf_sample_types");
    p.args(["evlist", "-v", "-i"]).arg(file);
    stdout(&run(p))
        .lines()
        .filter_map(|l| l.split(", ").find(|f| f.starts_with("sample_type")))
        .map(|st| {
            st.split(['|', ' '])
                .filter(|f| !["ID", "IDENTIFIER"].contains(f))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// Polls `cond` until it holds. The limit only turns a hang into a failure: a loaded
/// machine may take seconds, and nothing is concluded from how long it took.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !cond() {
        assert!(
            std::time::Instant::now() < end,
            "still waiting for {what} after 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Whether some thread of `pid` sleeps in a kernel function whose name contains `pat`
/// (its /proc wchan: `pipe_read`, `poll`, `nanosleep`, ...).
pub fn blocked_in(pid: u32, pat: &str) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|t| std::fs::read_to_string(t.path().join("wchan")).is_ok_and(|w| w.contains(pat)))
}

/// Whether `pid` holds a perf_event descriptor: a profiler's counters are open.
pub fn has_perf_events(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|f| {
            std::fs::read_link(f.path())
                .is_ok_and(|l| l.to_string_lossy() == "anon_inode:[perf_event]")
        })
}

/// A profiler (`perf`/`rperf` with `-p`) has attached: its counters are open and it has
/// gone on to wait in `wait` (the kernel function its main loop sleeps in), which it
/// reaches only after enabling them.
pub fn attached(profiler: u32, wait: &str) -> bool {
    has_perf_events(profiler) && blocked_in(profiler, wait)
}
