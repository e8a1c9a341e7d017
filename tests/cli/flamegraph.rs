//! `rperf flamegraph` and `rperf script --folded` against perf script | inferno-collapse-perf.
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

/// CHAIN_C (frame pointers) recorded by rperf with -g into `dir/r.data`.
fn chain_recording(dir: &TempDir) -> std::path::PathBuf {
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-fno-omit-frame-pointer"],
    );
    let data = dir.path().join("r.data");
    assert!(record_to(
        "rperf",
        &["-g", "--", exe.to_str().unwrap(), "0.3"],
        &data
    ));
    data
}

fn collapse_with_inferno(file: &Path) -> Option<Vec<String>> {
    let ok = Command::new("inferno-collapse-perf")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !ok.map(|s| s.success()).unwrap_or(false) {
        skip("inferno-collapse-perf is not installed (cargo install inferno)");
        return None;
    }
    perf()?;
    let sh = format!(
        "perf script -i '{}' | inferno-collapse-perf",
        file.display()
    );
    let o = run({
        let mut c = Command::new("sh");
        c.args(["-c", &sh]);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let mut v: Vec<String> = stdout(&o).lines().map(String::from).collect();
    v.sort();
    Some(v)
}

fn folded(file: &Path) -> Vec<String> {
    let o = run({
        let mut c = rperf();
        c.arg("script").arg("--folded").arg("-i").arg(file);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let mut v: Vec<String> = stdout(&o).lines().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn folded_stacks_equal_inferno_collapse_of_perf_script() {
    let dir = TempDir::new("fold");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-fno-omit-frame-pointer"],
    );
    let exe = exe.to_str().unwrap();
    for tool in ["perf", "rperf"] {
        let f = dir.path().join(format!("{tool}.data"));
        if !record_to(tool, &["-g", "--", exe, "0.3"], &f) {
            return;
        }
        let Some(want) = collapse_with_inferno(&f) else {
            return;
        };
        let got = folded(&f);
        // The leaf sets up no frame: perf's -g chain skips its caller, rperf's keeps it.
        let stack = if tool == "perf" {
            ";main;leaf "
        } else {
            ";main;mid;leaf "
        };
        assert!(
            got.iter()
                .any(|l| l.starts_with("chain;") && l.contains(stack)),
            "{got:?}"
        );
        // Deliberate difference: rperf names PLT stubs `name@plt`; perf (and so inferno)
        // sometimes shows them as `_init`. And perf names vDSO functions only from the copy
        // in its build-id cache (written by perf record, maybe by a test beside this one),
        // else inferno calls them `[[vdso]]`. Such frames are compared as placeholders.
        let plt = |v: Vec<String>| -> Vec<String> {
            let mut merged: std::collections::BTreeMap<String, u64> = Default::default();
            for l in v {
                let (stack, w) = l.rsplit_once(' ').unwrap_or((&l, "0"));
                let frames: Vec<&str> = stack
                    .split(';')
                    .map(|f| {
                        if f.ends_with("@plt") || f == "_init" {
                            "<plt>"
                        } else if f.starts_with("__vdso_") || f == "[[vdso]]" {
                            "<vdso>"
                        } else {
                            f
                        }
                    })
                    .collect();
                *merged.entry(frames.join(";")).or_default() += w.parse::<u64>().unwrap_or(0);
            }
            merged
                .into_iter()
                .map(|(s, w)| format!("{s} {w}"))
                .collect()
        };
        let (got, want) = (plt(got), plt(want));
        if got != want {
            let only_r: Vec<&String> = got.iter().filter(|l| !want.contains(l)).collect();
            let only_p: Vec<&String> = want.iter().filter(|l| !got.contains(l)).collect();
            panic!("{tool}-recorded file: only rperf {only_r:#?}\nonly perf|inferno {only_p:#?}");
        }
    }
}

/// (title, width) of every frame rectangle in an inferno SVG.
fn frames(svg: &str) -> Vec<(String, f64)> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc =
        roxmltree::Document::parse_with_options(svg, opts).expect("the SVG is well-formed XML");
    let mut out = Vec::new();
    for g in doc.descendants().filter(|n| n.has_tag_name("g")) {
        let title = g
            .children()
            .find(|c| c.has_tag_name("title"))
            .and_then(|t| t.text());
        let rect = g.children().find(|c| c.has_tag_name("rect"));
        if let (Some(t), Some(r)) = (title, rect) {
            let w = r
                .attribute("width")
                .unwrap_or("0")
                .trim_end_matches('%')
                .parse()
                .unwrap_or(0.0);
            out.push((t.to_string(), w));
        }
    }
    out
}

#[test]
fn svg_has_each_function_with_width_by_samples() {
    let dir = TempDir::new("svg");
    let data = chain_recording(&dir);
    let svg = dir.path().join("out.svg");
    let o = run({
        let mut c = rperf();
        c.arg("flamegraph")
            .arg("-i")
            .arg(&data)
            .arg("-o")
            .arg(&svg)
            .args(["--title", "Test graph"]);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("Test graph"));
    let f = frames(&text);
    let width = |name: &str| {
        f.iter()
            .filter(|(t, _)| t.starts_with(&format!("{name} (")))
            .map(|(_, w)| *w)
            .fold(0.0, f64::max)
    };
    let all = width("all");
    let (leaf, main) = (width("leaf"), width("main"));
    assert!(all > 0.0 && leaf > 0.0 && main > 0.0, "{f:?}");
    // leaf holds nearly all samples, so nearly the whole width.
    assert!(leaf / all > 0.85, "leaf {leaf} of {all}");
    assert!(main >= leaf);
    // The same input renders the same bytes.
    let svg2 = dir.path().join("out2.svg");
    let o = run({
        let mut c = rperf();
        c.arg("flamegraph")
            .arg("-i")
            .arg(&data)
            .arg("-o")
            .arg(&svg2)
            .args(["--title", "Test graph"]);
        c
    });
    assert!(o.status.success());
    assert_eq!(std::fs::read(&svg).unwrap(), std::fs::read(&svg2).unwrap());
}

const TWO_C: &str = r#"
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
__attribute__((noinline)) void steady(volatile unsigned long *x) { for (int i = 0; i < 100000; i++) *x += i; }
__attribute__((noinline)) void grows(volatile unsigned long *x, int n) { for (int i = 0; i < n; i++) *x += i; }
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    double end = now() + 0.4;
    volatile unsigned long x = 0;
    while (now() < end) { steady(&x); grows(&x, n); }
    return 0;
}
"#;

#[test]
fn differential_graph_marks_the_changed_function() {
    let dir = TempDir::new("diff");
    let exe = compile_c(
        dir.path(),
        "two",
        TWO_C,
        &["-O1", "-fno-omit-frame-pointer"],
    );
    let exe = exe.to_str().unwrap();
    let (before, after) = (
        dir.path().join("before.data"),
        dir.path().join("after.data"),
    );
    record_to("rperf", &["-g", "--", exe, "10000"], &before);
    record_to("rperf", &["-g", "--", exe, "400000"], &after);
    let svg = dir.path().join("diff.svg");
    let o = run({
        let mut c = rperf();
        c.arg("flamegraph")
            .arg("--diff")
            .arg(&before)
            .arg(&after)
            .arg("-o")
            .arg(&svg);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    let f = frames(&text);
    let title = |name: &str| {
        f.iter()
            .find(|(t, _)| t.starts_with(&format!("{name} (")))
            .map(|(t, _)| t.clone())
    };
    let grows = title("grows").unwrap_or_else(|| panic!("no grows frame: {f:?}"));
    // inferno writes the change into the title: grows went up, steady went down.
    assert!(grows.contains('+'), "{grows}");
    let steady = title("steady").unwrap();
    assert!(steady.contains('-'), "{steady}");
}

#[test]
fn record_and_render_in_one_go() {
    let dir = TempDir::new("fg-rec");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-fno-omit-frame-pointer"],
    );
    let svg = dir.path().join("cmd.svg");
    let o = run({
        let mut c = rperf();
        c.arg("flamegraph")
            .arg("-o")
            .arg(&svg)
            .arg("--")
            .arg(&exe)
            .arg("0.3");
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let f = frames(&std::fs::read_to_string(&svg).unwrap());
    assert!(f.iter().any(|(t, _)| t.starts_with("leaf (")), "{f:?}");
    // Nothing is left behind but the SVG.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert!(
        !left.iter().any(|n| n.to_string_lossy().ends_with(".tmp")),
        "{left:?}"
    );
}

#[test]
fn bad_flamegraph_inputs() {
    let dir = TempDir::new("fg-bad");
    let o = run({
        let mut c = rperf();
        c.arg("flamegraph")
            .arg("-i")
            .arg(dir.path().join("none.data"))
            .arg("-o")
            .arg(dir.path().join("x.svg"));
        c
    });
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("cannot open"), "{}", stderr(&o));
    assert!(!dir.path().join("x.svg").exists());
    let o = run({
        let mut c = rperf();
        c.args(["flamegraph", "--colors", "nope", "-i", "x"]);
        c
    });
    assert!(
        stderr(&o).contains("unknown --colors 'nope'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn speedscope_and_folded_exports() {
    let dir = TempDir::new("export");
    let data = chain_recording(&dir);
    let out = |format: &str, file: &str| -> String {
        let path = dir.path().join(file);
        let o = run({
            let mut c = rperf();
            c.arg("flamegraph")
                .arg("-i")
                .arg(&data)
                .arg("--format")
                .arg(format)
                // script --folded's stacks: without inline frames (libc's debug files
                // have some).
                .arg("--no-inline")
                .arg("-o")
                .arg(&path);
            c
        });
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read_to_string(&path).unwrap()
    };
    let folded_text = out("folded", "x.folded");
    assert_eq!(
        folded_text.lines().map(String::from).collect::<Vec<_>>(),
        folded(&data)
    );
    let total: u64 = folded_text
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    // speedscope: read back with a JSON parser and check the document against the schema's
    // required shape and the folded weights.
    let doc: serde_json::Value = serde_json::from_str(&out("speedscope", "x.json")).unwrap();
    assert_eq!(
        doc["$schema"],
        "https://www.speedscope.app/file-format-schema.json"
    );
    let frames = doc["shared"]["frames"].as_array().unwrap();
    let names: Vec<&str> = frames.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"leaf") && names.contains(&"main"),
        "{names:?}"
    );
    let p = &doc["profiles"][0];
    assert_eq!(p["type"], "sampled");
    let samples = p["samples"].as_array().unwrap();
    let weights = p["weights"].as_array().unwrap();
    assert_eq!(samples.len(), weights.len());
    assert_eq!(
        weights.iter().map(|w| w.as_u64().unwrap()).sum::<u64>(),
        total
    );
    assert_eq!(p["endValue"].as_u64().unwrap(), total);
    for s in samples {
        for i in s.as_array().unwrap() {
            assert!((i.as_u64().unwrap() as usize) < frames.len());
        }
    }
}

/// Runs `rperf flamegraph --format FORMAT -i data -o out`.
fn export(data: &Path, format: &str, out: &Path) {
    let o = run({
        let mut c = rperf();
        c.arg("flamegraph")
            .arg("-i")
            .arg(data)
            .arg("--format")
            .arg(format)
            // Compared with script --folded and perf's views, which show no inline frames.
            .arg("--no-inline")
            .arg("-o")
            .arg(out);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Samples per thread id, from `perf script -F tid` (the oracle).
fn perf_samples_per_tid(data: &Path) -> Option<std::collections::BTreeMap<u64, u64>> {
    let mut c = perf()?;
    c.arg("script").arg("-F").arg("tid").arg("-i").arg(data);
    let o = run(c);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut m = std::collections::BTreeMap::new();
    for l in stdout(&o).lines() {
        if let Ok(tid) = l.trim().parse::<u64>() {
            *m.entry(tid).or_default() += 1;
        }
    }
    Some(m)
}

#[test]
fn firefox_profile_reads_back_with_perfs_threads_and_rperfs_stacks() {
    let dir = TempDir::new("firefox");
    let exe = compile_c(
        dir.path(),
        "threads",
        THREADS_C,
        &["-O1", "-fno-omit-frame-pointer", "-pthread"],
    );
    for tool in ["perf", "rperf"] {
        let data = dir.path().join(format!("{tool}.data"));
        if !record_to(tool, &["-g", "--", exe.to_str().unwrap(), "0.3"], &data) {
            return;
        }
        let json = dir.path().join(format!("{tool}.json"));
        export(&data, "firefox", &json);
        // Read the processed format back with a plain JSON parser: samples → stackTable
        // (prefix links) → frameTable.func → funcTable.name → the thread's stringArray.
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert!(doc["meta"]["version"].as_f64().unwrap() > 0.0);
        let categories: Vec<&str> = doc["meta"]["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        let mut per_tid = std::collections::BTreeMap::new();
        let mut stacks = std::collections::BTreeSet::new();
        for t in doc["threads"].as_array().unwrap() {
            let (samples, st, ft, fun) = (
                &t["samples"],
                &t["stackTable"],
                &t["frameTable"],
                &t["funcTable"],
            );
            let strings = t["stringArray"].as_array().unwrap();
            let n = samples["length"].as_u64().unwrap();
            assert_eq!(samples["stack"].as_array().unwrap().len() as u64, n);
            // The format writes thread ids as strings.
            let tid: u64 = t["tid"].as_str().unwrap().parse().unwrap();
            *per_tid.entry(tid).or_default() += n;
            for s in samples["stack"].as_array().unwrap() {
                let mut names = Vec::new();
                let mut k = s.as_u64();
                while let Some(i) = k {
                    let frame = st["frame"][i as usize].as_u64().unwrap() as usize;
                    let func = ft["func"][frame].as_u64().unwrap() as usize;
                    let cat = ft["category"][frame].as_u64().unwrap() as usize;
                    assert!(["User", "Kernel"].contains(&categories[cat]));
                    let name = fun["name"][func].as_u64().unwrap() as usize;
                    names.push(strings[name].as_str().unwrap().to_string());
                    k = st["prefix"][i as usize].as_u64();
                }
                names.reverse();
                stacks.insert(format!(
                    "{};{}",
                    t["name"].as_str().unwrap(),
                    names.join(";")
                ));
            }
        }
        // Every thread with its sample count, as perf script sees the file.
        if let Some(want) = perf_samples_per_tid(&data) {
            assert_eq!(per_tid, want, "{tool}: samples per thread");
        }
        assert!(per_tid.len() >= 3, "main and two workers: {per_tid:?}");
        // The same stacks as the folded output (which equals inferno's collapse of perf script).
        let folded: std::collections::BTreeSet<String> = folded(&data)
            .iter()
            .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
            .collect();
        assert_eq!(stacks, folded, "{tool}: stacks");
        assert!(stacks.iter().any(|s| s.ends_with(";worker")), "{stacks:?}");
    }
}

/// `go tool pprof`, when Go is installed; the pprof tests print why they skip.
fn go_pprof() -> Option<Command> {
    let ok = Command::new("go")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        skip("Go is not installed (apt-get install golang-go) for go tool pprof");
        return None;
    }
    let mut c = Command::new("go");
    c.args(["tool", "pprof"]);
    Some(c)
}

/// perf report's samples per symbol (`--no-children --sort sym -n`), keyed by name.
fn perf_report_samples(data: &Path) -> Option<(u64, std::collections::BTreeMap<String, u64>)> {
    let mut c = perf()?;
    c.args([
        "report",
        "--stdio",
        "--no-children",
        "-n",
        "--sort",
        "sym",
        "-g",
        "none",
        "-i",
    ])
    .arg(data);
    let o = run(c);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let mut m = std::collections::BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        // "    93.75%            30  [.] leaf"
        let cols: Vec<&str> = l.split_whitespace().collect();
        if cols.len() >= 4 {
            m.insert(cols[3..].join(" "), cols[1].parse().unwrap());
        }
    }
    // The header abbreviates the total ("1K"): the rows add up to it exactly.
    Some((m.values().sum(), m))
}

#[test]
fn pprof_export_reads_back_with_go_tool_pprof() {
    let dir = TempDir::new("pprof");
    let exe = compile_c(
        dir.path(),
        "chain",
        CHAIN_C,
        &["-O1", "-fno-omit-frame-pointer"],
    );
    for tool in ["perf", "rperf"] {
        let data = dir.path().join(format!("{tool}.data"));
        if !record_to(tool, &["-g", "--", exe.to_str().unwrap(), "0.3"], &data) {
            return;
        }
        let pb = dir.path().join(format!("{tool}.pb.gz"));
        export(&data, "pprof", &pb);
        let Some(mut pprof) = go_pprof() else { return };
        let Some((total, by_sym)) = perf_report_samples(&data) else {
            return;
        };
        // Flat sample counts per function, read back by Go's own profile parser.
        pprof
            .args([
                "-top",
                "-sample_index=samples",
                "-nodefraction=0",
                "-nodecount=100000",
            ])
            .arg(&pb)
            .env("HOME", dir.path());
        let o = run(pprof);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        let mut flat = std::collections::BTreeMap::new();
        let mut cum = std::collections::BTreeMap::new();
        for l in text.lines() {
            let cols: Vec<&str> = l.split_whitespace().collect();
            if cols.len() >= 6 && cols[1].ends_with('%') && cols[4].ends_with('%') {
                if let (Ok(f), Ok(c)) = (cols[0].parse::<u64>(), cols[3].parse::<u64>()) {
                    flat.insert(cols[5..].join(" "), f);
                    cum.insert(cols[5..].join(" "), c);
                }
            }
        }
        assert!(
            text.contains(&format!("of {total} total")),
            "{tool}: total samples {total}:\n{text}"
        );
        let leaf = by_sym["leaf"];
        assert!(leaf * 10 >= total * 9, "{tool}: leaf {leaf} of {total}");
        assert_eq!(flat.get("leaf"), Some(&leaf), "{tool}:\n{text}");
        // Callers carry their callees' samples.
        assert!(cum["main"] >= leaf, "{text}");
        // The main binary is the profile's first mapping.
        assert!(text.contains("File: chain"), "{text}");
    }
}

/// Debian's headless Chromium, when installed; the screenshot test prints why it skips.
fn chromium() -> Option<Command> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    let Some(bin) = found else {
        skip("Chromium is not installed (apt-get install chromium)");
        return None;
    };
    let mut c = Command::new("timeout");
    // Flags for a closed network and a root user (no sandbox), a fresh profile each time.
    c.args([
        "120",
        bin,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
    ])
    .args(["--no-first-run", "--disable-background-networking"])
    .args([
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]);
    Some(c)
}

#[test]
fn chromium_renders_the_svg_as_a_flame_graph() {
    let dir = TempDir::new("screenshot");
    let data = chain_recording(&dir);
    let svg = dir.path().join("g.svg");
    let o = run({
        let mut c = rperf();
        c.arg("flamegraph").arg("-i").arg(&data).arg("-o").arg(&svg);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let Some(mut browser) = chromium() else {
        return;
    };
    let png = dir.path().join("shot.png");
    browser
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,600")
        .arg(format!("file://{}", svg.display()));
    let o = run(browser);
    assert!(png.exists(), "no screenshot: {}", stderr(&o));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert!(info.width >= 1000 && info.height >= 500, "{info:?}");
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{info:?}");
    let pixels = &buf[..info.buffer_size()];
    let total = (info.width * info.height) as usize;
    // Flame colours (the hot palette: red to yellow, little blue) cover the frames: the
    // leaf, main and the root span the width, so several full-width bars must be visible.
    let warm = pixels
        .chunks(channels)
        .filter(|p| p[0] >= 190 && p[2] <= 120 && p[1] >= 20)
        .count();
    assert!(
        warm * 100 >= total * 3,
        "only {warm} of {total} pixels are flame-coloured: a blank or broken render"
    );
    // Not one flat colour either: text and several frame colours.
    let mut colours = std::collections::HashSet::new();
    for p in pixels.chunks(channels) {
        colours.insert((p[0], p[1], p[2]));
    }
    assert!(colours.len() >= 8, "{} colours", colours.len());
}

#[test]
fn roots_kernel_frames_and_layout_options() {
    // Reading /proc/kallsyms keeps the kernel busy: kernel frames under cat's own.
    let dir = TempDir::new("fg-options");
    let data = dir.path().join("t.data");
    assert!(record_to(
        "rperf",
        &[
            "-g",
            "--",
            "sh",
            "-c",
            "cat /proc/kallsyms /proc/kallsyms > /dev/null"
        ],
        &data
    ));
    let out = |extra: &[&str], file: &str| -> String {
        let path = dir.path().join(file);
        let o = run({
            let mut c = rperf();
            c.arg("flamegraph")
                .arg("-i")
                .arg(&data)
                .arg("-o")
                .arg(&path)
                .args(extra);
            c
        });
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        std::fs::read_to_string(&path).unwrap()
    };
    let plain = out(&["--format", "folded", "--no-inline"], "a.folded");
    // --kernel marks kernel frames (inferno colours `_[k]` frames apart).
    let kernel = out(
        &["--format", "folded", "--no-inline", "--kernel"],
        "k.folded",
    );
    assert!(
        !plain.contains("_[k]") && kernel.contains("_[k]"),
        "{kernel}"
    );
    assert_eq!(plain.lines().count(), kernel.lines().count());
    // Roots: comm, comm-pid, comm-pid/tid.
    let roots = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| l.split(';').next().unwrap().to_string())
            .collect()
    };
    for r in roots(&plain) {
        assert!(["sh", "cat"].contains(&r.as_str()), "{r}");
    }
    for r in roots(&out(&["--format", "folded", "--per-process"], "p.folded")) {
        let (comm, pid) = r.rsplit_once('-').unwrap();
        assert!(
            ["sh", "cat"].contains(&comm) && pid.parse::<u32>().is_ok(),
            "{r}"
        );
    }
    for r in roots(&out(&["--format", "folded", "--per-thread"], "t.folded")) {
        let (_, ids) = r.rsplit_once('-').unwrap();
        let (pid, tid) = ids.split_once('/').unwrap();
        // Single-threaded processes: the thread is the process.
        assert_eq!(pid, tid, "{r}");
    }
    // Layout: width in pixels, icicle title, minimum frame width, reversed stacks.
    let svg = out(&["--width", "800"], "w.svg");
    assert!(svg.contains(r#"width="800""#), "{}", &svg[..400]);
    let icicle = out(&["--inverted"], "i.svg");
    assert!(icicle.contains("Icicle Graph"));
    let narrow = frames(&out(&["--minwidth", "0"], "m0.svg")).len();
    let wide = frames(&out(&["--minwidth", "50"], "m50.svg")).len();
    assert!(wide < narrow, "minwidth 50 keeps {wide} of {narrow} frames");
    // Reversed: stacks drawn from the leaf, so the frames are the same functions.
    let names = |svg: &str| -> std::collections::BTreeSet<String> {
        frames(svg)
            .into_iter()
            .map(|(t, _)| t.split(" (").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&out(&["--reverse", "--minwidth", "0"], "r.svg")),
        names(&out(&["--minwidth", "0"], "n.svg"))
    );
}
