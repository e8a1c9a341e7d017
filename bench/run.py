#!/usr/bin/env python3
"""Runs every rperf benchmark against Linux perf in the same run and writes BENCHMARKS.md.

Usage: python3 bench/run.py [--quick] [--only NAME]
Each benchmark measures perf and rperf interleaved on the same machine in one invocation,
so the ratio is meaningful even when absolute times drift. Later benchmarks add a function
to BENCHMARKS below.
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RPERF = os.path.join(ROOT, "target", "release", "rperf")


def timed(cmd, **kw):
    """Wall seconds and peak RSS (KiB) of one command run to completion."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark command failed: {' '.join(cmd)}")
    return wall, ru.ru_maxrss


def interleaved(cmds, runs):
    """Median wall time and max RSS of each command, runs interleaved to share noise."""
    walls = {k: [] for k in cmds}
    rss = {k: 0 for k in cmds}
    for _ in range(runs):
        for k, c in cmds.items():
            w, r = timed(c)
            walls[k].append(w)
            rss[k] = max(rss[k], r)
    return {k: statistics.median(v) for k, v in walls.items()}, rss


def bench_stat_startup(quick):
    """Whole-process time of counting `true`: the fixed cost users pay on every stat."""
    runs = 20 if quick else 100
    med, _ = interleaved(
        {
            "perf": ["perf", "stat", "-e", "task-clock", "--", "true"],
            "rperf": [RPERF, "stat", "-e", "task-clock", "--", "true"],
        },
        runs,
    )
    return [
        {
            "name": "stat startup: `stat -e task-clock -- true`",
            "unit": "ms",
            "perf": med["perf"] * 1e3,
            "rperf": med["rperf"] * 1e3,
            "goal": "rperf < 0.5 x perf",
            "met": med["rperf"] < 0.5 * med["perf"],
            "runs": runs,
        }
    ]


def bench_stat_overhead(quick):
    """Slowdown of a syscall-heavy workload while counted: the cost of counting itself."""
    count = "300000" if quick else "2000000"
    work = ["dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={count}"]
    evs = "task-clock,context-switches,page-faults,syscalls:sys_enter_read,syscalls:sys_enter_write"
    runs = 5 if quick else 11
    med, _ = interleaved(
        {
            "bare": work,
            "perf": ["perf", "stat", "-e", evs, "--"] + work,
            "rperf": [RPERF, "stat", "-e", evs, "--"] + work,
        },
        runs,
    )
    over = {k: (med[k] - med["bare"]) / med["bare"] * 100 for k in ("perf", "rperf")}
    return [
        {
            "name": f"stat overhead: dd bs=1 count={count} with 5 events (bare {med['bare']*1e3:.0f} ms)",
            "unit": "% slowdown",
            "perf": over["perf"],
            "rperf": over["rperf"],
            "goal": "rperf <= perf",
            # Overheads are within noise of each other when both are small: allow 1 point.
            "met": over["rperf"] <= over["perf"] + 1.0,
            "runs": runs,
            "ratio": (med["rperf"] / med["perf"]),
            "ratio_label": "time rperf/perf",
        }
    ]


BENCHMARKS = [bench_stat_startup, bench_stat_overhead]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer runs, for a smoke test")
    ap.add_argument("--only", help="run only benchmarks whose function name contains this")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = ap.parse_args()
    if shutil.which("perf") is None:
        sys.exit("Linux perf is needed as the baseline: apt-get install linux-perf")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    rows = []
    for b in BENCHMARKS:
        if args.only and args.only not in b.__name__:
            continue
        print(f"running {b.__name__} ...", file=sys.stderr)
        rows.extend(b(args.quick))
    perf_version = subprocess.run(["perf", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# Benchmarks",
        "",
        "Made by `python3 bench/run.py` (rperf release build and Linux perf measured in the same run,",
        "interleaved; medians). Re-run it after a change that could move these numbers.",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, kernel {platform.release()}",
        f"- baseline: {perf_version}",
        "",
        "| benchmark | unit | perf | rperf | rperf/perf | goal | met | runs |",
        "|---|---|---:|---:|---:|---|---|---:|",
    ]
    for r in rows:
        ratio = r.get("ratio", r["rperf"] / r["perf"] if r["perf"] else float("nan"))
        label = f" ({r['ratio_label']})" if "ratio_label" in r else ""
        lines.append(
            f"| {r['name']} | {r['unit']} | {r['perf']:.2f} | {r['rperf']:.2f} | {ratio:.2f}{label} "
            f"| {r['goal']} | {'yes' if r['met'] else 'NO'} | {r['runs']} |"
        )
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
