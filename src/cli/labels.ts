// --label KEY[=VALUE] and --label-file FILE, for `run` and `network create`.
import fs from 'node:fs';
import { fail } from '../errors.js';

/** --label KEY[=VALUE] and --label-file FILE (a label per line, # comments), docker's syntax. */
export function parseLabels(flags: string[], files: string[]): Record<string, string> {
  const lines: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      fail(`cannot read label file ${f}: check the path`);
    }
    lines.push(...text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  }
  const out: Record<string, string> = {};
  for (const l of [...lines, ...flags]) {
    const i = l.indexOf('=');
    const k = i < 0 ? l : l.slice(0, i);
    if (!k) fail(`invalid label "${l}": give KEY=VALUE (or KEY)`);
    out[k] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}

