// The container's /etc/hostname, /etc/hosts and /etc/resolv.conf. The renderers are pure;
// writeContainerNetFiles() reads the host's files and writes the three into a directory.
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import ipaddr from 'ipaddr.js';
import { isIPv4 } from './cidr.js';
import { probe } from './host.js';
import type { Attachment } from './types.js';

// What users put into these files (--add-host, --dns, --dns-search, -h) is checked before
// anything is set up, by the rules below, which the renderers apply again: a value with a
// newline, a space or a '#' would add lines or comments of its own to a file the container
// trusts.

/** A value as an error message shows it: quoted, a newline in it as \n (the message stays one line). */
const shown = (v: string): string => JSON.stringify(v);

/** Docker's rule for -h (RFC 1123): dot-separated labels of letters, digits and inner '-'; 63 characters at most. */
const HOSTNAME_RE = /^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\.)*([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;

export function validateHostname(h: string): string {
  if (h.length > 63 || !HOSTNAME_RE.test(h))
    fail(`invalid hostname ${shown(h)}: use letters, digits and "-" in dot-separated labels (RFC 1123), 63 characters at most`);
  return h;
}

/** A domain name: labels of letters, digits and inner '-' (1-63 each), a trailing dot allowed, 253 characters at most. */
const LABEL = '[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?';
const DOMAIN_RE = new RegExp(`^${LABEL}(\\.${LABEL})*\\.?$`);
/** A name in /etc/hosts: the same, '_' allowed too (service names use it; the resolver accepts it). */
const HOST_LABEL = '[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?';
const HOSTS_NAME_RE = new RegExp(`^${HOST_LABEL}(\\.${HOST_LABEL})*\\.?$`);

/** --dns-search: a domain name with a letter in it (docker's rule), or '.' for no search list. */
export function validateDnsSearch(d: string): string {
  if (d === '.') return d;
  if (d.length > 253 || !DOMAIN_RE.test(d) || !/[a-zA-Z]/.test(d))
    fail(`invalid --dns-search ${shown(d)}: give a domain name like example.com (letters, digits and "-" in dot-separated labels), or "." for none`);
  return d;
}

/** An IPv4 (dotted decimal) or IPv6 address, as docker's net.ParseIP takes them (no zone). */
export function isIPAddress(s: string): boolean {
  return isIPv4(s) || (/^[0-9a-fA-F:.]+$/.test(s) && s.includes(':') && ipaddr.IPv6.isValid(s));
}

/** --dns: a nameserver's address. */
export function validateDns(ip: string): string {
  if (!isIPAddress(ip)) fail(`invalid --dns ${shown(ip)}: not an IP address: give the DNS server's IPv4 or IPv6 address`);
  return ip;
}

/** A resolv.conf option (ndots:2, timeout:1, edns0, ...): one word. */
export function validateDnsOption(opt: string): string {
  if (!/^[a-zA-Z0-9_.:-]+$/.test(opt)) fail(`invalid DNS option ${shown(opt)}: give one option like ndots:2 or edns0`);
  return opt;
}

/** --add-host NAME:IP (or NAME=IP; IPv6 bare or in brackets; IP 'host-gateway': the network's gateway). */
export function parseAddHost(spec: string): { name: string; ip: string } {
  const m = /^([^:=]+)[:=](.+)$/s.exec(spec);
  if (!m) fail(`invalid --add-host ${shown(spec)}: expected NAME:IP (e.g. db:10.0.0.5)`);
  const name = m[1];
  const ip = m[2].replace(/^\[(.*)\]$/s, '$1');
  if (name.length > 253 || !HOSTS_NAME_RE.test(name))
    fail(`invalid --add-host ${shown(spec)}: ${shown(name)} is not a host name: use letters, digits, "-" and "_" in dot-separated labels`);
  if (ip !== 'host-gateway' && !isIPAddress(ip))
    fail(`invalid --add-host ${shown(spec)}: ${shown(ip)} is not an IP address: give an IPv4 or IPv6 address, or host-gateway`);
  return { name, ip };
}

/** Network modes that give the container no gateway for --add-host NAME:host-gateway. */
const NO_GATEWAY = (mode: string): boolean => mode === 'none' || mode === 'host' || mode.startsWith('container:');

/**
 * Every value of `minid run` that goes into the container's hostname, hosts and resolv.conf,
 * checked before anything is set up: one line naming the first bad one and the fix.
 */
export function validateNetFileInput(o: { hostname?: string; mode: string; dns: string[]; dnsSearch: string[]; addHosts: string[] }): void {
  if (o.hostname !== undefined) validateHostname(o.hostname);
  o.dns.forEach(validateDns);
  o.dnsSearch.forEach(validateDnsSearch);
  for (const spec of o.addHosts) {
    const { name, ip } = parseAddHost(spec);
    if (ip === 'host-gateway' && NO_GATEWAY(o.mode))
      fail(`--add-host ${name}:host-gateway needs a bridge network (there is no gateway with --network ${o.mode})`);
  }
}

export function renderHostname(hostname: string): string {
  return `${hostname}\n`;
}

export interface HostsOptions {
  hostname: string;
  /** The container's address (bridge networks); none: no line for it. */
  ip?: string;
  /** --add-host NAME:IP (or NAME=IP); IP 'host-gateway' = the network's gateway. */
  addHosts?: string[];
  gateway?: string;
  /** Extra names for the container's own address (e.g. its container name). */
  aliases?: string[];
}

/** /etc/hosts like docker writes it: loopback, the IPv6 specials, --add-host, then itself. */
export function renderHosts(o: HostsOptions): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const spec of o.addHosts ?? []) {
    let { name, ip } = parseAddHost(spec);
    if (ip === 'host-gateway') {
      if (!o.gateway) fail(`--add-host ${name}:host-gateway needs a bridge network (there is no gateway)`);
      ip = o.gateway;
    }
    lines.push(`${ip}\t${name}`);
  }
  if (o.ip) {
    const names = [o.hostname, ...(o.aliases ?? [])].filter((n, i, a) => n && a.indexOf(n) === i);
    lines.push(`${o.ip}\t${names.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

export interface ResolvOptions {
  /** --dns: replaces the nameservers. */
  dns?: string[];
  /** --dns-search: replaces the search list ('.' = none). */
  dnsSearch?: string[];
  /** --dns-option: replaces the options. */
  dnsOptions?: string[];
  /** --network host: the host's loopback resolvers are reachable, keep them. */
  keepLoopback?: boolean;
  /** A user network's DNS server (network/dns/): the only nameserver; --dns are its forwarders then. */
  resolver?: { address: string; note: string };
  /**
   * --cni: the `dns` section of the CNI result (e.g. from a chain ending in the dnsname plugin).
   * As the spec intends, its nameservers, search list (domain first) and options replace the
   * host's; --dns, --dns-search and --dns-option still win.
   */
  cniDns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
  /**
   * A pod of a cluster node (src/cluster): the node's DNS server and the cluster's domain, as
   * kubelet's clusterDNS and clusterDomain (with `resolver`, a user network's server that
   * forwards to it: its search list only). --dns, --dns-search and --dns-option still win.
   */
  cluster?: { nameserver: string; domain: string };
}

/**
 * kubelet's resolv.conf for a pod (dnsPolicy ClusterFirst) in namespace "default": the search
 * list that makes `web`, `web.default` and `web.default.svc` reach web.default.svc.cluster.local,
 * and ndots:5, so a name with fewer than five dots is tried with the search list first.
 */
export function clusterSearch(domain: string): { search: string[]; options: string[] } {
  return { search: [`default.svc.${domain}`, `svc.${domain}`, domain], options: ['ndots:5'] };
}

/** Docker's fallback when the host has no usable nameserver. minid itself never queries it. */
export const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

const isLoopback = (ns: string): boolean => /^127\./.test(ns) || ns === '::1' || /^0*:(0*:)*0*1$/.test(ns);

/**
 * resolv.conf for a container from the host's: loopback nameservers (systemd-resolved's
 * 127.0.0.53, dnsmasq's 127.0.0.1) are dropped because 127.0.0.1 inside the container is the
 * container itself; IPv6 ones too (containers have no IPv6 route). With none left, docker's
 * fallback (Google DNS) is used.
 */
export function renderResolvConf(hostResolv: string, o: ResolvOptions = {}): string {
  const hostNs: string[] = [];
  let search: string[] = [];
  let options: string[] = [];
  for (const raw of hostResolv.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) hostNs.push(rest[0]);
    else if (key === 'search' || key === 'domain') search = rest;
    else if (key === 'options') options = rest;
  }
  const notes: string[] = [];
  let ns: string[];
  if (o.resolver) {
    ns = [o.resolver.address];
    notes.push(o.resolver.note);
    // docker's embedded DNS: a name without dots is asked as it is first.
    if (!o.dnsOptions?.length && !options.some((x) => x.startsWith('ndots:'))) options = [...options, 'ndots:0'];
    // On a cluster node: kubelet's search list (the server forwards the cluster's names).
    if (o.cluster) ({ search, options } = clusterSearch(o.cluster.domain));
  } else if (o.dns?.length) {
    ns = o.dns.map(validateDns);
    notes.push('nameservers from --dns');
  } else if (o.cluster) {
    ns = [o.cluster.nameserver];
    notes.push("the cluster's DNS server on this node (kubelet's clusterDNS)");
    ({ search, options } = clusterSearch(o.cluster.domain));
  } else if (o.cniDns?.nameservers?.length) {
    ns = o.cniDns.nameservers;
    notes.push("nameservers from the CNI result's dns section");
  } else {
    ns = o.keepLoopback ? hostNs : hostNs.filter((n) => !isLoopback(n) && !n.includes(':'));
    const dropped = hostNs.filter((n) => !ns.includes(n));
    if (dropped.length) notes.push(`dropped ${dropped.join(', ')} (unreachable from the container)`);
    if (ns.length === 0) {
      ns = FALLBACK_NAMESERVERS;
      notes.push("no usable nameserver on the host: docker's default fallback");
    }
  }
  const cni = o.cniDns;
  if (cni && (cni.domain || cni.search?.length)) search = [...(cni.domain ? [cni.domain] : []), ...(cni.search ?? [])].filter((d, i, a) => a.indexOf(d) === i);
  if (cni?.options?.length) options = cni.options;
  if (o.dnsSearch?.length) search = o.dnsSearch.map(validateDnsSearch).filter((s) => s !== '.');
  if (o.dnsOptions?.length) options = o.dnsOptions.map(validateDnsOption);
  const out = [`# Generated by minid from the host's /etc/resolv.conf${notes.length ? ': ' + notes.join('; ') : ''}`];
  for (const n of ns) out.push(`nameserver ${n}`);
  if (search.length) out.push(`search ${search.join(' ')}`);
  if (options.length) out.push(`options ${options.join(' ')}`);
  return out.join('\n') + '\n';
}

export interface NetFilesOptions extends ResolvOptions {
  hostname: string;
  attachment?: Attachment;
  addHosts?: string[];
  aliases?: string[];
  explain?: (line: string) => void;
}

/** The three files' contents for a container (reads the host's resolv.conf / hosts). */
export async function containerNetFiles(o: NetFilesOptions): Promise<Record<'hostname' | 'hosts' | 'resolv.conf', string>> {
  const p = probe();
  const att = o.attachment;
  const hostMode = att?.mode === 'host';
  // Only the drivers that give the container an address of its own have these.
  const ep = att?.mode === 'bridge' || att?.mode === 'cni' ? att : undefined;
  const dns = att?.mode === 'bridge' ? att.dns : undefined;
  const ownDns = !!o.dns?.length;
  if (dns) {
    const to = `${dns.server.address}:${dns.server.port}`;
    const fwd = o.dns?.length ? `, which forwards other names to --dns ${o.dns.join(' ')}` : '';
    const where = dns.instance === 'network' ? `minid's DNS server of network ${ep!.network} (DNAT to ${to})` : `the container's own DNS server (in its namespace) with the names of network ${ep!.network}`;
    o = { ...o, dns: undefined, resolver: { address: dns.resolver, note: `${where}${fwd}` } };
  }
  // A pod on a cluster node (src/cluster: the node's minid has kubelet's clusterDNS in its
  // environment): on the node's pod network, the node's DNS server answers the services'
  // names; on a user network of the node, the network's server answers its containers' names
  // and forwards the rest to the node's (dns/index.ts). Kubernetes' search list either way.
  const clusterDns = process.env.MINID_CLUSTER_DNS;
  if (clusterDns && att?.mode === 'bridge' && !o.cluster && !ownDns) {
    o = { ...o, cluster: { nameserver: clusterDns, domain: process.env.MINID_CLUSTER_DOMAIN || 'cluster.local' } };
    const how = `search ${clusterSearch(o.cluster!.domain).search.join(' ')}, options ndots:5`;
    o.explain?.(
      dns
        ? `# /etc/resolv.conf: the network's DNS server, which forwards what is not a container's name to ${clusterDns}, the node's DNS server (DNS in Kubernetes); ${how}`
        : `# /etc/resolv.conf: nameserver ${clusterDns}, the node's DNS server (DNS in Kubernetes: kubelet writes its clusterDNS into every pod), ${how}`,
    );
  }
  const cniDns: NetFilesOptions['cniDns'] = att?.mode === 'cni' ? att.cni.result?.dns : undefined;
  if (cniDns) o = { ...o, cniDns };
  const hosts = hostMode ? await p.hostsFile() : renderHosts({ hostname: o.hostname, ip: ep?.ip, addHosts: o.addHosts, gateway: ep?.gateway, aliases: o.aliases });
  return {
    hostname: renderHostname(o.hostname),
    hosts,
    'resolv.conf': renderResolvConf(await p.resolvConf(), { ...o, keepLoopback: o.keepLoopback ?? hostMode }),
  };
}

/** Write hostname, hosts and resolv.conf into `dir` (e.g. the container's etc/, or a folder to bind-mount from). */
export async function writeContainerNetFiles(dir: string, o: NetFilesOptions): Promise<string[]> {
  const files = await containerNetFiles(o);
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    written.push(f);
  }
  return written;
}
