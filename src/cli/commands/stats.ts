// `minid stats [--no-stream] [--no-trunc] [CONTAINER...]`: docker stats. Two samples a second
// apart give CPU %; without --no-stream the table is redrawn every second until Ctrl-C.
import { fail } from '../../errors.js';
import { hostLayout } from '../../runtime/cgroup.js';
import { findContainer, listStates, type ContainerState } from '../../runtime/state.js';
import { HEADER, sample, statsRow, type Sample } from '../../runtime/stats.js';
import { table } from '../format.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function stats(refs: string[], o: { stream?: boolean; trunc?: boolean }): Promise<void> {
  const layout = hostLayout();
  if (!layout) fail('minid stats needs cgroups, and this host has none mounted');
  const named = refs.length > 0;
  const pick = (): ContainerState[] =>
    named ? refs.map((r) => findContainer(r)) : listStates().filter((s) => s.status === 'running');
  for (const s of named ? pick() : []) if (s.status !== 'running') fail(`container ${s.config.name} is not running`);
  const prev = new Map<string, Sample>();
  const take = (s: ContainerState) => (s.config.cgroup ? sample(layout, s.config.id, s.pid) : undefined);
  for (const s of pick()) {
    const x = take(s);
    if (x) prev.set(s.config.id, x);
  }
  for (;;) {
    await sleep(1000);
    const rows: string[][] = [];
    for (const s of pick()) {
      const now = take(s);
      if (!now) continue;
      rows.push(statsRow({ id: s.config.id, name: s.config.name }, prev.get(s.config.id) ?? now, now, o.trunc === false));
      prev.set(s.config.id, now);
    }
    const text = table(HEADER, rows);
    if (o.stream === false) return void process.stdout.write(text);
    process.stdout.write('\x1b[2J\x1b[H' + text); // clear and redraw, as docker does
  }
}
