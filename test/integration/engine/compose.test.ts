// docker-compose (Debian's 1.29, through docker-py) against minid's Engine API: a project of two
// services on the project's network, the published port, names between services, `ps`, `logs`,
// `exec`, `down`. What compose relies on beyond the docker CLI's calls: the aliases of
// NetworkingConfig (the service's name), the container's short id among its aliases on a user
// network (else compose disconnects and reconnects the created container), only the options the
// client gave in a network's Options, and label filters that must all hold.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/minid.js';
import { programTerminal, typeUntil } from '../../helpers/terminal.js';
import { freePort } from '../network/helpers.js';
import { engineSuite } from './service.js';

const { suite, svc } = engineSuite('eng-compose', ['busybox', 'nginx']);

describe('docker-compose against minid system service', () => {
  it('up -d (a health check and depends_on service_healthy, a named volume, init), ps, logs, exec, the published port and the service names; down, down -v', async () => {
    const port = await freePort();
    const project = `mc${Math.random().toString(16).slice(2, 8)}`;
    const dir = path.join(suite.tmp, 'project');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'docker-compose.yml'),
      [
        'version: "3.8"',
        'services:',
        '  web:',
        '    image: nginx',
        '    ports:',
        `      - "127.0.0.1:${port}:80"`,
        '    healthcheck:',
        '      test: ["CMD", "nginx", "-t"]',
        '      interval: 300ms',
        '  client:',
        '    image: busybox',
        '    command: sh -c "until wget -qO- http://web/ >/data/page; do sleep 0.2; done; grep -o \'Welcome to nginx\' /data/page; exec sleep 600"',
        '    volumes: ["data:/data"]',
        '    init: true', // its PID 1 an init that passes `down`'s SIGTERM on to sleep
        '    depends_on:',
        '      web:',
        '        condition: service_healthy', // created once web's health check passes
        'volumes:',
        '  data: {}',
        '',
      ].join('\n'),
    );
    const compose = (args: string[]) => execa('docker-compose', ['-p', project, ...args], { cwd: dir, env: { DOCKER_HOST: svc.host }, reject: false, timeout: 120_000, all: true });
    try {
      const up = await compose(['up', '-d']);
      expect(up.exitCode, up.all).toBe(0);
      expect(up.all).toContain(`Creating network "${project}_default"`);

      // Each container once (the one-off filter matches none), both up.
      const ps = await compose(['ps']);
      const rows = String(ps.stdout).split('\n').filter((l) => l.startsWith(`${project}_`));
      expect(rows.map((l) => l.split(/\s+/)[0]).sort()).toEqual([`${project}_client_1`, `${project}_web_1`]);
      expect(rows.every((l) => / Up /.test(l))).toBe(true);
      expect(rows.find((l) => l.startsWith(`${project}_web_1`))).toMatch(/ Up \(healthy\) /);
      expect(rows.find((l) => l.startsWith(`${project}_web_1`))).toContain(`127.0.0.1:${port}->80/tcp`);

      // The client reached the web service by its name.
      await eventually(async () => expect(String((await compose(['logs', 'client'])).stdout)).toContain('Welcome to nginx'), 30_000);
      // The published port, from the host.
      const page = await execa('curl', ['-s', `http://127.0.0.1:${port}/`], { reject: false });
      expect(page.stdout).toContain('Welcome to nginx');
      // exec (no terminal): by the service name and by the container's name.
      const exec = await compose(['exec', '-T', 'client', 'wget', '-qO-', `http://${project}_web_1/`]);
      expect(exec.exitCode, exec.all).toBe(0);
      expect(exec.stdout).toContain('Welcome to nginx');
      // exec with a terminal (compose's default): dockerpty on the exec's hijacked connection.
      const t = programTerminal('docker-compose', ['-p', project, '-f', path.join(dir, 'docker-compose.yml'), 'exec', 'client', 'sh'], { DOCKER_HOST: svc.host });
      try {
        await t.wait(/\/ # /);
        await typeUntil(t, 'echo "n=$((6*7))"\r', /n=42/); // dockerpty flushes keys typed before its raw mode
        t.t.write('tty; exit 4\r');
        expect(await t.wait(/\/dev\/pts\/\d+/)).toBeTruthy();
        expect(await t.exited).toBe(4);
      } finally {
        t.t.kill();
      }
      // The project's named volume: made through /volumes with compose's labels, mounted, kept by `down`.
      const vol = JSON.parse((await execa('/usr/bin/docker', ['volume', 'inspect', `${project}_data`], { env: { DOCKER_HOST: svc.host } })).stdout)[0];
      expect(vol).toMatchObject({ Name: `${project}_data`, Driver: 'local', Labels: { 'com.docker.compose.project': project, 'com.docker.compose.volume': 'data' } });
      expect((await compose(['exec', '-T', 'client', 'cat', '/data/page'])).stdout).toContain('Welcome to nginx');
      expect(fs.readFileSync(path.join(vol.Mountpoint, 'page'), 'utf8')).toContain('Welcome to nginx');
      // init: true, as docker's --init: PID 1 is the init, the command its child.
      expect((await compose(['exec', '-T', 'client', 'cat', '/proc/1/cmdline'])).stdout.split('\0')[0]).toMatch(/minid-init$/);
      // Its network, as docker shows it: the service's name and the short id among the aliases.
      const aliases = await execa('/usr/bin/docker', ['inspect', '-f', `{{json (index .NetworkSettings.Networks "${project}_default").Aliases}}`, `${project}_web_1`], { env: { DOCKER_HOST: svc.host }, reject: false });
      const id = (await execa('/usr/bin/docker', ['inspect', '-f', '{{.Id}}', `${project}_web_1`], { env: { DOCKER_HOST: svc.host } })).stdout;
      expect(JSON.parse(aliases.stdout)).toEqual(expect.arrayContaining(['web', id.slice(0, 12)]));
    } finally {
      const down = await compose(['down']);
      expect(down.exitCode, down.all).toBe(0);
    }
    expect((await suite.run(['ps', '-aq'])).stdout).toBe('');
    // `down` keeps the volume; `down -v` removes it.
    expect(String((await suite.run(['volume', 'ls', '-q'])).stdout).split('\n')).toContain(`${project}_data`);
    const downV = await compose(['down', '-v']);
    expect(downV.exitCode, downV.all).toBe(0);
    expect(String((await suite.run(['volume', 'ls', '-q'])).stdout)).not.toContain(`${project}_data`);
    expect(String((await suite.run(['network', 'ls'])).stdout)).not.toContain(`${project}_default`);
  });
});
