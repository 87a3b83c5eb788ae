import type { ErrorCode, ErrorKind } from '../core/index.js';
import { HealthmeshError, httpStatusOf, isHealthmeshError, kindOf } from '../core/index.js';

/** The FHIR issue type of each kind of error (R4 IssueType). */
const ISSUE_TYPE: Record<ErrorKind, string> = {
  input: 'invalid',
  unauthenticated: 'login',
  forbidden: 'forbidden',
  'not-found': 'not-found',
  conflict: 'conflict',
  'too-large': 'too-costly',
  'rate-limited': 'throttled',
  peer: 'transient',
  unavailable: 'transient',
  internal: 'exception',
};

/** Codes a FHIR client can tell apart by a narrower issue type than their kind's; the status stays the kind's. */
const NARROWER_ISSUE_TYPE: Partial<Record<ErrorCode, string>> = {
  DISCLOSURE_REFUSED: 'suppressed',
  DISCLOSURE_DIFFERENCING: 'suppressed',
  INGEST_INVALID_JSON: 'structure',
  INGEST_NOT_A_RESOURCE: 'structure',
  API_NOT_SUPPORTED: 'not-supported',
  FEDERATION_MISSING_SIGNATURE: 'security',
  FEDERATION_BAD_SIGNATURE: 'security',
  FEDERATION_UNKNOWN_SIGNER: 'security',
  FEDERATION_STALE_REQUEST: 'security',
  FEDERATION_REPLAY: 'security',
};

/** The HTTP status of an error code: its kind's (core/errors.ts), the same kind that sets the CLI's exit code. */
export function httpStatusOfCode(code: ErrorCode): number {
  return httpStatusOf(kindOf(code));
}

export interface OutcomeIssue {
  code: ErrorCode;
  message: string;
  path?: string;
}

/** An OperationOutcome with one issue per fault; our error code is carried in `details.coding`. */
export function operationOutcome(issues: readonly OutcomeIssue[]): Record<string, unknown> {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => ({
      severity: 'error',
      code: NARROWER_ISSUE_TYPE[i.code] ?? ISSUE_TYPE[kindOf(i.code)],
      details: { coding: [{ system: 'https://healthmesh.dev/error-codes', code: i.code }], text: i.message },
      diagnostics: i.message,
      ...(i.path !== undefined && { expression: [i.path] }),
    })),
  };
}

export function errorOutcome(e: unknown): { status: number; body: Record<string, unknown> } {
  if (isHealthmeshError(e)) {
    return {
      status: httpStatusOf(e.kind),
      body: operationOutcome([
        { code: e.code, message: e.message, ...(e.location.path !== undefined && { path: e.location.path }) },
      ]),
    };
  }
  return { status: 500, body: operationOutcome([{ code: 'INTERNAL', message: 'internal server error' }]) };
}

export function badRequest(message: string, path?: string): HealthmeshError {
  return new HealthmeshError('API_BAD_REQUEST', message, path !== undefined ? { path } : {});
}
