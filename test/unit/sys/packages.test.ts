// A host program minid runs that is not installed: one line naming the Debian/Ubuntu package
// to install (src/sys/packages.ts), from the exec wrapper and through a network plan; exit 125.
import { afterEach, describe, expect, it } from 'vitest';
import { debianPackage, notInstalled } from '../../../src/sys/packages.js';
import { cannotStart, run, setRunner } from '../../../src/sys/exec.js';
import { applyPlan, cmd } from '../../../src/network/step.js';
import { MinidError } from '../../../src/errors.js';

const IP_LINE = '`ip` is not installed: install the Debian/Ubuntu package iproute2 (apt-get install iproute2)';

/** A host without `missing`: starting it fails as Node's spawn does (ENOENT); the rest succeed. */
function hostWithout(missing: string, calls: string[] = []): string[] {
  setRunner(async (argv) => {
    calls.push(argv.join(' '));
    if (argv[0] === missing) throw cannotStart(argv, Object.assign(new Error(`spawn ${argv[0]} ENOENT`), { code: 'ENOENT' }));
    return { exitCode: 0, stdout: '', stderr: '' };
  });
  return calls;
}
afterEach(() => setRunner(null));

describe('the Debian/Ubuntu package of a missing program', () => {
  it('is named for the programs minid runs, by name or by path', () => {
    expect(notInstalled('ip')).toBe(IP_LINE);
    expect(debianPackage('/usr/sbin/iptables-restore')).toBe('iptables');
    expect(debianPackage('nsenter')).toBe('util-linux');
    expect(debianPackage('dnsmasq')).toBe('dnsmasq-base');
    expect(debianPackage('constructor')).toBeUndefined(); // not an Object.prototype key
  });

  it('is not guessed for a program minid does not know', () =>
    expect(notInstalled('docker-credential-x')).toBe('`docker-credential-x` is not installed: install it (see README) and try again'));

  it('comes out of the exec wrapper as one line, exit 125, with the code kept', async () => {
    // A program that is really not on PATH (Node's spawn or minid-spawner: both say ENOENT).
    const e = await run(['minid-no-such-program']).catch((x) => x);
    expect(e).toBeInstanceOf(MinidError);
    expect(e.exitCode).toBe(125);
    expect(e.code).toBe('ENOENT');
    hostWithout('ip');
    await expect(run(['ip', 'link', 'show'])).rejects.toThrow(IP_LINE);
  });

  it('is all a network plan says when its program is missing, after undoing what it did', async () => {
    const calls = hostWithout('iptables'); // a lone command runs as itself
    const plan = [
      { name: 'create the network namespace', why: 'own stack', apply: [cmd('ip', 'netns', 'add', 'ns1')], undo: [cmd('ip', 'netns', 'del', 'ns1')] },
      { name: 'publish 8080', why: 'DNAT', apply: [cmd('iptables', '-t', 'nat', '-A', 'MINID-DNAT', '-j', 'ACCEPT')], undo: [cmd('iptables', '-t', 'nat', '-D', 'MINID-DNAT', '-j', 'ACCEPT')] },
    ];
    const e = await applyPlan(plan).catch((x) => x);
    expect(e).toBeInstanceOf(MinidError);
    expect(e.exitCode).toBe(125);
    expect(e.message).toBe('`iptables` is not installed: install the Debian/Ubuntu package iptables (apt-get install iptables)');
    expect(calls).toContain('ip netns del ns1'); // the namespace made before it was removed
  });
});
