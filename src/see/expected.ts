// What minid's records say the kernel should hold, in the kernel's own terms: the iptables
// rules minid adds (taken from the very plan builders that add them, network/plan.ts, so the
// two cannot drift apart), each with the command that puts it back.
import { globalSteps, networkRuleSteps, portRules } from '../network/plan.js';
import { comment } from '../network/names.js';
import { ruleOfAdd } from '../network/iptables.js';
import { formatCommand } from '../sys/exec.js';
import type { Cmd, NetworkRecord, PortBinding } from '../network/types.js';
import type { EndpointRecord, IptRule } from './snapshot.js';

export interface ExpectedRule {
  table: string;
  chain: string;
  args: string[];
  /** The command that adds it (what a ✗ tells the reader to type). */
  add: string;
}

/** iptables -t T -A|-I CHAIN [n] ARGS... -> the rule as iptables-save prints it. */
export function fromCmd(c: Cmd): ExpectedRule | null {
  const rule = ruleOfAdd(c);
  return rule && { ...rule, add: formatCommand(c.argv) };
}

const store = (id: string) => ({ id, legacy: false, root: '' });
const rulesOf = (cmds: Cmd[]): ExpectedRule[] => cmds.map(fromCmd).filter((r): r is ExpectedRule => r !== null);

/** The host-wide jumps into minid's chains and the CVE-2020-8558 guard. */
export function hostRules(): ExpectedRule[] {
  return rulesOf(globalSteps({ networkUp: false, ipForward: true, iptablesSave: '' }).flatMap((s) => s.apply));
}

/** A network's MASQUERADE and FORWARD rules, in the order plan.ts adds them. */
export function networkRules(net: NetworkRecord, storeId: string): ExpectedRule[] {
  return rulesOf(networkRuleSteps(net, { networkUp: false, ipForward: true }, store(storeId)).flatMap((s) => s.apply));
}

/** A published port's DNAT and FORWARD rules. */
export function portRulesOf(ep: EndpointRecord, b: PortBinding, net: NetworkRecord, storeId: string): ExpectedRule[] {
  return rulesOf(portRules(b, ep.ip, net, comment(storeId, net.name, ep.containerName, ep.containerId)));
}

export const sameRule = (e: Pick<IptRule, 'table' | 'chain' | 'args'>, r: Pick<IptRule, 'table' | 'chain' | 'args'>): boolean =>
  e.table === r.table && e.chain === r.chain && e.args.join('\u0000') === r.args.join('\u0000');
