// `minid tag`, `minid push`, `minid save`: the way images leave minid. Thin printing over
// src/image/store.ts (tag), src/image/push.ts and src/image/save.ts, each imported only by the
// command that uses it. Failures exit 1, as docker's.
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../../errors.js';
import { exitOne } from './login.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

/** `minid tag SOURCE TARGET`: silent on success, as docker. */
export async function tag(source: string, target: string): Promise<void> {
  await exitOne(async () => {
    const { tagImage } = await import('../../image/store.js');
    await tagImage(source, target);
  });
}

/** `minid push [-q] NAME[:TAG]`. */
export async function push(ref: string, opts: { quiet?: boolean } = {}): Promise<void> {
  await exitOne(async () => {
    const { pushImage } = await import('../../image/push.js');
    // A name without tag or digest: docker says which tag it pushes.
    const nameOnly = !ref.includes('@') && ref.lastIndexOf(':') <= ref.lastIndexOf('/');
    if (nameOnly && !opts.quiet) out('Using default tag: latest');
    const r = await pushImage(ref, opts.quiet ? undefined : out);
    if (opts.quiet) out(r.full);
    else out(`${r.tag}: digest: ${r.digest} size: ${r.size}`);
  });
}

const FORMATS = ['docker-archive', 'oci-archive'];

/** `minid save [-o FILE] [--format F] IMAGE...`: to FILE (written aside, then renamed), or to a piped stdout. */
export async function save(refs: string[], opts: { output?: string; format?: string }): Promise<void> {
  await exitOne(async () => {
    const format = opts.format ?? 'docker-archive';
    if (!FORMATS.includes(format)) fail(`unknown format ${JSON.stringify(format)}: use --format docker-archive (docker save's) or oci-archive`, 1);
    const { saveImages } = await import('../../image/save.js');
    const f = format as 'docker-archive' | 'oci-archive';
    if (!opts.output) {
      if (process.stdout.isTTY) fail('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
      await saveImages(refs, f, process.stdout);
      return;
    }
    const file = path.resolve(opts.output);
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.minid-${process.pid}`);
    let stream: fs.WriteStream;
    try {
      stream = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
      await new Promise<void>((resolve, reject) => stream.once('open', () => resolve()).once('error', reject));
    } catch (e) {
      fail(`cannot write ${JSON.stringify(opts.output)}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'its directory does not exist' : (e as Error).message}`, 1);
    }
    try {
      await saveImages(refs, f, stream);
      await new Promise<void>((resolve, reject) => stream.end(() => resolve()).once('error', reject));
      fs.chmodSync(tmp, 0o644);
      fs.renameSync(tmp, file);
    } catch (e) {
      stream.destroy();
      fs.rmSync(tmp, { force: true });
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') fail(`no space left on device while writing ${opts.output}: free space there and retry`, 1);
      throw e;
    }
  });
}
