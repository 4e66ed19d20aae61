// minid-loopback: bring "lo" up inside the container (the reference loopback plugin's job).
// ADD without prevResult reports lo with 127.0.0.1/8 and ::1/128; chained after another plugin
// it passes prevResult through unchanged. DEL sets lo down; a missing namespace is fine.
import fs from 'node:fs';
import { run } from '../../src/sys/exec.js';
import type { CniResult } from '../../src/cni/spec.js';
import { CniError, ErrorCode, netnsExists, prevResultOf, type CmdArgs, type Plugin } from '../lib/skel.js';
import { inNetns, ipJson } from '../lib/net.js';

async function cmdAdd(a: CmdArgs): Promise<CniResult> {
  const r = await run(inNetns(a.netns, ['ip', 'link', 'set', 'lo', 'up']), { allowFail: true });
  if (r.exitCode !== 0) throw new CniError(ErrorCode.INTERFACE_FAILURE, `failed to set lo up in ${a.netns}: ${r.stderr.trim()}`);
  const prev = prevResultOf(a);
  if (prev) return prev;
  const ips = [{ address: '127.0.0.1/8', interface: 0 }];
  if (fs.existsSync('/proc/net/if_inet6')) ips.push({ address: '::1/128', interface: 0 });
  return {
    cniVersion: a.cniVersion,
    interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: a.netns }],
    ips,
  };
}

async function cmdDel(a: CmdArgs): Promise<void> {
  if (!netnsExists(a.netns)) return;
  await run(inNetns(a.netns, ['ip', 'link', 'set', 'lo', 'down']), { allowFail: true });
}

async function cmdCheck(a: CmdArgs): Promise<void> {
  const links = await ipJson(['link', 'show', 'dev', 'lo'], a.netns);
  if (!links.length) throw new CniError(ErrorCode.UNKNOWN_CONTAINER, `no lo in ${a.netns}`);
  if (!(links[0].flags ?? []).includes('UP')) throw new CniError(ErrorCode.CHECK_MISMATCH, `lo is down in ${a.netns}`);
}

/** The plugin, run by cni-plugins/main.ts. */
export const plugin: Plugin = {
  funcs: { add: cmdAdd, del: cmdDel, check: cmdCheck, gc: async () => {}, status: async () => {} },
  info: { name: 'minid-loopback', about: 'minid-loopback: bring up lo (minid, CNI)' },
};
