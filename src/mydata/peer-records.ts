/**
 * A citizen's records held at another hub of the federation, shown on My record at the hub where they enrolled
 * (the origin).
 *
 * The proof is the same as at home: the peer's own source issues a one-time enrolment code for its patient
 * (`POST /mydata/enrolment-codes` at the peer), and the citizen types it at their origin naming the peer
 * (`POST /me/enrol` with `hub`). The origin passes it on (`mydata.link`) with a keyed reference to the citizen
 * (an HMAC of the account's handle under the origin's secret, so the peer never learns the handle); the peer
 * redeems it as it would a local code (once, within its days, the same lockout, counted per origin and citizen)
 * and links the reference to the patient key. No raw id leaves either hub: the code is random and the peer keeps
 * only its hash.
 *
 * Why a code from the peer's source rather than the linkage token of the origin's record: a token match makes the
 * origin's word enough, so one compromised hub could pull the record of every patient it shares with its peers. A
 * code from the peer's own source is its source vouching for that one person, and the link is the citizen's own
 * act, which is the consent the peer checks at every read: it answers `mydata.records` only for a reference its own
 * records are linked to, by the origin that made the link (the signature names it), with those records only. The
 * citizen withdraws it at their hub (`mydata.unlink`), and the peer then sends nothing more.
 *
 * The code is cross-checked with linkage tokens when both hubs hold one for the person, so a code handed to the
 * wrong citizen (or taken from its owner) does not link someone else's record: `mydata.link-check` sends the
 * citizen's tokens here blinded by a fresh r_O; the peer keeps them times r_P·k_P and answers the token of the
 * code's patient blinded by r_P (a random point when the code opens nobody or the patient has no token, so the
 * answer says nothing of the code). `mydata.link` then carries that point times r_O·k_O, and the peer redeems the
 * code only if it equals one it kept ([r_O r_P k_O k_P]·H(rrn) on both sides); otherwise `MYDATA_LINK_MISMATCH`,
 * the code unused and the try counted for the lockout. Only blinded points cross, never an id or a token either
 * side could compare with its own. Without a token on either side the code links as before, answered as
 * `checked: 'not-possible'`.
 */

import { createHmac, randomBytes } from 'node:crypto';
import type { AuditLog, Principal } from '../access/index.js';
import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Federation } from '../federation/index.js';
import { OperationRegistry, PeerCallError } from '../federation/index.js';
import type { LinkageKey, ReleaseGate } from '../privacy/index.js';
import { LinkageBlinder, personLinkage } from '../privacy/index.js';
import type { Database, ResourceStore } from '../store/index.js';
import type { ExchangeRefusal } from './blinded-exchange.js';
import { firstStep, MAX_CITIZEN_POINTS, OpenExchanges } from './blinded-exchange.js';
import type { Enrolment, PersonCheck } from './enrolment.js';
import { everything } from './my-record.js';

export const PEER_LINK_OPERATION = 'mydata.link';
export const PEER_LINK_CHECK_OPERATION = 'mydata.link-check';
export const PEER_RECORDS_OPERATION = 'mydata.records';
export const PEER_UNLINK_OPERATION = 'mydata.unlink';

/** One current resource of a citizen's record at a peer, as the peer sends it (the body as its stored JSON). */
export interface PeerResource {
  type: string;
  id: string;
  versionId: string;
  lastUpdated: string;
  content: string;
}

/** A peer's part of a citizen's record: its resources, or why it could not be read. */
export type PeerPart =
  | { hub: string; url: string; reached: true; resources: PeerResource[] }
  | { hub: string; url: string; reached: false; why: string };

/** A record of a citizen at a peer, linked to their account here. */
export interface PeerLink {
  hub: string;
  source: string;
  linkedAt: Date;
  /** At link time: whether linkage tokens showed the peer's patient to be the citizen, or could not be compared. */
  checked?: 'same' | 'not-possible';
}

const CHECK_REFUSAL: ExchangeRefusal = {
  code: 'MYDATA_INVALID_REQUEST',
  what: 'link check',
  idField: 'check',
  withPath: true,
};

/** A peer's side of one link check, between its two steps. */
interface LinkCheck {
  peer: string;
  ref: string;
  code: string;
  /** The origin's points times r_P·k_P: the citizen, as the second step's point must equal. */
  citizen: Set<string>;
  /** Whether the code opened a patient with a linkage token here (else the check is not possible). */
  comparable: boolean;
}

const REF = /^[A-Za-z0-9_-]{43}$/;

type Hub = {
  db: Database;
  store: ResourceStore;
  gate: ReleaseGate;
  audit: AuditLog;
  clock: Clock;
  enrolment: Enrolment;
  keys: { secret: Buffer };
  config: { name: string };
  linkageKey: LinkageKey | undefined;
};

export class PeerRecords {
  private readonly checks = new OpenExchanges<LinkCheck>(CHECK_REFUSAL);

  constructor(private readonly hub: Hub) {}

  /** Answer peers' citizens: link a code of this hub's source to them, and send them their records here. */
  register(operations = new OperationRegistry()): OperationRegistry {
    operations.register(PEER_LINK_CHECK_OPERATION, 'peer', async ({ peer, body }) =>
      this.hub.gate.text({ point: await this.startCheck(peer, body) }),
    );
    operations.register(PEER_LINK_OPERATION, 'peer', async ({ peer, body }) => {
      const b = body as { citizen?: unknown; code?: unknown; check?: unknown; point?: unknown } | null;
      const ref = refOf(b?.citizen);
      const code = codeOf(b?.code);
      // Redeemed as a local code, by a principal that stands for this origin's citizen: the lockout counts per
      // origin and citizen, and the audit entry names the origin.
      const linked = await this.hub.enrolment.redeem(
        remoteCitizen(peer, ref),
        code,
        b?.check === undefined ? () => 'not-possible' : this.finishCheck(peer, ref, code, b.check, b.point),
      );
      return this.hub.gate.text({ source: linked.source, checked: linked.checked ?? 'not-possible' });
    });
    operations.register(PEER_RECORDS_OPERATION, 'peer', async ({ peer, body }) => {
      const ref = refOf((body as { citizen?: unknown } | null)?.citizen);
      const citizen = remoteCitizen(peer, ref);
      const keys = (await this.hub.enrolment.records(citizen.name)).map((r) => r.patientKey);
      const resources: PeerResource[] = [];
      for await (const chunk of everything(this.hub.store, keys)) {
        for (const v of chunk) {
          resources.push({
            type: v.type,
            id: v.id,
            versionId: String(v.version),
            lastUpdated: v.lastUpdated.toISOString(),
            content: v.content,
          });
        }
      }
      // Which origin read whose records here (the keyed reference, as linked) and how many, before answering.
      await this.hub.audit.append({
        actor: citizen.name,
        action: 'peer-records',
        target: `peer/${peer}`,
        outcome: 'success',
        detail: { records: keys.length, resources: resources.length },
      });
      // Nothing linked gets the same shape: an empty record.
      return this.hub.gate.ownRecord({ resources }, ref);
    });
    operations.register(PEER_UNLINK_OPERATION, 'peer', async ({ peer, body }) => {
      const ref = refOf((body as { citizen?: unknown } | null)?.citizen);
      const citizen = remoteCitizen(peer, ref);
      // The citizen withdrew the link at their hub: from now on this hub sends that origin nothing of theirs.
      await this.hub.enrolment.unlinkAll(citizen.name, citizen.name);
      return this.hub.gate.text({ unlinked: true });
    });
    return operations;
  }

  /**
   * Withdraw the citizen's link to their records at `peer`: the peer forgets it first (so it answers no more
   * reads), then this hub. A peer that cannot be reached keeps the link here, so the citizen can try again.
   */
  async unlink(federation: Federation | undefined, citizen: string, peer: string): Promise<void> {
    const linked = (await this.links(citizen)).some((l) => l.hub === peer);
    if (!linked) {
      throw new HealthmeshError('MYDATA_INVALID_REQUEST', `no record at ${peer} is linked to this account`, {
        path: 'hub',
      });
    }
    if (federation === undefined || !federation.peers.list().some((p) => p.name === peer)) {
      throw new HealthmeshError(
        'MYDATA_PEER_FAILED',
        `${peer} is no longer a peer: its link cannot be withdrawn there`,
        {
          path: 'hub',
        },
      );
    }
    try {
      await federation.client.call(
        peer,
        PEER_UNLINK_OPERATION,
        { citizen: this.ref(citizen) },
        { timeoutMs: federation.timeoutMs },
      );
    } catch (e) {
      if (!(e instanceof PeerCallError)) throw e;
      throw new HealthmeshError('MYDATA_PEER_FAILED', `${peer} could not withdraw the link: ${e.failure.message}`, {
        path: 'hub',
      });
    }
    await this.hub.db.run('DELETE FROM citizen_peer_record WHERE citizen = $1 AND hub = $2', [citizen, peer]);
  }

  /**
   * Link the citizen `principal` to their record at `peer`, with an enrolment code that peer's source issued. A
   * wrong, used or expired code, and a locked account, get the peer's own answer (`MYDATA_CODE_INVALID`,
   * `MYDATA_ENROL_LOCKED`). The caller audits the attempt, whatever its outcome (the route's entry); the peer audits
   * its side.
   */
  async link(federation: Federation | undefined, principal: Principal, peer: string, code: string): Promise<PeerLink> {
    const known = federation?.peers.list().some((p) => p.name === peer) ?? false;
    if (federation === undefined || !known) {
      throw new HealthmeshError('MYDATA_INVALID_REQUEST', `${peer} is not a hub of this federation`, { path: 'hub' });
    }
    let answer: unknown;
    const citizen = this.ref(principal.name);
    const opts = { timeoutMs: federation.timeoutMs };
    try {
      const check = await this.checkPoint(federation, peer, principal.name, citizen, code);
      answer = await federation.client.call(peer, PEER_LINK_OPERATION, { citizen, code, ...check }, opts);
    } catch (e) {
      if (!(e instanceof PeerCallError)) throw e;
      const remote = e.failure.remoteCode;
      if (remote === 'MYDATA_CODE_INVALID' || remote === 'MYDATA_ENROL_LOCKED' || remote === 'MYDATA_LINK_MISMATCH') {
        throw new HealthmeshError(
          remote,
          remote === 'MYDATA_CODE_INVALID'
            ? `this enrolment code is not valid at ${peer}: it may be mistyped, used already or expired`
            : remote === 'MYDATA_LINK_MISMATCH'
              ? `this enrolment code of ${peer} is for someone else: ask its source for a code of your own`
              : `too many wrong enrolment codes at ${peer}: try again later`,
        );
      }
      throw new HealthmeshError('MYDATA_PEER_FAILED', `${peer} could not link the record: ${e.failure.message}`, {
        path: 'hub',
      });
    }
    const source = (answer as { source?: unknown } | null)?.source;
    const checked = (answer as { checked?: unknown } | null)?.checked === 'same' ? 'same' : 'not-possible';
    if (typeof source !== 'string') {
      throw new HealthmeshError('MYDATA_PEER_FAILED', `${peer} answered the link without its source`, { path: 'hub' });
    }
    const now = this.hub.clock.now();
    await this.hub.db.transaction(async (tx) => {
      const already = await tx.all(
        'SELECT 1 AS one FROM citizen_peer_record WHERE citizen = $1 AND hub = $2 AND source = $3',
        [principal.name, peer, source],
      );
      if (already.length === 0) {
        await tx.run('INSERT INTO citizen_peer_record (citizen, hub, source, linked_at) VALUES ($1, $2, $3, $4)', [
          principal.name,
          peer,
          source,
          now,
        ]);
      }
    });
    return { hub: peer, source, linkedAt: now, checked };
  }

  /**
   * The origin's side of the link check: the citizen's tokens here go to the peer blinded, and its point for the
   * code comes back to be multiplied by r_O·k_O. Nothing to send when this hub holds no token for the citizen.
   */
  private async checkPoint(
    federation: Federation,
    peer: string,
    name: string,
    citizen: string,
    code: string,
  ): Promise<{ check: string; point: string } | Record<string, never>> {
    const key = this.hub.linkageKey;
    if (key === undefined) return {};
    const keys = (await this.hub.enrolment.records(name)).map((r) => r.patientKey);
    const tokens = keys.length === 0 ? [] : await personLinkage.tokens(this.hub.db, keys);
    if (tokens.length === 0) return {};
    const blinder = new LinkageBlinder(key);
    const check = randomBytes(16).toString('base64url');
    const answer = (await federation.client.call(
      peer,
      PEER_LINK_CHECK_OPERATION,
      { citizen, code, check, points: blinder.blind(tokens.slice(0, MAX_CITIZEN_POINTS)) },
      { timeoutMs: federation.timeoutMs },
    )) as { point?: unknown } | null;
    // A peer without a linkage key has no point to give: the code links unchecked, and the answer says so.
    if (typeof answer?.point !== 'string') return {};
    return { check, point: blinder.forwardInOrder([answer.point])[0]! };
  }

  /** The peer's first step: keep the origin's points times r_P·k_P, answer the code's patient's point (or a dummy). */
  private async startCheck(peer: string, body: unknown): Promise<string | null> {
    const b = body as { citizen?: unknown; code?: unknown; check?: unknown; points?: unknown } | null;
    const ref = refOf(b?.citizen);
    const code = codeOf(b?.code);
    const first = firstStep(b?.check, b?.points, CHECK_REFUSAL);
    const key = this.hub.linkageKey;
    if (key === undefined) return null;
    const now = this.hub.clock.now().getTime();
    const patient = await this.hub.enrolment.patientOf(code);
    const tokens = patient === undefined ? [] : await personLinkage.tokens(this.hub.db, [patient]);
    const blinder = new LinkageBlinder(key);
    this.checks.start(first.id, now, {
      peer,
      ref,
      code,
      citizen: new Set(blinder.forwardInOrder(first.points)),
      comparable: tokens.length > 0,
    });
    // A dummy looks like a blinded token: whether the code is valid is learnt only by redeeming it.
    return tokens.length > 0 ? blinder.blind([tokens[0]!])[0]! : blinder.dummies(1)[0]!;
  }

  /** The peer's second step: the check a redemption of `code` runs against the point the origin sent back. */
  private finishCheck(peer: string, ref: string, code: string, id: unknown, point: unknown): PersonCheck {
    // One use, by the origin and citizen that started it, for the same code.
    const now = this.hub.clock.now().getTime();
    const x =
      typeof point === 'string'
        ? this.checks.take(id, now, (c) => c.peer === peer && c.ref === ref && c.code === code)
        : undefined;
    if (x === undefined || typeof point !== 'string') {
      throw new HealthmeshError('MYDATA_INVALID_REQUEST', 'no link check of this citizen is open under that id', {
        path: 'check',
      });
    }
    return () => (!x.comparable ? 'not-possible' : x.citizen.has(point) ? 'same' : 'different');
  }

  /** The peers where a citizen linked a record, one row per source linked there, oldest first. */
  async links(citizen: string): Promise<PeerLink[]> {
    const rows = await this.hub.db.all<{ hub: string; source: string; linked_at: Date }>(
      'SELECT hub, source, linked_at FROM citizen_peer_record WHERE citizen = $1 ORDER BY linked_at, hub, source',
      [citizen],
    );
    return rows.map((r) => ({ hub: r.hub, source: r.source, linkedAt: r.linked_at }));
  }

  /**
   * The citizen's records at each peer where they linked one, read now (never kept here): each peer answers with
   * every record of theirs linked to this citizen, or is named with why it could not be read.
   */
  async fetch(federation: Federation | undefined, citizen: string): Promise<PeerPart[]> {
    const hubs = [...new Set((await this.links(citizen)).map((l) => l.hub))];
    if (hubs.length === 0) return [];
    const ref = this.ref(citizen);
    return Promise.all(
      hubs.map(async (hub): Promise<PeerPart> => {
        const url = federation?.peers.list().find((p) => p.name === hub)?.url ?? '';
        if (federation === undefined || url === '') return { hub, url, reached: false, why: 'not a peer any more' };
        try {
          const answer = (await federation.client.call(
            hub,
            PEER_RECORDS_OPERATION,
            { citizen: ref },
            { timeoutMs: federation.timeoutMs },
          )) as { resources?: unknown };
          if (!Array.isArray(answer.resources) || !answer.resources.every(isPeerResource)) {
            return { hub, url, reached: false, why: 'the peer answered no records' };
          }
          return { hub, url, reached: true, resources: answer.resources };
        } catch (e) {
          if (!(e instanceof PeerCallError)) throw e;
          return { hub, url, reached: false, why: e.failure.remoteCode ?? e.failure.kind };
        }
      }),
    );
  }

  /** The citizen's keyed reference, the same at every peer and unreadable to them. */
  private ref(citizen: string): string {
    return createHmac('sha256', this.hub.keys.secret).update(`citizen-ref\u0000${citizen}`).digest('base64url');
  }
}

function codeOf(v: unknown): string {
  if (typeof v !== 'string' || v.length > 40) {
    throw new HealthmeshError('MYDATA_INVALID_REQUEST', 'a link needs an enrolment code', { path: 'code' });
  }
  return v;
}

function refOf(v: unknown): string {
  if (typeof v !== 'string' || !REF.test(v)) {
    throw new HealthmeshError('MYDATA_INVALID_REQUEST', "a citizen's reference is 43 characters of base64url", {
      path: 'citizen',
    });
  }
  return v;
}

/** The principal a peer's citizen stands as here: links and lockout are theirs alone, per origin. */
function remoteCitizen(peer: string, ref: string): Principal {
  return { name: `peer:${peer}/${ref}`, role: 'citizen' };
}

function isPeerResource(v: unknown): v is PeerResource {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return ['type', 'id', 'versionId', 'lastUpdated', 'content'].every((k) => typeof r[k] === 'string');
}
