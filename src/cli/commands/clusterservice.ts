// `minid service create|ls|rm|sync` (src/cluster/services.ts, docs/cluster.md "Services"): parse and print only.
import { explainer } from '../explain.js';
import { said } from './cluster.js';

type ExplainOpts = { explain?: boolean; explainTo?: string };

export async function create(name: string, o: { port?: string; targetPort?: string; selector?: string; type?: string; nodePort?: string; serviceCidr?: string } & ExplainOpts) {
  const { createService } = await import('../../cluster/services.js');
  const ex = explainer(o, `minid service create ${name}: kube-proxy's rules on every node, step by step`);
  try {
    const { svc, endpoints } = await createService(name, { ...o, explain: ex?.say });
    process.stdout.write(
      said(
        ex,
        `Service ${svc.name}: ${svc.type} ${svc.clusterIP}:${svc.port}${svc.nodePort ? `, node port ${svc.nodePort} on every node` : ''} -> ` +
          `${endpoints.length ? endpoints.map((e) => `${e.ip}:${e.port}`).join(' ') : `no endpoints yet (connections are refused until a container labelled ${sel(svc.selector)} runs)`}`,
      ),
    );
  } finally {
    ex?.end();
  }
}

const sel = (s: Record<string, string>): string => Object.entries(s).map(([k, v]) => `${k}=${v}`).join(',');

export async function ls() {
  const { listServices } = await import('../../cluster/services.js');
  const { rec, endpoints, syncFailure } = await listServices();
  const { tabwrite } = await import('../tabwrite.js');
  const rows = [['NAME', 'TYPE', 'CLUSTER-IP', 'PORT(S)', 'SELECTOR', 'ENDPOINTS']];
  for (const s of rec?.services ?? []) {
    const eps = endpoints.get(s.name) ?? [];
    rows.push([
      s.name,
      s.type,
      s.clusterIP,
      `${s.port}${s.nodePort ? `:${s.nodePort}` : ''}/TCP`,
      sel(s.selector),
      eps.length ? eps.map((e) => `${e.ip}:${e.port}(${e.node})`).join(',') : '<none>',
    ]);
  }
  process.stdout.write(tabwrite(rows, 0));
  // A container's supervisor could not re-sync after it exited or restarted (src/cluster/follow.ts).
  if (syncFailure) process.stderr.write(`warning: the last automatic sync failed: ${syncFailure.line} (all failures: ${syncFailure.log}; \`minid service sync\` retries)\n`);
}

export async function rm(names: string[], o: ExplainOpts) {
  const { removeService } = await import('../../cluster/services.js');
  const ex = explainer(o, `minid service rm ${names.join(' ')}: the rules that go from every node, step by step`);
  try {
    for (const n of names) {
      const s = await removeService(n, { explain: ex?.say });
      process.stdout.write(said(ex, `removed: ${s.name} (${s.clusterIP})`));
    }
  } finally {
    ex?.end();
  }
}

export async function sync(o: ExplainOpts) {
  const { syncServices } = await import('../../cluster/services.js');
  const ex = explainer(o, "minid service sync: every node's rules rewritten from the endpoints, step by step");
  try {
    const eps = await syncServices({ explain: ex?.say });
    for (const [name, e] of eps) process.stdout.write(said(ex, `${name}: ${e.length ? e.map((x) => `${x.ip}:${x.port}`).join(' ') : 'no endpoints'}`));
  } finally {
    ex?.end();
  }
}
