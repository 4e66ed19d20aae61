// bin/minid, the launcher: Node started from the snapshot `make build` writes, or from the
// ES module bundle when there is no snapshot or the node binary is newer than it. The two
// must behave the same.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { repo, requireRoot } from '../../helpers/minid.js';

describe('bin/minid', () => {
  let tmp: string;
  beforeAll(() => {
    requireRoot();
    // A copy of the package's layout: bin/ and dist/ (the bundle is linked, the blob copied).
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-launcher-'));
    fs.mkdirSync(path.join(tmp, 'bin'));
    fs.mkdirSync(path.join(tmp, 'dist'));
    for (const f of ['minid', 'minid.js']) fs.copyFileSync(path.join(repo, 'bin', f), path.join(tmp, 'bin', f));
    fs.chmodSync(path.join(tmp, 'bin', 'minid'), 0o755);
    fs.symlinkSync(path.join(repo, 'dist', 'bundle'), path.join(tmp, 'dist', 'bundle'));
    fs.copyFileSync(path.join(repo, 'dist', 'minid.blob'), path.join(tmp, 'dist', 'minid.blob'));
    fs.symlinkSync(path.join(repo, 'package.json'), path.join(tmp, 'package.json'));
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(tmp, 'node_modules'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  // What the launcher execs, from `sh -x`.
  const started = async (via: string, args: string[] = ['--version']) => {
    const r = await execa('sh', ['-x', via, ...args], { reject: false, env: { NODE_EXTRA_CA_CERTS: '/nonexistent' } });
    return { ...r, exec: String(r.stderr).split('\n').find((l) => l.startsWith('+ exec')) ?? '' };
  };

  it('starts Node from the snapshot, and the CLI works from it', async () => {
    const r = await started(path.join(tmp, 'bin', 'minid'));
    expect(r.exec).toContain(`--snapshot-blob ${tmp}/bin/../dist/minid.blob ${tmp}/bin/minid.js --version`);
    expect(r.stdout).toBe('minid 0.1.0');
    expect(r.exitCode).toBe(0);
    // an unknown flag: the one-line error and 125, as without the snapshot
    const bad = await execa(path.join(tmp, 'bin', 'minid'), ['run', '--no-such-flag', 'busybox'], { reject: false });
    expect(bad.exitCode).toBe(125);
    expect(String(bad.stderr).split('\n')[0]).toMatch(/^minid: unknown option '--no-such-flag'/);
  });

  it('through a symlink (as `make install` puts it on the PATH)', async () => {
    const link = path.join(tmp, 'minid-link');
    fs.symlinkSync(path.join(tmp, 'bin', 'minid'), link);
    const r = await execa(link, ['--version'], { reject: false });
    expect(r.stdout).toBe('minid 0.1.0');
  });

  it('falls back to the bundle when the snapshot is older than node, or missing', async () => {
    const blob = path.join(tmp, 'dist', 'minid.blob');
    fs.utimesSync(blob, new Date('2000-01-01'), new Date('2000-01-01'));
    let r = await started(path.join(tmp, 'bin', 'minid'));
    expect(r.exec).toBe(`+ exec node ${tmp}/bin/minid.js --version`);
    expect(r.stdout).toBe('minid 0.1.0');
    fs.rmSync(blob);
    r = await started(path.join(tmp, 'bin', 'minid'));
    expect(r.exec).toBe(`+ exec node ${tmp}/bin/minid.js --version`);
    expect(r.stdout).toBe('minid 0.1.0');
  });
});
