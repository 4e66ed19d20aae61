// The CLI layer: declares commands, parses flags, and hands over to a command module that is
// imported only when that command runs (start-up time matters: `minid --version` loads nothing
// but commander). Errors: a MinidError prints one line and exits with its code; anything else
// is a bug and says so.
import { Command, CommanderError, Option } from 'commander';
import { isMinidError, MinidError } from '../errors.js';
import { watchOutput } from '../sys/output.js';
import { secureStore } from '../sys/paths.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

// --explain is a flag (so that `run --explain IMAGE` keeps its image); `--explain=HOW` becomes
// the hidden --explain-to=HOW before commander parses (explainEquals). See src/cli/explain.ts.
const EXPLAIN =
  'print every step while doing it, on stdout: the commands, why, the course chapter, a check command ' +
  '(--explain=script: a bash script; --explain=md: a markdown handout; --explain=FILE: into FILE)';
const explainTo = () => new Option('--explain-to <how>').hideHelp();

/**
 * `--explain=HOW` → `--explain-to=HOW`, for minid's own options only: in `run`/`create`, the
 * words after the image are the container's command and stay as they are (heuristic: the
 * first word that follows another word, not an option, is the image).
 */
export function explainEquals(argv: string[]): string[] {
  const out = [...argv];
  const runLike = out[2] === 'run' || out[2] === 'create' || (out[2] === 'container' && (out[3] === 'run' || out[3] === 'create'));
  const start = out[2] === 'container' ? 4 : 3;
  for (let i = start; i < out.length; i++) {
    const a = out[i];
    if (a === '--') break;
    if (runLike && !a.startsWith('-') && i > start && !out[i - 1].startsWith('-')) break; // the container's command
    if (a.startsWith('--explain=')) out[i] = `--explain-to=${a.slice('--explain='.length)}`;
  }
  return out;
}

function requireRoot(): void {
  if (process.getuid && process.getuid() !== 0) {
    process.stderr.write('minid: must be run as root (it creates namespaces, mounts and iptables rules): try `sudo minid ...`\n');
    process.exit(125);
  }
}

/**
 * docker's CLI exits 125 for minid's own failures only where docker gives 125: `run` (and
 * `create`) failing before the container starts, and flags it cannot parse. Every other
 * command's error is what the daemon would report: exit 1.
 */
const KEEPS_125 = new Set(['run', 'create', 'container run', 'container create']);

/** A command's path below `minid` ("network create", "run"). */
function commandPath(cmd: Command | undefined): string {
  const names: string[] = [];
  for (let c = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * The first command after a boot starts the --restart containers again (runtime/restart.ts;
 * nothing to do costs two small reads); it says which could not be.
 */
async function afterReboot(): Promise<void> {
  const { bootCheck } = await import('../runtime/restart.js');
  try {
    const r = await bootCheck();
    for (const f of r.failed) process.stderr.write(`minid: warning: could not restart container ${f}\n`);
  } catch (e) {
    // The command asked for goes on: its own work does not depend on this.
    process.stderr.write(`minid: warning: could not restart the --restart containers after the reboot: ${(e as Error).message}\n`);
  }
}

/** Lazy-load a command module and run one of its functions; root-only unless said otherwise. */
function action<T extends unknown[]>(load: () => Promise<(...a: T) => Promise<number | void> | number | void>, opts: { root?: boolean } = {}) {
  return async (...args: T) => {
    if (opts.root !== false) {
      requireRoot();
      // Before any command writes to the store: other host users must reach nothing of it.
      secureStore();
      await afterReboot();
    }
    const fn = await load();
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (e) {
      const cmd = args[args.length - 1] as Command | undefined;
      if (isMinidError(e) && e.exitCode === 125 && !KEEPS_125.has(commandPath(cmd))) throw new MinidError(e.message, 1);
      throw e;
    }
  };
}

export function buildProgram(): Command {
  const program = new Command('minid')
    .description('A teaching-grade container runtime: real namespaces, real images, every step visible.')
    .version('minid 0.1.0', '-v, --version')
    .enablePositionalOptions()
    .showHelpAfterError('(see `minid --help`)')
    // commander's "Did you mean" comes from edit distance alone: `top` would be offered `stop`,
    // `--init` offered `--cni`. A wrong hint misleads more than none.
    .showSuggestionAfterError(false)
    .configureOutput({ outputError: (s, write) => write(`minid: ${s.replace(/^error: /, '')}`) })
    .exitOverride();

  const runLike = (c: Command) =>
    c
      .option('-d, --detach', 'run in the background and print the container id')
      .option('--rm', 'remove the container when it exits')
      .option('--name <name>', 'name the container')
      .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
      .option('--env-file <file>', 'read environment variables from a file (repeatable)', collect, [])
      .option('-w, --workdir <dir>', 'working directory inside the container')
      .option('-u, --user <uid[:gid]>', 'user (name or number) and group to run as')
      .option('-h, --hostname <name>', 'container hostname')
      .option('-v, --volume <host:ctr[:ro]>', 'bind mount a host path, or a named volume NAME:/path (repeatable)', collect, [])
      .option('--mount <type=...,source=...,target=...>', 'bind, volume or tmpfs mount, docker\'s key=value syntax (repeatable)', collect, [])
      .option('-i, --interactive', 'keep stdin open')
      .option('-t, --tty', 'allocate a terminal')
      .option('--detach-keys <keys>', 'with -it: the keys that detach, leaving the container running (default: ctrl-p,ctrl-q)')
      .option('--entrypoint <cmd>', "override the image's entrypoint")
      .option('--network <mode>', 'none | host | bridge | container:NAME | NETWORK', 'bridge')
      .option('--cni <name>', 'attach with the CNI network configuration list NAME')
      .option('--cni-conf-dir <dir>', 'where CNI network configurations are', undefined)
      .option('--cni-path <dirs>', 'where CNI plugins are (colon-separated)', undefined)
      .option('-p, --publish <[ip:]host:ctr[/proto]>', 'publish a container port (repeatable)', collect, [])
      .option('-P, --publish-all', 'publish every exposed port to a random host port')
      .option('--expose <port[/proto]>', 'expose a port or a range (START-END) without publishing it; -P publishes it (repeatable)', collect, [])
      .option('--stop-signal <sig>', "the signal `stop` sends first (default: the image's StopSignal, else SIGTERM)")
      .option('--stop-timeout <seconds>', 'seconds `stop` waits before SIGKILL (default 10; -1: for ever)')
      .option('--cidfile <file>', "write the container's id to FILE (which must not exist)")
      .option('--read-only', "mount the container's root read-only (/dev, /dev/shm, volumes and --tmpfs stay writable)")
      .option('--tmpfs <path[:opts]>', 'mount a tmpfs at PATH (default noexec,nosuid,nodev; opts: size=64m, mode=1777, uid=, gid=, exec, ro...; repeatable)', collect, [])
      .option('--dns <ip>', 'DNS server for the container (repeatable)', collect, [])
      .option('--dns-search <domain>', 'DNS search domain (repeatable)', collect, [])
      .option('--dns-option <opt>', 'resolv.conf option, e.g. ndots:2 (repeatable)', collect, [])
      .option('--add-host <host:ip>', 'add a line to /etc/hosts (repeatable)', collect, [])
      .option('--network-alias <name>', 'another DNS name for the container on its user network (repeatable)', collect, [])
      .option('-m, --memory <bytes>', 'memory limit (units b, k, m, g; at least 6m)')
      .option('--memory-swap <bytes>', 'memory + swap limit (-1: unlimited swap; default: twice --memory)')
      .option('--cpus <number>', 'CPU time, in CPUs (e.g. 0.5)')
      .option('-c, --cpu-shares <weight>', 'CPU weight against other containers (default 1024)')
      .option('--cpuset-cpus <list>', 'CPUs the container may run on (e.g. 0-1,3)')
      .option('--pids-limit <n>', 'most processes at once (-1 or 0: unlimited)')
      .option('--cap-add <cap>', 'add a capability (NET_ADMIN, CAP_SYS_TIME, ALL...; repeatable)', collect, [])
      .option('--cap-drop <cap>', 'drop a capability from the default set (CHOWN, ALL...; repeatable)', collect, [])
      .option(
        '--privileged',
        'all capabilities, no seccomp filter, /proc and /sys not masked or read-only; unlike docker, no host devices ' +
          '(/dev stays minid\'s own) and the same namespaces; root in it can still take the host, as in docker: trusted images only',
      )
      .option('--security-opt <opt>', 'seccomp=PROFILE.json | seccomp=unconfined | no-new-privileges[=true|false] (repeatable)', collect, [])
      .option('--log-opt <opt>', 'max-size=SIZE (default 10m; -1: no cap) | max-file=N (default 3): the log files kept (repeatable)', collect, [])
      .option('--explain', EXPLAIN).addOption(explainTo())
      .option('--dry-run', 'print the network steps without changing the host')
      .option('--pull <policy>', 'pull the image: always | missing (when not in the store) | never', 'missing')
      .option('--platform <os/arch[/variant]>', 'the platform of the image to pull (default: this machine\'s linux/ARCH)')
      .option('-l, --label <key=value>', 'set a label on the container (repeatable)', collect, [])
      .option('--label-file <file>', 'read labels from a file, one KEY=VALUE a line (repeatable)', collect, [])
      .option('--init', 'run a tiny init as PID 1 that reaps zombies and passes signals on to the command')
      .option('--restart <policy>', 'restart the container when it exits: no | on-failure[:MAX-RETRIES] | always | unless-stopped', 'no')
      .option('--health-cmd <command>', "health check: a command run in the container by /bin/sh -c (exit 0: healthy); overrides the image's HEALTHCHECK")
      .option('--health-interval <duration>', 'time between checks (500ms, 2s, 1m30s; default 30s)')
      .option('--health-timeout <duration>', 'a check running longer is killed and counts as a failure (default 30s)')
      .option('--health-retries <n>', 'failures in a row that make it unhealthy (default 3)')
      .option('--health-start-period <duration>', 'time to start up: failures then do not count (default 0s)')
      .option('--health-start-interval <duration>', 'time between checks during the start period (default 5s)')
      .option('--no-healthcheck', "disable any health check, the image's too")
      .helpOption('--help', 'display help for command');

  runLike(
    program
      .command('run')
      .description('Run a command in a new container')
      .argument('<image>', 'image name or id')
      .argument('[command...]', 'command and arguments (default: the image Cmd)')
      .passThroughOptions(),
  ).action(action(async () => (await import('./commands/container.js')).run));

  runLike(
    program
      .command('create')
      .description('Create a container without starting it (status Created; `minid start` runs it)')
      .argument('<image>', 'image name or id')
      .argument('[command...]', 'command and arguments (default: the image Cmd)')
      .passThroughOptions(),
  ).action(action(async () => (await import('./commands/start.js')).create));

  program
    .command('start')
    .description('Start created or stopped containers')
    .argument('<containers...>')
    .option('-a, --attach', "attach to the container's output and wait for it to exit (its exit code)")
    .option('-i, --interactive', "attach the container's stdin too (it must have been created with -i)")
    .option('--detach-keys <keys>', 'with -ai on a -it container: the keys that detach, leaving it running (default: ctrl-p,ctrl-q)')
    .action(action(async () => (await import('./commands/start.js')).start));

  program
    .command('restart')
    .description('Restart containers: stop (stop signal, SIGKILL after the timeout), then start')
    .argument('<containers...>')
    .option('-t, --time <seconds>', "seconds to wait before SIGKILL (default: the container's --stop-timeout, else 10)")
    .action(action(async () => (await import('./commands/start.js')).restart));

  program
    .command('stats')
    .description('Show containers\' resource use: CPU, memory, network and block I/O, processes')
    .argument('[containers...]', 'default: every running container')
    .option('--no-stream', 'print once instead of refreshing every second')
    .option('--no-trunc', 'full container ids')
    .action(action(async () => (await import('./commands/stats.js')).stats));

  program
    .command('ps')
    .description('List containers')
    .option('-a, --all', 'show all containers (default: running only)')
    .option('-q, --quiet', 'only ids')
    .option('--json', 'machine-readable output')
    .option('-f, --filter <key=value>', 'status, name, id, label, ancestor, network, exited, before, since (repeatable)', collect, [])
    .option('--format <template>', 'Go template (docs/format.md), "table ..." or "json"')
    .option('--no-trunc', 'full ids and commands')
    .option('-n, --last <n>', 'the n containers created last (all states)')
    .option('-l, --latest', 'the container created last (all states)')
    .option('-s, --size', 'the size of each container\'s writable layer')
    .action(action(async () => (await import('./commands/ps.js')).ps));

  program
    .command('stop')
    .description('Stop running containers (stop signal, then SIGKILL after the timeout)')
    .argument('<containers...>')
    .option('-t, --time <seconds>', "seconds to wait before SIGKILL (default: the container's --stop-timeout, else 10)")
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => (await import('./commands/container.js')).stop));

  program
    .command('kill')
    .description('Send a signal to running containers')
    .argument('<containers...>')
    .option('-s, --signal <sig>', 'signal to send', 'SIGKILL')
    .action(action(async () => (await import('./commands/container.js')).kill));

  program
    .command('rm')
    .description('Remove containers and everything they set up')
    .argument('<containers...>')
    .option('-f, --force', 'kill running containers first')
    .option('-v, --volumes', "remove the containers' anonymous volumes too (named ones stay)")
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => (await import('./commands/container.js')).rm));

  program
    .command('logs')
    .description("Print a container's output")
    .argument('<container>')
    .option('-f, --follow', 'keep printing until the container exits')
    .option('-n, --tail <lines>', 'the last N lines only ("all": every line)', 'all')
    .option('-t, --timestamps', 'start each line with its time (RFC 3339, nanoseconds, UTC)')
    .option('--since <time>', 'lines from this time on: a duration before now (10m, 1h30m), Unix seconds, or an RFC 3339 date/time')
    .option('--until <time>', 'lines before this time (same forms as --since)')
    .action(action(async () => (await import('./commands/container.js')).logs));

  program
    .command('exec')
    .description('Run a command in a running container')
    .argument('<container>')
    .argument('<command...>')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a terminal')
    .option('--detach-keys <keys>', 'with -it: the keys that detach, leaving the command running (default: ctrl-p,ctrl-q)')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory')
    .option('-u, --user <uid[:gid]>', 'user to run as')
    .option('--privileged', "all capabilities for this command (the container's seccomp filter and no-new-privileges stay)")
    .passThroughOptions()
    .action(action(async () => (await import('./commands/container.js')).exec));

  program
    .command('attach')
    .description("Attach to a running container: its terminal (-t), or its output (and stdin, -i), until it exits (its exit code)")
    .argument('<container>')
    .option('--no-stdin', 'do not attach stdin')
    .option('--detach-keys <keys>', 'the keys that detach, leaving the container running (default: ctrl-p,ctrl-q)')
    .option('--sig-proxy [bool]', 'without a terminal: pass the signals minid gets on to the container (default true)')
    .action(action(async () => (await import('./commands/container.js')).attach));

  program
    .command('inspect')
    .description('Show containers, images or networks as JSON, docker-shaped')
    .argument('<names...>')
    .option('-f, --format <template>', 'Go template (docs/format.md), e.g. {{.State.Status}}')
    .option('--type <type>', 'container | image | network')
    .action(action(async () => (await import('./commands/inspect.js')).inspect));

  program
    .command('wait')
    .description('Wait for containers to exit and print their exit codes')
    .argument('<containers...>')
    .action(action(async () => (await import('./commands/container.js')).wait));

  program
    .command('trace')
    .description("Follow one probe TCP connection to a container's published port (or, service:NAME, a cluster service) through netfilter, hook by hook (nftables tracing)")
    .argument('<container>', 'a container, or service:NAME (a service of the cluster, with --from NODE/POD)')
    .option('-p, --port <port>', 'the published host port (a container)')
    .option('--from <source>', 'where the probe starts: host (its address), 127.0.0.1, lan (a peer namespace the trace makes and removes), container:NAME; NODE/POD for a service')
    .action(action(async () => (await import('./commands/trace.js')).trace));

  program
    .command('port')
    .description("List a container's published ports (or where one private port is published)")
    .argument('<container>')
    .argument('[private_port]', 'PRIVATE_PORT[/PROTO], e.g. 80 or 53/udp')
    .option('--format <template>', 'Go template over the port mappings (docs/format.md)')
    .action(action(async () => (await import('./commands/port.js')).port));

  program
    .command('cp')
    .description("Copy files between a container and the host (NAME:PATH; \"-\": a tar stream on stdin or stdout), inside the container's root")
    .argument('<src>', 'NAME:PATH, a host path, or - (a tar stream on stdin)')
    .argument('<dest>', 'NAME:PATH, a host path, or - (a tar stream on stdout)')
    .option('-a, --archive', "keep the files' owners (default: the receiving side's root)")
    .option('-L, --follow-link', 'copy what a symlink SRC points to')
    .action(action(async () => (await import('./commands/cp.js')).cp));

  program
    .command('rename')
    .description('Rename a container')
    .argument('<container>')
    .argument('<new_name>')
    .action(action(async () => (await import('./commands/verbs.js')).rename));

  program
    .command('pause')
    .description("Pause every process of containers (the cgroup freezer)")
    .argument('<containers...>')
    .action(action(async () => (await import('./commands/verbs.js')).pause));

  program
    .command('unpause')
    .description('Let paused containers go on')
    .argument('<containers...>')
    .action(action(async () => (await import('./commands/verbs.js')).unpause));

  program
    .command('top')
    .description("Show a container's processes (the host's ps, default -ef, filtered to the container's)")
    .argument('<container>')
    .argument('[ps_options...]', 'options for ps, e.g. -o pid,comm')
    .passThroughOptions()
    .allowUnknownOption()
    .action(action(async () => (await import('./commands/verbs.js')).top));

  program
    .command('diff')
    .description("What a container changed in its image's files: A added, C changed, D deleted")
    .argument('<container>')
    .action(action(async () => (await import('./commands/housekeeping.js')).diff));

  program
    .command('export')
    .description("Write a container's file system (image + its changes; no mounts) as a tar archive")
    .argument('<container>')
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .action(action(async () => (await import('./commands/housekeeping.js')).exportCmd));

  const containerCmd = program.command('container').description('Manage containers');
  containerCmd
    .command('prune')
    .description('Remove every container that is not running')
    .option('-f, --force', 'do not ask for confirmation')
    .action(action(async () => (await import('./commands/housekeeping.js')).containerPrune));

  program
    .command('load')
    .description('Load images from an OCI layout (directory or tar) or a `docker save` tarball')
    .requiredOption('-i, --input <file>', 'the image file or directory')
    .option('-q, --quiet', 'print nothing')
    .action(action(async () => (await import('./commands/image.js')).load));

  program
    .command('pull')
    .description('Pull an image from a registry (Docker Hub, a mirror, any OCI registry)')
    .argument('<image>', 'e.g. nginx, 127.0.0.1:5000/busybox:latest, registry.example.com/team/app@sha256:...')
    .option('-q, --quiet', 'print only the reference, no progress')
    .option('--platform <os/arch[/variant]>', "the image for this platform from a multi-platform index (default: this machine's linux/ARCH)")
    .action(action(async () => (await import('./commands/image.js')).pull));

  // The way back out: tag, push, save (src/cli/commands/push.ts). The `image` forms are below.
  const tagCmd = (c: Command) =>
    c
      .description('Give an image another name (SOURCE: name, ID or digest; TARGET: NAME[:TAG])')
      .argument('<source>', 'e.g. busybox, busybox:latest, a1b2c3d4e5f6')
      .argument('<target>', 'e.g. 127.0.0.1:5000/team/busybox:1.36')
      .action(action(async () => (await import('./commands/push.js')).tag));
  const pushCmd = (c: Command) =>
    c
      .description('Push an image to a registry (blobs it lacks, then the manifest)')
      .argument('<name>', 'NAME[:TAG], e.g. 127.0.0.1:5000/team/busybox:1.36')
      .option('-q, --quiet', 'print only the name pushed')
      .action(action(async () => (await import('./commands/push.js')).push));
  const saveCmd = (c: Command) =>
    c
      .description('Save images to a tar archive (stdout when piped) that docker, podman and minid load')
      .argument('<images...>')
      .option('-o, --output <file>', 'write to FILE instead of stdout')
      .option('--format <format>', 'docker-archive (as docker save) | oci-archive', 'docker-archive')
      .action(action(async () => (await import('./commands/push.js')).save));
  tagCmd(program.command('tag'));
  pushCmd(program.command('push'));
  saveCmd(program.command('save'));

  program
    .command('login')
    .description('Log in to a registry (checked against it, then saved with mode 0600)')
    .argument('[server]', 'HOST[:PORT]; Docker Hub when left out')
    .option('-u, --username <user>', 'user name')
    .option('-p, --password <password>', 'password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .action(action(async () => (await import('./commands/login.js')).login));

  program
    .command('logout')
    .description("Remove a registry's saved credentials")
    .argument('[server]', 'HOST[:PORT]; Docker Hub when left out')
    .action(action(async () => (await import('./commands/login.js')).logout));

  program
    .command('images')
    .description('List images')
    .argument('[repository]', 'only this repository (REPOSITORY[:TAG])')
    .option('-q, --quiet', 'only ids')
    .option('--json', 'machine-readable output')
    .option('--format <template>', 'Go template (docs/format.md), "table ..." or "json"')
    .option('--digests', 'show digests')
    .option('--no-trunc', 'full image ids')
    .option('-a, --all', 'all images (minid keeps no intermediate images)')
    .action(action(async () => (await import('./commands/image.js')).images));

  program
    .command('rmi')
    .description('Remove images (refused while a container uses them)')
    .argument('<images...>')
    .option('-f, --force', 'remove every name of the image')
    .action(action(async () => (await import('./commands/image-rm.js')).rmi));

  const image = program.command('image').description('Manage images');
  image
    .command('inspect')
    .argument('<images...>')
    .option('-f, --format <template>', 'Go template (docs/format.md)')
    .action(action(async () => (await import('./commands/inspect.js')).inspectImages));
  image
    .command('prune')
    .description('Remove dangling images (no name, no container); -a: every image no container uses')
    .option('-a, --all', 'every image without a container, not only dangling ones')
    .option('-f, --force', 'do not ask for confirmation')
    .action(action(async () => (await import('./commands/housekeeping.js')).imagePrune));
  image
    .command('ls')
    .argument('[repository]')
    .option('-q, --quiet')
    .option('--json')
    .option('--format <template>')
    .option('--digests')
    .option('--no-trunc')
    .option('-a, --all')
    .action(action(async () => (await import('./commands/image.js')).images));
  image
    .command('rm')
    .argument('<images...>')
    .option('-f, --force')
    .action(action(async () => (await import('./commands/image-rm.js')).rmi));

  tagCmd(image.command('tag'));
  pushCmd(image.command('push'));
  saveCmd(image.command('save'));

  program
    .command('topo')
    .description("Draw the network topology as the kernel holds it (links, addresses, routes, sysctls, minid's rules with live counters), marking where it disagrees with minid's records (exit 1 when something does)")
    .argument('[network]')
    .option('--format <format>', 'text (default), json, svg, or snapshot (the raw kernel snapshot the checks read)')
    .option('--cluster', 'draw the whole cluster (`minid cluster up`): the LAN, every node, its pods and routes, read inside each node')
    .action(action(async () => (await import('./commands/see.js')).topo));
  program
    .command('why')
    .description('Check bottom-up why a container port answers or not: ✓/✗ and the fix for each ✗ (changes nothing; exit 1 on a ✗)')
    .argument('<target>', 'CONTAINER[:PORT[/udp]]')
    .option('--from <where>', 'host | 127.0.0.1 | container:NAME', 'host')
    .option('--format <format>', 'text (default) or json')
    .action(action(async () => (await import('./commands/see.js')).why));

  const lab = program.command('lab').description('Hands-on labs that follow the course, each in throwaway namespaces of its own (docs/labs.md)');
  lab.command('list').description('List the labs').action(action(async () => (await import('./commands/lab.js')).list));
  lab.command('start').description("Build a lab's starting state (its own namespaces: the host is never touched)").argument('<lab>')
    .action(action(async () => (await import('./commands/lab.js')).start));
  lab.command('shell').description("A shell in the lab's host namespace, with $RED, $BLUE... set").argument('<lab>')
    .action(action(async () => (await import('./commands/lab.js')).shell));
  lab.command('check').description("Check the lab's kernel state and try its goal (exit 1 until solved)").argument('<lab>')
    .option('--format <format>', 'text (default) or json')
    .action(action(async () => (await import('./commands/lab.js')).check));
  lab.command('hint').description('One hint for the first thing that fails').argument('<lab>')
    .action(action(async () => (await import('./commands/lab.js')).hint));
  lab.command('solution').description('Print the reference solution').argument('<lab>')
    .action(action(async () => (await import('./commands/lab.js')).solution, { root: false }));
  lab.command('reset').description('Remove the lab and start it again').argument('<lab>')
    .action(action(async () => (await import('./commands/lab.js')).reset));
  lab.command('stop').description("Remove the lab: its namespaces, processes and files").argument('<lab>')
    .action(action(async () => (await import('./commands/lab.js')).stop));

  const dns = program.command('dns').description("Watch user networks' DNS servers");
  dns
    .command('log')
    .description("Show the queries a network's DNS servers answered: who asked what, the answer, forwarded or not")
    .argument('<network>')
    .option('-f, --follow', 'keep printing new queries as they come')
    .action(action(async () => (await import('./commands/dns.js')).dnsLog));

  const volume = program.command('volume').description('Manage named volumes (folders under the store, mounted with -v NAME:/path)');
  volume
    .command('create')
    .description('Create a volume (a random name when none is given); an existing one is kept')
    .argument('[name]')
    .option('-d, --driver <driver>', 'volume driver (local only)', 'local')
    .option('--label <key=value>', 'set a label on the volume (repeatable)', collect, [])
    .action(action(async () => (await import('./commands/volume.js')).volumeCreate));
  volume
    .command('ls')
    .alias('list')
    .description('List volumes')
    .option('-q, --quiet', 'only the names')
    .option('-f, --filter <key=value>', 'dangling=true|false, name=PART, label=KEY[=VALUE], driver=local (repeatable)', collect, [])
    .option('--format <template>', 'Go template per volume (Name, Driver, Scope, Mountpoint, Labels, CreatedAt)')
    .action(action(async () => (await import('./commands/volume.js')).volumeLs));
  volume
    .command('inspect')
    .description('Show volumes as JSON, docker-shaped')
    .argument('<name...>')
    .option('-f, --format <template>', 'Go template')
    .action(action(async () => (await import('./commands/volume.js')).volumeInspect));
  volume
    .command('rm')
    .alias('remove')
    .description('Remove volumes (refused while a container, even a stopped one, uses them)')
    .argument('<name...>')
    .option('-f, --force', 'no error for a volume that does not exist')
    .action(action(async () => (await import('./commands/volume.js')).volumeRm));
  volume
    .command('prune')
    .description('Remove every volume no container uses, named or anonymous (as docker 20.10)')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--filter <key=value>', 'label=KEY[=VALUE] (only those), label!=KEY[=VALUE] (all but those) (repeatable)', collect, [])
    .action(action(async () => (await import('./commands/volume.js')).volumePrune));

  const network = program.command('network').description('Manage networks (bridge networks, and CNI tools)');
  network
    .command('create')
    .description('Create a bridge network')
    .argument('<name>')
    .option('--subnet <cidr>', 'subnet (default: a free /24 that overlaps nothing on the host)')
    .option('--gateway <ip>', "the bridge's address (default: the subnet's first address)")
    .option('-d, --driver <driver>', 'only "bridge"', 'bridge')
    .option('--label <key=value>', 'set a label on the network (repeatable)', collect, [])
    .option('--label-file <file>', 'read labels from a file, one KEY=VALUE a line (repeatable)', collect, [])
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => { const m = await import('./commands/network.js'); return (n: string, o: any) => m.networkCreate(n, o); }));
  network
    .command('ls')
    .description('List networks')
    .option('-q, --quiet', 'only names')
    .option('--no-trunc', 'full ids')
    .option('--format <template>', 'Go template (docs/format.md), "table ..." or "json"')
    .action(action(async () => { const m = await import('./commands/network.js'); return (o: any) => m.networkLs({ quiet: o.quiet, noTrunc: o.trunc === false, format: o.format }); }));
  network
    .command('inspect')
    .description('Show networks as JSON, or draw one with --diagram')
    .argument('<names...>')
    .option('--diagram', 'draw the topology as the kernel holds it (the same as `minid topo NETWORK`)')
    .option('-f, --format <template>', 'Go template (docs/format.md)')
    .action(action(async () => { const m = await import('./commands/network.js'); return (n: string[], o: any) => m.networkInspect(n, o); }));
  network
    .command('rm')
    .description('Remove networks (refused while containers are attached)')
    .argument('<names...>')
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => { const m = await import('./commands/network.js'); return (n: string[], o: any) => m.networkRm(n, undefined, o); }));
  network
    .command('connect')
    .description('Connect a running container to a bridge network: a new interface (eth1, ...); the default route stays')
    .argument('<network>')
    .argument('<container>')
    .option('--ip <address>', "IPv4 address on the network (default: the next free one)")
    .option('--alias <name>', 'one more name for the container on this network (repeatable)', (v: string, p: string[] = []) => [...p, v])
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => (await import('./commands/netconnect.js')).networkConnect));
  network
    .command('disconnect')
    .description('Disconnect a container from a network added by `network connect`')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'succeed when there is nothing to disconnect; clean up after containers that are gone')
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => (await import('./commands/netconnect.js')).networkDisconnect));
  network
    .command('prune')
    .description('Remove networks no container uses')
    .option('-f, --force', 'do not ask for confirmation (minid does not ask: accepted for docker scripts)')
    .action(action(async () => { const m = await import('./commands/network.js'); return () => m.networkPrune(); }));
  network
    .command('check')
    .description("Check that a container's network attachments are still in place (--cni: the plugins' CHECK)")
    .argument('<container>')
    .action(action(async () => (await import('./commands/container.js')).networkCheck));
  network
    .command('gc')
    .description('CNI GC: release what CNI plugins hold for containers that are gone')
    .option('--cni-conf-dir <dir>')
    .option('--cni-path <dirs>')
    .action(action(async () => { const m = await import('./commands/cni.js'); return async (o: any) => void (await m.networkGc({ confDir: o.cniConfDir, cniPath: o.cniPath })); }));
  network
    .command('status')
    .description('CNI STATUS of every configured network')
    .option('--cni-conf-dir <dir>')
    .option('--cni-path <dirs>')
    .action(action(async () => { const m = await import('./commands/cni.js'); return async (o: any) => void (await m.networkStatus({ confDir: o.cniConfDir, cniPath: o.cniPath })); }));

  const cni = program.command('cni').description('Run a CNI network configuration list against any namespace (like cnitool)');
  for (const verb of ['add', 'del', 'check'] as const) {
    cni
      .command(verb)
      .argument('<name>', 'network configuration list name')
      .argument('<netns>', 'network namespace path, e.g. /run/netns/NAME')
      .option('--cni-conf-dir <dir>')
      .option('--cni-path <dirs>')
      .option('--ifname <name>', 'interface name inside the namespace', 'eth0')
      .option('-p, --publish <spec>', 'portMappings capability (repeatable)', collect, [])
      .option('--explain', 'print each plugin call: environment, config, result')
      .action(
        action(async () => {
          const m = await import('./commands/cni.js');
          const fn = verb === 'add' ? m.cniAdd : verb === 'del' ? m.cniDel : m.cniCheck;
          return async (name: string, netns: string, o: any) =>
            void (await fn(name, netns, { confDir: o.cniConfDir, cniPath: o.cniPath, ifName: o.ifname, publish: o.publish, explain: o.explain }));
        }),
      );
  }

  program
    .command('events')
    .description("Show the store's events (container start, die, stop, destroy...) and follow new ones")
    .option('--since <time>', 'events since TIME: a duration before now (10m), Unix seconds, or an RFC 3339 time')
    .option('--until <time>', 'stop at TIME (same forms); without it, follow new events until Ctrl-C')
    .option('-f, --filter <key=value>', 'container=, event=, type=, label=KEY[=VALUE], image=, network=, volume= (repeatable)', collect, [])
    .option('--format <template>', 'Go template (docs/format.md), or json')
    .action(action(async () => (await import('./commands/events.js')).events));

  program
    .command('version')
    .description("Show minid's version (docker's shape)")
    .option('-f, --format <template>', 'Go template (docs/format.md), or json')
    .action(action(async () => (await import('./commands/sysinfo.js')).version, { root: false }));

  program
    .command('info')
    .description('Show what minid and this host offer (docker\'s shape)')
    .option('-f, --format <template>', 'Go template (docs/format.md), or json')
    .action(action(async () => (await import('./commands/sysinfo.js')).info));

  // A cluster of nodes on one machine (src/cluster, docs/cluster.md); `minid --node NAME CMD`
  // runs CMD on a node (main() hands it over before parsing).
  program.option('--node <name>', 'run the command on a node of the cluster (`minid cluster up`): run, ps, rm, exec, logs, inspect...');
  const cluster = program.command('cluster').description('A cluster of nodes on one machine: pod networking as the course draws it');
  cluster
    .command('up')
    .description('Make N nodes (network namespaces) on a simulated LAN, each with its own minid store and pod subnet')
    .option('--nodes <n>', 'how many nodes (1 to 9)', '3')
    .option('--mode <mode>', 'routes (static routes between nodes) | vxlan (an overlay, flannel\'s vxlan backend)', 'routes')
    .option('--pod-cidr <cidr>', 'the pods\' range; node N gets its Nth /24', '10.244.0.0/16')
    .option('--lan <cidr>', 'the nodes\' LAN, a /24 (default: a free 192.168.X.0/24)')
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => (await import('./commands/cluster.js')).up));
  cluster
    .command('down')
    .description('Remove the cluster: its nodes\' containers, the nodes, the LAN, the records')
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => (await import('./commands/cluster.js')).down));
  cluster
    .command('status')
    .description('Show the nodes, checked against the kernel, with each node\'s routes to the other nodes\' pods')
    .action(action(async () => (await import('./commands/cluster.js')).status));

  // Services across the cluster, kube-proxy's iptables mode (src/cluster/services.ts, docs/cluster.md).
  const service = program.command('service').description('Services of the cluster: a virtual IP and kube-proxy\'s rules on every node');
  service
    .command('create <name>')
    .description('Make a service: a virtual IP (and a node port) sending to the containers whose labels match, on any node')
    .option('--port <port>', 'the service\'s port, on its virtual IP')
    .option('--target-port <port>', 'the containers\' port (default: --port)')
    .option('--selector <key=value>', 'the labels of its containers (minid --node X run -l key=value ...); several: a=b,c=d')
    .option('--type <type>', 'ClusterIP | NodePort', undefined)
    .option('--node-port <port>', 'NodePort: the port on every node\'s LAN address (30000-32767; default: the first free)')
    .option('--service-cidr <cidr>', 'the services\' range, chosen with the first service', undefined)
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => (await import('./commands/clusterservice.js')).create));
  service
    .command('ls')
    .description('List the services with their endpoints as the nodes hold them now')
    .action(action(async () => (await import('./commands/clusterservice.js')).ls));
  service
    .command('rm <name...>')
    .description('Remove services: their rules go from every node')
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => (await import('./commands/clusterservice.js')).rm));
  service
    .command('sync')
    .description('Re-read the endpoints from every node and rewrite the rules (done after every `minid --node X run|stop|rm ...`, and by a node\'s container that exits or restarts)')
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => (await import('./commands/clusterservice.js')).sync));

  const system = program.command('system').description('Manage minid itself');
  system
    .command('prune')
    .description('Remove stopped containers and any leftover kernel objects (after a crash or kill -9)')
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => (await import('./commands/container.js')).systemPrune));

  system
    .command('boot')
    .description('Start the --restart containers again after a reboot (any first minid command does it too; for a boot-time unit)')
    .action(action(async () => (await import('./commands/start.js')).systemBoot));

  system
    .command('df')
    .description('Show the space images and containers take, and what a prune would give back')
    .action(action(async () => (await import('./commands/housekeeping.js')).systemDf));

  system
    .command('service')
    .description('Serve the Docker Engine API on a unix socket (docker CLI, dockerode, testcontainers) until idle; see docs/engine-api.md')
    .option('--socket <path>', 'the socket (default: engine.sock in the store\'s run folder, MINID_RUN)')
    .option('--timeout <seconds>', 'exit after this many seconds without a request (0: never)', '5')
    .action(action(async () => (await import('./commands/service.js')).service));

  system
    .command('reset')
    .description("Remove every container and every network's kernel objects (bridges, rules, chains): the host as before minid")
    .option('--explain', EXPLAIN).addOption(explainTo())
    .action(action(async () => (await import('./commands/container.js')).systemReset));

  program
    .command('_health', { hidden: true })
    .argument('<id>')
    .argument('<supervisor>')
    .action(action(async () => (await import('./commands/container.js')).health));

  program
    .command('_exited', { hidden: true })
    .argument('<id>')
    .action(action(async () => (await import('./commands/container.js')).exited));

  return program;
}

const drained = (s: NodeJS.WriteStream): Promise<void> =>
  s.writableLength === 0 ? Promise.resolve() : new Promise((resolve) => s.once('drain', () => resolve()).once('error', () => resolve()));

const debugExit = () => {
  if (!process.env.MINID_DEBUG) return;
  const cpu = process.cpuUsage(); // this process only, not the commands it ran
  process.stderr.write(`[minid ${performance.now().toFixed(1).padStart(7)}] -- exit ${process.exitCode ?? 0} (minid's own CPU: ${(cpu.user / 1000).toFixed(0)} ms user, ${(cpu.system / 1000).toFixed(0)} ms system)\n`);
};

// The start-up snapshot builds the program once, when it is made (see prebuild).
let prebuilt: Command | undefined;

export async function main(argv: string[]): Promise<void> {
  watchOutput();
  const program = prebuilt ?? buildProgram();
  prebuilt = undefined;
  try {
    // `minid` alone: the help, and success (docker's).
    if (argv.length <= 2) {
      program.outputHelp();
      return void process.exit(0);
    }
    const node = nodeOption(argv);
    if (node) {
      // `minid --node NAME ARGS`: ARGS run by the node's own minid, inside the node (src/cluster).
      requireRoot();
      secureStore();
      const code = await (await import('../cluster/index.js')).runOnNode(node.name, node.rest);
      return void process.exit(code);
    }
    await program.parseAsync(explainEquals(argv));
    debugExit();
    // The command is done: exit now rather than when Node has closed every handle (a
    // finished child's pipes, timers) on its own, ~10 ms later; but not before stdout and
    // stderr are written out (a pipe takes 64 KiB at a time: `minid inspect ... | jq` of a
    // hundred containers would be cut short).
    await Promise.all([drained(process.stdout), drained(process.stderr)]);
    process.exit();
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0. docker's CLI: a flag it cannot parse is 125;
      // an unknown command or a missing argument is 1.
      if (e.exitCode === 0) process.exit(0);
      process.exit(['commander.unknownCommand', 'commander.missingArgument', 'commander.excessArguments'].includes(e.code) ? 1 : 125);
    }
    if (isMinidError(e)) {
      process.stderr.write(`minid: ${e.message}\n`);
      process.exit(e.exitCode);
    }
    process.stderr.write(`minid: internal error: ${(e as Error)?.message ?? e} (please report it; MINID_DEBUG=1 shows the stack)\n`);
    if (process.env.MINID_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    process.exit(125);
  }
}

/** `--node NAME` or `--node=NAME` before the command: the node and the rest of the arguments. */
function nodeOption(argv: string[]): { name: string; rest: string[] } | null {
  const a = argv[2];
  if (a === '--node' && argv.length > 3) return { name: argv[3], rest: argv.slice(4) };
  if (a?.startsWith('--node=')) return { name: a.slice(7), rest: argv.slice(3) };
  return null;
}

export { Option };

/**
 * For the start-up snapshot: declare every command and option now (~4 ms of a run otherwise).
 * Declaring reads nothing from the environment: defaults are constants, help text is laid out
 * when printed.
 */
export function prebuild(): void {
  prebuilt = buildProgram();
}

/** For the start-up snapshot: run the pure parts of a `minid run` once (see warmup.ts). */
export async function rehearse(): Promise<void> {
  const { warmUp } = await import('./warmup.js');
  await warmUp(buildProgram());
}

/**
 * For the start-up snapshot (scripts/bundle.mjs): load the modules of the commands whose
 * speed matters (run, ps, rm, stop, exec and the network they use) while the snapshot is
 * built, so they are in the heap when minid starts. Loading them must not read the
 * environment, the clock or the host: they only define functions and constants.
 */
export async function preload(): Promise<void> {
  prebuild();
  await Promise.all([
    import('./commands/container.js'),
    import('./commands/ps.js'),
    import('../runtime/container.js'),
    import('../runtime/attach.js'),
    import('../runtime/netglue.js'),
    import('../network/index.js'),
    import('../network/step.js'),
    import('../image/store.js'),
    import('../sys/exec.js'),
    import('../sys/spawner.js'),
    import('../sys/lock.js'),
  ]);
}
