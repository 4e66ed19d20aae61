#!/usr/bin/env bash
# Install the Debian packages minid and its tests need. Idempotent: skips what is there.
set -euo pipefail
pkgs=(
  iproute2 iptables util-linux procps psmisc kmod attr curl jq gcc libc6-dev libseccomp-dev make
  busybox-static dnsmasq-base containernetworking-plugins golang-github-containernetworking-plugin-dnsname docker-registry skopeo podman runc docker.io
  iperf3 hyperfine conntrack nftables tar gzip xz-utils zstd ca-certificates openssl apache2-utils strace
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "minid: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v node >/dev/null || { echo "minid: Node.js 20+ is required" >&2; exit 1; }
