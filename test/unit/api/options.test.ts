// The API's run options are `minid run`'s flags: every flag has its option (or is said to need
// none), and the same values give the runtime the same request, whether typed as flags (the
// CLI's parse, src/cli) or as options (src/api/options.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/main.js';
import { runRequest as cliRequest } from '../../../src/cli/commands/container.js';
import { runRequest as apiRequest } from '../../../src/api/options.js';
import type { RunOptions } from '../../../src/api/types.js';

/** Each long flag of `run` and the API option that stands for it. */
const FLAG_TO_OPTION: Record<string, keyof RunOptions | null> = {
  '--detach': null, // the API always runs detached
  '--rm': 'rm', '--name': 'name', '--env': 'env', '--env-file': 'envFiles', '--workdir': 'workdir', '--user': 'user',
  '--hostname': 'hostname', '--volume': 'volumes', '--mount': 'mounts', '--interactive': 'interactive', '--tty': 'tty',
  '--detach-keys': null, // nothing attaches: no keys to detach with
  '--entrypoint': 'entrypoint', '--network': 'network', '--cni': 'cni', '--cni-conf-dir': 'cni', '--cni-path': 'cni',
  '--publish': 'ports', '--publish-all': 'publishAll', '--expose': 'expose', '--stop-signal': 'stopSignal',
  '--stop-timeout': 'stopTimeout', '--cidfile': 'cidfile', '--read-only': 'readOnly', '--tmpfs': 'tmpfs', '--dns': 'dns',
  '--dns-search': 'dnsSearch', '--dns-option': 'dnsOptions', '--add-host': 'addHosts', '--network-alias': 'networkAliases',
  '--memory': 'memory', '--memory-swap': 'memorySwap', '--cpus': 'cpus', '--cpu-shares': 'cpuShares', '--cpuset-cpus': 'cpusetCpus',
  '--pids-limit': 'pidsLimit', '--cap-add': 'capAdd', '--cap-drop': 'capDrop', '--privileged': 'privileged',
  '--security-opt': 'securityOpt', '--log-opt': 'logOpts', '--explain': 'explain',
  '--explain-to': 'explain', // where the lines go: the API's explain is the caller's own function
  '--dry-run': null, // a plan printed, nothing run: the CLI's
  '--pull': 'pull', '--platform': 'platform', '--label': 'labels', '--label-file': 'labelFiles', '--help': null,
  '--init': 'init', '--restart': 'restart',
  '--health-cmd': 'healthcheck', '--health-interval': 'healthcheck', '--health-timeout': 'healthcheck', '--health-retries': 'healthcheck',
  '--health-start-period': 'healthcheck', '--health-start-interval': 'healthcheck', '--no-healthcheck': 'healthcheck',
};

/** What commander hands `run` for these arguments. */
async function parsed(argv: string[]): Promise<{ image: string; command: string[]; o: any }> {
  const program = buildProgram();
  const run = program.commands.find((c) => c.name() === 'run')!;
  let got: { image: string; command: string[]; o: any } | undefined;
  run.action((image: string, command: string[], o: any) => void (got = { image, command, o }));
  await program.parseAsync(['node', 'minid', 'run', ...argv]);
  return got!;
}

describe('the API\'s run options', () => {
  it('cover every flag of `minid run`', () => {
    const run = buildProgram().commands.find((c) => c.name() === 'run')!;
    const flags = run.options.map((o) => o.long!).concat('--help');
    expect(flags.filter((f) => !(f in FLAG_TO_OPTION))).toEqual([]);
  });

  it('give the runtime the request the same flags give it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-api-unit-'));
    const labels = path.join(dir, 'labels');
    fs.writeFileSync(labels, 'from=file\n');
    try {
      const cli = await parsed([
        '--rm', '--name', 'web', '-e', 'A=1', '-e', 'B', '-w', '/srv', '-u', 'nobody', '-h', 'box', '-v', '/tmp:/x:ro', '--mount', 'type=tmpfs,target=/t',
        '-i', '-t', '--entrypoint', 'sh', '--network', 'back', '-p', '8080:80', '-p', '53/udp', '-P', '--expose', '9000', '--stop-signal', 'SIGINT',
        '--stop-timeout', '3', '--read-only', '--tmpfs', '/run:size=1m', '--dns', '10.0.0.2', '--dns-search', 'example.test', '--dns-option', 'ndots:2',
        '--add-host', 'db:10.0.0.9', '--network-alias', 'www', '-m', '64m', '--memory-swap', '-1', '--cpus', '0.5', '-c', '512', '--cpuset-cpus', '0',
        '--pids-limit', '50', '--cap-add', 'NET_ADMIN', '--cap-drop', 'CHOWN', '--security-opt', 'no-new-privileges', '--log-opt', 'max-size=1m',
        '-l', 'a=b', '--label-file', labels, '--health-cmd', 'curl -f localhost', '--health-interval', '2s', '--health-retries', '4', 'nginx', '-c', 'echo hi',
      ]);
      const api = await apiRequest('nginx', {
        rm: true, name: 'web', env: ['A=1', 'B'], workdir: '/srv', user: 'nobody', hostname: 'box', volumes: ['/tmp:/x:ro'], mounts: ['type=tmpfs,target=/t'],
        interactive: true, tty: true, entrypoint: 'sh', network: 'back', ports: ['8080:80', '53/udp'], publishAll: true, expose: [9000], stopSignal: 'SIGINT',
        stopTimeout: 3, readOnly: true, tmpfs: ['/run:size=1m'], dns: ['10.0.0.2'], dnsSearch: ['example.test'], dnsOptions: ['ndots:2'],
        addHosts: { db: '10.0.0.9' }, networkAliases: ['www'], memory: '64m', memorySwap: -1, cpus: 0.5, cpuShares: 512, cpusetCpus: '0',
        pidsLimit: 50, capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'], securityOpt: ['no-new-privileges'], logOpts: ['max-size=1m'],
        labels: { a: 'b' }, labelFiles: [labels], healthcheck: { cmd: 'curl -f localhost', interval: '2s', retries: 4 }, command: ['-c', 'echo hi'],
      }, {});
      // The API always runs detached (-d); the rest is the same request.
      expect({ ...api, explain: undefined }).toEqual({ ...cliRequest(cli.image, cli.command, cli.o), detach: true, explain: undefined });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('healthcheck: false is --no-healthcheck; an argv is docker\'s ["CMD", ...]', async () => {
    expect((await apiRequest('busybox', { healthcheck: false }, {})).health).toEqual({ none: true });
    expect((await parsed(['--no-healthcheck', 'busybox'])).o.healthcheck).toBe(false);
    expect((await apiRequest('busybox', { healthcheck: { cmd: ['pg_isready', '-q'], interval: '1s' } }, {})).healthcheck).toEqual({ Test: ['CMD', 'pg_isready', '-q'], Interval: 1e9 });
  });

  it('add the session\'s label, and refuse ports where the CLI refuses them', async () => {
    expect((await apiRequest('busybox', { labels: { a: 'b' } }, { 'minid.session': 'abc' })).labels).toEqual({ a: 'b', 'minid.session': 'abc' });
    await expect(apiRequest('busybox', { network: 'none', ports: [80] }, {})).rejects.toThrow(/cannot be published with network "none"/);
    await expect(apiRequest('', {}, {})).rejects.toThrow(/give an image name/);
  });
});
