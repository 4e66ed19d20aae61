// The services follow a node's containers (src/cluster/follow.ts): the supervisor's `svcsync`
// (src/runtime/launch.ts), where it is called in shim.sh, and how it behaves when run by sh:
// detached, nothing without services, one line in the log on failure.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { supervisorSync, type SupervisorSync } from '../../../src/cluster/follow.js';
import { serviceSyncFunction, shimScript } from '../../../src/runtime/launch.js';
import { listServices } from '../../../src/cluster/services.js';

const c = { id: 'ab'.repeat(32), name: 'web1' };
const nodeEnv = { MINID_CLUSTER_ROOT: '/lib/m', MINID_CLUSTER_RUN: '/run/m', MINID_NODE: 'node1', MINID_ROOT: '/lib/m/cluster/nodes/node1' };

describe("a node's supervisor re-syncs the services", () => {
  it('only in a node store, with the host store as the sync\'s own', () => {
    expect(supervisorSync(c, {})).toBeUndefined();
    expect(supervisorSync(c, { MINID_ROOT: '/lib/m' })).toBeUndefined();
    const s = supervisorSync(c, nodeEnv)!;
    expect(s.record).toBe('/lib/m/cluster/services.json');
    expect(s.log).toBe('/lib/m/cluster/services.log');
    expect(s.who).toBe('node1: container web1 (abababababab)');
    expect(s.argv.slice(-5)).toEqual(['MINID_ROOT=/lib/m', 'MINID_RUN=/run/m', expect.stringMatching(/\/bin\/minid$/), 'service', 'sync']);
    for (const v of ['MINID_NODE', 'MINID_NODE_NETNS', 'MINID_SYSFS', 'MINID_BRIDGE_NAME', 'MINID_BRIDGE_SUBNET']) expect(s.argv.join(' ')).toContain(`-u ${v} `);
  });

  it('calls it once ps would say something else: restarting, running again, exited', () => {
    const base = { id: c.id, name: c.name, runDir: '/run/x', exitFile: '/lib/x/exit.json', launch: ['unshare'], init: ['minid-init', '--', 'cmd'], events: { file: '/lib/events', image: 'busybox' } };
    const serviceSync = supervisorSync(c, nodeEnv)!;
    expect(shimScript(base)).not.toContain('svcsync');
    const plain = shimScript({ ...base, serviceSync }).split('\n');
    const exit = plain.findIndex((l) => l.includes('/lib/x/exit.json'));
    expect(plain[exit + 1]).toBe('svcsync exited');
    const looping = shimScript({ ...base, serviceSync, restart: { Name: 'on-failure', MaximumRetryCount: 0 }, initAgain: ['minid-init', '--', 'cmd'], stoppedFile: '/lib/x/stopped' }).split('\n');
    const wait = looping.findIndex((l) => /^ {2}echo \$code > '\/run\/x\/restart-wait\.new'/.test(l));
    expect(looping[wait + 1]).toBe("  svcsync 'exited, restarting'");
    expect(looping).toContain(`  [ $cmd = again ] && { ev start ""; svcsync restarted; }`);
    expect(looping[looping.findIndex((l) => l.includes('/lib/x/exit.json')) + 1]).toBe('svcsync exited');
    for (const script of [plain, looping]) expect(execFileSync('sh', ['-n', '-c', script.join('\n')]).toString()).toBe('');
  });

  describe('run by sh', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-follow-unit-'));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const record = path.join(dir, 'services.json');
    const log = path.join(dir, 'services.log');
    const ran = path.join(dir, 'ran');
    // A stand-in for `minid service sync`: takes its time, says so, fails with two lines.
    const fake: SupervisorSync = { record, log, who: 'node1: container web1 (abababababab)', argv: ['sh', '-c', `sleep 0.3; echo yes > ${ran}; echo partial; echo first >&2; echo 'minid: node2 is gone' >&2; exit 1`] };
    const call = () => execFileSync('sh', ['-c', `${serviceSyncFunction(fake)}\nsvcsync 'exited'\necho returned`], { encoding: 'utf8' });
    const until = async (f: string) => {
      for (let i = 0; i < 100 && !fs.existsSync(f); i++) await new Promise((r) => setTimeout(r, 50));
    };

    it('does nothing when the cluster has no services', async () => {
      expect(call()).toBe('returned\n');
      await new Promise((r) => setTimeout(r, 500));
      expect(fs.existsSync(ran)).toBe(false);
      expect(fs.existsSync(log)).toBe(false);
    });

    it('returns at once (in the background, its stdout not held), and logs a failure as one line', async () => {
      fs.writeFileSync(record, '{}');
      const t0 = Date.now();
      expect(call()).toBe('returned\n'); // execFileSync waits for its stdout's end: the sync holds none
      expect(Date.now() - t0).toBeLessThan(300);
      await until(log);
      await new Promise((r) => setTimeout(r, 100));
      expect(fs.existsSync(ran)).toBe(true);
      const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ node1: container web1 \(abababababab\) exited: `minid service sync` failed: minid: node2 is gone$/);
    });
  });

  it('`service ls` tells of the last failed sync until a sync goes through', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-follow-ls-'));
    const saved = { root: process.env.MINID_ROOT, run: process.env.MINID_RUN };
    try {
      process.env.MINID_ROOT = path.join(dir, 'lib');
      process.env.MINID_RUN = path.join(dir, 'run');
      fs.mkdirSync(path.join(dir, 'lib', 'cluster'), { recursive: true });
      fs.mkdirSync(path.join(dir, 'run', 'cluster'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'lib', 'cluster', 'state.json'), JSON.stringify({ status: 'up', nodes: [] }));
      fs.writeFileSync(path.join(dir, 'lib', 'cluster', 'services.json'), JSON.stringify({ serviceCidr: '10.96.0.0/16', services: [] }));
      expect((await listServices()).syncFailure).toBeUndefined();
      const log = path.join(dir, 'lib', 'cluster', 'services.log');
      fs.writeFileSync(log, 'T1 node1: container a (1) exited: `minid service sync` failed: one\nT2 node2: container b (2) restarted: `minid service sync` failed: two\n');
      expect((await listServices()).syncFailure).toEqual({ line: 'T2 node2: container b (2) restarted: `minid service sync` failed: two', log });
      // A sync went through since (its marker is newer): history.
      const synced = path.join(dir, 'run', 'cluster', 'services.synced');
      fs.writeFileSync(synced, '');
      fs.utimesSync(log, new Date(Date.now() - 5000), new Date(Date.now() - 5000));
      expect((await listServices()).syncFailure).toBeUndefined();
    } finally {
      for (const [k, v] of [['MINID_ROOT', saved.root], ['MINID_RUN', saved.run]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
