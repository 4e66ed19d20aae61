// Typed options to the runtime's requests: what src/cli/commands/container.ts does for flags
// (runRequest, netSettings), for the API. Values are passed on as the user would type them, so
// the runtime checks them once, for both, with the same one-line errors.
import { fail } from '../errors.js';
import type { RunRequest } from '../runtime/container.js';
import type { RunOptions } from './types.js';

const str = (v: string | number | undefined): string | undefined => (v === undefined ? undefined : String(v));

/** { KEY: 'v' } or ['KEY=v', 'KEY'] as -e flags. */
export function envFlags(env: Record<string, string> | string[] | undefined): string[] {
  if (!env) return [];
  return Array.isArray(env) ? env : Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/** Every RunRequest field has its option (checked by the compiler: a new flag must be added here). */
type Covered = 'image' | 'args' | 'detach' | 'rm' | 'name' | 'env' | 'envFiles' | 'workdir' | 'user' | 'hostname' | 'volumes' | 'mounts' | 'tty'
  | 'interactive' | 'entrypoint' | 'net' | 'limits' | 'capAdd' | 'capDrop' | 'privileged' | 'securityOpt' | 'logOpts' | 'labels' | 'expose'
  | 'stopSignal' | 'stopTimeout' | 'cidfile' | 'readOnly' | 'tmpfs' | 'explain' | 'init' | 'restart' | 'health' | 'healthcheck';
/** The Engine API's own (docker run -i's StdinOnce): the API's run has no attached client. */
type EngineOnly = 'stdinOnce';
const allCovered: Exclude<keyof RunRequest, Covered | EngineOnly> extends never ? true : false = true;
void allCovered;

export async function runRequest(image: string, o: RunOptions, labels: Record<string, string>): Promise<RunRequest> {
  if (typeof image !== 'string' || !image) fail('run: give an image name, e.g. run("busybox", { command: ["echo", "hi"] })');
  let mode = o.network ?? 'bridge';
  if (o.cni) mode = `cni:${o.cni.name}`;
  const ports = (o.ports ?? []).map(String);
  if (mode === 'host' && (ports.length || o.publishAll)) fail('ports cannot be published with network "host": the host\'s own ports are the container\'s');
  if ((mode === 'none' || mode.startsWith('container:')) && (ports.length || o.publishAll))
    fail(`ports cannot be published with network "${mode}": use the bridge network or a user-defined one`);
  const addHosts = Array.isArray(o.addHosts) ? o.addHosts : Object.entries(o.addHosts ?? {}).map(([h, ip]) => `${h}:${ip}`);
  const { parseLabels } = await import('../cli/labels.js');
  return {
    image,
    args: o.command ?? [],
    detach: true,
    rm: !!o.rm,
    name: o.name,
    env: envFlags(o.env),
    envFiles: o.envFiles ?? [],
    workdir: o.workdir,
    user: o.user,
    hostname: o.hostname,
    volumes: o.volumes ?? [],
    mounts: o.mounts ?? [],
    tty: !!o.tty,
    interactive: !!o.interactive,
    entrypoint: o.entrypoint,
    net: {
      mode,
      network: mode === 'none' || mode === 'host' || mode.includes(':') ? undefined : mode,
      ports,
      publishAll: !!o.publishAll,
      dns: o.dns ?? [],
      dnsSearch: o.dnsSearch ?? [],
      dnsOptions: o.dnsOptions ?? [],
      addHosts,
      aliases: o.networkAliases ?? [],
      cni: o.cni ? { confDir: o.cni.confDir, path: o.cni.path } : undefined,
    },
    limits: { memory: str(o.memory), memorySwap: str(o.memorySwap), cpus: str(o.cpus), cpuShares: str(o.cpuShares), cpusetCpus: o.cpusetCpus, pidsLimit: str(o.pidsLimit) },
    capAdd: o.capAdd ?? [],
    capDrop: o.capDrop ?? [],
    privileged: !!o.privileged,
    securityOpt: o.securityOpt ?? [],
    logOpts: o.logOpts ?? [],
    labels: { ...parseLabels([], o.labelFiles ?? []), ...(o.labels ?? {}), ...labels },
    expose: (o.expose ?? []).map(String),
    stopSignal: o.stopSignal,
    stopTimeout: str(o.stopTimeout),
    cidfile: o.cidfile,
    init: !!o.init,
    restart: o.restart ?? 'no',
    readOnly: !!o.readOnly,
    tmpfs: o.tmpfs ?? [],
    ...(await healthOptions(o.healthcheck)),
    explain: o.explain,
  };
}

/** The healthcheck option as the flags (a string command), or as docker's config (an argv: Test ["CMD", ...]). */
async function healthOptions(h: RunOptions['healthcheck']): Promise<Pick<RunRequest, 'health' | 'healthcheck'>> {
  if (h === undefined) return {};
  if (h === false) return { health: { none: true } };
  const flags = { interval: h.interval, timeout: h.timeout, retries: str(h.retries), startPeriod: h.startPeriod, startInterval: h.startInterval };
  if (typeof h.cmd === 'string') return { health: { ...flags, cmd: h.cmd } };
  if (!Array.isArray(h.cmd) || !h.cmd.length) fail('healthcheck: give cmd, a shell command ("curl -f localhost") or an argv (["pg_isready"])');
  const { parseHealthFlags } = await import('../runtime/health.js');
  return { healthcheck: { ...parseHealthFlags(flags), Test: ['CMD', ...h.cmd] } };
}
