#!/usr/bin/env node
// bench/report.mjs RECORDS.jsonl META.json LATEST.json [LATEST.md]
// Merges this run's records into LATEST.json (sections run now replace the old ones; the
// others keep their figures and dates), computes ratios and the issue's targets, and prints
// the markdown tables (also written to LATEST.md).
// node bench/report.mjs --md LATEST.json   only prints the tables of an existing LATEST.json.
import fs from 'node:fs';

const RUNTIME_ORDER = ['kernel', 'node', 'floor-steps', 'floor-batch', 'floor-bare', 'minid', 'docker', 'podman', 'skopeo+umoci'];
const SECTION_ORDER = ['latency', 'throughput', 'scale', 'memory', 'pull', 'startup', 'dns', 'engine'];

function load(args) {
  if (args[0] === '--md') {
    const L = JSON.parse(fs.readFileSync(args[1], 'utf8'));
    L.targets = targets(L); // as this version of the report words them
    return L;
  }
  const [recordsFile, metaFile, latestFile] = args;
  const records = fs.readFileSync(recordsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
  let latest = { sections: {} };
  try {
    latest = JSON.parse(fs.readFileSync(latestFile, 'utf8'));
  } catch {
    /* first run */
  }
  latest.sections ??= {};
  const ran = meta.options.sections.filter((s) => records.some((r) => r.section === s)); // not if interrupted before
  meta.options.sections = ran;
  for (const s of ran) {
    latest.sections[s] = {
      date: meta.date,
      machine: meta.machine,
      minid: meta.minid,
      options: meta.options,
      records: records.filter((r) => r.section === s),
    };
  }
  latest.generated = meta.date;
  for (const s of meta.options.sections) latest.sections[s].load_average = meta.load_average;
  latest.last_run = { date: meta.date, sections: meta.options.sections, leftovers: meta.leftovers, peers_not_measured: meta.peers_not_measured, exit_code: meta.exit_code, seconds: meta.seconds };
  latest.targets = targets(latest);
  fs.writeFileSync(latestFile, JSON.stringify(latest, null, 2) + '\n');
  return latest;
}

// --- helpers --------------------------------------------------------------------------------
const recs = (L, section) => L.sections[section]?.records ?? [];
const find = (L, section, c, rt) => recs(L, section).find((r) => r.case === c && r.runtime === rt);
const ok = (r) => r && r.status === 'ok' && typeof r.median === 'number';
const ratio = (a, b) => (ok(a) && ok(b) && b.median > 0 ? a.median / b.median : null);
// Throughput of a path against another, paired: the median over rounds of (mean of this path
// in round i) / (mean of the other in round i). The paths of a round run back to back, so load
// on the host that drifts between rounds cancels out. Falls back to the ratio of the medians.
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};
const roundRatios = (a, b) =>
  ok(a) && ok(b) && Array.isArray(a.round_means) && Array.isArray(b.round_means)
    ? a.round_means.map((v, i) => (v !== null && b.round_means[i] > 0 ? v / b.round_means[i] : null)).filter((v) => v !== null)
    : [];
const pairedRatio = (a, b) => {
  const r = roundRatios(a, b);
  return r.length ? median(r) : ratio(a, b);
};
// The middle half of the rounds' ratios (first to third quartile): how far one round's ratio
// wanders on this host, shown beside a throughput target so that a reader can tell a miss
// from noise. Null with fewer than 4 rounds.
const middleHalf = (a, b) => {
  const r = roundRatios(a, b).sort((p, q) => p - q);
  if (r.length < 4) return null;
  const at = (f) => { const i = (r.length - 1) * f, lo = Math.floor(i); return r[lo] + (r[Math.ceil(i)] - r[lo]) * (i - lo); };
  return [at(0.25), at(0.75)];
};

function num(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (unit === 'Gbit/s') return v >= 10 ? v.toFixed(1) : v.toFixed(2);
  if (unit === 'MB') return v.toFixed(2);
  if (unit === 's') return v.toFixed(1);
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}
function cell(r, unit) {
  if (!r) return '';
  if (r.status !== 'ok') return r.status;
  if (r.min === undefined || r.runs === 1 || r.min === r.max) return num(r.median, unit);
  return `${num(r.median, unit)} (${num(r.min, unit)}–${num(r.max, unit)})`;
}
const x = (v) => (v === null ? '–' : `${v.toFixed(2)}×`);
const pct = (v) => (v === null ? '–' : `${(v * 100).toFixed(0)}%`);
const pct1 = (v) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`); // beside a threshold: 94.8% is not 95%
function table(head, rows) {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
function runtimesIn(L, section) {
  const have = new Set(recs(L, section).map((r) => r.runtime));
  return RUNTIME_ORDER.filter((r) => have.has(r));
}
function casesIn(L, section) {
  const seen = [];
  for (const r of recs(L, section)) if (!seen.includes(r.case)) seen.push(r.case);
  return seen;
}
function notes(L, section) {
  const out = [];
  for (const r of recs(L, section)) if (r.status !== 'ok' && r.note) out.push(`${r.runtime} / ${r.case}: ${r.status} — ${r.note}`);
  return [...new Set(out)];
}

// The pull section: the peer (not minid) with the lowest median for a case, and minid's time
// against it, paired: the median over rounds of minid's figure ÷ that peer's in the same round
// (the runtimes of a round run back to back).
const PULL_PEERS = ['docker', 'podman', 'skopeo+umoci'];
function fastestPeer(L, c) {
  const rs = PULL_PEERS.map((rt) => find(L, 'pull', c, rt)).filter(ok);
  return rs.length ? rs.reduce((a, b) => (b.median < a.median ? b : a)) : null;
}
const pullImages = (L) => recs(L, 'pull').filter((r) => r.runtime === 'image').map((r) => r.case.replace(/ image$/, ''));

// --- targets --------------------------------------------------------------------------------
function targets(L) {
  const T = [];
  const add = (id, text, value, display, met, section, why) =>
    T.push({ id, text, value, display, status: met === null ? why ?? 'pending' : met ? 'met' : 'missed', section_date: L.sections[section]?.date ?? null });
  const bp = (rt) => find(L, 'latency', 'bridge -p', rt);
  const m = bp('minid');
  const missing = (r, what) => (!r ? 'not measured' : r.status === 'pending' ? 'pending' : r.status !== 'ok' ? `${r.status}` : what);
  // Measured in pairs when the run did (see latency.sh); else the two medians of the table.
  const pm = find(L, 'latency', 'bridge -p, paired', 'minid');
  const pf = find(L, 'latency', 'bridge -p, paired', 'floor-batch');
  const paired = ok(pm) && ok(pf);
  let v = paired ? pairedRatio(pm, pf) : ratio(m, bp('floor-batch'));
  add('latency-floor', `\`run --rm\` bridge with \`-p\` ≤ 1.5× the batched shell floor${paired ? ' (in pairs)' : ''}`, v, x(v), v === null ? null : v <= 1.5, 'latency', missing(m, 'not measured'));
  for (const peer of ['docker', 'podman']) {
    v = ratio(m, bp(peer));
    add(`latency-${peer}`, `\`run --rm\` bridge with \`-p\` < ½ of ${peer}`, v, x(v), v === null ? null : v < 0.5, 'latency', !ok(m) ? missing(m) : 'not measured (PEERS=1)');
  }
  const d = find(L, 'throughput', 'direct', 'minid');
  for (const p of ['host address', '127.0.0.1']) {
    const t = find(L, 'throughput', p, 'minid');
    v = pairedRatio(t, d);
    const mh = middleHalf(t, d);
    const shown = mh ? `${pct1(v)} (the middle half of the rounds: ${pct(mh[0])}–${pct(mh[1])})` : pct1(v);
    add(`throughput-${p}`, `published-port throughput through ${p} ≥ 95% of direct`, v, shown, v === null ? null : v >= 0.95, 'throughput', missing(t, 'not measured'));
  }
  for (const r of recs(L, 'scale').filter((r) => r.runtime === 'minid' && /^start/.test(r.case))) {
    // One after the other, a probe is timed beside each start: the ratio against the probe's
    // takes out the host's own drift over the fleet's seconds (the raw ratio is shown too).
    const probed = r.status === 'ok' && typeof r.ratio_vs_probe === 'number';
    v = r.status === 'ok' ? (probed ? r.ratio_vs_probe : r.ratio) : null;
    const shown = v === null ? r.status : probed
      ? `${x(v)} against the probe (${x(r.ratio)} raw: ${num(r.first10)} → ${num(r.last10)} ms; the probe ${num(r.probe_first10)} → ${num(r.probe_last10)} ms)`
      : `${x(v)} (${num(r.first10)} → ${num(r.last10)} ms)`;
    add(`scale-${r.case}`, `per-container start time at the end ≤ 1.2× the first (${r.case})`, v, shown, v === null ? null : v <= 1.2, 'scale', r.status);
  }
  if (!recs(L, 'scale').some((r) => r.runtime === 'minid' && /^start/.test(r.case)))
    add('scale', 'per-container start time at 100 ≤ 1.2× the first', null, '–', null, 'scale', 'pending');
  const mem = recs(L, 'memory').filter((r) => r.runtime === 'minid' && /^idle container/.test(r.case));
  for (const r of mem) add(`memory-${r.case}`, `host-side memory per idle container ≤ 5 MB (at ${r.case.replace(/\D/g, '')} container${r.case.replace(/\D/g, '') === '1' ? '' : 's'})`, ok(r) ? r.median : null, ok(r) ? `${num(r.median, 'MB')} MB PSS` : r.status, ok(r) ? r.median <= 5 : null, 'memory', r.status);
  if (!mem.length) add('memory', 'host-side memory per idle container ≤ 5 MB', null, '–', null, 'memory', 'pending');
  // #16: DNS query latency within 1.2× of aardvark-dns's
  for (const c of ['query latency: local name', 'query latency: forwarded name']) {
    const dm = find(L, 'dns', c, 'minid');
    const dp = find(L, 'dns', c, 'podman');
    v = ratio(dm, dp);
    add(`dns-${c}`, `DNS ${c.replace('query latency: ', '')} query latency ≤ 1.2× aardvark-dns's (median)`, v, v === null ? (ok(dm) ? `${num(dm.median)} µs` : '–') : `${x(v)} (${num(dm.median)} vs ${num(dp.median)} µs)`, v === null ? null : v <= 1.2, 'dns', !ok(dm) ? missing(dm, 'not measured') : dp ? dp.status : 'not measured (PEERS=1)');
  }
  // #14: cold pull to runnable at or below the fastest peer; warm pull under 150 ms
  for (const img of pullImages(L)) {
    const c = find(L, 'pull', `${img} cold`, 'minid');
    const p = fastestPeer(L, `${img} cold`);
    v = p ? pairedRatio(c, p) : null;
    const shown = v === null ? '–' : `${x(v)} ${p.runtime}'s in pairs (the medians: ${num(c.median)} vs ${num(p.median)} ms, ${x(ratio(c, p))})`;
    add(`pull-cold-${img}`, `cold pull of ${img} to runnable ≤ the fastest peer (in pairs)`, v, shown, v === null ? null : v <= 1, 'pull', !ok(c) ? missing(c) : 'no peer measured');
    const w = find(L, 'pull', `${img} warm`, 'minid');
    add(`pull-warm-${img}`, `warm pull of ${img} (everything present) < 150 ms`, ok(w) ? w.median : null, ok(w) ? `${num(w.median)} ms` : '–', ok(w) ? w.median < 150 : null, 'pull', missing(w, 'not measured'));
  }
  // #19: testcontainers' start -> HTTP wait -> stop cycle at most half of docker's time
  {
    const em = find(L, 'engine', 'testcontainers cycle', 'minid');
    const ed = find(L, 'engine', 'testcontainers cycle', 'docker');
    v = ratio(em, ed);
    add('engine-cycle', "testcontainers start → HTTP wait → stop ≤ 0.5× docker's (median)", v, v === null ? (ok(em) ? `${num(em.median)} ms` : '–') : `${x(v)} (${num(em.median)} vs ${num(ed.median)} ms)`, v === null ? null : v <= 0.5, 'engine', !ok(em) ? missing(em, 'not measured') : ed ? ed.status : 'not measured (PEERS=1)');
  }
  return T;
}

// --- markdown -------------------------------------------------------------------------------
function render(L) {
  const out = [];
  const all = Object.values(L.sections);
  const any = all.sort((a, b) => (a.date < b.date ? 1 : -1))[0]; // the newest section
  if (any) {
    const mc = { ...any.machine };
    for (const s of all) for (const k of ['docker', 'podman']) mc[k] ||= s.machine[k];
    out.push(`Machine: ${mc.os}, kernel ${mc.kernel}, ${mc.cores} × ${mc.cpu}, ${mc.memory}; Node ${mc.node}; ${mc.hyperfine}; ${mc.iperf3}${mc.docker ? `; docker ${mc.docker}` : ''}${mc.podman ? `; ${mc.podman}` : ''}.`);
    out.push(`minid: ${any.minid.version} at ${any.minid.commit}${any.minid.uncommitted_files ? ` (+${any.minid.uncommitted_files} uncommitted files)` : ''}.`);
    if (any.load_average) out.push(`Load average (1/5/15 min) at the start: ${any.load_average.start}; at the end: ${any.load_average.end} (2 cores: other work on the host shows up in the spread).`);
  }
  for (const s of SECTION_ORDER) {
    const sec = L.sections[s];
    if (!sec) continue;
    const o = sec.options;
    const rts = runtimesIn(L, s);
    const cases = casesIn(L, s);
    out.push('');
    if (s === 'latency') {
      out.push(`### Latency: start to exit (ms, median (min–max) of ${o.runs} runs after ${o.warmup} warm-up) — ${sec.date}`);
      out.push('');
      const peers = ['docker', 'podman'].filter((p) => rts.includes(p));
      const floors = ['floor-batch', 'floor-steps', 'floor-bare'].filter((f) => rts.includes(f));
      const head = ['case', ...rts, ...floors.map((f) => `minid ÷ ${f}`), ...peers.map((p) => `minid ÷ ${p}`)];
      const rows = cases.map((c) => {
        const m = find(L, s, c, 'minid');
        return [c, ...rts.map((rt) => cell(find(L, s, c, rt), 'ms')), ...floors.map((f) => x(pairedRatio(m, find(L, s, c, f)))), ...peers.map((p) => x(ratio(m, find(L, s, c, p))))];
      });
      out.push(table(head, rows));
      out.push('');
      out.push('Cases: `run --rm --network none|host|bridge busybox true`; `bridge -p` adds `-p PORT:80`; `port cycle` = `run -d -p PORT:80 nginx`, fetch the page via 127.0.0.1 (as soon as it answers) and via the host address, `rm -f`. `bridge -p, paired`: the same as `bridge -p`, in rounds that time floor-batch and minid back to back (which goes first alternates); its median, min and max are over the medians of the rounds, its ratio the median of the ratios of the rounds (the 1.5× target uses it). floor-bare: floor-batch with the container reduced to its image, /proc and hostname (no /dev nodes, devpts, /dev/shm, /sys, /proc masks or /etc files, which minid and floor-steps/floor-batch make).');
    } else if (s === 'throughput') {
      out.push(`### Throughput: one TCP stream, iperf3 (Gbit/s, median (min–max) of the per-second rates, ${o.iperf_rounds ?? 1} × ${o.iperf_seconds} s per path, paths alternating) — ${sec.date}`);
      out.push('');
      const cols = rts.filter((r) => r !== 'kernel');
      const k = find(L, s, 'kernel loopback', 'kernel');
      const rows = [['kernel loopback (reference)', cell(k, 'Gbit/s'), ...cols.map(() => '')]];
      for (const c of ['direct', 'host address', '127.0.0.1']) {
        rows.push([
          c === 'direct' ? 'container address (direct)' : `published port via ${c}`,
          '',
          ...cols.map((rt) => {
            const r = find(L, s, c, rt);
            if (!ok(r)) return r ? r.status : '';
            const ofDirect = c === 'direct' ? '' : `, ${pct(pairedRatio(r, find(L, s, 'direct', rt)))} of direct`;
            return `${cell(r, 'Gbit/s')}${ofDirect}, ${pct(ratio(r, k))} of kernel`;
          }),
        ]);
      }
      out.push(table(['path', 'kernel', ...cols], rows));
      out.push('');
      out.push('"% of direct" is paired: the median over rounds of the path\'s mean ÷ the direct path\'s mean in the same round (the paths of a round run back to back). The targets table shows beside it the middle half of the rounds\' ratios (first to third quartile), which is how far one round wanders on this host.');
    } else if (s === 'scale') {
      out.push(`### Scale: ${o.scale_n} idle detached containers on one bridge — ${sec.date}`);
      out.push('');
      const rows = recs(L, s).map((r) =>
        r.status !== 'ok'
          ? [r.runtime, r.case, r.status, '', '', '', '', '', '']
          : [
              r.runtime,
              r.case,
              `${num(r.total_ms / 1000, 's')} s`,
              cell(r, 'ms'),
              r.first10 !== undefined ? num(r.first10) : '–',
              r.last10 !== undefined ? num(r.last10) : '–',
              r.ratio !== undefined ? x(r.ratio) : '–',
              r.ratio_vs_probe !== undefined ? `${x(r.ratio_vs_probe)} (${num(r.probe_first10)} → ${num(r.probe_last10)})` : '–',
              r.running !== undefined
                ? `${r.running} running, ${r.unique_addresses}/${r.addresses} unique addresses`
                : r.leftovers !== undefined
                  ? r.leftovers === 0
                    ? 'nothing left'
                    : `${r.leftovers} left: ${String(r.leftover_list).split('\n').slice(0, 3).join('; ')}`
                  : '',
            ],
      );
      out.push(table(['runtime', 'case', 'total', 'per container ms, median (min–max)', 'first 10 (median ms)', 'last 10', 'last ÷ first', '÷ the probe\'s (probe: first → last 10, ms)', 'checks'], rows));
      if (recs(L, s).some((r) => r.ratio_vs_probe !== undefined))
        out.push('', "The probe: floor-batch's `run --network none busybox true` (namespaces, mounts, a process; nothing the fleet accumulates), timed after each start of a sequential fleet. The host's speed drifts over the seconds a fleet takes to start, the probe's with the fleet's; \"÷ the probe's\" is last ÷ first divided by the probe's own last ÷ first, which takes that drift out (the 1.2× target uses it). Total: the fleet's starts only.");
    } else if (s === 'memory') {
      out.push(`### Memory: host-side processes per idle detached container (MB PSS; RSS in brackets) — ${sec.date}`);
      out.push('');
      const rows = cases.map((c) => [c, ...rts.map((rt) => {
        const r = find(L, s, c, rt);
        if (!r) return '';
        if (!ok(r)) return r.status;
        return `${num(r.median, 'MB')} (${num(r.rss, 'MB')})`;
      })]);
      out.push(table(['case', ...rts], rows));
      const procs = recs(L, s).filter((r) => ok(r) && r.note && /processes:/.test(r.note) && /\(1\)/.test(r.case)).map((r) => `${r.runtime}: ${r.note.replace(/^.*processes: /, '')}`);
      if (procs.length) out.push('', `Counted per container: ${procs.join('; ')}. "daemons (fixed)" is shared by all containers.`);
    } else if (s === 'pull') {
      const mc = recs(L, s).find((r) => r.runtime === 'minid' && / cold$/.test(r.case) && ok(r));
      out.push(`### Pull from a registry on 127.0.0.1 (ms, median (min–max); cold: one per round, ${mc?.runs ?? '?'} rounds; warm: every warm pull) — ${sec.date}`);
      out.push('');
      const imgs = recs(L, s).filter((r) => r.runtime === 'image' && ok(r));
      if (imgs.length) out.push(`Images: ${imgs.map((r) => `${r.case.replace(/ image$/, '')} (${r.layers} layers, ${num(r.compressed, 'MB')} MB compressed, ${num(r.unpacked, 'MB')} MB unpacked)`).join('; ')}.`, '');
      const cols = rts.filter((r) => r !== 'image');
      const rows = cases.filter((c) => !/ image$/.test(c)).map((c) => {
        const p = fastestPeer(L, c);
        return [c, ...cols.map((rt) => cell(find(L, s, c, rt), 'ms')), p ? p.runtime : '–', p ? x(pairedRatio(find(L, s, c, 'minid'), p)) : '–'];
      });
      out.push(table(['case', ...cols, 'fastest peer', 'minid ÷ fastest peer'], rows));
      out.push('');
      out.push("cold: the puller's side empty (a new minid store; docker and podman after `rmi -f` of every image and a prune; an empty OCI layout and bundle), until the command exits with the layers unpacked (runnable: checked after each round's pulls with `nginx -v` / `python3 -c 'print(1)'`). warm: the same pull again (skopeo+umoci: the `skopeo copy` only). The runtimes take turns going first from round to round; \"minid ÷ fastest peer\" is the median over rounds of minid's figure ÷ that peer's in the same round.");
    } else if (s === 'dns') {
      out.push(`### Names on a user network (DNS): asked from inside a container's namespace — ${sec.date}`);
      out.push('');
      const unit = (c) => (/^query/.test(c) ? 'µs' : /^server RSS/.test(c) ? 'MB' : 'ms');
      const shown = (r, c) => (ok(r) && typeof r.p99 === 'number' ? `${num(r.median)} (p99 ${num(r.p99)})` : cell(r, unit(c)));
      const peer = rts.includes('podman');
      const rows = cases.map((c) => [`${c} (${unit(c)})`, ...rts.map((rt) => shown(find(L, s, c, rt), c)), ...(peer ? [x(ratio(find(L, s, c, 'minid'), find(L, s, c, 'podman')))] : [])]);
      out.push(table(['case', ...rts, ...(peer ? ['minid ÷ podman'] : [])], rows));
      out.push('');
      out.push("minid: its network's dnsmasq at 127.0.0.11 (DNAT'd in the container's namespace); podman: netavark + aardvark-dns at the network's gateway. Queries: one after the other over UDP (bench/tools/dnsq), a forwarded name fresh each time (never cached), answered by a dnsmasq in a namespace of the bench's own.");
    } else if (s === 'startup') {
      out.push(`### CLI start-up (ms, median (min–max) of ${o.runs * 2} runs) — ${sec.date}`);
      out.push('');
      out.push(table(['command', ...rts], cases.map((c) => [c, ...rts.map((rt) => cell(find(L, s, c, rt), 'ms'))])));
    }
    const n = notes(L, s);
    if (n.length) out.push('', ...n.map((l) => `- ${l}`));
  }
  out.push('', '### Targets', '');
  out.push(table(['target', 'minid', 'status'], (L.targets ?? []).map((t) => [t.text, t.display, t.status === 'met' ? '**met**' : t.status === 'missed' ? '**missed**' : t.status])));
  if (L.last_run?.leftovers?.length) out.push('', `Left on the host after the last run: ${L.last_run.leftovers.join('; ')}`);
  return out.join('\n') + '\n';
}

const args = process.argv.slice(2);
const L = load(args);
const md = render(L);
process.stdout.write(md);
if (args[0] !== '--md' && args[3]) fs.writeFileSync(args[3], md);
