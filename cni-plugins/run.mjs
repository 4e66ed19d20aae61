// minid's CNI plugins without the start-up snapshot (cni-plugins/launch.sh): the ES module
// bundle `make build` writes. argv: plugin name, launchers' folder.
// ErrorCode.INTERNAL of src/cni/spec.ts, which lives in the bundle this file failed to load.
const INTERNAL = 999;
import('../dist/cni-plugins.mjs').then(
  (m) => m.main(process.argv),
  (e) => {
    const name = process.argv[2] ?? 'the plugin';
    const missing = e && e.code === 'ERR_MODULE_NOT_FOUND';
    const msg = missing ? `${name} is not built: run \`make build\`` : `${name} crashed`;
    process.stdout.write(JSON.stringify({ cniVersion: '1.1.0', code: INTERNAL, msg, details: String(e && e.message) }) + '\n');
    process.exitCode = 1;
  },
);
