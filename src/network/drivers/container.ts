// --network container:NAME: the container joins another container's namespace (the runtime
// finds it and passes its path). Nothing to set up here; the namespace is the other's to undo.
import { fail } from '../../errors.js';
import { removeEndpoint } from '../endpoints.js';
import type { ContainerAttachment } from '../types.js';
import { netnsProblems } from './common.js';
import type { NetworkDriver } from './types.js';

export const container: NetworkDriver<ContainerAttachment> = {
  name: 'container',

  async attach(req, o) {
    if (typeof req.mode !== 'object' || !('container' in req.mode)) fail('internal: the container driver needs a namespace to join');
    if (req.ports.length > 0 || req.publishAll) fail("conflicting options: ports cannot be published with --network container:NAME (the container uses the other container's network)");
    o.explain?.(`# --network container: join the network namespace ${req.mode.container}; nothing to set up`);
    return { mode: 'container', containerId: req.containerId, containerName: req.containerName, netnsPath: req.mode.container, ports: [], undo: [] };
  },

  async detach(att) {
    if (att.containerId) removeEndpoint(att.containerId);
  },

  describe: (att) => ({ network: 'container', ifName: '', endpoint: {}, veth: '', bridge: '', connected: false, ports: att.ports }),

  check: async (att) => netnsProblems(att.netnsPath),
};
