import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleasedCohort } from '../src/cohort/index.js';
import { cohortIdOf, runCohort } from '../src/cohort/index.js';
import type { Hub } from '../src/hub/index.js';
import type { TrainingResult } from '../src/models/index.js';
import { parseTrainingSpec, trainFromSpec } from '../src/models/index.js';
import { buildServer } from '../src/server/index.js';
import { HTN_BASE_FEATURES, HTN_CONCEPT_SETS, htnTrainingSpec } from './support/htn-spec.js';
import { syntheticHub } from './support/synthetic-risk-check.js';
import { ingestOptions } from './support/temp-hub.js';

type Json = Record<string, unknown>;
const SOURCE = 'synth-busan';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';

/** People with hypertension (the issue's example): everyone with an I10 condition. */
const HTN_COHORT = {
  name: 'Hypertension',
  conceptSets: { htn: { concepts: [{ system: ICD10, code: 'I10', descendants: true }] } },
  entry: { domain: 'condition', conceptSet: 'htn' },
};

/** A small model whose population is every adult observed at the index date. */
const HTN_SPEC = parseTrainingSpec({
  ...htnTrainingSpec('htn-consent'),
  conceptSets: { htn: HTN_CONCEPT_SETS.htn, sbp: HTN_CONCEPT_SETS.sbp },
  features: HTN_BASE_FEATURES,
});

interface Exported {
  patients: Set<string>;
  /** Every `Patient/<key>` any exported resource refers to. */
  referenced: Set<string>;
  extension: { purpose: string; leftOut: number };
}

describe('consent at every use: a person who refuses research leaves cohorts, training and $export', () => {
  let env: Awaited<ReturnType<typeof syntheticHub>>;
  let hub: Hub;
  let app: FastifyInstance;
  let admin: string;
  let analyst: string;
  const headers = (token: string) => ({ authorization: `Bearer ${token}` });

  const releaseCohortApi = async (purpose?: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/cohort/$run',
      headers: headers(analyst),
      payload: { definition: HTN_COHORT, ...(purpose !== undefined && { purpose }) },
    });
    expect(res.statusCode).toBe(200);
    return res.json<ReleasedCohort>();
  };
  const members = async (purpose: string) =>
    new Set(
      (
        await hub.db.all<{ patient_key: string }>(
          'SELECT DISTINCT patient_key FROM cohort_result WHERE cohort_id = $1',
          [cohortIdOf(HTN_COHORT as never, purpose)],
        )
      ).map((r) => r.patient_key),
    );

  async function exportAll(query = ''): Promise<Exported> {
    const kick = await app.inject({
      method: 'GET',
      url: `/fhir/$export${query}`,
      headers: { ...headers(admin), prefer: 'respond-async' },
    });
    expect(kick.statusCode).toBe(202);
    // Poll as a Bulk Data client does, until the job is done (bounded: a stuck job fails the test).
    const statusUrl = new URL(String(kick.headers['content-location'])).pathname;
    let status = await app.inject({ method: 'GET', url: statusUrl, headers: headers(admin) });
    for (let tries = 0; status.statusCode === 202 && tries < 3000; tries++) {
      await new Promise((r) => setTimeout(r, 20));
      status = await app.inject({ method: 'GET', url: statusUrl, headers: headers(admin) });
    }
    expect(status.statusCode).toBe(200);
    const manifest = status.json<{ output: { type: string; url: string }[]; extension: Exported['extension'] }>();
    const out: Exported = { patients: new Set(), referenced: new Set(), extension: manifest.extension };
    for (const o of manifest.output) {
      const file = await app.inject({ method: 'GET', url: new URL(o.url).pathname, headers: headers(admin) });
      expect(file.statusCode).toBe(200);
      for (const line of file.body.split('\n').filter(Boolean)) {
        if (o.type === 'Patient') out.patients.add(String((JSON.parse(line) as Json).id));
        for (const m of line.matchAll(/"Patient\/([^"]+)"/g)) out.referenced.add(m[1]!);
      }
    }
    return out;
  }

  let person: string;
  const before: { released: ReleasedCohort; members: Set<string>; training: TrainingResult; exported: Exported } =
    {} as never;

  beforeAll(async () => {
    env = await syntheticHub(500, 'consent');
    hub = env.hub;
    app = await buildServer(hub);
    admin = readFileSync(hub.paths.adminToken, 'utf8').trim();
    analyst = await hub.tokens.create('analyst', 'researcher');
    before.released = await releaseCohortApi();
    before.members = await members('research');
    before.training = await trainFromSpec(hub, HTN_SPEC, 'test');
    before.exported = await exportAll();
    // Someone in the cohort, the training population and the export, whose consent does not refuse research yet.
    const trained = new Set(before.training.rows.patientKeys);
    const chosen = [...before.members].sort().find((k) => trained.has(k) && before.exported.patients.has(k));
    if (chosen === undefined) throw new Error('no person is in the cohort, the model and the export');
    person = chosen;
  }, 600_000);
  afterAll(async () => {
    await app?.close();
    await env?.cleanup();
  });

  it('states the purpose and how many were left out, before the refusal too', () => {
    expect(before.released.consent.purpose).toBe('research');
    // The generator writes research opt-outs, so the cohort already leaves some people out.
    expect(before.released.persons).not.toBeNull();
    expect(before.training.consent).toMatchObject({ purpose: 'ai-development', leftOut: 0 });
    expect(before.exported.extension.purpose).toBe('research');
    expect(before.exported.extension.leftOut).toBeGreaterThan(0);
  });

  it('has the person in the cohort, the model population and the export before the refusal', () => {
    expect(before.members.has(person)).toBe(true);
    expect(before.training.rows.patientKeys).toContain(person);
    expect(before.exported.patients.has(person)).toBe(true);
  });

  describe('after the person refuses research and AI development', () => {
    const after: { members: Set<string>; released: ReleasedCohort; training: TrainingResult; exported: Exported } =
      {} as never;
    let leftOutBefore: number;
    let leftOutAfter: number;

    beforeAll(async () => {
      leftOutBefore = (await runCohort(hub.db, HTN_COHORT, hub.clock, await hub.consent.filter('research'))).consent!
        .leftOut;
      // The refusal arrives as a new Consent through ordinary ingest, referring to the person by the source's id.
      const sourceId = readFileSync(join(env.input, 'Patient.ndjson'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => String((JSON.parse(l) as Json).id))
        .find((id) => hub.pseudonymiser.resourceId(SOURCE, 'Patient', id) === person);
      expect(sourceId).toBeDefined();
      const file = join(env.input, 'refusal.ndjson');
      const refusal = {
        resourceType: 'Consent',
        id: 'refusal-1',
        status: 'active',
        scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'research' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
        patient: { reference: `Patient/${sourceId}` },
        dateTime: new Date(hub.clock.now().getTime() - 60_000).toISOString(),
        policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTOUT' }] },
        provision: {
          type: 'deny',
          purpose: [
            { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'HRESCH' },
            { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'MLTRAINING' },
          ],
        },
      };
      writeFileSync(file, `${JSON.stringify(refusal)}\n`);
      const summary = await hub.ingest.ingestPaths([file], ingestOptions(hub, { source: SOURCE }));
      rmSync(file);
      expect(summary.totals).toMatchObject({ created: 1, rejected: 0 });

      after.released = await releaseCohortApi('research');
      after.members = await members('research');
      leftOutAfter = (await runCohort(hub.db, HTN_COHORT, hub.clock, await hub.consent.filter('research'))).consent!
        .leftOut;
      after.training = await trainFromSpec(hub, HTN_SPEC, 'test');
      after.exported = await exportAll('?purpose=research');
    }, 600_000);

    it('leaves the person out of the cohort at the next query and counts them as left out', () => {
      expect(after.members.has(person)).toBe(false);
      expect(after.members.size).toBe(before.members.size - 1);
      expect(leftOutAfter).toBe(leftOutBefore + 1);
      expect(after.released.consent.purpose).toBe('research');
    });

    it("leaves the person out of the trained model's population", () => {
      expect(after.training.rows.patientKeys).not.toContain(person);
      expect(after.training.consent).toMatchObject({ purpose: 'ai-development', leftOut: 1 });
      expect(new Set(after.training.rows.patientKeys).size).toBe(new Set(before.training.rows.patientKeys).size - 1);
    });

    it('exports none of their resources, and says so', () => {
      expect(after.exported.patients.has(person)).toBe(false);
      expect(after.exported.referenced.has(person)).toBe(false);
      expect(before.exported.referenced.has(person)).toBe(true);
      expect(after.exported.extension).toEqual({
        purpose: 'research',
        leftOut: before.exported.extension.leftOut + 1,
      });
    });

    it('still uses their record for a purpose they did not refuse, and refuses one they did', async () => {
      const treatment = await runCohort(hub.db, HTN_COHORT, hub.clock, await hub.consent.filter('treatment'));
      expect(treatment.consent?.leftOut).toBe(0);
      expect(await members('treatment')).toContain(person);
      const { id } = after.training.registered;
      const predict = (purpose?: string) =>
        app.inject({
          method: 'POST',
          url: `/models/${id}/predict`,
          headers: headers(admin),
          payload: { patient: person, indexDate: '2021-01-01', ...(purpose !== undefined && { purpose }) },
        });
      const care = await predict();
      expect(care.statusCode).toBe(200);
      expect(care.json<{ purpose: string }>().purpose).toBe('treatment');
      const research = await predict('research');
      expect(research.statusCode).toBe(403);
      expect(
        research.json<{ issue: { details: { coding: { code: string }[] } }[] }>().issue[0]?.details.coding[0]?.code,
      ).toBe('CONSENT_REFUSED');
    });

    it("leaves the person's rows out of a steward's view run and reports the purpose", async () => {
      const steward = await hub.tokens.create('steward', 'steward');
      const res = await app.inject({
        method: 'POST',
        url: '/fhir/ViewDefinition/$run',
        headers: headers(steward),
        payload: {
          resourceType: 'Parameters',
          parameter: [{ name: 'viewReference', valueReference: { reference: 'ViewDefinition/patient' } }],
        },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-purpose']).toBe('research');
      expect(Number(res.headers['x-consent-left-out'])).toBe(after.exported.extension.leftOut);
      const ids = (res.json<Json[]>() ?? []).map((r) => r.id);
      expect(ids.length).toBeGreaterThan(0);
      expect(ids).not.toContain(person);
    });
  });

  it('refuses an unknown purpose with its code', async () => {
    const codeOf = (body: string) =>
      (JSON.parse(body) as { issue: { details: { coding: { code: string }[] } }[] }).issue[0]?.details.coding[0]?.code;
    const cohort = await app.inject({
      method: 'POST',
      url: '/cohort/$run',
      headers: headers(analyst),
      payload: { definition: HTN_COHORT, purpose: 'marketing' },
    });
    expect(cohort.statusCode).toBe(400);
    expect(codeOf(cohort.body)).toBe('CONSENT_UNKNOWN_PURPOSE');
    const exp = await app.inject({
      method: 'GET',
      url: '/fhir/$export?purpose=marketing',
      headers: { ...headers(admin), prefer: 'respond-async' },
    });
    expect(exp.statusCode).toBe(400);
    expect(codeOf(exp.body)).toBe('CONSENT_UNKNOWN_PURPOSE');
  });
});
