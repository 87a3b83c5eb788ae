import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isHealthmeshError } from '../../src/core/index.js';
import type { PathEngine } from '../../src/views/index.js';
import { CompiledView } from '../../src/views/index.js';

type Json = Record<string, unknown>;

interface SuiteTest {
  title: string;
  tags?: string[];
  view: unknown;
  expect?: Json[];
  expectCount?: number;
  expectColumns?: string[];
  expectError?: boolean;
}

export interface TestOutcome {
  file: string;
  name: string;
  tags: string[];
  expectsError: boolean;
  passed: boolean;
  error?: string;
}

/** Canonical JSON (sorted keys) so rows compare as values, whatever the key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Json)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function runOne(test: SuiteTest, resources: Json[], engine: PathEngine): { passed: boolean; error?: string } {
  let view: CompiledView;
  let rows: Json[];
  try {
    view = CompiledView.compile(test.view, { engine });
    rows = [];
    for (const r of resources) {
      for (const row of view.rows(r)) rows.push(Object.fromEntries(view.columns.map((c, i) => [c.name, row[i]])));
    }
  } catch (e) {
    if (test.expectError && isHealthmeshError(e) && e.code.startsWith('VIEW_')) return { passed: true };
    return { passed: false, error: `${isHealthmeshError(e) ? e.code : 'exception'}: ${(e as Error).message}` };
  }
  if (test.expectError) return { passed: false, error: `expected an error, got ${rows.length} rows` };
  if (test.expectColumns) {
    const names = view.columns.map((c) => c.name);
    if (canonical(names) !== canonical(test.expectColumns)) {
      return { passed: false, error: `columns ${names.join(',')} but expected ${test.expectColumns.join(',')}` };
    }
  }
  if (test.expectCount !== undefined) {
    return rows.length === test.expectCount
      ? { passed: true }
      : { passed: false, error: `${rows.length} rows, expected ${test.expectCount}` };
  }
  const got = rows.map(canonical).sort();
  const want = (test.expect ?? []).map(canonical).sort();
  if (got.join('\n') === want.join('\n')) return { passed: true };
  return { passed: false, error: `rows differ: got ${got.join(' ')} expected ${want.join(' ')}` };
}

/** Run every test of every suite file in `dir` with the given path engine. */
export function runSuite(dir: string, engine: PathEngine): TestOutcome[] {
  const out: TestOutcome[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const suite = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { resources: Json[]; tests: SuiteTest[] };
    for (const test of suite.tests) {
      const r = runOne(test, suite.resources, engine);
      out.push({
        file,
        name: test.title,
        tags: test.tags ?? [],
        expectsError: test.expectError === true,
        passed: r.passed,
        ...(r.error !== undefined && { error: r.error }),
      });
    }
  }
  return out;
}

/** The report format of `test-report.schema.json`: `{ "<file>": { tests: [{ name, result: { passed } }] } }`. */
export function toReport(outcomes: readonly TestOutcome[]): Record<string, { tests: Json[] }> {
  const report: Record<string, { tests: Json[] }> = {};
  for (const o of outcomes) {
    report[o.file] ??= { tests: [] };
    report[o.file]!.tests.push({
      name: o.name,
      result: { passed: o.passed, ...(o.error !== undefined && { error: o.error }) },
    });
  }
  return report;
}
