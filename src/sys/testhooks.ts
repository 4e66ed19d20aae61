// Hooks for the recovery tests, inert unless their environment variables are set.

/**
 * Crash injection: MINID_CRASH_AT=NAME makes minid die with SIGKILL at the point of that
 * name, as a power cut or `kill -9` would, so `minid system prune` can be shown to clean up.
 * MINID_CRASH_SIGNAL=SIGINT: a Ctrl-C at that point instead (see holdSignals in
 * src/runtime/attach.ts). Points: "created" (cli run), "after-network" (runtime/container.ts),
 * "network-batch" (network/step.ts, after each batch of commands).
 */
export function crashPoint(name: string): void {
  if (process.env.MINID_CRASH_AT === name) process.kill(process.pid, (process.env.MINID_CRASH_SIGNAL as NodeJS.Signals) || 'SIGKILL');
}
