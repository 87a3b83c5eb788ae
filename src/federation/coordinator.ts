import { isHealthmeshError } from '../core/index.js';
import type { FederationClient, PeerFailure } from './federation-client.js';
import { PeerCallError } from './federation-client.js';
import { peerFigureProblem } from './peer-figures.js';

/** What a fan-out gathered: one result per hub that answered, and the hubs that did not, by name. */
export interface FanOutResult {
  results: { hub: string; value: unknown; ms: number }[];
  failed: PeerFailure[];
  /** True when every hub answered; otherwise the result is partial and `failed` names the missing hubs. */
  complete: boolean;
}

/**
 * Send one operation to several peers at once, each bounded by the timeout, and wait for all to answer or
 * fail: a hub that is down or slow costs at most the timeout and is named in `failed`, never dropped silently.
 */
export async function fanOut(
  client: FederationClient,
  hubs: readonly string[],
  operation: string,
  body: unknown,
  options: { timeoutMs: number },
): Promise<FanOutResult> {
  const settled = await Promise.all(
    hubs.map(async (hub) => {
      const t0 = performance.now();
      try {
        const value = await client.call(hub, operation, body, options);
        return { hub, value, ms: performance.now() - t0 };
      } catch (e) {
        if (e instanceof PeerCallError) return e.failure;
        // A name missing from the peers file belongs to that hub's row; anything else is our bug.
        if (isHealthmeshError(e) && e.code === 'FEDERATION_UNKNOWN_PEER') {
          return { hub, kind: 'unknown-peer' as const, message: e.message };
        }
        throw e;
      }
    }),
  );
  const results: FanOutResult['results'] = [];
  const failed: PeerFailure[] = [];
  for (const s of settled) {
    if ('kind' in s) failed.push(s);
    else results.push(s);
  }
  return { results, failed, complete: failed.length === 0 };
}

/** A failure as an answer names it (a type, not an interface, so a release-gate bundle takes it as text). */
export type FailureNote = { hub: string; kind: PeerFailure['kind']; remoteCode?: string; message: string };

/**
 * The failures as an answer names them: hub, kind, the peer's own code when it gave one, and the message; only
 * these fields, so nothing else a failure carries (a timing, an error object) reaches the caller.
 */
export function describeFailures(failed: readonly PeerFailure[]): FailureNote[] {
  return failed.map((f) => ({
    hub: f.hub,
    kind: f.kind,
    ...(f.remoteCode !== undefined && { remoteCode: f.remoteCode }),
    message: f.message,
  }));
}

/** One step of a multi-round protocol that failed at a hub: the run ends there, and its answer names the hub. */
export class PeerStepFailed extends Error {
  constructor(readonly failure: FailureNote) {
    super(failure.message);
  }
}

/**
 * One operation at one peer, for protocols whose every step must succeed (a pooled fit's rounds, a secure
 * product's shares): its value, or a `PeerStepFailed` naming the hub, how it failed and the peer's own code.
 */
export async function askPeer(
  client: FederationClient,
  hub: string,
  operation: string,
  body: unknown,
  options: { timeoutMs: number },
): Promise<unknown> {
  const answer = await fanOut(client, [hub], operation, body, options);
  const f = answer.failed[0];
  if (f !== undefined) throw new PeerStepFailed(describeFailures([f])[0]!);
  return answer.results[0]!.value;
}

/** A peer's answer through `check` (PeerFigures' checks), or a `PeerStepFailed` bad-response naming the problem. */
export function checkedAnswer<T>(hub: string, value: unknown, check: (v: unknown) => T): T {
  let out: T | undefined;
  const problem = peerFigureProblem(() => {
    out = check(value);
  });
  if (problem !== undefined || out === undefined) {
    throw new PeerStepFailed({ hub, kind: 'bad-response', message: `unusable answer: ${problem}` });
  }
  return out;
}
