# bench/sections/startup.sh — CLI start-up: `minid --version`, `minid ps` (with no containers
# and, from the scale section, with 100); `node -e 0` is the floor of any Node CLI.
# shellcheck shell=bash

section_startup() {
  log "startup: CLI start-up"
  local r=$((RUNS * 2)) rt
  hf startup "node -e 0" node --runs "$r" -- "node -e 0"
  if minid_ok; then
    hf startup "--version" minid --runs "$r" -- "$MINID --version"
    hf startup "ps (0 containers)" minid --runs "$r" -- "$MINID ps"
  else
    record_status startup "--version" minid ms pending "$MINID_PENDING_WHY"
    record_status startup "ps (0 containers)" minid ms pending "$MINID_PENDING_WHY"
  fi
  for rt in "${PEER_RUNTIMES[@]}"; do
    case $rt in
      docker)
        hf startup "--version" docker --runs "$r" -- "$DOCKER_BIN -H unix://$BENCH_TMP/docker/docker.sock --version"
        hf startup "ps (0 containers)" docker --runs "$r" -- "$DOCKER_BIN -H unix://$BENCH_TMP/docker/docker.sock ps"
        ;;
      podman)
        hf startup "--version" podman --runs "$r" -- "podman --version"
        hf startup "ps (0 containers)" podman --runs "$r" -- "podman ps"
        ;;
    esac
  done
}

# Called while the scale section has 100 containers up.
startup_at_100() {
  hf startup "ps (${#FLEET_NAMES[@]} containers)" minid --runs "$((RUNS * 2))" -- "$MINID ps"
}
