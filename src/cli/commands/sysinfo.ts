// `minid version` and `minid info`: docker's shapes (test/fixtures/docker/version.json and
// info.json), filled with what minid is and what this host has; --format as docker's.
import fs from 'node:fs';
import os from 'node:os';
import { root } from '../../sys/paths.js';

const VERSION = '0.1.0';
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };

async function render(obj: unknown, format: string | undefined, text: () => string): Promise<void> {
  if (!format) return void process.stdout.write(text());
  const { printInspected } = await import('./inspect.js');
  // One object, one line: printInspected prints a list.
  if (format === 'json') return void process.stdout.write(JSON.stringify(obj) + '\n');
  await printInspected([obj], format);
}

/** docker's version object (the Engine API's GET /version is its Server part). */
export function versionObject() {
  const arch = GOARCH[process.arch] ?? process.arch;
  const common = { Version: VERSION, ApiVersion: '1.41', GitCommit: '', GoVersion: `node${process.versions.node}`, Os: 'linux', Arch: arch, BuildTime: '' };
  const v = {
    Client: { Platform: { Name: 'minid' }, ...common, DefaultAPIVersion: '1.41', Context: 'default', Experimental: false },
    Server: {
      Platform: { Name: 'minid' },
      Components: [{ Name: 'Engine', Version: VERSION, Details: { ApiVersion: '1.41', Arch: arch, KernelVersion: os.release(), Os: 'linux' } }],
      ...common,
      MinAPIVersion: '1.12',
      KernelVersion: os.release(),
    },
  };
  return v;
}

export async function version(o: { format?: string } = {}): Promise<void> {
  const v = versionObject();
  const arch = v.Server.Arch;
  const common = { GoVersion: v.Server.GoVersion };
  await render(v, o.format, () =>
    [
      'Client:',
      ` Version:           ${VERSION}`,
      ` API version:       1.41`,
      ` Go version:        ${common.GoVersion}`,
      ` OS/Arch:           linux/${arch}`,
      '',
      'Server: minid',
      ' Engine:',
      `  Version:          ${VERSION}`,
      `  Kernel version:   ${os.release()}`,
      '',
    ].join('\n'),
  );
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

/** docker's info object (GET /info). */
export async function infoObject() {
  const { listStates } = await import('../../runtime/state.js');
  const { hostLayout } = await import('../../runtime/cgroup.js');
  const { listImages } = await import('../../image/store.js');
  const states = listStates();
  const count = (s: string) => states.filter((x) => x.status === s).length;
  const layout = hostLayout();
  const i = {
    ID: '',
    Containers: states.length,
    ContainersRunning: count('running'),
    ContainersPaused: 0,
    ContainersStopped: states.length - count('running'),
    Images: (await listImages()).length,
    Driver: 'overlay2',
    CgroupDriver: layout ? 'cgroupfs' : 'none',
    CgroupVersion: layout ? String(layout.version) : '',
    KernelVersion: os.release(),
    OperatingSystem: osName(),
    OSType: 'linux',
    Architecture: os.machine(),
    NCPU: os.cpus().length,
    MemTotal: os.totalmem(),
    DockerRootDir: root(),
    Name: os.hostname(),
    ServerVersion: VERSION,
    LoggingDriver: 'json-file',
    DefaultRuntime: 'minid',
    SecurityOptions: ['name=seccomp,profile=default'],
    Warnings: null,
  };
  return i;
}

export async function info(o: { format?: string } = {}): Promise<void> {
  const i = await infoObject();
  await render(i, o.format, () =>
    [
      'Server:',
      ` Containers: ${i.Containers}`,
      `  Running: ${i.ContainersRunning}`,
      `  Paused: 0`,
      `  Stopped: ${i.ContainersStopped}`,
      ` Images: ${i.Images}`,
      ` Server Version: ${VERSION}`,
      ` Storage Driver: overlay2`,
      ` Cgroup Driver: ${i.CgroupDriver}`,
      ` Cgroup Version: ${i.CgroupVersion}`,
      ` Kernel Version: ${i.KernelVersion}`,
      ` Operating System: ${i.OperatingSystem}`,
      ` OSType: linux`,
      ` Architecture: ${i.Architecture}`,
      ` CPUs: ${i.NCPU}`,
      ` Total Memory: ${(i.MemTotal / 2 ** 30).toFixed(2)}GiB`,
      ` Name: ${i.Name}`,
      ` Docker Root Dir: ${i.DockerRootDir}`,
      '',
    ].join('\n'),
  );
}
