import { describe, expect, it } from 'vitest';
import { parseReference, splitFamiliar } from '../../../src/image/ref.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference normalizes like docker', () => {
  const cases: [string, Partial<ReturnType<typeof parseReference>>][] = [
    ['busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest', digest: null, name: 'busybox', familiar: 'busybox:latest', full: 'docker.io/library/busybox:latest' }],
    ['busybox:1.36', { familiar: 'busybox:1.36', full: 'docker.io/library/busybox:1.36' }],
    ['library/busybox', { familiar: 'busybox:latest', repository: 'library/busybox' }],
    ['docker.io/library/busybox:latest', { familiar: 'busybox:latest', registry: 'docker.io' }],
    ['index.docker.io/library/busybox', { familiar: 'busybox:latest', registry: 'docker.io' }],
    ['myuser/app', { familiar: 'myuser/app:latest', repository: 'myuser/app', name: 'myuser/app' }],
    ['docker.io/library/a/b', { familiar: 'library/a/b:latest', name: 'library/a/b' }],
    ['127.0.0.1:5000/busybox', { registry: '127.0.0.1:5000', repository: 'busybox', tag: 'latest', familiar: '127.0.0.1:5000/busybox:latest', full: '127.0.0.1:5000/busybox:latest' }],
    ['127.0.0.1:5000/library/busybox:1', { repository: 'library/busybox', familiar: '127.0.0.1:5000/library/busybox:1' }],
    ['localhost/app', { registry: 'localhost', repository: 'app', familiar: 'localhost/app:latest' }],
    ['localhost:5000/a/b:t', { registry: 'localhost:5000', repository: 'a/b', tag: 't' }],
    ['registry.example.com/team/app:v1.2-rc_3', { registry: 'registry.example.com', tag: 'v1.2-rc_3' }],
    [`busybox@${D}`, { tag: null, digest: D, familiar: `busybox@${D}`, full: `docker.io/library/busybox@${D}` }],
    [`busybox:1@${D}`, { tag: '1', digest: D, familiar: `busybox:1@${D}` }],
    ['a_b.c-d__e---f', { repository: 'library/a_b.c-d__e---f' }],
    ['[::1]:5000/app', { registry: '[::1]:5000', repository: 'app' }],
  ];
  for (const [input, want] of cases) {
    it(`${input}`, () => {
      expect(parseReference(input)).toMatchObject(want);
    });
  }
});

describe('parseReference rejects what docker rejects', () => {
  const bad: [string, string][] = [
    ['', 'invalid reference format ""'],
    ['Foo:', 'invalid reference format "Foo:"'],
    ['Foo', 'invalid reference format "Foo": repository name must be lowercase'],
    ['busybox:', 'invalid reference format "busybox:"'],
    ['busybox:-x', 'invalid reference format "busybox:-x"'],
    ['bu sybox', 'invalid reference format "bu sybox"'],
    ['a//b', 'invalid reference format "a//b"'],
    ['-a', 'invalid reference format "-a"'],
    ['a-', 'invalid reference format "a-"'],
    ['a/', 'invalid reference format "a/"'],
    ['busybox@sha256:abc', 'invalid reference format "busybox@sha256:abc"'],
    ['a'.repeat(64).replace(/a/g, 'f'), 'invalid reference format "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff": a 64-character hexadecimal string is an image ID, not a name'],
    [`x:${'t'.repeat(129)}`, `invalid reference format "x:${'t'.repeat(129)}"`],
    [`${'a'.repeat(250)}/b`, `invalid reference format "${'a'.repeat(250)}/b": repository name must not be more than 255 characters`],
  ];
  for (const [input, message] of bad) {
    it(JSON.stringify(input.slice(0, 40)), () => {
      expect(() => parseReference(input)).toThrow(message);
      try {
        parseReference(input);
      } catch (e) {
        expect((e as { exitCode: number }).exitCode).toBe(125);
      }
    });
  }
});

describe('splitFamiliar', () => {
  it('splits repository and tag for the images table', () => {
    expect(splitFamiliar('busybox:latest')).toEqual({ repository: 'busybox', tag: 'latest' });
    expect(splitFamiliar('127.0.0.1:5000/x/y:2')).toEqual({ repository: '127.0.0.1:5000/x/y', tag: '2' });
  });
});
