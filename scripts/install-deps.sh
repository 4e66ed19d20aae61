#!/usr/bin/env bash
# Install the Debian/Ubuntu packages minid needs. Idempotent: skips what is there.
#   install-deps.sh runtime   what `minid` itself runs (src/sys/packages.ts names the package of
#                             each program, in the line minid prints when one is missing)
#   install-deps.sh all       (the default) also what building, the tests and the benchmarks need:
#                             compilers (and a cross compiler for the package's prebuilt helpers,
#                             scripts/native.sh), the images' busybox, CNI plugins, a registry,
#                             skopeo, podman, docker, containerd (its CRI drives the CNI plugins in
#                             test/integration/cri), iperf3, hyperfine...
set -euo pipefail
what=${1:-all}
runtime=(iproute2 iptables util-linux mount procps attr e2fsprogs tar zstd dnsmasq-base ca-certificates)
all=(
  psmisc kmod curl jq gcc libc6-dev libseccomp-dev make
  busybox-static containernetworking-plugins golang-github-containernetworking-plugin-dnsname docker-registry skopeo podman runc docker.io docker-compose containerd
  iperf3 hyperfine conntrack nftables gzip xz-utils openssl apache2-utils strace
)
case $what in
  runtime) pkgs=("${runtime[@]}") ;;
  all) pkgs=("${runtime[@]}" "${all[@]}") ;;
  *) echo "usage: $0 [runtime|all]" >&2; exit 2 ;;
esac

update=0
if [ "$what" = all ]; then
  # `npm pack` ships minid's C helpers prebuilt for linux x64 and arm64: the other one's cross
  # compiler, and its libseccomp (a foreign architecture of dpkg's).
  case $(dpkg --print-architecture) in
    amd64) other=arm64 cross=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
    arm64) other=amd64 cross=(gcc-x86-64-linux-gnu libc6-dev-amd64-cross) ;;
    *) other='' cross=() ;;
  esac
  if [ -n "$other" ]; then
    if ! dpkg --print-foreign-architectures | grep -qx "$other"; then
      dpkg --add-architecture "$other"
      update=1
    fi
    pkgs+=("${cross[@]}" "libseccomp-dev:$other")
  fi
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ $update = 1 ]; then
  echo "minid: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  [ ${#missing[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v node >/dev/null || { echo "minid: Node.js 20+ is required" >&2; exit 1; }
