//! Damaged perf.data files (fixtures/corrupt/, each described in its README): every reading
//! command ends within 10 s, under a 1 GB address-space limit, without a panic or abort,
//! and an error is one line naming the file.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::common::{rperf, TempDir};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/corrupt");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    v.sort();
    assert!(v.len() >= 10, "fixtures missing from {}", dir.display());
    v
}

/// Whether util-linux's prlimit is here (it sets the address-space limit: tests may not
/// use unsafe for setrlimit in pre_exec).
fn have_prlimit() -> bool {
    let ok = Command::new("prlimit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "prlimit (util-linux) is required under CI"
        );
        eprintln!("SKIP: prlimit (util-linux) is not installed");
    }
    ok
}

struct Outcome {
    code: Option<i32>,
    stderr: String,
    took: Duration,
}

/// rperf ARGS under a 1 GB address-space limit, killed after 10 s.
fn limited(args: &[&str], input: &Path) -> Outcome {
    let base = rperf();
    let mut c = Command::new("prlimit");
    c.arg("--as=1073741824")
        .arg("--")
        .arg(base.get_program())
        .args(args)
        .arg("-i")
        .arg(input)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = c.spawn().expect("spawn prlimit");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rperf {args:?} -i {} ran past 10 s", input.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Outcome {
        code: status.code(),
        stderr,
        took: started.elapsed(),
    }
}

#[test]
fn corrupt_files_fail_cleanly_in_every_reader() {
    if !have_prlimit() {
        return;
    }
    let tmp = TempDir::new("corrupt");
    let svg = tmp.path().join("x.svg");
    let svg = svg.to_str().unwrap();
    let commands: [&[&str]; 4] = [
        &["report", "--stdio"],
        &["script"],
        &["flamegraph", "-o", svg],
        &["report", "--header-only"],
    ];
    let mut failures = 0;
    for file in fixtures() {
        let name = file.file_name().unwrap().to_str().unwrap();
        for args in commands {
            let o = limited(args, &file);
            let what = format!("{args:?} on {name} ({:?}): {}", o.took, o.stderr);
            // A signal (the abort of a failed allocation) leaves no exit code.
            let code = o
                .code
                .unwrap_or_else(|| panic!("killed by a signal: {what}"));
            for bad in [
                "panicked",
                "memory allocation",
                "stack backtrace",
                "RUST_BACKTRACE",
            ] {
                assert!(!o.stderr.contains(bad), "{bad}: {what}");
            }
            if code != 0 {
                failures += 1;
                let errors: Vec<&str> = o
                    .stderr
                    .lines()
                    .filter(|l| !l.starts_with("Warning:"))
                    .collect();
                assert_eq!(errors.len(), 1, "one error line: {what}");
                assert!(errors[0].starts_with("rperf: "), "{what}");
                // flamegraph's "no samples" is about the (empty) result, not the file.
                assert!(
                    errors[0].contains(name) || errors[0].contains("no samples"),
                    "the error names the file: {what}"
                );
            }
        }
    }
    // Most damage is an error (the rest: records skipped, as perf skips them).
    assert!(failures >= 20, "only {failures} runs failed");
}

/// Each damage the fuzzing found, and what rperf now says about it.
#[test]
fn corrupt_sizes_are_named_errors() {
    if !have_prlimit() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/corrupt");
    for (name, says) in [
        ("attr-size-zero.data", "damaged"),
        ("event-desc-count.data", "damaged"),
        ("event-desc-string-length.data", "damaged"),
        ("event-desc-id-count.data", "damaged"),
        ("pipe-auxtrace-size.data", "damaged"),
        ("data-size.data", "beyond the end"),
    ] {
        for args in [&["report", "--stdio"][..], &["script"]] {
            let o = limited(args, &dir.join(name));
            assert_eq!(o.code, Some(1), "{args:?} {name}: {}", o.stderr);
            assert!(o.stderr.contains(says), "{args:?} {name}: {}", o.stderr);
        }
    }
    // --header-only reads the header itself: a count past the section's end stops it.
    let o = limited(
        &["report", "--header-only"],
        &dir.join("cmdline-count.data"),
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.took < Duration::from_secs(5), "{:?}", o.took);
    let o = limited(&["report", "--header-only"], &dir.join("data-size.data"));
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(o.stderr.contains("data-size.data"), "{}", o.stderr);
}

/// A pipe-mode stream cut inside a record: perf's warning, the records before the cut
/// still shown; an intact stream gets no warning.
#[test]
fn truncated_pipe_stream_warns_as_perf_does() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cut = dir.join("fixtures/corrupt/pipe-truncated.data");
    let whole = dir.join("fuzz/corpus/perf_data/r-pipe.data");
    for args in [&["report", "--stdio"][..], &["script"]] {
        let o = rperf().args(args).arg("-i").arg(&cut).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("unexpected end of event stream"),
            "{args:?}: {err}"
        );
        assert!(err.contains("pipe-truncated.data"), "{args:?}: {err}");
        let o = rperf().args(args).arg("-i").arg(&whole).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{args:?}: {err}");
        assert!(!err.contains("unexpected end"), "{args:?}: {err}");
    }
    // Cut inside the header records at the stream's start: an error in perf's words.
    let head = std::fs::read(&whole).unwrap();
    let tmp = TempDir::new("cut-pipe");
    let early = tmp.path().join("early.data");
    std::fs::write(&early, &head[..100]).unwrap();
    let o = rperf()
        .args(["report", "--stdio", "-i"])
        .arg(&early)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("early.data is truncated: unexpected end of event stream"),
        "{err}"
    );
    // Through stdin as well.
    let o = rperf()
        .args(["script", "-i", "-"])
        .stdin(std::fs::File::open(&cut).unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unexpected end of event stream"), "{err}");
}

/// The file offsets of the section header of `name` in a 64-bit ELF image and of the
/// section's bytes, and the section's size.
fn section(image: &[u8], name: &str) -> Option<(usize, usize, usize)> {
    use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
    use object::{Object, ObjectSection};
    let file = ElfFile64::<object::Endianness>::parse(image).ok()?;
    let e = file.endian();
    let s = file.section_by_name(name)?;
    let header = file.elf_header().e_shoff(e) as usize
        + s.index().0 * usize::from(file.elf_header().e_shentsize(e));
    let h = s.elf_section_header();
    Some((header, h.sh_offset(e) as usize, h.sh_size(e) as usize))
}

/// A binary whose compressed `.debug_info` claims 4 GB from the few bytes it holds (a crafted
/// file the fuzzer found the like of; a zlib stream can hold at most ~1032 times its size):
/// reading its source lines must refuse the section rather than size a buffer by the claim
/// (was: a 4 GB allocation and an abort under the 1 GB limit).
#[test]
fn a_compressed_section_claiming_more_than_its_bytes_can_hold_is_refused() {
    if !have_prlimit() {
        return;
    }
    let dir = TempDir::new("corrupt-chdr");
    let exe = super::common::compile_c(dir.path(), "burn", super::common::BURN_C, &["-O1", "-g"]);
    let exe = exe.to_str().unwrap();
    let data = super::common::record_with("rperf", dir.path(), "r.data", &["--", exe, "100"])
        .expect("rperf record failed");
    let mut image = std::fs::read(exe).unwrap();
    let (header, offset, size) = section(&image, ".debug_info").expect("no .debug_info");
    // SHF_COMPRESSED, then an Elf64_Chdr (zlib, 4 GB) and the zlib stream of nothing.
    let flags = header + 8;
    let f = u64::from_le_bytes(image[flags..flags + 8].try_into().unwrap()) | 0x800;
    image[flags..flags + 8].copy_from_slice(&f.to_le_bytes());
    let mut chdr = Vec::new();
    chdr.extend_from_slice(&1u32.to_le_bytes());
    chdr.extend_from_slice(&0u32.to_le_bytes());
    chdr.extend_from_slice(&(4u64 << 30).to_le_bytes());
    chdr.extend_from_slice(&1u64.to_le_bytes());
    chdr.extend_from_slice(&[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    assert!(size >= chdr.len(), ".debug_info of {size} bytes");
    image[offset..offset + chdr.len()].copy_from_slice(&chdr);
    std::fs::write(exe, &image).unwrap();
    // Source lines (srcline) and inline frames (the flame graph's default) both read DWARF.
    let svg = dir.path().join("x.svg");
    for args in [
        &["report", "--stdio", "--sort", "srcline"][..],
        &["flamegraph", "-o", svg.to_str().unwrap()],
    ] {
        let o = limited(args, &data);
        let what = format!("{args:?} ({:?}): {}", o.took, o.stderr);
        assert_eq!(o.code, Some(0), "{what}");
        assert!(!o.stderr.contains("memory allocation"), "{what}");
    }
    // Still named from its symbols, lines aside.
    let out = super::common::rperf_out(&["report", "--stdio", "--sort", "sym"], &data);
    assert!(out.contains("main") || out.contains("cpu"), "{out}");
}
