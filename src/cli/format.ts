// How the CLI shows times and tables, as docker does: one place, so that `ps`, `images`,
// `network ls` and `stats` round and align alike.
import type { ContainerState } from '../runtime/state.js';
import { healthSuffix, readHealth, type Health } from '../runtime/health.js';

/**
 * docker's units.HumanDuration: whole seconds and minutes (cut, not rounded), hours rounded,
 * then days, weeks, months and years counted from those hours ("Less than a second",
 * "1 second", "About a minute", "2 hours", "3 days", "7 weeks").
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(Math.max(0, ms) / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(Math.floor(ms / 3_600_000) / 24 / 365)} years`;
}

/** "5 minutes ago" for a CREATED column; `unknown` when there is no (valid) time. */
export function since(iso: string | undefined, now = Date.now(), unknown = 'N/A'): string {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? unknown : `${humanDuration(now - t)} ago`;
}

/** docker ps's STATUS: "Created", "Up 3 seconds", "Exited (0) 5 minutes ago" (255: the code is unknown). */
export function statusText(s: ContainerState, now = Date.now(), health: Health | null = s.status === 'running' ? readHealth(s.config) : null): string {
  if (s.status === 'created') return 'Created';
  // docker's State.String(): paused first, else the health ("Up 5 seconds (healthy)").
  if (s.status === 'running') return `Up ${humanDuration(now - Date.parse(s.config.startedAt!))}${s.paused ? ' (Paused)' : healthSuffix(health)}`;
  const when = s.exit?.finishedAt ? ` ${since(s.exit.finishedAt, now)}` : '';
  if (s.status === 'restarting') return `Restarting (${s.exit?.exitCode ?? 255})${when}`;
  return `Exited (${s.exit?.exitCode ?? 255})${when}`;
}

/**
 * Left-aligned columns as docker's tabwriter lays them out (minimum width 10, padding 3): the
 * last column is not padded.
 */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(10, h.length + 3, ...rows.map((r) => [...(r[i] ?? '')].length + 3)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i] - [...c].length))).join('');
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
