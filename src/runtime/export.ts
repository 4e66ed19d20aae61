// `minid export CONTAINER`: its file system as one tar (the image's layers merged with what the
// container wrote; none of its mounts: /proc, /sys, /dev, volumes), as docker's export. The
// overlay is mounted read-only in a mount namespace of its own and archived by the host's
// busybox tar chrooted into it (cp.ts: containerRoot), whether the container runs or not.
import { MinidError } from '../errors.js';
import { spawnProcess } from '../sys/exec.js';
import { containerRoot } from './cp.js';
import type { ContainerState } from './state.js';

export async function exportContainer(s: ContainerState, out: NodeJS.WritableStream): Promise<void> {
  const root = await containerRoot(s, false, { layersOnly: true });
  const tar = await spawnProcess(root.argv(['tar', '-c', '-f', '-', '-C', '/', '.']), { stdio: ['ignore', 'pipe', 'pipe'], cleanEnv: true, env: {} });
  const err: Buffer[] = [];
  tar.stderr!.on('data', (d: Buffer) => err.push(d));
  tar.stdout!.pipe(out as NodeJS.WritableStream, { end: false });
  const code = await new Promise<number>((resolve) => tar.on('close', (c) => resolve(c ?? 1)));
  if (code !== 0) throw new MinidError(`cannot export ${s.config.name}: ${Buffer.concat(err).toString().trim().split('\n').pop() || `tar exit ${code}`}`, 1);
}
