import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import { distinctCount, LinkageBlinder, ringAfter } from './linkage-blinding.js';
import type { LinkageKey } from './linkage-token.js';

/** One step of the ring a coordinator asks of a hub (sent over the federation transport). */
export type RingRequest =
  | { queryId: string; step: 'start'; hubs: readonly string[] }
  | { queryId: string; step: 'forward'; points: readonly string[] };

/** A hub's answer: blinded points, and with `start` the number of dummies it padded with. */
export interface RingResponse {
  points: string[];
  dummies?: number;
}

/** How the coordinator reaches a hub (the federation client's `call`, or a direct call in tests). */
export type RingCall = (hub: string, request: RingRequest) => Promise<RingResponse>;

function checkRequest(value: unknown): RingRequest {
  const v = value as Partial<Record<string, unknown>> | null;
  const fail = (why: string): never => {
    throw new HealthmeshError('LINKAGE_INVALID_SUBMISSION', why);
  };
  if (
    v === null ||
    typeof v !== 'object' ||
    typeof v.queryId !== 'string' ||
    !/^[A-Za-z0-9_-]{16,64}$/.test(v.queryId)
  ) {
    return fail('a linkage request needs a queryId of 16–64 base64url characters');
  }
  if (v.step === 'start' && Array.isArray(v.hubs) && v.hubs.every((h) => typeof h === 'string')) {
    return { queryId: v.queryId, step: 'start', hubs: v.hubs as string[] };
  }
  if (v.step === 'forward' && Array.isArray(v.points) && v.points.every((p) => typeof p === 'string')) {
    return { queryId: v.queryId, step: 'forward', points: v.points as string[] };
  }
  return fail("a linkage request's step is 'start' (with hubs) or 'forward' (with points)");
}

interface QueryState {
  blinder: LinkageBlinder;
  started: boolean;
  forwards: number;
  maxForwards: number;
  expires: number;
}

/**
 * A hub's side of the ring (docs/linkage.md): one per-query scalar for all the sets of a query, kept in memory
 * only until the query expires. A query id starts once (a reused id would let a coordinator link two queries'
 * people), and forwards at most one set per other hub of the ring it announced, so the hub is no open oracle.
 */
export class LinkageParty {
  private readonly queries = new Map<string, QueryState>();

  constructor(
    private readonly key: LinkageKey,
    private readonly clock: Clock,
    private readonly ttlMs = 10 * 60_000,
  ) {}

  /** Answer one ring step; `tokens` gives this hub's distinct tokens of the query's population. */
  async handle(request: unknown, tokens: () => Promise<string[]>, block: number): Promise<RingResponse> {
    const r = checkRequest(request);
    const now = this.clock.now().getTime();
    for (const [id, q] of this.queries) if (q.expires < now) this.queries.delete(id);
    let q = this.queries.get(r.queryId);
    if (r.step === 'start') {
      if (q?.started) throw new HealthmeshError('LINKAGE_INVALID_SUBMISSION', `query ${r.queryId} was already started`);
      if (!r.hubs.includes(this.key.hub)) {
        throw new HealthmeshError(
          'LINKAGE_INVALID_SUBMISSION',
          `the ring ${r.hubs.join(',')} does not include this hub`,
        );
      }
      q ??= this.open(r.queryId, now);
      q.started = true;
      q.maxForwards = r.hubs.length - 1;
      return q.blinder.start(await tokens(), block);
    }
    q ??= this.open(r.queryId, now);
    if (q.forwards >= q.maxForwards) {
      throw new HealthmeshError('LINKAGE_INVALID_SUBMISSION', `query ${r.queryId} has forwarded every set of its ring`);
    }
    q.forwards++;
    return { points: q.blinder.forward(r.points) };
  }

  private open(queryId: string, now: number): QueryState {
    // Before its own start, a hub cannot know the ring's size; one forward per other hub of a ring of 16 at most.
    const q = {
      blinder: new LinkageBlinder(this.key),
      started: false,
      forwards: 0,
      maxForwards: 15,
      expires: now + this.ttlMs,
    };
    this.queries.set(queryId, q);
    return q;
  }
}

/**
 * The coordinator's side: every hub starts its own set (in parallel), each set then travels the ring, and the
 * fully blinded sets are counted. The coordinator sees only sizes (padded, less the dummies) and the final values,
 * which it can compare with nothing.
 */
export async function federatedDistinctCount(
  hubs: readonly string[],
  call: RingCall,
  queryId = randomBytes(16).toString('base64url'),
): Promise<number> {
  const started = await Promise.all(hubs.map((hub) => call(hub, { queryId, step: 'start', hubs })));
  const finals = await Promise.all(
    hubs.map(async (origin, i) => {
      let points = started[i]!.points;
      for (const next of ringAfter(hubs, origin))
        points = (await call(next, { queryId, step: 'forward', points })).points;
      return points;
    }),
  );
  const dummies = started.reduce((n, s) => n + (s.dummies ?? 0), 0);
  return distinctCount(finals, dummies);
}
