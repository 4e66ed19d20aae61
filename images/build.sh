#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# images/build.sh — build minid's test images offline from Debian packages.
#
#   images/build.sh [--docker-archive FILE] NAME OUTDIR   NAME = busybox | nginx | python | pause
#   images/build.sh all OUTROOT                           → OUTROOT/busybox, OUTROOT/nginx
#   (python, ~100 MB in six layers, is built only by name: the pull benchmark's big image;
#    so is pause, a pod sandbox image for containerd's CRI: test/integration/cri)
#
# OUTDIR becomes an OCI image layout (oci-layout, index.json, blobs/sha256/…)
# with one manifest tagged "latest". It is replaced if it is empty or a
# previous layout; any other non-empty directory is left alone (error).
#
# Also write a `docker save`-style tarball:
#   --docker-archive FILE      (single image), or
#   FORMAT=docker-archive      (OUTDIR.tar next to the layout; with `all`:
#                               OUTROOT/busybox.tar and OUTROOT/nginx.tar)
#
# Environment: MINID_IMAGE_CACHE (default /var/cache/minid/debs) keeps the
# downloaded .debs; SOURCE_DATE_EPOCH (default 0) is every file's mtime.
# Needs root (dpkg -x keeps owners; chown), apt-get, GNU tar, gzip, jq.
set -euo pipefail
umask 022
export LC_ALL=C

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
IMAGES=(busybox nginx)

usage() { sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

docker_archive=""
while (($#)); do
  case $1 in
    --docker-archive) [[ $# -ge 2 ]] || usage; docker_archive=$2; shift 2 ;;
    --docker-archive=*) docker_archive=${1#*=}; shift ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[[ $# -eq 2 ]] || usage
name=$1 out=$2

if [[ $name == all ]]; then
  [[ -z $docker_archive ]] || { echo "with 'all' use FORMAT=docker-archive, not --docker-archive" >&2; exit 2; }
  start=$(date +%s%N)
  for n in "${IMAGES[@]}"; do
    "$BASH" "$HERE/build.sh" "$n" "$out/$n"
  done
  echo "[images] all built in $(( ($(date +%s%N) - start) / 1000000 )) ms" >&2
  exit 0
fi

[[ -f $HERE/$name/recipe.sh ]] || { echo "unknown image '$name' (have: ${IMAGES[*]} python pause)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "images/build.sh must run as root (layer files keep numeric owners)" >&2; exit 1; }
for tool in apt-get dpkg dpkg-deb tar gzip jq sha256sum; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
if [[ -z $docker_archive && ${FORMAT:-oci} == docker-archive ]]; then
  docker_archive="${out%/}.tar"
fi

start=$(date +%s%N)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
img_check_outdir "$out" oci-layout
img_workdir_init
IMAGE_PACKAGES=()
# shellcheck source=/dev/null
. "$HERE/$name/recipe.sh"
[[ ${IMAGE_NAME:-} == "$name" ]] || die "$name/recipe.sh must set IMAGE_NAME=$name"

# Resolve (and download) every .deb of the image with one apt call each.
((${#IMAGE_PACKAGES[@]} == 0)) || deb_fetch "${IMAGE_PACKAGES[@]}"
recipe                                  # the recipe's list of `layer …` calls
img_write_oci "$IMAGE_NAME" "$out"
[[ -z $docker_archive ]] || img_write_docker_archive "$IMAGE_NAME" "$docker_archive"
img_summary "$IMAGE_NAME"
log "$IMAGE_NAME:latest → $out${docker_archive:+ and $docker_archive} in $(( ($(date +%s%N) - start) / 1000000 )) ms"
