# Sourced by each plugin's launcher (cni-plugins/bin/minid-*), which sets $plugin (its name) and
# $self (its own path, symlinks resolved). Starts minid's plugins' one program (cni-plugins/main.ts)
# as bin/minid starts the CLI: with Node's start-up snapshot dist/cni-plugins.blob when the node
# that built it is there unchanged (dist/cni-plugins.blob.node: its path, and its modification
# time as the stamp's own), else the ES module bundle with the node on the PATH. Either way one
# file, not a module per source file; no NODE_EXTRA_CA_CERTS (a plugin makes no TLS connection,
# and the bundle would cost ~40 ms per start); no V8 worker threads for a short-lived process.
# sh, not bash: a plugin runs for every container, dash starts in about a millisecond.
unset NODE_EXTRA_CA_CERTS
dir=${self%/*}
dist=$dir/../../dist
stamp=$dist/cni-plugins.blob.node
if { read -r node <"$stamp"; } 2>/dev/null && [ -f "$dist/cni-plugins.blob" ] &&
  [ -x "$node" ] && ! [ "$node" -nt "$stamp" ] && ! [ "$node" -ot "$stamp" ]; then
  exec "$node" --v8-pool-size=0 --snapshot-blob "$dist/cni-plugins.blob" -- "$dir/../run.mjs" "$plugin" "$dir"
fi
exec node --v8-pool-size=0 -- "$dir/../run.mjs" "$plugin" "$dir"
