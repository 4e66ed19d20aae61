// container prune, image prune, system df, diff, export: parse, ask, print as docker does.
import fs from 'node:fs';
import { fail } from '../../errors.js';
import { findContainerOr1 } from '../../runtime/lookup.js';
import { humanSize, tabwrite } from '../tabwrite.js';

/** docker's prompt, on stdout; one line read from stdin (end of input: no). */
export async function confirm(warning: string): Promise<boolean> {
  process.stdout.write(`WARNING! ${warning}\nAre you sure you want to continue? [y/N] `);
  const line = await new Promise<string>((resolve) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.includes('\n')) done();
    };
    const done = () => {
      process.stdin.off('data', onData).off('end', done);
      process.stdin.pause();
      resolve(got.split('\n')[0]);
    };
    process.stdin.on('data', onData).on('end', done);
  });
  return /^y(es)?$/i.test(line.trim());
}

export async function containerPrune(o: { force?: boolean }) {
  if (!o.force && !(await confirm('This will remove all stopped containers.'))) return;
  const { pruneContainers } = await import('../../runtime/housekeeping.js');
  const { ids, reclaimed } = await pruneContainers();
  if (ids.length) process.stdout.write(`Deleted Containers:\n${ids.join('\n')}\n\n`);
  process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
}

export async function imagePrune(o: { force?: boolean; all?: boolean }) {
  const what = o.all ? 'This will remove all images without at least one container associated to them.' : 'This will remove all dangling images.';
  if (!o.force && !(await confirm(what))) return;
  const { pruneImages } = await import('../../runtime/housekeeping.js');
  const { lines, reclaimed } = await pruneImages(!!o.all);
  if (lines.length) process.stdout.write(`Deleted Images:\n${lines.join('\n')}\n\n`);
  process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
}

export async function systemDf() {
  const { diskUsage } = await import('../../runtime/housekeeping.js');
  const rows = (await diskUsage()).map((r) => [
    r.type,
    String(r.total),
    String(r.active),
    humanSize(r.size),
    // docker: the share of the total only where there is a total to share.
    r.size > 0 ? `${humanSize(r.reclaimable)} (${Math.floor((r.reclaimable * 100) / r.size)}%)` : humanSize(r.reclaimable),
  ]);
  process.stdout.write(tabwrite([['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], ...rows], 10));
}

export async function diff(ref: string) {
  const { containerDiff } = await import('../../runtime/diff.js');
  const lines = containerDiff(findContainerOr1(ref));
  if (lines.length) process.stdout.write(lines.join('\n') + '\n');
}

export async function exportCmd(ref: string, o: { output?: string }) {
  const s = findContainerOr1(ref);
  if (!o.output && process.stdout.isTTY) fail('cowardly refusing to write a tar archive to a terminal: use -o FILE or redirect the output', 1);
  const { exportContainer } = await import('../../runtime/export.js');
  if (!o.output) return exportContainer(s, process.stdout);
  const out = fs.createWriteStream(o.output);
  await new Promise<void>((resolve, reject) => out.on('open', () => resolve()).on('error', reject)).catch((e) => fail(`cannot write ${o.output}: ${e.message}`, 1));
  try {
    await exportContainer(s, out);
  } finally {
    await new Promise((r) => out.end(r));
  }
}
