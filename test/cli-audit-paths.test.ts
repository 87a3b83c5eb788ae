import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { silentLogger } from '../src/core/index.js';
import { openHub } from '../src/hub/index.js';
import { captureIo } from './support/cli-capture.js';

const NAME = '홍길동';
const COHORT = {
  name: 'women',
  conceptSets: { amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] } },
  entry: { domain: 'encounter', conceptSet: 'amb' },
};

describe('the audit entries of CLI commands that read a file', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-paths-'));
  const dir = join(root, 'hub');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('hold neither the name nor the registration number in the file path', async () => {
    expect(await main(['init', '--dir', dir, '--name', 'paths'], captureIo().io)).toBe(0);
    const input = join(root, `${NAME}-900101-1234567.ndjson`);
    writeFileSync(input, `${JSON.stringify({ resourceType: 'Patient', id: 'a', gender: 'female' })}\n`);
    expect(await main(['ingest', '--dir', dir, '--source', 'clinic', input], captureIo().io)).toBe(0);
    const definition = join(root, `${NAME}-900101-1234567-cohort.json`);
    writeFileSync(definition, JSON.stringify(COHORT));
    expect(await main(['cohort', 'run', definition, '--dir', dir], captureIo().io)).toBe(0);

    const hub = await openHub(dir, { logger: silentLogger() });
    try {
      const rows = await hub.db.all<{ action: string; target: string; detail: string | null }>(
        'SELECT action, target, CAST(detail AS VARCHAR) AS detail FROM audit_log ORDER BY seq',
      );
      const ingest = rows.find((r) => r.action === 'ingest');
      expect(ingest?.target).toBe(`file:${hub.pseudonymiser.pathLabel(input)}`);
      expect(ingest?.target).toMatch(/^file:path-[0-9a-f]{16}\.ndjson$/);
      expect(rows.find((r) => r.action === 'cohort-run')?.target).toBe(
        `file:${hub.pseudonymiser.pathLabel(definition)}`,
      );
      const text = JSON.stringify(rows);
      for (const needle of [NAME, '900101', '1234567', root]) expect(text, needle).not.toContain(needle);
    } finally {
      await hub.close();
    }
  });
});
