// Resolve a docker-style user spec (uid, name, uid:gid, name:group) against the container's
// own /etc/passwd and /etc/group, as docker does: names must exist in the image, numbers need not.
import { fail } from '../errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export function parsePasswd(text: string): PasswdEntry[] {
  return text
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 7 && /^\d+$/.test(f[2]) && /^\d+$/.test(f[3]))
    .map((f) => ({ name: f[0], uid: +f[2], gid: +f[3], home: f[5] || '/' }));
}

export function parseGroup(text: string): { name: string; gid: number }[] {
  return text
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 3 && /^\d+$/.test(f[2]))
    .map((f) => ({ name: f[0], gid: +f[2] }));
}

export function resolveUser(spec: string | undefined, passwd: string, group: string): ResolvedUser {
  const users = parsePasswd(passwd);
  if (!spec) spec = '0';
  const [u, g] = spec.split(':');
  let uid: number;
  let gid: number;
  let home = '/';
  if (/^\d+$/.test(u)) {
    uid = +u;
    const e = users.find((x) => x.uid === uid);
    gid = e ? e.gid : 0;
    home = e ? e.home : '/';
  } else {
    const e = users.find((x) => x.name === u);
    if (!e) fail(`unable to find user ${u}: no matching entries in the image's /etc/passwd; use a numeric UID`);
    uid = e.uid;
    gid = e.gid;
    home = e.home;
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = +g;
    else {
      const e = parseGroup(group).find((x) => x.name === g);
      if (!e) fail(`unable to find group ${g}: no matching entries in the image's /etc/group; use a numeric GID`);
      gid = e.gid;
    }
  }
  return { uid, gid, home };
}
