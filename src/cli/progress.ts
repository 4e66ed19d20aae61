// How a pull looks: src/image/pull.ts tells what happens (PullEvent), this file draws it.
//
// On a terminal, docker's live display: one line per layer, redrawn in place (the cursor goes
// back up over the block, each line is cleared and written again), and a total with the speed:
//
//   9ad63333ebc9: Downloading [=========>                  ]  1.2MB/3.4MB
//   3f1b5c0a7d2e: Waiting
//   Total: 1.2MB/5.1MB  4.8MB/s
//
// Anywhere else (a CI log, a pipe), plain lines: one per layer event worth a line, no bars.
import type { LayerStatus, PullEvent } from '../image/pull.js';

/** "1.2MB", as docker writes sizes (decimal units). */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)}${units[i]}`;
}

/** "[=====>     ]" for `done` of `total`. */
export function bar(done: number, total: number, width = 50): string {
  const filled = total > 0 ? Math.min(width, Math.floor((done / total) * width)) : 0;
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? (filled === width ? '=' : '>') : ''}${' '.repeat(width - filled)}]`;
}

/** Statuses worth a line when not on a terminal (docker's non-terminal output, minus the floods). */
const PLAIN: Partial<Record<LayerStatus, string>> = {
  'Already exists': 'Already exists',
  Waiting: 'Pulling fs layer',
  Retrying: 'Retrying',
  'Download complete': 'Download complete',
  'Pull complete': 'Pull complete',
};

interface Row {
  /** '' until the first state of the layer is told. */
  status: LayerStatus | '';
  current: number;
  total: number;
}

export class PullDisplay {
  private readonly rows = new Map<string, Row>();
  private drawn = 0; // lines of the block on the screen
  private timer: NodeJS.Timeout | null = null;
  private started = 0;
  private bytesAtStart = 0;
  /** True when anything was downloaded (docker's "Downloaded newer image" vs "Image is up to date"). */
  downloaded = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly live = !!out.isTTY,
  ) {}

  readonly event = (e: PullEvent): void => {
    if (e.kind === 'info') {
      this.clear();
      this.out.write(`${e.line}\n`);
      this.draw();
      return;
    }
    if (e.kind === 'layers') {
      for (const l of e.layers) if (!this.rows.has(l.id)) this.rows.set(l.id, { status: '', current: 0, total: l.size });
      return;
    }
    const row = this.rows.get(e.id) ?? { status: e.status, current: 0, total: e.total ?? 0 };
    this.rows.set(e.id, row);
    const changed = row.status !== e.status;
    row.status = e.status;
    if (e.current !== undefined) row.current = e.current;
    if (e.status === 'Downloading' || e.status === 'Download complete') this.downloaded = true;
    if (e.status === 'Downloading' && !this.started) {
      this.started = Date.now();
      this.bytesAtStart = this.totals().done;
    }
    if (e.status === 'Download complete') row.current = row.total;
    if (!this.live) {
      if (changed && PLAIN[e.status]) this.out.write(`${e.id}: ${PLAIN[e.status]}\n`);
      return;
    }
    // A new state is shown at once; byte counts at most ten times a second.
    if (changed) this.draw();
    else this.timer ??= setTimeout(() => this.draw(), 100);
  };

  private totals(): { done: number; all: number } {
    let done = 0;
    let all = 0;
    for (const r of this.rows.values()) {
      if (r.status === 'Already exists') continue;
      all += r.total;
      done += r.status === 'Waiting' || r.status === '' ? 0 : r.status === 'Downloading' || r.status === 'Retrying' ? r.current : r.total;
    }
    return { done, all };
  }

  private line(id: string, r: Row): string {
    if (r.status === '') return `${id}: Pulling fs layer`;
    if (r.status === 'Downloading') return `${id}: Downloading ${bar(r.current, r.total)}  ${humanSize(r.current)}/${humanSize(r.total)}`;
    return `${id}: ${r.status}`;
  }

  private clear(): void {
    if (!this.live || this.drawn === 0) return;
    this.out.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.live || this.rows.size === 0) return;
    const lines = [...this.rows].map(([id, r]) => this.line(id, r));
    const t = this.totals();
    const secs = this.started ? (Date.now() - this.started) / 1000 : 0;
    const speed = secs > 0.2 ? `  ${humanSize((t.done - this.bytesAtStart) / secs)}/s` : '';
    lines.push(`Total: ${humanSize(t.done)}/${humanSize(t.all)}${speed}`);
    const cols = this.out.columns || 120;
    const up = this.drawn ? `\x1b[${this.drawn}A` : '';
    this.out.write(up + lines.map((l) => `\x1b[2K${l.slice(0, cols - 1)}\n`).join(''));
    this.drawn = lines.length;
  }

  /** Draw the final state (nothing left pending). */
  finish(): void {
    if (this.live) this.draw();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
