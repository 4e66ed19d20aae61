#!/bin/sh
# minid's C helpers (build/minid-init, minid-spawner, minid-devices, minid-logger, minid-console) and
# its C CNI plugin (build/minid-loopback, run by cni-plugins/bin/minid-loopback): the one
# place that knows how to compile them. Used by the Makefile (`make build`), by `npm pack`
# (package.json's prepack) and by `npm install` (postinstall):
#   native.sh build [OUT] [CC] [LDFLAGS]  compile them into OUT (default build) with CC (default cc)
#   native.sh prebuilt                    fully static ones for linux x64 and arm64 in prebuilt/,
#                                         shipped in the package for hosts without a compiler
#   native.sh install                     at install: compile them here when cc and libseccomp's
#                                         static library are there, else copy this machine's
#                                         prebuilt ones; one line if neither works
# minid-init links libseccomp statically: it needs no library of the host's but libc (it also
# runs inside containers, through /proc/self/exe, with the container's dynamic loader).
# sh, not bash: the install runs it on hosts we know nothing about.
set -eu
cd "$(dirname "$0")/.."

# helper name and its source file
HELPERS='minid-init:src/runtime/init.c minid-spawner:src/sys/spawner.c minid-devices:src/runtime/devices.c minid-logger:src/runtime/logger.c minid-console:src/runtime/console.c minid-loopback:cni-plugins/loopback/main.c'

build() { # OUT CC [LDFLAGS...]: the helpers into OUT
  out=$1 cc=$2
  shift 2
  mkdir -p "$out"
  for h in $HELPERS; do
    name=${h%%:*} src=${h#*:}
    seccomp=
    [ "$name" = minid-init ] && seccomp=-lseccomp
    # Without -static, libseccomp alone is linked statically (-Bstatic ... -Bdynamic).
    case " $* " in
      *' -static '*) "$cc" -O2 -Wall -Wextra "$@" -o "$out/$name" "$src" $seccomp ;;
      *) "$cc" -O2 -Wall -Wextra "$@" -o "$out/$name" "$src" ${seccomp:+-Wl,-Bstatic $seccomp -Wl,-Bdynamic} ;;
    esac
  done
}

# Node's name for this machine's CPU (process.arch): the prebuilt/ folder to use.
arch() {
  case $(uname -m) in
    x86_64 | amd64) echo x64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) uname -m ;;
  esac
}

case ${1:-build} in
  build)
    out=${2:-build} cc=${3:-cc}
    [ $# -ge 3 ] && shift 3 || shift $#
    build "$out" "$cc" "$@"
    ;;
  prebuilt)
    # x64 natively; arm64 with Debian's cross compiler (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross)
    # and libseccomp-dev:arm64 (`dpkg --add-architecture arm64`): scripts/install-deps.sh all.
    rm -rf prebuilt
    build prebuilt/linux-x64 x86_64-linux-gnu-gcc -static -s
    build prebuilt/linux-arm64 aarch64-linux-gnu-gcc -static -s
    ;;
  install)
    # A clone builds them with `make build`; this is for the package npm installs.
    [ -f tsconfig.json ] && exit 0
    tmp=build.new
    rm -rf "$tmp"
    if command -v cc >/dev/null 2>&1 && build "$tmp" cc 2>/dev/null; then
      how='compiled here'
    elif [ -x "prebuilt/linux-$(arch)/minid-init" ]; then
      rm -rf "$tmp" && cp -R "prebuilt/linux-$(arch)" "$tmp"
      how="prebuilt for linux-$(arch)"
    else
      rm -rf "$tmp"
      echo "minid: no helpers for $(uname -m): install a C compiler and libseccomp's static library (apt-get install gcc libc6-dev libseccomp-dev), then run \`npm rebuild -g minid\`" >&2
      exit 1 # npm shows this line (it hides what an install script prints when it succeeds)
    fi
    rm -rf build && mv "$tmp" build
    echo "minid: C helpers $how"
    ;;
  *)
    echo "usage: $0 build [OUT] [CC] [LDFLAGS...] | prebuilt | install" >&2
    exit 2
    ;;
esac
