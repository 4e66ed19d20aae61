// `minid rename OLD NEW`: the container's name in its config and in the names index, under
// the lock every name change takes ('containers'). Its id, hostname and DNS names on user
// networks stay as they were (docker renames the DNS name too: minid's records keep the old
// one until the container is attached again).
import { MinidError } from '../errors.js';
import { withLock } from '../sys/lock.js';
import { forgetName, loadState, nameHolder, recordName, saveConfig, type ContainerState } from './state.js';

/** docker's rule for container names. */
export const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export async function renameContainer(s: ContainerState, newName: string): Promise<void> {
  const name = newName.replace(/^\//, '');
  if (!VALID_NAME.test(newName)) throw new MinidError(`invalid container name "${newName}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed (two characters at least)`, 1);
  if (name === s.config.name) throw new MinidError(`container ${s.config.name} is already called ${name}: give another name`, 1);
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
  });
}
