#!/bin/sh
# Runs the cargo-fuzz targets one after another, SECONDS each (default 600), with the limits
# the robustness rule sets: 10 s per input, 1 GB of RSS and of any one allocation. New
# inputs go to $WORK/<target> (default /tmp/rperf-fuzz), the committed seeds stay as they
# are; logs go to $WORK/<target>.log. Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")"
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-perf_data sample_decoder tracepoint_format print_fmt event_grammar symbols_elf perf_map}
work=${WORK:-/tmp/rperf-fuzz}
for t in $targets; do
    mkdir -p "$work/$t"
    echo "== $t: $secs s, log in $work/$t.log"
    cargo +nightly fuzz run -O "$t" "$work/$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=1024 \
        -print_final_stats=1 >"$work/$t.log" 2>&1 || { echo "$t FAILED: see $work/$t.log"; exit 1; }
    grep -E "^stat::number_of_executed_units|Done [0-9]+ runs" "$work/$t.log" | tail -2
done
