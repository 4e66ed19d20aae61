// bench/tools/engine-cycle.mjs WARMUP RUNS — testcontainers' start -> HTTP wait -> stop cycle
// of nginx against the Engine API that DOCKER_HOST names (minid's `system service` or a
// dockerd), in one Node process (testcontainers keeps its client: the first cycle, with its
// set-up, is a warm-up). Prints one JSON line: {"ms": [each timed cycle], "start": [the
// start() part of each: create, start, inspect, the HTTP wait], "stop": [...], "first": ms}.
// testcontainers' HTTP wait polls once per readTimeout (1 s by default): a cycle whose first
// probe finds nginx not yet listening costs a second more, so `start` shows two modes if so.
import { GenericContainer, Wait } from 'testcontainers';

const [warmup, runs] = process.argv.slice(2).map(Number);
process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
const times = [], starts = [], stops = [];
let first;
for (let i = 0; i < warmup + runs; i++) {
  const t0 = performance.now();
  const c = await new GenericContainer('nginx:latest').withExposedPorts(80).withWaitStrategy(Wait.forHttp('/', 80)).withStartupTimeout(30_000).start();
  const t1 = performance.now();
  const page = await (await fetch(`http://127.0.0.1:${c.getMappedPort(80)}/`)).text();
  if (!page.includes('Welcome to nginx')) throw new Error('nginx did not answer with its page');
  const t2 = performance.now();
  await c.stop({ timeout: 0 });
  const ms = performance.now() - t0;
  if (i === 0) first = ms;
  if (i >= warmup) { times.push(ms); starts.push(t1 - t0); stops.push(performance.now() - t2); }
}
console.log(JSON.stringify({ ms: times, start: starts, stop: stops, first }));
