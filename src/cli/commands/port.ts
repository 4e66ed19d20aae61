// `minid port`: the runtime's answer printed (src/runtime/port.ts), or the mappings through a
// Go template with --format (PrivatePort, Type, IP, PublicPort: the Engine API's Port).
import { portLines } from '../../runtime/port.js';
import { findContainerOr1 } from '../../runtime/lookup.js';

export async function port(ref: string, spec: string | undefined, o: { format?: string } = {}) {
  const s = findContainerOr1(ref);
  const ports: any[] = s.config.attachment?.ports ?? [];
  if (o.format) {
    const { formatRows } = await import('../template.js');
    const rows = ports.map((p) => ({ PrivatePort: p.containerPort, Type: p.protocol, IP: p.hostIp || '0.0.0.0', PublicPort: p.hostPort }));
    return void process.stdout.write(formatRows(o.format, rows));
  }
  for (const line of portLines(s.config.name, ports, spec)) process.stdout.write(line + '\n');
}
