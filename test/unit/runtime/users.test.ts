import { describe, expect, it } from 'vitest';
import { resolveUser } from '../../../src/runtime/users.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www:/var/www:/usr/sbin/nologin\nminid:x:1000:1000::/home/minid:/bin/sh\n';
const group = 'root:x:0:\nwww-data:x:33:\nadm:x:4:\n';

describe('user resolution against the image', () => {
  it('defaults to root', () => expect(resolveUser(undefined, passwd, group)).toEqual({ uid: 0, gid: 0, home: '/root' }));
  it('resolves names to their uid and primary gid', () => expect(resolveUser('www-data', passwd, group)).toEqual({ uid: 33, gid: 33, home: '/var/www' }));
  it('accepts numbers not in passwd, with gid 0', () => expect(resolveUser('4242', passwd, group)).toEqual({ uid: 4242, gid: 0, home: '/' }));
  it('takes an explicit group by name or number', () => {
    expect(resolveUser('1000:adm', passwd, group).gid).toBe(4);
    expect(resolveUser('minid:7', passwd, group)).toEqual({ uid: 1000, gid: 7, home: '/home/minid' });
  });
  it('refuses unknown names with a hint', () => {
    expect(() => resolveUser('nobody2', passwd, group)).toThrow(/unable to find user nobody2: .*use a numeric UID/);
    expect(() => resolveUser('0:wheel', passwd, group)).toThrow(/unable to find group wheel/);
  });
});
