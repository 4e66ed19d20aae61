// `minid rename OLD NEW`: the container's name in its config and in the names index, under
// the lock every name change takes ('containers'); on user networks, its endpoints' names and
// the network's DNS records too (other containers find it by its new name, as with docker).
// Its id and hostname stay.
import { MinidError } from '../errors.js';
import { withLock } from '../sys/lock.js';
import { paths } from '../sys/paths.js';
import { forgetName, loadState, nameHolder, recordName, saveConfig, type ContainerState } from './state.js';

/** On a user network, the new name must not be another container's name or alias there. */
async function checkDnsNames(s: ContainerState, name: string): Promise<void> {
  const net = await import('../network/index.js');
  for (const e of net.listEndpoints().filter((x) => x.containerId === s.config.id)) {
    try {
      await net.checkNames(e.network, { containerId: s.config.id, containerName: name, aliases: e.aliases });
    } catch (err) {
      throw new MinidError((err as Error).message, 1);
    }
  }
}

/** docker's rule for container names. */
export const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export async function renameContainer(s: ContainerState, newName: string): Promise<void> {
  const name = newName.replace(/^\//, '');
  if (!VALID_NAME.test(newName)) throw new MinidError(`invalid container name "${newName}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed (two characters at least)`, 1);
  if (name === s.config.name) throw new MinidError(`container ${s.config.name} is already called ${name}: give another name`, 1);
  await checkDnsNames(s, name);
  await withLock('containers', async () => {
    const holder = nameHolder(name);
    if (holder) throw new MinidError(`the container name "${name}" is already in use by container ${holder.slice(0, 12)}: remove it (\`minid rm ${name}\`) or pick another name`, 1);
    const now = loadState(s.config.id);
    if (!now) throw new MinidError(`no such container: ${s.config.name}`, 1);
    const old = now.config.name;
    now.config.name = name;
    saveConfig(now.config);
    recordName(name, now.config.id);
    forgetName(old, now.config.id);
    // Its supervisor's events (die) carry the new name from now on.
    const ev = await import('./events.js');
    if (now.status !== 'created' && now.status !== 'exited') ev.writeAttributesFile(paths.containerRun(now.config.id), now.config);
    ev.recordEvent('container', 'rename', now.config.id, { ...ev.containerAttributes(now.config), oldName: `/${old}` });
  });
  await (await import('../network/index.js')).renameEndpoints(s.config.id, name);
}
