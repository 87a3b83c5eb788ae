import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CohortRun } from '../src/cohort/index.js';
import { characterise, entriesByDay, listCohortRuns, releaseCohort, runCohort } from '../src/cohort/index.js';
import { isHealthmeshError } from '../src/core/index.js';
import { generateRegion } from '../src/synth/index.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

type Json = Record<string, unknown>;
const read = (dir: string, type: string): Json[] =>
  readFileSync(join(dir, `${type}.ndjson`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Json);
const day = (iso: string) => Math.floor(Date.parse(`${iso.slice(0, 10)}T00:00:00Z`) / 86_400_000);
const subjectOf = (r: Json) => String((r.subject as { reference: string }).reference);
const codeOf = (r: Json) => (r.code as { coding: { code: string }[] }).coding[0]?.code ?? '';

/**
 * The expected cohort computed straight from the generated NDJSON, without views, index or SQL: each rule of
 * htn-older-women.json applied in plain code, giving the persons left after each step.
 */
function expectedAttrition(dir: string): number[] {
  const patients = new Map(read(dir, 'Patient').map((p) => [`Patient/${String(p.id)}`, p]));
  const conditions = read(dir, 'Condition');
  const index = new Map<string, number>();
  for (const c of conditions) {
    if (codeOf(c) !== 'I10') continue;
    const d = day(String(c.onsetDateTime));
    const s = subjectOf(c);
    if (!index.has(s) || d < (index.get(s) as number)) index.set(s, d);
  }
  const ihd = conditions.filter((c) => /^I2[015]/.test(codeOf(c)));
  const fpg = read(dir, 'Observation').filter((o) => codeOf(o) === '1558-6');
  const steps = [index.size];
  let left = [...index];
  const keep = (f: (s: string, d: number) => boolean) => {
    left = left.filter(([s, d]) => f(s, d));
    steps.push(left.length);
  };
  keep(() => true); // no observation requirement
  keep((s, d) => {
    const birth = String(patients.get(s)?.birthDate);
    const at = new Date(d * 86_400_000);
    const age =
      at.getUTCFullYear() - Number(birth.slice(0, 4)) - (at.getUTCMonth() + 1 < Number(birth.slice(5, 7)) ? 1 : 0);
    return age >= 50;
  });
  keep((s) => patients.get(s)?.gender === 'female');
  keep((s, d) => !ihd.some((c) => subjectOf(c) === s && day(String(c.onsetDateTime)) <= d));
  keep((s, d) => {
    const inWindow = fpg
      .filter((o) => subjectOf(o) === s)
      .map((o) => ({ d: day(String(o.effectiveDateTime)), v: (o.valueQuantity as { value: number }).value }))
      .filter((o) => o.d >= d - 730 && o.d <= d)
      .sort((a, b) => b.d - a.d || b.v - a.v);
    return inWindow[0] !== undefined && inWindow[0].v <= 125.99;
  });
  return steps;
}

describe('cohorts over FHIR data, through ingest, views and the event index', () => {
  const input = mkdtempSync(join(tmpdir(), 'hm-cohort-fhir-'));
  let env: Awaited<ReturnType<typeof tempHub>>;
  let run: CohortRun;
  beforeAll(async () => {
    generateRegion({ region: 'busan', people: 300, seed: 'cohort', out: input });
    env = await tempHub('busan');
    const files = readdirSync(input)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(input, f));
    await env.hub.ingest.ingestPaths(files, ingestOptions(env.hub, { source: 'synth-busan' }));
    // No reader refreshes anything: the ingest's after-commit pipeline left every derived table current.
    expect(await env.hub.derived.staleSteps()).toEqual([]);
    const def = JSON.parse(
      readFileSync(new URL('./fixtures/cohorts/htn-older-women.json', import.meta.url), 'utf8'),
    ) as unknown;
    run = await runCohort(env.hub.db, def, env.hub.clock);
  }, 300_000);
  afterAll(async () => {
    await env.cleanup();
    rmSync(input, { recursive: true, force: true });
  });

  it('gives the attrition computed independently from the raw resources, rule by rule', () => {
    const expected = expectedAttrition(input);
    expect(expected[0]).toBeGreaterThan(40);
    expect(expected[expected.length - 1]).toBeGreaterThan(3);
    console.log(`attrition: ${run.attrition.map((a) => `${a.step}: ${a.persons}`).join('; ')}`);
    expect(run.attrition.map((a) => a.persons)).toEqual(expected);
    expect(run.attrition.map((a) => a.step)[2]).toBe('aged 50 or more at index');
  });

  it('keeps the result: one row per person, exiting five years after entry at the latest', async () => {
    const rows = await env.hub.db.all<{ start_date: Date; end_date: Date }>(
      'SELECT start_date, end_date FROM cohort_result WHERE cohort_id = $1',
      [run.cohortId],
    );
    expect(rows.length).toBe(run.persons);
    for (const r of rows) {
      const days = (new Date(String(r.end_date)).getTime() - new Date(String(r.start_date)).getTime()) / 86_400_000;
      expect(days).toBeGreaterThanOrEqual(0);
      expect(days).toBeLessThanOrEqual(1825);
    }
    const listed = (await listCohortRuns(env.hub.db)).find((r) => r.cohortId === run.cohortId);
    expect(listed).toMatchObject({ name: run.name, persons: run.persons });
    const days = await entriesByDay(env.hub.db, run.cohortId);
    expect(days.reduce((n, d) => n + d.entries, 0)).toBe(run.entries);
    expect(days.every((d) => /^\d{4}-\d{2}-\d{2}$/.test(d.day))).toBe(true);
  });

  it('characterises it: everyone is a woman of 50+, every person has the entry condition', async () => {
    const c = await characterise(env.hub.db, run.cohortId);
    expect(c.persons).toBe(run.persons);
    expect(c.sex).toEqual([{ key: 'female', persons: run.persons }]);
    expect(c.ageBands.every((b) => ['50-59', '60-69', '70-79', '80+'].includes(b.key))).toBe(true);
    expect(c.region).toEqual([{ key: 'busan', persons: run.persons }]);
    const htn = c.conditions.find((x) => x.code === 'I10');
    expect(htn?.persons).toBe(run.persons);
    const fpg = c.measurements.find((m) => m.code === '1558-6');
    expect(fpg?.n).toBe(run.persons);
    expect(fpg?.median).toBeLessThan(126);
  });

  it('answers a repeated cohort with its earlier release until the population has moved by the threshold', async () => {
    const def = {
      name: 'hypertension',
      conceptSets: {
        htn: { concepts: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10', descendants: true }] },
      },
      entry: { domain: 'condition', conceptSet: 'htn' },
    };
    const newPatients = async (from: number, n: number) => {
      const file = join(input, `more-${from}.ndjson`);
      const lines: string[] = [];
      for (let i = from; i < from + n; i++) {
        lines.push(
          JSON.stringify({ resourceType: 'Patient', id: `new-${i}`, gender: 'male', birthDate: '1950-03-01' }),
        );
        lines.push(
          JSON.stringify({
            resourceType: 'Condition',
            id: `new-htn-${i}`,
            subject: { reference: `Patient/new-${i}` },
            code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' }] },
            onsetDateTime: '2024-05-01',
          }),
        );
      }
      writeFileSync(file, `${lines.join('\n')}\n`);
      const summary = await env.hub.ingest.ingestPaths([file], ingestOptions(env.hub, { source: 'late-arrivals' }));
      expect(summary.totals.rejected).toBe(0);
    };
    const first = (await releaseCohort(env.hub, def, 'user:analyst')).value;
    expect(first.asOf).toBeUndefined();
    await newPatients(0, 3);
    // 3 more people: a fresh count beside the published one would reveal them, so the earlier release comes back.
    const again = (await releaseCohort(env.hub, def, 'user:analyst')).value;
    expect(again.asOf).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(again.persons).toBe(first.persons);
    expect(again.ageSex).toEqual(first.ageSex);
    await newPatients(3, 9);
    // 12 more than at the first release: the fresh answer goes out.
    const moved = (await releaseCohort(env.hub, def, 'user:analyst')).value;
    expect(moved.asOf).toBeUndefined();
    // A cohort runs for research: people whose (generated) consent refuses research are not counted. Read here from
    // view_consent, apart from the consent evaluation the cohort used.
    const now = await env.hub.db.all<{ n: unknown }>(
      `SELECT COUNT(DISTINCT patient_key) AS n FROM cohort_event WHERE domain = 'condition' AND code LIKE 'I10%'
       AND patient_key NOT IN (SELECT patient_key FROM view_consent
         WHERE status = 'active' AND provision_type = 'deny' AND purpose_code = 'HRESCH')`,
    );
    expect(Math.abs((moved.persons ?? 0) - Number(now[0]?.n))).toBeLessThanOrEqual(2.5);
    expect(moved.persons).toBeGreaterThan(first.persons ?? 0);
  });

  it('names the field of an invalid definition', async () => {
    const bad = { name: 'x', conceptSets: {}, entry: { domain: 'condition', conceptSet: 'nowhere' } };
    const codeOf = async (def: unknown) =>
      runCohort(env.hub.db, def, env.hub.clock).then(
        () => 'ok',
        (e: unknown) => (isHealthmeshError(e) ? `${e.code} ${e.location.path}` : String(e)),
      );
    expect(await codeOf(bad)).toBe('COHORT_UNKNOWN_CONCEPT_SET entry.conceptSet');
    expect(await codeOf({ ...bad, entry: { domain: 'diagnosis', conceptSet: 'x' } })).toMatch(
      /^COHORT_INVALID_DEFINITION entry.domain/,
    );
    expect(
      await codeOf({
        ...bad,
        inclusion: [{ name: 'a', age: { min: 70, max: 60 } }],
        conceptSets: { nowhere: { concepts: [{ system: 's', code: 'c' }] } },
      }),
    ).toBe('COHORT_INVALID_DEFINITION inclusion[0].age');
  });
});
