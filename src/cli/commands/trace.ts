// `minid trace CONTAINER -p PORT --from host|127.0.0.1|lan|container:NAME`: the path of one probe
// connection through netfilter (src/see/trace.ts); `minid trace service:NAME --from NODE/POD`:
// from a pod to a cluster service, through every node (src/cluster/trace.ts). Exit 0 when it
// connected, 1 when it did not.
import { fail } from '../../errors.js';

export async function trace(target: string, o: { port?: string; from?: string }): Promise<number> {
  if (target.startsWith('service:')) {
    if (o.port) fail('-p is for a container\'s published port: a service trace dials the service\'s own port (minid trace service:NAME --from NODE/POD)', 1);
    const { traceService } = await import('../../cluster/trace.js');
    const r = await traceService(target.slice('service:'.length), { from: o.from });
    process.stdout.write(r.text);
    return r.ok ? 0 : 1;
  }
  if (!o.port) fail('-p PORT is required: the container\'s published host port (minid trace CONTAINER -p 8080)', 1);
  const { traceContainer } = await import('../../see/trace.js');
  const r = await traceContainer(target, { port: o.port, from: o.from ?? '127.0.0.1' });
  process.stdout.write(r.text);
  return r.ok ? 0 : 1;
}
