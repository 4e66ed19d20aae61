// `minid dns log NETWORK [-f]`: the queries of a user network's DNS servers, one line each:
// who asked (container name and address), what, the answer and where it came from.
import { fail } from '../../errors.js';

export async function dnsLog(network: string, o: { follow?: boolean } = {}): Promise<void> {
  const { getNetwork } = await import('../../network/networks.js');
  const { hasDns } = await import('../../network/dns/records.js');
  const net = await getNetwork(network);
  if (!hasDns(net)) fail(`network ${net.name} has no DNS server: only user-defined networks answer names (docker's default bridge neither); create one with \`minid network create NAME\``);
  const { printLog } = await import('../../network/dns/log.js');
  await printLog(net.name, { follow: !!o.follow, write: (l) => process.stdout.write(l + '\n') });
}
