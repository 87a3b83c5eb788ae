/**
 * The coordinator's side of the pooled AUROC (docs/validation.md, "The pooled AUROC"): with three hubs or more,
 * every ordered pair of hubs (A's events, B's non-events) is counted by a secure scalar product that a third hub
 * computes (pooled-auroc.ts), so the pooled AUROC is the one over all the hubs' rows, up to pairs that share a grid
 * cell with different scores. With two hubs and a coordinator outside them, the coordinator is the third: it
 * helps both pairs itself (it learns the pair figures, which helpers release to it anyway). With two hubs of which
 * the coordinator is one there is no third to help: the histograms order those pairs (`pooledAuroc`, with its
 * stated bound).
 */
import { randomBytes } from 'node:crypto';
import type { HubServices as Hub } from '../context/index.js';
import type { Federation } from '../federation/index.js';
import { askPeer, checkedAnswer, PeerFigures, PeerStepFailed } from '../federation/index.js';
import type { HubValidation } from './federated-validation.js';
import type { AurocPair, AurocProtocol, SignedRunKey } from './pooled-auroc.js';
import {
  pairId,
  VALIDATION_AUROC_KEY_OPERATION,
  VALIDATION_AUROC_PAIR_OPERATION,
  VALIDATION_AUROC_SHARE_OPERATION,
} from './pooled-auroc.js';

/** The exact pooled AUROC, too few hubs for a helper, or the hub whose step failed. */
export type AurocOutcome =
  | { auroc: number; pairs: number }
  | { tooFewHubs: true }
  | { failed: { hub: string; kind: string; remoteCode?: string; message: string } };

/** Each ordered pair of distinct hubs with a helper that is neither, spread over the others in turn. */
export function aurocPairs(hubs: readonly string[]): AurocPair[] {
  const pairs: AurocPair[] = [];
  for (const [i, a] of hubs.entries()) {
    for (const [j, b] of hubs.entries()) {
      if (i === j) continue;
      const others = hubs.filter((h) => h !== a && h !== b);
      pairs.push({ events: a, nonEvents: b, helper: others[(i + j) % others.length]! });
    }
  }
  return pairs;
}

/**
 * The pooled AUROC of `parts` by secure products: within-hub pairs from each hub's own released AUROC, cross-hub
 * pairs from the helpers' released pair AUROCs, each weighted by the released events and non-events. A hub whose
 * step fails (refused, silent, or an answer this hub cannot use) ends the run: the report falls back to the
 * histograms and names it.
 */
export async function secureAurocAcrossHubs(
  hub: Hub,
  protocol: AurocProtocol,
  federation: Federation | undefined,
  parts: readonly HubValidation[],
  project: string,
  requester: string,
): Promise<AurocOutcome> {
  const self = hub.config.name;
  // Two hubs, this one not among them: this hub helps both pairs (no scores of its own, so no session).
  const helping = parts.length === 2 && parts.every((p) => p.hub !== self);
  if (parts.length < 3 && !helping) return { tooFewHubs: true };
  const missing = parts.find((p) => p.session === undefined || (p.hub !== self && federation === undefined));
  if (missing !== undefined) {
    return {
      failed: { hub: missing.hub, kind: 'refused', message: 'it kept no scores for the secure products' },
    };
  }
  const figures = new PeerFigures(hub.config.privacy.disclosure);
  const byHub = new Map(parts.map((p) => [p.hub, p]));
  const run = randomBytes(16).toString('hex');
  const { gate } = hub;
  /** One step at `hubName`: this hub's own locally, another's by its signed operation. */
  const step = async (hubName: string, op: string, body: Record<string, unknown>): Promise<unknown> => {
    const session = byHub.get(hubName)?.session;
    if (hubName === self) {
      try {
        if (helping) return protocol.helperPair(gate, project, run, body.pair, body.role, body.blob).value;
        switch (op) {
          case VALIDATION_AUROC_KEY_OPERATION:
            return protocol.key(gate, self, project, session, run).value;
          case VALIDATION_AUROC_SHARE_OPERATION:
            return protocol.share(gate, self, project, session, run, body.keys, body.pairs).value;
          default:
            return protocol.pair(gate, self, project, session, run, body.pair, body.role, body.blob).value;
        }
      } catch (e) {
        const code = (e as { code?: string }).code;
        throw new PeerStepFailed({
          hub: self,
          kind: 'refused',
          ...(code !== undefined && { remoteCode: code }),
          message: (e as Error).message,
        });
      }
    }
    // A share carries vectors of 8 MiB: longer than a count, bounded all the same.
    const timeoutMs = Math.max(federation!.timeoutMs, 60_000);
    return askPeer(federation!.client, hubName, op, { ...body, session, project, run }, { timeoutMs });
  };
  const text = (o: Record<string, unknown>, k: string) => {
    if (typeof o[k] !== 'string') figures.fail(k, 'must be text');
    return o[k] as string;
  };
  try {
    const keys = await Promise.all(
      parts.map(async (p): Promise<SignedRunKey> => {
        const v = await step(p.hub, VALIDATION_AUROC_KEY_OPERATION, {});
        return checkedAnswer(p.hub, v, (x) => {
          const o = figures.object(x, 'result');
          if (o.hub !== p.hub) figures.fail('hub', `must be ${p.hub}`);
          return { hub: p.hub, key: text(o, 'key'), signature: text(o, 'signature') };
        });
      }),
    );
    if (helping) {
      keys.push(protocol.helperKey(gate, project, run).value);
      try {
        protocol.helperKeys(project, run, keys);
      } catch (e) {
        // A key that does not verify here is the sender's fault as much as a step it failed.
        throw new PeerStepFailed({ hub: self, kind: 'refused', message: (e as Error).message });
      }
    }
    const hubs = parts.map((p) => p.hub);
    const pairs: AurocPair[] = helping
      ? [
          { events: hubs[0]!, nonEvents: hubs[1]!, helper: self },
          { events: hubs[1]!, nonEvents: hubs[0]!, helper: self },
        ]
      : aurocPairs(hubs);
    const sealed = new Map<string, string>();
    await Promise.all(
      parts.map(async (p) => {
        const v = await step(p.hub, VALIDATION_AUROC_SHARE_OPERATION, { keys, pairs });
        checkedAnswer(p.hub, v, (x) => {
          const o = figures.object(x, 'result');
          if (!Array.isArray(o.shares)) figures.fail('shares', 'must be a list');
          for (const [i, s] of (o.shares as unknown[]).entries()) {
            const share = figures.object(s, `shares[${i}]`);
            sealed.set(`${text(share, 'pair')} ${text(share, 'role')} ${p.hub}`, text(share, 'blob'));
          }
          return true;
        });
      }),
    );
    const pairAurocs = await Promise.all(
      pairs.map(async (pair) => {
        let result: number | undefined;
        // One message a request: a request holding both vectors would pass a peer's body limit.
        for (const [role, from] of [
          ['events', pair.events],
          ['nonEvents', pair.nonEvents],
        ] as const) {
          const blob = sealed.get(`${pairId(pair)} ${role} ${from}`);
          if (blob === undefined) {
            throw new PeerStepFailed({
              hub: from,
              kind: 'bad-response',
              message: `no ${role} share of ${pairId(pair)}`,
            });
          }
          const v = await step(pair.helper, VALIDATION_AUROC_PAIR_OPERATION, { pair, role, blob });
          result = checkedAnswer(pair.helper, v, (x) => {
            const o = figures.object(x, 'result');
            if (o.pair !== pairId(pair)) figures.fail('pair', `must be ${pairId(pair)}`);
            if (role === 'events') return o.pending === true ? 0 : figures.fail('pending', 'must be true');
            // Rounded counts can put the ratio a little past 1; anything further is not a pair AUROC.
            const a = figures.numberOrNull(o.auroc, 'auroc', { min: 0, max: 2 });
            return a === null ? figures.fail('auroc', 'was withheld by the helper') : a;
          });
        }
        return { pair, auroc: result! };
      }),
    );
    let wins = 0;
    let events = 0;
    let nonEvents = 0;
    for (const p of parts) {
      const e = p.report.sampleSize.events;
      const m = p.report.sampleSize.nonEvents;
      const a = p.report.discrimination.auroc;
      if (e === null || m === null || a === null) {
        throw new PeerStepFailed({ hub: p.hub, kind: 'refused', message: 'it withheld its own AUROC or counts' });
      }
      wins += a * e * m;
      events += e;
      nonEvents += m;
    }
    for (const { pair, auroc } of pairAurocs) {
      wins +=
        auroc *
        byHub.get(pair.events)!.report.sampleSize.events! *
        byHub.get(pair.nonEvents)!.report.sampleSize.nonEvents!;
    }
    await hub.audit.append({
      actor: requester,
      action: 'validation-pooled-auroc',
      target: `validation/project/${project}`,
      outcome: 'success',
      detail: { hubs: parts.map((p) => p.hub).join(','), pairs: pairs.length },
    });
    return { auroc: wins / (events * nonEvents), pairs: pairs.length };
  } catch (e) {
    if (e instanceof PeerStepFailed) return { failed: e.failure };
    throw e;
  } finally {
    if (helping) protocol.endHelping(run);
  }
}
