// What a session leaves is found by its label and removed: its containers first (killed, with
// their anonymous volumes), then its networks (once no container is on them). Used by
// Session.close() and by the reaper (reaper.ts) once the session's process is gone. Nothing
// without the label is touched: other sessions, other tests, the user's own containers.

/** The label every container and network of a session carries: SESSION_LABEL=<session id>. */
export const SESSION_LABEL = 'minid.session';

export interface Reaped {
  containers: string[];
  networks: string[];
  errors: string[];
}

export async function reapSession(sessionId: string): Promise<Reaped> {
  const fs = await import('node:fs');
  const { root } = await import('../sys/paths.js');
  const done: Reaped = { containers: [], networks: [], errors: [] };
  // A store removed meanwhile (a test's temporary one) holds nothing: nothing is made again.
  if (!fs.existsSync(root())) return done;
  const { listStates, NoSuchContainerError } = await import('../runtime/state.js');
  const rt = await import('../runtime/container.js');
  const mine = (labels: Record<string, string> | undefined) => labels?.[SESSION_LABEL] === sessionId;
  await Promise.all(
    listStates()
      .filter((s) => mine(s.config.labels))
      .map(async (s) => {
        try {
          await rt.removeContainer(s.config.id, true, undefined, true);
          done.containers.push(s.config.name);
        } catch (e) {
          if (!(e instanceof NoSuchContainerError)) done.errors.push(`container ${s.config.name}: ${(e as Error).message}`);
        }
      }),
  );
  const { records, removeNetwork } = await import('../network/networks.js');
  for (const n of records().filter((r) => mine(r.labels))) {
    try {
      await removeNetwork(n.name);
      done.networks.push(n.name);
    } catch (e) {
      done.errors.push(`network ${n.name}: ${(e as Error).message}`);
    }
  }
  return done;
}
