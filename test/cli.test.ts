import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { silentLogger } from '../src/core/index.js';
import { openHub } from '../src/hub/index.js';
import { captureIo } from './support/cli-capture.js';

describe('healthmesh CLI', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'hm-cli-')), 'hub');

  it('prints help with an example for every command', async () => {
    for (const cmd of [['init'], ['ingest'], ['serve'], ['start'], ['stats'], ['audit', 'verify'], ['synth']]) {
      const c = captureIo();
      expect(await main([...cmd, '--help'], c.io)).toBe(0);
      expect(c.out).toContain('Example:');
    }
  });

  it('runs as the package bin from a checkout with no build (the TypeScript source through tsx)', () => {
    const bin = new URL('../bin/healthmesh.js', import.meta.url).pathname;
    const run = spawnSync(process.execPath, [bin, 'stats', '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Example:');
  });

  it('inits a hub with owner-only secrets, and refuses to init twice', async () => {
    const c = captureIo();
    expect(await main(['init', '--dir', dir, '--name', 'gwangju'], c.io)).toBe(0);
    expect(statSync(join(dir, 'secrets', 'hub.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'secrets', 'admin.token')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'secrets', 'hub.key')).size).toBe(32);
    const again = captureIo();
    expect(await main(['init', '--dir', dir], again.io)).toBe(1);
    expect(again.err).toContain('HUB_ALREADY_INITIALISED');
  });

  it('inits a hub with the role it is given, and refuses an unknown role before writing anything', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'hm-cli-role-'));
    const c = captureIo();
    expect(await main(['init', '--dir', join(parent, 'r'), '--name', 'gyeonggi', '--role', 'research'], c.io)).toBe(0);
    expect(c.out).toContain('research hub "gyeonggi" created');
    expect(JSON.parse(readFileSync(join(parent, 'r', 'hub.json'), 'utf8')).role).toBe('research');
    const bad = captureIo();
    expect(await main(['init', '--dir', join(parent, 'x'), '--role', 'hospital'], bad.io)).toBe(1);
    expect(bad.err).toContain('CONFIG_INVALID');
    expect(existsSync(join(parent, 'x'))).toBe(false);
  });

  it('ingests, reports a summary per type, and exits 1 when records were rejected', async () => {
    const input = join(dir, '..', 'in.ndjson');
    writeFileSync(
      input,
      `${JSON.stringify({ resourceType: 'Patient', id: 'a', gender: 'male' })}\n{"resourceType":"Patient","gender":42}\n`,
    );
    const c = captureIo();
    expect(await main(['ingest', '--dir', dir, '--source', 'clinic', input], c.io)).toBe(1);
    expect(c.out).toMatch(/Patient\s+1\s+0\s+1/);
    expect(c.out).toMatch(/MB\/s/);
    expect(c.out).toContain('rejects:');
    const json = captureIo();
    expect(await main(['ingest', '--dir', dir, '--source', 'clinic', '--json', input], json.io)).toBe(1);
    expect(JSON.parse(json.out).byType.Patient).toEqual({ created: 0, updated: 0, unchanged: 1, rejected: 1 });
  });

  it('shows stats', async () => {
    const c = captureIo();
    expect(await main(['stats', '--dir', dir, '--json'], c.io)).toBe(0);
    expect(JSON.parse(c.out)).toMatchObject({ hub: 'gwangju', resources: 1, patients: 1 });
  });

  it('exits 1 on a missing hub or a missing input path', async () => {
    const c = captureIo();
    expect(await main(['stats', '--dir', join(dir, 'nope')], c.io)).toBe(1);
    expect(c.err).toContain('HUB_NOT_INITIALISED');
    const d = captureIo();
    expect(await main(['ingest', '--dir', dir, join(dir, 'missing.ndjson')], d.io)).toBe(1);
    expect(d.err).toContain('INGEST_UNREADABLE');
  });

  it('verifies the audit log, and detects an edited, a deleted and a truncated entry', async () => {
    const ok = captureIo();
    expect(await main(['audit', 'verify', '--dir', dir], ok.io)).toBe(0);
    expect(ok.out).toMatch(/intact: \d+ entries/);

    const tamper = async (sql: string) => {
      const hub = await openHub(dir, { logger: silentLogger() });
      await hub.db.run(sql);
      await hub.close();
      const c = captureIo();
      const code = await main(['audit', 'verify', '--dir', dir], c.io);
      return { code, err: c.err };
    };
    const anchor = readFileSync(join(dir, 'audit.head'));
    const edited = await tamper("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2");
    expect(edited).toMatchObject({ code: 1 });
    expect(edited.err).toContain('AUDIT_CHAIN_BROKEN at entry 2');
    await tamper("UPDATE audit_log SET actor = 'cli' WHERE seq = 2");
    const deleted = await tamper('DELETE FROM audit_log WHERE seq = 1');
    expect(deleted.code).toBe(1);
    expect(deleted.err).toContain('entry 1 is missing');
    writeFileSync(join(dir, 'audit.head'), anchor);
  });

  it('detects entries cut off the end of the log', async () => {
    const fresh = join(mkdtempSync(join(tmpdir(), 'hm-cli-')), 'hub');
    expect(await main(['init', '--dir', fresh], captureIo().io)).toBe(0);
    expect(await main(['stats', '--dir', fresh], captureIo().io)).toBe(0);
    const hub = await openHub(fresh, { logger: silentLogger() });
    await hub.audit.append({ actor: 'x', action: 'read', target: 't', outcome: 'success' });
    await hub.audit.append({ actor: 'x', action: 'read', target: 't', outcome: 'success' });
    await hub.db.run('DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)');
    await hub.close();
    const c = captureIo();
    expect(await main(['audit', 'verify', '--dir', fresh], c.io)).toBe(1);
    expect(c.err).toContain('AUDIT_CHAIN_BROKEN');
  });

  it('generates a synthetic region, and names a bad option with exit code 1', async () => {
    const out = join(dir, '..', 'synth');
    const ok = captureIo();
    expect(
      await main(['synth', '--region', 'busan', '--people', '40', '--seed', '3', '--out', out, '--json'], ok.io),
    ).toBe(0);
    const [summary] = JSON.parse(ok.out) as { residents: number; resources: number }[];
    expect(summary?.residents).toBe(40);
    expect(readFileSync(join(out, 'Patient.ndjson'), 'utf8').split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(
      40,
    );
    for (const args of [
      ['--region', 'seoul'],
      ['--region', 'busan', '--people', 'many'],
      ['--region', 'busan', '--years', '3'],
    ]) {
      const bad = captureIo();
      expect(await main(['synth', ...args, '--out', out], bad.io), args.join(' ')).toBe(1);
      expect(bad.err).toContain('SYNTH_INVALID_OPTION');
    }

    // Ingest of the synth folder skips its ground truth and manifest, saying so; a broken FHIR file is still a reject.
    const hub = join(mkdtempSync(join(tmpdir(), 'hm-cli-synth-')), 'hub');
    expect(await main(['init', '--dir', hub], captureIo().io)).toBe(0);
    const ingested = captureIo();
    expect(await main(['ingest', '--dir', hub, out], ingested.io)).toBe(0);
    expect(ingested.out).toContain(`skipped (synth ground truth or manifest, not FHIR): ${join(out, 'manifest.json')}`);
    expect(ingested.out).toContain(`skipped (synth ground truth or manifest, not FHIR): ${join(out, 'truth')}`);
    expect(ingested.out).toContain('2 path(s) skipped');
    expect(ingested.out).toMatch(/total\s+\d+\s+0\s+0\n/);
    writeFileSync(join(out, 'Broken.ndjson'), '{"resourceType": "Patient", \n');
    const broken = captureIo();
    await main(['ingest', '--dir', hub, out], broken.io);
    expect(broken.out).toMatch(/total\s+\d+\s+\d+\s+1\n/);
    expect(broken.out).toContain('2 path(s) skipped');
  });
});
