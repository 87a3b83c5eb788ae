import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/index.js';
import type { Hub } from '../hub/index.js';
import { initHub, openHub } from '../hub/index.js';
import { askServingHub } from './admin-client.js';
import { adminHandler, startAdminSocket } from './admin-socket.js';
import { statsOperation } from './commands/stats.js';

describe('the admin socket', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-sock-'));
  let hub: Hub;
  beforeAll(async () => {
    await initHub(join(root, 'hub'), { name: 'sock', logger: silentLogger() });
    hub = await openHub(join(root, 'hub'), { logger: silentLogger(), parallelIngest: false });
  });
  afterAll(async () => {
    await hub.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('leaves a socket another process answers on alone, and does not serve', async () => {
    mkdirSync(hub.paths.runDir, { recursive: true, mode: 0o700 });
    const other = createServer();
    await new Promise<void>((resolve) => other.listen(hub.paths.adminSocket, resolve));
    try {
      const start = await startAdminSocket(hub, new Map([adminHandler(statsOperation)]));
      expect(start).toEqual({ ok: false, reason: 'another-process-answers' });
      expect(statSync(hub.paths.adminSocket).isSocket()).toBe(true);
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('answers an operation, refuses an unknown one with its code, and is gone once closed', async () => {
    const start = await startAdminSocket(hub, new Map([adminHandler(statsOperation)]));
    if (!start.ok) throw new Error(`no admin socket: ${start.reason}`);
    const answer = await askServingHub(start.path, 'stats', {}, () => undefined);
    expect(answer).toMatchObject({ answered: true, result: { hub: 'sock', resources: 0 } });
    await expect(askServingHub(start.path, 'token/create', {}, () => undefined)).rejects.toMatchObject({
      code: 'API_NOT_FOUND',
    });
    await start.close();
    expect(await askServingHub(start.path, 'stats', {}, () => undefined)).toEqual({ answered: false });
  });

  it('does not bind a path longer than a unix socket path may be (libuv would bind a truncated one)', async () => {
    const long = join(root, 'x'.repeat(120), 'admin.sock');
    const start = await startAdminSocket({ ...hub, paths: { ...hub.paths, adminSocket: long } }, new Map());
    expect(start).toEqual({ ok: false, reason: 'path-too-long' });
  });
});
