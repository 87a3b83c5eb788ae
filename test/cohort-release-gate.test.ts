import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleasedCohort } from '../src/cohort/index.js';
import { poolMeasurements, releaseCohort } from '../src/cohort/index.js';
import { isReleased } from '../src/privacy/index.js';
import { buildServer } from '../src/server/index.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

/**
 * Issue 14's attacks on the cohort and console answers, over real HTTP to a real hub, as a researcher (a principal
 * without row-level rights): what the release gate and the release log must stop.
 */
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const ATC = 'http://www.whocc.no/atc';
const LOINC = 'http://loinc.org';
/** Seven lab codes: the target's seven values are what the subtraction attack is after. */
const LABS = ['2345-7', '2093-3', '2571-8', '2085-9', '13457-7', '4548-4', '33914-3'];
const RARE_DRUG = 'A10BA02'; // taken by 6 people, 5 prescriptions each: 30 events
const COMMON_DRUG = 'C09AA05'; // taken by 12 people, once each
const TARGET = 35; // the one person aged 55–58 with lab values

/** Person i: aged 44 (i < 35), 57 (35 ≤ i < 47) or 74 at the diagnosis on 2024-06-01. */
function birthDate(i: number): string {
  return i < 35 ? '1980-01-01' : i < 47 ? '1967-01-01' : '1950-01-01';
}
const hasLabs = (i: number) => i < 23 || i === TARGET;
function labValue(i: number, k: number): number {
  return i === TARGET ? 140 + 3 * k + 0.7 : 60 + ((i * 37 + k * 11) % 40) + 0.1 * k;
}

function resources(): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < 60; i++) {
    const subject = { reference: `Patient/p${i}` };
    out.push({ resourceType: 'Patient', id: `p${i}`, gender: i % 2 ? 'male' : 'female', birthDate: birthDate(i) });
    out.push({
      resourceType: 'Condition',
      id: `dm-${i}`,
      subject,
      code: { coding: [{ system: ICD10, code: 'E11' }] },
      onsetDateTime: '2024-06-01',
    });
    out.push({
      resourceType: 'Encounter',
      id: `visit-${i}`,
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject,
      period: { start: '2024-06-01T09:00:00Z', end: '2024-06-01T09:20:00Z' },
    });
    if (hasLabs(i)) {
      LABS.forEach((code, k) => {
        out.push({
          resourceType: 'Observation',
          id: `lab-${i}-${k}`,
          status: 'final',
          subject,
          code: { coding: [{ system: LOINC, code }] },
          effectiveDateTime: '2024-05-01',
          valueQuantity: { value: labValue(i, k), unit: 'mg/dL' },
        });
      });
    }
    const prescribe = (drug: string, times: number) => {
      for (let t = 0; t < times; t++) {
        out.push({
          resourceType: 'MedicationRequest',
          id: `rx-${drug}-${i}-${t}`,
          status: 'active',
          intent: 'order',
          subject,
          medicationCodeableConcept: { coding: [{ system: ATC, code: drug }] },
          authoredOn: `2024-0${1 + t}-15`,
        });
      }
    };
    if (i < 6) prescribe(RARE_DRUG, 5);
    if (i >= 10 && i < 22) prescribe(COMMON_DRUG, 1);
  }
  return out;
}

const cohort = (name: string, maxAge: number, extra: unknown[] = []) => ({
  name,
  conceptSets: {
    dm: { concepts: [{ system: ICD10, code: 'E11' }] },
    rare: { concepts: [{ system: ATC, code: RARE_DRUG }] },
  },
  entry: { domain: 'condition', conceptSet: 'dm' },
  inclusion: [{ name: 'adults of working age', age: { min: 30, max: maxAge } }, ...extra],
});

describe('the release gate on cohorts and the console, against issue 14', () => {
  let env: Awaited<ReturnType<typeof tempHub>>;
  let app: FastifyInstance;
  let researcher: string;
  let steward: string;
  const handed = new Map<string, boolean>();

  beforeAll(async () => {
    env = await tempHub('gate-cohorts');
    const file = join(env.dir, 'people.ndjson');
    writeFileSync(
      file,
      `${resources()
        .map((r) => JSON.stringify(r))
        .join('\n')}\n`,
    );
    const summary = await env.hub.ingest.ingestPaths([file], ingestOptions(env.hub));
    expect(summary.totals.rejected).toBe(0);
    researcher = await env.hub.tokens.create('analyst', 'researcher');
    steward = await env.hub.tokens.create('curator', 'steward');
    app = await buildServer(env.hub);
    // Whether each handler returned a Released value: the server's own hook (registered first) unwraps it and marks
    // the reply as gated before this one runs.
    app.addHook('preSerialization', async (req, reply, payload) => {
      handed.set(
        `${req.principal?.role} ${req.method} ${req.url.split('?')[0]}`,
        reply.gated === true || isReleased(payload),
      );
      return payload;
    });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await env?.cleanup();
  });

  const get = (token: string, url: string) =>
    app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  const runCohort = (token: string, definition: unknown) =>
    app.inject({
      method: 'POST',
      url: '/cohort/$run',
      headers: { authorization: `Bearer ${token}` },
      payload: { definition } as Record<string, unknown>,
    });

  it('does not list to a researcher a drug taken by 6 people, however many prescriptions they had', async () => {
    type Concepts = { concepts: { code: string; persons: number | null }[] };
    const rare = (await get(researcher, `/console/concepts?q=${RARE_DRUG}`)).json() as Concepts;
    expect(rare.concepts.map((c) => c.code)).not.toContain(RARE_DRUG);
    // The steward sees it, with the number of people (not the 30 prescriptions).
    const exact = (await get(steward, `/console/concepts?q=${RARE_DRUG}`)).json() as Concepts;
    expect(exact.concepts.find((c) => c.code === RARE_DRUG)?.persons).toBe(6);
    // A drug taken by 12 people is listed, its count of people rounded.
    const common = (await get(researcher, `/console/concepts?q=${COMMON_DRUG}`)).json() as Concepts;
    expect(common.concepts.find((c) => c.code === COMMON_DRUG)?.persons).toBe(10);
  });

  it("does not give one person's seven lab values by subtracting two cohorts' measurement means", async () => {
    // Aged 30–54: 35 people, 23 with the seven labs. Aged 30–58: 12 more people, one of them with labs.
    const a = await runCohort(researcher, cohort('working age', 54));
    expect(a.statusCode).toBe(200);
    const b = await runCohort(researcher, cohort('working age, a little older', 58));
    expect(b.statusCode).toBe(200);
    const first = a.json() as ReleasedCohort;
    const second = b.json() as ReleasedCohort;
    // The cohorts themselves are far enough apart to be released.
    expect(first.persons).toBe(35);
    expect(second.persons).toBe(45);
    for (const [k, code] of LABS.entries()) {
      const before = first.measurements.find((m) => m.code === code);
      const after = second.measurements.find((m) => m.code === code);
      expect(before?.summary.mean, code).toBeDefined();
      // The attacker knows the contributors went from 23 to 24 (the age bands say who was added).
      const mean = (m: typeof after) => m?.summary.mean;
      const guess = 24 * (mean(after) ?? Number.NaN) - 23 * (mean(before) ?? Number.NaN);
      const truth = labValue(TARGET, k);
      expect(Number.isNaN(guess) || Math.abs(guess - truth) > 1, `${code}: ${guess} vs ${truth}`).toBe(true);
      // Withheld by the differencing rule, with nothing published about it, and never by how much.
      expect(after?.refusedBy).toBe('differencing');
      expect(after?.summary.n).toBeNull();
      expect(after?.histogram).toBeNull();
    }
    // The refusals are audited with their detail inside the hub.
    const denied = await env.hub.db.all<{ target: string }>(
      "SELECT target FROM audit_log WHERE action = 'release' AND outcome = 'denied'",
    );
    expect(denied.map((d) => d.target).filter((t) => t.startsWith('cohort.measurement/'))).toHaveLength(LABS.length);
  });

  it('refuses a cohort that differs from an earlier release by a few people with a body that holds no number', async () => {
    // The same cohort without the 6 people on the rare drug: 35 → 29, a group of 6.
    const res = await runCohort(
      researcher,
      cohort('working age', 54, [
        {
          name: 'never on the rare drug',
          events: { domain: 'medication', conceptSet: 'rare', window: {}, count: { max: 0 } },
        },
      ]),
    );
    expect(res.statusCode).toBe(403);
    expect(JSON.stringify(res.json())).toContain('DISCLOSURE_DIFFERENCING');
    expect(res.body).not.toMatch(/\d/);
  });

  it('refuses a survival curve with fewer events than the threshold, with a body that holds no number', async () => {
    // Every prescription precedes the diagnosis: no one has the outcome after entry.
    const outcome = { ...cohort('rare', 80), name: 'rare drug', entry: { domain: 'medication', conceptSet: 'rare' } };
    const res = await app.inject({
      method: 'POST',
      url: '/cohort/$survival',
      headers: { authorization: `Bearer ${researcher}` },
      payload: { definition: cohort('dm', 80), outcome },
    });
    expect(res.statusCode, res.body).toBe(403);
    expect(res.body).toContain('DISCLOSURE_REFUSED');
    expect(res.body).not.toMatch(/\d/);
  });

  it('answers a researcher on every cohort and console route with a value built by the release gate', async () => {
    const urls = [
      '/console/overview',
      '/console/policy',
      '/console/peers',
      '/console/catalog',
      '/console/catalog/patient',
      `/console/concepts?q=${COMMON_DRUG}`,
      '/console/surveillance/observed',
    ];
    for (const url of urls) {
      const res = await get(researcher, url);
      expect(res.statusCode, `${url} ${res.body}`).toBe(200);
    }
    expect((await runCohort(researcher, cohort('working age', 54))).statusCode).toBe(200);
    for (const url of [...urls.map((u) => `GET ${u.split('?')[0]}`), 'POST /cohort/$run']) {
      expect(handed.get(`researcher ${url}`), url).toBe(true);
    }
    // The overview's counts pass the gate: 60 patients released as 60, ingest history without file or size.
    const overview = (await get(researcher, '/console/overview')).json() as {
      counts: { type: string; resources: number | null }[];
      ingests: { bytes: number | null; entries: number | null }[];
    };
    for (const c of overview.counts) if (c.resources !== null) expect(c.resources % 5).toBe(0);
    expect(overview.ingests.every((e) => e.bytes === null)).toBe(true);
  });

  it("refuses to pass a cohort answer's plain numbers through the gate again: only released parts are bundled", async () => {
    const released = await releaseCohort(env.hub, cohort('working age', 54), 'user:test');
    expect(isReleased(released)).toBe(true);
    const plain = released.value as unknown as Parameters<typeof env.hub.gate.bundle>[0];
    const code = (f: () => unknown) => {
      try {
        f();
        return 'bundled';
      } catch (e) {
        return (e as { code?: string }).code;
      }
    };
    expect(code(() => env.hub.gate.bundle(plain))).toBe('DISCLOSURE_UNGATED');
    const pooled = poolMeasurements([released.value]) as unknown as Parameters<typeof env.hub.gate.bundle>[0];
    expect(code(() => env.hub.gate.bundle({ measurements: pooled }))).toBe('DISCLOSURE_UNGATED');
  });
});
