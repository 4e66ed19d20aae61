// A rehearsal of `minid run --rm -p 8080:80 busybox true`, for the start-up snapshot only
// (scripts/bundle.mjs): V8 compiles a function the first time it runs, and a snapshot keeps
// the compiled code of the functions that ran while it was made (measured here: 3,000 small
// functions, 30 ms to compile on first call, 1.3 ms from a snapshot that ran them). So the
// pure parts of the run path run once here: the flags parsed, the network plans built,
// explained and carried out through a recorder, the supervisor's scripts written out as text.
// Nothing here touches the host, reads the environment or keeps any state: the recorder
// answers every command with success.
import type { Command } from 'commander';

export async function warmUp(program: Command): Promise<void> {
  // The CLI: parse a typical run, with every action replaced by a no-op.
  for (const c of program.commands) c.action(() => {});
  await program.parseAsync(['node', 'minid', 'run', '--rm', '-p', '8080:80', '-e', 'A=1', '--name', 'web', 'busybox', 'true']);
  await program.parseAsync(['node', 'minid', 'ps', '-a']);

  const exec = await import('../sys/exec.js');
  const step = await import('../network/step.js');
  const plan = await import('../network/plan.js');
  const ports = await import('../network/ports.js');
  const names = await import('../network/names.js');
  const spec = await import('../runtime/spec.js');
  const launch = await import('../runtime/launch.js');

  exec.setRunner(async () => ({ exitCode: 0, stdout: '', stderr: '' }));
  exec.setTracer(() => {});
  try {
    const id = 'f'.repeat(64);
    const network = { id: 'e'.repeat(64), name: 'bridge', driver: 'bridge' as const, bridge: 'minid0', subnet: '172.30.0.0/16', gateway: '172.30.0.1', created: '' };
    const specs = ['8080:80', '127.0.0.1:8443:443/tcp'].map(ports.parsePortSpec);
    const bindings = specs.map((s) => ({ protocol: s.protocol, hostIp: s.hostIp, hostPort: s.hostPorts?.[0] ?? 8080, containerPort: s.containerPorts[0] }));
    const steps = plan.planBridgeAttach({ containerId: id, containerName: 'web', network, store: { id: '0000beef', legacy: false, root: '/r' }, ip: '172.30.0.2', prefixLength: 16, mtu: 1500, ports: bindings, state: { networkUp: true, ipForward: true } });
    const res = await step.applyPlan(steps, { concurrent: true, title: 'attach' });
    const lines: string[] = [];
    await step.applyPlan(steps, { dryRun: true, explain: (l) => lines.push(l), title: 'attach' });
    const att = { mode: 'bridge' as const, containerId: id, containerName: 'web', netnsName: names.netnsName(id), netnsPath: names.netnsPath(id), network: 'bridge', bridge: 'minid0', veth: names.vethHost(id), ip: '172.30.0.2', prefixLength: 16, gateway: '172.30.0.1', mac: names.macFor('172.30.0.2'), ports: bindings, undo: res.applied.map((s) => s.undo), undoNames: res.applied.map((s) => s.name) };
    await step.applyPlan(plan.planDetach(att), { tolerant: true, concurrent: true, title: 'detach' });
    plan.planNoneAttach({ containerId: id, containerName: 'web' });

    // The container's command, environment and supervisor, as text.
    spec.resolveCommand({ Cmd: ['sh'], Env: ['PATH=/bin'] }, ['true'], undefined);
    spec.mergeEnv(['PATH=/bin'], ['A=1'], ['HOSTNAME=web'], [], ['B=2']);
    spec.randomName();
    const init = {
      id, name: 'web', runDir: '/run/minid/containers/x', rootfs: '/r', lowerdirs: ['/l1', '/l2'], upperdir: '/u', workdir: '/w',
      hostname: 'web', volumes: [], etcFiles: [{ name: 'hosts', source: '/c/hosts' }], initBin: '/b/minid-init', envFile: '/e',
      uid: 0, gid: 0, cwd: '/', argv: ['true'], loopbackUp: false, netns: names.netnsPath(id), waitFd: 4, reportFd: 5, hostProc: ['sys', 'kcore'], hostSysFirmware: true,
      security: { caps: '0,1', seccomp: '/run/minid/containers/x/seccomp', noNewPrivs: false, privileged: false },
    };
    const sec = await import('../runtime/security.js');
    sec.defaultProfileRules(sec.defaultCaps({ devicePolicy: false }), sec.thisHost('x64', '6.1.0'));
    launch.fstabs(init);
    launch.shimScript({ id, name: 'web', runDir: '/run/minid/containers/x', exitFile: '/c/exit.json', launch: launch.unshareArgs({ newNet: false }), init: launch.initArgs(init), hook: ['minid', '_exited', id] });
    JSON.parse(JSON.stringify({ ...init, created: new Date(0).toISOString() }, null, 2));
  } finally {
    exec.setRunner(null);
    exec.setTracer(undefined); // back to MINID_DEBUG's say, read when a command runs
  }
}
