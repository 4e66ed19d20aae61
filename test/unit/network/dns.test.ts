// Names on user networks, the pure part (src/network/dns/records.ts): which names a container
// answers to, refused collisions, the records file, the server's configuration, the forwarders
// and the rules that make 127.0.0.11 work.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  collision, hasDns, hostForwarders, isDnsName, ownNames, renderRecords, renderServerConf, resolverRules, validateAlias,
} from '../../../src/network/dns/records.js';
import { Collector, formatQuery, parseLine } from '../../../src/network/dns/log.js';
import { renderResolvConf } from '../../../src/network/files.js';
import { inspectDns } from '../../../src/network/dns/index.js';
import { containerSpec, spec as networkSpec } from '../../../src/network/dns/server.js';
import { writeEndpoint, type Endpoint } from '../../../src/network/endpoints.js';
import type { NetworkRecord } from '../../../src/network/types.js';
import { ID1, ID2, ID3, tempRoots } from './helpers.js';

const A = { containerId: 'aaaaaaaaaaaa1111', containerName: 'web', ip: '10.1.0.2', aliases: ['api', 'shared'] };
const B = { containerId: 'bbbbbbbbbbbb2222', containerName: 'db', ip: '10.1.0.3', aliases: ['shared'] };

describe('dns records', () => {
  it('a container answers to its name, NAME.NETWORK and its short id', () => {
    expect(ownNames(A, 'net1')).toEqual(['web', 'web.net1', 'aaaaaaaaaaaa']);
    expect(ownNames({ containerId: 'c'.repeat(64), containerName: 'brave_bridge_7' }, 'n')).toEqual(['brave_bridge_7', 'brave_bridge_7.n', 'cccccccccccc']);
  });

  it('aliases must be DNS names', () => {
    for (const ok of ['web', 'a-b', 'a_b', 'x.y.z', 'a'.repeat(63)]) expect(isDnsName(ok)).toBe(true);
    for (const bad of ['', '-a', 'a-', 'a..b', 'a b', 'a'.repeat(64), 'a\nb', 'é']) expect(() => validateAlias(bad)).toThrow(/not a DNS name/);
  });

  it('refuses a name or alias that is another container\'s own name; shared aliases are fine', () => {
    expect(collision({ ...B, containerName: 'db2' }, [A], 'net1')).toBeNull();
    expect(collision({ ...B, containerName: 'WEB' }, [A], 'net1')).toMatch(/the name web is already answered by container web/);
    expect(collision({ ...B, aliases: ['web'] }, [A], 'net1')).toMatch(/the alias web is the name of container web/);
    expect(collision({ ...B, containerName: 'api' }, [A], 'net1')).toMatch(/the name api is an alias of container web/);
    expect(collision({ ...B, aliases: ['aaaaaaaaaaaa'] }, [A], 'net1')).toMatch(/is the name of container web/);
    expect(collision(A, [A], 'net1')).toBeNull();
  });

  it('the records file: own names first (they answer PTR), aliases on lines of their own', () => {
    expect(renderRecords('net1', [B, A])).toBe(
      '# minid: the names of network "net1" (rewritten by minid on every change; dnsmasq rereads it on SIGHUP)\n' +
        '10.1.0.2\tweb web.net1 aaaaaaaaaaaa\n' +
        '10.1.0.3\tdb db.net1 bbbbbbbbbbbb\n' +
        '10.1.0.2\tapi shared\n' +
        '10.1.0.3\tshared\n',
    );
  });

  it('the server listens on the gateway, answers the network\'s names, forwards the rest', () => {
    const conf = renderServerConf({
      network: 'net1', instance: 'network', address: '10.1.0.1', port: 53, bridge: 'mbr-net1', forwarders: ['192.0.2.53'],
      records: [{ network: 'net1', file: '/run/minid/dns/net1/records' }], pidFile: '/run/minid/dns/net1/network.pid', logFile: '/run/minid/dns/net1/network.log',
    });
    const lines = conf.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual([
      'interface=mbr-net1', 'except-interface=lo', 'bind-dynamic', 'port=53', 'no-hosts', 'addn-hosts=/run/minid/dns/net1/records', 'local=/net1/',
      'domain-needed', 'bogus-priv', 'no-resolv', 'no-poll', 'server=192.0.2.53', 'log-queries=extra', 'user=root',
      'pid-file=/run/minid/dns/net1/network.pid', 'log-facility=/run/minid/dns/net1/network.log',
    ]);
  });

  it('a container on two networks: its own server in its namespace at 127.0.0.11, both networks\' names', () => {
    const conf = renderServerConf({
      network: 'net1', instance: 'c-aaaaaaaaaaaa', address: '127.0.0.11', port: 53, netns: '/run/netns/minid-aaaaaaaaaaaa',
      forwarders: ['10.1.0.1#53'], records: [{ network: 'net1', file: '/r/net1/records' }, { network: 'net2', file: '/r/net2/records' }],
      pidFile: '/r/net1/c.pid', logFile: '/r/net1/c.log',
    });
    const lines = conf.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual([
      'listen-address=127.0.0.11', 'bind-interfaces', 'port=53', 'no-hosts', 'addn-hosts=/r/net1/records', 'addn-hosts=/r/net2/records',
      'local=/net1/', 'local=/net2/', 'domain-needed', 'bogus-priv', 'no-resolv', 'no-poll', 'server=10.1.0.1#53', 'log-queries=extra', 'user=root',
      'pid-file=/r/net1/c.pid', 'log-facility=/r/net1/c.log',
    ]);
    expect(conf).toContain('networks "net1", "net2"');
  });

  it('forwarders are the host\'s nameservers, in order, once each', () => {
    expect(hostForwarders('# x\nnameserver 192.0.2.1\nsearch a.example\nnameserver 192.0.2.2 # c\nnameserver 192.0.2.1\n')).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(hostForwarders('')).toEqual([]);
  });

  it('127.0.0.11:53 is DNAT\'d to the server, its loopback source SNAT\'d to the container', () => {
    expect(resolverRules('10.1.0.2', { address: '10.1.0.1', port: 53 })).toBe(
      '*nat\n' +
        '-A OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.1.0.1:53\n' +
        '-A OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 10.1.0.1:53\n' +
        '-A POSTROUTING -s 127.0.0.0/8 -d 10.1.0.1/32 -p udp -m udp --dport 53 -j SNAT --to-source 10.1.0.2\n' +
        '-A POSTROUTING -s 127.0.0.0/8 -d 10.1.0.1/32 -p tcp -m tcp --dport 53 -j SNAT --to-source 10.1.0.2\n' +
        'COMMIT\n',
    );
  });

  it('resolv.conf names only 127.0.0.11, keeps the host\'s search list, adds ndots:0 as docker', () => {
    const text = renderResolvConf('nameserver 192.0.2.1\nsearch corp.example\noptions edns0\n', { resolver: { address: '127.0.0.11', note: 'the note' } });
    expect(text).toBe('# Generated by minid from the host\'s /etc/resolv.conf: the note\nnameserver 127.0.0.11\nsearch corp.example\noptions edns0 ndots:0\n');
    expect(renderResolvConf('options ndots:2\n', { resolver: { address: '127.0.0.11', note: 'n' } })).toContain('options ndots:2\n');
  });

  it('--cni: the result\'s dns section is the resolv.conf (domain first in the search list); --dns-* still win', () => {
    const cniDns = { nameservers: ['10.88.0.1'], domain: 'dns.minid', search: ['corp.example', 'dns.minid'], options: ['ndots:1'] };
    expect(renderResolvConf('nameserver 192.0.2.1\nsearch host.example\n', { cniDns }).split('\n').slice(1)).toEqual([
      'nameserver 10.88.0.1', 'search dns.minid corp.example', 'options ndots:1', '',
    ]);
    const mine = renderResolvConf('nameserver 192.0.2.1\n', { cniDns, dns: ['192.0.2.9'], dnsSearch: ['.'], dnsOptions: ['edns0'] });
    expect(mine.split('\n').slice(1)).toEqual(['nameserver 192.0.2.9', 'options edns0', '']);
    expect(renderResolvConf('nameserver 192.0.2.1\n', { cniDns: {} })).toContain('nameserver 192.0.2.1');
  });

  it('the default bridge network has no names', () => {
    const saved = process.env.MINID_DNS;
    delete process.env.MINID_DNS;
    try {
      expect(hasDns({ builtin: true })).toBe(false);
      expect(hasDns({})).toBe(true);
    } finally {
      if (saved !== undefined) process.env.MINID_DNS = saved;
    }
  });
});

describe('dns log: dnsmasq\'s query log, readable', () => {
  const lines = [
    'Dec  6 03:33:26 dnsmasq[9145]: started, version 2.90 cachesize 150',
    'Dec  6 03:33:26 dnsmasq[9145]: 3 10.1.0.2/32822 query[A] web from 10.1.0.2',
    'Dec  6 03:33:26 dnsmasq[9145]: 3 10.1.0.2/32822 /run/minid/dns/net1/records web is 10.1.0.3',
    'Dec  6 03:33:26 dnsmasq[9145]: 4 10.1.0.2/32823 query[AAAA] web from 10.1.0.2',
    'Dec  6 03:33:26 dnsmasq[9145]: 4 10.1.0.2/32823 config web is NODATA-IPv6',
    'Dec  6 03:33:27 dnsmasq[9145]: 5 10.1.0.2/40111 query[A] example.org from 10.1.0.2',
    'Dec  6 03:33:27 dnsmasq[9145]: 5 10.1.0.2/40111 forwarded example.org to 192.0.2.53',
    'Dec  6 03:33:27 dnsmasq[9145]: 5 10.1.0.2/40111 reply example.org is 192.0.2.80',
    'Dec  6 03:33:28 dnsmasq[9145]: 6 10.1.0.9/5000 query[A] nobody from 10.1.0.9',
    'Dec  6 03:33:28 dnsmasq[9145]: 6 10.1.0.9/5000 config nobody is NXDOMAIN',
    'Dec  6 03:33:29 dnsmasq[9145]: 7 127.0.0.1/5001 query[A] shared from 127.0.0.1',
    'Dec  6 03:33:29 dnsmasq[9145]: 7 127.0.0.1/5001 /run/minid/dns/net1/records shared is 10.1.0.2',
    'Dec  6 03:33:29 dnsmasq[9145]: 7 127.0.0.1/5001 /run/minid/dns/net1/records shared is 10.1.0.3',
  ];

  it('parses query, forward and answer lines; ignores the rest', () => {
    expect(parseLine(lines[0])).toBeNull();
    expect(parseLine(lines[1])).toEqual({ kind: 'query', time: '03:33:26', serial: 3, client: '10.1.0.2', type: 'A', name: 'web' });
    expect(parseLine(lines[2])).toEqual({ kind: 'answer', serial: 3, how: 'names', answer: '10.1.0.3' });
    expect(parseLine(lines[6])).toEqual({ kind: 'forwarded', serial: 5, to: '192.0.2.53' });
    expect(parseLine(lines[7])).toEqual({ kind: 'answer', serial: 5, how: 'forwarded', answer: '192.0.2.80' });
  });

  it('one line per query: who asked what, the answer, where it came from', () => {
    const col = new Collector();
    for (const l of lines) {
      const ev = parseLine(l);
      if (ev) col.add(l.includes('127.0.0.1') ? 'c-cccccccccccc' : 'network', ev);
    }
    const names: Record<string, string> = { '10.1.0.2': 'web1', 'c-cccccccccccc': 'api' };
    const who = (client: string, source: string) => (client === '127.0.0.1' ? names[source] : names[client]);
    expect(col.take(true).map((q) => formatQuery(q, who))).toEqual([
      "03:33:26  web1 (10.1.0.2)  A web  ->  10.1.0.3   (the network's names)",
      '03:33:26  web1 (10.1.0.2)  AAAA web  ->  no data (NOERROR)   (no record of that type)',
      '03:33:27  web1 (10.1.0.2)  A example.org  ->  192.0.2.80   (forwarded to 192.0.2.53)',
      '03:33:28  10.1.0.9  A nobody  ->  NXDOMAIN   (not a name here, not forwarded)',
      "03:33:29  api (127.0.0.1)  A shared  ->  10.1.0.2, 10.1.0.3   (the network's names)",
    ]);
    expect(col.take(true)).toEqual([]);
  });
});

describe('network inspect: the records and who answers whom', () => {
  it('lists every name and PTR, the network\'s server and the containers\' own servers (--dns, several networks)', () => {
    const t = tempRoots();
    const saved = process.env.MINID_DNS;
    delete process.env.MINID_DNS;
    try {
      const net = { name: 'app', bridge: 'mnapp0', subnet: '10.1.0.0/24', gateway: '10.1.0.1' } as NetworkRecord;
      const dnsVia = (instance: string) => ({ resolver: '127.0.0.11', server: { address: '10.1.0.1', port: 53 }, instance });
      const ep = (id: string, name: string, ip: string, more: Partial<Endpoint> = {}): void =>
        writeEndpoint({ mode: 'bridge', containerId: id, containerName: name, network: 'app', state: 'attached', ip, ports: [], undo: [], ...more });
      // web: through the network's server; own: run --dns (its own server); multi: first on
      // network "other", connected to app (its own server, recorded with "other").
      ep(ID1, 'web', '10.1.0.2', { aliases: ['api'], dns: dnsVia('network') });
      ep(ID2, 'own', '10.1.0.3', { dns: dnsVia(`c-${ID2.slice(0, 12)}`) });
      ep(ID3, 'multi', '10.1.0.4', { connected: true, aliases: ['api'] });
      ep(ID3, 'multi', '10.2.0.2', { network: 'other', dns: dnsVia(`c-${ID3.slice(0, 12)}`) });
      const record = (s: ReturnType<typeof networkSpec>, pid: number) => {
        fs.mkdirSync(path.dirname(s.pidFile), { recursive: true });
        fs.writeFileSync(s.pidFile.replace(/\.pid$/, '.conf'), '');
        fs.writeFileSync(s.pidFile.replace(/\.pid$/, '.json'), JSON.stringify({ pid, startTime: '1', address: s.address, port: s.port, forwarders: s.forwarders, started: '', spec: s }));
      };
      record(networkSpec('app', 'network', '10.1.0.1', 53, ['192.0.2.53'], 'mnapp0'), 1);
      record(containerSpec({ networks: ['app'], id12: ID2.slice(0, 12), netns: '/run/netns/x2', address: '127.0.0.11', forwarders: ['198.51.100.53'], dns: ['198.51.100.53'] }), 2);
      record(containerSpec({ networks: ['other', 'app'], id12: ID3.slice(0, 12), netns: '/run/netns/x3', address: '127.0.0.11', forwarders: ['10.2.0.1#53'] }), 3);

      const d = inspectDns(net)!;
      expect(d.Records).toEqual({
        web: ['10.1.0.2'], 'web.app': ['10.1.0.2'], [ID1.slice(0, 12)]: ['10.1.0.2'],
        own: ['10.1.0.3'], 'own.app': ['10.1.0.3'], [ID2.slice(0, 12)]: ['10.1.0.3'],
        multi: ['10.1.0.4'], 'multi.app': ['10.1.0.4'], [ID3.slice(0, 12)]: ['10.1.0.4'],
        api: ['10.1.0.2', '10.1.0.4'],
      });
      expect(d.Reverse).toEqual({ '10.1.0.2': 'web', '10.1.0.3': 'own', '10.1.0.4': 'multi' });
      expect(d.Server).toMatchObject({ Name: 'network', Address: '10.1.0.1:53', Pid: 1, Running: false, Forwarders: ['192.0.2.53'], Networks: ['app'], Answers: ['web'] });
      expect(d.ContainerServers).toEqual(
        expect.arrayContaining([
          { Name: `container own (${ID2.slice(0, 12)})`, Address: '127.0.0.11:53', Namespace: '/run/netns/x2', Pid: 2, Running: false, Forwarders: ['198.51.100.53'], Networks: ['app'], Answers: ['own'] },
          { Name: `container multi (${ID3.slice(0, 12)})`, Address: '127.0.0.11:53', Namespace: '/run/netns/x3', Pid: 3, Running: false, Forwarders: ['10.2.0.1#53'], Networks: ['other', 'app'], Answers: ['multi'] },
        ]),
      );
      expect(d.ContainerServers).toHaveLength(2);
    } finally {
      if (saved !== undefined) process.env.MINID_DNS = saved;
      t.cleanup();
    }
  });
});
