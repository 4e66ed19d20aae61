// Which Debian/Ubuntu package gives each host program minid runs (through src/sys/exec.ts).
// minid checks nothing up front: the first time a program is missing, the exec wrapper says
// which package to install. `scripts/install-deps.sh runtime` installs them all at once.

const PACKAGE: Record<string, string> = {
  ip: 'iproute2',
  bridge: 'iproute2',
  iptables: 'iptables',
  'iptables-save': 'iptables',
  'iptables-restore': 'iptables',
  ip6tables: 'iptables',
  'ip6tables-save': 'iptables',
  'ip6tables-restore': 'iptables',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  mount: 'mount',
  umount: 'mount',
  sysctl: 'procps',
  ps: 'procps',
  setfattr: 'attr',
  chattr: 'e2fsprogs',
  tar: 'tar',
  zstd: 'zstd',
  dnsmasq: 'dnsmasq-base',
  sh: 'dash',
  mknod: 'coreutils',
};

/** The Debian/Ubuntu package that gives `program` (a name or a path), if minid knows it. */
export function debianPackage(program: string): string | undefined {
  const name = program.slice(program.lastIndexOf('/') + 1);
  return Object.hasOwn(PACKAGE, name) ? PACKAGE[name] : undefined;
}

/** The one line for a program that is not installed: which package to install, when known. */
export function notInstalled(program: string): string {
  const pkg = debianPackage(program);
  if (!pkg) return `\`${program}\` is not installed: install it (see README) and try again`;
  return `\`${program}\` is not installed: install the Debian/Ubuntu package ${pkg} (apt-get install ${pkg})`;
}
