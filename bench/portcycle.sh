#!/usr/bin/env bash
# bench/portcycle.sh RUNTIME HOSTPORT [HOSTADDR] — one full port cycle, timed as a whole by
# hyperfine: start nginx detached with -p HOSTPORT:80, fetch the page through 127.0.0.1 (as
# soon as nginx answers) and through the host's own address, then remove the container.
# Needs the environment bench/run.sh exports (BENCH_TMP, FLOOR_STATE, MINID_* ...).
set -euo pipefail
BENCH_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"
# shellcheck source=runtimes.sh
. "$BENCH_DIR/runtimes.sh"

rt=$1 port=$2 addr=${3:-}
name=mbp-$$
rt_run_d "$rt" "$name" -p "$port:80" nginx
trap 'rt_rm "$rt" "$name" >/dev/null 2>&1 || true' EXIT # only if something below failed
wait_http "http://127.0.0.1:$port/" 10 || { echo "nginx did not answer on 127.0.0.1:$port" >&2; exit 1; }
if [[ -n $addr ]]; then
  curl -sf -o /dev/null --max-time 2 "http://$addr:$port/" || { echo "no answer on $addr:$port" >&2; exit 1; }
fi
trap - EXIT
rt_rm "$rt" "$name"
