#!/usr/bin/env bash
# shellcheck disable=SC2016  # single-quoted jq programs and sh -c scripts are intentional
# images/verify.sh OUTROOT — check the images in OUTROOT/{busybox,nginx}
# WITHOUT minid: only jq, sha256sum, GNU tar and util-linux.
#
#  1. layout: oci-layout, index.json → manifest → config; every blob's name is
#     its sha256 and its size matches; diff_ids = sha256 of the gunzipped
#     layers; media types; tag "latest"; busybox layer == nginx layer 1.
#  2. unpack each image's layers in order into a temp dir, applying whiteouts
#     by hand (.wh.NAME deletes NAME below, .wh..wh..opq empties the dir below).
#  3. busybox: run sh in a chroot (ids, modes, applets).
#  4. nginx: check images/nginx/WHITEOUTS on the unpacked tree; then run the
#     image's Entrypoint+Cmd+Env as PID 1 of fresh pid/mount/net/uts/ipc
#     namespaces after pivot_root (like a runtime), with a minimal /dev;
#     `nginx -t`, then serve and curl http://127.0.0.1/ inside that netns;
#     stop it with the image's StopSignal.
#  5. the docker-archive form (built on the fly) is readable by skopeo.
# Everything it creates (temp dir, namespaces, processes) goes away on exit.
set -euo pipefail
export LC_ALL=C
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
ROOT=${1:?usage: images/verify.sh OUTROOT}
[[ $(id -u) -eq 0 ]] || { echo "verify.sh needs root" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/minid-verify.XXXXXX")
NS_PID=""
cleanup() {
  if [[ -n $NS_PID ]] && kill -0 "$NS_PID" 2>/dev/null; then
    kill -KILL "$NS_PID" 2>/dev/null || true   # --kill-child takes the namespace's PID 1 with it
    wait "$NS_PID" 2>/dev/null || true
  fi
  rm -rf -- "$T"
}
trap cleanup EXIT

fails=0
ok()   { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
jqe() { jq -e "$@" >/dev/null; }
blob() { printf '%s/blobs/sha256/%s\n' "$1" "${2#sha256:}"; }

# ------------------------------------------------------------ 1. layout --
verify_layout() {
  local L=$1 name=$2 nlayers=$3 m c i d diff
  check "$name: oci-layout" jqe '.imageLayoutVersion == "1.0.0"' "$L/oci-layout"
  check "$name: index tags latest + io.minid.image.name" jqe --arg n "$name" '
    .schemaVersion == 2 and (.manifests | length) == 1 and
    .manifests[0].annotations["org.opencontainers.image.ref.name"] == "latest" and
    .manifests[0].annotations["io.minid.image.name"] == $n' "$L/index.json"
  local bad=0 f
  for f in "$L"/blobs/sha256/*; do
    [[ $(sha256sum "$f" | cut -d' ' -f1) == "$(basename "$f")" ]] || { bad=1; echo "  bad blob $f"; }
  done
  check "$name: every blob is named by its sha256" test $bad -eq 0
  m=$(jq -r '.manifests[0].digest' "$L/index.json")
  check "$name: manifest size" test "$(stat -c %s "$(blob "$L" "$m")")" -eq "$(jq -r '.manifests[0].size' "$L/index.json")"
  check "$name: manifest media types" jqe '
    .mediaType == "application/vnd.oci.image.manifest.v1+json" and
    .config.mediaType == "application/vnd.oci.image.config.v1+json" and
    all(.layers[]; .mediaType == "application/vnd.oci.image.layer.v1.tar+gzip")' "$(blob "$L" "$m")"
  c=$(jq -r '.config.digest' "$(blob "$L" "$m")")
  check "$name: $nlayers layers" test "$(jq '.layers | length' "$(blob "$L" "$m")")" -eq "$nlayers"
  bad=0
  for ((i = 0; i < nlayers; i++)); do
    d=$(jq -r ".layers[$i].digest" "$(blob "$L" "$m")")
    diff=$(gzip -dc "$(blob "$L" "$d")" | sha256sum | cut -d' ' -f1)
    [[ sha256:$diff == "$(jq -r ".rootfs.diff_ids[$i]" "$(blob "$L" "$c")")" ]] || bad=1
    [[ $(stat -c %s "$(blob "$L" "$d")") -eq $(jq -r ".layers[$i].size" "$(blob "$L" "$m")") ]] || bad=1
    [[ -z $(gzip -dc "$(blob "$L" "$d")" | tar -t | grep -E '^(\./|/)' | head -n1) ]] || bad=1   # docker-style names
  done
  check "$name: diff_ids, sizes, relative names" test $bad -eq 0
  check "$name: config amd64/linux, history per layer" jqe --argjson n "$nlayers" '
    .architecture == "amd64" and .os == "linux" and (.rootfs.diff_ids | length) == $n and
    (.history | length) == $n and (.config.Env | any(startswith("PATH=")))' "$(blob "$L" "$c")"
  CONFIG_BLOB=$(blob "$L" "$c"); MANIFEST_BLOB=$(blob "$L" "$m")
}

# ------------------------------------------------------------ 2. unpack --
# The OCI rule: within one layer, whiteouts apply to the layers BELOW only,
# so delete first, then extract this layer's regular entries.
unpack() {
  local L=$1 R=$2 d e base dir
  mkdir -p "$R"
  for d in $(jq -r '.layers[].digest' "$(blob "$L" "$(jq -r '.manifests[0].digest' "$L/index.json")")"); do
    while IFS= read -r e; do
      e=${e%/}; base=${e##*/}; dir=$(dirname -- "$e")
      case $base in
        .wh..wh..opq) find "$R/$dir" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + ;;
        .wh.*)        rm -rf -- "${R:?}/$dir/${base#.wh.}" ;;
      esac
    done < <(gzip -dc "$(blob "$L" "$d")" | tar -t)
    gzip -dc "$(blob "$L" "$d")" | tar -x -C "$R" --numeric-owner --same-owner -p --exclude='.wh.*'
  done
}

exists() { [[ -e $1 || -L $1 ]]; }

# run_in_ns R LOG ARGV... — ARGV as PID 1 in new namespaces rooted at R
# (the sequence from machine-facts: bind R, proc, pivot_root). Sets NS_PID.
run_in_ns() {
  local R=$1 log=$2; shift 2
  local envs; mapfile -t envs < <(jq -r '.config.Env[]' "$CONFIG_BLOB")
  env -i "${envs[@]}" unshare --pid --fork --kill-child --mount --uts --ipc --net --propagation private \
    /bin/sh -c '
      set -e
      R=$1; shift
      ip link set lo up
      mount --bind "$R" "$R"
      mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
      mount -t tmpfs -o nosuid,mode=755,size=64k tmpfs "$R/dev"
      mknod -m 666 "$R/dev/null" c 1 3; mknod -m 666 "$R/dev/zero" c 1 5
      mknod -m 666 "$R/dev/random" c 1 8; mknod -m 666 "$R/dev/urandom" c 1 9
      ln -s /proc/self/fd "$R/dev/fd"; ln -s /proc/self/fd/0 "$R/dev/stdin"
      ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
      hostname minid-verify
      cd "$R"; pivot_root . .; umount -l .
      cd /
      exec "$@"' sh "$R" "$@" >"$log" 2>&1 &
  NS_PID=$!
}

# ------------------------------------------------------------------ run --
[[ -d $ROOT/busybox && -d $ROOT/nginx ]] || { echo "build first: images/build.sh all $ROOT" >&2; exit 1; }

echo "== busybox"
verify_layout "$ROOT/busybox" busybox 1
BB_LAYER=$(jq -r '.layers[0].digest' "$MANIFEST_BLOB")
check "busybox: Cmd [sh]" jqe '.config.Cmd == ["sh"]' "$CONFIG_BLOB"
unpack "$ROOT/busybox" "$T/busybox"
B=$T/busybox
check "busybox: /bin/busybox is static" sh -c "file -L '$B/bin/busybox' | grep -q 'statically linked'"
check "busybox: /bin/sh -> /bin/busybox" test "$(readlink "$B/bin/sh")" = /bin/busybox
check "busybox: /tmp is 1777" test "$(stat -c %a "$B/tmp")" = 1777
check "busybox: /home/minid owned 1000:1000" test "$(stat -c %u:%g "$B/home/minid")" = 1000:1000
out=$(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin chroot "$B" /bin/sh -c \
  'echo "$(id -u minid):$(id -g minid):$(id -u nobody):$(id -un)"; ls /bin /sbin /usr/bin /usr/sbin | grep -c .' 2>&1) || true
check "busybox: sh runs in a chroot, users resolve ($(head -n1 <<<"$out"))" test "$(head -n1 <<<"$out")" = "1000:1000:65534:root"

echo "== nginx"
verify_layout "$ROOT/nginx" nginx 4
check "nginx: layer 1 is the busybox layer (shared blob)" test "$(jq -r '.layers[0].digest' "$MANIFEST_BLOB")" = "$BB_LAYER"
check "nginx: config Cmd/Entrypoint/ExposedPorts/StopSignal" jqe '
  .config.Cmd == ["nginx","-g","daemon off;"] and .config.Entrypoint == ["/docker-entrypoint.sh"] and
  .config.ExposedPorts == {"80/tcp":{}} and .config.StopSignal == "SIGQUIT"' "$CONFIG_BLOB"
unpack "$ROOT/nginx" "$T/nginx"
N=$T/nginx
while read -r kind path _; do
  case $kind in
    ''|'#'*) continue ;;
    deleted-file|deleted-dir|hidden-file) check "nginx: $kind $path is gone" bash -c "! [[ -e '$N$path' || -L '$N$path' ]]" ;;
    opaque-dir) check "nginx: $kind $path has only layer-4 content" test "$(ls -A "$N$path")" = index.html ;;
    kept) check "nginx: kept $path" exists "$N$path" ;;
  esac
done <"$HERE/nginx/WHITEOUTS"
check "nginx: no .wh. files left in rootfs" test -z "$(find "$N" -name '.wh.*' | head -n1)"
check "nginx: unpacked size $(du -sh "$N" | cut -f1) < 25M" test "$(du -sk "$N" | cut -f1)" -lt 25600

mapfile -t ARGV < <(jq -r '(.config.Entrypoint // []) + .config.Cmd | .[]' "$CONFIG_BLOB")
run_in_ns "$N" "$T/nginx-t.log" /docker-entrypoint.sh nginx -t
wait "$NS_PID" && rc=0 || rc=$?; NS_PID=""
check "nginx: nginx -t in the container ($(tr '\n' ' ' <"$T/nginx-t.log"))" test "$rc" -eq 0

start=$(date +%s%N)
run_in_ns "$N" "$T/nginx.log" "${ARGV[@]}"
body=""
for _ in $(seq 100); do
  body=$(nsenter --target "$NS_PID" --net curl -fsS --max-time 1 http://127.0.0.1/ 2>/dev/null) && break
  sleep 0.05
done
ok "nginx: first answer after $(( ($(date +%s%N) - start) / 1000000 )) ms"
check "nginx: serves 'Welcome to nginx'" grep -q "Welcome to nginx" <<<"$body"
check "nginx: serves 'served by minid'" grep -q "served by minid" <<<"$body"
check "nginx: 404 for the hidden Debian page" test "$(nsenter --target "$NS_PID" --net curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/index.nginx-debian.html)" = 404
check "nginx: workers run as www-data" bash -c "ps -o user= --ppid \$(cat /proc/$NS_PID/task/$NS_PID/children) | grep -q www-data"
kill -QUIT "$(cat "/proc/$NS_PID/task/$NS_PID/children")"      # the image's StopSignal
for _ in $(seq 100); do kill -0 "$NS_PID" 2>/dev/null || break; sleep 0.05; done
wait "$NS_PID" && rc=0 || rc=$?; NS_PID=""
check "nginx: SIGQUIT stops it cleanly (exit $rc)" test "$rc" -eq 0
check "nginx: access log reached stdout" grep -q '"GET / HTTP/1.1" 200' "$T/nginx.log"

echo "== docker-archive"
MINID_IMAGE_CACHE=${MINID_IMAGE_CACHE:-/var/cache/minid/debs} "$HERE/build.sh" --docker-archive "$T/nginx.tar" nginx "$T/nginx-oci" 2>/dev/null
check "docker-archive: manifest.json RepoTags nginx:latest, 4 layers" sh -c \
  "tar -xOf '$T/nginx.tar' manifest.json | jq -e '.[0].RepoTags == [\"nginx:latest\"] and (.[0].Layers | length) == 4' >/dev/null"
check "docker-archive: skopeo reads it, same diff_ids as the OCI layout" test \
  "$(skopeo inspect --config "docker-archive:$T/nginx.tar" | jq -c .rootfs.diff_ids)" = "$(jq -c .rootfs.diff_ids "$CONFIG_BLOB")"
check "oci layout: skopeo reads nginx:latest" sh -c "skopeo inspect 'oci:$ROOT/nginx:latest' >/dev/null"

echo "== $fails failure(s)"
[[ $fails -eq 0 ]]
