// Go's text/tabwriter as docker's CLI sets it up for `top` (minimum width 20) and `system df`
// (10): every column but the last padded to the longest cell + 3 spaces, at least the minimum.
export function tabwrite(rows: string[][], minWidth: number): string {
  const cols = Math.max(0, ...rows.map((r) => r.length));
  const width = Array.from({ length: cols }, (_, i) => Math.max(minWidth, ...rows.map((r) => (r[i] ?? '').length + 3)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]))).join('') + '\n').join('');
}

/** docker's units.HumanSize: decimal units, four significant digits ("1.235MB", "0B"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let n = bytes;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${Number(n.toPrecision(4))}${units[i]}`;
}
