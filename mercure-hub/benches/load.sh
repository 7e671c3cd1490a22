#!/usr/bin/env bash
# Runs the hub load benchmark: raises the open-files limit (tens of
# thousands of loopback connections are held on both sides), then builds
# and runs `benches/load.rs` in release mode. Sizes: BENCH_* variables
# (see the Settings struct in load.rs); phases: BENCH_PHASES (default
# publish,rtt,latency,fanout,floor,new,idle,durable; also restart and
# replay, which write history files of hundreds of MiB under $TMPDIR or
# /tmp, removed afterwards, and cluster, which starts a redis-server
# (installed by scripts/setup) and three hubs sharing it, and soak, which
# scripts/soak runs). The side-by-side run against flask-mercure-sse's hub
# is another bench, compare.rs. Loopback only;
# every phase is bounded in count and in time.
set -euo pipefail
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ulimit -n 200000 2>/dev/null || ulimit -n 120000 2>/dev/null || true
echo "open files limit: $(ulimit -n)"
cd "$(dirname "$0")/.."
exec cargo bench -p mercure-hub --bench load "$@"
