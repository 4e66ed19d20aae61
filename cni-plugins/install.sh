#!/usr/bin/env bash
# Install minid's CNI plugins and default network configuration by symlinking them:
#   cni-plugins/bin/minid-*          -> $CNI_BIN      (default /opt/cni/bin)
#   cni-plugins/conf/10-minid.conflist -> $CNI_CONF_DIR (default /etc/cni/net.d)
# Idempotent; `install.sh --uninstall` removes exactly the links it made.
# CNI_CONF_DIR= (set but empty) installs the plugins only: a runtime with a conflist of its own
# (test/integration/cri gives containerd one in a temp dir).
# CNI_LOOPBACK_ALIAS=1 also links minid-loopback as $CNI_BIN/loopback: containerd's CRI (1.6) sets
# up every pod's lo itself with a plugin of type "loopback" found in its bin_dir, a name no
# conflist can change. A real file of that name (the reference plugin) is left in place.
# Needs `make build` first (the launchers run dist/cni-plugins.blob or dist/cni-plugins.mjs, and
# build/minid-loopback).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CNI_BIN="${CNI_BIN:-/opt/cni/bin}"
CNI_CONF_DIR="${CNI_CONF_DIR-/etc/cni/net.d}"
mode="${1:-install}"

links=()
for p in "$here"/bin/minid-*; do links+=("$p|$CNI_BIN/$(basename "$p")"); done
[ -z "$CNI_CONF_DIR" ] || links+=("$here/conf/10-minid.conflist|$CNI_CONF_DIR/10-minid.conflist")
alias_link="$here/bin/minid-loopback|$CNI_BIN/loopback"   # uninstall removes it whenever it is ours
[ "$mode" != install ] || [ -z "${CNI_LOOPBACK_ALIAS:-}" ] || links+=("$alias_link")
[ "$mode" = install ] || links+=("$alias_link")

case "$mode" in
  install)
    [ -f "$here/../dist/cni-plugins.mjs" ] && [ -x "$here/../build/minid-loopback" ] || { echo "minid: build first (make build)" >&2; exit 1; }
    mkdir -p "$CNI_BIN" ${CNI_CONF_DIR:+"$CNI_CONF_DIR"}
    for l in "${links[@]}"; do
      src="${l%%|*}" dst="${l##*|}"
      if [ -e "$dst" ] && [ ! -L "$dst" ]; then echo "minid: $dst exists and is not a link; leaving it" >&2; continue; fi
      ln -sfn "$src" "$dst"
      echo "  $dst -> $src"
    done
    ;;
  --uninstall|uninstall)
    for l in "${links[@]}"; do
      src="${l%%|*}" dst="${l##*|}"
      if [ -L "$dst" ] && [ "$(readlink "$dst")" = "$src" ]; then rm -f "$dst"; echo "  removed $dst"; fi
    done
    ;;
  *) echo "usage: $0 [install|--uninstall]" >&2; exit 2 ;;
esac
