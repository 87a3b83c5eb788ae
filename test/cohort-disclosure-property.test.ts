import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/server/index.js';
import { generateRegion } from '../src/synth/index.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

/**
 * Issue 5's property: no cell under the threshold ever appears in any response. Random cohort definitions (entry
 * domain and codes, age, sex, measurement and event rules, windows) run through `POST /cohort/$run` on a hub with
 * a synthetic population; every number in a field that counts people must be null (suppressed) or at least the
 * threshold and on the rounding grid. Refusals (differencing) must carry no counts at all.
 */
const THRESHOLD = 10;
const ROUNDING = 5;
/** Fields whose numbers count people, wherever they sit in a response. */
const COUNT_FIELDS = new Set(['persons', 'cells', 'rowTotals', 'columnTotals', 'total', 'n', 'counts']);

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const LOINC = 'http://loinc.org';
const ATC = 'http://www.whocc.no/atc';
const CONDITIONS = ['I10', 'E11', 'E78', 'I20', 'I63', 'N18', 'J44', 'F32', 'G30', 'J06', 'J10', 'M54'];
const MEDICATIONS = ['C09', 'A10', 'C10', 'B01', 'N06', 'R03', 'J05'];
const MEASUREMENTS: [string, number, number][] = [
  ['8480-6', 90, 180],
  ['8462-4', 50, 110],
  ['1558-6', 70, 200],
  ['4548-4', 4.5, 9],
  ['39156-5', 17, 35],
];

const window = fc.record(
  { start: fc.integer({ min: -3650, max: -1 }), end: fc.integer({ min: 0, max: 365 }) },
  { requiredKeys: [] },
);

const definition = fc
  .record({
    entryDomain: fc.constantFrom('condition', 'medication', 'encounter', 'measurement'),
    condition: fc.constantFrom(...CONDITIONS),
    medication: fc.constantFrom(...MEDICATIONS),
    other: fc.constantFrom(...CONDITIONS),
    measurement: fc.constantFrom(...MEASUREMENTS),
    occurrence: fc.constantFrom('first', 'all'),
    rules: fc.array(fc.constantFrom('age', 'sex', 'measurement', 'presence', 'absence', 'medication'), {
      maxLength: 4,
    }),
    ageMin: fc.integer({ min: 0, max: 90 }),
    ageSpan: fc.integer({ min: 1, max: 60 }),
    sex: fc.subarray(['female', 'male'], { minLength: 1 }),
    cut: fc.double({ min: 0, max: 1, noNaN: true }),
    window,
  })
  .map((r) => {
    const [loinc, lo, hi] = r.measurement;
    const conceptSets: Record<string, unknown> = {
      cond: { concepts: [{ system: ICD10, code: r.condition, descendants: true }] },
      other: { concepts: [{ system: ICD10, code: r.other, descendants: true }] },
      med: { concepts: [{ system: ATC, code: r.medication, descendants: true }] },
      lab: { concepts: [{ system: LOINC, code: loinc }] },
      amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] },
    };
    const entrySet = { condition: 'cond', medication: 'med', encounter: 'amb', measurement: 'lab' }[r.entryDomain];
    const cut = Math.round((lo + r.cut * (hi - lo)) * 10) / 10;
    const inclusion = r.rules.map((rule, i) => {
      const name = `rule ${i + 1}: ${rule}`;
      switch (rule) {
        case 'age':
          return { name, age: { min: r.ageMin, max: r.ageMin + r.ageSpan } };
        case 'sex':
          return { name, sex: r.sex };
        case 'measurement':
          return { name, measurement: { conceptSet: 'lab', window: r.window, value: { min: cut } } };
        case 'presence':
          return { name, events: { domain: 'condition', conceptSet: 'other', window: r.window } };
        case 'absence':
          return { name, events: { domain: 'condition', conceptSet: 'other', window: r.window, count: { max: 0 } } };
        default:
          return { name, events: { domain: 'medication', conceptSet: 'med', window: r.window, count: { min: 2 } } };
      }
    });
    return {
      name: `random cohort: ${r.entryDomain} ${entrySet}`,
      conceptSets,
      entry: { domain: r.entryDomain, conceptSet: entrySet, occurrence: r.occurrence },
      ...(inclusion.length > 0 && { inclusion }),
    };
  });

/** Every number under a counting field, with its path. */
function countsIn(value: unknown, path = '', counting = false): { path: string; n: number | null }[] {
  if (value === null) return counting ? [{ path, n: null }] : [];
  if (typeof value === 'number') return counting ? [{ path, n: value }] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => countsIn(v, `${path}[${i}]`, counting));
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      countsIn(v, path ? `${path}.${k}` : k, counting || COUNT_FIELDS.has(k)),
    );
  }
  return [];
}

describe('disclosure control over random cohorts (property)', () => {
  const input = mkdtempSync(join(tmpdir(), 'hm-cohort-prop-'));
  let env: Awaited<ReturnType<typeof tempHub>>;
  let app: FastifyInstance;
  beforeAll(async () => {
    generateRegion({ region: 'busan', people: 400, seed: 'disclosure-property', out: input });
    env = await tempHub('cohort-prop', {
      privacy: {
        birthDatePrecision: 'month',
        disclosure: { threshold: THRESHOLD, rounding: ROUNDING, minCellSize: 10 },
      },
    });
    const files = readdirSync(input)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(input, f));
    const summary = await env.hub.ingest.ingestPaths(files, ingestOptions(env.hub, { source: 'synth-busan' }));
    expect(summary.totals.rejected).toBe(0);
    app = await buildServer(env.hub);
  }, 300_000);
  afterAll(async () => {
    await app?.close();
    await env?.cleanup();
    rmSync(input, { recursive: true, force: true });
  });

  it('never releases a count under the threshold or off the rounding grid', async () => {
    const seen = { answered: 0, refused: 0, released: 0, suppressed: 0, nonEmpty: 0 };
    await fc.assert(
      fc.asyncProperty(definition, async (def) => {
        const res = await app.inject({
          method: 'POST',
          url: '/cohort/$run',
          headers: { authorization: `Bearer ${env.adminToken}` },
          payload: { definition: def },
        });
        const body = res.json() as Record<string, unknown>;
        if (res.statusCode === 403) {
          // Differencing protection refused it: nothing counted may be in the refusal.
          seen.refused++;
          expect(body.resourceType).toBe('OperationOutcome');
          expect(countsIn(body)).toEqual([]);
          return;
        }
        expect(res.statusCode, JSON.stringify(body).slice(0, 400)).toBe(200);
        seen.answered++;
        if (typeof body.persons === 'number') seen.nonEmpty++;
        for (const { path, n } of countsIn(body)) {
          if (n === null) {
            seen.suppressed++;
            continue;
          }
          seen.released++;
          expect(n, path).toBeGreaterThanOrEqual(THRESHOLD);
          expect(n % ROUNDING, path).toBe(0);
        }
      }),
      { numRuns: 60, seed: 20261123 },
    );
    console.log(
      `random cohorts: ${seen.answered} answered (${seen.nonEmpty} with a released person count), ${seen.refused} refused as differencing; ${seen.released} counts released, ${seen.suppressed} suppressed`,
    );
    // The property must have been exercised both ways: counts released and counts suppressed.
    expect(seen.nonEmpty).toBeGreaterThan(5);
    expect(seen.suppressed).toBeGreaterThan(10);
  }, 600_000);
});
