// `minid run --cni NAME`: minid as a CNI runtime. The namespace is made the same way as for
// --network none (the network layer's first step); then the CNI plugins of the configuration
// list NAME are called with ADD, exactly as the CNI spec says, and with DEL on the way out.
import type { ContainerConfig } from './state.js';

/**
 * CNI_ARGS: the container's name as K8S_POD_NAME (what podman passes, and what the dnsname
 * plugin records as the container's DNS name); IgnoreUnknown=1 so plugins that know no such
 * key accept it, as the spec's convention says.
 */
const cniArgs = (c: ContainerConfig): [string, string][] => [
  ['IgnoreUnknown', '1'],
  ['K8S_POD_NAMESPACE', c.name],
  ['K8S_POD_NAME', c.name],
  ['K8S_POD_INFRA_CONTAINER_ID', c.id],
];

export async function cniAttach(c: ContainerConfig, explain?: (l: string) => void): Promise<any> {
  const net = await import('../network/index.js');
  const cni = await import('../cni/index.js');
  const name = c.net.mode.slice('cni:'.length);
  const portMappings = cni.parsePortMappings(c.net.ports);
  const base = await net.attach({ containerId: c.id, containerName: c.name, mode: 'none', ports: [] }, { explain });
  try {
    const result: any = await cni.addNetworkList(name, {
      containerId: c.id,
      netns: base.netnsPath!,
      ifName: 'eth0',
      capabilityArgs: portMappings.length ? { portMappings } : {},
      // The container's name, as podman passes it: DNS plugins (dnsname) record it.
      args: cniArgs(c),
      confDir: c.net.cni?.confDir,
      cniPath: c.net.cni?.path,
      explain,
    });
    const ip = result.ips?.[0]?.address?.split('/')[0];
    const ports = portMappings.map((p: any) => ({ hostIp: p.hostIP ?? '', hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol }));
    return { ...base, mode: 'cni', network: name, ip, gateway: result.ips?.[0]?.gateway, ports, cni: { name, portMappings, result }, base };
  } catch (e) {
    await net.detach(base).catch(() => {});
    throw e;
  }
}

export async function cniDetach(c: ContainerConfig, explain?: (l: string) => void): Promise<void> {
  const net = await import('../network/index.js');
  const cni = await import('../cni/index.js');
  const att = c.attachment;
  // DEL first, while the namespace still exists; DEL tolerates a namespace that is gone.
  await cni.delNetworkList(att.cni.name, {
    containerId: c.id,
    netns: att.netnsPath,
    ifName: 'eth0',
    capabilityArgs: att.cni.portMappings.length ? { portMappings: att.cni.portMappings } : {},
    args: cniArgs(c),
    confDir: c.net.cni?.confDir,
    cniPath: c.net.cni?.path,
    explain,
  });
  await net.detach(att.base, { explain });
}
