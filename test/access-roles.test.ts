import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { captureIo } from './support/cli-capture.js';

const PATIENT = { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1970-01-01' };
const BUNDLE = {
  resourceType: 'Bundle',
  type: 'batch',
  entry: [{ resource: PATIENT, request: { method: 'POST', url: 'Patient' } }],
};
const COHORT = {
  name: 'women',
  conceptSets: { amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] } },
  entry: { domain: 'encounter', conceptSet: 'amb' },
};

describe('roles on the API, and tokens made with `healthmesh token`', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'hm-roles-')), 'hub');
  const tokens: Record<string, string> = {};
  let hub: Hub;
  let app: FastifyInstance;

  beforeAll(async () => {
    expect(await main(['init', '--dir', dir, '--name', 'roles'], captureIo().io)).toBe(0);
    for (const role of ['steward', 'researcher', 'service']) {
      const c = captureIo();
      expect(await main(['token', 'create', `a-${role}`, '--role', role, '--dir', dir], c.io)).toBe(0);
      tokens[role] = c.out.trim();
      expect(tokens[role]).toMatch(/^hm_[A-Za-z0-9_-]{43}$/);
    }
    hub = await openHub(dir, { logger: silentLogger() });
    app = await buildServer(hub);
  });
  afterAll(async () => {
    await app?.close();
    await hub?.close();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  const call = (role: string, method: 'GET' | 'POST', url: string, payload?: unknown) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tokens[role]}`, 'content-type': 'application/fhir+json' },
      ...(payload !== undefined && { payload: JSON.stringify(payload) }),
    });

  it('lets services and stewards write records, and refuses researchers', async () => {
    expect((await call('service', 'POST', '/fhir', BUNDLE)).statusCode).toBe(200);
    const refused = await call('researcher', 'POST', '/fhir', BUNDLE);
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain("role 'researcher' may not write records");
    expect((await call('steward', 'POST', '/fhir', BUNDLE)).statusCode).toBe(200);
  });

  it('shows row-level records to stewards only; researchers and services get aggregates', async () => {
    const steward = await call('steward', 'GET', '/fhir/Patient');
    expect(steward.statusCode).toBe(200);
    expect(steward.json().total).toBe(1);
    for (const role of ['researcher', 'service']) {
      for (const url of [
        '/fhir/Patient',
        '/fhir',
        '/fhir/$export',
        `/fhir/Patient/${steward.json().entry[0].resource.id}`,
      ]) {
        const res = await call(role, 'GET', url);
        expect(res.statusCode, `${role} ${url}`).toBe(403);
        expect(res.body).toContain('may not read row-level records');
      }
    }
    expect((await call('researcher', 'GET', '/fhir/metadata')).statusCode).toBe(200);
    expect((await call('researcher', 'POST', '/cohort/$run', { definition: COHORT })).statusCode).toBe(200);
    expect((await call('researcher', 'GET', '/models')).statusCode).toBe(200);
  });

  it("gives the console's observed weekly series exactly to stewards and disclosure-controlled to researchers", async () => {
    // One influenza-like-illness visit: a week with a count of 1, which a researcher must not see.
    const ili = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        {
          resource: {
            resourceType: 'Encounter',
            id: 'ili-1',
            status: 'finished',
            class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
            subject: { reference: 'Patient/p1' },
            period: { start: '2024-01-10T09:00:00Z', end: '2024-01-10T09:20:00Z' },
          },
          request: { method: 'PUT', url: 'Encounter/ili-1' },
        },
        {
          resource: {
            resourceType: 'Condition',
            id: 'ili-dx-1',
            subject: { reference: 'Patient/p1' },
            encounter: { reference: 'Encounter/ili-1' },
            code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'J11.1' }] },
            onsetDateTime: '2024-01-10',
          },
          request: { method: 'PUT', url: 'Condition/ili-dx-1' },
        },
      ],
    };
    expect((await call('steward', 'POST', '/fhir', ili)).statusCode).toBe(200);
    const exact = (await call('steward', 'GET', '/console/surveillance/observed')).json();
    expect(exact.disclosureControlled).toBe(false);
    const weeks = exact.weeks as { weekEnd: string; value: number | null }[];
    expect(weeks.some((w) => w.value === 1)).toBe(true);
    const released = (await call('researcher', 'GET', '/console/surveillance/observed')).json();
    expect(released.disclosureControlled).toBe(true);
    expect(released.weeks).toHaveLength(weeks.length);
    for (const w of released.weeks as { value: number | null }[]) {
      if (w.value !== null) {
        expect(w.value).toBeGreaterThanOrEqual(10);
        expect(w.value % 5).toBe(0);
      }
    }
  });

  it('releases the catalog profile counts to researchers under disclosure control', async () => {
    const profile = (await call('researcher', 'GET', '/console/catalog/patient')).json() as {
      rows: number | null;
      columns: { name: string; filled: number | null; distinct: number | null }[];
    };
    // The hub holds one or two patients: every count of them is under the threshold.
    expect(profile.rows).toBeNull();
    for (const c of profile.columns) {
      for (const n of [c.filled, c.distinct]) if (n !== null) expect(n % 5 === 0 && n >= 10).toBe(true);
    }
    expect(profile.columns.find((c) => c.name === 'gender')?.filled).toBeNull();
  });

  it('keeps a registration number in an uploaded file name out of the audit log', async () => {
    const name = 'kim_900101-1234567.ndjson';
    const res = await app.inject({
      method: 'POST',
      url: `/console/ingest?name=${encodeURIComponent(name)}`,
      headers: { authorization: `Bearer ${tokens.steward}`, 'content-type': 'application/octet-stream' },
      payload: Buffer.from(`${JSON.stringify({ resourceType: 'Patient', id: 'p9', gender: 'male' })}\n`),
    });
    expect(res.statusCode).toBe(200);
    const rows = await hub.db.all<{ target: string; detail: string | null }>(
      'SELECT target, CAST(detail AS VARCHAR) AS detail FROM audit_log',
    );
    const text = JSON.stringify(rows);
    expect(text).not.toContain('1234567');
    expect(text).toContain('upload:kim_[RRN].ndjson');
  });

  it('shows the ingest history with file names and holders to stewards only', async () => {
    type Overview = { ingests: { target: string | null; actor: string | null; rejected: number | null }[] };
    const steward = (await call('steward', 'GET', '/console/overview')).json() as Overview;
    expect(steward.ingests.length).toBeGreaterThan(0);
    expect(steward.ingests.every((e) => e.target !== null && e.actor !== null)).toBe(true);
    const researcher = (await call('researcher', 'GET', '/console/overview')).json() as Overview;
    expect(researcher.ingests).toHaveLength(steward.ingests.length);
    expect(researcher.ingests.every((e) => e.target === null && e.actor === null)).toBe(true);
  });

  it("serves the hub's disclosure rules to every role, audited", async () => {
    const res = await call('researcher', 'GET', '/console/policy');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      disclosure: hub.config.privacy.disclosure,
      hub: { name: hub.config.name, role: 'data', services: [] },
      you: { name: 'a-researcher', role: 'researcher' },
    });
    // The audit entry is appended once the response has gone (an onResponse hook).
    await vi.waitFor(async () => {
      const rows = await hub.db.all<{ actor: string }>("SELECT actor FROM audit_log WHERE action = 'console-policy'");
      expect(rows.map((r) => r.actor)).toContain('a-researcher');
    });
  });

  it('audits each refusal as denied, under the holder name', async () => {
    const rows = await hub.db.all<{ actor: string; outcome: string }>(
      "SELECT actor, outcome FROM audit_log WHERE actor = 'a-researcher' AND outcome = 'denied'",
    );
    expect(rows.length).toBeGreaterThanOrEqual(5);
  });

  it('lets an admin make, list and revoke tokens over the API while the hub serves; a revoked token fails at once', async () => {
    tokens.admin2 = await hub.tokens.create('admin-two', 'admin');
    const as = (who: string, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) =>
      app.inject({
        method,
        url,
        headers: {
          authorization: `Bearer ${tokens[who]}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
    expect((await as('steward', 'POST', '/tokens', { name: 'lab-feed', role: 'service' })).statusCode).toBe(403);
    // A holder's name is a handle, never an email or a person's name.
    expect((await as('admin2', 'POST', '/tokens', { name: 'kim@example.org', role: 'service' })).statusCode).toBe(400);
    const made = await as('admin2', 'POST', '/tokens', { name: 'lab-feed', role: 'service', sources: ['lab'] });
    expect(made.statusCode).toBe(201);
    tokens.lab = made.json().token;
    expect(tokens.lab).toMatch(/^hm_[A-Za-z0-9_-]{43}$/);
    const listed = (await as('admin2', 'GET', '/tokens')).json() as { name: string; role: string; sources: string[] }[];
    expect(listed.find((t) => t.name === 'lab-feed')).toMatchObject({ role: 'service', sources: ['lab'] });
    expect(JSON.stringify(listed)).not.toContain('hm_');
    expect((await as('lab', 'GET', '/console/policy')).statusCode).toBe(200);
    const revoked = await as('admin2', 'DELETE', '/tokens/lab-feed');
    expect(revoked.json()).toEqual({ name: 'lab-feed', revoked: 1 });
    expect((await as('lab', 'GET', '/console/policy')).statusCode).toBe(401);
    // Audited with the holder and role, never the token.
    const audit = JSON.stringify(await hub.audit.recent(20, ['token-create', 'token-revoke']));
    expect(audit).toContain('token/lab-feed');
    expect(audit).not.toContain(tokens.lab);
    expect((await as('admin2', 'DELETE', '/tokens/admin-two')).statusCode).toBe(200);
  });

  it('lists holders without tokens, revokes, and refuses an unknown role naming the roles', async () => {
    await hub.close();
    const list = captureIo();
    expect(await main(['token', 'list', '--dir', dir, '--json'], list.io)).toBe(0);
    const holders = JSON.parse(list.out) as { name: string; role: string }[];
    // lab-feed and admin-two were made and revoked over the API in the test before.
    expect(holders.map((h) => `${h.name}:${h.role}`)).toEqual([
      'admin:admin',
      'a-steward:steward',
      'a-researcher:researcher',
      'a-service:service',
    ]);
    expect(list.out).not.toContain('hm_');
    const bad = captureIo();
    expect(await main(['token', 'create', 'x', '--role', 'superuser', '--dir', dir], bad.io)).toBe(1);
    expect(bad.err).toMatch(/AUTH_INVALID_ROLE.*admin, steward, researcher, developer, validator, citizen, service/);
    expect(await main(['token', 'revoke', 'a-researcher', '--dir', dir], captureIo().io)).toBe(0);
    expect(await main(['token', 'revoke', 'a-researcher', '--dir', dir], captureIo().io)).toBe(1);
    hub = await openHub(dir, { logger: silentLogger() });
    await app.close();
    app = await buildServer(hub);
    expect((await call('researcher', 'GET', '/models')).statusCode).toBe(401);
    expect((await call('steward', 'GET', '/models')).statusCode).toBe(200);
  });
});
