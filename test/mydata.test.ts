import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../src/core/index.js';
import { ResourceValidator } from '../src/fhir/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';

/**
 * Issue 18 (citizens): a source issues a one-time enrolment code for one of its patients, the citizen redeems it
 * and reads their own record, and neither the code nor the source's patient id is kept anywhere in the hub.
 */
const MRN = 'mrn-4417-kim';
const OTHER_MRN = 'mrn-9001-park';

function bundle(patientId: string, systolic: number, day: string) {
  return {
    resourceType: 'Bundle',
    type: 'batch',
    entry: [
      {
        resource: { resourceType: 'Patient', id: patientId, gender: 'female', birthDate: '1961-04-02' },
        request: { method: 'PUT', url: `Patient/${patientId}` },
      },
      {
        resource: {
          resourceType: 'Observation',
          id: `${patientId}-bp`,
          status: 'final',
          category: [
            { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] },
          ],
          code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] },
          subject: { reference: `Patient/${patientId}` },
          effectiveDateTime: `${day}T09:00:00Z`,
          valueQuantity: { value: systolic, unit: 'mmHg' },
        },
        request: { method: 'PUT', url: `Observation/${patientId}-bp` },
      },
      {
        resource: {
          resourceType: 'Condition',
          id: `${patientId}-htn`,
          code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003', display: 'Hypertension' }] },
          subject: { reference: `Patient/${patientId}` },
          onsetDateTime: '2019-03-01',
        },
        request: { method: 'PUT', url: `Condition/${patientId}-htn` },
      },
    ],
  };
}

describe('citizens enrol with a code from their source and read only their own record', () => {
  let dir: string;
  let hub: Hub;
  let app: FastifyInstance;
  const clock = fixedClock(new Date('2026-03-02T10:00:00Z'));
  const tokens: Record<string, string> = {};
  let code = '';

  const call = (who: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) =>
    app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${tokens[who]}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    dir = join(mkdtempSync(join(tmpdir(), 'hm-mydata-')), 'hub');
    const { adminToken } = await initHub(dir, { name: 'mydata' });
    tokens.admin = adminToken;
    hub = await openHub(dir, { clock }); // its own log file, logs/hub.log, which the last test reads
    tokens.clinic = await hub.tokens.create('clinic-feed', 'service', { sources: ['clinic'] });
    tokens.lab = await hub.tokens.create('lab-feed', 'service', { sources: ['lab'] });
    tokens.kim = await hub.tokens.create('citizen-kim', 'citizen');
    tokens.park = await hub.tokens.create('citizen-park', 'citizen');
    tokens.researcher = await hub.tokens.create('r-one', 'researcher');
    app = await buildServer(hub);
    for (const [id, sbp] of [
      [MRN, 151],
      [OTHER_MRN, 118],
    ] as const) {
      const res = await app.inject({
        method: 'POST',
        url: '/fhir?source=clinic',
        headers: { authorization: `Bearer ${tokens.clinic}`, 'content-type': 'application/fhir+json' },
        payload: JSON.stringify(bundle(id, sbp, '2026-02-10')),
      });
      expect(res.statusCode).toBe(200);
    }
  });
  afterAll(async () => {
    await app?.close();
    await hub?.close();
  });

  it("issues a one-time code to a writer of the person's source only", async () => {
    const refused = await call('lab', 'POST', '/mydata/enrolment-codes', { patientId: MRN, source: 'clinic' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().issue[0].details.coding[0].code).toBe('AUTH_SOURCE_FORBIDDEN');
    const res = await call('clinic', 'POST', '/mydata/enrolment-codes', { patientId: MRN, source: 'clinic' });
    expect(res.statusCode).toBe(201);
    code = res.json().code;
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(res.json().expiresAt).toBe('2026-03-16T10:00:00.000Z');
  });

  it('links the record to the citizen who redeems the code, once', async () => {
    expect((await call('researcher', 'POST', '/me/enrol', { code })).statusCode).toBe(403);
    // Typed from paper: lower case, spaces instead of hyphens.
    const res = await call('kim', 'POST', '/me/enrol', { code: code.toLowerCase().replaceAll('-', ' ') });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ source: 'clinic', linkedAt: '2026-03-02T10:00:00.000Z' });
    const again = await call('park', 'POST', '/me/enrol', { code });
    expect(again.statusCode).toBe(400);
    expect(again.json().issue[0].details.coding[0].code).toBe('MYDATA_CODE_INVALID');
    expect((await call('kim', 'GET', '/me')).json()).toEqual({
      name: 'citizen-kim',
      records: [{ source: 'clinic', linkedAt: '2026-03-02T10:00:00.000Z' }],
    });
  });

  it('refuses an expired code with the same answer as a wrong one', async () => {
    const issued = await call('clinic', 'POST', '/mydata/enrolment-codes', { patientId: OTHER_MRN, source: 'clinic' });
    clock.advance(15 * 86_400_000);
    const late = await call('park', 'POST', '/me/enrol', { code: issued.json().code });
    const wrong = await call('park', 'POST', '/me/enrol', { code: 'ZZZZ-ZZZZ-ZZZZ' });
    expect(late.statusCode).toBe(400);
    expect(late.json()).toEqual(wrong.json());
    expect((await call('park', 'GET', '/me')).json().records).toEqual([]);
    expect((await call('park', 'GET', '/me/$everything')).json()).toMatchObject({ total: 0, entry: [] });
  });

  it('locks enrolment after repeated wrong codes, even for a code that would work', async () => {
    tokens.guesser = await hub.tokens.create('citizen-guesser', 'citizen');
    const good = (
      await call('clinic', 'POST', '/mydata/enrolment-codes', { patientId: 'mrn-0007-choi', source: 'clinic' })
    ).json().code;
    for (let i = 0; i < 5; i++)
      expect((await call('guesser', 'POST', '/me/enrol', { code: `ZZZZ-ZZZZ-ZZ${i}Z` })).statusCode).toBe(400);
    const locked = await call('guesser', 'POST', '/me/enrol', { code: good });
    expect(locked.statusCode).toBe(429);
    expect(locked.json().issue[0].details.coding[0].code).toBe('MYDATA_ENROL_LOCKED');
    clock.advance(16 * 60_000);
    expect((await call('guesser', 'POST', '/me/enrol', { code: good })).statusCode).toBe(201);
  });

  it("shows the citizen's timeline with display names, filtered by date, and no one else's", async () => {
    const all = (await call('kim', 'GET', '/me/timeline')).json().entries as Record<string, unknown>[];
    expect(all.map((e) => [e.type, e.display, e.displayKo, e.value, e.unit])).toEqual([
      ['Observation', 'Systolic blood pressure', '수축기 혈압', 151, 'mmHg'],
      ['Condition', 'Hypertension', '고혈압', null, null],
    ]);
    const recent = (await call('kim', 'GET', '/me/timeline?from=2026-01-01')).json().entries;
    expect(recent).toHaveLength(1);
    expect((await call('kim', 'GET', '/me/timeline?from=2026-13-01')).statusCode).toBe(400);
  });

  it('gives the citizen a management plan from their own record: targets set by their conditions, screenings due', async () => {
    const plan = (await call('kim', 'GET', '/me/plan')).json();
    // Born 1961-04-02, on 2026-03-17 (the clock moved on in the expiry test): 64. Hypertension alone: below 140/90 (KSH 2022); 151 on 2026-02-10 misses it.
    expect(plan).toMatchObject({ asOf: '2026-03-17', age: 64, sex: 'female', conditions: ['hypertension'] });
    const bp = plan.targets.find((t: { id: string }) => t.id === 'blood-pressure');
    expect(bp).toMatchObject({
      because: ['hypertension'],
      target: { max: 140, maxSecond: 90 },
      latest: { value: 151, date: '2026-02-10' },
      status: 'not-met',
      nextDue: '2026-08-10',
    });
    expect(plan.targets.find((t: { id: string }) => t.id === 'ldl')).toMatchObject({
      target: { max: 130 },
      status: 'not-measured',
      nextDue: '2026-03-17',
    });
    expect(plan.targets.some((t: { id: string }) => t.id === 'hba1c')).toBe(false);
    expect(plan.screenings.map((s: { id: string }) => s.id)).toEqual([
      'general-health-check',
      'gastric-cancer',
      'colorectal-cancer',
      'breast-cancer',
      'cervical-cancer',
    ]);
    // Park's record is not Kim's: a reading of 118 would have met the target.
    expect(JSON.stringify(plan)).not.toContain('118');
  });

  it('downloads the record as a FHIR Bundle ($everything) and as CSV', async () => {
    const res = await call('kim', 'GET', '/me/$everything');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/fhir+json');
    const b = res.json() as { type: string; total: number; entry: { resource: Record<string, unknown> }[] };
    expect(b.type).toBe('searchset');
    expect(b.entry.map((e) => e.resource.resourceType).sort()).toEqual(['Condition', 'Observation', 'Patient']);
    // Each entry is a valid R4 resource, the Bundle too.
    const r4 = ResourceValidator.r4();
    for (const e of b.entry) expect(r4.validate(e.resource, 5), String(e.resource.resourceType)).toEqual([]);
    expect(r4.validate(b as unknown as Record<string, unknown>, 5)).toEqual([]);
    // Park's record (systolic 118) is not in Kim's download.
    const values = b.entry.map((e) => (e.resource.valueQuantity as { value?: number } | undefined)?.value);
    expect(values.filter((v) => v !== undefined)).toEqual([151]);
    const csv = await call('kim', 'GET', '/me/export.csv');
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body.split('\n')[0]).toBe('date,type,display,display_ko,system,code,value,unit,category,hub');
    expect(csv.body).toContain('Systolic blood pressure,수축기 혈압,http://loinc.org,8480-6,151,mmHg,vital-signs');
  });

  it("sets the citizen's consent per purpose, applied at the next query, with the history of choices kept", async () => {
    const before = (await call('kim', 'GET', '/me/consent')).json().purposes as Record<string, unknown>[];
    expect(before.find((p) => p.purpose === 'research')).toMatchObject({ choice: null, used: true, history: [] });
    expect(before.find((p) => p.purpose === 'commercial')).toMatchObject({ default: 'opt-in', used: false });
    const [kim] = await hub.enrolment.records('citizen-kim');
    const refusedBy = async () => {
      const f = await hub.consent.filter('research');
      const rows = await hub.db.all<{ patient_key: string }>(
        `SELECT h.patient_key FROM (SELECT DISTINCT patient_key FROM citizen_record) h WHERE NOT (${f.allows('h.patient_key')})`,
      );
      return rows.map((r) => r.patient_key);
    };
    expect(await refusedBy()).toEqual([]);
    const denied = await call('kim', 'PUT', '/me/consent/research', { choice: 'deny' });
    expect(denied.statusCode).toBe(200);
    expect(denied.json().purposes.find((p: { purpose: string }) => p.purpose === 'research')).toMatchObject({
      choice: 'deny',
      used: false,
    });
    // The next query for research leaves Kim out.
    expect(await refusedBy()).toEqual([kim!.patientKey]);
    clock.advance(60_000);
    const withdrawn = await call('kim', 'PUT', '/me/consent/research', { choice: null });
    const research = withdrawn.json().purposes.find((p: { purpose: string }) => p.purpose === 'research');
    expect(research).toMatchObject({ choice: null, used: true });
    expect(research.history.map((h: { choice: string | null }) => h.choice)).toEqual([null, 'deny']);
    expect(await refusedBy()).toEqual([]);
    expect((await call('kim', 'PUT', '/me/consent/astrology', { choice: 'deny' })).statusCode).toBe(400);
    expect((await call('park', 'PUT', '/me/consent/research', { choice: 'deny' })).statusCode).toBe(409);
  });

  it("grants an app read access to the citizen's own records only, until revoked", async () => {
    const granted = await call('kim', 'POST', '/me/app-grants', { app: 'BP diary', days: 7 });
    expect(granted.statusCode).toBe(201);
    const { id, token, scope } = granted.json() as { id: string; token: string; scope: string };
    expect(scope).toBe('patient/*.read');
    tokens.app = token;
    expect(
      (await call('app', 'GET', '/me/timeline')).json().entries.map((e: { display: string }) => e.display),
    ).toEqual(['Systolic blood pressure', 'Hypertension']);
    expect((await call('app', 'GET', '/me/$everything')).statusCode).toBe(200);
    // Read-only, and only the citizen's own routes: no consent change, no grants, no aggregates, no other records.
    for (const [method, url, body] of [
      ['PUT', '/me/consent/research', { choice: 'deny' }],
      ['POST', '/me/app-grants', { app: 'other' }],
      ['GET', '/fhir/Patient', undefined],
      ['GET', '/console/overview', undefined],
    ] as const) {
      const res = await call('app', method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(403);
    }
    expect((await call('kim', 'GET', '/me/app-grants')).json().grants).toEqual([
      expect.objectContaining({ id, app: 'BP diary', revokedAt: null }),
    ]);
    expect((await call('park', 'DELETE', `/me/app-grants/${id}`)).statusCode).toBe(404);
    expect((await call('kim', 'DELETE', `/me/app-grants/${id}`)).statusCode).toBe(204);
    expect((await call('app', 'GET', '/me/timeline')).statusCode).toBe(401);
  });

  it('keeps neither the code nor the source patient id in any file of the hub', async () => {
    // In the tables (the store file may compress strings, so the byte scan below is not enough alone)…
    const plain = code.replaceAll('-', '');
    for (const table of ['enrolment_code', 'citizen_record', 'audit_log']) {
      const rows = JSON.stringify(await hub.db.all(`SELECT * FROM ${table}`));
      for (const secret of [MRN, OTHER_MRN, code, plain])
        expect(rows.includes(secret), `${secret} in ${table}`).toBe(false);
    }
    // …and in the bytes of every file, the log included.
    await app.close();
    await hub.close();
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(dir);
    expect(files.some((f) => f.endsWith('hub.log'))).toBe(true);
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const secret of [MRN, OTHER_MRN, code, plain])
        expect(bytes.includes(secret), `${secret} in ${f}`).toBe(false);
    }
    hub = await openHub(dir, { clock });
    app = await buildServer(hub);
  });
});
