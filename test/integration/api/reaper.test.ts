// A session's reaper (src/api/reaper.ts): a test process that uses the API and dies without
// cleaning up, killed with SIGKILL or simply exiting, leaves nothing once its reaper has run:
// its containers and its network are removed, by their session label. Another session's
// container (this test's own) is left alone.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, SESSION_LABEL, load } from 'minid';
import { eventually, imagesDir, makeStore, minid, mountsUnder, repo, requireRoot, type Store } from '../../helpers/minid.js';
import { freeSubnet } from '../../helpers/subnet.js';

let store: Store;
const saved: Record<string, string | undefined> = {};
const child = path.join(repo, 'test', 'fixtures', 'api', 'session-child.mjs');

beforeAll(async () => {
  requireRoot();
  store = makeStore('reaper');
  for (const [k, v] of Object.entries(store.env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  await load(path.join(imagesDir, 'busybox'));
  await load(path.join(imagesDir, 'nginx'));
});

afterAll(async () => {
  await store?.cleanup();
  for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

interface Made {
  session: string;
  reaper: number;
  containers: string[];
  network: string;
}

/** Start the child test process; resolves with what it made (its first line) and the process. */
async function startChild(mode: 'wait' | 'exit') {
  const p = execa('node', [child, mode, freeSubnet((a, b) => `10.${150 + a}.${b}.0/24`)], { cwd: repo, env: store.env, reject: false, timeout: 60_000 });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    p.stdout!.on('data', (d: Buffer) => {
      buf += d;
      if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
    });
    p.then((r) => reject(new Error(`the child ended before it said what it made: ${r.stderr}`)), reject);
  });
  return { p, made: JSON.parse(line) as Made };
}

/** Its session's containers and network are there, running. */
async function present(made: Made): Promise<void> {
  const ps = await minid(store, ['ps', '-q', '--no-trunc', '--filter', `label=${SESSION_LABEL}=${made.session}`]);
  expect(ps.stdout.split('\n').sort()).toEqual([...made.containers].sort());
  expect((await minid(store, ['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n')).toContain(made.network);
}

/** Once its reaper has run: nothing of the session, not a record, not a mount, not the network; the reaper gone too. */
async function reaped(made: Made): Promise<void> {
  await eventually(async () => {
    expect((await minid(store, ['ps', '-aq', '--filter', `label=${SESSION_LABEL}=${made.session}`])).stdout).toBe('');
    expect((await minid(store, ['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n')).not.toContain(made.network);
    expect(alive(made.reaper)).toBe(false);
  }, 30_000, 200);
  for (const id of made.containers) {
    expect(mountsUnder(id)).toEqual([]);
    expect(fs.existsSync(path.join(store.root, 'containers', id))).toBe(false);
  }
}

describe("a session's reaper", () => {
  it('removes what a test process made when it is killed with SIGKILL, and nothing of another session', async () => {
    await using mine = await Session.start();
    const bystander = await mine.run('busybox', { command: ['sleep', '600'] });
    const { p, made } = await startChild('wait');
    expect(made.reaper).toBeGreaterThan(0);
    expect(made.reaper).not.toBe(mine.reaperPid);
    await present(made);
    expect(alive(made.reaper)).toBe(true);

    p.kill('SIGKILL');
    const r = await p;
    expect(r.signal).toBe('SIGKILL');
    await reaped(made);
    expect(await bystander.status()).toBe('running');
  });

  it('removes what a test process left when it exits without cleaning up', async () => {
    const { p, made } = await startChild('exit');
    const r = await p;
    expect(r.exitCode, r.stderr).toBe(0);
    await reaped(made);
  });
});
