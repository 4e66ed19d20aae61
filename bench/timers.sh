#!/usr/bin/env bash
# bench/timers.sh — the durations that functional tests used to bound with a stopwatch (issue
# #15: a time limit on a shared 2-core host is a measurement, not a test; the tests now check
# what happened instead: a barrier, the lock's state, the exit code). Measured here, N times each:
#
#   spawner  10 commands (`sleep 0.3`) side by side through minid-spawner: ~300 ms when they
#            really run at once, 3,000 if one after the other (test/unit/sys/spawner.test.ts)
#   lock     withLock on a lock a crashed holder left (modified 10 s ago): taken over at once
#            rather than after proper-lockfile's retries (test/unit/sys/lock.test.ts)
#   stop     `minid stop -t 1` of a container whose PID 1 ignores SIGTERM: ~1 s, the SIGKILL
#            after the grace period, not the default 10 s (test/integration/runtime/run.test.ts)
#
#   bash bench/timers.sh [N]     (default 5; after `make build`; root, for the container)
#
# Prints median (min–max) ms of each. Uses a temp dir for everything: a private store
# (MINID_ROOT, MINID_RUN, the offline registry config), the container on --network none; it
# removes them at exit.
set -euo pipefail
export LC_ALL=C
unset NODE_EXTRA_CA_CERTS
N=${1:-5}
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
[[ $(id -u) == 0 ]] || { echo "bench/timers.sh must run as root (a container)" >&2; exit 1; }
[[ -f $repo/dist/src/sys/spawner.js && -x $repo/build/minid-spawner ]] || { echo "bench/timers.sh: run \`make build\` first" >&2; exit 1; }
images=${MINID_TEST_IMAGES:-$repo/.images}
[[ -f $images/busybox/index.json ]] || { echo "bench/timers.sh: no busybox image in $images (make images)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mbtimers.XXXXXX")
[[ -n $tmp && -d $tmp ]] || exit 1
export MINID_ROOT=$tmp/root MINID_RUN=$tmp/run MINID_CONFIG=$repo/test/fixtures/registry/offline.json
name=mbtimers-$$
cleanup() {
  "$repo/bin/minid" rm -f "$name" >/dev/null 2>&1 || true
  if grep -q " $tmp/" /proc/self/mounts; then echo "bench/timers.sh: mounts left under $tmp: not removing it" >&2; return; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

now_ms() { echo $(($(date +%s%N) / 1000000)); }
stat() { sort -n | awk '{a[NR]=$1} END {m = NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.0f (%.0f–%.0f)", m, a[1], a[NR]}'; }

# spawner: node prints the elapsed ms of 10 side-by-side commands through the helper.
spawner_ms() {
  node --input-type=module -e "
    const { spawnVia } = await import('$repo/dist/src/sys/spawner.js');
    const t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: 10 }, () => spawnVia(['sleep', '0.3'])));
    if (rs.some((r) => !r || r.exitCode !== 0)) { console.error('a command failed or minid-spawner is not there'); process.exit(1); }
    console.log((performance.now() - t0).toFixed(1));
    process.exit(0);"
}

# lock: a lock left 10 s ago by a holder that is gone, taken over.
lock_ms() {
  local run=$tmp/lockrun
  rm -rf "$run" && mkdir -p "$run/locks/crashed.lock"
  touch -d '10 seconds ago' "$run/locks/crashed.lock"
  MINID_RUN=$run node --input-type=module -e "
    const { withLock } = await import('$repo/dist/src/sys/lock.js');
    const t0 = performance.now();
    await withLock('crashed', async () => {});
    console.log((performance.now() - t0).toFixed(1));"
}

# stop: run a container that ignores SIGTERM, time `stop -t 1`, remove it.
stop_ms() {
  "$repo/bin/minid" run -d --name "$name" --network none busybox sh -c 'trap "" TERM; while :; do sleep 1; done' >/dev/null
  local t0 t1
  t0=$(now_ms)
  "$repo/bin/minid" stop -t 1 "$name" >/dev/null
  t1=$(now_ms)
  "$repo/bin/minid" rm "$name" >/dev/null
  echo $((t1 - t0))
}

"$repo/bin/minid" load -q -i "$images/busybox" >/dev/null
for what in spawner lock stop; do
  "${what}_ms" >/dev/null # warm-up
  for ((i = 0; i < N; i++)); do "${what}_ms"; done >"$tmp/$what.ms"
done
echo "load (1/5/15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'); $(date -u +%FT%TZ)"
echo "ms, median (min–max) of $N after one warm-up"
echo "| what | ms | the stopwatch the test had |"
echo "|---|---|---|"
echo "| 10 × sleep 0.3 side by side (minid-spawner) | $(stat <"$tmp/spawner.ms") | < 2000 |"
echo "| a stale lock taken over (withLock) | $(stat <"$tmp/lock.ms") | < 1000 |"
echo "| stop -t 1 of a container ignoring SIGTERM | $(stat <"$tmp/stop.ms") | < 5000 |"
