// The Engine API's pure parts: a create body as minid's run request, port bindings as -p specs,
// the multiplexed frame, filters, and the status an error of the runtime is answered with.
import { describe, expect, it } from 'vitest';
import { portSpecs, runRequestOf } from '../../../src/engine/containers.js';
import { ApiError, frame, statusOf } from '../../../src/engine/http.js';
import { parseFilters } from '../../../src/engine/images.js';
import { MinidError } from '../../../src/errors.js';
import { NoSuchContainerError } from '../../../src/runtime/state.js';

describe('engine: create body -> run request', () => {
  it('maps docker\'s PortBindings to -p specs (HostPort "" or "0": random)', () => {
    // ('9000', a key without a protocol, comes first: JavaScript orders integer keys first.)
    expect(portSpecs({ '80/tcp': [{ HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '0' }], '9000': null })).toEqual([
      '9000/tcp',
      '8080:80/tcp',
      '127.0.0.1::53/udp',
    ]);
    expect(portSpecs({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '' }] })).toEqual(['80/tcp']);
    expect(portSpecs(undefined)).toEqual([]);
    expect(() => portSpecs('80:80')).toThrow(ApiError);
  });

  it('takes Cmd, Entrypoint (a longer one: its words before Cmd), Env, Labels, HostConfig', () => {
    const { req, entrypoint } = runRequestOf(
      {
        Image: 'busybox',
        Cmd: ['-c', 'echo hi'],
        Entrypoint: ['sh', '-e'],
        Env: ['A=1', 'FROM_SERVICE'],
        Labels: { team: 'x', n: 1 },
        ExposedPorts: { '8080/tcp': {} },
        HostConfig: { AutoRemove: true, Binds: ['/tmp:/data:ro'], PortBindings: { '80/tcp': [{ HostPort: '0' }] }, PublishAllPorts: true, NetworkMode: 'default' },
      },
      'web',
    );
    expect(req).toMatchObject({ image: 'busybox', name: 'web', entrypoint: 'sh', args: ['-e', '-c', 'echo hi'], env: ['A=1'], rm: true, detach: true, volumes: ['/tmp:/data:ro'], expose: ['8080/tcp'] });
    expect(req.labels).toEqual({ team: 'x', n: '1' });
    expect(req.net).toMatchObject({ mode: 'bridge', network: 'bridge', ports: ['80/tcp'], publishAll: true });
    expect(entrypoint).toEqual(['sh', '-e']);
  });

  it('network modes: host and none publish nothing; a user network is named', () => {
    expect(runRequestOf({ Image: 'b', HostConfig: { NetworkMode: 'host', PortBindings: { '80/tcp': [{}] } } }, undefined).req.net).toMatchObject({ mode: 'host', network: undefined, ports: [] });
    expect(runRequestOf({ Image: 'b', HostConfig: { NetworkMode: 'mynet' } }, undefined).req.net).toMatchObject({ mode: 'mynet', network: 'mynet' });
    expect(runRequestOf({ Image: 'b', Entrypoint: '' }, undefined).req).toMatchObject({ entrypoint: '', args: [] });
  });

  it('refuses a body that is not a container config (400)', () => {
    for (const b of [null, [], 'x', {}, { Image: '' }, { Image: 'b', Cmd: [1] }, { Image: 'b', Labels: ['a'] }]) {
      let err: unknown;
      try {
        runRequestOf(b, undefined);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(b)).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(400);
    }
  });
});

describe('engine: plumbing', () => {
  it('frames a stream chunk with docker\'s 8-byte header', () => {
    expect([...frame(2, Buffer.from('hey'))]).toEqual([2, 0, 0, 0, 0, 0, 0, 3, 104, 101, 121]);
  });

  it('reads filters in both of docker\'s forms', () => {
    expect(parseFilters('{"label":["a=b","c"],"status":{"running":true,"exited":false}}')).toEqual({ label: ['a=b', 'c'], status: ['running'] });
    expect(parseFilters(null)).toEqual({});
    expect(() => parseFilters('[1]')).toThrow(ApiError);
    expect(() => parseFilters('{"a":1}')).toThrow(ApiError);
  });

  it('answers the runtime\'s errors with docker\'s status codes', () => {
    expect(statusOf(new NoSuchContainerError('x'))).toBe(404);
    expect(statusOf(new MinidError('image "x:latest" not found: load it'))).toBe(404);
    expect(statusOf(new MinidError('the container name "a" is already in use by container 123'))).toBe(409);
    expect(statusOf(new MinidError('cannot remove container a: it is running: stop it first'))).toBe(409);
    expect(statusOf(new MinidError('invalid port spec "x"'), 400)).toBe(400);
    expect(statusOf(new Error('a bug'), 400)).toBe(500);
    expect(statusOf(new ApiError(501, 'no'))).toBe(501);
  });
});
