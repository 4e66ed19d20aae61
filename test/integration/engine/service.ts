// The Engine API suites' service: `minid system service` on a socket of the suite's store,
// started in beforeAll and stopped in afterAll by its PID; then the socket must be gone.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, expect } from 'vitest';
import { cli, suiteStore } from '../../helpers/minid.js';

export function engineSuite(tag: string, images: string[]) {
  // A failed check below must not keep suiteStore's cleanup from running (a failing afterAll
  // stops the ones after it): it is kept, and thrown by this hook, which runs last.
  let failure: unknown;
  afterAll(() => {
    if (failure) throw failure;
  });
  const suite = suiteStore(tag, images);
  const svc = { socket: '', host: '', proc: undefined as ResultPromise | undefined, stderr: '' };
  beforeAll(async () => {
    svc.socket = path.join(suite.tmp, 'engine.sock');
    svc.host = `unix://${svc.socket}`;
    const p = execa(cli, ['system', 'service', '--socket', svc.socket, '--timeout', '0'], { env: suite.store.env, reject: false, stdout: 'ignore' });
    p.stderr?.on('data', (d) => (svc.stderr += d));
    svc.proc = p;
    const end = Date.now() + 15_000;
    while (!fs.existsSync(svc.socket)) {
      if (p.exitCode !== null || Date.now() > end) throw new Error(`minid system service did not start: ${svc.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  // Registered after suiteStore's: vitest runs it first (hooks are a stack), while the store is there.
  afterAll(async () => {
    const p = svc.proc;
    if (!p?.pid) return;
    try {
      process.kill(p.pid, 'SIGTERM');
      expect((await p).exitCode, svc.stderr).toBe(0); // a clean shutdown, not killed by the signal
      expect(() => process.kill(p.pid!, 0)).toThrow(); // the service is gone
      expect(fs.existsSync(svc.socket)).toBe(false); // and its socket with it
      // Nothing left of what the suite ran through it.
      const ps = await suite.run(['ps', '-aq']);
      expect(String(ps.stdout).trim()).toBe('');
    } catch (e) {
      failure = e;
    }
  });
  return { suite, svc };
}

/** One request on an Engine API socket: the status, the body (JSON parsed when it is), the raw bytes. */
export function api(socket: string, method: string, p: string, body?: string): Promise<{ status: number; body: any; raw: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: p, method, headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        let parsed: any = raw.toString();
        try {
          parsed = JSON.parse(parsed);
        } catch {
          /* text */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, raw, headers: res.headers });
      });
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${p}: no answer (a hang)`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** docker's multiplexed stream, split: [stream (1 stdout, 2 stderr), text] per frame. */
export function demux(raw: Buffer): [number, string][] {
  const out: [number, string][] = [];
  for (let i = 0; i + 8 <= raw.length; ) {
    const n = raw.readUInt32BE(i + 4);
    out.push([raw[i], raw.subarray(i + 8, i + 8 + n).toString()]);
    i += 8 + n;
  }
  return out;
}
