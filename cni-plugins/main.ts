// minid's CNI plugins written in TypeScript, as one program (minid-loopback is a C program of its
// own: loopback/main.c). Each launcher (cni-plugins/bin/minid-*, through launch.sh) starts it
// with the plugin's name and the launchers' folder:
//   node [--snapshot-blob dist/cni-plugins.blob] -- cni-plugins/run.mjs minid-bridge DIR
// One program, so that `make build` can bundle it into one file and one V8 start-up snapshot
// (scripts/bundle.mjs), as minid's CLI: a plugin call then costs about one bare Node start.
import { ErrorCode, pluginMain, setSiblings, type Plugin } from './lib/skel.js';
import { plugin as bridge } from './bridge/main.js';
import { plugin as hostLocal } from './host-local/main.js';
import { plugin as portmap } from './portmap/main.js';

export const PLUGINS: Record<string, Plugin> = {
  'minid-bridge': bridge,
  'minid-host-local': hostLocal,
  'minid-portmap': portmap,
};

/** argv: [node, script, plugin name, launchers' folder]. */
export async function main(argv: string[]): Promise<void> {
  const [name, dir] = argv.slice(2);
  const plugin = PLUGINS[name];
  if (!plugin) {
    process.stdout.write(JSON.stringify({ cniVersion: '1.1.0', code: ErrorCode.NO_SUCH_PLUGIN, msg: `no minid CNI plugin named ${JSON.stringify(name)}`, details: `have: ${Object.keys(PLUGINS).join(', ')}` }) + '\n');
    process.exitCode = 1;
    return;
  }
  if (dir) setSiblings(PLUGINS, dir);
  await pluginMain(plugin);
}

/**
 * For the start-up snapshot only (scripts/bundle.mjs): V8 compiles a function the first time it
 * runs, and a snapshot keeps the compiled code of what ran while it was made. So each plugin's
 * ADD and DEL run once here against a recorder that answers every command with success, with
 * a stand-in IPAM plugin, and with configurations that take none of the paths that write to
 * the host directly (no gateway: no ip_forward; no hairpin; no SNAT: no route_localnet; no
 * real IPAM: no reservation). Nothing here touches the host.
 */
export async function rehearse(launcherDir: string): Promise<void> {
  const { setRunner, setTracer } = await import('../src/sys/exec.js');
  const { dispatch, resetState } = await import('./lib/skel.js');
  setRunner(async () => ({ exitCode: 0, stdout: '', stderr: '' }));
  setTracer(() => {});
  const ipam: Plugin = {
    funcs: { add: async (a) => ({ cniVersion: a.cniVersion, ips: [{ address: '10.255.255.2/24' }], routes: [] }), del: async () => {} },
    info: { name: 'minid-host-local', about: '' },
  };
  setSiblings({ 'minid-host-local': ipam }, launcherDir);
  const netns = '/nonexistent/minid-rehearsal';
  const env = { CNI_CONTAINERID: 'rehearsal', CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: launcherDir };
  const prev = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'minidrehearse0', mac: '' }, { name: 'vethrehearse', mac: '' }, { name: 'eth0', mac: '', sandbox: netns }],
    ips: [{ address: '10.255.255.2/24', interface: 2 }],
  };
  const calls: [string, string, object][] = [
    ['minid-bridge', 'VERSION', {}],
    ['minid-bridge', 'ADD', { bridge: 'minidrehearse0', ipMasq: true, ipam: { type: 'minid-host-local' } }],
    ['minid-bridge', 'DEL', { bridge: 'minidrehearse0', ipMasq: true, ipam: { type: 'minid-host-local' }, prevResult: prev }],
    ['minid-portmap', 'ADD', { snat: false, runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] }, prevResult: prev }],
    ['minid-portmap', 'DEL', { snat: false, runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] }, prevResult: prev }],
  ];
  // (the stand-in IPAM runs in this process, with this process's environment, as a sibling does)
  Object.assign(process.env, env);
  try {
    for (const [name, cmd, conf] of calls) {
      const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'rehearsal', type: name, ...conf });
      await dispatch(PLUGINS[name].funcs, PLUGINS[name].info, { ...env, CNI_COMMAND: cmd }, () => stdin).catch(() => {});
    }
  } finally {
    setRunner(null);
    setTracer(undefined);
    resetState();
    for (const k of Object.keys(env)) delete process.env[k];
  }
}
