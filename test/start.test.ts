import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';

describe('healthmesh start (the demo)', () => {
  it('creates a hub, loads a synthetic population, serves FHIR over HTTP, and stops on SIGINT', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'hm-start-')), 'hub');
    let out = '';
    const io = { out: { isTTY: false, write: (s: string) => (out += s) }, err: { write: (s: string) => (out += s) } };
    const running = main(['start', '--dir', dir, '--port', '0', '--people', '200'], io);
    const deadline = Date.now() + 120_000;
    while (!/serving FHIR R4 at (\S+)\/fhir/.test(out)) {
      if (Date.now() > deadline) throw new Error(`start did not serve in time:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const base = /serving FHIR R4 at (\S+)\/fhir/.exec(out)![1]!;
    const token = readFileSync(join(dir, 'secrets', 'admin.token'), 'utf8').trim();
    const res = await fetch(`${base}/fhir/Patient?_count=1`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const bundle = (await res.json()) as { total: number };
    // 200 residents of Gwangju, and the few residents of other regions treated there
    expect(bundle.total).toBeGreaterThanOrEqual(200);
    expect(bundle.total).toBeLessThan(240);
    expect(out).toMatch(/total\s+\d+\s+\d+\s+0\n/); // the population loads with zero rejects
    process.emit('SIGINT');
    expect(await running).toBe(0);
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }, 180_000);
});
