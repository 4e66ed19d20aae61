// bin/minid, the launcher: Node started from the snapshot `make build` writes, or from the
// ES module bundle when there is no snapshot or the node on the PATH is not the one that built
// it (a snapshot loads into that binary only: dist/minid.blob.node names it and carries its
// modification time). The two must behave the same.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
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
    for (const f of ['minid.blob', 'minid.blob.node']) fs.copyFileSync(path.join(repo, 'dist', f), path.join(tmp, 'dist', f));
    // The stamp carries the modification time of the node that built the snapshot.
    execFileSync('touch', ['-r', path.join(repo, 'dist', 'minid.blob.node'), path.join(tmp, 'dist', 'minid.blob.node')]);
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
    expect(r.exec).toContain(`--snapshot-blob ${tmp}/bin/../dist/minid.blob -- ${tmp}/bin/minid.js --version`);
    expect(r.exec).toMatch(/^\+ exec \/\S*node --v8-pool-size=0 /); // the node that built it, by its path
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

  it('falls back to the bundle when node is not the one that built the snapshot, or it is missing', async () => {
    const stamp = path.join(tmp, 'dist', 'minid.blob.node');
    const real = fs.readFileSync(stamp, 'utf8');
    const restore = () => {
      fs.writeFileSync(stamp, real);
      execFileSync('touch', ['-r', path.join(repo, 'dist', 'minid.blob.node'), stamp]);
    };
    // node replaced (`apt-get upgrade nodejs`: another modification time), or gone
    execFileSync('touch', ['-d', '2001-02-03 04:05:06', stamp]);
    let r = await started(path.join(tmp, 'bin', 'minid'));
    expect(r.exec).toBe(`+ exec node -- ${tmp}/bin/minid.js --version`);
    expect(r.stdout).toBe('minid 0.1.0');
    restore();
    expect((await started(path.join(tmp, 'bin', 'minid'))).exec).toContain('--snapshot-blob');
    fs.writeFileSync(stamp, '/nonexistent/node\n');
    execFileSync('touch', ['-r', path.join(repo, 'dist', 'minid.blob.node'), stamp]);
    expect((await started(path.join(tmp, 'bin', 'minid'))).exec).toBe(`+ exec node -- ${tmp}/bin/minid.js --version`);
    restore();
    expect((await started(path.join(tmp, 'bin', 'minid'))).exec).toContain('--snapshot-blob');
    fs.rmSync(path.join(tmp, 'dist', 'minid.blob'));
    r = await started(path.join(tmp, 'bin', 'minid'));
    expect(r.exec).toBe(`+ exec node -- ${tmp}/bin/minid.js --version`);
    expect(r.stdout).toBe('minid 0.1.0');
  });
});
