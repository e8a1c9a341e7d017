#!/usr/bin/env python3
"""Builds the big-binary fixture: a program linked against generated shared libraries of tens
of MB, each with a few hundred thousand C++- and Rust-mangled functions, that calls into all
of them the way real programs run through large libraries (a small hot set out of a big table).

Usage: python3 bench/bigbin.py [DIR]  -> prints the path of the program

The sources are assembly written here (gas assembles a million small functions in seconds where
a compiler takes minutes), so nothing is downloaded. The build is cached in DIR (default
target/bench-bigbin-HASH, HASH over this file), so only the first run pays for it.
"""
import hashlib
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBS = 4
FUNCS = 150_000
# Frames below the library's entry: deep enough that call chains carry several names.
DEPTH = 4
# Bytes of padding per function, so each library has tens of MB of text as real ones do.
PAD = 96


def cxx_name(lib, i):
    """A C++ member function of a class template in nested namespaces (Itanium ABI)."""
    ns = f"gen{lib}"
    mod = f"module_{i % 97}"
    cls = f"Widget{i}"
    fn = f"process_{i % 1013}"
    kind = i % 3
    if kind == 0:
        # ns::mod::WidgetN<int, std::string-like>::process_K(unsigned long) const
        return f"_ZNK{len(ns)}{ns}{len(mod)}{mod}{len(cls)}{cls}IiNS0_6HolderIcEEE{len(fn)}{fn}Em"
    if kind == 1:
        # A function template with its return type: ns::mod::fn<double>(WidgetN&)
        return f"_ZN{len(ns)}{ns}{len(mod)}{mod}{len(fn)}{fn}IdEET_RNS0_{len(cls)}{cls}E"
    # A plain member: ns::mod::WidgetN::process_K(int, char const*)
    return f"_ZN{len(ns)}{ns}{len(mod)}{mod}{len(cls)}{cls}{len(fn)}{fn}EiPKc"


def rust_name(lib, i):
    """A legacy-mangled Rust function with its hash suffix."""
    krate = f"bigcrate{lib}"
    mod = f"module_{i % 89}"
    ty = f"Engine{i}"
    fn = f"step_{i % 1009}"
    h = hashlib.blake2b(f"{lib}.{i}".encode(), digest_size=8).hexdigest()
    parts = [krate, mod, f"_$LT$impl$u20${ty}$GT$", fn, f"h{h}"]
    return "_ZN" + "".join(f"{len(p)}{p}" for p in parts) + "E"


def name(lib, i):
    return cxx_name(lib, i) if i % 2 == 0 else rust_name(lib, i)


def lib_asm(lib):
    """The assembly of one library: FUNCS functions in a call graph, a table of them, and an
    entry point that runs one chain picked by its argument."""
    out = [".text"]
    for i in range(FUNCS):
        # Quoted: Rust's legacy mangling puts `$` in names, which gas reads as an immediate.
        n = f'"{name(lib, i)}"'
        nxt = (i * 7919 + 1) % FUNCS
        out.append(
            f".globl {n}\n.type {n},@function\n{n}:\n.Lf{i}:\n"
            "\tpush %rbp\n\tmov %rsp,%rbp\n"
            f"\ttest %esi,%esi\n\tjz .Ll{i}\n\tdec %esi\n\tcall .Lf{nxt}\n\tpop %rbp\n\tret\n"
            # The leaf: spin %rdi times.
            f".Ll{i}:\n\tmov %rdi,%rax\n1:\tdec %rax\n\tjnz 1b\n\tpop %rbp\n\tret\n"
            f"\t.skip {PAD},0x90\n.size {n},.-{n}"
        )
    # bench_libN_run(spin, pick): calls the chain rooted at function `pick % FUNCS`.
    out.append(
        f".globl bench_lib{lib}_run\n.type bench_lib{lib}_run,@function\nbench_lib{lib}_run:\n"
        "\tpush %rbp\n\tmov %rsp,%rbp\n"
        f"\tmov %rsi,%rax\n\txor %edx,%edx\n\tmov ${FUNCS},%rcx\n\tdiv %rcx\n"
        f"\tlea .Ltable(%rip),%rcx\n\tmovslq (%rcx,%rdx,4),%rax\n\tadd %rcx,%rax\n"
        f"\tmov ${DEPTH},%esi\n\tcall *%rax\n\tpop %rbp\n\tret\n"
        f".size bench_lib{lib}_run,.-bench_lib{lib}_run"
    )
    # Offsets from the table, so the table needs no relocations.
    out.append(".section .rodata\n.p2align 2\n.Ltable:")
    out.extend(f"\t.long .Lf{i}-.Ltable" for i in range(FUNCS))
    out.append('.section .note.GNU-stack,"",@progbits')
    return "\n".join(out) + "\n"


MAIN_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
%DECLS%
/* Runs for argv[1] seconds, calling a chain in every library in turn. Roots are drawn from a
   hot set of a few thousand functions per library: real programs touch a small part of
   their libraries, and the tools must still index all of them. */
int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 3;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    unsigned long x = 88172645463325252UL, n = 0;
    for (;;) {
        for (int l = 0; l < %LIBS%; l++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            unsigned long pick = (x % 4096) * 37;
            %CALL%
        }
        if (++n % 64 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &b);
            if ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 >= secs) break;
        }
    }
    printf("%lu\n", n);
    return 0;
}
"""


def build(out):
    os.makedirs(out, exist_ok=True)
    exe = os.path.join(out, "bigprog")
    if os.path.exists(exe):
        return exe
    libs = []
    for lib in range(LIBS):
        s = os.path.join(out, f"lib{lib}.s")
        so = os.path.join(out, f"libbig{lib}.so")
        with open(s, "w") as f:
            f.write(lib_asm(lib))
        o = s[:-2] + ".o"
        subprocess.run(["as", "-o", o, s], check=True)
        subprocess.run(["gcc", "-shared", "-Wl,--build-id", "-o", so, o], check=True)
        os.remove(s)
        os.remove(o)
        libs.append(so)
    decls = "\n".join(f"void bench_lib{l}_run(unsigned long, unsigned long);" for l in range(LIBS))
    call = "switch (l) {" + "".join(f" case {l}: bench_lib{l}_run(20000, pick); break;" for l in range(LIBS)) + " }"
    src = os.path.join(out, "main.c")
    with open(src, "w") as f:
        f.write(MAIN_C.replace("%DECLS%", decls).replace("%LIBS%", str(LIBS)).replace("%CALL%", call))
    tmp = exe + ".tmp"
    subprocess.run(
        ["gcc", "-O2", "-fno-omit-frame-pointer", "-o", tmp, src, f"-L{out}", "-Wl,-rpath,$ORIGIN"]
        + [f"-lbig{l}" for l in range(LIBS)],
        check=True,
    )
    os.rename(tmp, exe)
    return exe


def default_dir():
    with open(os.path.abspath(__file__), "rb") as f:
        h = hashlib.sha256(f.read()).hexdigest()[:12]
    return os.path.join(ROOT, "target", f"bench-bigbin-{h}")


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else default_dir()))
