#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (as root), skipping what is
# already there. README's set-up section and .ci/run both call this one script, so a
# developer's `cargo test --workspace` tests what CI tests.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"

need=()
command -v perf >/dev/null 2>&1 || need+=(linux-perf)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v addr2line >/dev/null 2>&1 || need+=(binutils)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
# The trace tests build their workload with gcc -static (libc.a).
dpkg -s libc6-dev >/dev/null 2>&1 || need+=(libc6-dev)
# archive packs with tar -j, as perf archive does.
command -v bzip2 >/dev/null 2>&1 || need+=(bzip2)
# The security test plants its symlinks from one python3 process; bench/ is Python too.
command -v python3 >/dev/null 2>&1 || need+=(python3)
# The data convert test makes a virtual environment with DuckDB's Python package in it
# (Debian's python3 makes venvs with pip only with python3-venv's ensurepip).
python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
# The progress test runs rperf on a terminal inside tmux.
command -v tmux >/dev/null 2>&1 || need+=(tmux)
# perf shows the functions inlined in libc (its start-up) from libc's separate debug info,
# and the inline tests compare with that.
dpkg -s libc6-dbg >/dev/null 2>&1 || need+=(libc6-dbg)
# The toolchain corpus (fixtures/build.sh) builds with clang + lld and gcc + mold too.
command -v clang >/dev/null 2>&1 || need+=(clang)
command -v ld.lld >/dev/null 2>&1 || need+=(lld)
command -v mold >/dev/null 2>&1 || need+=(mold)
# Export read-back: go tool pprof reads the pprof files; headless Chromium renders the SVG.
command -v go >/dev/null 2>&1 || need+=(golang-go)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# probe's USDT fixture includes <sys/sdt.h>.
[ -e /usr/include/x86_64-linux-gnu/sys/sdt.h ] || [ -e /usr/include/sys/sdt.h ] || need+=(systemtap-sdt-dev)
# The convert memory test reads a conversion's peak memory from GNU time.
[ -x /usr/bin/time ] || need+=(time)
# stat --serve's test runs a real Prometheus server (its own config, port and data dir).
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The package's service would listen on every address at 9090: the test starts its own
# server on 127.0.0.1, so the packaged one is stopped and kept from starting at boot.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
elif [ -x /etc/init.d/prometheus ]; then
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    update-rc.d prometheus disable >/dev/null 2>&1 || true
fi

# The flame graph tests compare with `perf script | inferno-collapse-perf`.
command -v inferno-collapse-perf >/dev/null 2>&1 || cargo install --locked --quiet inferno
