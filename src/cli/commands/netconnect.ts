// `minid network connect [--ip IP] NETWORK CONTAINER` and `minid network disconnect [-f] NETWORK
// CONTAINER`, like docker: silent on success, one line and exit 125 when refused. --explain
// prints every step as the command a person would type (on stderr, like `run --explain`).
import { connectContainer, disconnectContainer } from '../../runtime/connect.js';

const explainer = (on?: boolean) => (on ? (line: string) => process.stderr.write(line + '\n') : undefined);

export async function networkConnect(network: string, container: string, o: { ip?: string; alias?: string[]; explain?: boolean } = {}): Promise<void> {
  await connectContainer(network, container, { ip: o.ip, aliases: o.alias, explain: explainer(o.explain) });
}

export async function networkDisconnect(network: string, container: string, o: { force?: boolean; explain?: boolean } = {}): Promise<void> {
  await disconnectContainer(network, container, { force: !!o.force, explain: explainer(o.explain) });
}
