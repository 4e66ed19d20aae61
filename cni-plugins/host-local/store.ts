// host-local's on-disk store, the reference's format exactly, so either implementation can read
// the other's reservations:
//   <dataDir>/<network>/<ip>                    "<containerId>\r\n<ifname>"  (O_EXCL create)
//   <dataDir>/<network>/last_reserved_ip.<set>  the last address handed out from range set <set>
//   <dataDir>/<network>/lock                    flock(2)ed around every change
import fs from 'node:fs';
import path from 'node:path';
import { formatIP, parseIP, type Addr } from '../lib/ip.js';

export const LINE_BREAK = '\r\n';
const LAST_PREFIX = 'last_reserved_ip.';

export interface Store {
  reserve(id: string, ifName: string, ip: Addr, rangeId: string): boolean;
  lastReserved(rangeId: string): Addr | null;
  release(ip: Addr): void;
  /** Addresses held by (id, ifName); an old-format file holding only the id matches too. */
  getById(id: string, ifName: string): Addr[];
  releaseById(id: string, ifName: string): Addr[];
  /** Every reservation: address and owner. */
  all(): { ip: Addr; id: string; ifName: string }[];
  isReserved(ip: Addr): boolean;
}

export class DiskStore implements Store {
  constructor(public readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  }

  static forNetwork(dataDir: string, network: string): DiskStore {
    return new DiskStore(path.join(dataDir, network));
  }

  get lockPath(): string {
    return path.join(this.dir, 'lock');
  }

  private file(ip: Addr): string {
    return path.join(this.dir, formatIP(ip));
  }

  reserve(id: string, ifName: string, ip: Addr, rangeId: string): boolean {
    let fd: number;
    try {
      fd = fs.openSync(this.file(ip), fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
    try {
      fs.writeSync(fd, id.trim() + LINE_BREAK + ifName);
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(this.file(ip), { force: true });
      throw e;
    }
    fs.closeSync(fd);
    fs.writeFileSync(path.join(this.dir, LAST_PREFIX + rangeId), formatIP(ip));
    return true;
  }

  lastReserved(rangeId: string): Addr | null {
    try {
      return parseIP(fs.readFileSync(path.join(this.dir, LAST_PREFIX + rangeId), 'utf8'));
    } catch {
      return null;
    }
  }

  release(ip: Addr): void {
    fs.rmSync(this.file(ip), { force: true });
  }

  isReserved(ip: Addr): boolean {
    return fs.existsSync(this.file(ip));
  }

  all(): { ip: Addr; id: string; ifName: string }[] {
    const out: { ip: Addr; id: string; ifName: string }[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      const ip = parseIP(name);
      if (!ip) continue;
      let text: string;
      try {
        text = fs.readFileSync(path.join(this.dir, name), 'utf8');
      } catch {
        continue;
      }
      const [id, ifName = ''] = text.trim().split(LINE_BREAK);
      out.push({ ip, id: (id ?? '').trim(), ifName: ifName.trim() });
    }
    return out;
  }

  getById(id: string, ifName: string): Addr[] {
    const exact = this.all().filter((r) => r.id === id.trim() && r.ifName === ifName);
    if (exact.length) return exact.map((r) => r.ip);
    return this.all()
      .filter((r) => r.id === id.trim() && r.ifName === '')
      .map((r) => r.ip);
  }

  releaseById(id: string, ifName: string): Addr[] {
    const ips = this.getById(id, ifName);
    for (const ip of ips) this.release(ip);
    return ips;
  }
}

/** An in-memory store for unit tests. */
export class MemoryStore implements Store {
  m = new Map<string, { ip: Addr; id: string; ifName: string }>();
  last = new Map<string, Addr>();
  reserve(id: string, ifName: string, ip: Addr, rangeId: string): boolean {
    const k = formatIP(ip);
    if (this.m.has(k)) return false;
    this.m.set(k, { ip, id, ifName });
    this.last.set(rangeId, ip);
    return true;
  }
  lastReserved(rangeId: string): Addr | null {
    return this.last.get(rangeId) ?? null;
  }
  release(ip: Addr): void {
    this.m.delete(formatIP(ip));
  }
  isReserved(ip: Addr): boolean {
    return this.m.has(formatIP(ip));
  }
  all() {
    return [...this.m.values()];
  }
  getById(id: string, ifName: string): Addr[] {
    return this.all()
      .filter((r) => r.id === id && r.ifName === ifName)
      .map((r) => r.ip);
  }
  releaseById(id: string, ifName: string): Addr[] {
    const ips = this.getById(id, ifName);
    for (const ip of ips) this.release(ip);
    return ips;
  }
}
