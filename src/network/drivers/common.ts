// Small pieces the drivers share.
import fs from 'node:fs';
import { short } from '../names.js';
import type { Step } from '../step.js';
import type { UndoList } from './types.js';

/**
 * What an attachment records of an applied plan: the undo of the container's own steps (not
 * the network's or the host's, which outlive it), in apply order, with their names.
 */
export function ownUndo(steps: Step[]): UndoList {
  const own = steps.filter((s) => (s.owner ?? 'container') === 'container' && !s.skip && s.undo.length > 0);
  return { undo: own.map((s) => s.undo), undoNames: own.map((s) => s.name) };
}

/** "container web (3f2a1b4c5d6e)" for titles. */
export const who = (att: { containerName?: string; containerId?: string }): string =>
  att.containerName ? `container ${att.containerName}${att.containerId ? ` (${short(att.containerId)})` : ''}` : 'container';

/** check(): the namespace file is there (a namespace removed by hand, a reboot: it is not). */
export const netnsProblems = (path: string | undefined): string[] =>
  !path ? ['no network namespace is recorded'] : fs.existsSync(path) ? [] : [`the network namespace ${path} is gone`];
