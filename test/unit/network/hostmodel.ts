// A model of the kernel objects the network plans create, for the undo tests (plan.test.ts):
// each command of a step is applied to it, so a test can say what a plan leaves behind once
// its undo ran, without a real host.
//
// It knows the kernel's rule of ownership: an object goes when anything it belongs to goes.
// A namespace takes its links, addresses and routes, and the rules and sysctls set inside it
// (nsenter); a link takes its veth peer, its addresses, its settings and its per-link sysctls;
// a bridge takes its ports' membership. It is strict where the kernel is: deleting what is not
// there, a rule in a chain that does not exist, or a chain that still has rules or is jumped to
// throws. A command it does not know throws too: a new kind of step must say here what removes
// what it creates.
import path from 'node:path';
import { tokenize } from '../../../src/network/iptables.js';
import type { Cmd } from '../../../src/network/types.js';

interface Obj {
  what: string;
  parents: number[];
  index?: Map<string, number>;
  key?: string;
}

const BUILTIN = new Set(['INPUT', 'FORWARD', 'OUTPUT', 'PREROUTING', 'POSTROUTING']);
/** Left on when minid is done, as docker does: the one thing no undo removes. */
export const IP_FORWARD = 'sysctl net.ipv4.ip_forward=1';

export class HostModel {
  private objs = new Map<number, Obj>();
  private next = 1;
  private netns = new Map<string, number>();
  private links = new Map<string, number>(); // 'NS/NAME' ('' is the host's namespace)
  private chains = new Map<string, number>(); // 'TABLE CHAIN'
  private rules = new Map<string, number>(); // 'TABLE CHAIN ARGS'
  private sysctls = new Map<string, number>();

  /** Everything that exists, one sorted line each. */
  state(): string[] {
    return [...this.objs.values()].map((o) => o.what).sort();
  }

  /** The iptables rules and chains as `iptables-save` prints them (what the teardown planners read). */
  iptablesSave(): string {
    const out: string[] = [];
    for (const table of ['filter', 'nat']) {
      out.push(`*${table}`);
      for (const k of this.chains.keys()) if (k.startsWith(`${table} `)) out.push(`:${k.split(' ')[1]} - [0:0]`);
      for (const k of this.rules.keys()) if (k.startsWith(`${table} `)) out.push(`-A ${k.slice(table.length + 1)}`);
      out.push('COMMIT');
    }
    return out.join('\n') + '\n';
  }

  apply(c: Cmd): void {
    const [tool, ...a] = c.argv;
    if (tool === 'ip') return this.ip(a);
    if (tool === 'iptables') return this.iptables(a);
    if (tool === 'sysctl' && a[0] === '-w') return a.slice(1).forEach((kv) => this.sysctl(kv));
    if (tool === 'nsenter' && a[0].startsWith('--net=')) return this.inside(path.basename(a[0].slice(6)), a.slice(1), c.input);
    throw new Error(`the host model does not know \`${c.argv.join(' ')}\`: say what creates and removes its objects`);
  }

  private add(what: string, parents: (number | undefined)[], index?: Map<string, number>, key?: string): number {
    const id = this.next++;
    this.objs.set(id, { what, parents: parents.filter((p): p is number => p !== undefined), index, key });
    if (index && key !== undefined) index.set(key, id);
    return id;
  }

  /** Remove an object and, recursively, everything that belongs to it. */
  private remove(id: number): void {
    const gone = new Set<number>([id]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [oid, o] of this.objs) {
        if (!gone.has(oid) && o.parents.some((p) => gone.has(p))) {
          gone.add(oid);
          grew = true;
        }
      }
    }
    for (const g of gone) {
      const o = this.objs.get(g)!;
      if (o.index && o.key !== undefined) o.index.delete(o.key);
      this.objs.delete(g);
    }
  }

  private must(index: Map<string, number>, key: string, what: string): number {
    const id = index.get(key);
    if (id === undefined) throw new Error(`${what} ${key} does not exist`);
    return id;
  }

  private link(ns: string, name: string): number {
    return this.must(this.links, `${ns}/${name}`, 'link');
  }

  private ip(argv: string[]): void {
    let a = argv;
    let ns = '';
    if (a[0] === '-n') {
      ns = a[1];
      a = a.slice(2);
      this.must(this.netns, ns, 'namespace');
    }
    const nsParent = ns ? this.netns.get(ns) : undefined;
    const [obj, op, name, ...rest] = a;
    if (obj === 'netns' && op === 'add') {
      const id = this.add(`netns ${name}`, [], this.netns, name);
      this.add(`link ${name}/lo (loopback)`, [id], this.links, `${name}/lo`); // every namespace has its own
    } else if (obj === 'netns' && op === 'del') {
      this.remove(this.must(this.netns, name, 'namespace'));
    } else if (obj === 'link' && op === 'add') {
      const type = rest[rest.indexOf('type') + 1];
      if (type === 'bridge') {
        this.add(`link ${ns}/${name} (bridge)`, [nsParent], this.links, `${ns}/${name}`);
      } else if (type === 'veth') {
        const after = rest.slice(rest.indexOf('peer'));
        const peer = after[after.indexOf('name') + 1];
        const peerNs = after.includes('netns') ? after[after.indexOf('netns') + 1] : ns;
        const host = this.add(`link ${ns}/${name} (veth)`, [nsParent], this.links, `${ns}/${name}`);
        const p = this.add(`link ${peerNs}/${peer} (veth peer of ${name})`, [host, peerNs ? this.must(this.netns, peerNs, 'namespace') : undefined], this.links, `${peerNs}/${peer}`);
        this.objs.get(host)!.parents.push(p); // either end takes the pair
      } else throw new Error(`the host model does not know links of type ${type}`);
    } else if (obj === 'link' && op === 'del') {
      this.remove(this.link(ns, name));
    } else if (obj === 'link' && op === 'set') {
      const id = this.link(ns, name);
      for (let i = 0; i < rest.length; i++) {
        const w = rest[i];
        if (w === 'master') this.add(`${ns}/${name} port of ${rest[++i]}`, [id, this.link(ns, rest[i])]);
        else if (w === 'up' || w === 'down') this.add(`${ns}/${name} ${w}`, [id]);
        else if (w === 'alias') this.add(`${ns}/${name} alias ${rest[++i]}`, [id]);
        else if (w === 'type' && rest[i + 1] === 'bridge_slave') {
          this.add(`${ns}/${name} ${rest.slice(i + 2).join(' ')}`, [id]);
          break;
        } else if (w === 'netns' || w === 'name') {
          // A move or a rename: the same link under another key (and, moved, in that namespace).
          const o = this.objs.get(id)!;
          const to = rest[++i];
          const newNs = w === 'netns' ? to : ns;
          const newName = w === 'name' ? to : name;
          this.links.delete(`${ns}/${name}`);
          o.key = `${newNs}/${newName}`;
          o.what = o.what.replace(`${ns}/${name}`, o.key);
          this.links.set(o.key, id);
          if (w === 'netns') o.parents.push(this.must(this.netns, to, 'namespace'));
        } else throw new Error(`the host model does not know \`ip link set ... ${w}\``);
      }
    } else if (obj === 'addr' && (op === 'add' || op === 'replace')) {
      const dev = rest[rest.indexOf('dev') + 1];
      this.add(`address ${name} on ${ns}/${dev}`, [this.link(ns, dev)]);
    } else if (obj === 'route' && op === 'add') {
      const dev = rest.includes('dev') ? this.link(ns, rest[rest.indexOf('dev') + 1]) : undefined;
      this.add(`route ${[name, ...rest].join(' ')} in ${ns || 'the host'}`, [nsParent, dev]);
    } else throw new Error(`the host model does not know \`ip ${argv.join(' ')}\``);
  }

  private sysctl(kv: string, ns = ''): void {
    const key = kv.split('=')[0];
    const dev = /^net\.ipv4\.conf\.([^.]+)\./.exec(key)?.[1];
    const parents = dev && dev !== 'all' && dev !== 'default' ? [this.link(ns, dev)] : [ns ? this.netns.get(ns) : undefined];
    if (!ns && !dev && key !== 'net.ipv4.ip_forward') throw new Error(`the host model does not know the host-wide sysctl ${key}`);
    const old = this.sysctls.get(`${ns}/${key}`);
    if (old !== undefined) this.remove(old);
    this.add(ns ? `sysctl ${kv} in ${ns}` : `sysctl ${kv}`, parents, this.sysctls, `${ns}/${key}`);
  }

  /** `nsenter --net=/run/netns/NS CMD`: whatever CMD sets goes with the namespace. */
  private inside(ns: string, argv: string[], input?: string): void {
    const parent = this.must(this.netns, ns, 'namespace');
    if (argv[0] === 'sysctl' && /^-q?w$/.test(argv[1])) return argv.slice(2).forEach((kv) => this.sysctl(kv, ns));
    if (argv[0] === 'iptables-restore') {
      let table = '';
      for (const line of (input ?? '').split('\n')) {
        if (line.startsWith('*')) table = line.slice(1);
        else if (line.startsWith('-A ')) this.add(`rule ${table} ${line.slice(3)} in ${ns}`, [parent]);
      }
      return;
    }
    throw new Error(`the host model does not know \`nsenter ... ${argv.join(' ')}\``);
  }

  private iptables(argv: string[]): void {
    const a = [...argv];
    let table = 'filter';
    const ti = a.indexOf('-t');
    if (ti >= 0) table = a.splice(ti, 2)[1];
    const [op, chain, ...rest] = a;
    const args = op === '-I' && /^\d+$/.test(rest[0] ?? '') ? rest.slice(1) : rest;
    const key = `${table} ${chain} ${args.join(' ')}`;
    const needChain = (c: string): void => {
      if (!BUILTIN.has(c) && !['ACCEPT', 'DROP', 'RETURN', 'MASQUERADE', 'DNAT', 'SNAT'].includes(c)) this.must(this.chains, `${table} ${c}`, 'chain');
    };
    if (op === '-N') {
      if (this.chains.has(`${table} ${chain}`)) throw new Error(`chain ${table} ${chain} already exists`);
      this.add(`chain ${table} ${chain}`, [], this.chains, `${table} ${chain}`);
    } else if (op === '-X') {
      const id = this.must(this.chains, `${table} ${chain}`, 'chain');
      const users = [...this.rules.keys()].filter((k) => k.startsWith(`${table} ${chain} `) || k.startsWith(`${table} `) && tokenize(k).slice(2).join(' ').includes(`-j ${chain}`));
      if (users.length) throw new Error(`chain ${table} ${chain} is not empty or still referenced: ${users[0]}`);
      this.remove(id);
    } else if (op === '-A' || op === '-I') {
      needChain(chain);
      needChain(args[args.indexOf('-j') + 1]);
      if (this.rules.has(key)) throw new Error(`rule added twice: ${key}`);
      this.add(`rule ${key}`, [], this.rules, key);
    } else if (op === '-D') {
      this.remove(this.must(this.rules, key, 'rule'));
    } else throw new Error(`the host model does not know \`iptables ${argv.join(' ')}\``);
  }
}
