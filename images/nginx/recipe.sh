# shellcheck shell=bash disable=SC2034  # IMG_* and IMAGE_NAME are read by lib.sh / build.sh
# images/nginx/recipe.sh — nginx:latest, FOUR layers, from Debian 12 packages.
#
#  1 base       busybox-static + users (www-data 33, nginx 101, minid 1000 …)
#               + standard dirs. Byte-identical to the busybox image's layer.
#  2 libs       nginx's shared-library closure, unpacked from Debian .debs:
#               libc6 libgcc-s1 libcrypt1 libpcre2-8-0 libssl3 zlib1g.
#               Dropped before tarring: glibc's gconv modules (8 MB of iconv
#               charsets nginx never loads) and lintian overrides.
#               /usr/share/doc stays here on purpose: layer 4 deletes it.
#  3 nginx      Debian's `nginx` + `nginx-common` 1.22 (bookworm's nginx-light
#               is only `nginx` + an echo module), unpacked with dpkg -x, plus
#               what their postinst would do: sites-enabled/default symlink,
#               /var/www/html/index.nginx-debian.html, /var/log/nginx. Logs go
#               to the container's stdio like the official image:
#               /var/log/nginx/access.log → /dev/stdout, error.log → /dev/stderr.
#               System-integration files are left out (init.d, systemd, ufw,
#               logrotate, apport, vim). Build-time check: every NEEDED library
#               of /usr/sbin/nginx resolves inside layer 2 (ld.so --list).
#  4 customize  whiteouts + our own config, generated from images/nginx/WHITEOUTS:
#                 usr/share/.wh.doc                 deletes dir  /usr/share/doc
#                 etc/nginx/.wh.koi-win             deletes file /etc/nginx/koi-win
#                 etc/nginx/sites-enabled/.wh.default  deletes /etc/nginx/sites-enabled/default
#                 var/www/html/.wh..wh..opq         makes /var/www/html opaque (hides
#                                                   index.nginx-debian.html) + new index.html
#               plus /etc/nginx/conf.d/default.conf (replaces the deleted site)
#               and /docker-entrypoint.sh (exec "$@", like the official image's).
#
# Runtime needs (what any OCI runtime gives): /dev/null, /dev/stdout and
# /dev/stderr (symlinks to /proc/self/fd/1, 2), /proc, writable /run and
# /var/lib/nginx (nginx creates body/ proxy/ fastcgi/ uwsgi/ scgi/ there).
# nginx starts as root, reads Debian's unchanged /etc/nginx/nginx.conf
# (user www-data; pid /run/nginx.pid), serves /var/www/html on port 80.

IMAGE_NAME=nginx

IMG_ENV='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","NGINX_VERSION=1.22.1"]'
IMG_ENTRYPOINT='["/docker-entrypoint.sh"]'
IMG_CMD='["nginx","-g","daemon off;"]'
IMG_EXPOSED_PORTS='{"80/tcp":{}}'
IMG_WORKDIR=/
IMG_STOPSIGNAL=SIGQUIT
IMG_LABELS='{"org.opencontainers.image.title":"nginx","org.opencontainers.image.description":"Debian 12 nginx 1.22, built by minid images/build.sh"}'

NGINX_LIB_PACKAGES=(libc6 libgcc-s1 libcrypt1 libpcre2-8-0 libssl3 zlib1g)
NGINX_PACKAGES=(nginx nginx-common)
NGINX_WHITEOUTS="$HERE/nginx/WHITEOUTS"
IMAGE_PACKAGES=(busybox-static "${NGINX_LIB_PACKAGES[@]}" "${NGINX_PACKAGES[@]}")   # fetched up front

layer_base() { rootfs_busybox_base "$1"; }

layer_libs() {
  local r=$1
  deb_extract "$r" "${NGINX_LIB_PACKAGES[@]}"
  rm -rf -- "$r/usr/lib/x86_64-linux-gnu/gconv" "$r/usr/share/lintian"
}

layer_nginx() {
  local r=$1 libs; libs=$(layer_stage 2)
  deb_extract "$r" "${NGINX_PACKAGES[@]}"
  rm -rf -- "$r/etc/init.d" "$r/etc/default" "$r/etc/logrotate.d" "$r/etc/ufw" \
    "$r/lib/systemd" "$r/usr/share/apport" "$r/usr/share/vim" "$r/usr/share/lintian" "$r/usr/share/man"
  rmdir -- "$r/lib" 2>/dev/null || true

  # What nginx-common's postinst does on a fresh install.
  ln -s /etc/nginx/sites-available/default "$r/etc/nginx/sites-enabled/default"
  mkdir -p "$r/var/www/html"
  cp -- "$r/usr/share/nginx/html/index.html" "$r/var/www/html/index.nginx-debian.html"
  # Logs to the container's stdout/stderr (the official image does the same).
  mkdir -p "$r/var/log/nginx" "$r/var/lib/nginx" "$r/run"
  ln -sfn /dev/stdout "$r/var/log/nginx/access.log"
  ln -sfn /dev/stderr "$r/var/log/nginx/error.log"

  # Every library nginx needs must come from layer 2, not from this host.
  local list bad
  list=$("$libs/lib64/ld-linux-x86-64.so.2" --library-path "$libs/lib/x86_64-linux-gnu:$libs/usr/lib/x86_64-linux-gnu" \
    --list "$r/usr/sbin/nginx") || die "ld.so --list nginx failed"
  bad=$(grep '=>' <<<"$list" | grep -v -e "=> $libs/" || true)
  [[ -z $bad ]] || die "nginx needs libraries outside layer 2:"$'\n'"$bad"
}

# _merged_exists PATH — does PATH exist in the union of the layers built so far
# (stage dirs 1..N, top wins), honouring .wh.NAME and .wh..wh..opq? This is the
# OCI layer-merge rule, used here to check WHITEOUTS before shipping.
_merged_exists() {
  # shellcheck disable=SC2153  # IMG_LAYERS comes from lib.sh
  local path=${1#/} n=${#IMG_LAYERS[@]} i s
  [[ -n ${STAGE_TOP:-} ]] && n=$((n + 1))   # the layer being built counts too
  for ((i = n; i >= 1; i--)); do
    s=$(layer_stage "$i")
    [[ -e $s/$path || -L $s/$path ]] && return 0
    # whiteout of the path or of any ancestor; opaque marker in any ancestor
    local p=$path
    while :; do
      [[ -e $s/$(dirname -- "$p")/.wh.$(basename -- "$p") ]] && return 1
      p=$(dirname -- "$p"); [[ $p == . ]] && break
      [[ -e $s/$p/.wh..wh..opq ]] && return 1
    done
  done
  return 1
}

layer_customize() {
  local r=$1 kind path lower n=${#IMG_LAYERS[@]}
  _lower_type() {  # PATH → file|dir|none in the layers below (no whiteouts there)
    local i s
    for ((i = n; i >= 1; i--)); do
      s=$(layer_stage "$i")
      if [[ -L $s$1 ]]; then echo file; return; fi
      if [[ -d $s$1 ]]; then echo dir; return; fi
      if [[ -e $s$1 ]]; then echo file; return; fi
    done
    echo none
  }
  while read -r kind path _; do
    case $kind in ''|'#'*) continue ;; esac
    lower=$(_lower_type "$path")
    case $kind in
      deleted-dir)  [[ $lower == dir ]] || die "WHITEOUTS: $path is not a directory in layers 1-$n"
                    mkdir -p "$r$(dirname -- "$path")"; touch "$r$(dirname -- "$path")/.wh.$(basename -- "$path")" ;;
      deleted-file) [[ $lower == file ]] || die "WHITEOUTS: $path is not a file/symlink in layers 1-$n"
                    mkdir -p "$r$(dirname -- "$path")"; touch "$r$(dirname -- "$path")/.wh.$(basename -- "$path")" ;;
      opaque-dir)   [[ $lower == dir ]] || die "WHITEOUTS: $path is not a directory in layers 1-$n"
                    mkdir -p "$r$path"; touch "$r$path/.wh..wh..opq" ;;
      hidden-file)  [[ $lower == file ]] || die "WHITEOUTS: $path is not a file in layers 1-$n" ;;
      kept)         ;;
      *)            die "WHITEOUTS: unknown kind '$kind'" ;;
    esac
  done <"$NGINX_WHITEOUTS"

  # New content of the opaque dir and the replacement server block.
  cat >"$r/var/www/html/index.html" <<'EOF'
<!DOCTYPE html>
<html>
<head><title>Welcome to nginx!</title></head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, Debian's nginx 1.22 is running in a container: served by minid.</p>
</body>
</html>
EOF
  mkdir -p "$r/etc/nginx/conf.d"
  # IPv4 only on purpose: "listen [::]:80" fails where the namespace has no IPv6.
  cat >"$r/etc/nginx/conf.d/default.conf" <<'EOF'
# minid: replaces Debian's sites-enabled/default (whited out in this layer).
server {
    listen 80 default_server;
    server_name _;
    root /var/www/html;
    index index.html;
    location / {
        try_files $uri $uri/ =404;
    }
}
EOF
  cat >"$r/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# minid nginx image entrypoint: like the official image's, without templating.
# Recreates nginx's writable dirs in case the runtime mounted tmpfs over them.
set -e
mkdir -p /run /var/lib/nginx
exec "$@"
EOF
  chmod 0755 "$r/docker-entrypoint.sh"
  chmod 0644 "$r/var/www/html/index.html" "$r/etc/nginx/conf.d/default.conf"

  # Check the merged result against WHITEOUTS before this layer is shipped.
  STAGE_TOP=1
  while read -r kind path _; do
    case $kind in ''|'#'*) continue ;; esac
    case $kind in
      deleted-dir|deleted-file|hidden-file) ! _merged_exists "$path" || die "WHITEOUTS: $path still visible" ;;
      opaque-dir|kept) _merged_exists "$path" || die "WHITEOUTS: $path not visible" ;;
    esac
  done <"$NGINX_WHITEOUTS"
  unset STAGE_TOP
}

recipe() {
  layer base      "busybox-static + applet symlinks + /etc/passwd,group (www-data, nginx) + standard dirs" layer_base
  layer libs      "shared libraries: ${NGINX_LIB_PACKAGES[*]} (minus gconv)" layer_libs
  layer nginx     "Debian ${NGINX_PACKAGES[*]} + postinst steps + logs to /dev/stdout,/dev/stderr" layer_nginx
  layer customize "whiteouts from images/nginx/WHITEOUTS + conf.d/default.conf + index.html + /docker-entrypoint.sh" layer_customize
}
