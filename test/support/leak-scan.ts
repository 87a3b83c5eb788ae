import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Database } from '../../src/store/index.js';

/** Every file below `dir`. */
export function* filesUnder(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* filesUnder(p);
    else yield p;
  }
}

/**
 * Fails when any file below a hub's data directory holds `needle` as UTF-8 or UTF-16 bytes; `mustScan` names
 * files (by a part of their path) that must have been among those read, so an empty directory cannot pass.
 */
export function expectNotOnDisk(dir: string, needle: string, mustScan: readonly string[]): void {
  const scanned: string[] = [];
  for (const f of filesUnder(dir)) {
    const bytes = readFileSync(f);
    scanned.push(f);
    expect(bytes.includes(Buffer.from(needle)), `${needle} found in ${f}`).toBe(false);
    expect(bytes.includes(Buffer.from(needle, 'utf16le')), `${needle} (UTF-16) found in ${f}`).toBe(false);
  }
  for (const part of mustScan)
    expect(
      scanned.some((f) => f.includes(part)),
      `no ${part} was scanned`,
    ).toBe(true);
}

/** Every row of the store's tables that could hold a leaked value (resources, index rows, audit), as one text. */
export async function storeText(db: Database): Promise<string> {
  let text = '';
  for (const table of [
    'resource_version',
    'resource_head',
    'search_token',
    'search_date',
    'search_reference',
    'audit_log',
  ]) {
    text += JSON.stringify(await db.all(`SELECT * FROM ${table}`), (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  }
  return text;
}
