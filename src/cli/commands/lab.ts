// `minid lab list|start|shell|check|hint|solution|reset|stop`: parse and print; the work is in
// src/labs/runner.ts (each lab runs in namespaces of its own: the host is never touched).
import { MinidError } from '../../errors.js';

const write = (t: string): void => void process.stdout.write(t);

export async function list(): Promise<void> {
  const { listLabs } = await import('../../labs/runner.js');
  const { tabwrite } = await import('../tabwrite.js');
  const rows = listLabs().map(({ lab, started }) => [lab.name, lab.kind, lab.chapter, lab.title, started ? 'started' : '']);
  write(tabwrite([['LAB', 'KIND', 'CHAPTER', 'TITLE', 'STATUS'], ...rows], 3));
}

export async function start(name: string): Promise<void> {
  const r = await import('../../labs/runner.js');
  const lab = await r.startLab(name);
  write(`lab ${lab.name} (${lab.chapter}): ${lab.title}\n\n${lab.story}\n\ngoal: ${lab.goal}\n\n`);
  write(`Work in the lab's own host namespace: \`minid lab shell ${name}\` (or \`nsenter --net=/run/netns/${r.nsOf(lab, 'host')} bash\`).\n`);
  write(`Namespaces: ${Object.entries(r.labEnv(lab)).filter(([k]) => k !== 'LAB').map(([k, v]) => `$${k}=${v}`).join('  ')}\n`);
  write(`Then: minid lab check ${name}  |  minid lab hint ${name}  |  minid lab solution ${name}  |  minid lab stop ${name}\n`);
}

export async function shell(name: string): Promise<number> {
  return (await import('../../labs/runner.js')).labShell(name);
}

export async function check(name: string, o: { format?: string } = {}): Promise<number> {
  if (o.format && !['text', 'json'].includes(o.format)) throw new MinidError(`invalid --format "${o.format}": give text or json`, 1);
  const r = await (await import('../../labs/runner.js')).checkLab(name);
  if (o.format === 'json') {
    write(JSON.stringify(r, null, 2) + '\n');
    return r.done ? 0 : 1;
  }
  write(`lab ${name}: ${r.goal}\n\n`);
  for (const c of r.checks) {
    write(`${c.check.ok ? '✓' : '✗'} ${c.check.title}\n    ${c.check.found}\n`);
  }
  write('\n');
  for (const p of r.probes) write(`${p.ok ? '✓' : '✗'} goal: ${p.probe}: ${p.detail}\n`);
  write('\n');
  if (r.done) write(`✓ lab ${name} solved: every check passes and the goal answers.\n`);
  else if (r.first) write(`✗ not yet. hint: ${r.first.hint}\n`);
  else write(`✗ every check passes but the goal does not answer: look at what the checks above do not cover (\`minid lab shell ${name}\`, then ip, iptables -S, ss)\n`);
  return r.done ? 0 : 1;
}

export async function hint(name: string): Promise<number> {
  const r = await (await import('../../labs/runner.js')).checkLab(name);
  if (r.done) {
    write(`lab ${name} is solved: nothing to hint.\n`);
    return 0;
  }
  if (r.first) write(`hint: ${r.first.hint}\n(${r.first.check.title}: ${r.first.check.found})\n`);
  else write(`every check passes, but: ${r.probes.filter((p) => !p.ok).map((p) => `${p.probe}: ${p.detail}`).join('; ')}\n`);
  write(`still stuck: minid lab solution ${name}\n`);
  return 1;
}

export async function solution(name: string): Promise<void> {
  const r = await import('../../labs/runner.js');
  write(r.solutionText(r.getLab(name)));
}

export async function reset(name: string): Promise<void> {
  const r = await import('../../labs/runner.js');
  await r.stopLab(name);
  await start(name);
}

export async function stop(name: string): Promise<void> {
  const was = await (await import('../../labs/runner.js')).stopLab(name);
  write(was ? `lab ${name} stopped: its namespaces, processes and files are gone\n` : `lab ${name} was not started\n`);
}
