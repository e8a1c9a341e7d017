//! PLT stub names on binaries linked by mold, whose PLT header is 32 bytes, not GNU ld's 16:
//! the `name@plt` names synthesized for a stripped binary must sit where mold's own
//! `name$plt` symbols say the stubs are, and those symbols win where present (perf shows
//! them). perf synthesizes PLT names only for a table that defines symbols, so the program
//! exports its own (`-rdynamic`); one that defines none gets no PLT names. Skips with a
//! reason when gcc or mold is missing, and fails so under `CI=true`.
use std::path::PathBuf;
use std::process::Command;

use rperf_symbols::ElfSymbols;

const PROGRAM: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    printf("%f %ld\n", argc > 1 ? strtod(argv[1], 0) : 0.0, (long)t.tv_sec);
    return 0;
}
"#;

fn unavailable(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "required under CI=true: {why}"
    );
    eprintln!("SKIP: {why}");
}

fn temp() -> PathBuf {
    let d = std::env::temp_dir().join(format!("rperf-symbols-plt-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn mold_plt_stubs_are_named_where_they_are() {
    let ok = |t: &str| {
        Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ok("gcc") || !ok("mold") || !ok("strip") {
        unavailable("gcc, mold and strip are needed (apt-get install gcc mold binutils)");
        return;
    }
    let dir = temp();
    let src = dir.join("p.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let build = |name: &str, flags: &[&str]| -> (PathBuf, PathBuf) {
        let exe = dir.join(name);
        let built = Command::new("gcc")
            .args(["-O1", "-fuse-ld=mold"])
            .args(flags)
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .status()
            .unwrap();
        assert!(built.success());
        let stripped = dir.join(format!("{name}.stripped"));
        assert!(Command::new("strip")
            .arg("-o")
            .arg(&stripped)
            .arg(&exe)
            .status()
            .unwrap()
            .success());
        (exe, stripped)
    };
    let (exe, stripped) = build("p", &["-rdynamic"]);
    let full = ElfSymbols::parse(&std::fs::read(&exe).unwrap()).unwrap();
    let bare = ElfSymbols::parse(&std::fs::read(&stripped).unwrap()).unwrap();
    // mold's own symbols: one `name$plt` per stub of .plt.
    let stubs: Vec<(u64, String)> = object_plt_symbols(&exe);
    assert!(stubs.len() >= 3, "mold wrote no $plt symbols: {stubs:?}");
    for (addr, name) in &stubs {
        let (s, off) = full.lookup_vaddr(*addr).unwrap();
        assert_eq!((s.name.as_str(), off), (name.as_str(), 0), "at {addr:#x}");
        let (s, off) = bare.lookup_vaddr(*addr).unwrap();
        let want = name.replace("$plt", "@plt");
        assert_eq!(
            (s.name.as_str(), off),
            (want.as_str(), 0),
            "stripped, at {addr:#x}"
        );
    }
    // Without exports the stripped program's .dynsym defines nothing: no PLT names.
    let (_, stripped) = build("q", &[]);
    let none = ElfSymbols::parse(&std::fs::read(&stripped).unwrap()).unwrap();
    assert!(
        none.is_empty(),
        "{:?}",
        none.symbols().map(|s| s.name).collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `name$plt` function symbols of `.symtab`, by address.
fn object_plt_symbols(exe: &std::path::Path) -> Vec<(u64, String)> {
    let out = Command::new("nm").arg(exe).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (addr, name) = (f.first()?, f.get(2)?);
            name.ends_with("$plt")
                .then(|| Some((u64::from_str_radix(addr, 16).ok()?, name.to_string())))?
        })
        .collect()
}
