// The cluster DNS server's files (src/cluster/dns.ts): the names every node's dnsmasq reads and
// its configuration. Pure: what the servers do with them is checked in
// test/integration/cluster/dns.test.ts.
import { describe, expect, it } from 'vitest';
import { renderNames, renderNodeConf, serviceNames } from '../../../src/cluster/dns.js';

describe('cluster DNS files', () => {
  it("names each service by its FQDN (first: it answers the reverse lookup) and NAME.svc, sorted", () => {
    expect(serviceNames('web')).toEqual(['web.default.svc.cluster.local', 'web.svc']);
    const text = renderNames([
      { name: 'web', clusterIP: '10.96.0.1' },
      { name: 'db', clusterIP: '10.96.0.2' },
    ]);
    expect(text.split('\n').slice(1)).toEqual(['10.96.0.2\tdb.default.svc.cluster.local db.svc', '10.96.0.1\tweb.default.svc.cluster.local web.svc', '']);
    expect(renderNames([]).split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([]);
  });

  it('listens on the node address only, reads only the records, forwards nothing', () => {
    const conf = renderNodeConf({ node: 'node1', netns: 'mcl-x-node1', address: '192.168.5.11', records: '/r/records', pidFile: '/r/node1.pid', logFile: '/r/node1.log' });
    const lines = conf.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual([
      'listen-address=192.168.5.11',
      'bind-interfaces',
      'port=53',
      'no-hosts',
      'addn-hosts=/r/records',
      'local=/#/',
      'no-resolv',
      'no-poll',
      'log-queries=extra',
      'user=root',
      'pid-file=/r/node1.pid',
      'log-facility=/r/node1.log',
    ]);
    expect(lines.some((l) => l.startsWith('server='))).toBe(false);
  });
});
