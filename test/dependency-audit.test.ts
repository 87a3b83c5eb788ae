import { describe, expect, it } from 'vitest';
import { auditVerdict } from '../.ci/dependency-audit.js';

/** `npm audit --json` reports in npm 7+'s shape, trimmed to what the policy reads. */
const report = (vulnerabilities: Record<string, { severity: string; via: unknown[] }>) =>
  JSON.stringify({ auditReportVersion: 2, vulnerabilities, metadata: {} });

describe("CI's dependency audit policy", () => {
  it('fails on a high or critical advisory in a runtime dependency, naming it, and only lists the rest', () => {
    const verdict = auditVerdict(
      report({
        fastify: { severity: 'high', via: [{ title: 'Content-Type parsing bypass' }] },
        undici: { severity: 'moderate', via: [{ title: 'Unbounded decompression' }] },
        'light-my-request': { severity: 'critical', via: ['fastify'] },
      }),
    );
    expect(verdict).toEqual({
      kind: 'fail',
      failing: ['fastify (high): Content-Type parsing bypass', 'light-my-request (critical)'],
      listed: ['undici (moderate): Unbounded decompression'],
    });
  });

  it('passes a report with only moderate or low advisories, or none', () => {
    expect(auditVerdict(report({ ajv: { severity: 'low', via: [] } }))).toEqual({
      kind: 'pass',
      listed: ['ajv (low)'],
    });
    expect(auditVerdict(report({}))).toEqual({ kind: 'pass', listed: [] });
  });

  it('says the advisory data was unreachable, with why, when npm prints its error instead of a report', () => {
    const refused = JSON.stringify({
      message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
      statusCode: 405,
      error: { summary: '', detail: '' },
    });
    expect(auditVerdict(refused)).toEqual({
      kind: 'unreachable',
      reason: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
    });
    expect(auditVerdict('')).toEqual({ kind: 'unreachable', reason: 'npm audit printed no JSON report' });
  });
});
