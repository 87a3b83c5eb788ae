import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubRole } from '../src/core/index.js';
import { silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';

/**
 * Issue 16 item 5: a hub's role acts. Projects are filed and their outputs checked on research hubs, models validated
 * on demonstration hubs; elsewhere those routes answer 404 once the caller is admitted, and the console is told.
 */
const ROLES: readonly HubRole[] = ['data', 'research', 'demonstration'];

describe('hub roles that act', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-roles-'));
  const hubs = new Map<HubRole, { hub: Hub; app: FastifyInstance; admin: string; researcher: string }>();
  beforeAll(async () => {
    for (const role of ROLES) {
      const dir = join(root, role);
      const { adminToken } = await initHub(dir, { name: `hub-${role}`, config: { role }, logger: silentLogger() });
      const hub = await openHub(dir, { logger: silentLogger() });
      const researcher = await hub.tokens.create('ana', 'researcher');
      hubs.set(role, { hub, app: await buildServer(hub), admin: adminToken, researcher });
    }
  });
  afterAll(async () => {
    for (const { hub, app } of hubs.values()) {
      await app.close();
      await hub.close();
    }
    rmSync(root, { recursive: true, force: true });
  });

  const status = async (
    role: HubRole,
    method: 'GET' | 'POST',
    url: string,
    body: unknown = undefined,
    as = 'admin',
  ) => {
    const h = hubs.get(role)!;
    const res = await h.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${as === 'admin' ? h.admin : h.researcher}` },
      ...(body !== undefined && { payload: body as object }),
    });
    return { status: res.statusCode, code: res.json().issue?.[0]?.details?.coding?.[0]?.code as string | undefined };
  };

  it("serves each service's routes on hubs of the role that offers it, and 404 elsewhere", async () => {
    const expected: Record<HubRole, Record<string, boolean>> = {
      data: { applications: false, projects: false, validation: false },
      research: { applications: true, projects: true, validation: false },
      demonstration: { applications: true, projects: false, validation: true },
    };
    for (const role of ROLES) {
      const outputs = await status(role, 'GET', '/outputs/awaiting-review');
      const validation = await status(role, 'GET', '/validation/submissions');
      expect(outputs.status, `${role} outputs`).toBe(expected[role].projects ? 200 : 404);
      expect(validation.status, `${role} validation`).toBe(expected[role].validation ? 200 : 404);
      // Filing a project (an empty body: refused as bad input where filing exists at all).
      const filing = await status(role, 'POST', '/projects', {}, 'researcher');
      expect(filing.status, `${role} filing`).toBe(expected[role].applications ? 400 : 404);
      // Every hub reviews the projects that name it.
      expect((await status(role, 'GET', '/projects')).status, `${role} review list`).toBe(200);
    }
  });

  it('files only AI validation projects at a demonstration hub', async () => {
    const application = {
      title: 'Validation of a sepsis model',
      tables: [{ name: 'encounter', columns: ['patient_key'] }],
      endDate: '2999-12-31',
      ethicsApproval: 'IRB-1',
      dataUseAgreement: true,
    };
    const research = await status('demonstration', 'POST', '/projects', { ...application, purpose: 'research' }, 'x');
    expect(research).toEqual({ status: 400, code: 'PROJECT_INVALID_APPLICATION' });
    const validation = await status(
      'demonstration',
      'POST',
      '/projects',
      { ...application, purpose: 'ai-validation' },
      'x',
    );
    expect(validation.status).toBe(201);
  });

  it('tells the console which services the hub offers', async () => {
    for (const role of ROLES) {
      const h = hubs.get(role)!;
      const res = await h.app.inject({
        method: 'GET',
        url: '/console/policy',
        headers: { authorization: `Bearer ${h.admin}` },
      });
      expect(res.json().hub).toEqual({
        name: `hub-${role}`,
        role,
        services: {
          data: [],
          research: ['applications', 'projects'],
          demonstration: ['applications', 'validation'],
        }[role],
      });
    }
  });
});
