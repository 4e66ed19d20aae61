// Health checks (docker's HEALTHCHECK) as docker users, compose's service_healthy and
// testcontainers' Wait.forHealthCheck rely on them (root; CI runs it): the check runs in the
// container every interval, beside each run of it (the supervisor's health monitor), and what
// it says shows in inspect, ps, ps --filter health and `minid events`. Short intervals keep
// the file quick; no timing is asserted (eventually).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, imagesDir, suiteStore, type Store } from '../../helpers/minid.js';
import { namespaceProcesses } from '../../helpers/procs.js';

const suite = suiteStore('health');
let store: Store;
beforeAll(() => void ({ store } = suite));
const run = suite.run;

const detached = suite.detached;

const inspect = async (ref: string) => JSON.parse((await run(['inspect', ref])).stdout)[0];
const health = async (ref: string) => (await inspect(ref)).State.Health;

/** The health monitors of a container: processes whose command line is `... _health ID` (node; not its minid-spawner helper). */
function monitors(id: string, withHelper = false): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(`\0_health\0${id}`) && (withHelper || !cmd.split('\0')[0].endsWith('minid-spawner'))) out.push(Number(p));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/**
 * busybox with a HEALTHCHECK in its image config (what `HEALTHCHECK --interval=200ms CMD
 * test -e /tmp/ok` writes in a Dockerfile): the test image's layout copied, its config blob
 * rewritten, the manifest and index pointing at it; loaded as busybox-hc.
 */
async function imageWithHealthcheck(dir: string): Promise<void> {
  const src = path.join(imagesDir, 'busybox');
  const blob = (d: string) => path.join(dir, 'blobs', 'sha256', d.replace(/^sha256:/, ''));
  fs.cpSync(src, dir, { recursive: true });
  const put = (o: unknown) => {
    const text = JSON.stringify(o);
    const digest = `sha256:${crypto.createHash('sha256').update(text).digest('hex')}`;
    fs.writeFileSync(blob(digest), text);
    return { digest, size: Buffer.byteLength(text) };
  };
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest), 'utf8'));
  const config = JSON.parse(fs.readFileSync(blob(manifest.config.digest), 'utf8'));
  config.config.Healthcheck = { Test: ['CMD-SHELL', 'test -e /tmp/ok'], Interval: 200e6, Retries: 2 };
  manifest.config = { ...manifest.config, ...put(config) };
  const m = put(manifest);
  index.manifests[0] = { ...index.manifests[0], ...m, annotations: { ...index.manifests[0].annotations, 'io.minid.image.name': 'busybox-hc' } };
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
  const r = await run(['load', '-q', '-i', dir]);
  expect([r.exitCode, r.stderr]).toEqual([0, '']);
}

const fast = ['--health-interval', '200ms'];

describe('a check that passes', () => {
  it('is healthy: inspect, the ps status, ps --filter health and the health_status event', async () => {
    const id = await detached(['--health-cmd', 'echo alive', ...fast, 'busybox', 'sleep', '300']);
    const c = await inspect(id);
    expect(c.Config.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'echo alive'], Interval: 200_000_000 });
    await eventually(async () => expect((await health(id))?.Status).toBe('healthy'));
    const h = await health(id);
    expect(h.FailingStreak).toBe(0);
    expect(h.Log.at(-1)).toMatchObject({ ExitCode: 0, Output: 'alive\n' });
    expect(Date.parse(h.Log.at(-1).End)).toBeGreaterThanOrEqual(Date.parse(h.Log.at(-1).Start));
    expect((await run(['ps', '--filter', `id=${id}`, '--format', '{{.Status}}'])).stdout).toMatch(/^Up .* \(healthy\)$/);
    expect((await run(['ps', '-q', '--no-trunc', '--filter', 'health=healthy'])).stdout.split('\n')).toContain(id);
    expect((await run(['ps', '-q', '--no-trunc', '--filter', 'health=none'])).stdout.split('\n')).not.toContain(id);
    expect((await run(['ps', '-q', '--no-trunc', '--filter', 'health=unhealthy'])).stdout.split('\n')).not.toContain(id);
    const ev = await run(['events', '--since', '5m', '--until', '0s', '--filter', `container=${id}`, '--filter', 'event=health_status', '--format', '{{.Action}}']);
    expect(ev.stdout.trim().split('\n')).toEqual(['health_status: healthy']);
  });

  it('a container without a check: no State.Health, health=none, a plain status', async () => {
    const id = await detached(['busybox', 'sleep', '300']);
    const c = await inspect(id);
    expect(c.State.Health).toBeUndefined();
    expect(c.Config.Healthcheck).toBeUndefined();
    expect((await run(['inspect', '-f', '{{.State.Health}}', id])).stdout.trim()).toBe('<nil>');
    expect((await run(['ps', '-q', '--no-trunc', '--filter', 'health=none'])).stdout.split('\n')).toContain(id);
    expect((await run(['ps', '--filter', `id=${id}`, '--format', '{{.Status}}'])).stdout).toMatch(/^Up [^(]*$/);
    expect(monitors(id)).toEqual([]);
  });
});

describe('a check that fails', () => {
  it('is unhealthy after --health-retries failures in a row, with its streak and log (the last 5)', async () => {
    const id = await detached(['--health-cmd', 'echo no >&2; exit 3', ...fast, '--health-retries', '2', 'busybox', 'sleep', '300']);
    await eventually(async () => expect((await health(id))?.Status).toBe('unhealthy'));
    const h = await health(id);
    expect(h.FailingStreak).toBeGreaterThanOrEqual(2);
    expect(h.Log.at(-1)).toMatchObject({ ExitCode: 3, Output: 'no\n' });
    await eventually(async () => expect((await health(id)).Log).toHaveLength(5));
    expect((await health(id)).FailingStreak).toBeGreaterThanOrEqual(5);
    expect((await run(['ps', '--filter', `id=${id}`, '--format', '{{.Status}}'])).stdout).toMatch(/^Up .* \(unhealthy\)$/);
    expect((await run(['ps', '-q', '--no-trunc', '--filter', 'health=unhealthy'])).stdout.split('\n')).toContain(id);
    // It turns healthy again once the check passes.
    const fixed = await detached(['--health-cmd', 'test -e /tmp/ok', ...fast, '--health-retries', '1', 'busybox', 'sleep', '300']);
    await eventually(async () => expect((await health(fixed))?.Status).toBe('unhealthy'));
    expect((await run(['exec', fixed, 'touch', '/tmp/ok'])).exitCode).toBe(0);
    await eventually(async () => expect(await health(fixed)).toMatchObject({ Status: 'healthy', FailingStreak: 0 }));
    const ev = await run(['events', '--since', '5m', '--until', '0s', '--filter', `container=${fixed}`, '--filter', 'event=health_status', '--format', '{{.Action}}']);
    expect(ev.stdout.trim().split('\n')).toEqual(['health_status: unhealthy', 'health_status: healthy']);
  });

  it('a check that hangs is killed at its timeout: exit -1, docker\'s words, nothing of it left in the container', async () => {
    const id = await detached(['--health-cmd', 'sleep 123', ...fast, '--health-timeout', '300ms', '--health-retries', '2', 'busybox', 'sleep', '300']);
    await eventually(async () => expect((await health(id))?.Status).toBe('unhealthy'));
    const h = await health(id);
    expect(h.Log.at(-1)).toMatchObject({ ExitCode: -1, Output: 'Health check exceeded timeout (300ms)' });
    // At most the check running now: the ones timed out are gone.
    const pid = (await inspect(id)).State.Pid;
    expect(namespaceProcesses(pid).map((p) => p.cmdline).filter((c) => c.includes('sleep 123')).length).toBeLessThanOrEqual(1);
  });

  it('the start period: failures then do not count; a success makes it healthy', async () => {
    const id = await detached(['--health-cmd', 'test -e /tmp/ok', ...fast, '--health-start-period', '1m', '--health-start-interval', '200ms', '--health-retries', '1', 'busybox', 'sleep', '300']);
    await eventually(async () => expect((await health(id))?.Log.length).toBeGreaterThanOrEqual(3));
    expect(await health(id)).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    expect((await run(['ps', '--filter', `id=${id}`, '--format', '{{.Status}}'])).stdout).toMatch(/^Up .* \(health: starting\)$/);
    expect((await run(['ps', '-q', '--no-trunc', '--filter', 'health=starting'])).stdout.split('\n')).toContain(id);
    expect((await run(['exec', id, 'touch', '/tmp/ok'])).exitCode).toBe(0);
    await eventually(async () => expect((await health(id))?.Status).toBe('healthy'));
  });
});

describe("the image's HEALTHCHECK", () => {
  beforeAll(async () => imageWithHealthcheck(path.join(suite.tmp, 'busybox-hc')));

  it('is the container\'s check; flags override it field by field; --no-healthcheck disables it', async () => {
    const id = await detached(['busybox-hc', 'sh', '-c', 'touch /tmp/ok; exec sleep 300']);
    expect((await inspect(id)).Config.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'test -e /tmp/ok'], Interval: 200_000_000, Retries: 2 });
    await eventually(async () => expect((await health(id))?.Status).toBe('healthy'));

    const merged = await detached(['--health-retries', '5', '--health-timeout', '2s', 'busybox-hc', 'sleep', '300']);
    expect((await inspect(merged)).Config.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'test -e /tmp/ok'], Interval: 200_000_000, Timeout: 2e9, Retries: 5 });

    const none = await detached(['--no-healthcheck', 'busybox-hc', 'sleep', '300']);
    const c = await inspect(none);
    // docker's merge: Test from the flag, the image's other fields kept (they do nothing).
    expect(c.Config.Healthcheck).toMatchObject({ Test: ['NONE'] });
    expect(c.State.Health).toBeUndefined();
    expect((await run(['ps', '-q', '--no-trunc', '--filter', 'health=none'])).stdout.split('\n')).toContain(none);
    expect(monitors(none)).toEqual([]);
  });
});

describe('the monitor lives exactly as long as the container runs', () => {
  it('stop ends it (and its checks); start brings a new one, starting again; rm -f ends it too', async () => {
    const id = await detached(['--health-cmd', 'sleep 0.1', ...fast, 'busybox', 'sleep', '300']);
    await eventually(async () => expect((await health(id))?.Status).toBe('healthy'));
    const [first] = monitors(id);
    expect(first).toBeGreaterThan(0);
    // A child of the container's supervisor.
    const shim = Number(fs.readFileSync(path.join(store.run, 'containers', id, 'shim.pid'), 'utf8'));
    expect(fs.readFileSync(`/proc/${first}/stat`, 'utf8').split(') ')[1].split(' ')[2]).toBe(String(shim));
    expect((await run(['stop', '-t', '0', id])).exitCode).toBe(0);
    expect(monitors(id, true)).toEqual([]);
    expect(fs.existsSync(`/proc/${first}`)).toBe(false);
    // Stopped: "unhealthy", as docker's stopped monitor leaves it; the log stays.
    expect(await health(id)).toMatchObject({ Status: 'unhealthy', FailingStreak: 0 });
    expect((await health(id)).Log.at(-1).ExitCode).toBe(0);
    expect((await run(['ps', '-a', '--filter', `id=${id}`, '--format', '{{.Status}}'])).stdout).toMatch(/^Exited \(137\)/);

    expect((await run(['start', id])).exitCode).toBe(0);
    const again = await eventually(async () => expect(monitors(id)).toHaveLength(1)).then(() => monitors(id)[0]);
    expect(again).not.toBe(first);
    // A new run starts as starting again (docker's initHealthMonitor).
    await eventually(async () => expect(['starting', 'healthy']).toContain((await health(id)).Status));
    await eventually(async () => expect((await health(id))?.Status).toBe('healthy'));
    const pid = (await inspect(id)).State.Pid;
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
    expect(monitors(id, true)).toEqual([]);
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
  });

  it('a monitor whose supervisor is killed ends too (it never outlives it)', async () => {
    const id = await detached(['--health-cmd', 'true', ...fast, 'busybox', 'sleep', '300']);
    await eventually(() => expect(monitors(id)).toHaveLength(1));
    const shim = Number(fs.readFileSync(path.join(store.run, 'containers', id, 'shim.pid'), 'utf8'));
    process.kill(shim, 'SIGKILL');
    await eventually(() => expect(monitors(id, true)).toEqual([]));
    expect((await run(['rm', '-f', id])).exitCode).toBe(0);
  });

  it('--restart: each run of the container gets its own monitor, and none is left after the last', async () => {
    const id = await detached(['--restart', 'on-failure:1', '--health-cmd', 'true', ...fast, 'busybox', 'sh', '-c', 'sleep 2; exit 1']);
    await eventually(() => expect(monitors(id)).toHaveLength(1));
    const [first] = monitors(id);
    // The restart: a new monitor, never two at once.
    await eventually(async () => {
      expect((await inspect(id)).RestartCount).toBe(1);
      const now = monitors(id);
      expect(now).toHaveLength(1);
      expect(now[0]).not.toBe(first);
    }, 15_000);
    expect(fs.existsSync(`/proc/${first}`)).toBe(false);
    await eventually(async () => expect((await inspect(id)).State.Status).toBe('exited'), 15_000);
    await eventually(() => expect(monitors(id, true)).toEqual([]));
  });
});

describe('bad flags: one line, exit 125, nothing created', () => {
  it('a duration docker cannot parse, a negative one, bad retries, --no-healthcheck with a check', async () => {
    await suite.refused(['run', '-d', '--network', 'none', '--health-cmd', 'true', '--health-interval', '5x', 'busybox'], 'invalid argument "5x" for "--health-interval" flag');
    await suite.refused(['create', '--health-timeout', '-1s', 'busybox'], '--health-timeout cannot be negative');
    await suite.refused(['run', '-d', '--health-retries', 'many', 'busybox'], '--health-retries');
    await suite.refused(['run', '-d', '--no-healthcheck', '--health-cmd', 'true', 'busybox'], '--no-healthcheck conflicts with --health-* options');
  });
});
