# shellcheck shell=bash disable=SC2034  # IMG_* and IMAGE_NAME are read by lib.sh / build.sh
# images/pause/recipe.sh — pause:latest, ONE layer: a pod sandbox image (what containerd's CRI
# starts first for every pod, `sandbox_image` in its config; registry.k8s.io/pause upstream).
#
# Layer 1 "pause": /pause, compiled here from pause.c with gcc and Debian's static glibc
# (libc6-dev's libc.a): one static binary of ~700 KB, no shell, no libraries, no /etc.
# Needs gcc + libc6-dev on the build machine; no .deb goes into the image.

IMAGE_NAME=pause
IMAGE_PACKAGES=()

IMG_ENTRYPOINT='["/pause"]'
IMG_WORKDIR=/
IMG_LABELS='{"org.opencontainers.image.title":"pause","org.opencontainers.image.description":"a pod sandbox process (images/pause/pause.c), built by minid images/build.sh"}'

layer_pause() {
  command -v gcc >/dev/null || die "pause needs gcc and libc6-dev (scripts/install-deps.sh)"
  gcc -static -Os -s -Wall -Wextra -Werror -o "$1/pause" "$HERE/pause/pause.c" || die "could not compile pause.c statically (libc6-dev provides libc.a)"
  chmod 0755 "$1/pause"
  mkdir -p "$1/dev" "$1/proc" "$1/sys"   # mount points the runtime fills
}

recipe() {
  layer pause "gcc -static pause.c -> /pause" layer_pause
}
