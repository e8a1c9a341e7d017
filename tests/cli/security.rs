//! rperf run as root among other users' files: planted symlinks, device outputs, files of
//! other users, FIFOs where binaries should be, a full disk, and caches in another user's home.
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::common::*;

const NOBODY: u32 = 65534;

/// A check that cannot run here: skipped with a message, but a failure under `CI=true`.
fn cannot(why: &str) {
    skip(why);
}

/// A shell command run as `nobody`.
fn as_nobody(script: &str) -> std::process::Output {
    run({
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .args(["sh", "-c", script]);
        c
    })
}

/// A program's output (it must start).
fn tool(prog: &str, args: &[&std::ffi::OsStr]) -> std::process::Output {
    run({
        let mut c = Command::new(prog);
        c.args(args);
        c
    })
}

fn root() -> bool {
    tool("id", &["-u".as_ref()]).stdout == b"0\n"
}

/// Every entry below `dir` (hidden ones included), as paths relative to it.
fn entries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A small recording made by rperf in `dir`.
fn small_recording(dir: &Path, name: &str, workload: &[&str]) -> std::path::PathBuf {
    let out = dir.join(name);
    let mut c = rperf();
    c.args(["record", "-q", "-o"])
        .arg(&out)
        .arg("--")
        .args(workload);
    let o = run(c);
    assert!(o.status.success(), "record: {}", stderr(&o));
    out
}

/// The attack: in a directory anyone can write (like /tmp), an unprivileged user
/// plants symlinks to a root-owned file under every name rperf's temporary files used to
/// have (`.NAME.rperf-PID.tmp`, for the next few hundred pids) and as the cache directory.
/// Root's record, flamegraph and report must leave the target alone.
#[test]
fn planted_symlinks_never_redirect_roots_writes() {
    if !root() {
        return cannot("needs root (the attack is on root's writes)");
    }
    let d = TempDir::new("plant");
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = d.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    let last: u32 = fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .map(|s| s.trim().parse().unwrap_or(0))
        .unwrap_or(0);
    let dir = d.path().display();
    let v = victim.display();
    // buildid-cache --add copies a binary into a cache directory nobody could have made.
    let bin = fs::canonicalize("/bin/true").unwrap();
    let id = {
        let mut c = rperf();
        c.args(["buildid-list", "-i"]).arg(&bin);
        stdout(&run(c)).trim().to_string()
    };
    assert_eq!(id.len(), 40, "build-id of {}: {id}", bin.display());
    let slot = format!("bid/{}/{id}", bin.strip_prefix("/").unwrap().display());
    // One process plants every name (a shell loop of `ln`s would use up the very pids it
    // plants for), for the pids the next few seconds of a busy machine may hand out.
    let plant = format!(
        "cd {dir} && mkdir cache && mkdir -p {slot} && python3 -c '
import os
for p in range({}, {}):
    for name in [\"{slot}/.elf\", \".perf.data\", \".cpu.svg\", \".out.folded\", \".perf.data.tar.bz2\"]:
        os.symlink(\"{v}\", f\"{{name}}.rperf-{{p}}.tmp\")
    os.symlink(\"{dir}\", f\".perf.data.tar.bz2.rperf-{{p}}.d\")
'",
        last + 1,
        last + 3000
    );
    let o = as_nobody(&plant);
    assert!(o.status.success(), "planting as nobody: {}", stderr(&o));
    assert_eq!(fs::metadata(d.path().join("cache")).unwrap().uid(), NOBODY);
    // First, while the next pids are still among the planted names.
    let o = run({
        let mut c = rperf();
        c.env("PERF_BUILDID_DIR", d.path().join("bid"))
            .args(["buildid-cache", "--add"])
            .arg(&bin);
        c
    });
    assert!(o.status.success(), "buildid-cache: {}", stderr(&o));
    assert!(d.path().join(&slot).join("elf").is_file());

    let data = small_recording(
        d.path(),
        "perf.data",
        &["dd", "if=/dev/zero", "of=/dev/null", "count=20000"],
    );
    for args in [
        vec!["flamegraph", "-o", "cpu.svg"],
        vec!["flamegraph", "--format", "folded", "-o", "out.folded"],
        vec!["report", "--stdio"],
    ] {
        let mut c = rperf();
        c.current_dir(d.path())
            .env("RPERF_CACHE_DIR", d.path().join("cache"))
            .args(&args)
            .arg("-i")
            .arg(&data);
        let o = run(c);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let o = run({
        let mut c = rperf();
        c.current_dir(d.path()).args(["archive", "perf.data"]);
        c
    });
    assert!(o.status.success(), "archive: {}", stderr(&o));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    for f in ["perf.data", "cpu.svg", "out.folded", "perf.data.tar.bz2"] {
        let m = fs::symlink_metadata(d.path().join(f)).unwrap();
        assert!(m.is_file(), "{f} is not a regular file");
        assert_eq!(m.uid(), 0);
    }
    // The cache directory belongs to nobody: root neither writes there nor reads from it.
    let mut root_files = Vec::new();
    for e in fs::read_dir(d.path().join("cache")).unwrap().flatten() {
        if fs::symlink_metadata(e.path()).unwrap().uid() == 0 {
            root_files.push(e.path());
        }
    }
    assert!(
        root_files.is_empty(),
        "root wrote into nobody's cache: {root_files:?}"
    );
}

/// `-o` naming a device: written in place, never replaced by a regular file or renamed away.
#[test]
fn device_outputs_are_written_in_place() {
    if !root() {
        return cannot("needs root (mknod)");
    }
    let d = TempDir::new("device");
    let dev = d.path().join("nulldev");
    let o = tool(
        "mknod",
        &[dev.as_ref(), "c".as_ref(), "1".as_ref(), "3".as_ref()],
    );
    assert!(o.status.success(), "mknod: {}", stderr(&o));
    let data = small_recording(d.path(), "p.data", &["true"]);
    let recorded = small_recording(d.path(), "nulldev", &["true"]);
    assert_eq!(recorded, dev);
    for args in [
        vec!["flamegraph", "-o"],
        vec!["flamegraph", "--format", "folded", "-o"],
        vec!["flamegraph", "--format", "speedscope", "-o"],
    ] {
        let mut c = rperf();
        c.args(&args).arg(&dev).arg("-i").arg(&data);
        let o = run(c);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let m = fs::symlink_metadata(&dev).unwrap();
    assert!(m.file_type().is_char_device(), "the device was replaced");
    assert_eq!(m.rdev(), fs::metadata("/dev/null").unwrap().rdev());
    assert_eq!(entries(d.path()), ["nulldev", "p.data"]);
}

/// `-o -` is standard output for every output format, never a file named `-`.
#[test]
fn dash_output_is_standard_output() {
    let d = TempDir::new("dash");
    let data = small_recording(
        d.path(),
        "p.data",
        &["dd", "if=/dev/zero", "of=/dev/null", "count=20000"],
    );
    for (format, marker) in [
        ("svg", "<svg"),
        ("folded", "dd;"),
        ("speedscope", "speedscope"),
    ] {
        let mut c = rperf();
        c.current_dir(d.path())
            .args(["flamegraph", "--format", format, "-o", "-", "-i"])
            .arg(&data);
        let o = run(c);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        assert!(stdout(&o).contains(marker), "{format}: {}", stdout(&o));
        assert!(
            !d.path().join("-").exists(),
            "{format} wrote a file named -"
        );
    }
    // record -o - writes perf's pipe format to standard output.
    let mut c = rperf();
    c.current_dir(d.path())
        .args(["record", "-q", "-o", "-", "--", "true"]);
    let o = run(c);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.starts_with(b"PERFILE2"));
    assert!(!d.path().join("-").exists());
}

/// record into a FIFO writes perf's pipe format (a FIFO cannot be seeked back to a header),
/// which `perf script -i -` reads from the other end.
#[test]
fn record_into_a_fifo_streams_the_pipe_format() {
    let d = TempDir::new("fifo-out");
    let fifo = d.path().join("stream");
    let o = tool("mkfifo", &[fifo.as_ref()]);
    assert!(o.status.success());
    // The reader is bounded: an rperf that replaced the FIFO would leave it waiting forever.
    let reader = Command::new("timeout")
        .arg("60")
        .arg("cat")
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let o = run({
        let mut c = rperf();
        c.args(["record", "-q", "-o"]).arg(&fifo).args([
            "--",
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "count=20000",
        ]);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = reader.wait_with_output().unwrap().stdout;
    assert!(bytes.starts_with(b"PERFILE2"));
    assert_eq!(
        u64::from_le_bytes(bytes[8..16].try_into().unwrap()),
        16,
        "pipe header"
    );
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    // Named as an input, a FIFO would wait for a writer: refused with the way to read it.
    let o = run({
        let mut c = rperf();
        c.args(["report", "--stdio", "-i"]).arg(&fifo);
        c
    });
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("is a FIFO: read a stream from standard input with `-i - <"),
        "{}",
        stderr(&o)
    );
    let copy = d.path().join("copy.data");
    fs::write(&copy, &bytes).unwrap();
    let out = rperf_out(&["script"], &copy);
    assert!(out.contains("dd"), "{out}");
}

/// perf refuses a perf.data that belongs to another user (not root) without -f; so does rperf,
/// with perf's words, in every command that reads one.
#[test]
fn another_users_file_needs_force() {
    if !root() {
        return cannot("needs root (chown)");
    }
    let d = TempDir::new("owner");
    let data = small_recording(d.path(), "p.data", &["true"]);
    std::os::unix::fs::chown(&data, Some(NOBODY), None).unwrap();
    let want = format!(
        "File {} not owned by current user or root (use -f to override)",
        data.display()
    );
    if let Some(mut p) = perf() {
        let o = run({
            p.args(["report", "--stdio", "-i"]).arg(&data);
            p
        });
        assert!(stderr(&o).contains(&want), "perf says: {}", stderr(&o));
    }
    let svg = d.path().join("g.svg");
    for args in [
        vec!["report", "--stdio"],
        vec!["script"],
        vec!["flamegraph", "-o", svg.to_str().unwrap()],
        vec!["evlist"],
        vec!["buildid-list"],
    ] {
        let mut c = rperf();
        c.args(&args).arg("-i").arg(&data);
        let o = run(c);
        assert!(!o.status.success(), "{args:?} read another user's file");
        assert_eq!(stderr(&o).trim(), format!("rperf: {want}"), "{args:?}");
        let mut c = rperf();
        c.args(&args).arg("-f").arg("-i").arg(&data);
        let o = run(c);
        assert!(o.status.success(), "{args:?} -f: {}", stderr(&o));
    }
    // A root-owned file is readable by anyone who can open it.
    std::os::unix::fs::chown(&data, Some(0), None).unwrap();
    fs::set_permissions(&data, fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let o = as_nobody(&format!(
        "{} script -i {}",
        env!("CARGO_BIN_EXE_rperf"),
        data.display()
    ));
    assert!(
        o.status.success(),
        "nobody reading root's file: {}",
        stderr(&o)
    );
}

/// A FIFO where a recorded binary was (a crafted perf.data can name any path): report,
/// script and flamegraph must not block opening it, for frame-pointer and DWARF stacks.
#[test]
fn a_fifo_at_a_binary_path_does_not_block() {
    if Command::new("gcc").arg("--version").output().is_err() {
        return cannot("gcc is not installed");
    }
    let d = TempDir::new("fifo-map");
    let exe = compile_c(
        d.path(),
        "work",
        CHAIN_C,
        &["-O1", "-g", "-fno-omit-frame-pointer"],
    );
    let exe_s = exe.to_str().unwrap();
    let fp = small_recording(d.path(), "fp.data", &[exe_s, "0.2"]);
    let dwarf = d.path().join("dwarf.data");
    let o = run({
        let mut c = rperf();
        c.args(["record", "-q", "--call-graph", "dwarf", "-o"])
            .arg(&dwarf)
            .args(["--", exe_s, "0.2"]);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    fs::remove_file(&exe).unwrap();
    assert!(tool("mkfifo", &[exe.as_ref()]).status.success());
    let svg = d.path().join("g.svg");
    for data in [&fp, &dwarf] {
        for args in [
            vec!["report", "--stdio"],
            vec!["script"],
            vec!["flamegraph", "-o", svg.to_str().unwrap()],
        ] {
            let t = std::time::Instant::now();
            let mut c = Command::new("timeout");
            // No build-id cache in this home: the FIFO is the only candidate for the binary.
            c.env("HOME", d.path())
                .arg("30")
                .arg(env!("CARGO_BIN_EXE_rperf"))
                .args(&args)
                .arg("-i")
                .arg(data);
            let o = run(c);
            assert!(
                o.status.success(),
                "{args:?} on {}: {:?} {}",
                data.display(),
                o.status,
                stderr(&o)
            );
            assert!(
                t.elapsed().as_secs() < 20,
                "{args:?} took {:?}",
                t.elapsed()
            );
        }
    }
    let out = rperf_out(&["script"], &fp);
    assert!(out.contains("work"), "{out}");
}

/// A disk that fills up while record writes: a clear error, a non-zero exit, and nothing left
/// on that disk (no temporary file keeping it full, no partial perf.data).
#[test]
fn a_full_disk_leaves_nothing_behind() {
    if !root() {
        return cannot("needs root (mounting a small tmpfs)");
    }
    let d = TempDir::new("full");
    let small = d.path().join("small");
    fs::create_dir(&small).unwrap();
    let o = tool(
        "mount",
        &["-t", "tmpfs", "-o", "size=256k", "tmpfs"]
            .map(std::ffi::OsStr::new)
            .into_iter()
            .chain([small.as_os_str()])
            .collect::<Vec<_>>(),
    );
    if !o.status.success() {
        return cannot(&format!("cannot mount a tmpfs: {}", stderr(&o)));
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&small);
    let mut c = rperf();
    c.args(["record", "-q", "-g", "-e", "cpu-clock", "-c", "20000", "-o"])
        .arg(small.join("perf.data"))
        .args([
            "--",
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=4k",
            "count=400000",
        ]);
    let o = run(c);
    assert!(!o.status.success(), "record succeeded on a full disk");
    let err = stderr(&o);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("perf.data"), "the error names the file: {err}");
    assert_eq!(
        entries(&small),
        Vec::<String>::new(),
        "left on the full disk"
    );
}

/// Root running with another user's `$HOME` (sudo -E) must not create root-owned caches of
/// the kernel's addresses there; in root's own home the cache is private (0600 in 0700).
#[test]
fn kernel_symbol_cache_is_private_and_never_in_another_users_home() {
    if !root() {
        return cannot("needs root (chown, kernel addresses)");
    }
    let d = TempDir::new("cache");
    // Mostly kernel time, so the kernel's table is loaded (and cached).
    let data = small_recording(
        d.path(),
        "k.data",
        &["dd", "if=/dev/zero", "of=/dev/null", "count=100000"],
    );
    let report = |home: &Path| {
        let mut c = rperf();
        c.env("HOME", home)
            .env_remove("XDG_CACHE_HOME")
            .env_remove("RPERF_CACHE_DIR")
            .args(["report", "--stdio", "-i"])
            .arg(&data);
        let o = run(c);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let mine = d.path().join("root-home");
    fs::create_dir(&mine).unwrap();
    let text = report(&mine);
    assert!(
        text.contains("[k]"),
        "no kernel symbols in the report:\n{text}"
    );
    let cached: Vec<_> = entries(&mine)
        .into_iter()
        .filter(|e| e.contains("kallsyms"))
        .collect();
    assert_eq!(cached.len(), 1, "{:?}", entries(&mine));
    let f = mine.join(&cached[0]);
    assert_eq!(fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
    assert_eq!(
        fs::metadata(f.parent().unwrap()).unwrap().mode() & 0o777,
        0o700
    );
    // The same report with a home that belongs to nobody writes nothing there.
    let theirs = d.path().join("their-home");
    fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(NOBODY), None).unwrap();
    assert_eq!(report(&theirs), text);
    assert_eq!(entries(&theirs), Vec::<String>::new());
}

/// A perf config file that belongs to another user is ignored with perf's warning (its
/// settings could be planted for root); an unreadable home's config is simply skipped.
#[test]
fn another_users_config_file_is_ignored() {
    if !root() {
        return cannot("needs root (chown)");
    }
    let d = TempDir::new("config-owner");
    let data = small_recording(
        d.path(),
        "p.data",
        &["dd", "if=/dev/zero", "of=/dev/null", "count=20000"],
    );
    let home = d.path().join("home");
    fs::create_dir(&home).unwrap();
    let conf = home.join(".perfconfig");
    fs::write(&conf, "[report]\n\tsort_order = dso\n").unwrap();
    let report = || {
        let mut c = rperf();
        c.env("HOME", &home)
            .env_remove("PERF_CONFIG")
            .args(["report", "--stdio", "-i"])
            .arg(&data);
        run(c)
    };
    let own = stdout(&report());
    assert!(
        own.contains("# Overhead  Shared Object"),
        "root's own config applies:\n{own}"
    );
    std::os::unix::fs::chown(&conf, Some(NOBODY), None).unwrap();
    let o = report();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "File {} not owned by current user or root, ignoring it.",
            conf.display()
        )),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("Command"),
        "the planted config applied:\n{}",
        stdout(&o)
    );
    // nobody, whose HOME (root's here) cannot even be looked into, runs without a config.
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&data, fs::Permissions::from_mode(0o644)).unwrap();
    let o = as_nobody(&format!(
        "HOME=/root {} script -i {} > /dev/null",
        env!("CARGO_BIN_EXE_rperf"),
        data.display()
    ));
    assert!(o.status.success(), "{}", stderr(&o));
}
