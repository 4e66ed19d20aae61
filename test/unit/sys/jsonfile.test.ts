// Records read whole and written whole (src/sys/jsonfile.ts): a record that is missing or
// half-written is none; a write replaces the record by rename, with the mode asked for.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readJson, writeAtomic, writeJsonAtomic } from '../../../src/sys/jsonfile.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-jsonfile-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const mode = (p: string) => fs.statSync(p).mode & 0o777;

describe('readJson', () => {
  it('gives the record, or null for a missing, half-written or unreadable one', () => {
    const f = path.join(dir, 'r.json');
    expect(readJson(f)).toBeNull();
    fs.writeFileSync(f, '{"a": [1, ');
    expect(readJson(f)).toBeNull();
    fs.writeFileSync(f, '{"a": [1, 2]}');
    expect(readJson<{ a: number[] }>(f)).toEqual({ a: [1, 2] });
    expect(readJson(dir)).toBeNull(); // a folder: EISDIR
  });
});

describe('writeJsonAtomic, writeAtomic', () => {
  it('write indented JSON with a final newline, and no temp file is left', () => {
    const f = path.join(dir, 'w.json');
    writeJsonAtomic(f, { a: 1 });
    expect(fs.readFileSync(f, 'utf8')).toBe('{\n  "a": 1\n}\n');
    writeAtomic(f, 'text');
    expect(fs.readFileSync(f, 'utf8')).toBe('text');
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('w.json'))).toEqual(['w.json']);
  });

  it('give the file the mode asked for, also over a crashed writer\'s temp file', () => {
    const f = path.join(dir, 'secret.json');
    fs.writeFileSync(`${f}.${process.pid}.tmp`, 'old', { mode: 0o644 });
    writeJsonAtomic(f, { token: 'x' }, 0o600);
    expect(mode(f)).toBe(0o600);
    expect(readJson(f)).toEqual({ token: 'x' });
  });
});
