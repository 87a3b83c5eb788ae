import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../src/core/index.js';
import { openHub } from '../src/hub/index.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

const TOTAL = 40_000;
const child = fileURLToPath(new URL('./support/ingest-child.ts', import.meta.url));

// `single`: everything on the main thread; `bulk`: worker threads staging rows in files for the store.
for (const path of ['single', 'bulk'] as const)
  describe(`a process killed in the middle of an ingest (${path} path)`, () => {
    it('leaves the store consistent, and a rerun completes it without duplicates', async () => {
      const { dir, hub, cleanup } = await tempHub('crash');
      await hub.close();
      const file = join(dir, 'big.ndjson');
      const lines: string[] = [];
      for (let i = 0; i < TOTAL; i++) {
        lines.push(
          JSON.stringify({
            resourceType: 'Observation',
            id: `o${i}`,
            status: 'final',
            code: { coding: [{ system: 'http://loinc.org', code: '8302-2' }] },
            subject: { reference: `Patient/p${i % 500}` },
            effectiveDateTime: '2020-01-01',
            valueQuantity: { value: i, unit: 'cm' },
          }),
        );
      }
      writeFileSync(file, `${lines.join('\n')}\n`);

      // node itself with tsx's loader: one process, so SIGKILL hits the ingest and not a wrapper around it
      const proc = spawn(process.execPath, ['--import', 'tsx', child, dir, file, path], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      proc.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const killedAt = await new Promise<number>((resolve, reject) => {
        let buffered = '';
        proc.stdout.on('data', (d: Buffer) => {
          buffered += d.toString();
          const all = [...buffered.matchAll(/records (\d+)\n/g)];
          const m = all[all.length - 1];
          const n = m ? Number(m[1]) : 0;
          if (n >= 5_000) {
            proc.kill('SIGKILL');
            resolve(n);
          }
          if (/done/.test(buffered)) reject(new Error('the child finished before it could be killed'));
        });
        proc.on('exit', (code, signal) => {
          if (signal !== 'SIGKILL') reject(new Error(`child exited (${code}) before the kill: ${stderr}`));
        });
      });
      await new Promise((r) => proc.on('close', r));
      expect(killedAt).toBeLessThan(TOTAL);

      const reopened = await openHub(dir, { logger: silentLogger() });
      try {
        const [v] = await reopened.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM resource_version');
        const [h] = await reopened.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM resource_head');
        const [t] = await reopened.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM search_token');
        const stored = v?.n ?? 0;
        // whole batches only: every version has its head and its index row, nothing half-written
        expect(stored % 1000).toBe(0);
        expect(h?.n).toBe(stored);
        expect(t?.n).toBe(stored);
        expect(stored).toBeLessThan(TOTAL);
        for await (const rows of reopened.db.stream<{ content: string }>('SELECT content FROM resource_version')) {
          for (const r of rows) expect(() => JSON.parse(r.content)).not.toThrow();
        }
        // Every stored version is in an audited commit (the entry commits in the batch's transaction), and the
        // chain the killed process was appending to still verifies.
        const commits = await reopened.db.all<{ detail: string }>(
          "SELECT detail FROM audit_log WHERE action = 'ingest.commit'",
        );
        expect(commits.reduce((n, c) => n + Number(JSON.parse(c.detail).created ?? 0), 0)).toBe(stored);
        expect(await reopened.audit.verify()).toMatchObject({ ok: true });

        const rerun = await reopened.ingest.ingestPaths([file], ingestOptions(reopened, { source: 'crash' }));
        expect(rerun.totals).toMatchObject({ created: TOTAL - stored, unchanged: stored, rejected: 0 });
        const [after] = await reopened.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM resource_version');
        expect(after?.n).toBe(TOTAL);
        // staged files of the killed run are gone too
        if (path === 'bulk') expect(readdirSync(reopened.paths.stagingDir)).toEqual([]);
      } finally {
        await reopened.close();
        await cleanup().catch(() => undefined);
      }
    }, 180_000);
  });
