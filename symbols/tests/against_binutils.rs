//! The symbols crate against binutils on binaries compiled here: function symbols against
//! `nm`, source lines and inline frames against `addr2line -f -i`, truncated files as
//! errors. Skips (with a reason) when gcc or binutils are missing.
use std::path::{Path, PathBuf};
use std::process::Command;

use rperf_symbols::{ElfSymbols, Lines};

const PROGRAM: &str = r#"
#include <stdlib.h>
static inline __attribute__((always_inline)) unsigned long inner(volatile unsigned long *x) {
    for (int i = 0; i < 1000; i++) *x += i;
    return *x;
}
static inline __attribute__((always_inline)) unsigned long middle(volatile unsigned long *x) {
    unsigned long v = inner(x);
    return v ^ 3;
}
__attribute__((noinline)) unsigned long outer(volatile unsigned long *x) { return middle(x) + 1; }
__attribute__((noinline)) int helper(int a) { return a * 7; }
int main(int argc, char **argv) {
    volatile unsigned long x = argc;
    (void)argv;
    return (int)(outer(&x) + helper(argc));
}
"#;

fn tool(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn build(dir: &Path, flags: &[&str]) -> Option<PathBuf> {
    if !tool("gcc") || !tool("nm") || !tool("addr2line") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "required under CI=true: gcc and binutils (nm, addr2line) are needed"
        );
        eprintln!("SKIP: gcc and binutils (nm, addr2line) are needed");
        return None;
    }
    std::fs::create_dir_all(dir).unwrap();
    let src = dir.join("p.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let exe = dir.join("p");
    let ok = Command::new("gcc")
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap();
    assert!(ok.success());
    Some(exe)
}

fn temp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("rperf-symbols-{tag}-{}", std::process::id()))
}

/// `nm` text symbols (T/t) with their addresses.
fn nm_functions(exe: &Path) -> Vec<(u64, String)> {
    let out = Command::new("nm").arg(exe).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && (f[1] == "T" || f[1] == "t"))
                .then(|| (u64::from_str_radix(f[0], 16).unwrap(), f[2].to_string()))
        })
        .collect()
}

#[test]
fn functions_match_nm() {
    let dir = temp("nm");
    let Some(exe) = build(&dir, &["-O2"]) else {
        return;
    };
    let table = ElfSymbols::load(&exe).unwrap();
    let funcs = nm_functions(&exe);
    assert!(funcs.iter().any(|(_, n)| n == "outer"));
    for (addr, name) in &funcs {
        let (sym, off) = table
            .lookup_vaddr(*addr)
            .unwrap_or_else(|| panic!("{name} at {addr:#x} not found"));
        assert_eq!(off, 0, "{name}");
        // Aliases at one address (e.g. _start and its local labels) may pick either name.
        let same_addr: Vec<&String> = funcs
            .iter()
            .filter(|(a, _)| a == addr)
            .map(|(_, n)| n)
            .collect();
        assert!(same_addr.contains(&&sym.name), "{name}: got {}", sym.name);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `addr2line -f -i -e exe addr`: (function, file:line) pairs, innermost first.
fn addr2line(exe: &Path, addr: u64) -> Vec<(String, String)> {
    let out = Command::new("addr2line")
        .args(["-f", "-i", "-e"])
        .arg(exe)
        .arg(format!("{addr:#x}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| {
            let loc = c[1].split(" (discriminator").next().unwrap_or(c[1]);
            let base = loc.rsplit('/').next().unwrap_or(loc).to_string();
            (c[0].to_string(), base)
        })
        .collect()
}

#[test]
fn lines_and_inline_frames_match_addr2line() {
    lines_match(&["-O2", "-g"], "lines");
}

/// DWARF sections compressed (`-gz`: what Rust's release profile and distributions' debug
/// files hold) are inflated by Lines itself: the same answers as binutils.
#[test]
fn compressed_dwarf_matches_addr2line() {
    lines_match(&["-O2", "-g", "-gz=zlib"], "lines-gz");
}

fn lines_match(flags: &[&str], name: &str) {
    let dir = temp(name);
    let Some(exe) = build(&dir, flags) else {
        return;
    };
    if flags.contains(&"-gz=zlib") {
        let sections = Command::new("readelf")
            .arg("-SW")
            .arg(&exe)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&sections.stdout);
        let info = text.lines().find(|l| l.contains(".debug_info")).unwrap();
        // The C flag: the section really is compressed.
        assert!(info.split_whitespace().any(|w| w.contains('C')), "{info}");
    }
    let lines = Lines::load(&exe, None).expect("the binary has DWARF");
    let table = ElfSymbols::load(&exe).unwrap();
    let (start, outer) = nm_functions(&exe)
        .into_iter()
        .find(|(_, n)| n == "outer")
        .map(|(a, _)| (a, table.lookup_vaddr(a).unwrap().0.clone()))
        .unwrap();
    let mut inlined_seen = 0;
    for addr in start..start + outer.size.max(1) {
        let want = addr2line(&exe, addr);
        let got: Vec<(String, String)> = lines
            .frames(addr)
            .iter()
            .map(|f| {
                (
                    f.function.clone().unwrap_or_else(|| "??".into()),
                    f.srcline().unwrap_or_else(|| "??:0".into()),
                )
            })
            .collect();
        assert_eq!(got, want, "at {addr:#x}");
        if got.len() >= 3 {
            inlined_seen += 1;
            assert_eq!(got[0].0, "inner");
            assert_eq!(got[1].0, "middle");
            assert_eq!(got.last().unwrap().0, "outer");
        }
        let loc = lines.location(addr).and_then(|l| l.srcline());
        assert_eq!(loc.as_deref(), want.first().map(|w| w.1.as_str()));
    }
    assert!(inlined_seen > 0, "no address inside the inlined loop");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stripped_binaries_find_dwarf_in_a_debuglink_file() {
    let dir = temp("debuglink");
    let Some(exe) = build(&dir, &["-O2", "-g"]) else {
        return;
    };
    let dbg = dir.join("p.debug");
    let run = |args: &[&str]| {
        let ok = Command::new("objcopy").args(args).status().unwrap();
        assert!(ok.success(), "objcopy {args:?}");
    };
    let (e, d) = (exe.to_str().unwrap(), dbg.to_str().unwrap());
    let main_at = nm_functions(&exe)
        .into_iter()
        .find(|(_, n)| n == "main")
        .map(|(a, _)| a)
        .expect("main in nm");
    let names_main = |t: &ElfSymbols| {
        t.lookup_vaddr(main_at)
            .is_some_and(|(s, _)| s.name == "main")
    };
    run(&["--only-keep-debug", e, d]);
    run(&["--strip-debug", "--strip-unneeded", e]);
    run(&[&format!("--add-gnu-debuglink={d}"), e]);
    // Found only while its CRC is the one objcopy recorded in the link.
    let lines = Lines::load(&exe, None).expect("found through .gnu_debuglink");
    assert_eq!(lines.source, dbg);
    let table = ElfSymbols::load_with_debug(&exe, None).unwrap();
    assert!(names_main(&table), "main from the debug file's .symtab");
    assert_eq!(rperf_symbols::debug_file(&exe, None), Some(dbg.clone()));
    // A stale debug file (another build's, here the same one with a byte more) is refused.
    let good = std::fs::read(&dbg).unwrap();
    let mut stale = good.clone();
    stale.push(0);
    std::fs::write(&dbg, &stale).unwrap();
    assert!(
        Lines::load(&exe, None).is_none(),
        "stale debug file used for lines"
    );
    assert_eq!(rperf_symbols::debug_file(&exe, None), None);
    let table = ElfSymbols::load_with_debug(&exe, None).unwrap();
    assert!(!names_main(&table), "stale debug file used for symbols");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn truncated_and_garbage_files_are_errors() {
    let dir = temp("trunc");
    let Some(exe) = build(&dir, &["-O2", "-g"]) else {
        return;
    };
    let data = std::fs::read(&exe).unwrap();
    for cut in [0, 3, 16, 64, 200, data.len() / 2] {
        let bad = dir.join(format!("cut{cut}"));
        std::fs::write(&bad, &data[..cut]).unwrap();
        // Either a clean error or a table; never a panic.
        let _ = ElfSymbols::load(&bad);
        let _ = Lines::load(&bad, None);
    }
    assert!(ElfSymbols::load(&dir.join("missing")).is_err());
    assert!(Lines::load(&dir.join("missing"), None).is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Several names at one address: the name perf shows is chosen on the demangled names
/// (sized, non-weak, global, fewest leading underscores, longest), although names are
/// otherwise demangled only when looked up.
#[test]
fn aliases_pick_perfs_name_by_their_demangled_text() {
    if !tool("as") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "required under CI=true: binutils (as)"
        );
        eprintln!("SKIP: binutils (as) is needed");
        return;
    }
    let dir = temp("alias");
    std::fs::create_dir_all(&dir).unwrap();
    // At `f`: `ab` and `_ZN1a1bEv` (a::b) tie on size and rank. Mangled, `ab` would win
    // (no underscore); demangled, `a::b` has none either and is longer. `__hidden` loses on
    // underscores, `w` on being weak, `l` on being local. At `g`, the sized name beats the
    // longer unsized one.
    let src = dir.join("a.s");
    std::fs::write(
        &src,
        ".text\n.skip 16\n\
         .globl ab\n.globl _ZN1a1bEv\n.globl __hidden\n.weak w\n\
         .type ab,@function\n.type _ZN1a1bEv,@function\n.type __hidden,@function\n\
         .type w,@function\n.type l,@function\n\
         w:\nl:\n__hidden:\nab:\n_ZN1a1bEv:\n ret\n.skip 15\n\
         .size ab,16\n.size _ZN1a1bEv,16\n.size __hidden,16\n.size w,16\n.size l,16\n\
         .globl g\n.globl g_longer_name\n.type g,@function\n.type g_longer_name,@function\n\
         g_longer_name:\ng:\n ret\n.size g,1\n",
    )
    .unwrap();
    let obj = dir.join("a.o");
    assert!(Command::new("as")
        .arg("-o")
        .arg(&obj)
        .arg(&src)
        .status()
        .unwrap()
        .success());
    let table = ElfSymbols::load(&obj).unwrap();
    assert_eq!(table.len(), 2);
    // Choosing among the aliases demangled them; nothing else was.
    assert!(table.demangled() <= 7, "{}", table.demangled());
    assert_eq!(table.lookup_vaddr(16).unwrap().0.name, "a::b");
    assert_eq!(table.lookup_vaddr(32).unwrap().0.name, "g");
    let _ = std::fs::remove_dir_all(&dir);
}
