// --cni NAME: minid as a CNI runtime (src/cni is the library: configuration lists, plugins,
// the result cache). The namespace is made as for --network none (the none driver); then the
// plugins of the configuration list NAME are called with ADD, exactly as the CNI spec says, with
// DEL on the way out and CHECK for `minid network check`. The attachment records everything
// DEL needs (list, capability args, folders): no one has to remember how it was run.
import { fail } from '../../errors.js';
import { CONTAINER_IF } from '../names.js';
import type { AttachRequest, CniAttachment, NoneAttachment } from '../types.js';
import { none } from './none.js';
import type { NetworkDriver } from './types.js';

/**
 * CNI_ARGS: the container's name as K8S_POD_NAME (what podman passes, and what the dnsname
 * plugin records as the container's DNS name); IgnoreUnknown=1 so plugins that know no such
 * key accept it, as the spec's convention says.
 */
const cniArgs = (containerId: string, containerName: string): [string, string][] => [
  ['IgnoreUnknown', '1'],
  ['K8S_POD_NAMESPACE', containerName],
  ['K8S_POD_NAME', containerName],
  ['K8S_POD_INFRA_CONTAINER_ID', containerId],
];

/** The options ADD, DEL and CHECK share: one attachment, one interface. */
const common = (att: CniAttachment) => ({
  containerId: att.containerId!,
  netns: att.netnsPath,
  ifName: CONTAINER_IF,
  capabilityArgs: att.cni.portMappings.length ? { portMappings: att.cni.portMappings } : {},
  confDir: att.cni.confDir,
  cniPath: att.cni.path,
});

/** The namespace part, as the none driver recorded it (its undo deletes the namespace). */
const namespaceOf = (att: CniAttachment): NoneAttachment => ({
  mode: 'none', containerId: att.containerId, containerName: att.containerName, netnsName: att.netnsName, netnsPath: att.netnsPath, ports: [], undo: att.undo, undoNames: att.undoNames,
});

export const cni: NetworkDriver<CniAttachment> = {
  name: 'cni',

  async attach(req: AttachRequest, o) {
    const m = req.mode;
    if (typeof m !== 'object' || !('cni' in m)) fail('internal: the cni driver needs a configuration list name');
    if (o.dryRun) {
      o.explain?.(`# --network cni:${m.cni}: nothing to plan without running it`);
      return { mode: 'cni', netnsName: '', netnsPath: '', network: m.cni, ports: [], undo: [], cni: { name: m.cni, portMappings: [], result: {} } };
    }
    const lib = await import('../../cni/index.js');
    const portMappings = lib.parsePortMappings(req.ports);
    const base = await none.attach({ containerId: req.containerId, containerName: req.containerName, mode: 'none', ports: [] }, { explain: o.explain });
    const att: CniAttachment = {
      ...base,
      mode: 'cni',
      network: m.cni,
      ports: [],
      cni: { name: m.cni, portMappings, result: {}, ...(m.confDir ? { confDir: m.confDir } : {}), ...(m.path ? { path: m.path } : {}) },
    };
    try {
      const result: any = await lib.addNetworkList(m.cni, { ...common(att), args: cniArgs(req.containerId, req.containerName), explain: o.explain });
      att.cni.result = result;
      att.ip = result.ips?.[0]?.address?.split('/')[0];
      att.gateway = result.ips?.[0]?.gateway;
      att.ports = portMappings.map((p: any) => ({ hostIp: p.hostIP ?? '', hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol }));
      return att;
    } catch (e) {
      await none.detach(base, {}).catch(() => {});
      throw e;
    }
  },

  async detach(att, o) {
    const lib = await import('../../cni/index.js');
    // DEL first, while the namespace still exists; DEL tolerates a namespace that is gone.
    await lib.delNetworkList(att.cni.name, { ...common(att), args: cniArgs(att.containerId!, o.containerName ?? att.containerName ?? ''), explain: o.explain });
    await none.detach(namespaceOf(att), o);
  },

  describe: (att) => ({
    network: att.network ?? att.cni.name,
    ifName: CONTAINER_IF,
    endpoint: { ip: att.ip, gateway: att.gateway },
    veth: '',
    bridge: '',
    connected: false,
    ports: att.ports,
  }),

  /** CNI CHECK: the plugins say whether what ADD set up is still there (they throw if not). */
  async check(att) {
    const lib = await import('../../cni/index.js');
    await lib.checkNetworkList(att.cni.name, common(att));
    return [];
  },
};
