import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Hub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { tempHub } from './support/temp-hub.js';

/**
 * The release gate is structural: on a route open to every role, a principal without row-level rights receives
 * only what the gate built. These routes are added to a real hub's app to show what happens to one that is not.
 */
describe('the server sends a principal without row-level rights only what the release gate built', () => {
  let t: Awaited<ReturnType<typeof tempHub>>;
  let hub: Hub;
  let app: FastifyInstance;
  let researcher: string;

  beforeAll(async () => {
    t = await tempHub('gate-enforce');
    hub = t.hub;
    researcher = await hub.tokens.create('analyst', 'researcher');
    app = await buildServer(hub);
    const config = { allow: 'authenticated' } as const;
    app.get('/test/ungated', { config }, async () => ({ persons: 3 }));
    app.get('/test/gated', { config }, async () => hub.gate.bundle({ label: 'x', persons: hub.gate.count(31) }));
    app.get('/test/ungated-text', { config }, async (_req, reply) => reply.type('text/csv').send('persons\n3\n'));
    app.get('/test/row-level', { config: { allow: 'row-level' } }, async () => ({ persons: 3 }));
  });
  afterAll(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const get = (url: string, token: string) => app.inject({ url, headers: { authorization: `Bearer ${token}` } });

  it('refuses, with no figure, an answer built around the gate', async () => {
    for (const url of ['/test/ungated', '/test/ungated-text']) {
      const res = await get(url, researcher);
      expect(res.statusCode).toBe(500);
      expect(res.json().issue[0].details.coding[0].code).toBe('DISCLOSURE_UNGATED');
      expect(res.body).not.toContain('3\n');
      expect(res.json().issue[0].details.text).not.toMatch(/persons/);
    }
  });

  it('sends what the gate built, as its plain value', async () => {
    const res = await get('/test/gated', researcher);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ label: 'x', persons: 30 });
  });

  it('leaves answers to row-level roles, and routes declared row-level, to their own checks', async () => {
    expect((await get('/test/ungated', t.adminToken)).json()).toEqual({ persons: 3 });
    expect((await get('/test/row-level', researcher)).statusCode).toBe(403);
  });

  it('audits the refusal', async () => {
    await get('/test/ungated', researcher);
    // The audit entry is written once the response has gone out.
    await vi.waitFor(async () => {
      const recent = await hub.audit.recent(5);
      expect(recent.some((e) => e.target === 'GET /test/ungated' && e.outcome === 'failure')).toBe(true);
    });
  });
});
