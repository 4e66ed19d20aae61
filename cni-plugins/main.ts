// minid's CNI plugins as one program. Each launcher (cni-plugins/bin/minid-*, through
// launch.sh) starts it with the plugin's name and the launchers' folder:
//   node [--snapshot-blob dist/cni-plugins.blob] -- cni-plugins/run.mjs minid-bridge DIR
// One program, so that `make build` can bundle it into one file and one V8 start-up snapshot
// (scripts/bundle.mjs), as minid's CLI: a plugin call then costs about one bare Node start.
import { pluginMain, setSiblings, type Plugin } from './lib/skel.js';
import { plugin as bridge } from './bridge/main.js';
import { plugin as hostLocal } from './host-local/main.js';
import { plugin as loopback } from './loopback/main.js';
import { plugin as portmap } from './portmap/main.js';

export const PLUGINS: Record<string, Plugin> = {
  'minid-bridge': bridge,
  'minid-host-local': hostLocal,
  'minid-loopback': loopback,
  'minid-portmap': portmap,
};

/** argv: [node, script, plugin name, launchers' folder]. */
export async function main(argv: string[]): Promise<void> {
  const [name, dir] = argv.slice(2);
  const plugin = PLUGINS[name];
  if (!plugin) {
    process.stdout.write(JSON.stringify({ cniVersion: '1.1.0', code: 999, msg: `no minid CNI plugin named ${JSON.stringify(name)}`, details: `have: ${Object.keys(PLUGINS).join(', ')}` }) + '\n');
    process.exitCode = 1;
    return;
  }
  if (dir) setSiblings(PLUGINS, dir);
  await pluginMain(plugin);
}
