//! Unwinding real stacks: a small C program compiled here (with CFI and without frame
//! pointers, or with frame pointers and no CFI) dumps its own registers, 4 KiB of stack and
//! its mappings from a known call chain main → a → b → capture; the test unwinds that dump.
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use rperf_unwind::{Cache, ElfCfi, Frame, ProcessUnwinder, Regs};

const PROGRAM: &str = r#"
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) void capture(void) {
    unsigned long rsp, rbp, rip;
    __asm__ volatile("mov %%rsp, %0\n\tmov %%rbp, %1\n\tlea 0(%%rip), %2" : "=r"(rsp), "=r"(rbp), "=r"(rip));
    /* Copied right away, before printf reuses the stack below; kept on the heap so the
       copy does not grow this frame. */
    unsigned char *stack = malloc(4096);
    for (int i = 0; i < 4096; i++) stack[i] = ((volatile unsigned char *)rsp)[i];
    printf("regs %lx %lx %lx\n", rip, rsp, rbp);
    printf("stack ");
    for (int i = 0; i < 4096; i++) printf("%02x", stack[i]);
    printf("\n");
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (fgets(line, sizeof line, f)) printf("map %s", line);
}
__attribute__((noinline)) void b(void) { capture(); __asm__ volatile(""); }
__attribute__((noinline)) void a(void) { b(); __asm__ volatile(""); }
int main(void) {
    /* The 4 KiB copied above capture's sp must stay inside the stack: main's frame is near
       its top (how near varies with ASLR), so keep room below it. */
    volatile char room[8192];
    room[0] = 0;
    printf("fns %lx %lx %lx\n", (unsigned long)&a, (unsigned long)&b, (unsigned long)&main);
    a();
    return 0;
}
"#;

struct Dump {
    regs: Regs,
    stack: Vec<u8>,
    maps: Vec<(u64, u64, u64, bool, String)>,
    fns: [u64; 3],
}

fn run_fixture(dir: &Path, flags: &[&str]) -> Option<Dump> {
    let src = dir.join("p.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let exe = dir.join("p");
    let ok = Command::new("gcc")
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status();
    if !ok.map(|s| s.success()).unwrap_or(false) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "required under CI=true: gcc is not available"
        );
        eprintln!("SKIP: gcc is not available");
        return None;
    }
    let out = Command::new(&exe).output().unwrap();
    assert!(
        out.status.success(),
        "fixture {flags:?} failed: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut d = Dump {
        regs: Regs::new(0, 0, 0),
        stack: Vec::new(),
        maps: Vec::new(),
        fns: [0; 3],
    };
    for l in text.lines() {
        let hex = |s: &str| u64::from_str_radix(s, 16).unwrap();
        if let Some(r) = l.strip_prefix("regs ") {
            let v: Vec<u64> = r.split(' ').map(hex).collect();
            d.regs = Regs::new(v[0], v[1], v[2]);
        } else if let Some(s) = l.strip_prefix("stack ") {
            d.stack = (0..s.len() / 2)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
                .collect();
        } else if let Some(f) = l.strip_prefix("fns ") {
            let v: Vec<u64> = f.split(' ').map(hex).collect();
            d.fns = [v[0], v[1], v[2]];
        } else if let Some(m) = l.strip_prefix("map ") {
            let f: Vec<&str> = m.split_whitespace().collect();
            let (s, e) = f[0].split_once('-').unwrap();
            let path = f.get(5).copied().unwrap_or("").to_string();
            d.maps
                .push((hex(s), hex(e), hex(f[2]), f[1].contains('x'), path));
        }
    }
    Some(d)
}

/// The dump's frames, unwound once with whole images and once with only the CFI sections
/// read ([`ElfCfi`], what `record` and `report` use): both must agree. `debug` is a separate
/// debug file for the binary at the given path.
fn unwind(d: &Dump, debug: Option<(&Path, &Path)>) -> Vec<Frame> {
    let mut u = ProcessUnwinder::new();
    let mut by_sections = ProcessUnwinder::new();
    for (start, end, pgoff, exec, path) in &d.maps {
        if !exec || !path.starts_with('/') {
            continue;
        }
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let image: Arc<[u8]> = bytes.into();
        let debug = debug
            .filter(|(exe, _)| Path::new(path) == *exe)
            .map(|(_, d)| d);
        let debug_image = debug.map(|d| Arc::from(std::fs::read(d).unwrap()));
        let _ = u.add_elf(path, image, *start, *end, *pgoff, debug_image);
        let mut cfi = ElfCfi::read(&std::fs::File::open(path).unwrap(), usize::MAX).unwrap();
        if let Some(d) = debug {
            assert!(!cfi.has_debug_frame(), "the binary was stripped of it");
            let file = std::fs::File::open(d).unwrap();
            assert!(cfi.use_debug_file(&file, usize::MAX).unwrap());
        }
        let _ = by_sections.add_cfi(path, &cfi, *start, *end, *pgoff);
    }
    let r = u.unwind(&mut Cache::new(), d.regs, &d.stack, 64);
    let s = by_sections.unwind(&mut Cache::new(), d.regs, &d.stack, 64);
    assert_eq!(r, s, "whole image and CFI sections alone unwind alike");
    r.frames
}

/// Whether `ret` is a return address inside the function starting at `start` (tiny here).
fn returns_into(ret: u64, start: u64) -> bool {
    ret > start && ret - start < 96
}

fn check(flags: &[&str]) {
    check_with(flags, false)
}

/// `split`: the binary is stripped of its DWARF, kept in a separate debug file (objcopy
/// --only-keep-debug) whose `.debug_frame` holds the only CFI of the program's own code.
fn check_with(flags: &[&str], split: bool) {
    let dir = std::env::temp_dir().join(format!(
        "rperf-unwind-{}-{}",
        std::process::id(),
        flags.join("")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let Some(d) = run_fixture(&dir, flags) else {
        return;
    };
    let exe = dir.join("p");
    let dbg = dir.join("p.debug");
    if split {
        // The dump ran from the unstripped binary; its code and addresses are the same.
        let tool = |cmd: &str, args: &[&Path]| {
            let ok = Command::new(cmd).args(args).status();
            assert!(ok.is_ok_and(|s| s.success()), "{cmd} failed");
        };
        let keep: &Path = Path::new("--only-keep-debug");
        tool("objcopy", &[keep, &exe, &dbg]);
        tool("strip", &[Path::new("--strip-debug"), &exe]);
    }
    // The word at sp is one of capture's locals, whatever the stack held there before (once
    // a piece of the fixture's path): no walk may take it for a return address. Garbage that
    // points nowhere makes that certain rather than a matter of what was left there.
    let mut d = d;
    d.stack[..8].copy_from_slice(&0x776e_752d_6f6e_662d_u64.to_le_bytes());
    let frames = unwind(&d, split.then_some((exe.as_path(), dbg.as_path())));
    let [a, b, main] = d.fns;
    assert_eq!(frames[0], Frame::InstructionPointer(d.regs.ip));
    let rets: Vec<u64> = frames[1..].iter().map(|f| f.address()).collect();
    assert!(rets.len() >= 3, "{flags:?}: only {frames:x?}");
    assert!(
        returns_into(rets[0], b),
        "{flags:?}: first caller {:#x} not in b {b:#x}",
        rets[0]
    );
    assert!(
        returns_into(rets[1], a),
        "{flags:?}: second caller {:#x} not in a {a:#x}",
        rets[1]
    );
    assert!(
        returns_into(rets[2], main),
        "{flags:?}: third caller {:#x} not in main {main:#x}",
        rets[2]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cfi_unwinds_code_without_frame_pointers() {
    check(&["-O1", "-fomit-frame-pointer"]);
}

#[test]
fn frame_pointers_unwind_code_without_cfi() {
    check(&[
        "-O1",
        "-fno-omit-frame-pointer",
        "-fno-asynchronous-unwind-tables",
        "-fno-unwind-tables",
    ]);
}

#[test]
fn a_separate_debug_files_debug_frame_unwinds_a_stripped_binary() {
    // No .eh_frame for the program's code: its CFI is the .debug_frame that -g writes.
    check_with(
        &[
            "-O1",
            "-g",
            "-fomit-frame-pointer",
            "-fno-asynchronous-unwind-tables",
            "-fno-unwind-tables",
        ],
        true,
    );
}
