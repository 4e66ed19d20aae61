// The reaper of a session (session.ts): a detached Node process, `node reaper.js SESSION_ID`,
// whose stdin is a pipe from the session's process. That process never writes to it; when it
// is gone (exited, crashed, killed with SIGKILL) the kernel closes its end, and this process
// reads end-of-file. Then it removes what the session left, by its label (reap.ts), and exits.
// A pipe needs no polling and cannot mistake a recycled pid for the parent. (Node has no
// pidfd; the pipe's write end is close-on-exec, so no container supervisor the session
// starts holds it open.) It runs in a session of its own (setsid), so a Ctrl-C or a kill of
// the test's process group does not take it too.
import { reapSession } from './reap.js';

async function main(): Promise<void> {
  const id = process.argv[2];
  if (!id || !/^[0-9a-f]{16,64}$/.test(id)) {
    process.stderr.write('minid reaper: usage: reaper.js SESSION_ID (started by the minid API, not by hand)\n');
    process.exit(2);
  }
  for (const sig of ['SIGINT', 'SIGHUP'] as const) process.on(sig, () => {}); // a terminal's signals are the test's, not the reaper's
  const say = (line: string) => process.stderr.write(`${new Date().toISOString()} minid reaper ${id.slice(0, 12)} (pid ${process.pid}): ${line}\n`);
  say('watching');
  await new Promise<void>((resolve) => {
    process.stdin.on('data', () => {}); // nothing is sent: only the end matters
    process.stdin.on('end', resolve);
    process.stdin.on('close', resolve);
    process.stdin.on('error', () => resolve());
  });
  say('its process is gone: removing what it left');
  let r = await reapSession(id);
  if (r.errors.length) {
    // Once more, a moment later: a container still starting, a lock held by a command of its own.
    for (const e of r.errors) say(`retrying after: ${e}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const again = await reapSession(id);
    r = { containers: [...r.containers, ...again.containers], networks: [...r.networks, ...again.networks], errors: again.errors };
  }
  say(`removed ${r.containers.length} container(s)${r.containers.length ? ` (${r.containers.join(', ')})` : ''} and ${r.networks.length} network(s)${r.networks.length ? ` (${r.networks.join(', ')})` : ''}`);
  for (const e of r.errors) say(`error: ${e}`);
  process.exit(r.errors.length ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`minid reaper: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
