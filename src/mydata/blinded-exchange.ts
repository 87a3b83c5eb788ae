/**
 * The peer's side of a two-step blinded-point exchange (the consent reach's match and apply, a link check's start
 * and redemption): the first step's request is checked here, and its state kept until the second step takes it.
 */
import type { ErrorCode } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';

/** A citizen links a handful of records; more points than this in one exchange is no citizen's. */
export const MAX_CITIZEN_POINTS = 32;
/** How long a peer keeps one exchange's state between its two steps. */
const EXCHANGE_TTL_MS = 5 * 60_000;
/** Exchange ids are random and URL-safe; anything else is not an origin of this version. */
const EXCHANGE_ID = /^[A-Za-z0-9_-]{16,64}$/;

/** How a bad first step is refused: the error code, what the exchange is called, and the id's field name. */
export interface ExchangeRefusal {
  code: ErrorCode;
  what: string;
  idField: string;
  /** Whether the error names the offending field (`path`), as the link check's always did. */
  withPath?: boolean;
}

/** The exchange id and the citizen's blinded points of a first step, or the refusal's error. */
export function firstStep(id: unknown, points: unknown, refusal: ExchangeRefusal): { id: string; points: string[] } {
  if (
    typeof id !== 'string' ||
    !EXCHANGE_ID.test(id) ||
    !Array.isArray(points) ||
    points.length === 0 ||
    points.length > MAX_CITIZEN_POINTS ||
    !points.every((p) => typeof p === 'string')
  ) {
    throw new HealthmeshError(
      refusal.code,
      `a ${refusal.what} needs an id and 1–${MAX_CITIZEN_POINTS} points`,
      refusal.withPath ? { path: 'points' } : {},
    );
  }
  return { id, points: points as string[] };
}

/** First steps waiting for their second: each id opens once and is taken once, within the time limit. */
export class OpenExchanges<T> {
  private readonly open = new Map<string, { state: T; expires: number }>();

  constructor(private readonly refusal: ExchangeRefusal) {}

  /** Keep `state` under `id`; an id already open (or reused within the limit) is refused. */
  start(id: string, now: number, state: T): void {
    for (const [k, x] of this.open) if (x.expires < now) this.open.delete(k);
    if (this.open.has(id)) {
      throw new HealthmeshError(
        this.refusal.code,
        `${this.refusal.what} ${id} was already started`,
        this.refusal.withPath ? { path: this.refusal.idField } : {},
      );
    }
    this.open.set(id, { state, expires: now + EXCHANGE_TTL_MS });
  }

  /** The state under `id` if it is open, unexpired and `belongs`; taken, so a second step runs once. */
  take(id: unknown, now: number, belongs: (state: T) => boolean): T | undefined {
    if (typeof id !== 'string') return undefined;
    const x = this.open.get(id);
    if (x === undefined || x.expires < now || !belongs(x.state)) return undefined;
    this.open.delete(id);
    return x.state;
  }
}
