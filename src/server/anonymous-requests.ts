import type { Clock, Logger } from '../core/index.js';

/** At most one hub-log line per this many milliseconds about requests that carried no valid token. */
export const ANONYMOUS_LOG_INTERVAL_MS = 60_000;

/**
 * Requests that reached the hub without a valid bearer token: refused ones (401) and the few public routes (the
 * console's files, the OpenAPI document). They are not written to the audit log one row each: the audit log records
 * what principals did, these touched no data, and anyone who can reach the port could otherwise grow an append-only,
 * hash-chained table (each row also a write transaction on the store's single writer). Instead they are counted and
 * reported to the hub's log at a bounded rate: the first one at once, then at most one line per interval with the
 * counts since the line before, and whatever is left when the server closes. Lines hold the route and error code,
 * never the token or a client's address.
 */
export class AnonymousRequests {
  private pending = new Map<string, number>();
  private pendingTotal = 0;
  private lastLineAt: number | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly intervalMs = ANONYMOUS_LOG_INTERVAL_MS,
  ) {}

  /** Count one request; `kind` is its error code, or `served` for a public route. */
  record(kind: string, route: string): void {
    const key = `${kind} ${route}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    this.pendingTotal++;
    const now = this.clock.now().getTime();
    if (this.lastLineAt === undefined || now - this.lastLineAt >= this.intervalMs) this.flush(now);
  }

  /** Report what was counted since the last line (called when the server closes). */
  flush(now = this.clock.now().getTime()): void {
    if (this.pendingTotal === 0) return;
    const byKind: Record<string, number> = {};
    for (const [k, n] of [...this.pending].sort((a, b) => b[1] - a[1]).slice(0, 20)) byKind[k] = n;
    this.logger.warn(
      { requests: this.pendingTotal, byKind },
      'requests without a valid token (not audited one by one)',
    );
    this.pending = new Map();
    this.pendingTotal = 0;
    this.lastLineAt = now;
  }
}
