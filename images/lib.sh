# shellcheck shell=bash
# images/lib.sh — the machinery behind images/build.sh.
#
# A recipe (images/NAME/recipe.sh) only says WHAT goes into each layer; this
# file does the rest, the way an image builder does it, one visible step each:
#
#   stage dir  ──tar (reproducible)──▶  layer.tar  ──sha256──▶ diff_id
#                                            │
#                                         gzip -n ──sha256──▶ blob digest
#   config  = {architecture, os, config{Env,Cmd,...}, rootfs.diff_ids, history}
#   manifest = {config descriptor, layer descriptors}
#   index.json → manifest (tagged "latest"),  oci-layout
#
# Nothing here needs the network except deb_fetch, which asks apt for .debs
# once and keeps them in $MINID_IMAGE_CACHE.

MINID_IMAGE_CACHE=${MINID_IMAGE_CACHE:-/var/cache/minid/debs}
# Every file in every layer gets this mtime, and the config's "created" field
# is derived from it: same inputs ⇒ same digests.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}

MT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_OCI_INDEX=application/vnd.oci.image.index.v1+json
MT_OCI_CONFIG=application/vnd.oci.image.config.v1+json
MT_OCI_LAYER_GZ=application/vnd.oci.image.layer.v1.tar+gzip

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- work dir --
# One private scratch dir per build; removed on exit whatever happens.
IMG_CLEANUP=()
img_workdir_init() {
  IMG_WORK=$(mktemp -d "${TMPDIR:-/tmp}/minid-image.XXXXXX")
  IMG_CLEANUP+=("$IMG_WORK")
  trap 'rm -rf -- "${IMG_CLEANUP[@]}"' EXIT
}

# ------------------------------------------------------------ Debian debs --
# deb_fetch PKG... — set DEB_PATHS to the cached .deb of each package's
# candidate version, downloading what is missing. apt tells us the exact
# file name and SHA256 (--print-uris) so a cached file is checked, not trusted.
_APT_UPDATED=0
declare -A DEB_URI=()   # package → "FILE SHA256HEX" of its candidate version
_deb_resolve() {  # PKG... → fills DEB_URI; one apt call (~0.7 s) for all
  local out file sha
  if ! out=$(apt-get download --print-uris "$@" 2>/dev/null) || [[ -z $out ]]; then
    (( _APT_UPDATED == 0 )) || return 1
    log "apt-get download --print-uris failed; running apt-get update once"
    _APT_UPDATED=1
    apt-get update -qq >&2 || true
    out=$(apt-get download --print-uris "$@" 2>/dev/null) && [[ -n $out ]] || return 1
  fi
  while read -r _ file _ sha; do
    [[ $file == *_*.deb ]] || continue
    DEB_URI[${file%%_*}]="$file ${sha#SHA256:}"
  done <<<"$out"
}

deb_fetch() {
  mkdir -p "$MINID_IMAGE_CACHE"
  local pkg file sha have dl missing=()
  DEB_PATHS=()
  local unknown=()
  for pkg in "$@"; do [[ -n ${DEB_URI[$pkg]:-} ]] || unknown+=("$pkg"); done
  ((${#unknown[@]} == 0)) || _deb_resolve "${unknown[@]}" || true
  for pkg in "$@"; do
    [[ -n ${DEB_URI[$pkg]:-} ]] || continue
    read -r file sha <<<"${DEB_URI[$pkg]}"
    [[ -f $MINID_IMAGE_CACHE/$file ]] && echo "$sha  $MINID_IMAGE_CACHE/$file" | sha256sum -c --status && continue
    # Reuse apt's own cache when it holds the very same file.
    if [[ -f /var/cache/apt/archives/$file ]] && echo "$sha  /var/cache/apt/archives/$file" | sha256sum -c --status; then
      cp -- "/var/cache/apt/archives/$file" "$MINID_IMAGE_CACHE/.$file.$$"
      mv -f -- "$MINID_IMAGE_CACHE/.$file.$$" "$MINID_IMAGE_CACHE/$file"
      continue
    fi
    missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "downloading ${missing[*]}"
    # Download next to the cache (same filesystem: the final mv is atomic, so
    # parallel builds can share the cache). apt drops privileges to _apt for
    # downloads, so that user must be able to write the directory.
    dl=$(mktemp -d "$MINID_IMAGE_CACHE/.dl.XXXXXX"); IMG_CLEANUP+=("$dl")
    chmod 0755 "$dl"; chown _apt "$dl" 2>/dev/null || true
    (cd "$dl" && apt-get download -qq "${missing[@]}" >&2) || die "apt-get download ${missing[*]} failed"
    for pkg in "${missing[@]}"; do
      read -r file sha <<<"${DEB_URI[$pkg]}"
      [[ -f $dl/$file ]] || die "apt-get download $pkg did not produce $file"
      echo "$sha  $dl/$file" | sha256sum -c --status || die "checksum mismatch for $file"
      mv -f -- "$dl/$file" "$MINID_IMAGE_CACHE/$file"
    done
    rm -rf -- "$dl"
  fi
  for pkg in "$@"; do
    if [[ -n ${DEB_URI[$pkg]:-} ]]; then
      read -r file sha <<<"${DEB_URI[$pkg]}"
      DEB_PATHS+=("$MINID_IMAGE_CACHE/$file")
    else
      # apt cannot resolve it (offline, no lists): fall back to what is cached.
      have=$(find "$MINID_IMAGE_CACHE" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
      [[ -n $have ]] || die "cannot resolve Debian package '$pkg' (no apt metadata, nothing cached)"
      log "warning: using cached $(basename "$have") (apt could not resolve $pkg)"
      DEB_URI[$pkg]="$(basename -- "$have") $(sha256sum "$have" | cut -d' ' -f1)"
      DEB_PATHS+=("$have")
    fi
  done
}

# deb_extract DIR PKG... — dpkg -x each package into DIR (no maintainer
# scripts run: recipes replay what the postinst would have done).
deb_extract() {
  local dir=$1 deb; shift
  deb_fetch "$@"
  for deb in "${DEB_PATHS[@]}"; do
    dpkg -x "$deb" "$dir"
    IMG_PACKAGES+=("$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version)")
  done
}

# ----------------------------------------------------------- shared rootfs --
# rootfs_busybox_base DIR — the layer the busybox image consists of and the
# nginx image starts from (byte-identical in both: same digest, shared blob).
#   /bin/busybox (busybox-static) + one absolute symlink per applet at the
#   path `busybox --list-full` gives; /etc/passwd, /etc/group, nsswitch.conf;
#   the usual empty directories with their usual modes.
rootfs_busybox_base() {
  local r=$1
  deb_extract "$r" busybox-static
  # Packaging leftovers that mean nothing inside a container.
  rm -rf -- "$r/usr/share/initramfs-tools" "$r/usr/share/lintian" "$r/usr/share/man"
  mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin"
  # ~270 symlinks: one perl process (perl-base is always there) instead of
  # one `ln` each, which costs ~1.4 s here.
  "$r/bin/busybox" --list-full | grep -v -x -e bin/busybox -e linuxrc |
    perl -nle 'BEGIN { $r = shift } unlink "$r/$_"; symlink("/bin/busybox", "$r/$_") or die "symlink $_: $!"' "$r"

  # Mount points and standard dirs. /tmp and /var/tmp are sticky+world-writable.
  mkdir -p "$r"/{dev,proc,sys,run,etc,root,home/minid,tmp,var/tmp,var/log,var/lib,var/cache,usr/local/bin}
  chmod 0755 "$r"/{dev,proc,sys,run,etc,home,home/minid,var,var/log,var/lib,var/cache}
  chmod 0700 "$r/root"
  chmod 1777 "$r/tmp" "$r/var/tmp"
  chown 1000:1000 "$r/home/minid"   # kept numerically in the tar: tests can check it

  cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nginx:x:101:101:nginx:/nonexistent:/bin/false
minid:x:1000:1000:minid:/home/minid:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$r/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
adm:x:4:
www-data:x:33:
nginx:x:101:
minid:x:1000:
nogroup:x:65534:
EOF
  cat >"$r/etc/shadow" <<'EOF'
root:*:0:0:99999:7:::
daemon:*:0:0:99999:7:::
www-data:*:0:0:99999:7:::
nginx:!:0:0:99999:7:::
minid:!:0:0:99999:7:::
nobody:*:0:0:99999:7:::
EOF
  chmod 0644 "$r/etc/passwd" "$r/etc/group"
  chmod 0640 "$r/etc/shadow"
  # glibc programs (nginx) look users up through NSS; say "files" explicitly.
  printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$r/etc/nsswitch.conf"
  chmod 0644 "$r/etc/nsswitch.conf"
}

# ----------------------------------------------------------------- layers --
# Recipe API:
#   layer NAME "what it does (goes into history.created_by)" FUNC
# FUNC is called with the layer's empty stage dir as $1 and fills it. Files
# named .wh.X are OCI whiteouts (delete X from lower layers); a file named
# .wh..wh..opq makes its directory opaque (hide all lower content).
IMG_LAYERS=()      # "name" per layer
IMG_DIFF_IDS=()    # sha256:... of uncompressed tar
IMG_DIGESTS=()     # sha256:... of gzip blob
IMG_SIZES=()       # bytes of gzip blob
IMG_TAR_SIZES=()   # bytes of uncompressed tar
IMG_CREATED_BY=()
IMG_PACKAGES=()

layer() {
  local name=$1 created_by=$2 fn=$3
  local i=${#IMG_LAYERS[@]}
  local stage="$IMG_WORK/stage-$i"
  mkdir -p "$stage"; chmod 0755 "$stage"
  log "layer $((i + 1)) ($name): $created_by"
  "$fn" "$stage"
  layer_tar "$stage" "$IMG_WORK/layer-$i.tar"
  gzip -n -6 -c "$IMG_WORK/layer-$i.tar" >"$IMG_WORK/layer-$i.tar.gz"
  local diff digest
  diff=$(sha256sum "$IMG_WORK/layer-$i.tar" | cut -d' ' -f1)
  digest=$(sha256sum "$IMG_WORK/layer-$i.tar.gz" | cut -d' ' -f1)
  IMG_LAYERS+=("$name")
  IMG_DIFF_IDS+=("sha256:$diff")
  IMG_DIGESTS+=("sha256:$digest")
  IMG_SIZES+=("$(stat -c %s "$IMG_WORK/layer-$i.tar.gz")")
  IMG_TAR_SIZES+=("$(stat -c %s "$IMG_WORK/layer-$i.tar")")
  IMG_CREATED_BY+=("$created_by")
  # The stage stays until exit: later layers may inspect it (layer_stage).
}

# layer_stage N — the stage dir of the Nth layer (1-based), already tarred.
layer_stage() { printf '%s\n' "$IMG_WORK/stage-$(($1 - 1))"; }

# layer_tar DIR FILE — the reproducible tar of one layer:
#   * entries relative, without a leading "./" (docker's convention: "bin/sh",
#     directories end in "/"), sorted by name;
#   * numeric uid/gid as staged (no user names), every mtime = SOURCE_DATE_EPOCH;
#   * GNU format (long names handled), no atime/ctime, no xattrs.
layer_tar() {
  local dir=$1 out=$2
  (cd "$dir" && find . -mindepth 1 -maxdepth 1 -printf '%P\0' | LC_ALL=C sort -z |
    LC_ALL=C tar --create --file=- --format=gnu --null --files-from=- \
      --numeric-owner --sort=name --mtime="@$SOURCE_DATE_EPOCH" \
      --no-acls --no-xattrs --no-selinux) >"$out"
}

# ----------------------------------------------------------------- output --
_created() { date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ; }
_json_array() { if (($#)); then printf '%s\n' "$@" | jq -R . | jq -cs .; else echo '[]'; fi; }

# Recipe config variables (JSON or empty = omitted):
#   IMG_ENV IMG_CMD IMG_ENTRYPOINT IMG_EXPOSED_PORTS IMG_WORKDIR IMG_STOPSIGNAL IMG_LABELS IMG_USER
img_config_json() {
  local created; created=$(_created)
  local hist='[]' i
  for i in "${!IMG_LAYERS[@]}"; do
    hist=$(jq -c --arg c "$created" --arg by "${IMG_CREATED_BY[$i]}" --arg n "${IMG_LAYERS[$i]}" \
      '. + [{created: $c, created_by: $by, comment: ("minid images/build.sh layer " + $n)}]' <<<"$hist")
  done
  jq -cnj \
    --arg created "$created" \
    --argjson env "${IMG_ENV:-null}" --argjson cmd "${IMG_CMD:-null}" \
    --argjson entrypoint "${IMG_ENTRYPOINT:-null}" --argjson ports "${IMG_EXPOSED_PORTS:-null}" \
    --argjson labels "${IMG_LABELS:-null}" \
    --arg workdir "${IMG_WORKDIR:-}" --arg stopsignal "${IMG_STOPSIGNAL:-}" --arg user "${IMG_USER:-}" \
    --argjson diffids "$(_json_array "${IMG_DIFF_IDS[@]}")" \
    --argjson history "$hist" '
    {
      created: $created,
      architecture: "amd64",
      os: "linux",
      config: ({
        User: (if $user == "" then null else $user end),
        ExposedPorts: $ports,
        Env: $env,
        Entrypoint: $entrypoint,
        Cmd: $cmd,
        WorkingDir: (if $workdir == "" then null else $workdir end),
        Labels: $labels,
        StopSignal: (if $stopsignal == "" then null else $stopsignal end)
      } | with_entries(select(.value != null))),
      rootfs: {type: "layers", diff_ids: $diffids},
      history: $history
    }'
}

# _blob_put LAYOUT FILE → prints "sha256:HEX SIZE", storing FILE under blobs/sha256/HEX
_blob_put() {
  local layout=$1 file=$2 hex
  hex=$(sha256sum "$file" | cut -d' ' -f1)
  mkdir -p "$layout/blobs/sha256"
  cp -- "$file" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex $(stat -c %s "$file")"
}

# img_write_oci NAME OUTDIR — OCI image layout (oci-layout, index.json, blobs/)
img_write_oci() {
  local name=$1 outdir=$2
  local layout="$IMG_WORK/oci"
  rm -rf -- "$layout"; mkdir -p "$layout/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

  local i layers='[]'
  for i in "${!IMG_LAYERS[@]}"; do
    cp -- "$IMG_WORK/layer-$i.tar.gz" "$layout/blobs/sha256/${IMG_DIGESTS[$i]#sha256:}"
    layers=$(jq -c --arg mt "$MT_OCI_LAYER_GZ" --arg d "${IMG_DIGESTS[$i]}" \
      --argjson s "${IMG_SIZES[$i]}" --arg n "${IMG_LAYERS[$i]}" \
      '. + [{mediaType: $mt, digest: $d, size: $s, annotations: {"io.minid.layer.name": $n}}]' <<<"$layers")
  done

  img_config_json >"$IMG_WORK/config.json"
  local cfg cfg_digest cfg_size
  cfg=$(_blob_put "$layout" "$IMG_WORK/config.json"); read -r cfg_digest cfg_size <<<"$cfg"

  jq -cnj --arg mt "$MT_OCI_MANIFEST" --arg cmt "$MT_OCI_CONFIG" \
    --arg cd "$cfg_digest" --argjson cs "$cfg_size" --argjson layers "$layers" --arg name "$name" '
    {schemaVersion: 2, mediaType: $mt,
     config: {mediaType: $cmt, digest: $cd, size: $cs},
     layers: $layers,
     annotations: {"io.minid.image.name": $name}}' >"$IMG_WORK/manifest.json"
  local man man_digest man_size
  man=$(_blob_put "$layout" "$IMG_WORK/manifest.json"); read -r man_digest man_size <<<"$man"

  jq -cnj --arg imt "$MT_OCI_INDEX" --arg mt "$MT_OCI_MANIFEST" \
    --arg d "$man_digest" --argjson s "$man_size" --arg name "$name" '
    {schemaVersion: 2, mediaType: $imt,
     manifests: [{mediaType: $mt, digest: $d, size: $s,
                  platform: {architecture: "amd64", os: "linux"},
                  annotations: {"org.opencontainers.image.ref.name": "latest",
                                "io.minid.image.name": $name}}]}' >"$layout/index.json"

  _replace_dir "$layout" "$outdir" oci-layout
  IMG_MANIFEST_DIGEST=$man_digest
  IMG_CONFIG_DIGEST=$cfg_digest
}

# img_write_docker_archive NAME FILE — what `docker save NAME:latest` writes:
#   manifest.json [{Config, RepoTags, Layers}], <config-hex>.json,
#   <diffid-hex>/layer.tar (uncompressed), repositories.
img_write_docker_archive() {
  local name=$1 file=$2
  local d="$IMG_WORK/docker-archive"
  rm -rf -- "$d"; mkdir -p "$d"
  local cfg_hex; cfg_hex=$(sha256sum "$IMG_WORK/config.json" | cut -d' ' -f1)
  cp -- "$IMG_WORK/config.json" "$d/$cfg_hex.json"
  local i hex paths=()
  for i in "${!IMG_LAYERS[@]}"; do
    hex=${IMG_DIFF_IDS[$i]#sha256:}
    mkdir -p "$d/$hex"
    cp -- "$IMG_WORK/layer-$i.tar" "$d/$hex/layer.tar"
    printf '1.0' >"$d/$hex/VERSION"
    paths+=("$hex/layer.tar")
  done
  jq -cnj --arg c "$cfg_hex.json" --arg tag "$name:latest" --argjson layers "$(_json_array "${paths[@]}")" \
    '[{Config: $c, RepoTags: [$tag], Layers: $layers}]' >"$d/manifest.json"
  jq -cnj --arg n "$name" --arg top "$hex" '{($n): {latest: $top}}' >"$d/repositories"
  chmod -R u=rwX,go=rX "$d"
  layer_tar "$d" "$IMG_WORK/docker-archive.tar"
  mkdir -p "$(dirname -- "$file")"
  mv -f -- "$IMG_WORK/docker-archive.tar" "$file"
}

# _replace_dir SRC DEST MARKER — move SRC to DEST, replacing DEST only if it
# is absent, empty, or a previous output (contains MARKER). Never deletes an
# unrelated directory someone passed by mistake.
img_check_outdir() {  # DEST MARKER — also called before building: fail early
  local dest=$1 marker=$2
  [[ -n $dest && $dest != / ]] || die "refusing output dir '$dest'"
  if [[ -e $dest || -L $dest ]]; then
    [[ -d $dest && ! -L $dest ]] || die "$dest exists and is not a directory"
    if [[ -n $(ls -A -- "$dest") && ! -e $dest/$marker ]]; then
      die "$dest is not empty and has no $marker: refusing to overwrite it"
    fi
  fi
}
_replace_dir() {
  local src=$1 dest=$2 marker=$3
  img_check_outdir "$dest" "$marker"
  mkdir -p "$(dirname -- "$dest")"
  local tmp; tmp=$(mktemp -d "$(dirname -- "$dest")/.$(basename -- "$dest").new.XXXXXX")
  cp -a -- "$src/." "$tmp/"
  chmod 0755 "$tmp"
  rm -rf -- "$dest"
  mv -- "$tmp" "$dest"
}

img_summary() {
  local name=$1 i
  log "$name: manifest $IMG_MANIFEST_DIGEST config $IMG_CONFIG_DIGEST"
  for i in "${!IMG_LAYERS[@]}"; do
    log "  layer $((i + 1)) ${IMG_LAYERS[$i]}: ${IMG_DIGESTS[$i]} gz=${IMG_SIZES[$i]} tar=${IMG_TAR_SIZES[$i]} diff_id=${IMG_DIFF_IDS[$i]}"
  done
  log "  packages: ${IMG_PACKAGES[*]}"
}
