import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Hub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { tempHub } from './support/temp-hub.js';

/** What reaches the audit log from HTTP: principals' requests, refused or not; not each request without a token. */
describe('audit of HTTP requests', () => {
  let hub: Hub;
  let cleanup: () => Promise<void>;
  let app: FastifyInstance;
  let base: string;
  let admin: string;
  let researcher: string;

  beforeAll(async () => {
    ({ hub, cleanup, adminToken: admin } = await tempHub('audit-http'));
    researcher = await hub.tokens.create('a-researcher', 'researcher');
    app = await buildServer(hub);
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app.close();
    await cleanup();
  });

  const rows = async () => Number((await hub.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM audit_log'))[0]?.n);
  const get = (path: string, token?: string) =>
    fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('does not grow the audit log for requests without a valid token, and reports them to the hub log', async () => {
    const warn = vi.spyOn(hub.logger, 'warn');
    const before = await rows();
    const N = 60;
    const answers = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        get('/fhir/Patient', i % 2 === 0 ? undefined : `hm_${'x'.repeat(43)}`).then((r) => r.status),
      ),
    );
    expect(answers.every((s) => s === 401)).toBe(true);
    expect(await rows()).toBe(before);
    // One line now (the first refusal), the rest counted and reported at most once a minute or when the server closes.
    const lines = () => warn.mock.calls.filter((c) => String(c[1]).includes('without a valid token'));
    expect(lines()).toHaveLength(1);
    expect(JSON.stringify(lines())).not.toContain('x'.repeat(43));
    warn.mockRestore();
  });

  it('still audits a refusal of a principal (forbidden) as denied', async () => {
    const before = await rows();
    expect((await get('/fhir/Patient', researcher)).status).toBe(403);
    await vi.waitFor(async () => expect(await rows()).toBe(before + 1));
    const [last] = await hub.audit.recent(1);
    expect(last).toMatchObject({ actor: 'a-researcher', outcome: 'denied' });
  });

  it('verifies on the console overview only what was appended since it last verified, and finds an edit there', async () => {
    const full = vi.spyOn(hub.audit, 'verify');
    type Overview = { audit: { ok: boolean; entries: number; from: number; fault?: { seq: number } } };
    const first = (await (await get('/console/overview', admin)).json()) as Overview;
    expect(first.audit).toMatchObject({ ok: true });
    // Started from the signed checkpoint init wrote, not from entry 1.
    expect(first.audit.from).toBeGreaterThan(1);
    await vi.waitFor(async () => expect(await rows()).toBe(first.audit.entries + 1));
    const second = (await (await get('/console/overview', admin)).json()) as Overview;
    expect(second.audit).toMatchObject({ ok: true, from: first.audit.entries + 1 });
    expect(full).not.toHaveBeenCalled();
    full.mockRestore();

    await vi.waitFor(async () => expect(await rows()).toBe(second.audit.entries + 1));
    const edited = second.audit.entries + 1;
    await hub.db.run("UPDATE audit_log SET actor = 'mallory' WHERE seq = $1", [edited]);
    const third = (await (await get('/console/overview', admin)).json()) as Overview;
    expect(third.audit).toMatchObject({ ok: false, fault: { seq: edited } });
  });
});
