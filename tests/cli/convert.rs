//! `rperf data convert`: `--to-json` against `perf data convert --to-json` on the same
//! files, `--to-parquet` read back by DuckDB and checked against `rperf report`, and the
//! outputs that cannot be written.
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::*;

/// `rperf data convert ARGS -i file`.
fn convert(file: &Path, args: &[&str]) -> std::process::Output {
    run({
        let mut c = rperf();
        c.args(["data", "convert", "-i"]).arg(file).args(args);
        c
    })
}

fn json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Keys of a JSON object, in order.
fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// perf's and rperf's JSON of one file agree: the same keys and header values, the same
/// samples in the same order with the same fields, and the same symbol and binary for every
/// frame (but for the names perf gives PLT stubs and vDSO functions: see script.rs).
fn assert_same_json(p: &Value, r: &Value, what: &str) {
    assert_eq!(keys(r), keys(p), "{what}: top-level keys");
    assert_eq!(
        keys(&r["headers"]),
        keys(&p["headers"]),
        "{what}: header keys"
    );
    assert_eq!(r["headers"], p["headers"], "{what}: headers");
    let (ps, rs) = (
        p["samples"].as_array().unwrap(),
        r["samples"].as_array().unwrap(),
    );
    assert_eq!(rs.len(), ps.len(), "{what}: sample count");
    assert!(!ps.is_empty(), "{what}: no samples");
    let mut named = 0;
    for (i, (a, b)) in ps.iter().zip(rs).enumerate() {
        assert_eq!(keys(b), keys(a), "{what}: sample {i}'s keys");
        for k in ["timestamp", "pid", "tid", "cpu", "comm"] {
            assert_eq!(b.get(k), a.get(k), "{what}: sample {i}'s {k}");
        }
        let (pc, rc) = (
            a["callchain"].as_array().unwrap(),
            b["callchain"].as_array().unwrap(),
        );
        assert_eq!(rc.len(), pc.len(), "{what}: sample {i}'s frames");
        for (x, y) in pc.iter().zip(rc) {
            assert_eq!(y["ip"], x["ip"], "{what}: sample {i}");
            let plt = y["symbol"].as_str().is_some_and(|s| s.ends_with("@plt"));
            let vdso = y["dso"] == "[vdso]";
            if plt || vdso {
                continue;
            }
            assert_eq!(y, x, "{what}: sample {i}'s frame (rperf, then perf)");
            named += usize::from(x.get("symbol").is_some());
        }
    }
    assert!(named > 0, "{what}: no frame named a symbol");
}

#[test]
fn json_matches_perf_for_perf_and_rperf_recordings() {
    let dir = TempDir::new("convert-json");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-g", "-fno-omit-frame-pointer"],
    );
    let exe = exe.to_str().unwrap();
    let Some((pf, rf)) = record_both(dir.path(), &["-g", "--", exe, "0.2"]) else {
        return;
    };
    // Without call chains, a frame is the sampled address alone.
    let Some(flat) = record_with("rperf", dir.path(), "flat.data", &["--", exe, "0.1"]) else {
        return;
    };
    for (file, what) in [(&pf, "perf -g"), (&rf, "rperf -g"), (&flat, "rperf")] {
        let pj = dir
            .path()
            .join(format!("{what}.perf.json").replace(' ', "_"));
        let rj = dir
            .path()
            .join(format!("{what}.rperf.json").replace(' ', "_"));
        let mut c = perf().unwrap();
        c.args(["data", "convert", "-i"])
            .arg(file)
            .arg("--to-json")
            .arg(&pj);
        let o = run(c);
        assert!(o.status.success(), "perf data convert: {}", stderr(&o));
        let o = convert(file, &["--to-json", rj.to_str().unwrap()]);
        assert!(o.status.success(), "rperf data convert: {}", stderr(&o));
        assert_same_json(&json(&pj), &json(&rj), what);
    }
    // An existing output is kept unless --force, as in perf.
    let out = dir.path().join("kept.json");
    fs::write(&out, "mine\n").unwrap();
    let o = convert(&rf, &["--to-json", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("use --force"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&out).unwrap(), "mine\n");
    let o = convert(&rf, &["--to-json", out.to_str().unwrap(), "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(json(&out)["samples"].as_array().is_some());
}

/// A Python with the duckdb package, in a virtual environment made once under the user's
/// cache directory (pip downloads it the first time); `None` after saying why it cannot be.
fn duckdb_python() -> Option<PathBuf> {
    static PY: OnceLock<Option<PathBuf>> = OnceLock::new();
    PY.get_or_init(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
        let venv = cache.join("rperf-tests").join("duckdb-venv");
        let py = venv.join("bin").join("python3");
        let works = |py: &Path| {
            Command::new(py)
                .args(["-c", "import duckdb"])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if works(&py) {
            return Some(py);
        }
        // Made under a temporary name and renamed: test runs in parallel never see half a
        // virtual environment.
        fs::create_dir_all(venv.parent().unwrap()).ok()?;
        let tmp = venv.with_extension(format!("tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&tmp)
            .output()
            .is_ok_and(|o| o.status.success())
            && Command::new(tmp.join("bin").join("pip"))
                .args(["install", "--quiet", "duckdb"])
                .output()
                .is_ok_and(|o| o.status.success())
            && works(&tmp.join("bin").join("python3"));
        if !made {
            let _ = fs::remove_dir_all(&tmp);
            return None;
        }
        if works(&py) {
            // Another test run finished first.
            let _ = fs::remove_dir_all(&tmp);
            return Some(py);
        }
        let _ = fs::remove_dir_all(&venv);
        if fs::rename(&tmp, &venv).is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        // A venv's scripts name its own path: the renamed one runs its python directly.
        works(&py).then_some(py)
    })
    .clone()
    .or_else(|| {
        skip(
            "no Python virtual environment with duckdb (needs python3-venv and pip's access \
             to PyPI)",
        );
        None
    })
}

/// The rows of DuckDB queries, each over the tables in its directory (views `samples`,
/// `frames`, `dsos`), each row's columns joined by tabs: one Python run for them all.
fn duckdb(py: &Path, queries: &[(&Path, &str)]) -> Vec<Vec<String>> {
    let script = r#"
import duckdb, sys
args = sys.argv[1:]
for d, sql in zip(args[::2], args[1::2]):
    c = duckdb.connect()
    for t in ("samples", "frames", "dsos"):
        c.execute(f"create view {t} as select * from read_parquet('{d}/{t}.parquet')")
    for row in c.execute(sql).fetchall():
        print("\t".join(str(v) for v in row))
    print("\x1e")
"#;
    let o = run({
        let mut c = Command::new(py);
        c.arg("-c").arg(script);
        for (d, sql) in queries {
            c.arg(d).arg(sql);
        }
        c
    });
    assert!(o.status.success(), "duckdb: {}", stderr(&o));
    let text = stdout(&o);
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for l in text.lines() {
        if l == "\x1e" {
            out.push(Vec::new());
        } else {
            out.last_mut().unwrap().push(l.to_string());
        }
    }
    out.pop();
    assert_eq!(out.len(), queries.len(), "duckdb: {text}");
    out
}

/// `rperf report --stdio -n --no-children -g none --sort KEYS`'s rows: each row's words
/// after the share, the sample count first.
fn report_rows(file: &Path, sort: &str) -> Vec<Vec<String>> {
    let out = rperf_out(
        &[
            "report",
            "--stdio",
            "-n",
            "--no-children",
            "-g",
            "none",
            "--sort",
            sort,
        ],
        file,
    );
    out.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().skip(1).map(String::from).collect())
        .collect()
}

#[test]
fn parquet_answers_what_report_answers() {
    let dir = TempDir::new("convert-parquet");
    let exe = compile_c(dir.path(), "threads", THREADS_C, &["-O1", "-g", "-pthread"]);
    let exe = exe.to_str().unwrap();
    let Some((pf, rf)) = record_both(dir.path(), &["-g", "--", exe, "0.2"]) else {
        return;
    };
    let Some(py) = duckdb_python() else {
        return;
    };
    // Top functions by self samples (the symbol of each stack's innermost frame),
    // samples per thread, stack frame ids without a frame, and worker's binary.
    const QUERIES: [&str; 4] = [
        "select f.symbol, count(*) from samples s join frames f on f.id = s.stack[1] \
         where f.symbol is not null group by 1",
        "select comm, tid, count(*) from samples group by all",
        "select count(*) from (select unnest(stack) id from samples) s \
         anti join frames f on f.id = s.id",
        "select distinct d.name, d.build_id is not null from frames f \
         join dsos d on d.id = f.dso_id where f.function = 'worker'",
    ];
    let mut queries: Vec<(PathBuf, &str)> = Vec::new();
    for what in ["perf", "rperf"] {
        let file = dir.path().join(format!("{}.data", &what[..1]));
        let out = dir.path().join(format!("{what}-tables"));
        let o = convert(&file, &["--to-parquet", out.to_str().unwrap()]);
        assert!(o.status.success(), "{what}: {}", stderr(&o));
        queries.extend(QUERIES.iter().map(|q| (out.clone(), *q)));
    }
    let q: Vec<(&Path, &str)> = queries.iter().map(|(d, s)| (d.as_path(), *s)).collect();
    let mut answers = duckdb(&py, &q).into_iter();
    for (file, what) in [(&pf, "perf"), (&rf, "rperf")] {
        let mut answer = || answers.next().unwrap();
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for r in report_rows(file, "sym") {
            // `N [.] name` or `N [k] name`; unresolved addresses are `0x...` in report and
            // have no symbol in the tables.
            let name = r[2..].join(" ");
            if !name.starts_with("0x") {
                *want.entry(name).or_default() += r[0].parse::<u64>().unwrap();
            }
        }
        let got: BTreeMap<String, u64> = answer()
            .iter()
            .map(|l| {
                let (n, c) = l.rsplit_once('\t').unwrap();
                (n.to_string(), c.parse().unwrap())
            })
            .collect();
        assert!(want.contains_key("worker"), "{what}: report: {want:?}");
        assert_eq!(
            got, want,
            "{what}: self samples by function (DuckDB, then report)"
        );
        // Per-thread totals: report's `pid` key is the thread (tid:comm).
        let mut want: BTreeMap<(String, String), u64> = BTreeMap::new();
        for r in report_rows(file, "comm,pid") {
            let tid = r[2].split(':').next().unwrap().to_string();
            *want.entry((r[1].clone(), tid)).or_default() += r[0].parse::<u64>().unwrap();
        }
        let got: BTreeMap<(String, String), u64> = answer()
            .iter()
            .map(|l| {
                let v: Vec<&str> = l.split('\t').collect();
                ((v[0].to_string(), v[1].to_string()), v[2].parse().unwrap())
            })
            .collect();
        assert!(got.len() >= 2, "{what}: threads: {got:?}");
        assert_eq!(
            got, want,
            "{what}: samples per thread (DuckDB, then report)"
        );
        assert_eq!(answer(), ["0"], "{what}: frame ids without a frame");
        assert_eq!(answer(), ["threads\tTrue"], "{what}: worker's binary");
    }
}

/// What a failed conversion must leave: the parent directory as it was.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn unwritable_outputs_and_corrupt_input_are_one_line_errors() {
    let dir = TempDir::new("convert-bad");
    let exe = compile_c(dir.path(), "chain", CHAIN_C, &["-O1"]);
    let Some(file) = record_with(
        "rperf",
        dir.path(),
        "r.data",
        &["--", exe.to_str().unwrap(), "0.05"],
    ) else {
        return;
    };
    let fails = |file: &Path, args: &[&str], says: &str| {
        let before = names(dir.path());
        let o = convert(file, args);
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(names(dir.path()), before, "{args:?} left files behind");
    };
    // A file in the way.
    let in_way = dir.path().join("in-way");
    fs::write(&in_way, "x").unwrap();
    fails(
        &file,
        &["--to-parquet", in_way.to_str().unwrap()],
        "a file is in the way",
    );
    fails(
        &file,
        &["--to-parquet", in_way.to_str().unwrap(), "--force"],
        "a file is in the way",
    );
    // A directory below a file.
    let below = in_way.join("t");
    fails(
        &file,
        &["--to-parquet", below.to_str().unwrap()],
        "cannot create",
    );
    fails(
        &file,
        &["--to-json", below.to_str().unwrap()],
        "cannot write",
    );
    // An earlier conversion is replaced only with --force, and a directory holding other
    // files never.
    let out = dir.path().join("tables");
    let o = convert(&file, &["--to-parquet", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    fails(
        &file,
        &["--to-parquet", out.to_str().unwrap()],
        "use --force",
    );
    let o = convert(&file, &["--to-parquet", out.to_str().unwrap(), "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        names(&out),
        ["dsos.parquet", "frames.parquet", "samples.parquet"]
    );
    fs::write(out.join("notes.txt"), "mine").unwrap();
    fails(
        &file,
        &["--to-parquet", out.to_str().unwrap(), "--force"],
        "not replacing it",
    );
    assert_eq!(fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
    // Corrupt inputs: an error naming the file, and no output.
    let corrupt = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/corrupt");
    for bad in [
        "data-size.data",
        "attr-size-zero.data",
        "record-size-zero.data",
    ] {
        for to in ["--to-parquet", "--to-json"] {
            let t = dir.path().join("bad-output");
            let o = convert(&corrupt.join(bad), &[to, t.to_str().unwrap()]);
            assert!(!o.status.success(), "{bad} converted");
            let err = stderr(&o);
            assert!(err.contains(bad), "{bad}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{bad}: {err}");
            assert!(!err.contains("panicked"), "{bad}: {err}");
            assert!(!t.exists(), "{bad}: output left behind");
            assert!(
                !names(dir.path()).iter().any(|n| n.contains("rperf-tmp")),
                "{bad}: temporary left behind"
            );
        }
    }
    // A directory its user cannot write (root writes anywhere: run as nobody).
    if Command::new("id").arg("-u").output().unwrap().stdout != b"0\n" {
        return skip("needs root to run rperf as nobody");
    }
    let ro = dir.path().join("readonly");
    fs::create_dir(&ro).unwrap();
    use std::os::unix::fs::PermissionsExt;
    // nobody may read the input and enter the directories, not write them.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let o = run({
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_rperf"))
            .args(["data", "convert", "-i"])
            .arg(&file)
            .arg("--to-parquet")
            .arg(ro.join("t"));
        c
    });
    let err = stderr(&o);
    assert!(!o.status.success(), "nobody wrote into a root directory");
    assert!(
        err.contains("cannot create") && err.contains("Permission denied"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(names(&ro).is_empty(), "left behind: {:?}", names(&ro));
}

/// Writes, with rperf's own encoder, a file of one process's samples that carry weights
/// (`fmt` WEIGHT or WEIGHT_STRUCT): no event on a machine without a PMU gives a sample a
/// weight other than 0, so the weights are made up here.
fn weighted_file(path: &Path, fmt: u64, weights: &[u64]) {
    use rperf::abi::{misc, sample};
    let st = sample::IP | sample::TID | sample::TIME | sample::PERIOD | fmt;
    let samples: Vec<(u16, Vec<u64>)> = (weights.iter().enumerate())
        .map(|(i, w)| {
            (
                misc::USER,
                vec![0x1000, (7u64 << 32) | 7, 1000 + i as u64, 1000, *w],
            )
        })
        .collect();
    crafted_file(path, st, |_| Vec::new(), &samples);
}

#[test]
fn parquet_weight_is_the_samples_weight_as_perf_script_reads_it() {
    use rperf::abi::sample;
    let dir = TempDir::new("convert-weight");
    // WEIGHT_STRUCT's upper half (instruction latency, retire latency) is not the weight.
    let structs = [300, (5 << 32) | 42, (0xffff << 48) | 0xffff_ffff];
    let files = [
        ("weight.data", sample::WEIGHT, vec![1, 0, 123_456_789_012]),
        ("struct.data", sample::WEIGHT_STRUCT, structs.to_vec()),
    ];
    for (name, fmt, weights) in &files {
        weighted_file(&dir.path().join(name), *fmt, weights);
    }
    // A real recording: perf's -W on cpu-clock records WEIGHT_STRUCT, every weight 0; one
    // without -W has none.
    let exe = compile_c(dir.path(), "chain", CHAIN_C, &["-O1"]);
    let exe = exe.to_str().unwrap();
    let Some(w) = record_with("perf", dir.path(), "w.data", &["-W", "--", exe, "0.05"]) else {
        return;
    };
    let Some(plain) = record_with("rperf", dir.path(), "plain.data", &["--", exe, "0.05"]) else {
        return;
    };
    let Some(py) = duckdb_python() else {
        return;
    };
    const Q: &str = "select coalesce(weight::varchar, 'null') from samples order by time";
    let inputs: Vec<PathBuf> = files
        .iter()
        .map(|(n, _, _)| dir.path().join(n))
        .chain([w, plain])
        .collect();
    let mut outs = Vec::new();
    for (i, f) in inputs.iter().enumerate() {
        let out = dir.path().join(format!("t{i}"));
        let o = convert(f, &["--to-parquet", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}: {}", f.display(), stderr(&o));
        outs.push(out);
    }
    let q: Vec<(&Path, &str)> = outs.iter().map(|d| (d.as_path(), Q)).collect();
    let got = duckdb(&py, &q);
    assert_eq!(got[0], ["1", "0", "123456789012"], "WEIGHT");
    assert_eq!(got[1], ["300", "42", "4294967295"], "WEIGHT_STRUCT");
    assert!(
        !got[2].is_empty() && got[2].iter().all(|v| v == "0"),
        "perf -W: {:?}",
        got[2]
    );
    assert!(
        !got[3].is_empty() && got[3].iter().all(|v| v == "null"),
        "no -W: {:?}",
        got[3]
    );
    // perf reads the same weights from the same files.
    for (f, want) in inputs.iter().zip(&got).take(3) {
        let Some(mut c) = perf() else {
            return;
        };
        c.args(["script", "-F", "weight", "-i"]).arg(f);
        let o = run(c);
        assert!(o.status.success(), "perf script: {}", stderr(&o));
        let perfs: Vec<String> = stdout(&o).split_whitespace().map(String::from).collect();
        assert_eq!(
            &perfs,
            want,
            "{}: perf script's weights, then rperf's",
            f.display()
        );
    }
}

/// Writes `n` samples with 4-frame call chains over 1000 distinct addresses, in rounds, with
/// rperf's own encoder (no PMU here records this many quickly).
fn many_samples_file(path: &Path, n: u64) {
    use rperf::abi::{flag, kind, misc, sample, Attr};
    use rperf::data::write::encode::{self, Trailer};
    use rperf::data::write::Writer;
    let st = sample::IP | sample::TID | sample::TIME | sample::PERIOD | sample::CALLCHAIN;
    let attr = Attr {
        type_: 1,
        sample_period: 1000,
        sample_type: st,
        flags: flag::SAMPLE_ID_ALL | flag::COMM,
        ..Attr::default()
    };
    let t = Trailer {
        sample_type: st,
        id: 0,
    };
    let mut w = Writer::create(path, vec![(attr, vec![1])]).unwrap();
    let mut recs = encode::comm(7, 7, "work", false, t);
    let user = u64::MAX - 511; // PERF_CONTEXT_USER
    for i in 0..n {
        let a = |k: u64| 0x40_0000 + ((i * 7 + k * 131) % 1000) * 16;
        let body: Vec<u64> = vec![
            a(0),
            (7 << 32) | 7,
            1000 + i,
            1000,
            5,
            user,
            a(0),
            a(1),
            a(2),
            a(3),
        ];
        recs.extend_from_slice(&kind::SAMPLE.to_le_bytes());
        recs.extend_from_slice(&misc::USER.to_le_bytes());
        recs.extend_from_slice(&(8 + 8 * body.len() as u16).to_le_bytes());
        for v in body {
            recs.extend_from_slice(&v.to_le_bytes());
        }
        if i % 10_000 == 9_999 {
            recs.extend(encode::finished_round());
            w.write(&recs).unwrap();
            recs.clear();
        }
    }
    recs.extend(encode::finished_round());
    w.write(&recs).unwrap();
    w.finish(Vec::new()).unwrap();
}

/// Peak resident memory (KiB) of a `--to-parquet` conversion, from GNU time.
fn convert_peak_kib(file: &Path, out: &Path) -> Option<u64> {
    if !Path::new("/usr/bin/time").exists() {
        skip("GNU time is not installed (apt-get install time)");
        return None;
    }
    let o = run({
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "maxrss %M"])
            .arg(env!("CARGO_BIN_EXE_rperf"))
            .args(["data", "convert", "-i"])
            .arg(file)
            .arg("--to-parquet")
            .arg(out);
        c
    });
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let kib = err
        .lines()
        .find_map(|l| l.strip_prefix("maxrss "))
        .and_then(|v| v.trim().parse().ok());
    Some(kib.unwrap_or_else(|| panic!("no maxrss: {err}")))
}

#[test]
fn parquet_conversion_memory_does_not_grow_with_the_file() {
    // Row groups are streamed: four times the samples may not need much more memory (the
    // frames, 1000 distinct addresses, are the same in both files).
    let dir = TempDir::new("convert-memory");
    let (small, big) = (dir.path().join("small.data"), dir.path().join("big.data"));
    many_samples_file(&small, 50_000);
    many_samples_file(&big, 200_000);
    let Some(s) = convert_peak_kib(&small, &dir.path().join("s")) else {
        return;
    };
    let Some(b) = convert_peak_kib(&big, &dir.path().join("b")) else {
        return;
    };
    eprintln!("peak RSS: 50K samples {s} KiB, 200K samples {b} KiB");
    let big_len = fs::metadata(&big).unwrap().len() / 1024;
    assert!(
        b < s + s / 2 && b < s + big_len / 2,
        "peak memory grew with the file: {s} KiB for 50K samples, {b} KiB for 200K \
         ({big_len} KiB of input)"
    );
    // Every sample made it.
    let Some(py) = duckdb_python() else {
        return;
    };
    let d = dir.path().join("b");
    let got = duckdb(
        &py,
        &[(
            d.as_path(),
            "select count(*), count(distinct time) from samples",
        )],
    );
    assert_eq!(got[0], ["200000\t200000"]);
}
