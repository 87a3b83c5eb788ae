/**
 * A citizen's consent choice reaching their records at the other hubs of the federation (issue 5/7, item 3).
 *
 * The citizen enrolled at one hub (the origin); the same person may be a Patient at a peer under another key. No
 * hub can compare its linkage tokens with another's (docs/linkage.md), so the origin and each peer run a small
 * matching exchange with the same commutative blinding as the distinct count:
 *
 * 1. `mydata.consent-match`: the origin sends its tokens of the citizen blinded by a fresh r_O. The peer multiplies
 *    them by its r_P·k_P and keeps them, and answers with every one of its own tokens blinded by r_P (shuffled,
 *    padded with dummies to a block), remembering which of its patients each position stands for.
 * 2. `mydata.consent-apply`: the origin multiplies that list by r_O·k_O, in order, and sends it back with the
 *    purpose and choice. Positions whose value equals one the peer kept are the citizen's records there; the peer
 *    writes the choice on them through its own consent store, audited as the origin's.
 *
 * Both sides end with [r_O r_P k_O k_P]·H(id) for the citizen, and nothing either could compare with its own
 * tokens. The origin learns nothing of the peer's people (random points, a padded length); the peer learns which
 * of its patients the citizen is, which it needs to honour the choice. The answer of step 2 is the same whether or
 * not anyone matched, so the origin does not learn where the citizen was treated. Each change costs the peer one
 * scalar multiplication per linked patient, twice (the list out and back): linear in the hub's size, once per choice.
 */

import { randomBytes, randomInt } from 'node:crypto';
import type { Principal } from '../access/index.js';
import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Federation } from '../federation/index.js';
import { OperationRegistry, PeerCallError } from '../federation/index.js';
import type { LinkageKey, ReleaseGate } from '../privacy/index.js';
import { LinkageBlinder, personLinkage } from '../privacy/index.js';
import type { Database } from '../store/index.js';
import type { ExchangeRefusal } from './blinded-exchange.js';
import { firstStep, OpenExchanges } from './blinded-exchange.js';
import type { Choice, MyConsent } from './my-consent.js';

export const CONSENT_MATCH_OPERATION = 'mydata.consent-match';
export const CONSENT_APPLY_OPERATION = 'mydata.consent-apply';

/** A peer's list is padded to a multiple of this, as the linkage ring pads its sets. */
const BLOCK = 10;

/** What each peer answered: reached (the choice is applied there if the citizen is a patient there) or why not. */
export type ConsentReach = { hub: string; reached: true } | { hub: string; reached: false; why: string };

interface Exchange {
  peer: string;
  blinder: LinkageBlinder;
  /** The origin's points times r_P·k_P. */
  citizen: Set<string>;
  /** Per position of the list sent: the patient key it stands for, or null for a dummy. */
  keys: (string | null)[];
}

const REFUSAL: ExchangeRefusal = { code: 'MYDATA_REACH_INVALID', what: 'consent match', idField: 'exchange' };

type Hub = {
  db: Database;
  gate: ReleaseGate;
  clock: Clock;
  linkageKey: LinkageKey | undefined;
  myConsent: MyConsent;
};

export class ConsentReachFederation {
  private readonly exchanges = new OpenExchanges<Exchange>(REFUSAL);

  constructor(private readonly hub: Hub) {}

  /** Answer both steps for peers whose citizens change a choice. */
  register(operations = new OperationRegistry()): OperationRegistry {
    operations.register(CONSENT_MATCH_OPERATION, 'peer', async ({ peer, body }) =>
      this.hub.gate.text({ list: await this.match(peer, body) }),
    );
    operations.register(CONSENT_APPLY_OPERATION, 'peer', async ({ peer, body }) => {
      await this.apply(peer, body);
      // The same answer whether or not the citizen is a patient here.
      return this.hub.gate.text({ received: true });
    });
    return operations;
  }

  /**
   * Carry a citizen's choice for `purpose` to every peer (the choice is already written at this hub): each peer
   * applies it to its records of the same person. A peer that cannot be reached is named, with why.
   */
  async reach(
    federation: Federation | undefined,
    patientKeys: readonly string[],
    purpose: string,
    choice: Choice | null,
  ): Promise<ConsentReach[]> {
    const peers = federation?.peers.list().map((p) => p.name) ?? [];
    if (federation === undefined || peers.length === 0) return [];
    const key = this.hub.linkageKey;
    const tokens = key === undefined ? [] : await personLinkage.tokens(this.hub.db, patientKeys);
    if (key === undefined || tokens.length === 0) {
      // Without a linkage token nothing can find the person elsewhere; say so rather than claim the choice travelled.
      const why = key === undefined ? 'this hub holds no linkage key' : 'the record has no linkage token';
      return peers.map((hub) => ({ hub, reached: false, why }));
    }
    return Promise.all(
      peers.map(async (hub): Promise<ConsentReach> => {
        const blinder = new LinkageBlinder(key);
        const exchange = randomBytes(16).toString('base64url');
        try {
          const opts = { timeoutMs: federation.timeoutMs };
          const matched = (await federation.client.call(
            hub,
            CONSENT_MATCH_OPERATION,
            { exchange, points: blinder.blind(tokens) },
            opts,
          )) as { list?: unknown };
          if (!Array.isArray(matched.list) || !matched.list.every((p) => typeof p === 'string')) {
            return { hub, reached: false, why: 'the peer answered no list' };
          }
          await federation.client.call(
            hub,
            CONSENT_APPLY_OPERATION,
            { exchange, list: blinder.forwardInOrder(matched.list as string[]), purpose, choice },
            opts,
          );
          return { hub, reached: true };
        } catch (e) {
          if (!(e instanceof PeerCallError)) throw e;
          return { hub, reached: false, why: e.failure.remoteCode ?? e.failure.kind };
        }
      }),
    );
  }

  private async match(peer: string, body: unknown): Promise<string[]> {
    const key = this.hub.linkageKey;
    if (key === undefined) throw new HealthmeshError('MYDATA_REACH_NO_LINKAGE', 'this hub holds no linkage key');
    const b = body as { exchange?: unknown; points?: unknown } | null;
    const first = firstStep(b?.exchange, b?.points, REFUSAL);
    const now = this.hub.clock.now().getTime();
    const blinder = new LinkageBlinder(key);
    const links = await personLinkage.links(this.hub.db);
    // Shuffled and padded to the disclosure block, so neither order nor length says much about who is here.
    const block = BLOCK;
    const keys: (string | null)[] = [
      ...links.map((l) => l.patientKey),
      ...Array.from<null>({ length: Math.ceil((links.length + 1) / block) * block - links.length }).fill(null),
    ];
    for (let i = keys.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [keys[i], keys[j]] = [keys[j]!, keys[i]!];
    }
    const tokenOf = new Map(links.map((l) => [l.patientKey, l.token]));
    const list = keys.map((k) => (k === null ? blinder.dummies(1)[0]! : blinder.blind([tokenOf.get(k)!])[0]!));
    this.exchanges.start(first.id, now, {
      peer,
      blinder,
      citizen: new Set(blinder.forwardInOrder(first.points)),
      keys,
    });
    return list;
  }

  private async apply(peer: string, body: unknown): Promise<void> {
    const b = body as { exchange?: unknown; list?: unknown; purpose?: unknown; choice?: unknown } | null;
    // One use, by the peer that started it.
    const x = this.exchanges.take(b?.exchange, this.hub.clock.now().getTime(), (e) => e.peer === peer);
    if (x === undefined) {
      throw new HealthmeshError('MYDATA_REACH_INVALID', 'no consent exchange of this peer is open under that id');
    }
    if (
      !Array.isArray(b!.list) ||
      b!.list.length !== x.keys.length ||
      typeof b!.purpose !== 'string' ||
      !(b!.choice === 'permit' || b!.choice === 'deny' || b!.choice === null)
    ) {
      throw new HealthmeshError(
        'MYDATA_REACH_INVALID',
        'a consent apply needs the whole list back, a purpose and a choice (permit, deny or null)',
      );
    }
    const matched = x.keys.filter(
      (k, i): k is string => k !== null && x.citizen.has(String((b!.list as unknown[])[i])),
    );
    if (matched.length === 0) return;
    const actor: Principal = { name: `peer:${peer}`, role: 'service' };
    await this.hub.myConsent.choose(actor, matched, b!.purpose, b!.choice as Choice | null);
  }
}
