import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/core/index.js';
import type { OpenOptions } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { ingestOptions } from './support/temp-hub.js';
import { TEST_ENGINE, testStore } from './support/test-engine.js';

/**
 * A write and its audit entry commit together (issue 19): every committed batch carries an `ingest.commit` entry
 * in its own transaction, and a batch whose entry cannot be written (the audit table gone, as a full disk would
 * refuse it) stores nothing. Before, the batch committed first and its audit entry could fail after it.
 */
const work = mkdtempSync(join(tmpdir(), 'hm-audit-commit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function patients(prefix: string, n: number): string {
  const file = join(work, `${prefix}.ndjson`);
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ resourceType: 'Patient', id: `${prefix}-${i}`, gender: i % 2 ? 'male' : 'female' }),
  );
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const PATHS: [string, OpenOptions['parallelIngest']][] = [
  ['one record at a time', false],
  ['the bulk staged path', { workers: 1, minFileBytes: 0 }],
];

describe(`ingest commits and their audit entries (${TEST_ENGINE})`, () => {
  for (const [path, parallelIngest] of PATHS) {
    it(`${path}: every stored record is in an audited commit; a commit whose entry fails stores nothing`, async () => {
      const dir = join(work, path.replaceAll(' ', '-'));
      const { store, drop } = await testStore();
      await initHub(dir, { name: 'audited', config: { store }, logger: silentLogger() });
      const hub = await openHub(dir, { logger: silentLogger(), parallelIngest });
      try {
        const summary = await hub.ingest.ingestPaths([patients(`a${path.length}`, 300)], ingestOptions(hub));
        expect(summary.totals.created).toBe(300);
        const commits = await hub.db.all<{ detail: string; target: string }>(
          "SELECT detail, target FROM audit_log WHERE action = 'ingest.commit' ORDER BY seq",
        );
        expect(commits.length).toBeGreaterThan(0);
        expect(commits.reduce((n, c) => n + Number(JSON.parse(c.detail).created ?? 0), 0)).toBe(300);
        expect(commits.every((c) => c.target === 'source:test-source')).toBe(true);

        await hub.db.run('ALTER TABLE audit_log RENAME TO audit_log_away');
        await expect(hub.ingest.ingestPaths([patients(`b${path.length}`, 200)], ingestOptions(hub))).rejects.toThrow();
        await hub.db.run('ALTER TABLE audit_log_away RENAME TO audit_log');
        const [heads] = await hub.db.all<{ n: number }>(
          "SELECT COUNT(*) AS n FROM resource_head WHERE type = 'Patient'",
        );
        expect(Number(heads?.n)).toBe(300);
        expect((await hub.audit.verify()).ok).toBe(true);
      } finally {
        await hub.close();
        await drop();
      }
    });
  }
});
