import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/core/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { generateRegion } from '../src/synth/index.js';

/**
 * A serving hub under concurrent load on loopback, for a fixed time: searches and cohorts from several clients while
 * one client ingests batch Bundles through `POST /fhir`. Prints p50/p99 latency per kind of request, errors and
 * memory, and the p99 of searches under load as a ratio of their p50 on the idle server measured first in the same
 * run. Floors: no 5xx, every accepted record stored exactly once, memory bounded.
 */
const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 20);
const PEOPLE = Number(process.env.BENCH_LOAD_PEOPLE ?? 1000);
const SEARCH_CLIENTS = 6;
const COHORT_CLIENTS = 2;
const BATCH = 200;
/** Peak RSS under load over RSS after the warm-up: growth beyond this is unbounded memory. */
const MEMORY_CEILING = 2;
/** Search p99 under load over its p50 idle: reported; no floor (two cores shared by clients and server). */

const COHORT = JSON.parse(
  readFileSync(new URL('../test/fixtures/cohorts/htn-older-women.json', import.meta.url), 'utf8'),
) as unknown;

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.min(s.length - 1, Math.floor(q * s.length))] as number);
};

interface Tally {
  ms: number[];
  statuses: Map<number, number>;
  failures: number;
}

const tally = (): Tally => ({ ms: [], statuses: new Map(), failures: 0 });

async function timed(t: Tally, call: () => Promise<Response>): Promise<Response | undefined> {
  const t0 = performance.now();
  try {
    const res = await call();
    await res.arrayBuffer();
    t.ms.push(performance.now() - t0);
    t.statuses.set(res.status, (t.statuses.get(res.status) ?? 0) + 1);
    return res;
  } catch {
    t.failures++;
    return undefined;
  }
}

export async function runLoadBench(): Promise<boolean> {
  const work = mkdtempSync(join(tmpdir(), 'hm-bench-load-'));
  try {
    const synth = join(work, 'synth');
    generateRegion({ region: 'gyeonggi', people: PEOPLE, seed: 'bench-load', out: synth });
    const dir = join(work, 'hub');
    await initHub(dir, { name: 'gyeonggi', logger: silentLogger() });
    const hub = await openHub(dir, { logger: silentLogger() });
    const files = readdirSync(synth)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(synth, f));
    await hub.ingest.ingestPaths(files, { source: 'bench', actor: 'bench', rejectsPath: join(dir, 'rejects.ndjson') });
    const steward = await hub.tokens.create('load-steward', 'steward');
    const researcher = await hub.tokens.create('load-researcher', 'researcher');
    const service = await hub.tokens.create('load-service', 'service', { sources: ['load'] });
    const app = await buildServer(hub);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    const search = () =>
      fetch(`${base}/fhir/Observation?code=http://loinc.org|8480-6&_count=50`, { headers: auth(steward) });
    const patientsBefore = await hub.store.count('Patient');
    try {
      // Reference: the same search on the idle server, one at a time.
      const idle = tally();
      for (let i = 0; i < 100; i++) await timed(idle, search);
      const warmRss = process.memoryUsage().rss;

      const searches = tally();
      const cohorts = tally();
      const ingests = tally();
      let accepted = 0;
      let peakRss = warmRss;
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }, 250);
      const until = performance.now() + SECONDS * 1000;
      const loop = async (work: () => Promise<void>) => {
        while (performance.now() < until) await work();
      };
      let batch = 0;
      await Promise.all([
        ...Array.from({ length: SEARCH_CLIENTS }, () => loop(async () => void (await timed(searches, search)))),
        ...Array.from({ length: COHORT_CLIENTS }, () =>
          loop(async () => {
            await timed(cohorts, () =>
              fetch(`${base}/cohort/$run`, {
                method: 'POST',
                headers: { ...auth(researcher), 'content-type': 'application/json' },
                body: JSON.stringify({ definition: COHORT }),
              }),
            );
          }),
        ),
        loop(async () => {
          const n = batch++;
          const entry = Array.from({ length: BATCH }, (_, i) => ({
            resource: { resourceType: 'Patient', id: `load-${n}-${i}`, gender: i % 2 ? 'male' : 'female' },
            request: { method: 'PUT', url: `Patient/load-${n}-${i}` },
          }));
          const res = await timed(ingests, () =>
            fetch(`${base}/fhir?source=load`, {
              method: 'POST',
              headers: { ...auth(service), 'content-type': 'application/fhir+json' },
              body: JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry }),
            }),
          );
          if (res?.status === 200) accepted += BATCH;
        }),
      ]);
      clearInterval(sampler);
      const stored = (await hub.store.count('Patient')) - patientsBefore;
      const all = [searches, cohorts, ingests];
      const serverErrors = all.reduce(
        (n, t) => n + [...t.statuses].filter(([s]) => s >= 500).reduce((m, [, c]) => m + c, 0),
        0,
      );
      const failures = all.reduce((n, t) => n + t.failures, 0);
      const line = (name: string, t: Tally) => {
        const codes = [...t.statuses]
          .sort()
          .map(([s, c]) => `${s}×${c}`)
          .join(' ');
        console.log(
          `load ${name}: ${t.ms.length} requests, p50 ${quantile(t.ms, 0.5).toFixed(1)} ms, p99 ${quantile(t.ms, 0.99).toFixed(1)} ms (${codes})`,
        );
      };
      const idleP50 = quantile(idle.ms, 0.5);
      console.log(`load idle search: p50 ${idleP50.toFixed(1)} ms over ${idle.ms.length} requests`);
      line('search', searches);
      line('cohort', cohorts);
      line('ingest', ingests);
      console.log(
        `load search p99 under load: ${(quantile(searches.ms, 0.99) / idleP50).toFixed(1)}x vs idle p50 (${SEARCH_CLIENTS} search, ${COHORT_CLIENTS} cohort and 1 ingest clients for ${SECONDS} s)`,
      );
      console.log(
        `load errors: ${serverErrors} 5xx, ${failures} failed connections; records: ${accepted} accepted, ${stored} stored`,
      );
      const memoryRatio = peakRss / warmRss;
      console.log(
        `load memory: peak RSS ${(peakRss / 1e6).toFixed(0)} MB (${memoryRatio.toFixed(2)}x vs ${(warmRss / 1e6).toFixed(0)} MB after warm-up; ceiling ${MEMORY_CEILING}x)`,
      );
      const ok =
        serverErrors === 0 && failures === 0 && stored === accepted && memoryRatio <= MEMORY_CEILING && accepted > 0;
      if (!ok) console.log('load: FLOOR MISSED');
      return ok;
    } finally {
      await app.close();
      await hub.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
