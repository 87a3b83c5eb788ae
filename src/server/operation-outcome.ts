import type { ErrorCode } from '../core/index.js';
import { HealthmeshError, isHealthmeshError } from '../core/index.js';

/** The one place error codes become HTTP statuses and FHIR issue types. */
const STATUS: Partial<Record<ErrorCode, [number, string]>> = {
  AUTH_MISSING_TOKEN: [401, 'login'],
  AUTH_INVALID_TOKEN: [401, 'login'],
  AUTH_FORBIDDEN: [403, 'forbidden'],
  AUTH_SOURCE_FORBIDDEN: [403, 'forbidden'],
  API_NOT_FOUND: [404, 'not-found'],
  EXPORT_UNKNOWN_JOB: [404, 'not-found'],
  MODEL_NOT_FOUND: [404, 'not-found'],
  MODEL_INVALID_STORED: [500, 'exception'],
  MODEL_PATIENT_NOT_FOUND: [404, 'not-found'],
  API_BAD_REQUEST: [400, 'invalid'],
  API_NOT_SUPPORTED: [400, 'not-supported'],
  INGEST_INVALID_JSON: [400, 'structure'],
  INGEST_NOT_A_RESOURCE: [400, 'structure'],
  INGEST_INVALID_SOURCE: [400, 'invalid'],
  INGEST_TRANSACTION_FAILED: [400, 'processing'],
  INGEST_RECORD_TOO_LARGE: [413, 'too-costly'],
  INGEST_BUNDLE_TOO_LARGE: [413, 'too-costly'],
  API_BODY_TOO_LARGE: [413, 'too-costly'],
  FEDERATION_MISSING_SIGNATURE: [401, 'security'],
  FEDERATION_BAD_SIGNATURE: [401, 'security'],
  FEDERATION_UNKNOWN_SIGNER: [401, 'security'],
  FEDERATION_STALE_REQUEST: [401, 'security'],
  FEDERATION_REPLAY: [401, 'security'],
  FEDERATION_UNKNOWN_OPERATION: [404, 'not-supported'],
  FEDERATION_PEER_FAILED: [502, 'transient'],
  DISCLOSURE_DIFFERENCING: [403, 'suppressed'],
  DISCLOSURE_REFUSED: [403, 'suppressed'],
  DISCLOSURE_UNGATED: [500, 'exception'],
  CONSOLE_NOT_BUILT: [503, 'transient'],
  HUB_DERIVED_STALE: [503, 'transient'],
  CONSENT_UNKNOWN_PURPOSE: [400, 'invalid'],
  CONSENT_REFUSED: [403, 'forbidden'],
  // A peer's answer, not the caller's request, was malformed.
  SURVEILLANCE_BAD_RELEASED_SERIES: [502, 'exception'],
};

export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code]?.[0] ?? (/^(FHIR|INGEST|VIEW|SURVEILLANCE|COHORT|OMOP|MODEL)_/.test(code) ? 400 : 500);
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
      code: STATUS[i.code]?.[1] ?? (i.code === 'INTERNAL' ? 'exception' : 'invalid'),
      details: { coding: [{ system: 'https://healthmesh.dev/error-codes', code: i.code }], text: i.message },
      diagnostics: i.message,
      ...(i.path !== undefined && { expression: [i.path] }),
    })),
  };
}

export function errorOutcome(e: unknown): { status: number; body: Record<string, unknown> } {
  if (isHealthmeshError(e)) {
    return {
      status: httpStatusOf(e.code),
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
