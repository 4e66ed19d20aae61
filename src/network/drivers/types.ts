// The one interface every network driver implements (the table is in drivers/index.ts).
//
// A driver turns what the runtime asked for (an AttachRequest) into kernel objects and an
// Attachment, and undoes them from the Attachment alone (it is stored in the container's
// state, so a crash or a new minid process can still undo it). The built-in drivers plan
// their work as Steps (plan.ts: pure data, golden files) and run them with step.ts, which
// also prints --explain and --dry-run; a driver that hands the work to someone else (cni:
// the CNI plugins) prints what it calls instead.
import type { Cmd, DriverName, PortBinding, AttachRequest, Attachment } from '../types.js';

export type Explain = ((line: string) => void) | undefined;

export interface AttachOptions {
  explain?: (line: string) => void;
  /** Print the plan, change nothing (`minid run --dry-run`). */
  dryRun?: boolean;
}

export interface DetachOptions {
  explain?: (line: string) => void;
  /** The container's name now (`rename` may have changed it since attach): cni passes it to the plugins on DEL. */
  containerName?: string;
}

/** What `inspect` shows of an attachment, the same for every driver. */
export interface AttachmentView {
  /** The network's name as `inspect` keys it (bridge: the network; cni: the list; else the mode). */
  network: string;
  /** The container's interface ('' when the driver gives it none of its own). */
  ifName: string;
  /** Addresses and the endpoint's details: absent when the driver has none (host, none, container). */
  endpoint?: { ip?: string; prefixLength?: number; gateway?: string; mac?: string; aliases?: string[] };
  veth: string;
  bridge: string;
  connected: boolean;
  ports: PortBinding[];
}

export interface NetworkDriver<A extends Attachment = Attachment> {
  readonly name: DriverName;
  /**
   * Plan and apply what gives the container its network; returns the Attachment to store.
   * Everything the user can get wrong is refused before the host changes, and a failure
   * undoes what was applied: a refused or failed attach leaves no trace.
   */
  attach(req: AttachRequest, o: AttachOptions): Promise<A>;
  /** Plan and apply the undo of `att`. Idempotent and tolerant: what is gone already is skipped. */
  detach(att: A, o: DetachOptions): Promise<void>;
  /** The attachment as `inspect` shows it. */
  describe(att: A): AttachmentView;
  /**
   * Is the attachment still in place? One line per problem, [] when it is (cni: the plugins'
   * CHECK, which throws the plugin's error instead).
   */
  check(att: A, o: DetachOptions): Promise<string[]>;
}

/** The undo commands of an applied plan that are the container's own (see step.ts: Step.owner). */
export type UndoList = { undo: Cmd[][]; undoNames: string[] };
