// --network none: a network namespace of the container's own, with loopback only. The cni
// driver starts from the same namespace before it calls the plugins.
import { fail } from '../../errors.js';
import { netnsName, netnsPath, short } from '../names.js';
import { removeEndpoint, writeEndpoint } from '../endpoints.js';
import { planDetach, planNoneAttach } from '../plan.js';
import { applyPlan } from '../step.js';
import type { NoneAttachment } from '../types.js';
import { netnsProblems, ownUndo, who } from './common.js';
import type { NetworkDriver } from './types.js';

export const none: NetworkDriver<NoneAttachment> = {
  name: 'none',

  async attach(req, o) {
    if (req.ports.length > 0 || req.publishAll) fail('conflicting options: ports cannot be published with --network none');
    const base = { containerId: req.containerId, containerName: req.containerName };
    const steps = planNoneAttach(base);
    const att: NoneAttachment = { mode: 'none', ...base, netnsName: netnsName(req.containerId), netnsPath: netnsPath(req.containerId), ports: [], undo: [] };
    // Recorded before the host changes, so that pruneLeftovers finds what a crash leaves.
    if (!o.dryRun) writeEndpoint({ ...att, ...base, network: 'none', state: 'reserved' });
    try {
      const res = await applyPlan(steps, { explain: o.explain, dryRun: o.dryRun, title: `network none for container ${req.containerName} (${short(req.containerId)})` });
      Object.assign(att, ownUndo(o.dryRun ? steps : res.applied));
    } catch (e) {
      if (!o.dryRun) removeEndpoint(req.containerId);
      throw e;
    }
    if (!o.dryRun) writeEndpoint({ ...att, ...base, network: 'none', state: 'attached' });
    return att;
  },

  async detach(att, o) {
    const steps = planDetach(att);
    if (steps.length) await applyPlan(steps, { explain: o.explain, tolerant: true, concurrent: true, title: `detach ${who(att)}` });
    if (att.containerId) removeEndpoint(att.containerId);
  },

  describe: (att) => ({ network: 'none', ifName: '', veth: '', bridge: '', connected: false, ports: att.ports }),

  check: async (att) => netnsProblems(att.netnsPath),
};
