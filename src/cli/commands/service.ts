// `minid system service [--socket PATH] [--timeout S]`: the Docker Engine API on a unix socket
// (src/engine/), until idle for S seconds (default 5; 0: never), as `podman system service`.
import { fail } from '../../errors.js';

export async function service(o: { socket?: string; timeout?: string }): Promise<void> {
  const t = o.timeout === undefined ? 5 : Number(o.timeout);
  if (!Number.isFinite(t) || t < 0) fail(`invalid --timeout "${o.timeout}": give seconds (0: never exit)`, 1);
  const { serve } = await import('../../engine/server.js');
  await serve({
    socket: o.socket,
    timeout: t,
    listening: (sock) =>
      process.stderr.write(`minid: the Docker Engine API listens on ${sock} (${t ? `exits after ${t}s idle` : 'until stopped'}): DOCKER_HOST=unix://${sock}\n`),
  });
}
