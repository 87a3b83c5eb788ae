/**
 * CI's dependency audit (issue 19): `npm audit` on the lockfile's runtime dependencies against the registry's
 * advisory data. Policy: a high or critical advisory in a runtime dependency fails the run; moderate and low ones
 * are listed; dev-only dependencies (tests, lint, build) are not audited, since they never reach a hub. Where the
 * advisory data cannot be reached (an offline mirror answers 405), the run says so in a visible notice and goes on,
 * unless HEALTHMESH_AUDIT_REQUIRED=true, which makes an unreachable advisory service fail the run too.
 */
import { spawnSync } from 'node:child_process';

export const FAILING = new Set(['high', 'critical']);

export type AuditVerdict =
  | { kind: 'pass'; listed: string[] }
  | { kind: 'fail'; failing: string[]; listed: string[] }
  | { kind: 'unreachable'; reason: string };

/** The verdict on `npm audit --json`'s output (npm 7+ report, or the error npm prints when the service refuses). */
export function auditVerdict(output: string): AuditVerdict {
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(output) as Record<string, unknown>;
  } catch {
    return { kind: 'unreachable', reason: 'npm audit printed no JSON report' };
  }
  if (report.auditReportVersion === undefined) {
    const message = typeof report.message === 'string' ? report.message : 'no report';
    const status = typeof report.statusCode === 'number' ? `${report.statusCode}` : '';
    const reason = status === '' || message.startsWith(status) ? message : `${status} ${message}`;
    return { kind: 'unreachable', reason: reason.slice(0, 300) };
  }
  const vulnerabilities = (report.vulnerabilities ?? {}) as Record<string, { severity?: string; via?: unknown[] }>;
  const failing: string[] = [];
  const listed: string[] = [];
  for (const [name, v] of Object.entries(vulnerabilities).sort(([a], [b]) => a.localeCompare(b))) {
    const titles = (v.via ?? [])
      .map((x) => (typeof x === 'object' && x !== null ? (x as { title?: string }).title : undefined))
      .filter((t): t is string => typeof t === 'string');
    const line = `${name} (${v.severity ?? 'unknown'})${titles.length > 0 ? `: ${titles.join('; ')}` : ''}`;
    (FAILING.has(v.severity ?? '') ? failing : listed).push(line);
  }
  return failing.length > 0 ? { kind: 'fail', failing, listed } : { kind: 'pass', listed };
}

function main(): number {
  const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8', timeout: 120_000 });
  const verdict = auditVerdict(run.stdout ?? '');
  if (verdict.kind === 'unreachable') {
    const required = process.env.HEALTHMESH_AUDIT_REQUIRED === 'true';
    console.warn(
      `${required ? 'FAIL' : 'NOTICE'}: the registry's advisory data could not be reached (${verdict.reason}): runtime dependencies were not audited in this run.`,
    );
    return required ? 1 : 0;
  }
  for (const line of verdict.listed) console.log(`audit (listed, does not fail): ${line}`);
  if (verdict.kind === 'fail') {
    for (const line of verdict.failing) console.error(`audit FAIL: ${line}`);
    return 1;
  }
  console.log('audit: no high or critical advisory in a runtime dependency');
  return 0;
}

if (process.argv[1]?.endsWith('dependency-audit.ts')) process.exitCode = main();
