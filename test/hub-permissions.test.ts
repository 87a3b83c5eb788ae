import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { hubPaths } from '../src/hub/index.js';
import { captureIo } from './support/cli-capture.js';

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('a hub directory is owner-only', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-perm-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('after init into a directory and a secrets/ that already exist with 0755, and after ingest', async () => {
    const dir = join(root, 'hub');
    mkdirSync(join(dir, 'secrets'), { recursive: true });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'secrets'), 0o755);
    expect(await main(['init', '--dir', dir, '--name', 'perm'], captureIo().io)).toBe(0);
    const paths = hubPaths(dir);

    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(paths.secretsDir)).toBe(0o700);
    const secrets = readdirSync(paths.secretsDir);
    expect(secrets).toEqual(expect.arrayContaining(['hub.key', 'admin.token', 'identity.pem']));
    for (const f of secrets) expect(modeOf(join(paths.secretsDir, f)), f).toBe(0o600);
    for (const f of [paths.store, paths.config, paths.auditAnchor]) expect(modeOf(f), f).toBe(0o600);

    // Files made after init: the store's WAL, the log, a rejects file.
    const input = join(root, 'in.ndjson');
    writeFileSync(input, `${JSON.stringify({ resourceType: 'Patient', id: 'a', gender: 'female' })}\n{"x":1}\n`);
    expect(await main(['ingest', '--dir', dir, '--source', 'clinic', input], captureIo().io)).toBe(1);
    const made = [
      paths.store,
      `${paths.store}.wal`,
      paths.log,
      ...readdirSync(paths.rejectsDir).map((f) => join(paths.rejectsDir, f)),
    ];
    for (const f of made.filter((f) => existsSync(f))) expect(modeOf(f), f).toBe(0o600);
    expect(readdirSync(paths.rejectsDir).length).toBeGreaterThan(0);
    for (const d of [paths.rejectsDir, join(dir, 'logs')]) expect(modeOf(d), d).toBe(0o700);
  });

  it('tightens a store left world-readable when the hub is opened again', async () => {
    const dir = join(root, 'hub');
    const paths = hubPaths(dir);
    chmodSync(paths.store, 0o644);
    chmodSync(dir, 0o755);
    expect(await main(['stats', '--dir', dir], captureIo().io)).toBe(0);
    expect(modeOf(paths.store)).toBe(0o600);
    expect(modeOf(dir)).toBe(0o700);
  });
});
