// The user networks' DNS servers as steps (src/network/dns/steps.ts): the names file, a server's
// configuration, its start (undone by its recorded PID), reload, stop, and the network's folder
// removed, as --explain prints them: golden files a reviewer reads (update with `vitest -u`).
// Pure, but for the last test: a plan that fails after the server started undoes it, with a
// recording runner in place of dnsmasq (nothing started). What the servers do is checked in
// test/integration/network/dns.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyPlan, cmd, formatPlan, type Step } from '../../../src/network/step.js';
import { ownServerSteps, stopNetworkSteps, syncSteps, type ReaderView } from '../../../src/network/dns/steps.js';
import { containerSpec, readServer, spec as networkSpec, type ServerRecord } from '../../../src/network/dns/server.js';
import { MinidError } from '../../../src/errors.js';
import { Recorder, resetSeams, tempRoots } from './helpers.js';

const A = { containerId: 'aaaaaaaaaaaa1111', containerName: 'web', ip: '10.88.0.2', aliases: ['api'] };
const B = { containerId: 'bbbbbbbbbbbb2222', containerName: 'db', ip: '10.88.0.3' };
const server = (pid: number, address: string, port = 53): ServerRecord => ({ pid, startTime: '4242', address, port, forwarders: ['192.0.2.53'], started: '2026-12-06T08:00:00.000Z' });
const accept: Step = {
  name: 'accept DNS queries from network "front"',
  why: 'the server runs on the host',
  apply: [cmd('iptables', '-t', 'filter', '-A', 'MINID-INPUT', '-d', '10.88.0.1/32', '-i', 'br-front', '-p', 'udp', '-m', 'udp', '--dport', '53', '-j', 'ACCEPT')],
  undo: [],
  owner: 'network',
};

let saved: string | undefined;
beforeEach(() => {
  saved = process.env.MINID_RUN;
  process.env.MINID_RUN = '/run/minid'; // the golden files' paths (nothing is written there)
});
afterEach(() => {
  if (saved === undefined) delete process.env.MINID_RUN;
  else process.env.MINID_RUN = saved;
});

const front = () => networkSpec('front', 'network', '10.88.0.1', 53, ['192.0.2.53'], 'br-front');
const own = () => containerSpec({ networks: ['front', 'back'], id12: 'aaaaaaaaaaaa', netns: '/run/netns/minid-aaaaaaaaaaaa', address: '127.0.0.11', forwarders: ['10.88.0.1#53'] });

describe('network DNS steps (golden)', () => {
  it("a network's first container: its names, the server's configuration, the server, the host's rule; each with the chapter, a why and a check", async () => {
    const readers: ReaderView[] = [{ network: 'front', instance: 'network', rec: null, running: false, start: { spec: front(), why: 'the first container', again: false } }];
    const steps = syncSteps('front', [A], readers, [accept]);
    expect(steps.map((s) => s.name)).toEqual([
      'write the names of network "front"',
      'write the configuration of the DNS server of network "front"',
      'start the DNS server of network "front"',
      'accept DNS queries from network "front"',
    ]);
    for (const s of steps.slice(0, 3)) expect(s.act, s.name).toBeDefined();
    // The start's undo: stop it by its PID, known once it runs (its act sets `kill PID`).
    expect(steps[2].act?.undo).toBeDefined();
    expect(steps[2].undo).toEqual([]);
    const text = formatPlan(steps, 'names on network "front"');
    expect(text.match(/^# {3}course: Networking › (DNS in Linux|CoreDNS - Installation)/gm)).toHaveLength(steps.length);
    expect(text.match(/^# {3}check: \S/gm)).toHaveLength(steps.length);
    expect(text).toContain("#   check: ss -lunp 'src 10.88.0.1 and sport = :53'\ndnsmasq --conf-file=/run/minid/dns/front/network.conf\n");
    expect(text).toContain("mkdir -p -m 700 /run/minid/dns/front\ncat > /run/minid/dns/front/records <<'EOF'\n");
    await expect(text).toMatchFileSnapshot('__golden__/dns-first.sh');
  });

  it('a change of containers: names rewritten, running servers reloaded, a dead one started again (nothing to undo), one not to start left alone', async () => {
    const dead = { ...server(102, '127.0.0.11'), spec: own() };
    const readers: ReaderView[] = [
      { network: 'front', instance: 'network', rec: server(101, '10.88.0.1'), running: true },
      { network: 'front', instance: 'c-aaaaaaaaaaaa', rec: dead, running: false, start: { spec: own(), why: 'it is not running any more', again: true } },
      { network: 'front', instance: 'c-cccccccccccc', rec: server(103, '127.0.0.11'), running: false },
    ];
    const steps = syncSteps('front', [A, B], readers);
    expect(steps.map((s) => s.name)).toEqual([
      'write the names of network "front"',
      'reload the DNS server of network "front"',
      'write the configuration of the DNS server of container aaaaaaaaaaaa',
      'start the DNS server of container aaaaaaaaaaaa again',
    ]);
    expect(steps[3].act?.undo).toBeUndefined();
    const text = formatPlan(steps, 'names on network "front"');
    expect(text).toContain("#   check: grep 'read .*records' /run/minid/dns/front/network.log | tail -n 1\nkill -HUP 101\n");
    expect(text).toContain("#   check: nsenter --net=/run/netns/minid-aaaaaaaaaaaa ss -lunp 'src 127.0.0.11 and sport = :53'\nnsenter --net=/run/netns/minid-aaaaaaaaaaaa dnsmasq --conf-file=/run/minid/dns/front/c-aaaaaaaaaaaa.conf\n");
    await expect(text).toMatchFileSnapshot('__golden__/dns-sync.sh');
  });

  it("a container's own server (run --dns, several networks): its configuration, then it, undone by its PID", () => {
    const steps = ownServerSteps(own(), '--dns 192.0.2.9');
    expect(steps.map((s) => s.name)).toEqual(['write the configuration of the DNS server of container aaaaaaaaaaaa', 'start the DNS server of container aaaaaaaaaaaa']);
    expect(steps[1].act?.undo).toBeDefined();
    expect(steps.every((s) => s.owner === 'container')).toBe(true);
  });

  it('network rm: each running server stopped by its recorded PID, then the folder', async () => {
    const steps = stopNetworkSteps('front', [
      { instance: 'network', rec: server(101, '10.88.0.1') },
      { instance: 'c-aaaaaaaaaaaa', rec: server(102, '127.0.0.11') },
    ]);
    const text = formatPlan(steps, 'the DNS servers of network "front"');
    expect(text).toContain('#   check: ps -o pid,comm -p 101 || echo stopped\nkill 101\n');
    expect(text).toContain('#   check: ls /run/minid/dns/front 2>/dev/null || echo removed\nrm -rf /run/minid/dns/front\n');
    await expect(text).toMatchFileSnapshot('__golden__/dns-stop.sh');
  });
});

describe('network DNS steps, applied (a recording runner for dnsmasq and iptables)', () => {
  afterEach(resetSeams);

  it('a plan that fails after the server started undoes it: its record goes, the error names the failing step', async () => {
    const roots = tempRoots();
    try {
      const rec = new Recorder().install();
      // "dnsmasq" writes its pid file (a PID that is no dnsmasq: the undo finds nothing to signal).
      rec.responders.push((argv) => {
        if (argv[0] !== 'dnsmasq') return undefined;
        fs.writeFileSync(path.join(roots.run, 'dns', 'front', 'network.pid'), `${process.pid}\n`);
        return {};
      });
      rec.failWhen((argv) => argv[0] === 'iptables' || argv[0] === 'iptables-restore', { stderr: 'iptables: Permission denied' });
      const readers: ReaderView[] = [{ network: 'front', instance: 'network', rec: null, running: false, start: { spec: front(), why: 'the first container', again: false } }];
      const lines: string[] = [];
      const err = await applyPlan(syncSteps('front', [A], readers, [accept]), { explain: (l) => lines.push(l), what: 'DNS setup' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MinidError);
      expect((err as MinidError).message).toMatch(/^DNS setup failed at step 4\/4 "accept DNS queries from network "front"".*undid the steps already applied/);
      expect(rec.calls.map((c) => c.argv[0])).toEqual(['dnsmasq', 'iptables']); // the files were written by minid itself
      expect(fs.readFileSync(path.join(roots.run, 'dns', 'front', 'records'), 'utf8')).toContain('10.88.0.2\tweb web.front aaaaaaaaaaaa');
      expect(readServer('front', 'network')).toBeNull(); // the undo stopped it: its record is gone
      expect(lines).toContain(`kill ${process.pid}`); // the rollback prints the PID it stops
    } finally {
      roots.cleanup();
    }
  });
});
