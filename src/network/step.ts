// Networking as an explicit plan of named, reversible steps.
//
// A Step knows how to apply itself, how to undo itself and how to print itself as the commands
// a person would type (`ip ...`, `iptables ...`, `sysctl ...`). applyPlan() runs the steps in
// order and, on failure, undoes the steps already applied (in reverse) before it throws one
// clear error naming the step. --explain prints the steps while they run; --dry-run only prints.
//
// Speed: every `ip`/`iptables` process costs ~8 ms, so consecutive commands of one kind run as
// one process: `ip -batch -`, `ip -n NS -batch -`, `iptables-restore --noflush`, one `sysctl -w`.
// The explain output still shows the per-step commands (a batch does exactly what they do).
//
// A few steps minid carries out itself (Step.act: the cluster's DNS servers, src/cluster/dns.ts:
// a file written whole, a daemon started and recorded, a signal to a PID checked first); they
// print as the commands a person would type for the same effect, and roll back like the others.
import { formatCommand, quote, run, type RunResult } from '../sys/exec.js';
import fs from 'node:fs';
import { MinidError } from '../errors.js';
import { probe } from './host.js';
import type { Cmd } from './types.js';
import { crashPoint } from '../sys/testhooks.js';
import { narrationFor, undoReason } from './narration.js';

// Milliseconds from a monotonic clock (process.hrtime: `performance` would load perf_hooks).
const clock = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Who owns what a step creates: its undo is kept with the container, the network, or nowhere. */
export type Owner = 'container' | 'network' | 'host';

export interface Step {
  /** Short imperative name: 'create the veth pair'. */
  name: string;
  /** One line for teaching: why the step exists. */
  why: string;
  apply: Cmd[];
  undo: Cmd[];
  /** Default 'container'. */
  owner?: Owner;
  /** Set when the step is not needed (already done): printed, not run. */
  skip?: string;
  /** Sysctls to read back after the step ran ("set and check"). */
  check?: { sysctl: string; value: string }[];
  /**
   * A step minid carries out itself rather than by running `apply` (a file written whole, a
   * daemon started and its PID recorded, a signal sent to a PID checked first): `apply` and
   * `undo` stay what the step prints, the commands a person would type for the same effect
   * (--explain=script replays them); `act` does it, any process through the exec seam.
   */
  act?: { apply: () => Promise<void>; undo?: () => Promise<void> };
  /** What the narration's check needs that the commands do not show (a server's log file). */
  facts?: Record<string, string>;
}

export interface PlanOptions {
  explain?: (line: string) => void;
  dryRun?: boolean;
  /** First line of the explain output. */
  title?: string;
  /** What the plan does, for the error message: "network setup failed at step ...". */
  what?: string;
  /** Run every command, ignore failures (teardown): collect them in PlanResult.errors. */
  tolerant?: boolean;
  /**
   * Run the iptables batches alongside the others (two processes at a time instead of one
   * after the other). Only for plans whose iptables steps need no other step: a container's
   * attach and detach. Ignored when explaining.
   */
  concurrent?: boolean;
}

export interface PlanResult {
  /** Steps that ran (not skipped), in order. */
  applied: Step[];
  /** Failures ignored in tolerant mode, one line each. */
  errors: string[];
  ms: number;
  /** Commands the steps contain, and processes actually started for them. */
  commands: number;
  execs: number;
}

export const cmd = (...argv: string[]): Cmd => ({ argv });
/** Writing a file whole, as typed: `cat > FILE` with the text on its stdin (a step's act writes it). */
export const catTo = (file: string, text: string): Cmd => ({ argv: ['cat'], input: text, to: file });

// --- printing ---------------------------------------------------------------------------

function commentOut(text: string): string {
  return text
    .split('\n')
    .map((l) => `#   ${l}`)
    .join('\n');
}

/**
 * Where the commands run. A minid running on a cluster node (src/cluster) runs inside the
 * node's network namespace: its commands are printed as a person on the host would type them.
 */
const where = (): string[] => (process.env.MINID_NODE_NETNS ? ['nsenter', `--net=/run/netns/${process.env.MINID_NODE_NETNS}`] : []);

/**
 * The lines of one step, numbered: a shell comment header (what, why; then, from the narration
 * table, where it is in the course, where the course's own command goes wrong, and a command to
 * check it yourself), then the commands (pasteable).
 */
export function formatStep(step: Step, index: number, total: number): string[] {
  const head = `# [${index}/${total}] ${step.name}: ${reasonOf(step)}`;
  const notes = narrationLines(step);
  const w = where();
  const line = (c: Cmd): string => printCmd({ ...c, argv: [...w, ...c.argv] });
  if (step.skip) return [head, ...notes, `#   (skipped: ${step.skip})`, ...step.apply.map((c) => commentOut(line(c)))];
  return [head, ...notes, ...step.apply.map(line)];
}

/** A command as typed: `cat > FILE <<'EOF'` for one whose output goes to a file. */
function printCmd(c: Cmd): string {
  if (c.to === undefined) return formatCommand(c.argv, c.input);
  const [head, ...rest] = formatCommand(c.argv, c.input).split('\n');
  return [head.replace(/( <<'EOF')?$/, (heredoc) => ` > ${quote(c.to!)}${heredoc}`), ...rest].join('\n');
}

/** A teardown or rollback step says why its undo exists, not just "teardown". */
function reasonOf(step: Step): string {
  if (step.why !== 'teardown' && step.why !== 'roll back') return step.why;
  const inner = /^undo "(.*)"$/.exec(step.name)?.[1] ?? step.name;
  const why = undoReason(step.name) ?? `what "${inner}" made belongs to the container and goes with it`;
  return step.why === 'roll back' ? `roll back (a later step failed): ${why}` : why;
}

function narrationLines(step: Step): string[] {
  const n = /^undo "/.test(step.name) ? undefined : narrationFor(step.name); // an undo's reason is in its head line
  if (!n) return [];
  const lines = [`#   course: ${n.course}`];
  if (n.courseSays) lines.push(`#   course caveat: ${n.courseSays}`);
  if (n.check) lines.push(`#   check: ${n.check(step.apply, step.facts ?? {})}`);
  return lines;
}

/** The whole plan as a shell script a person could paste into a root shell. */
export function formatPlan(steps: Step[], title?: string): string {
  const lines: string[] = [];
  if (title) lines.push(`# ${title}`);
  steps.forEach((s, i) => lines.push(...formatStep(s, i + 1, steps.length)));
  return lines.join('\n') + '\n';
}

// --- batching ---------------------------------------------------------------------------

interface Unit {
  step: number;
  cmd: Cmd;
  /** A step minid carries out itself (Step.act): one unit, its first command names it. */
  act?: () => Promise<void>;
}

type Kind = { key: string; type: 'act' } | { key: string; type: 'ip'; ns: string | null } | { key: string; type: 'iptables' } | { key: string; type: 'sysctl' } | { key: string; type: 'single' };

function classify(c: Cmd): Kind {
  const a = c.argv;
  if (c.to !== undefined) return { key: 'single', type: 'single' };
  if (c.input === undefined && a[0] === 'ip') {
    const ns = a[1] === '-n' ? a[2] : null;
    const rest = ns ? a.slice(3) : a.slice(1);
    if (rest.length > 0 && !rest[0].startsWith('-') && rest.every((x) => x !== '' && !/[\s"'\\#]/.test(x))) {
      return { key: `ip:${ns ?? ''}`, type: 'ip', ns };
    }
  }
  if (c.input === undefined && a[0] === 'iptables' && a.every((x) => !/["\n]/.test(x))) return { key: 'iptables', type: 'iptables' };
  if (c.input === undefined && a[0] === 'sysctl' && a[1] === '-w' && a.length === 3) return { key: 'sysctl', type: 'sysctl' };
  return { key: 'single', type: 'single' };
}

/** The line a batch gets for this command, and (iptables) its table. */
function ipLine(c: Cmd): string {
  return (c.argv[1] === '-n' ? c.argv.slice(3) : c.argv.slice(1)).join(' ');
}
function iptablesParts(c: Cmd): { table: string; line: string } {
  const a = c.argv.slice(1);
  let table = 'filter';
  const i = a.indexOf('-t');
  if (i >= 0) {
    table = a[i + 1];
    a.splice(i, 2);
  }
  return { table, line: a.map((x) => (/\s/.test(x) ? `"${x}"` : x)).join(' ') };
}

interface BatchRun {
  execs: number;
  /** Index (within the batch) of the first failing command, or -1. */
  failed: number;
  message: string;
  /** Tolerant mode: every failure. */
  errors: string[];
  /** The batch's program is not installed: the line that says which package gives it. */
  missing?: MinidError;
}

function lastLine(r: RunResult): string {
  return (
    (r.stderr + '\n' + r.stdout)
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !/^Command failed -:\d+$/.test(l) && !/^iptables-restore v[\d.]+/.test(l))
      .pop() ?? `exit code ${r.exitCode}`
  );
}

async function safeRun(argv: string[], input?: string): Promise<RunResult & { missing?: MinidError }> {
  try {
    return await run(argv, { input, allowFail: true });
  } catch (e) {
    const missing = e instanceof MinidError && (e as NodeJS.ErrnoException).code === 'ENOENT' ? e : undefined;
    return { exitCode: 127, stdout: '', stderr: e instanceof Error ? e.message : String(e), missing };
  }
}

async function runOne(c: Cmd): Promise<BatchRun> {
  const r = await safeRun(c.argv, c.input);
  if (r.exitCode === 0 && c.to !== undefined) fs.writeFileSync(c.to, r.stdout); // `> FILE`
  if (r.exitCode === 0) return { execs: 1, failed: -1, message: '', errors: [] };
  const msg = lastLine(r);
  return { execs: 1, failed: 0, message: msg, errors: [`${formatCommand(c.argv)}: ${msg}`], missing: r.missing };
}

async function runEach(cmds: Cmd[], execsSoFar: number): Promise<BatchRun> {
  const out: BatchRun = { execs: execsSoFar, failed: -1, message: '', errors: [] };
  for (const c of cmds) {
    const r = await runOne(c);
    out.execs += 1;
    out.errors.push(...r.errors);
  }
  return out;
}

/** A step minid carries out itself: its error, if any, is the step's failure (a missing program: its own line). */
async function runAct(act: () => Promise<void>, c: Cmd, tolerant: boolean): Promise<BatchRun> {
  try {
    await act();
    return { execs: 1, failed: -1, message: '', errors: [] };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const missing = e instanceof MinidError && (e as NodeJS.ErrnoException).code === 'ENOENT' ? e : undefined;
    if (tolerant) return { execs: 1, failed: -1, message: '', errors: [`${formatCommand(c.argv)}: ${message}`] };
    return { execs: 1, failed: 0, message, errors: [], missing };
  }
}

async function runBatch(kind: Kind, cmds: Cmd[], tolerant: boolean): Promise<BatchRun> {
  if (cmds.length === 1 || kind.type === 'single') {
    if (!tolerant) {
      let execs = 0;
      for (let i = 0; i < cmds.length; i++) {
        const r = await runOne(cmds[i]);
        execs++;
        if (r.failed >= 0) return { execs, failed: i, message: r.message, errors: [], missing: r.missing };
      }
      return { execs, failed: -1, message: '', errors: [] };
    }
    return runEach(cmds, 0);
  }

  if (kind.type === 'ip') {
    const argv = ['ip', ...(kind.ns ? ['-n', kind.ns] : []), ...(tolerant ? ['-force'] : []), '-batch', '-'];
    const r = await safeRun(argv, cmds.map(ipLine).join('\n') + '\n');
    if (r.exitCode === 0) return { execs: 1, failed: -1, message: '', errors: [] };
    // iproute2 prints the error, then "Command failed -:LINE".
    const errors: string[] = [];
    const lines = r.stderr.split('\n');
    let first = -1;
    let firstMsg = '';
    lines.forEach((l, i) => {
      const m = /^Command failed -:(\d+)/.exec(l.trim());
      if (!m) return;
      const idx = Number(m[1]) - 1;
      const msg = lines.slice(0, i).reverse().find((x) => x.trim() && !/^Command failed/.test(x.trim()))?.trim() ?? 'failed';
      if (first < 0) {
        first = idx;
        firstMsg = msg;
      }
      if (cmds[idx]) errors.push(`${formatCommand(cmds[idx].argv)}: ${msg}`);
    });
    if (tolerant) return { execs: 1, failed: -1, message: '', errors: errors.length ? errors : [`${formatCommand(argv)}: ${lastLine(r)}`] };
    return { execs: 1, failed: first >= 0 ? first : 0, message: first >= 0 ? firstMsg : lastLine(r), errors: [], missing: r.missing };
  }

  if (kind.type === 'iptables') {
    // iptables-restore --noflush: each *table ... COMMIT block is one atomic transaction,
    // and the input stops at the first failing line. Never declare chains with ':NAME' here:
    // with --noflush that would flush an existing chain. '-N' in the block creates it instead.
    const text: string[] = [];
    const lineToCmd = new Map<number, number>();
    let table: string | null = null;
    cmds.forEach((c, i) => {
      const p = iptablesParts(c);
      if (p.table !== table) {
        if (table !== null) text.push('COMMIT');
        text.push(`*${p.table}`);
        table = p.table;
      }
      text.push(p.line);
      lineToCmd.set(text.length, i);
    });
    text.push('COMMIT');
    const r = await safeRun(['iptables-restore', '--noflush'], text.join('\n') + '\n');
    if (r.exitCode === 0) return { execs: 1, failed: -1, message: '', errors: [] };
    if (tolerant) return runEach(cmds, 1); // find out which ones fail; run the rest anyway
    const m = /line (\d+)/.exec(r.stderr);
    let idx = 0;
    if (m) {
      // The failing line, or (a COMMIT line) the last command before it.
      for (let l = Number(m[1]); l > 0; l--) {
        if (lineToCmd.has(l)) {
          idx = lineToCmd.get(l)!;
          break;
        }
      }
    }
    return { execs: 1, failed: idx, message: lastLine(r), errors: [], missing: r.missing };
  }

  // sysctl -w a=1 b=2: one process; it sets what it can and fails if any key failed.
  const argv = ['sysctl', '-w', ...cmds.map((c) => c.argv[2])];
  const r = await safeRun(argv);
  if (r.exitCode === 0) return { execs: 1, failed: -1, message: '', errors: [] };
  const bad = cmds.findIndex((c) => {
    const key = c.argv[2].split('=')[0];
    return r.stderr.includes(key.replace(/\./g, '/')) || r.stderr.includes(key);
  });
  if (tolerant) return { execs: 1, failed: -1, message: '', errors: [`${formatCommand(argv)}: ${lastLine(r)}`] };
  return { execs: 1, failed: Math.max(bad, 0), message: lastLine(r), errors: [], missing: r.missing };
}

// --- the executor -----------------------------------------------------------------------

/** Run the steps (see the top of this file). Its phases are the functions after it. */
export async function applyPlan(steps: Step[], opts: PlanOptions = {}): Promise<PlanResult> {
  const t0 = clock();
  const say = opts.explain ?? (opts.dryRun ? (l: string) => process.stdout.write(l + '\n') : null);
  const total = steps.length;
  const result: PlanResult = { applied: [], errors: [], ms: 0, commands: 0, execs: 0 };

  const node = process.env.MINID_NODE ? ` on node ${process.env.MINID_NODE} (Pod networking: every command runs inside the node's network namespace)` : '';
  if (opts.title && say) say(`# ${opts.title}${node}${opts.dryRun ? ' (dry run: nothing is changed)' : ''}`);
  if (opts.dryRun) {
    steps.forEach((s, i) => formatStep(s, i + 1, total).forEach((l) => say?.(l)));
    result.ms = clock() - t0;
    return result;
  }

  const { batches, commands, lastUnitOf } = batchSteps(steps);
  result.commands = commands;
  const run: PlanRun = { steps, opts, say, result, lastUnitOf, printThrough: stepPrinter(steps, say) };
  const lanes = splitLanes(batches, !!opts.concurrent && !say);
  const startedPerLane = lanes.map(() => new Set<number>());
  const failures = await Promise.all(lanes.map((l, i) => runLane(run, l, startedPerLane[i])));
  if (failures.some((f) => f !== null)) await rollBack(run, failures, startedPerLane);
  run.printThrough(total - 1);
  result.applied = steps.filter((s) => !s.skip);
  result.ms = clock() - t0;
  say?.(`# done: ${result.applied.length} of ${total} steps, ${result.commands} commands in ${result.execs} processes, ${result.ms.toFixed(0)} ms`);
  return result;
}

type Batch = { kind: Kind; units: Unit[] };

/** A plan being applied: what the phases below share. */
interface PlanRun {
  steps: Step[];
  opts: PlanOptions;
  say: ((line: string) => void) | null;
  result: PlanResult;
  /** The last command of each step: a step is complete once the batch holding it has run. */
  lastUnitOf: Map<number, Unit>;
  /** Print the steps not printed yet, up to this one (index). */
  printThrough: (stepIdx: number) => void;
}

/** Where a lane stopped: the step (index) and what went wrong. */
interface Failure {
  step: number;
  detail: string;
  missing?: MinidError;
}

/** Phase 1: the commands of the steps not skipped; consecutive commands of one kind form a batch. */
function batchSteps(steps: Step[]): { batches: Batch[]; commands: number; lastUnitOf: Map<number, Unit> } {
  const units: Unit[] = [];
  let commands = 0;
  steps.forEach((s, i) => {
    if (s.skip) return;
    commands += s.apply.length;
    if (s.act) units.push({ step: i, cmd: s.apply[0] ?? { argv: [s.name] }, act: s.act.apply });
    else for (const c of s.apply) units.push({ step: i, cmd: c });
  });
  const lastUnitOf = new Map<number, Unit>();
  for (const u of units) lastUnitOf.set(u.step, u);
  const batches: Batch[] = [];
  for (const u of units) {
    const kind: Kind = u.act ? { key: 'act', type: 'act' } : classify(u.cmd);
    const last = batches[batches.length - 1];
    if (last && last.kind.key === kind.key && kind.type !== 'single' && kind.type !== 'act') last.units.push(u);
    else batches.push({ kind, units: [u] });
  }
  return { batches, commands, lastUnitOf };
}

/** Steps are printed as their commands are about to run, each once, in plan order. */
function stepPrinter(steps: Step[], say: ((line: string) => void) | null): (stepIdx: number) => void {
  let printed = 0; // steps printed so far
  return (stepIdx) => {
    for (; printed <= stepIdx && printed < steps.length; printed++) {
      if (say) formatStep(steps[printed], printed + 1, steps.length).forEach((l) => say(l));
    }
  };
}

/**
 * Phase 2: lanes. iptables commands never depend on links, addresses or sysctls (a rule names
 * an interface, it does not need it to exist), and nothing else depends on a rule. So with
 * `concurrent`, the iptables batches run in one lane while the ip/sysctl batches run in the
 * other, each lane in plan order. When explaining, one lane: the output reads top to bottom.
 */
function splitLanes(batches: Batch[], concurrent: boolean): Batch[][] {
  if (!concurrent) return [batches];
  const rules = batches.filter((b) => b.kind.type === 'iptables');
  const rest = batches.filter((b) => b.kind.type !== 'iptables');
  // the lane whose first batch comes first in the plan starts first
  return (batches[0]?.kind.type === 'iptables' ? [rules, rest] : [rest, rules]).filter((l) => l.length > 0);
}

/** Phase 3: run a lane's batches in order, noting the steps it started; not tolerant, stop at the first failure. */
async function runLane(run: PlanRun, lane: Batch[], started: Set<number>): Promise<Failure | null> {
  const { steps, opts, say, result } = run;
  for (const b of lane) {
    run.printThrough(b.units[b.units.length - 1].step);
    b.units.forEach((u) => started.add(u.step));
    const act = b.units[0].act;
    const r = act ? await runAct(act, b.units[0].cmd, !!opts.tolerant) : await runBatch(b.kind, b.units.map((u) => u.cmd), !!opts.tolerant);
    result.execs += r.execs;
    crashPoint('network-batch');
    if (opts.tolerant) {
      for (const e of r.errors) {
        result.errors.push(e);
        say?.(`#   (ignored: ${e})`);
      }
      continue;
    }
    if (r.failed >= 0) {
      const u = b.units[Math.min(r.failed, b.units.length - 1)]; // a line number past the batch: its last
      return { step: u.step, detail: `${formatCommand(u.cmd.argv)}: ${r.message}`, missing: r.missing };
    }
    // "Set and check": read back the sysctls of the steps this batch completed.
    for (const stepIdx of new Set(b.units.map((u) => u.step))) {
      if (run.lastUnitOf.get(stepIdx) !== b.units.filter((u) => u.step === stepIdx).pop()) continue; // continues in a later batch
      for (const c of steps[stepIdx].check ?? []) {
        const got = await probe().readSysctl(c.sysctl);
        if (got !== c.value) return { step: stepIdx, detail: `${c.sysctl} is ${got ?? 'missing'} after setting it to ${c.value}` };
      }
    }
  }
  return null;
}

/**
 * Phase 4, on failure: undo what was applied, then throw one error naming the first failed step.
 * What to roll back: in a lane that failed, the steps up to the failing one (a batch stops at
 * its first error); in a lane that did not, everything it started.
 */
async function rollBack(run: PlanRun, failures: (Failure | null)[], startedPerLane: Set<number>[]): Promise<never> {
  const { steps, opts, say } = run;
  const total = steps.length;
  const failure = failures.filter((f): f is Failure => f !== null).sort((a, b) => a.step - b.step)[0];
  const s = steps[failure.step];
  const toUndo = startedPerLane
    .flatMap((set, i) => [...set].filter((j) => !failures[i] || j <= failures[i]!.step))
    .sort((a, b) => a - b);
  say?.(`# step ${failure.step + 1}/${total} failed: ${failure.detail}`);
  const undone = await undoSteps(toUndo.map((i) => steps[i]), { explain: say ?? undefined });
  const undoneText = toUndo.length > 1 || (toUndo.length === 1 && toUndo[0] !== failure.step) ? '; undid the steps already applied' : '';
  const leftovers = undone.errors.length ? ` (undo left ${undone.errors.length} error(s): ${undone.errors[0]})` : '';
  // A program that is not installed: its one line, which names the package to install (the
  // undo of the step it was to run fails too, expectedly: that step did nothing).
  if (failure.missing) throw failure.missing;
  throw new MinidError(`${opts.what ?? 'network setup'} failed at step ${failure.step + 1}/${total} "${s.name}": ${failure.detail}${undoneText}${leftovers}`);
}

/** Undo steps (given in apply order): their undo commands in reverse, ignoring failures. */
export async function undoSteps(steps: Step[], opts: { explain?: (l: string) => void } = {}): Promise<PlanResult> {
  const reverse = [...steps].reverse().filter((s) => s.undo.length > 0);
  const plan: Step[] = reverse.map((s) => ({ name: `undo "${s.name}"`, why: 'roll back', apply: s.undo, undo: [], ...(s.act?.undo ? { act: { apply: s.act.undo } } : {}) }));
  return applyPlan(plan, { explain: opts.explain, tolerant: true });
}
