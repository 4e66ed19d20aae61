// The plan executor: batching, explain output, rollback, dry-run, skip, tolerant teardown.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyPlan, formatPlan, formatStep, cmd, type Step } from '../../../src/network/step.js';
import { MinidError } from '../../../src/errors.js';
import { setRunner } from '../../../src/sys/exec.js';
import { FakeProbe, Recorder, resetSeams, wireSysctl } from './helpers.js';

const steps = (): Step[] => [
  { name: 'create the network namespace', why: 'own stack', apply: [cmd('ip', 'netns', 'add', 'ns1')], undo: [cmd('ip', 'netns', 'del', 'ns1')] },
  { name: 'create the veth pair', why: 'a cable', apply: [cmd('ip', 'link', 'add', 'mva', 'type', 'veth', 'peer', 'name', 'mca')], undo: [cmd('ip', 'link', 'del', 'mva')] },
  { name: 'move one end', why: 'into ns1', apply: [cmd('ip', 'link', 'set', 'mca', 'netns', 'ns1')], undo: [] },
  { name: 'address', why: 'inside', apply: [cmd('ip', '-n', 'ns1', 'addr', 'add', '10.0.0.2/24', 'dev', 'mca'), cmd('ip', '-n', 'ns1', 'link', 'set', 'mca', 'up')], undo: [] },
  {
    name: 'forwarding',
    why: 'route',
    apply: [cmd('sysctl', '-w', 'net.ipv4.ip_forward=1')],
    undo: [],
    owner: 'host',
    check: [{ sysctl: 'net.ipv4.ip_forward', value: '1' }],
  },
  {
    name: 'publish 8080',
    why: 'DNAT',
    apply: [
      cmd('iptables', '-t', 'nat', '-A', 'MINID-DNAT', '-p', 'tcp', '--dport', '8080', '-j', 'DNAT', '--to-destination', '10.0.0.2:80'),
      cmd('iptables', '-t', 'filter', '-A', 'MINID-FORWARD', '-d', '10.0.0.2/32', '-j', 'ACCEPT'),
    ],
    undo: [
      cmd('iptables', '-t', 'nat', '-D', 'MINID-DNAT', '-p', 'tcp', '--dport', '8080', '-j', 'DNAT', '--to-destination', '10.0.0.2:80'),
      cmd('iptables', '-t', 'filter', '-D', 'MINID-FORWARD', '-d', '10.0.0.2/32', '-j', 'ACCEPT'),
    ],
  },
];

let rec: Recorder;
let probe: FakeProbe;
beforeEach(() => {
  rec = new Recorder().install();
  probe = new FakeProbe().install();
  wireSysctl(rec, probe);
});
afterEach(resetSeams);

describe('applyPlan', () => {
  it('runs consecutive commands of one kind as one process, in order', async () => {
    const r = await applyPlan(steps());
    expect(r.commands).toBe(8);
    expect(r.execs).toBe(4);
    expect(rec.calls.map((c) => c.argv.join(' '))).toEqual(['ip -batch -', 'ip -n ns1 -batch -', 'sysctl -w net.ipv4.ip_forward=1', 'iptables-restore --noflush']);
    expect(rec.calls[0].input).toBe('netns add ns1\nlink add mva type veth peer name mca\nlink set mca netns ns1\n');
    expect(rec.calls[1].input).toBe('addr add 10.0.0.2/24 dev mca\nlink set mca up\n');
    expect(rec.calls[3].input).toBe(
      '*nat\n-A MINID-DNAT -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80\nCOMMIT\n*filter\n-A MINID-FORWARD -d 10.0.0.2/32 -j ACCEPT\nCOMMIT\n',
    );
    expect(r.applied.map((s) => s.name)).toEqual(steps().map((s) => s.name));
  });

  it('runs a lone command as itself, not as a batch', async () => {
    await applyPlan([steps()[0]]);
    expect(rec.calls).toEqual([{ argv: ['ip', 'netns', 'add', 'ns1'], input: undefined }]);
  });

  it('--explain prints numbered steps as pasteable commands while doing them', async () => {
    const lines: string[] = [];
    await applyPlan(steps(), { explain: (l) => lines.push(l), title: 'attach test' });
    expect(lines[0]).toBe('# attach test');
    expect(lines[1]).toBe('# [1/6] create the network namespace: own stack');
    // Then the narration: where it is in the course, and a command to check it yourself.
    expect(lines[2]).toMatch(/^# {3}course: Networking › Container Networking Interface \(CNI\), step 1 "Create network namespace"/);
    expect(lines[3]).toBe('#   check: ip netns list | grep ns1');
    expect(lines[4]).toBe('ip netns add ns1');
    expect(lines).toContain('# [2/6] create the veth pair: a cable');
    expect(lines).toContain('iptables -t nat -A MINID-DNAT -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80');
    expect(lines[lines.length - 1]).toMatch(/^# done: 6 of 6 steps, 8 commands in 4 processes, \d+ ms$/);
  });

  it('prints step lines before the batch that runs them', async () => {
    const events: string[] = [];
    rec.responders.unshift((argv) => {
      events.push(`run ${argv[0]}`);
      return undefined;
    });
    await applyPlan(steps(), { explain: (l) => events.push(l.startsWith('#') ? l.slice(0, 8) : 'cmd') });
    const firstRun = events.indexOf('run ip');
    expect(events.slice(0, firstRun)).toContain('# [3/6] ');
    expect(events.indexOf('# [4/6] ')).toBeGreaterThan(firstRun);
  });

  it('dry-run prints the plan and runs nothing', async () => {
    const lines: string[] = [];
    const r = await applyPlan(steps(), { dryRun: true, explain: (l) => lines.push(l), title: 'x' });
    expect(rec.calls).toEqual([]);
    expect(r.applied).toEqual([]);
    expect(lines.join('\n') + '\n').toBe('# x (dry run: nothing is changed)\n' + formatPlan(steps()));
  });

  it('skips steps that are already done and prints them commented out', async () => {
    const s = steps();
    s[4].skip = 'net.ipv4.ip_forward is already 1';
    const lines: string[] = [];
    const r = await applyPlan(s, { explain: (l) => lines.push(l) });
    expect(rec.calls.some((c) => c.argv[0] === 'sysctl')).toBe(false);
    expect(r.applied.map((x) => x.name)).not.toContain('forwarding');
    expect(lines).toContain('#   (skipped: net.ipv4.ip_forward is already 1)');
    expect(lines).toContain('#   sysctl -w net.ipv4.ip_forward=1');
  });

  it('on failure undoes the applied steps in reverse and names the failing step', async () => {
    rec.failWhen((a) => a.join(' ') === 'ip -n ns1 -batch -', { stderr: 'Error: ipv4: Address already assigned.\nCommand failed -:1\n' });
    const err = await applyPlan(steps()).catch((e) => e);
    expect(err).toBeInstanceOf(MinidError);
    expect(err.message).toBe(
      'network setup failed at step 4/6 "address": ip -n ns1 addr add 10.0.0.2/24 dev mca: Error: ipv4: Address already assigned.; undid the steps already applied',
    );
    // The rollback: the undo commands of steps 2 and 1, reversed, tolerant of failures.
    const after = rec.calls.slice(2);
    expect(after).toEqual([{ argv: ['ip', '-force', '-batch', '-'], input: 'link del mva\nnetns del ns1\n' }]);
  });

  it('maps an ip -batch failure line to its step', async () => {
    rec.failWhen((a) => a.join(' ') === 'ip -batch -', { stderr: 'RTNETLINK answers: File exists\nCommand failed -:2\n' });
    const err = await applyPlan(steps()).catch((e) => e);
    expect(err.message).toMatch(/^network setup failed at step 2\/6 "create the veth pair": ip link add mva type veth peer name mca: RTNETLINK answers: File exists/);
    // Step 2 may be half done: its undo runs too (tolerant), then step 1's.
    expect(rec.calls[1]).toEqual({ argv: ['ip', '-force', '-batch', '-'], input: 'link del mva\nnetns del ns1\n' });
  });

  it('maps an iptables-restore failure line to its step', async () => {
    rec.failWhen((a) => a[0] === 'iptables-restore', { exitCode: 2, stderr: 'iptables-restore: line 5 failed: No chain/target/match by that name.\n' });
    const err = await applyPlan(steps()).catch((e) => e);
    expect(err.message).toMatch(/^network setup failed at step 6\/6 "publish 8080": iptables -t filter -A MINID-FORWARD -d 10.0.0.2\/32 -j ACCEPT: iptables-restore: line 5 failed/);
  });

  it('checks sysctls after setting them', async () => {
    rec.responders.unshift((argv) => (argv[0] === 'sysctl' ? { exitCode: 0 } : undefined)); // the "kernel" ignores it
    const err = await applyPlan(steps()).catch((e) => e);
    expect(err.message).toMatch(/step 5\/6 "forwarding": net.ipv4.ip_forward is 0 after setting it to 1/);
  });

  it('tolerant mode runs everything and collects failures; a failed restore falls back to one command at a time', async () => {
    rec.failWhen((a) => a[0] === 'iptables-restore', { stderr: 'iptables-restore: line 2 failed\n' });
    rec.failWhen((a) => a[0] === 'iptables' && a.includes('nat'), { stderr: 'iptables: Bad rule (does a matching rule exist in that chain?).\n' });
    const undo = steps()
      .reverse()
      .filter((s) => s.undo.length)
      .map((s) => ({ name: `undo ${s.name}`, why: 't', apply: s.undo, undo: [] }));
    const r = await applyPlan(undo, { tolerant: true });
    expect(r.errors).toEqual([
      'iptables -t nat -D MINID-DNAT -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80: iptables: Bad rule (does a matching rule exist in that chain?).',
    ]);
    expect(rec.calls.map((c) => c.argv[0] + (c.argv[1] === '-force' ? ' -force' : ''))).toEqual(['iptables-restore', 'iptables', 'iptables', 'ip -force']);
  });

  describe('concurrent: the iptables batches in a lane of their own', () => {
    // A runner whose commands take a while, so that overlap is visible: each call records
    // when it started and ended (in call order).
    const slow = () => {
      const log: string[] = [];
      rec.responders.unshift(() => undefined);
      const inner = rec;
      setRunner(async (argv, opts) => {
        log.push(`start ${argv[0]}`);
        inner.calls.push({ argv, input: opts.input });
        await new Promise((r) => setTimeout(r, 20));
        log.push(`end ${argv[0]}`);
        const bad = inner.responders.map((f) => f(argv, opts)).find(Boolean);
        return { exitCode: 0, stdout: '', stderr: '', ...bad };
      });
      return log;
    };
    const noSysctl = (): Step[] => steps().filter((s) => s.name !== 'forwarding');

    it('runs the rules while the links are made, in 3 processes, and reports every step', async () => {
      const log = slow();
      const r = await applyPlan(noSysctl(), { concurrent: true });
      expect(log.slice(0, 2)).toEqual(['start ip', 'start iptables-restore']); // both running at once
      expect(r.execs).toBe(3);
      expect(r.applied.map((s) => s.name)).toEqual(noSysctl().map((s) => s.name));
      // within the ip lane, the plan's order: the namespace before the commands run inside it
      expect(rec.calls.filter((c) => c.argv[0] === 'ip').map((c) => c.argv.join(' '))).toEqual(['ip -batch -', 'ip -n ns1 -batch -']);
    });

    it('a failure in one lane rolls back what the other lane did', async () => {
      slow();
      rec.failWhen((a) => a[0] === 'iptables-restore' && !a.includes('-force'), { exitCode: 2, stderr: 'iptables-restore: line 2 failed: No chain/target/match by that name.\n' });
      const err = await applyPlan(noSysctl(), { concurrent: true }).catch((e) => e);
      expect(err.message).toMatch(/^network setup failed at step 5\/5 "publish 8080": .*; undid the steps already applied$/);
      const undo = rec.calls.slice(3).map((c) => `${c.argv.join(' ')}\n${c.input ?? ''}`);
      expect(undo.join('')).toContain('link del mva\nnetns del ns1\n'); // the ip lane's namespace and veth
    });

    it('one lane, top to bottom, when explaining', async () => {
      const log = slow();
      const lines: string[] = [];
      await applyPlan(noSysctl(), { concurrent: true, explain: (l) => lines.push(l) });
      expect(log).toEqual(['start ip', 'end ip', 'start ip', 'end ip', 'start iptables-restore', 'end iptables-restore']);
    });
  });

  it('formatStep shows a here-document for commands with stdin', () => {
    const s: Step = { name: 'n', why: 'w', apply: [{ argv: ['tee', '/x'], input: 'a\n' }], undo: [] };
    expect(formatStep(s, 1, 1)).toEqual(['# [1/1] n: w', "tee /x <<'EOF'\na\nEOF"]);
  });
});

describe('steps minid carries out itself (Step.act)', () => {
  it('runs the act instead of the commands, prints the commands as typed (`cat > FILE`), and a failure undoes the acts already done', async () => {
    const done: string[] = [];
    const own = (name: string, fail = false): Step => ({
      name,
      why: 'in-process',
      apply: [{ argv: ['cat'], input: `${name}\n`, to: `/tmp/${name}` }],
      undo: [cmd('rm', `/tmp/${name}`)],
      act: {
        apply: async () => {
          if (fail) throw new MinidError(`${name} went wrong`);
          done.push(name);
        },
        undo: async () => void done.push(`undo ${name}`),
      },
    });
    const lines: string[] = [];
    const err = await applyPlan([steps()[0], own('a'), own('b', true)], { explain: (l) => lines.push(l), what: 'test' }).catch((e: unknown) => e as MinidError);
    expect(err).toBeInstanceOf(MinidError);
    expect((err as MinidError).message).toBe('test failed at step 3/3 "b": cat: b went wrong; undid the steps already applied');
    // b's own undo runs too (it may have done half): each act undoes only what it finds.
    expect(done).toEqual(['a', 'undo b', 'undo a']);
    // The ip command ran (and its undo); the acts' commands never did.
    expect(rec.calls.map((c) => c.argv.join(' '))).toEqual(['ip netns add ns1', 'ip netns del ns1']);
    expect(lines).toContain("cat > /tmp/a <<'EOF'\na\nEOF");
  });

  it('a command whose output goes to a file (`> FILE`), run as a plain step, writes its output there', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-step-'));
    try {
      rec.responders.push((argv) => (argv[0] === 'cat' ? { stdout: 'hello\n' } : undefined));
      const f = path.join(dir, 'out');
      await applyPlan([{ name: 'write', why: 'a file', apply: [{ argv: ['cat'], input: 'hello\n', to: f }], undo: [] }]);
      expect(fs.readFileSync(f, 'utf8')).toBe('hello\n');
      expect(formatStep({ name: 'write', why: 'a file', apply: [{ argv: ['cat'], to: f }], undo: [] }, 1, 1).at(-1)).toBe(`cat > ${f}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tolerant: a failing act is one ignored error, the plan goes on', async () => {
    const bad: Step = { name: 'x', why: 'y', apply: [cmd('kill', '42')], undo: [], act: { apply: async () => Promise.reject(new Error('no such process')) } };
    const r = await applyPlan([bad, steps()[0]], { tolerant: true });
    expect(r.errors).toEqual(['kill 42: no such process']);
    expect(rec.calls.map((c) => c.argv.join(' '))).toEqual(['ip netns add ns1']);
  });
});
