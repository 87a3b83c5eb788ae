import type { Hub } from '../hub/index.js';
import type { IngestProgress } from '../ingest/index.js';

/**
 * Who ran a command, as the audit log names it: the CLI in its own process, or the CLI through a serving hub's
 * admin socket (the serving process does the work, so the entry says how the request reached it).
 */
export type CliActor = 'cli' | 'cli:admin-socket';

export interface OperationContext {
  actor: CliActor;
  onProgress: (p: IngestProgress) => void;
}

/**
 * The work of one CLI command on an open hub, apart from its printing, so the same code runs in the CLI's own
 * process and, while a hub serves and holds the store, in the serving process (asked over the admin socket).
 * Results travel as JSON, so they hold strings and numbers, never `Date`s.
 */
export interface HubOperation<I, R> {
  /** The request path on the admin socket. */
  readonly name: string;
  /** Checks a request's input as it arrives from the socket (JSON of unknown shape). */
  parse(input: unknown): I;
  run(hub: Hub, input: I, ctx: OperationContext): Promise<R>;
}
