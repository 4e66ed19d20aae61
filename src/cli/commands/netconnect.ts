// `minid network connect [--ip IP] NETWORK CONTAINER` and `minid network disconnect [-f] NETWORK
// CONTAINER`, like docker: silent on success, one line and exit 125 when refused. --explain
// prints every step as the command a person would type (on stdout, like `run --explain`).
import { connectContainer, disconnectContainer } from '../../runtime/connect.js';

import { explainer } from '../explain.js';

type ExplainOpts = { explain?: boolean; explainTo?: string };

export async function networkConnect(network: string, container: string, o: { ip?: string; alias?: string[] } & ExplainOpts = {}): Promise<void> {
  const ex = explainer(o, 'minid network connect: what it does, step by step');
  try {
    await connectContainer(network, container, { ip: o.ip, aliases: o.alias, explain: ex?.say });
  } finally {
    ex?.end();
  }
}

export async function networkDisconnect(network: string, container: string, o: { force?: boolean } & ExplainOpts = {}): Promise<void> {
  const ex = explainer(o, 'minid network disconnect: what it undoes, step by step');
  try {
    await disconnectContainer(network, container, { force: !!o.force, explain: ex?.say });
  } finally {
    ex?.end();
  }
}
