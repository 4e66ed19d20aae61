// The processes of a container's PID namespace, as the host sees them.
import fs from 'node:fs';

/** The processes in the PID namespace of `pid` (a container's PID 1 as the host sees it): pid, state (R, S, Z...), command line. */
export function namespaceProcesses(pid: number): { pid: number; state: string; cmdline: string }[] {
  const ns = fs.readlinkSync(`/proc/${pid}/ns/pid`);
  const out: { pid: number; state: string; cmdline: string }[] = [];
  for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (fs.readlinkSync(`/proc/${p}/ns/pid`) !== ns) continue;
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const cmdline = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(p), state: stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3), cmdline });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}
