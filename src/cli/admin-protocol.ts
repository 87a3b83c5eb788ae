import type { ErrorCode, FaultLocation } from '../core/index.js';
import { ERROR_CODES, HealthmeshError } from '../core/index.js';
import type { IngestProgress } from '../ingest/index.js';

/**
 * One line of an admin socket's answer (NDJSON): progress while the work runs, then exactly one result or error.
 * Streamed so a long ingest shows its progress in the CLI as it does when the CLI ingests itself.
 */
export type AdminMessage =
  | { progress: IngestProgress }
  | { result: unknown }
  | { error: { code: string; message: string; location?: FaultLocation } };

/** An error as it crosses the socket: its code, message and location; anything else is an internal fault. */
export function errorMessage(e: unknown): AdminMessage {
  if (e instanceof HealthmeshError) return { error: { code: e.code, message: e.message, location: e.location } };
  return { error: { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) } };
}

/** The error the serving process raised, rebuilt in the CLI so it prints and exits as if raised here. */
export function errorFromMessage(error: { code: string; message: string; location?: FaultLocation }): HealthmeshError {
  const code: ErrorCode = error.code in ERROR_CODES ? (error.code as ErrorCode) : 'INTERNAL';
  return new HealthmeshError(code, error.message, error.location ?? {});
}
