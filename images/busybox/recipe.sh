# shellcheck shell=bash disable=SC2034  # IMG_* and IMAGE_NAME are read by lib.sh / build.sh
# images/busybox/recipe.sh — busybox:latest, ONE layer.
#
# Layer 1 "base" (rootfs_busybox_base in images/lib.sh):
#   /bin/busybox                     from Debian's busybox-static (statically linked)
#   /bin/sh, /bin/ls, /usr/bin/env … one absolute symlink → /bin/busybox per
#                                    applet, at the path `busybox --list-full` gives
#   /etc/passwd, /etc/group, /etc/shadow, /etc/nsswitch.conf
#       users: root 0, daemon 1, www-data 33, nginx 101, minid 1000 (gid 1000,
#              home /home/minid owned 1000:1000), nobody 65534 (group nogroup)
#   /tmp /var/tmp (1777), /root (0700), /home, /var/{log,lib,cache}, /usr/local/bin,
#   empty mount points /dev /proc /sys /run
#   /usr/share/doc/busybox-static (copyright, changelog)
# No /etc/hosts, /etc/resolv.conf, /etc/hostname: the runtime provides them.
# This layer is byte-identical to layer 1 of the nginx image (same digest).
#
# Known: Debian's busybox `wget` applet segfaults; use `nc` (or curl outside).

IMAGE_NAME=busybox
IMAGE_PACKAGES=(busybox-static)   # fetched up front; layers dpkg -x them

IMG_ENV='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
IMG_CMD='["sh"]'
IMG_WORKDIR=/
IMG_LABELS='{"org.opencontainers.image.title":"busybox","org.opencontainers.image.description":"busybox-static from Debian 12, built by minid images/build.sh"}'

layer_base() { rootfs_busybox_base "$1"; }

recipe() {
  layer base "busybox-static + applet symlinks + /etc/passwd,group + standard dirs" layer_base
}
