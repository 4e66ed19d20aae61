# shellcheck shell=bash disable=SC2034  # IMG_* and IMAGE_NAME are read by lib.sh / build.sh
# images/python/recipe.sh — python:latest, SIX layers, ~100 MB unpacked, from Debian 12
# packages. The bigger multi-layer image of the pull benchmark (bench/sections/pull.sh); not
# part of `images/build.sh all` (it takes longer to build and no test needs it).
#
#  1 base      busybox-static + users + standard dirs: byte-identical to the busybox
#              image's layer (and nginx's layer 1).
#  2 libs      the shared-library closure of python3.11 and its stdlib's C modules
#              (libc6 with gconv: Python's codecs may use iconv through ctypes; libssl3,
#              sqlite, ncurses, readline, gdbm, db5.3, libtirpc + Kerberos, …), tzdata,
#              media-types, netbase.
#  3 python    python3.11-minimal, libpython3.11-minimal, python3-minimal: the interpreter
#              and the part of the standard library it needs to start.
#  4 stdlib    libpython3.11-stdlib, python3.11, python3 (+ distutils, lib2to3): the rest
#              of the standard library, the `python3` command.
#  5 pip       python3-pip, setuptools, wheel, pkg_resources (the official image ships pip).
#              ca-certificates' bundle is left out (its postinst builds it; nothing here
#              talks TLS).
#  6 bytecode  what python3's postinst (py3compile) would add: every module compiled to
#              __pycache__/*.pyc, by the image's own python3 in a chroot of layers 1-5.
#              unchecked-hash .pyc files: valid whatever the files' mtimes (the tar sets
#              them all to SOURCE_DATE_EPOCH) and reproducible.
#
# Build-time checks: every NEEDED library of /usr/bin/python3.11 and of the stdlib's C
# modules resolves inside layer 2 (ld.so --list); `python3 -c 'print(1)'` runs in the chroot.

IMAGE_NAME=python

IMG_ENV='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8","PYTHON_VERSION=3.11"]'
IMG_CMD='["python3"]'
IMG_WORKDIR=/
IMG_LABELS='{"org.opencontainers.image.title":"python","org.opencontainers.image.description":"Debian 12 python3.11 with pip, built by minid images/build.sh"}'

PY_LIB_PACKAGES=(libc6 libgcc-s1 libcrypt1 zlib1g libexpat1 libssl3 libffi8 libbz2-1.0 liblzma5
  libsqlite3-0 libncursesw6 libtinfo6 libreadline8 readline-common libdb5.3 libgdbm6 libgdbm-compat4
  libnsl2 libtirpc3 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1
  libuuid1 tzdata media-types netbase)
PY_MIN_PACKAGES=(python3.11-minimal libpython3.11-minimal python3-minimal)
PY_STDLIB_PACKAGES=(libpython3.11-stdlib libpython3-stdlib python3.11 python3 python3-distutils python3-lib2to3)
PY_PIP_PACKAGES=(python3-pip python3-setuptools python3-wheel python3-pkg-resources)
IMAGE_PACKAGES=(busybox-static "${PY_LIB_PACKAGES[@]}" "${PY_MIN_PACKAGES[@]}" "${PY_STDLIB_PACKAGES[@]}" "${PY_PIP_PACKAGES[@]}")

# Packaging files that mean nothing inside a container.
_py_trim() {
  local r=$1
  rm -rf -- "$r/usr/share/lintian" "$r/usr/share/man" "$r/usr/share/bug" "$r/etc/init.d" \
    "$r/lib/systemd" "$r/usr/share/bash-completion"
}

layer_base() { rootfs_busybox_base "$1"; }

layer_libs() {
  local r=$1
  deb_extract "$r" "${PY_LIB_PACKAGES[@]}"
  _py_trim "$r"
  # tzdata's postinst: the container's zone is UTC.
  ln -sfn /usr/share/zoneinfo/Etc/UTC "$r/etc/localtime"
  echo Etc/UTC >"$r/etc/timezone"
}

layer_python() {
  local r=$1
  deb_extract "$r" "${PY_MIN_PACKAGES[@]}"
  _py_trim "$r"
}

layer_stdlib() {
  local r=$1
  deb_extract "$r" "${PY_STDLIB_PACKAGES[@]}"
  _py_trim "$r"
}

layer_pip() {
  local r=$1
  deb_extract "$r" "${PY_PIP_PACKAGES[@]}"
  _py_trim "$r"
}

# Every NEEDED library of the interpreter and of the stdlib's C modules resolves in layer 2.
_py_check_libs() {
  local libs py stdlib f list bad=""
  libs=$(layer_stage 2) py=$(layer_stage 3) stdlib=$(layer_stage 4)
  for f in "$py/usr/bin/python3.11" "$py"/usr/lib/python3.11/lib-dynload/*.so "$stdlib"/usr/lib/python3.11/lib-dynload/*.so; do
    [[ -f $f ]] || continue
    list=$("$libs/lib64/ld-linux-x86-64.so.2" --library-path "$libs/lib/x86_64-linux-gnu:$libs/usr/lib/x86_64-linux-gnu" \
      --list "$f" 2>&1) || die "ld.so --list $f failed: $list"
    bad+=$(grep '=>' <<<"$list" | grep -v -e "=> $libs/" | sed "s|^|${f##*/}: |" || true)
  done
  [[ -z $bad ]] || die "python needs libraries outside layer 2:"$'\n'"$bad"
}

layer_bytecode() {
  local r=$1 merged i
  _py_check_libs
  # Layers 1-5 merged (no whiteouts in them) with hard links: cheap, and the compiler's
  # new files are the only files with one link, which is how they are picked out.
  merged=$(mktemp -d "$IMG_WORK/merged.XXXXXX")
  for i in 1 2 3 4 5; do cp -alf -- "$(layer_stage "$i")/." "$merged/"; done
  chroot "$merged" /usr/bin/python3 -c 'print(1)' >/dev/null || die "python3 does not run in the image"
  # What py3compile does at install, with hash-based .pyc (see the header). -q: errors only;
  # lib2to3's test data holds files that are not Python 3 on purpose: -x skips them.
  chroot "$merged" /usr/bin/python3 -m compileall -q --invalidation-mode unchecked-hash \
    -x '/(lib2to3/tests|test/bad|test/badsyntax)' /usr/lib/python3.11 /usr/lib/python3/dist-packages >&2 ||
    die "compileall failed"
  (cd "$merged" && find . -type f -name '*.pyc' -links 1 -printf '%P\0' |
    tar --create --file=- --null --files-from=- --numeric-owner) | tar -C "$r" --extract --file=- ||
    die "copying the .pyc files failed"
  # Directories the copy created get the mode of the directories they mirror.
  (cd "$r" && find . -mindepth 1 -type d -printf '%P\0') | while IFS= read -r -d '' d; do
    chmod --reference="$merged/$d" "$r/$d"
  done
  rm -rf -- "$merged"
}

recipe() {
  layer base     "busybox-static + applet symlinks + /etc/passwd,group + standard dirs" layer_base
  layer libs     "shared libraries of python3.11 and its C modules: ${PY_LIB_PACKAGES[*]}" layer_libs
  layer python   "Debian ${PY_MIN_PACKAGES[*]}" layer_python
  layer stdlib   "Debian ${PY_STDLIB_PACKAGES[*]}" layer_stdlib
  layer pip      "Debian ${PY_PIP_PACKAGES[*]}" layer_pip
  layer bytecode "python3 -m compileall (py3compile's .pyc, unchecked-hash) in a chroot of layers 1-5" layer_bytecode
}
