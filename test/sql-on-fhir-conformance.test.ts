import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { beforeAll, expect, it } from 'vitest';
import { CompiledView } from '../src/views/index.js';
import { describeWithSharedData, sharedPath } from './support/shared-data.js';
import type { TestOutcome } from './support/sql-on-fhir-suite.js';
import { runSuite, toReport } from './support/sql-on-fhir-suite.js';

/** Git-ignored: the report is an output of the run, not a source file. */
const REPORT_DIR = fileURLToPath(new URL('../test-output/sql-on-fhir/', import.meta.url));

describeWithSharedData('the official SQL-on-FHIR v2 conformance suite', () => {
  let outcomes: TestOutcome[];
  let report: Record<string, unknown>;

  beforeAll(() => {
    outcomes = runSuite(sharedPath('sql-on-fhir-v2/tests'), 'compiled');
    report = toReport(outcomes);
    mkdirSync(REPORT_DIR, { recursive: true });
    writeFileSync(`${REPORT_DIR}test_report.json`, `${JSON.stringify(report, null, 2)}\n`);
  });

  it('passes every shareable test and rejects every error case', () => {
    const shareable = outcomes.filter((o) => o.tags.includes('shareable'));
    const rowTests = shareable.filter((o) => !o.expectsError);
    const errorCases = outcomes.filter((o) => o.expectsError);
    const experimental = outcomes.filter((o) => !o.tags.includes('shareable'));
    const passed = (list: TestOutcome[]) => list.filter((o) => o.passed).length;
    console.log(
      `SQL-on-FHIR v2 conformance: ${passed(shareable)}/${shareable.length} shareable tests passed ` +
        `(${passed(rowTests)}/${rowTests.length} expecting rows); ${passed(errorCases)}/${errorCases.length} error cases rejected; ` +
        `experimental ${passed(experimental)}/${experimental.length}; report in test-output/sql-on-fhir/test_report.json`,
    );
    for (const o of outcomes.filter((x) => !x.passed)) console.log(`  not passed: ${o.file} "${o.name}": ${o.error}`);
    expect(shareable.filter((o) => !o.passed)).toEqual([]);
    expect(shareable.length).toBe(123);
    expect(errorCases.length).toBe(11);
    expect(passed(errorCases)).toBe(11);
  });

  it('writes a test_report.json valid against test-report.schema.json', () => {
    const schema = JSON.parse(readFileSync(sharedPath('sql-on-fhir-v2/test-report.schema.json'), 'utf8')) as object;
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const written = JSON.parse(readFileSync(`${REPORT_DIR}test_report.json`, 'utf8')) as unknown;
    expect(validate(written), JSON.stringify(validate.errors)).toBe(true);
    expect(Object.keys(written as object)).toHaveLength(22);
  });

  it('names what is wrong with each rejected view', () => {
    const expected: Record<string, string> = {
      'validate.json/empty': 'VIEW_INVALID',
      'validate.json/missing resource': 'VIEW_INVALID',
      'validate.json/wrong fhirpath': 'VIEW_INVALID_PATH',
      'validate.json/wrong type in forEach': 'VIEW_INVALID',
      'validate.json/where with path resolving to not boolean': 'VIEW_WHERE_NOT_BOOLEAN',
      "collection.json/fail when 'collection' is not true": 'VIEW_COLLECTION_VALUE',
      'constant.json/accessing an undefined constant': 'VIEW_UNKNOWN_CONSTANT',
      'constant.json/incorrect constant definition': 'VIEW_INVALID',
      'union.json/column mismatch': 'VIEW_UNION_MISMATCH',
      'union.json/column order mismatch': 'VIEW_UNION_MISMATCH',
      'view_resource.json/resource not specified': 'VIEW_INVALID',
    };
    const dir = sharedPath('sql-on-fhir-v2/tests/');
    const seen: Record<string, string> = {};
    for (const key of Object.keys(expected)) {
      const [file, title] = key.split(/\/(.*)/s) as [string, string];
      const suite = JSON.parse(readFileSync(`${dir}${file}`, 'utf8')) as {
        resources: Record<string, unknown>[];
        tests: { title: string; view: unknown }[];
      };
      const test = suite.tests.find((t) => t.title === title)!;
      try {
        const view = CompiledView.compile(test.view);
        for (const r of suite.resources) view.rows(r);
        seen[key] = 'no error';
      } catch (e) {
        seen[key] = (e as { code?: string }).code ?? 'no code';
      }
    }
    expect(seen).toEqual(expected);
  });
});
