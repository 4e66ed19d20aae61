// The public types of minid's TypeScript API (src/api/index.ts). This file imports nothing
// but the API's own classes: the package's .d.ts is these types and the classes of index.ts,
// never the runtime's own.
import type { Container } from './index.js';

/**
 * `minid run`'s flags as typed options (the container always runs detached: `-d` is implied;
 * its output is read with `logs()` and `waitForLog()`). Each field names the flag it stands
 * for; a value is checked exactly as the CLI checks the flag, with the same one-line error.
 */
export interface RunOptions {
  /** The command and its arguments (default: the image's Cmd, after its Entrypoint). */
  command?: string[];
  /** --entrypoint ('' clears the image's). */
  entrypoint?: string;
  /** --name (default: a random docker-style name). */
  name?: string;
  /** -e: { KEY: 'value' } or ['KEY=value', 'KEY'] (a bare KEY takes this process's value). */
  env?: Record<string, string> | string[];
  /** --env-file (repeatable). */
  envFiles?: string[];
  /** -w */
  workdir?: string;
  /** -u USER[:GROUP] */
  user?: string;
  /** -h */
  hostname?: string;
  /** -v HOST:CTR[:ro] or NAME:CTR[:ro] or CTR (an anonymous volume). */
  volumes?: string[];
  /** --mount type=bind|volume|tmpfs,source=...,target=...[,readonly] */
  mounts?: string[];
  /** --tmpfs PATH[:OPTS] */
  tmpfs?: string[];
  /** --read-only */
  readOnly?: boolean;
  /** -t: the container's own terminal (its output is one stream, stdout). */
  tty?: boolean;
  /** -i: its stdin kept open (a `sh` stays up); the API does not write to it. */
  interactive?: boolean;
  /** --network none | host | bridge (default) | container:NAME | a network's name. */
  network?: string;
  /** --cni NAME (with --cni-conf-dir, --cni-path). */
  cni?: { name: string; confDir?: string; path?: string };
  /**
   * -p: '8080:80', '127.0.0.1::80/udp', or a container port alone (a number or '80'): a random
   * free host port, read back with `container.port(80)`.
   */
  ports?: (string | number)[];
  /** -P: every exposed port to a random host port. */
  publishAll?: boolean;
  /** --expose PORT[/proto] or START-END. */
  expose?: (string | number)[];
  /** --dns */
  dns?: string[];
  /** --dns-search */
  dnsSearch?: string[];
  /** --dns-option */
  dnsOptions?: string[];
  /** --add-host: { name: 'ip' } or ['name:ip']. */
  addHosts?: Record<string, string> | string[];
  /** --network-alias (user networks only). */
  networkAliases?: string[];
  /** -m (bytes, or with a unit: '64m'). */
  memory?: string | number;
  /** --memory-swap (-1: unlimited). */
  memorySwap?: string | number;
  /** --cpus */
  cpus?: string | number;
  /** -c, --cpu-shares */
  cpuShares?: string | number;
  /** --cpuset-cpus '0-1,3' */
  cpusetCpus?: string;
  /** --pids-limit */
  pidsLimit?: string | number;
  /** --cap-add */
  capAdd?: string[];
  /** --cap-drop */
  capDrop?: string[];
  /** --privileged */
  privileged?: boolean;
  /** --security-opt seccomp=FILE | seccomp=unconfined | no-new-privileges */
  securityOpt?: string[];
  /** --log-opt max-size=10m, max-file=3 */
  logOpts?: string[];
  /** -l, --label (the session's label is added to them). */
  labels?: Record<string, string>;
  /** --label-file */
  labelFiles?: string[];
  /** --stop-signal */
  stopSignal?: string;
  /** --stop-timeout, seconds (-1: stop waits for ever). */
  stopTimeout?: number;
  /** --cidfile */
  cidfile?: string;
  /** --init: a tiny init as PID 1 that reaps zombies and forwards signals to the command. */
  init?: boolean;
  /** --restart: no, on-failure[:N], always, unless-stopped (the supervisor restarts it). */
  restart?: 'no' | 'always' | 'unless-stopped' | 'on-failure' | `on-failure:${number}`;
  /** --rm: removed as soon as it exits (then `logs()` has nothing to read). */
  rm?: boolean;
  /**
   * Its health check (docker's HEALTHCHECK; the image's, if any, without it). `false`:
   * --no-healthcheck. `cmd` a string: --health-cmd (run by /bin/sh -c); an array: docker's
   * ["CMD", ...] (run as is). Durations as Go writes them: '500ms', '2s', '1m30s'.
   */
  healthcheck?: false | HealthcheckOptions;
  /** --pull always | missing (default) | never */
  pull?: 'always' | 'missing' | 'never';
  /** --platform os/arch[/variant] */
  platform?: string;
  /** --explain: each step, as the command a person would type, to this function. */
  explain?: (line: string) => void;
}

/** A published port: what `minid port` prints. */
export interface PortMapping {
  containerPort: number;
  protocol: 'tcp' | 'udp';
  /** '0.0.0.0': every IPv4 address of the host, 127.0.0.1 included. */
  hostIp: string;
  hostPort: number;
}

export interface ExecOptions {
  /** -u */
  user?: string;
  /** -w */
  workdir?: string;
  /** -e, as for run. */
  env?: Record<string, string> | string[];
  /** --privileged: every capability for this command. */
  privileged?: boolean;
  /** Written to the command's stdin, which is then closed (none: stdin is /dev/null). */
  input?: string | Buffer;
}

/** An exec's result: its exit code (128+N after signal N) and its output. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface LogsOptions {
  /** The last N lines only. */
  tail?: number;
  /** Lines from this time on: a Date, or what `--since` takes ('10m', Unix seconds, RFC 3339). */
  since?: Date | string;
  /** Lines before this time. */
  until?: Date | string;
  /** Each line starts with its time (RFC 3339, nanoseconds). */
  timestamps?: boolean;
}

export interface Logs {
  stdout: string;
  stderr: string;
}

export interface WaitOptions {
  /** Milliseconds before the wait fails (default 60 000). */
  timeout?: number;
  /** Milliseconds between two tries (default 100). */
  interval?: number;
}

export interface WaitForLogOptions extends WaitOptions {
  /** Which stream to search (default: both). */
  stream?: 'stdout' | 'stderr' | 'both';
  /** How many matches to wait for (default 1), as testcontainers' Wait.forLogMessage. */
  times?: number;
}

/** The `healthcheck` run option: --health-cmd, --health-interval, ... */
export interface HealthcheckOptions {
  cmd: string | string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  startPeriod?: string;
  startInterval?: string;
}

/**
 * A test's own idea of healthy, for `waitForHealthy(check)` (without one, the container's own
 * health check decides): a function that resolves to anything but `false` without throwing,
 * or a command run in the container (as `exec`) that exits 0.
 */
export type HealthCheck = string[] | ((container: Container) => unknown | Promise<unknown>);

export interface CopyOptions {
  /** cp -a: keep the files' owners (default: the receiving side's root). */
  archive?: boolean;
  /** cp -L: copy what a symlink source points to. */
  followLink?: boolean;
}

export interface NetworkOptions {
  /** Default: a random name "minid-api-…". */
  name?: string;
  subnet?: string;
  gateway?: string;
  /** Only 'bridge'. */
  driver?: string;
  labels?: Record<string, string>;
}

export interface ConnectOptions {
  ip?: string;
  aliases?: string[];
}

export type ContainerStatus = 'created' | 'running' | 'restarting' | 'exited';

export interface SessionOptions {
  /**
   * Start the reaper (default true): a detached process that removes this session's
   * containers and networks when this process is gone, killed or crashed.
   */
  reaper?: boolean;
  /** Where the reaper writes what it removed and its errors (default: $MINID_REAPER_LOG, else nowhere). */
  reaperLog?: string;
}
