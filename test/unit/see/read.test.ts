// read.ts inside a namespace (what a lab reads as its host): every command runs in that
// namespace - `ip -n`, `ss -N`, nsenter for iptables-save and the sysctls - and none reads
// the real host's state; with allRules every rule is kept, not only minid's.
import { afterEach, describe, expect, it } from 'vitest';
import { setRunner } from '../../../src/sys/exec.js';
import { realProbe, setHostProbe } from '../../../src/network/host.js';
import { readKernel } from '../../../src/see/read.js';

afterEach(() => {
  setRunner(null);
  setHostProbe(null);
});

describe('readKernel in a namespace', () => {
  it('reads the namespace as the host, and its other namespaces as views', async () => {
    const calls: string[][] = [];
    setHostProbe({ ...realProbe, netnsList: async () => ['minid-lab-x', 'minid-lab-x-red'], readSysctl: async () => { throw new Error('read the host'); } });
    setRunner(async (argv) => {
      calls.push(argv);
      const j = argv.join(' ');
      if (j.includes('addr show')) return { exitCode: 0, stdout: JSON.stringify([{ ifindex: 1, ifname: 'v-net-0', flags: ['UP'], operstate: 'UP', linkinfo: { info_kind: 'bridge' }, addr_info: [{ family: 'inet', local: '192.168.15.5', prefixlen: 24 }] }]), stderr: '' };
      if (j.includes('route show')) return { exitCode: 0, stdout: '[]', stderr: '' };
      if (argv.includes('iptables-save')) return { exitCode: 0, stdout: '*nat\n:POSTROUTING ACCEPT [0:0]\n[1:84] -A POSTROUTING -s 192.168.15.0/24 ! -o v-net-0 -j MASQUERADE\nCOMMIT\n', stderr: '' };
      if (argv[0] === 'nsenter' && argv.includes('sh')) return { exitCode: 0, stdout: '1\n-\n0\n1\n', stderr: '' };
      return { exitCode: 0, stdout: '', stderr: '' };
    });
    const rec = { store: 'lab', networks: [], networksUp: [], endpoints: [], containers: [] };
    const k = await readKernel(rec, { netns: 'minid-lab-x', views: ['minid-lab-x-red'], allRules: true, sysctls: ['net.ipv4.conf.v-net-0.route_localnet'] });
    for (const argv of calls) {
      const inNs = (argv[0] === 'ip' && argv[1] === '-n') || (argv[0] === 'ss' && argv[1] === '-N') || (argv[0] === 'nsenter' && argv[1].startsWith('--net=/run/netns/minid-lab-x'));
      expect(inNs, argv.join(' ')).toBe(true);
    }
    expect(calls.some((a) => a.join(' ') === 'nsenter --net=/run/netns/minid-lab-x iptables-save -c')).toBe(true);
    expect(k.iptables.rules.map((r) => r.args.join(' '))).toEqual(['-s 192.168.15.0/24 ! -o v-net-0 -j MASQUERADE']);
    expect(k.host.links[0].addresses).toEqual(['192.168.15.5/24']);
    expect(k.sysctls).toEqual({ 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.all.rp_filter': null, 'net.bridge.bridge-nf-call-iptables': '0', 'net.ipv4.conf.v-net-0.route_localnet': '1' });
    expect(Object.keys(k.netns)).toEqual(['minid-lab-x-red']);
  });
});
