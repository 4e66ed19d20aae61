// HTTPS_PROXY, HTTP_PROXY and NO_PROXY as docker's client reads them (Go's
// golang.org/x/net/http/httpproxy; pure: no I/O):
//   - the upper-case name wins over the lower-case one; a value without a scheme is http://
//   - NO_PROXY: comma-separated; "*" means no proxy at all; "example.com" matches that name
//     and its subdomains, ".example.com" (or "*.example.com") only the subdomains; an entry
//     with ":port" matches only that port; an IP address or CIDR matches addresses
//   - loopback hosts (localhost, 127.0.0.0/8, ::1) never go through a proxy
import net from 'node:net';
import { hostname, isLoopback } from './endpoint.js';

type Env = Record<string, string | undefined>;

const pick = (env: Env, name: string) => env[name.toUpperCase()] || env[name.toLowerCase()] || '';

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const fam = net.isIP(base);
  if (!fam || fam !== net.isIP(ip) || !Number.isInteger(bits)) return false;
  const bl = new net.BlockList();
  bl.addSubnet(base, bits, fam === 4 ? 'ipv4' : 'ipv6');
  return bl.check(ip, fam === 4 ? 'ipv4' : 'ipv6');
}

/** Does NO_PROXY exempt this URL (host[:port]) from the proxy? */
export function noProxyMatches(noProxy: string, url: URL): boolean {
  const host = hostname(url.host);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (let entry of noProxy.split(',').map((s) => s.trim().toLowerCase())) {
    if (!entry) continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      if (inCidr(host, entry)) return true;
      continue;
    }
    let entryPort = '';
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (m) [, entry, entryPort] = m;
    entry = entry.replace(/^\[|\]$/g, '');
    if (entryPort && entryPort !== port) continue;
    if (net.isIP(entry)) {
      if (entry === host) return true;
      continue;
    }
    if (entry.startsWith('*.')) entry = entry.slice(1);
    if (entry.startsWith('.')) {
      if (host.endsWith(entry)) return true;
    } else if (host === entry || host.endsWith(`.${entry}`)) return true;
  }
  return false;
}

/** The proxy to use for `url`, or null for a direct connection. */
export function proxyFor(url: URL, env: Env = process.env): URL | null {
  if (isLoopback(url.host)) return null;
  const value = pick(env, url.protocol === 'https:' ? 'https_proxy' : 'http_proxy');
  if (!value) return null;
  if (noProxyMatches(pick(env, 'no_proxy'), url)) return null;
  try {
    const p = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
    return p.protocol === 'http:' || p.protocol === 'https:' ? p : null;
  } catch {
    return null;
  }
}
