# bench/runtimes.sh — one vocabulary over the runtimes being compared (sourced).
#   floor-steps  bench/baseline/floor.sh, one process per ip/iptables step
#   floor-batch  bench/baseline/floor.sh --batch (ip -batch, iptables-restore --noflush)
#   floor-bare   the same, with --bare: the container's image, /proc and hostname only (the
#                floor before it made the container minid makes; latency only)
#   minid        ./bin/minid, private store (MINID_ROOT/MINID_RUN under the bench temp dir)
#   docker       Debian's docker.io with a dockerd the bench started (own socket and data root)
#   podman       Debian's podman with its own storage and containers.conf
# shellcheck shell=bash

BENCH_DIR=${BENCH_DIR:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)}
FLOOR="$BENCH_DIR/baseline/floor.sh"
MINID=${MINID:-$(cd "$BENCH_DIR/.." && pwd)/bin/minid}
DOCKER_BIN=/usr/bin/docker

# The command that starts a container, as one string (hyperfine -N splits it like a shell).
rt_run() { # RUNTIME -> command prefix up to and including "run"
  case $1 in
    floor-steps) echo "bash $FLOOR run" ;;
    floor-batch) echo "bash $FLOOR run --batch" ;;
    floor-bare) echo "bash $FLOOR run --batch --bare" ;;
    minid) echo "$MINID run" ;;
    docker) echo "$DOCKER_BIN -H unix://$BENCH_TMP/docker/docker.sock run" ;;
    podman) echo "podman run" ;;
  esac
}

# Detached: rt_run_d RUNTIME NAME [run options...] IMAGE [CMD...]
rt_run_d() {
  local rt=$1 name=$2
  shift 2
  case $rt in
    floor-*) $(rt_run "$rt") -d --name "$name" "$@" ;;
    minid) "$MINID" run -d --name "$name" "$@" >/dev/null ;;
    docker) dk run -d --name "$name" "$@" >/dev/null ;;
    podman) podman run -d --name "$name" "$@" >/dev/null ;;
  esac
}

rt_rm() { # RUNTIME NAME... (force: stop and remove)
  local rt=$1
  shift
  case $rt in
    floor-*) local n; for n in "$@"; do bash "$FLOOR" rm "$n"; done ;;
    minid) "$MINID" rm -f "$@" >/dev/null ;;
    docker) dk rm -f "$@" >/dev/null ;;
    podman) podman rm -f -t 0 "$@" >/dev/null ;; # -t 0: SIGKILL at once, as docker rm -f
  esac
}

rt_ip() { # RUNTIME NAME -> the container's address on its bridge
  case $1 in
    floor-*) bash "$FLOOR" ip "$2" ;;
    minid) minid_inspect "$2" | jq -r "$MINID_IP_JQ" ;;
    docker) dk inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$2" ;;
    podman) podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$2" ;;
  esac
}

rt_pid() { # RUNTIME NAME -> the container's PID 1 as the host sees it
  case $1 in
    floor-*)
      local ns upid
      ns=$(bash "$FLOOR" netns "$2")
      upid=$(cat "$FLOOR_STATE/ctr/${ns#mb-}/pid")
      awk '{print $1}' "/proc/$upid/task/$upid/children"
      ;;
    minid) minid_inspect "$2" | jq -r "$MINID_PID_JQ" ;;
    docker) dk inspect -f '{{.State.Pid}}' "$2" ;;
    podman) podman inspect -f '{{.State.Pid}}' "$2" ;;
  esac
}

# The container's network namespace as a path for nsenter --net=
rt_netns() {
  case $1 in
    floor-*) echo "/run/netns/$(bash "$FLOOR" netns "$2")" ;;
    *) echo "/proc/$(rt_pid "$1" "$2")/ns/net" ;;
  esac
}

rt_names() { # RUNTIME PREFIX -> names of the bench's containers with that prefix
  case $1 in
    floor-*) local f; for f in "$FLOOR_STATE/names/$2"*; do [[ -e $f ]] && basename "$f"; done; true ;;
    minid) "$MINID" ps -a --json | jq -r '.[] | .Name' | grep "^$2" || true ;;
    docker) dk ps -a --format '{{.Names}}' | grep "^$2" || true ;;
    podman) podman ps -a --format '{{.Names}}' | grep "^$2" || true ;;
  esac
}

dk() { "$DOCKER_BIN" -H "unix://$BENCH_TMP/docker/docker.sock" "$@"; }

# minid inspect prints docker's shape: the address is in NetworkSettings.Networks.NAME.IPAddress.
MINID_IP_JQ='[.[0].NetworkSettings.Networks[] | .IPAddress | select(. != "")] | first // empty'
MINID_PID_JQ='.[0].State.Pid'
minid_inspect() { "$MINID" inspect "$1"; }
