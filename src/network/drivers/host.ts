// --network host: the container stays in the host's network namespace. Nothing to set up,
// nothing to undo; published ports mean nothing (docker warns and goes on).
import { removeEndpoint } from '../endpoints.js';
import type { HostAttachment } from '../types.js';
import type { NetworkDriver } from './types.js';

export const host: NetworkDriver<HostAttachment> = {
  name: 'host',

  async attach(req, o) {
    if (req.ports.length > 0 || req.publishAll) process.stderr.write('WARNING: Published ports are discarded when using host network mode\n');
    o.explain?.("# --network host: the container uses the host's network namespace; nothing to set up");
    return { mode: 'host', containerId: req.containerId, containerName: req.containerName, ports: [], undo: [] };
  },

  async detach(att) {
    if (att.containerId) removeEndpoint(att.containerId);
  },

  describe: (att) => ({ network: 'host', ifName: '', veth: '', bridge: '', connected: false, ports: att.ports }),

  check: async () => [],
};
