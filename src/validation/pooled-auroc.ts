/**
 * A hub's side of the pooled AUROC's secure products (docs/validation.md, "The pooled AUROC"). Pairs of one hub's
 * events and another's non-events are counted on a fixed grid of the scores' log-odds: hub A (events) holds e[k],
 * its events in cell k; hub B (non-events) holds c[k] = 2·(its non-events in cells < k) + (its non-events in cell
 * k), so e·c = 2·U_AB, twice A's events ranked above B's non-events with ties halved, whenever no such pair shares a
 * cell with different scores. A third hub H computes e·c by the secure scalar product (secure-product.ts) and
 * releases only U_AB / (A's events · B's non-events) through its gate.
 *
 * Three operations, each on the scores a calibration session keeps (the hub does not score again):
 * - `key`: a fresh X25519 key for this run, signed with the hub's Ed25519 identity (hub, project, run, key).
 * - `share`: checks every other hub's signed key against this hub's peer directory, then for each pair it is in
 *   derives the pair's masks from the X25519 agreement with the other hub (the coordinator relays keys but cannot
 *   forge them, and never learns the seed) and sends its message to the pair's helper, sealed with AES-256-GCM
 *   under the agreement with the helper's key: the coordinator, who may be A or B and know the masks, relays it
 *   unread.
 * - `pair`: the helper opens both messages of a pair and releases the pair's AUROC.
 */
import type { KeyObject } from 'node:crypto';
import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import type { HubServices as Hub } from '../context/index.js';
import { HealthmeshError } from '../core/index.js';
import type { HubIdentity } from '../federation/index.js';
import { loadIdentity, PeerDirectory } from '../federation/index.js';
import type { Released, ReleaseGate } from '../privacy/index.js';
import { releaseCount } from '../privacy/index.js';
import type { CalibrationSessions } from './pooled-calibration.js';
import type { Ring64Vector } from './secure-product.js';
import { firstShare, helperProduct, pairMasks, ringVector, secondShare } from './secure-product.js';

export const VALIDATION_AUROC_KEY_OPERATION = 'validation.auroc-key';
export const VALIDATION_AUROC_SHARE_OPERATION = 'validation.auroc-share';
export const VALIDATION_AUROC_PAIR_OPERATION = 'validation.auroc-pair';

/**
 * The grid: 2^20 cells over log-odds −16 … 16 (cells of 3.1e-5; scores beyond fall in the end cells). A vector is
 * 8 MiB of 64-bit words, 11 MiB in base64, so one message fits a peer's default 16 MiB request limit.
 */
export const AUROC_GRID = { cells: 1 << 20, logitMin: -16, logitMax: 16 } as const;

/** The cell of a log-odds value on `AUROC_GRID`. */
export function aurocCell(l: number): number {
  const { cells, logitMin, logitMax } = AUROC_GRID;
  const k = Math.floor(((l - logitMin) / (logitMax - logitMin)) * cells);
  return Math.min(cells - 1, Math.max(0, Number.isNaN(k) ? 0 : k));
}

/** A hub's run key as it travels: X25519 public key and Ed25519 signature, base64url. */
export interface SignedRunKey {
  hub: string;
  key: string;
  signature: string;
}

/** One ordered pair: `events`' events against `nonEvents`' non-events, computed by `helper`. */
export interface AurocPair {
  events: string;
  nonEvents: string;
  helper: string;
}

/** The signing identity and the peer directory's keys, as the protocol needs them (tests give their own). */
export interface RunSigner {
  name: string;
  sign(data: Buffer): Buffer;
  /** True when `signature` over `data` verifies with `hub`'s identity key in this hub's peer directory. */
  verify(hub: string, data: Buffer, signature: Buffer): boolean;
}

/**
 * A hub's signer: its identity signs its run keys; the peers file, read at each use (peers are added while the hub
 * serves), verifies the others'.
 */
export function hubRunSigner(hub: Pick<Hub, 'config' | 'paths'>): () => RunSigner {
  let identity: HubIdentity | undefined;
  return () => {
    identity ??= loadIdentity(hub.config.name, hub.paths);
    const own = identity;
    const peers = PeerDirectory.open(hub.paths.peers);
    return {
      name: own.name,
      sign: (data) => sign(null, data, own.privateKey),
      verify: (name, data, signature) => {
        const key = peers.publicKey(name);
        return key !== undefined && verify(null, data, key, signature);
      },
    };
  };
}

interface Sealed {
  scalar: bigint;
  count: number;
  vector: Ring64Vector;
}

interface RunState {
  run: string;
  privateKey: KeyObject;
  publicKey: string;
  keys?: Map<string, KeyObject>;
  shared: boolean;
  halves: Map<string, { events?: Sealed; nonEvents?: Sealed }>;
  done: Set<string>;
}

const RUN = /^[0-9a-f]{32}$/;

/** A run's state with a fresh X25519 key and nothing received yet. */
function freshRun(run: string): RunState {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const key = String(publicKey.export({ format: 'jwk' }).x);
  return { run, privateKey, publicKey: key, shared: false, halves: new Map(), done: new Set() };
}
const HUB = /^[a-z0-9][a-z0-9-]{0,62}$/;
const PROTOCOL = 'healthmesh-validation-auroc/1';

function refuse(message: string): HealthmeshError {
  return new HealthmeshError('VALIDATION_ROUND_REFUSED', message);
}

/** The statement a run key's signature covers: whose, for which project and run. */
export function runKeyStatement(hub: string, project: string, run: string, key: string): Buffer {
  return Buffer.from(JSON.stringify([`${PROTOCOL} key`, hub, project, run, key]));
}

export const pairId = (p: AurocPair) => `${p.events}>${p.nonEvents}`;

const x25519 = (key: string) => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: key }, format: 'jwk' });

/** A 32-byte key from the agreement of `mine` and `theirs`, bound to the run and to `info`. */
function agreed(mine: KeyObject, theirs: KeyObject, run: string, info: string): Buffer {
  const secret = diffieHellman({ privateKey: mine, publicKey: theirs });
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from(run, 'hex'), `${PROTOCOL} ${info}`, 32));
}

function seal(key: Buffer, aad: string, m: Sealed): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const head = Buffer.alloc(16);
  head.writeBigUInt64LE(m.scalar, 0);
  head.writeDoubleLE(m.count, 8);
  const body = Buffer.from(m.vector.buffer, m.vector.byteOffset, m.vector.byteLength);
  const ct = Buffer.concat([cipher.update(head), cipher.update(body), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
}

function open(key: Buffer, aad: string, blob: string): Sealed {
  const bytes = Buffer.from(blob, 'base64');
  const expected = 28 + 16 + 8 * AUROC_GRID.cells;
  if (bytes.length !== expected) throw refuse('a sealed share has the wrong length');
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(bytes.subarray(12, 28));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]);
  } catch {
    throw refuse('a sealed share does not open under its sender’s run key');
  }
  const vector = new Uint32Array(plain.buffer.slice(plain.byteOffset + 16, plain.byteOffset + plain.length));
  return { scalar: plain.readBigUInt64LE(0), count: plain.readDoubleLE(8), vector };
}

/** A's vector: its events per cell. */
export function eventCells(logits: Float64Array, y: Uint8Array): Ring64Vector {
  const e = new Float64Array(AUROC_GRID.cells);
  for (let i = 0; i < y.length; i++) if (y[i] === 1) e[aurocCell(logits[i]!)]!++;
  return ringVector(e);
}

/** B's vector: twice its non-events in lower cells plus those in the cell itself. */
export function nonEventCells(logits: Float64Array, y: Uint8Array): Ring64Vector {
  const m = new Float64Array(AUROC_GRID.cells);
  for (let i = 0; i < y.length; i++) if (y[i] === 0) m[aurocCell(logits[i]!)]!++;
  let below = 0;
  for (let k = 0; k < m.length; k++) {
    const here = m[k]!;
    m[k] = 2 * below + here;
    below += here;
  }
  return ringVector(m);
}

function strings(v: unknown, path: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw refuse(`${path} must be an object`);
  return v as Record<string, unknown>;
}

function parsePairs(v: unknown): AurocPair[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > 64) throw refuse('pairs must be a list of 1 to 64 pairs');
  return v.map((p, i) => {
    const o = strings(p, `pairs[${i}]`);
    const [events, nonEvents, helper] = [o.events, o.nonEvents, o.helper];
    if (![events, nonEvents, helper].every((h) => typeof h === 'string' && HUB.test(h))) {
      throw refuse(`pairs[${i}] must name three hubs`);
    }
    if (new Set([events, nonEvents, helper]).size !== 3) {
      throw refuse(`pairs[${i}]: the helper must be a third hub, neither of the pair`);
    }
    return { events, nonEvents, helper } as AurocPair;
  });
}

/**
 * The secure products' peer side, over the scores `sessions` keep. Each session takes part in one run: one key,
 * one share of each pair it is in, each pair it helps opened once; so the released pair figures are fixed by the
 * session's population, which passed the release log when the session was kept.
 */
export class AurocProtocol {
  private readonly runs = new Map<string, RunState>();
  /** Runs this hub helps as their coordinator, holding no scores of its own in them (`helperKey`), by run. */
  private readonly helping = new Map<string, RunState>();

  constructor(
    private readonly sessions: CalibrationSessions,
    private readonly signer: () => RunSigner,
  ) {}

  private state(owner: string, project: string, session: unknown, run: unknown): RunState {
    this.sessions.scores(owner, project, session);
    const s = this.runs.get(session as string);
    if (s === undefined || s.run !== run) throw refuse('this session has no AUROC run under that handle');
    return s;
  }

  /** A fresh X25519 key for `run`, signed with this hub's identity; once per session. */
  key(gate: ReleaseGate, owner: string, project: string, session: unknown, run: unknown): Released<SignedRunKey> {
    this.sessions.scores(owner, project, session);
    if (typeof run !== 'string' || !RUN.test(run)) throw refuse('run must be 32 hexadecimal digits');
    // Runs of sessions that expired or were dropped go with them.
    for (const id of this.runs.keys()) if (!this.sessions.alive(id)) this.runs.delete(id);
    if (this.runs.has(session as string)) throw refuse('this session has already taken part in an AUROC run');
    const state = freshRun(run);
    this.runs.set(session as string, state);
    return gate.text(this.signedKey(project, state));
  }

  /**
   * This hub's run key of `state`, signed with its identity over the hub, project, run and key (returned as a plain
   * record type, which the gate takes).
   */
  private signedKey(project: string, state: RunState): { hub: string; key: string; signature: string } {
    const signer = this.signer();
    const signature = signer.sign(runKeyStatement(signer.name, project, state.run, state.publicKey));
    return { hub: signer.name, key: state.publicKey, signature: signature.toString('base64url') };
  }

  /** The signed keys checked: this hub's own must be the one it made, every other's must verify. */
  private checkKeys(state: RunState, project: string, v: unknown): Map<string, KeyObject> {
    if (!Array.isArray(v) || v.length < 3 || v.length > 32) throw refuse('keys must list every hub of the run');
    const signer = this.signer();
    const keys = new Map<string, KeyObject>();
    v.forEach((k, i) => {
      const o = strings(k, `keys[${i}]`);
      if (typeof o.hub !== 'string' || typeof o.key !== 'string' || typeof o.signature !== 'string') {
        throw refuse(`keys[${i}] must have hub, key and signature`);
      }
      if (!/^[A-Za-z0-9_-]{43}$/.test(o.key)) throw refuse(`keys[${i}].key must be an X25519 key`);
      if (o.hub === signer.name) {
        if (o.key !== state.publicKey) throw refuse(`keys[${i}] is not the key this hub made for the run`);
      } else if (
        !signer.verify(o.hub, runKeyStatement(o.hub, project, state.run, o.key), Buffer.from(o.signature, 'base64url'))
      ) {
        throw refuse(`keys[${i}]: ${o.hub}'s signature over its run key does not verify`);
      }
      keys.set(o.hub, x25519(o.key));
    });
    return keys;
  }

  /**
   * This hub's sealed message of each pair it is in. Refused when this hub's events (as A) or non-events (as B)
   * are under the threshold: the pair's figure would be an aggregate over too few of them.
   */
  share(
    gate: ReleaseGate,
    owner: string,
    project: string,
    session: unknown,
    run: unknown,
    keysInput: unknown,
    pairsInput: unknown,
  ): Released<{ shares: { pair: string; role: 'events' | 'nonEvents'; blob: string }[] }> {
    const state = this.state(owner, project, session, run);
    if (state.shared) throw refuse('this session has already sent its shares for this run');
    const keys = this.checkKeys(state, project, keysInput);
    const pairs = parsePairs(pairsInput);
    const me = this.signer().name;
    for (const p of pairs) {
      for (const h of [p.events, p.nonEvents, p.helper]) if (!keys.has(h)) throw refuse(`no signed key of ${h}`);
    }
    const scores = this.sessions.scores(owner, project, session);
    const t = Math.max(gate.policy.threshold, gate.minContributors);
    const events = scores.events;
    const nonEvents = scores.y.length - events;
    const mine = pairs.filter((p) => p.events === me || p.nonEvents === me);
    if (mine.some((p) => p.events === me) && events < t) {
      throw refuse("this hub's events are too few for its release gate: it sends no share of a pair");
    }
    if (mine.some((p) => p.nonEvents === me) && nonEvents < t) {
      throw refuse("this hub's non-events are too few for its release gate: it sends no share of a pair");
    }
    state.shared = true;
    state.keys = keys;
    const policy = gate.policy;
    let e: Ring64Vector | undefined;
    let c: Ring64Vector | undefined;
    const shares = mine.map((p) => {
      const role = p.events === me ? ('events' as const) : ('nonEvents' as const);
      const other = role === 'events' ? p.nonEvents : p.events;
      const seed = agreed(state.privateKey, keys.get(other)!, state.run, `masks ${project} ${pairId(p)}`);
      const masks = pairMasks(seed, AUROC_GRID.cells);
      let m: { vector: Ring64Vector; scalar: bigint };
      if (role === 'events') {
        e ??= eventCells(scores.logits, scores.y);
        m = firstShare(e, masks);
      } else {
        c ??= nonEventCells(scores.logits, scores.y);
        m = secondShare(c, masks);
      }
      // The count the helper divides by is the one this hub releases anyway (rounded as its policy says).
      const count = releaseCount(role === 'events' ? events : nonEvents, policy) ?? 0;
      const aad = `to-helper ${project} ${pairId(p)} ${role}`;
      const key = agreed(state.privateKey, keys.get(p.helper)!, state.run, aad);
      return { pair: pairId(p), role, blob: seal(key, aad, { ...m, count }) };
    });
    return gate.text({ shares });
  }

  /**
   * As the helper of `pair`: keep one of its two sealed messages; with both, release the pair's AUROC, U_AB over
   * A's events times B's non-events (as each released them), as a metric over at least the threshold of each.
   */
  pair(
    gate: ReleaseGate,
    owner: string,
    project: string,
    session: unknown,
    run: unknown,
    pairInput: unknown,
    role: unknown,
    blob: unknown,
  ): Released<{ pair: string; pending: boolean; auroc: number | null }> {
    return this.openPair(gate, this.state(owner, project, session, run), project, pairInput, role, blob);
  }

  /**
   * A run key for a run that this hub coordinates across two other hubs and helps (docs/validation.md, "The pooled
   * AUROC"): it holds no scores in the run, so no session; the key lives until `endHelping`.
   */
  helperKey(gate: ReleaseGate, project: string, run: string): Released<SignedRunKey> {
    if (!RUN.test(run)) throw refuse('run must be 32 hexadecimal digits');
    if (this.helping.has(run)) throw refuse('this hub already helps that run');
    const state = freshRun(run);
    this.helping.set(run, state);
    return gate.text(this.signedKey(project, state));
  }

  /** As the helper of a run it coordinates: check the run's signed keys (before any pair is opened). */
  helperKeys(project: string, run: string, keys: unknown): void {
    const state = this.helping.get(run);
    if (state === undefined) throw refuse('this hub helps no run under that handle');
    if (state.keys !== undefined) throw refuse('this run’s keys were checked already');
    state.keys = this.checkKeys(state, project, keys);
  }

  /** `pair` for a run this hub coordinates and helps. */
  helperPair(
    gate: ReleaseGate,
    project: string,
    run: string,
    pairInput: unknown,
    role: unknown,
    blob: unknown,
  ): Released<{ pair: string; pending: boolean; auroc: number | null }> {
    const state = this.helping.get(run);
    if (state === undefined) throw refuse('this hub helps no run under that handle');
    return this.openPair(gate, state, project, pairInput, role, blob);
  }

  /** Forget a run this hub helped: its key and any half-received pair. */
  endHelping(run: string): void {
    this.helping.delete(run);
  }

  private openPair(
    gate: ReleaseGate,
    state: RunState,
    project: string,
    pairInput: unknown,
    role: unknown,
    blob: unknown,
  ): Released<{ pair: string; pending: boolean; auroc: number | null }> {
    const [p] = parsePairs([pairInput]);
    const me = this.signer().name;
    if (p!.helper !== me) throw refuse(`this hub is not the helper of ${pairId(p!)}`);
    if (role !== 'events' && role !== 'nonEvents') throw refuse('role must be events or nonEvents');
    if (typeof blob !== 'string') throw refuse('blob must be a sealed share');
    const id = pairId(p!);
    const keys = state.keys;
    if (keys === undefined) throw refuse('this hub has not checked the run keys yet (share comes first)');
    const sender = role === 'events' ? p!.events : p!.nonEvents;
    const senderKey = keys.get(sender);
    if (senderKey === undefined) throw refuse(`no signed key of ${sender}`);
    if (state.done.has(`${id} ${role}`)) throw refuse(`this hub has already taken ${id}'s ${role} share`);
    const aad = `to-helper ${project} ${id} ${role}`;
    const sealed = open(agreed(state.privateKey, senderKey, state.run, aad), aad, blob);
    state.done.add(`${id} ${role}`);
    const halves = state.halves.get(id) ?? {};
    halves[role] = sealed;
    state.halves.set(id, halves);
    if (halves.events === undefined || halves.nonEvents === undefined) {
      return gate.bundle({ pair: id, pending: true, auroc: null });
    }
    state.halves.delete(id);
    const product = helperProduct(halves.events, halves.nonEvents);
    if (product > BigInt(Number.MAX_SAFE_INTEGER)) throw refuse(`${id}'s product is out of range`);
    const twiceU = Number(product);
    const a = halves.events.count;
    const b = halves.nonEvents.count;
    const auroc = a > 0 && b > 0 ? twiceU / (2 * a * b) : null;
    return gate.bundle({ pair: id, pending: false, auroc: gate.metric(auroc, { n: a + b, events: a }) });
  }
}
