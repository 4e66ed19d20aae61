// Running a lab (table.ts): start builds its namespaces and starting state, check reads the
// lab's kernel state (see/read.ts, inside the lab's own "host" namespace) and runs its checks
// and probes, stop removes every namespace of the lab (their links, rules and sysctls go with
// them), the processes in them and the lab's folder under the store's run dir.
//
// Nothing here touches the real host's links, firewall or sysctls: every command runs in a
// namespace named minid-lab-*, made by the lab (or, in the namespaces lab, by the learner, under
// the names the lab gives).
import fs from 'node:fs';
import path from 'node:path';
import { MinidError } from '../errors.js';
import { run } from '../sys/exec.js';
import { paths, runRoot, secureRunRoot, secureDir, PRIVATE_DIR_MODE } from '../sys/paths.js';
import { HOST, type Check } from '../see/checks.js';
import { findLab, LABS, type Lab, type Probe } from './table.js';
import { PRELUDE, WWW } from './world.js';

export const PREFIX = 'minid-lab-';
export const labsDir = (): string => path.join(runRoot(), 'labs');
export const labDir = (name: string): string => path.join(labsDir(), name);
const stateFile = (name: string): string => path.join(labDir(name), 'state.json');

/** The namespace of a role: the host is minid-lab-NAME, the others minid-lab-NAME-ROLE. */
export const nsOf = (lab: Pick<Lab, 'name'>, role: string): string => (role === 'host' ? `${PREFIX}${lab.name}` : `${PREFIX}${lab.name}-${role}`);
export const namespacesOf = (lab: Lab): string[] => [nsOf(lab, 'host'), ...lab.roles.map((r) => nsOf(lab, r))];

export function getLab(name: string): Lab {
  const lab = findLab(name);
  if (!lab) throw new MinidError(`no such lab: ${name} (minid lab list shows them)`, 1);
  return lab;
}

export const isStarted = (name: string): boolean => fs.existsSync(stateFile(name));

/** The variables every lab script and shell gets: $HOST, $RED..., $LAB. */
export function labEnv(lab: Lab): Record<string, string> {
  const env: Record<string, string> = { HOST: nsOf(lab, 'host'), LAB: labDir(lab.name) };
  for (const r of lab.roles) env[r.toUpperCase()] = nsOf(lab, r);
  return env;
}

const netnsList = (): string[] => {
  try {
    return fs.readdirSync('/run/netns');
  } catch {
    return [];
  }
};

/** Build the lab's starting state. */
export async function startLab(name: string): Promise<Lab> {
  const lab = getLab(name);
  if (isStarted(name)) throw new MinidError(`lab ${name} is already started: \`minid lab check ${name}\`, or \`minid lab reset ${name}\` to start over`, 1);
  const clash = namespacesOf(lab).find((n) => netnsList().includes(n));
  if (clash) throw new MinidError(`namespace ${clash} exists but this store did not start lab ${name} (another store's lab, or a leftover): remove it with \`ip netns del ${clash}\``, 1);
  secureRunRoot();
  secureDir(labsDir(), PRIVATE_DIR_MODE);
  secureDir(labDir(name), PRIVATE_DIR_MODE);
  // The record first: a start cut short is still found and removed by stop and system prune.
  fs.writeFileSync(stateFile(name), JSON.stringify({ name, namespaces: namespacesOf(lab), started: new Date().toISOString() }) + '\n');
  try {
    const dir = labDir(name);
    for (const [f, { body, mode }] of Object.entries(WWW)) {
      fs.mkdirSync(path.dirname(path.join(dir, 'www', f)), { recursive: true });
      fs.writeFileSync(path.join(dir, 'www', f), body, { mode });
    }
    for (const [f, text] of Object.entries(lab.files ?? {})) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), text.replaceAll('$LAB', dir));
    }
    for (const ns of namespacesOf(lab).filter((n) => !(lab.learnerMakes ?? []).some((r) => nsOf(lab, r) === n))) {
      await run(['ip', 'netns', 'add', ns]);
      await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // Set every sysctl the lab depends on: a new namespace may inherit the host's values.
    const sysctls: Record<string, string> = { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1', 'net.ipv4.conf.all.rp_filter': '0', ...(lab.sysctls ?? {}) };
    // An interface's own sysctls once the world has made the interface.
    const perIf = ([k]: [string, string]): boolean => /^net\.ipv4\.conf\.(?!all\.|default\.)/.test(k);
    const late = Object.entries(sysctls).filter(perIf);
    const early = Object.entries(sysctls).filter((e) => !perIf(e));
    const script = [PRELUDE, ...early.map(([k, v]) => `sysctl_set ${k} ${v}`), ...lab.world, ...late.map(([k, v]) => `sysctl_set ${k} ${v}`)].join('\n') + '\n';
    await inHost(lab, script);
  } catch (e) {
    await stopLab(name);
    throw e;
  }
  return lab;
}

/** Run a bash script in the lab's host namespace, with the lab's variables. */
async function inHost(lab: Lab, script: string): Promise<void> {
  const r = await run(['ip', 'netns', 'exec', nsOf(lab, 'host'), 'bash', '-c', script], { env: labEnv(lab), allowFail: true });
  if (r.exitCode !== 0) throw new MinidError(`lab ${lab.name}: a step failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`, 1);
}

/** Run the reference solution (the tests do; a learner reads it with `minid lab solution`). */
export async function solveLab(name: string): Promise<void> {
  const lab = getLab(name);
  if (!isStarted(name)) throw new MinidError(`lab ${name} is not started: minid lab start ${name}`, 1);
  await inHost(lab, ['set -euo pipefail', ...lab.solution].join('\n') + '\n');
}

export interface ProbeResult {
  probe: string;
  ok: boolean;
  detail: string;
}

export interface CheckReport {
  lab: string;
  goal: string;
  checks: { key: string; check: Check; hint: string }[];
  /** The first failing check (bottom-up): its hint is the one `lab hint` gives. */
  first: { key: string; check: Check; hint: string } | null;
  probes: ProbeResult[];
  /** Every check passes and every probe answers. */
  done: boolean;
}

export const describeProbe = (lab: Lab, p: Probe): string =>
  'ping' in p ? `${p.from} pings ${p.ping}` : `${p.from} gets ${p.http} (expecting "${p.expect}")`;

async function probe(lab: Lab, p: Probe): Promise<ProbeResult> {
  const ns = nsOf(lab, p.from);
  const desc = describeProbe(lab, p);
  if (!netnsList().includes(ns)) return { probe: desc, ok: false, detail: `namespace ${ns} does not exist` };
  if ('ping' in p) {
    // Up to three tries: a link just brought up, or a neighbour that failed a moment ago
    // (ARP), can lose the first one.
    let r = await run(['ip', 'netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '1', p.ping], { allowFail: true });
    for (let i = 0; i < 2 && r.exitCode !== 0; i++) {
      await new Promise((res) => setTimeout(res, 200));
      r = await run(['ip', 'netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '1', p.ping], { allowFail: true });
    }
    return { probe: desc, ok: r.exitCode === 0, detail: r.exitCode === 0 ? 'answered' : (r.stderr.trim() || 'no answer') };
  }
  const get = () => run(['ip', 'netns', 'exec', ns, 'curl', '--noproxy', '*', '-s', '-S', '-m', '3', p.http], { allowFail: true });
  let r = await get();
  // A second try: a server just (re)started may not listen yet.
  if (!(r.exitCode === 0 && r.stdout.includes(p.expect))) {
    await new Promise((res) => setTimeout(res, 300));
    r = await get();
  }
  const ok = r.exitCode === 0 && r.stdout.includes(p.expect);
  return { probe: desc, ok, detail: ok ? `answered: ${r.stdout.trim()}` : r.exitCode === 0 ? `answered "${r.stdout.trim()}"` : r.stderr.trim().replace(/^curl: \(\d+\) /, '') || `curl exit ${r.exitCode}` };
}

/** Read the lab's namespaces (its host as the host) and judge them. */
export async function checkLab(name: string): Promise<CheckReport> {
  const lab = getLab(name);
  if (!isStarted(name)) throw new MinidError(`lab ${name} is not started: minid lab start ${name}`, 1);
  const { readKernel } = await import('../see/read.js');
  const records = { store: 'lab', networks: [], networksUp: [], endpoints: [], containers: [] };
  const views = lab.roles.map((r) => nsOf(lab, r));
  const kernel = await readKernel(records, { netns: nsOf(lab, 'host'), views, allRules: true, sysctls: lab.readSysctls ?? [] });
  const s = { kernel, records };
  const env = labEnv(lab);
  const files: Record<string, string | null> = {};
  for (const f of lab.readFiles ?? []) {
    const file = f.replace(/\$([A-Z]+)/g, (m, v: string) => env[v] ?? m);
    try {
      files[file] = fs.readFileSync(file, 'utf8');
    } catch {
      files[file] = null;
    }
  }
  const ctx = { s, files, ns: (role: string) => (role === 'host' ? HOST : nsOf(lab, role)) };
  const checks = lab.checks.map((c) => ({ key: c.key, check: c.check(ctx), hint: c.hint }));
  const probes: ProbeResult[] = [];
  for (const p of lab.probes) probes.push(await probe(lab, p));
  const first = checks.find((c) => !c.check.ok) ?? null;
  return { lab: name, goal: lab.goal, checks, first, probes, done: !first && probes.every((p) => p.ok) };
}

/** A process that still runs (a zombie has ended: it only waits for its parent to reap it). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Kill what runs in a namespace (by the PIDs the kernel lists for it), then remove it. */
async function removeNamespace(ns: string): Promise<void> {
  if (!netnsList().includes(ns)) return;
  const r = await run(['ip', 'netns', 'pids', ns], { allowFail: true });
  const pids = r.stdout.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 1 && n !== process.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((res) => setTimeout(res, 20));
  await run(['ip', 'netns', 'del', ns], { allowFail: true });
}

/** Remove the lab: its namespaces (links, rules, sysctls go with them), processes and folder. */
export async function stopLab(name: string): Promise<boolean> {
  const lab = getLab(name);
  const was = isStarted(name) || namespacesOf(lab).some((n) => netnsList().includes(n));
  if (isStarted(name)) {
    // The "containers" first: their cables' other ends are in the host namespace.
    for (const ns of [...namespacesOf(lab)].reverse()) await removeNamespace(ns);
  }
  // `ip netns exec NS` reads /etc/netns/NS/ (the dns lab writes a resolv.conf there).
  for (const ns of namespacesOf(lab)) fs.rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  // `minid cni add` (the cni-minid lab) keeps its results in the store's CNI cache, named
  // after the network list (minid-lab-NAME).
  const results = path.join(paths.cniCache(), 'results');
  try {
    for (const f of fs.readdirSync(results)) if (f.startsWith(`${PREFIX}${name}-`)) fs.rmSync(path.join(results, f), { force: true });
  } catch {
    /* no cache */
  }
  fs.rmSync(labDir(name), { recursive: true, force: true });
  return was;
}

/** Every lab this store started (system prune). */
export async function stopAllLabs(): Promise<string[]> {
  let names: string[] = [];
  try {
    names = fs.readdirSync(labsDir());
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    if (!findLab(n)) {
      fs.rmSync(labDir(n), { recursive: true, force: true });
      continue;
    }
    await stopLab(n);
    out.push(n);
  }
  return out;
}

export function listLabs(): { lab: Lab; started: boolean }[] {
  return LABS.map((lab) => ({ lab, started: isStarted(lab.name) }));
}

/** The solution as printed: where to type it, the variables, the commands. */
export function solutionText(lab: Lab): string {
  const env = labEnv(lab);
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
  return [
    `# lab ${lab.name}: the reference solution. Type it in \`minid lab shell ${lab.name}\``,
    `# (or in \`nsenter --net=/run/netns/${nsOf(lab, 'host')} bash\` after \`export ${vars}\`).`,
    ...lab.solution,
  ].join('\n') + '\n';
}

/** The learner's shell: bash in the lab's host namespace, with $RED & co and a prompt that says where. */
export async function labShell(name: string): Promise<number> {
  const lab = getLab(name);
  if (!isStarted(name)) throw new MinidError(`lab ${name} is not started: minid lab start ${name}`, 1);
  const rc = path.join(labDir(name), 'bashrc');
  const vars = Object.entries(labEnv(lab)).map(([k, v]) => `export ${k}=${v}`).join('\n');
  fs.writeFileSync(rc, `${vars}\nexport PS1='[lab ${name}] \\w# '\necho 'lab ${name}: ${lab.goal.replace(/'/g, "'\\''")}'\necho 'namespaces: ${Object.entries(labEnv(lab)).filter(([k]) => k !== 'LAB').map(([k, v]) => `$${k}=${v}`).join(' ')}'\necho '(exit to leave; minid lab check ${name} to check)'\n`);
  const { spawnProcess } = await import('../sys/exec.js');
  // Not a terminal: run the script on stdin, stopping at the first failing command
  // (`minid lab solution NAME | minid lab shell NAME` replays the solution, as the tests do).
  const bash = process.stdin.isTTY ? ['bash', '--rcfile', rc, '-i'] : ['bash', '-e', '-s'];
  // nsenter switches the network namespace only. `ip netns exec` would also give the shell a
  // mount namespace of its own, where a namespace made by `ip netns add` is not visible outside.
  const child = await spawnProcess(['nsenter', `--net=/run/netns/${nsOf(lab, 'host')}`, ...bash], { stdio: 'inherit', env: labEnv(lab) });
  // Ctrl-C belongs to the shell (it is in the terminal's foreground group with minid): minid
  // must not die of it and leave the shell behind.
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  try {
    return await new Promise<number>((res) => child.on('exit', (code) => res(code ?? 0)));
  } finally {
    process.off('SIGINT', ignore);
  }
}
