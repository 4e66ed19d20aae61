// Who is in the way of publishing a port: read from the kernel's socket tables (here, a
// fixture of /proc/net/tcp and tcp6 as Linux prints them), not found out by binding.
import { describe, expect, it } from 'vitest';
import { socketsOn } from '../../../src/network/host.js';

const HEAD = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const row = (n: number, local: string, remote: string, st: string, inode: number) =>
  `   ${n}: ${local} ${remote} ${st} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;
const Z4 = '00000000:0000';
const Z6 = '00000000000000000000000000000000:0000';
const proc: Record<string, string> = {
  '/proc/net/tcp':
    HEAD +
    row(0, '00000000:1F90', Z4, '0A', 1111) + // 0.0.0.0:8080 listening
    row(1, '0100007F:1F91', Z4, '0A', 2222) + // 127.0.0.1:8081 listening
    row(2, '0100007F:1F92', '0100007F:D2F0', '01', 3333), // 127.0.0.1:8082, a connection
  '/proc/net/tcp6':
    HEAD +
    row(0, '00000000000000000000000000000000:1F93', Z6, '0A', 4444) + // [::]:8083
    row(1, '00000000000000000000000001000000:1F94', Z6, '0A', 5555) + // [::1]:8084
    row(2, '0000000000000000FFFF00000100007F:1F95', Z6, '0A', 6666), // [::ffff:127.0.0.1]:8085
};
const on = (port: number, hostIp: string) => [...socketsOn('tcp', port, hostIp, (f) => proc[f] ?? '')];

describe('sockets in the way of a published port', () => {
  it('a listener on every address is in the way of any address', () => {
    expect(on(8080, '0.0.0.0')).toEqual(['1111']);
    expect(on(8080, '127.0.0.1')).toEqual(['1111']);
  });
  it('a listener on one address only of that address, or of all of them', () => {
    expect(on(8081, '0.0.0.0')).toEqual(['2222']);
    expect(on(8081, '127.0.0.1')).toEqual(['2222']);
    expect(on(8081, '192.0.2.2')).toEqual([]);
  });
  it('a connection using the port is not (only listeners are)', () => expect(on(8082, '0.0.0.0')).toEqual([]));
  it('IPv6: a dual-stack [::] listener is; [::1] is not; a v4-mapped address counts as IPv4', () => {
    expect(on(8083, '192.0.2.2')).toEqual(['4444']);
    expect(on(8084, '0.0.0.0')).toEqual([]);
    expect(on(8085, '0.0.0.0')).toEqual(['6666']);
    expect(on(8085, '192.0.2.2')).toEqual([]);
  });
  it('nothing on a free port', () => expect(on(9999, '0.0.0.0')).toEqual([]));
});
