#!/usr/bin/env bash
# bench/scale-one.sh RUNTIME NAME — start one idle detached container and print
# "NAME MILLISECONDS" (used by the scale section to start containers 10 at a time).
set -euo pipefail
BENCH_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"
# shellcheck source=runtimes.sh
. "$BENCH_DIR/runtimes.sh"
t0=$(now_us)
rt_run_d "$1" "$2" busybox sleep 3600
echo "$2 $((($(now_us) - t0) / 1000))"
