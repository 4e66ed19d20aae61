// `minid top CONTAINER [ps OPTIONS]`, as docker does it: the host's `ps` (default `-ef`: UID
// PID PPID C STIME TTY TIME CMD), the rows kept whose PID is one of the container's processes
// (its cgroup's, see pause.ts); the CLI lays them out as docker's does (tabwriter, minimum 20).
import { MinidError } from '../errors.js';
import { run } from '../sys/exec.js';
import { containerPids } from './pause.js';
import type { ContainerState } from './state.js';

/** Split `ps` output into titles and rows of as many fields (the last one, CMD, keeps its spaces). */
export function parsePs(text: string, pids: Set<number>): { titles: string[]; rows: string[][] } {
  const lines = text.split('\n').filter((l) => l.trim());
  const titles = (lines.shift() ?? '').trim().split(/\s+/);
  const at = titles.indexOf('PID');
  if (at < 0) throw new MinidError('ps output has no PID column: give ps options that print it (e.g. `-o pid,comm`)', 1);
  const rows: string[][] = [];
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    const row = [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
    if (pids.has(Number(row[at]))) rows.push(row);
  }
  return { titles, rows };
}

/** The host's ps, the container's rows: titles and rows (the CLI lays them out). */
export async function top(s: ContainerState, psArgs: string[]): Promise<{ titles: string[]; rows: string[][] }> {
  if (s.status !== 'running' || !s.pid) throw new MinidError(`container ${s.config.name} is not running`, 1);
  const r = await run(['ps', ...(psArgs.length ? psArgs : ['-ef'])], { allowFail: true });
  if (r.exitCode !== 0) throw new MinidError(`ps ${psArgs.join(' ')} failed: ${r.stderr.trim().split('\n')[0]}`, 1);
  return parsePs(r.stdout, new Set(containerPids(s)));
}
