import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederatedCohort } from '../src/cohort/index.js';
import { CohortFederation, characterise, cohortIdOf, validateCohortDefinition } from '../src/cohort/index.js';
import { silentLogger } from '../src/core/index.js';
import type { Federation } from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { formatLinkageKey, LinkageService, RRN_SYSTEM } from '../src/privacy/index.js';
import type { RegionId } from '../src/synth/index.js';
import { generateRegion } from '../src/synth/index.js';
import { peerEachOther, serveFederated } from './support/peer-servers.js';
import { ingestOptions } from './support/temp-hub.js';

const REGIONS: RegionId[] = ['gwangju', 'gyeonggi', 'busan'];
const N = 200;
const NOW = new Date('2026-03-01T00:00:00Z');
const AMB = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' };
const DEFINITION = {
  name: 'People with an outpatient visit',
  conceptSets: { ambulatory: { concepts: [AMB] } },
  entry: { domain: 'encounter', conceptSet: 'ambulatory' },
};

type Json = Record<string, unknown>;
const lines = (file: string): Json[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Json);

/** Every number a response carries that counts people: none may be under the threshold or off the rounding grid. */
function releasedNumbers(r: FederatedCohort): (number | null)[] {
  return r.hubs.flatMap((h) => [
    h.persons,
    ...h.attrition.map((a) => a.persons),
    ...h.ageSex.cells.flat(),
    ...h.ageSex.rowTotals,
    ...h.ageSex.columnTotals,
    h.ageSex.total,
    ...h.measurements.flatMap((m) => [m.summary.n, ...(m.histogram?.counts ?? [])]),
  ]);
}

describe('a cohort run across three hubs over signed HTTP', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-fed-cohort-'));
  const hubs = new Map<string, Hub>();
  const servers = new Map<string, { app: FastifyInstance; federation: Federation; cohorts: CohortFederation }>();
  const withVisit = new Map<string, Set<string>>();
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    const service = LinkageService.init(join(root, 'linkage-service'));
    for (const region of REGIONS) {
      const out = join(root, `synth-${region}`);
      generateRegion({ region, people: N, seed: 'federated-cohort', out });
      // The expected answer, from the raw files: the national ids of everyone with an outpatient visit here whose
      // consent does not refuse research (the purpose a cohort runs for unless it names another).
      const refused = new Set(
        lines(join(out, 'Consent.ndjson'))
          .filter((c) => (c.provision as { type: string }).type === 'deny')
          .map((c) => String((c.patient as { reference: string }).reference)),
      );
      const visited = new Set(
        lines(join(out, 'Encounter.ndjson'))
          .filter((e) => (e.class as { code: string }).code === 'AMB')
          .map((e) => String((e.subject as { reference: string }).reference)),
      );
      const rrns = new Set<string>();
      for (const p of lines(join(out, 'Patient.ndjson'))) {
        if (!visited.has(`Patient/${String(p.id)}`) || refused.has(`Patient/${String(p.id)}`)) continue;
        const id = (p.identifier as { system: string; value: string }[]).find((i) => i.system === RRN_SYSTEM);
        if (id) rrns.add(id.value);
      }
      withVisit.set(region, rrns);
      const dir = join(root, region);
      // A hub's first run builds its event index; on a loaded CI box that can pass the default 10 s peer timeout.
      const { paths, adminToken } = await initHub(dir, {
        name: region,
        config: {
          name: region,
          federation: { clockSkewSeconds: 60, timeoutMs: 60_000, maxBodyBytes: 16 * 1024 * 1024 },
        },
        logger: silentLogger(),
      });
      tokens.set(region, adminToken);
      writeFileSync(paths.linkageKey, formatLinkageKey(service.issue(region, NOW)), { mode: 0o600 });
      const hub = await openHub(dir, { logger: silentLogger() });
      hubs.set(region, hub);
      const files = readdirSync(out)
        .filter((f) => f.endsWith('.ndjson'))
        .map((f) => join(out, f));
      const summary = await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: `synth-${region}` }));
      expect(summary.totals.rejected).toBe(0);
    }
    for (const [name, hub] of hubs) {
      const cohorts = new CohortFederation(hub);
      servers.set(name, { ...(await serveFederated(hub, cohorts.register(), { cohorts })), cohorts });
    }
    peerEachOther(servers);
  }, 600_000);

  afterAll(async () => {
    for (const s of servers.values()) await s.app.close().catch(() => undefined);
    for (const hub of hubs.values()) await hub.close().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  it('counts each person once across hubs, below the plain sum, with nothing under the threshold released', async () => {
    const coordinator = servers.get('gyeonggi')!;
    const result = (await coordinator.cohorts.run(coordinator.federation, REGIONS, DEFINITION)).value;
    expect(result.failed).toEqual([]);
    expect(result.complete).toBe(true);
    expect(result.hubs.map((h) => h.hub).sort()).toEqual([...REGIONS].sort());
    const distinct = new Set([...withVisit.values()].flatMap((s) => [...s])).size;
    const plainSum = [...withVisit.values()].reduce((n, s) => n + s.size, 0);
    expect(plainSum).toBeGreaterThan(distinct); // travellers seen in two regions
    // Released counts are rounded to 5: each within 2.5 of the truth.
    expect(Math.abs((result.distinctPersons ?? 0) - distinct)).toBeLessThanOrEqual(2.5);
    expect(Math.abs((result.summedPersons ?? 0) - plainSum)).toBeLessThanOrEqual(3 * 2.5);
    expect(result.distinctPersons!).toBeLessThan(result.summedPersons ?? 0);
    for (const n of releasedNumbers(result)) {
      if (n !== null) {
        expect(n).toBeGreaterThanOrEqual(10);
        expect(n % 5).toBe(0);
      }
    }
    console.log(
      `federated: ${result.summedPersons} summed, ${result.distinctPersons} distinct (truth ${plainSum} and ${distinct})`,
    );
    // Pooled means against the exact mean over the union, computed inside each hub from its own rows.
    const pooled = [...result.measurements].sort((a, b) => b.n - a.n)[0]!;
    expect(pooled.hubs).toBe(3);
    let n = 0;
    let sum = 0;
    for (const hub of hubs.values()) {
      const id = cohortIdOf(validateCohortDefinition(DEFINITION), 'research');
      const m = (await characterise(hub.db, id, { top: 10 })).measurements.find(
        (x) => x.system === pooled.system && x.code === pooled.code,
      )!;
      n += m.n;
      sum += m.n * m.mean;
    }
    console.log(
      `pooled ${pooled.code}: n ${pooled.n} (exact ${n}), mean ${pooled.mean.toFixed(2)} (exact ${(sum / n).toFixed(2)})`,
    );
    expect(Math.abs(pooled.n - n)).toBeLessThanOrEqual(7.5);
    expect(Math.abs(pooled.mean - sum / n)).toBeLessThanOrEqual(0.02 * Math.abs(sum / n));
    expect(pooled.sd).toBeGreaterThan(0);

    // Pooled quartiles from the hubs' histograms against the exact quartiles of the union's values. The test reads
    // each hub's rows to know the truth; the coordinator saw only bins of ten or more people.
    const values: number[] = [];
    for (const hub of hubs.values()) {
      const id = cohortIdOf(validateCohortDefinition(DEFINITION), 'research');
      const rows = await hub.db.all<{ value: number }>(
        `WITH entry AS (SELECT patient_key, MIN(start_date) AS start_date FROM cohort_result WHERE cohort_id = $1 GROUP BY 1),
         latest AS (SELECT e.value, ROW_NUMBER() OVER (PARTITION BY e.patient_key ORDER BY e.event_date DESC, e.value DESC) AS rn
           FROM entry r JOIN cohort_event e ON e.patient_key = r.patient_key
           WHERE e.domain = 'measurement' AND e.system = $2 AND e.code = $3 AND e.value IS NOT NULL
             AND e.event_date <= r.start_date AND e.event_date >= r.start_date - 365)
         SELECT value FROM latest WHERE rn = 1`,
        [id, pooled.system, pooled.code],
      );
      values.push(...rows.map((r) => Number(r.value)));
    }
    values.sort((a, b) => a - b);
    expect(values.length).toBe(n);
    expect(pooled.quantileHubs).toBe(3);
    for (const p of [0.25, 0.5, 0.75]) {
      const q = pooled.quantiles?.[String(p)];
      if (!q) throw new Error(`q${p} of ${pooled.code} was not pooled`);
      const truth = values[Math.ceil(p * values.length) - 1]!;
      console.log(
        `pooled ${pooled.code} q${p}: ${q.estimate.toFixed(2)} in [${q.low.toFixed(2)}, ${q.high.toFixed(2)}] (exact ${truth})`,
      );
      // Counts are rounded to 5 per bin, so the bounds may miss by a bin's rounding; the estimate stays close.
      expect(Math.abs(q.estimate - truth)).toBeLessThanOrEqual(0.03 * Math.abs(truth));
      expect(q.low).toBeLessThanOrEqual(q.high);
    }
  }, 120_000);

  it('answers the same through the API, to a user with a token only', async () => {
    const app = servers.get('gwangju')!.app;
    const ask = (headers: Record<string, string>, payload: unknown) =>
      app.inject({ method: 'POST', url: '/cohort/$run', headers, payload: payload as Record<string, unknown> });
    expect((await ask({}, { definition: DEFINITION })).statusCode).toBe(401);
    const auth = { authorization: `Bearer ${tokens.get('gwangju')}` };
    const local = await ask(auth, { definition: DEFINITION });
    expect(local.statusCode).toBe(200);
    expect((local.json() as { hub: string; persons: number }).hub).toBe('gwangju');
    const fed = await ask(auth, { definition: DEFINITION, hubs: REGIONS });
    expect(fed.statusCode).toBe(200);
    const body = fed.json() as FederatedCohort;
    expect(body.complete).toBe(true);
    expect(body.distinctPersons).toBeGreaterThan(0);
    const bad = await ask(auth, {
      definition: { ...DEFINITION, entry: { domain: 'diagnosis', conceptSet: 'ambulatory' } },
    });
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json())).toContain('COHORT_INVALID_DEFINITION');
  }, 120_000);

  it('names a hub that is down and still answers from the others', async () => {
    await servers.get('busan')!.app.close();
    const coordinator = servers.get('gwangju')!;
    const started = Date.now();
    const result = (await coordinator.cohorts.run(coordinator.federation, REGIONS, DEFINITION)).value;
    expect(result.complete).toBe(false);
    expect(result.failed.map((f) => f.hub)).toEqual(['busan']);
    expect(result.hubs.map((h) => h.hub).sort()).toEqual(['gwangju', 'gyeonggi']);
    expect(result.distinctPersons).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(coordinator.federation.timeoutMs + 60_000);
  }, 120_000);
});
