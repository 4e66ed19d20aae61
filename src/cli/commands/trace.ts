// `minid trace CONTAINER -p PORT --from host|127.0.0.1|lan|container:NAME`: the path of one probe
// connection through netfilter (src/see/trace.ts). Exit 0 when it connected, 1 when it did not.
export async function trace(container: string, o: { port: string; from: string }): Promise<number> {
  const { traceContainer } = await import('../../see/trace.js');
  const r = await traceContainer(container, { port: o.port, from: o.from });
  process.stdout.write(r.text);
  return r.ok ? 0 : 1;
}
