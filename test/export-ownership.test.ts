import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/core/index.js';
import { buildServer } from '../src/server/index.js';
import { exportFinished } from './support/export-status.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

/**
 * Bulk Data exports belong to whoever kicked them off, expire, and leave nothing behind a restart (issue 19): before,
 * any row-level role could poll, download or cancel another's export, files never expired, and a job's folder
 * outlived the process that knew it.
 */
const LIFETIME_SECONDS = 2;

describe('export jobs: owner only, expiring, swept', () => {
  let env: Awaited<ReturnType<typeof tempHub>>;
  let base: string;
  let close: () => Promise<void>;
  const auth: Record<string, { authorization: string }> = {};
  let stale: string;

  beforeAll(async () => {
    env = await tempHub('export-owner', {
      server: { ...defaultConfig('x').server, port: 0, exportLifetimeSeconds: LIFETIME_SECONDS },
    });
    const file = join(env.dir, 'patient.ndjson');
    writeFileSync(file, `${JSON.stringify({ resourceType: 'Patient', id: 'p1' })}\n`);
    await env.hub.ingest.ingestPaths([file], ingestOptions(env.hub));
    // A finished job of a server that has since stopped: its folder, older than the lifetime.
    stale = join(env.hub.paths.exportsDir, 'left-by-a-stopped-server');
    mkdirSync(stale, { recursive: true });
    writeFileSync(join(stale, 'Patient.ndjson'), '{}\n');
    const old = new Date(Date.now() - 10 * LIFETIME_SECONDS * 1000);
    utimesSync(stale, old, old);
    for (const name of ['alice', 'bob'])
      auth[name] = { authorization: `Bearer ${await env.hub.tokens.create(name, 'steward')}` };
    const app = await buildServer(env.hub);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/fhir`;
    close = async () => {
      await app.close();
      await env.cleanup();
    };
  });
  afterAll(async () => close?.());

  it('removes a stopped server’s export folder once it has outlived the lifetime', () => {
    expect(existsSync(stale)).toBe(false);
  });

  it("answers another user's job as unknown: no status, no files, no cancel", async () => {
    const kick = await fetch(`${base}/$export?_type=Patient`, { headers: { ...auth.alice!, prefer: 'respond-async' } });
    expect(kick.status).toBe(202);
    const status = kick.headers.get('content-location')!;
    const mine = await exportFinished(status, auth.alice!);
    expect(mine.status).toBe(200);
    const manifest = (await mine.json()) as { output: { url: string }[] };
    const url = manifest.output[0]!.url;
    expect(Date.parse(mine.headers.get('expires')!)).toBeLessThanOrEqual(Date.now() + LIFETIME_SECONDS * 1000 + 1000);

    expect((await fetch(status, { headers: auth.bob! })).status).toBe(404);
    expect((await fetch(url, { headers: auth.bob! })).status).toBe(404);
    expect((await fetch(status, { method: 'DELETE', headers: auth.bob! })).status).toBe(404);
    // Bob's attempts changed nothing: Alice still has her job and her file.
    expect((await fetch(url, { headers: auth.alice! })).status).toBe(200);
  });

  it('removes a finished job and its files once its lifetime has passed', async () => {
    const kick = await fetch(`${base}/$export?_type=Patient`, { headers: { ...auth.alice!, prefer: 'respond-async' } });
    const status = kick.headers.get('content-location')!;
    const job = status.split('/').at(-1)!;
    expect((await exportFinished(status, auth.alice!)).status).toBe(200);
    expect(readdirSync(env.hub.paths.exportsDir)).toContain(job);
    await new Promise((r) => setTimeout(r, LIFETIME_SECONDS * 1000 + 200));
    expect((await fetch(status, { headers: auth.alice! })).status).toBe(404);
    expect(readdirSync(env.hub.paths.exportsDir)).not.toContain(job);
  });
});
