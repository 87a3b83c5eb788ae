import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../core/index.js';
import { rocAnalysis } from '../models/index.js';
import { ReleaseGate } from '../privacy/index.js';
import { aurocPairs } from './federated-auroc.js';
import type { RunSigner, SignedRunKey } from './pooled-auroc.js';
import { AUROC_GRID, AurocProtocol, aurocCell, pairId } from './pooled-auroc.js';
import { CalibrationSessions } from './pooled-calibration.js';

const HUBS = ['a', 'b', 'h'] as const;
const PROJECT = 'p-1';
const RUN = '0123456789abcdef0123456789abcdef';
const THRESHOLD = 10;

/** Three hubs, each with its own identity, sessions and gate, knowing each other's public keys. */
function hubs() {
  const ids = new Map(HUBS.map((h) => [h, generateKeyPairSync('ed25519')]));
  const policy = { ...defaultConfig('a').privacy.disclosure, threshold: THRESHOLD, rounding: 1, precision: 15 };
  return new Map(
    HUBS.map((name) => {
      const signer: RunSigner = {
        name,
        sign: (d) => sign(null, d, ids.get(name)!.privateKey),
        verify: (hub, d, s) => {
          const k = ids.get(hub as (typeof HUBS)[number]);
          return k !== undefined && verify(null, d, k.publicKey, s);
        },
      };
      const sessions = new CalibrationSessions(() => 0);
      return [name, { sessions, protocol: new AurocProtocol(sessions, () => signer), gate: new ReleaseGate(policy) }];
    }),
  );
}

/** Deterministic scores: `n` people, events more likely at high risk, a few exact ties. */
function population(n: number, seed: number, eventShare: number) {
  let s = seed;
  const next = () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  };
  const risks = Float64Array.from({ length: n }, () => Math.round(next() * 1e4) / 1e4 || 0.5);
  const y = Uint8Array.from(risks, (r) => (next() < eventShare * (0.5 + r) ? 1 : 0));
  return { risks, y };
}

type Population = ReturnType<typeof population>;

/** Directly: A's events against B's non-events, ties halved. */
function crossAuroc(a: Population, b: Population): number {
  const p: number[] = [];
  const y: number[] = [];
  for (const [d, outcome] of [
    [a, 1],
    [b, 0],
  ] as const) {
    for (let i = 0; i < d.y.length; i++) {
      if (d.y[i] !== outcome) continue;
      p.push(d.risks[i]!);
      y.push(outcome);
    }
  }
  return rocAnalysis(p, y).auroc;
}

describe('the pooled AUROC by secure products', () => {
  it('counts every pair across three hubs as the rows do', () => {
    const net = hubs();
    const data = new Map([
      ['a', population(300, 1, 0.4)],
      ['b', population(260, 2, 0.3)],
      ['h', population(280, 3, 0.35)],
    ]);
    const sessions = new Map<string, string>();
    for (const [name, hub] of net) {
      const d = data.get(name)!;
      sessions.set(name, hub.sessions.keep('coordinator', PROJECT, d.risks, d.y));
    }
    const keys: SignedRunKey[] = HUBS.map(
      (name) => net.get(name)!.protocol.key(net.get(name)!.gate, 'coordinator', PROJECT, sessions.get(name), RUN).value,
    );
    const pairs = aurocPairs(HUBS);
    const sealed = new Map<string, string>();
    for (const name of HUBS) {
      const hub = net.get(name)!;
      const out = hub.protocol.share(hub.gate, 'coordinator', PROJECT, sessions.get(name), RUN, keys, pairs).value;
      for (const s of out.shares) sealed.set(`${s.pair} ${s.role}`, s.blob);
    }
    for (const pair of pairs) {
      const h = net.get(pair.helper as (typeof HUBS)[number])!;
      const ask = (role: 'events' | 'nonEvents') =>
        h.protocol.pair(
          h.gate,
          'coordinator',
          PROJECT,
          sessions.get(pair.helper),
          RUN,
          pair,
          role,
          sealed.get(`${pairId(pair)} ${role}`),
        ).value;
      expect(ask('events')).toEqual({ pair: pairId(pair), pending: true, auroc: null });
      const { auroc } = ask('nonEvents');
      const direct = crossAuroc(data.get(pair.events)!, data.get(pair.nonEvents)!);
      expect(Math.abs(auroc! - direct), pairId(pair)).toBeLessThan(1e-12);
      // A pair is opened once: a second message is refused.
      expect(() => ask('nonEvents')).toThrow(/already/);
    }
  });

  it('lets a coordinator with no rows in the run help both pairs of two hubs, keyed by run alone', () => {
    const net = hubs();
    const data = new Map([
      ['a', population(300, 4, 0.4)],
      ['b', population(260, 5, 0.3)],
    ]);
    const sessions = new Map<string, string>();
    for (const [name, d] of data) sessions.set(name, net.get(name as 'a')!.sessions.keep('h', PROJECT, d.risks, d.y));
    const h = net.get('h')!;
    expect(() =>
      h.protocol.helperPair(h.gate, PROJECT, RUN, { events: 'a', nonEvents: 'b', helper: 'h' }, 'events', 'x'),
    ).toThrow(/helps no run/);
    const keys: SignedRunKey[] = (['a', 'b'] as const).map(
      (name) => net.get(name)!.protocol.key(net.get(name)!.gate, 'h', PROJECT, sessions.get(name), RUN).value,
    );
    keys.push(h.protocol.helperKey(h.gate, PROJECT, RUN).value);
    expect(() => h.protocol.helperKey(h.gate, PROJECT, RUN)).toThrow(/already helps/);
    // A peer's key that does not verify is refused before any pair is opened.
    const forged = keys.map((k) => (k.hub === 'a' ? { ...k, key: keys[1]!.key } : k));
    expect(() => h.protocol.helperKeys(PROJECT, RUN, forged)).toThrow(/does not verify/);
    h.protocol.helperKeys(PROJECT, RUN, keys);
    const pairs = [
      { events: 'a', nonEvents: 'b', helper: 'h' },
      { events: 'b', nonEvents: 'a', helper: 'h' },
    ];
    const sealed = new Map<string, string>();
    for (const name of ['a', 'b'] as const) {
      const hub = net.get(name)!;
      const out = hub.protocol.share(hub.gate, 'h', PROJECT, sessions.get(name), RUN, keys, pairs).value;
      for (const x of out.shares) sealed.set(`${x.pair} ${x.role}`, x.blob);
    }
    for (const pair of pairs) {
      const ask = (role: 'events' | 'nonEvents') =>
        h.protocol.helperPair(h.gate, PROJECT, RUN, pair, role, sealed.get(`${pairId(pair)} ${role}`)).value;
      expect(ask('events').pending).toBe(true);
      const { auroc } = ask('nonEvents');
      const direct = crossAuroc(data.get(pair.events)!, data.get(pair.nonEvents)!);
      expect(Math.abs(auroc! - direct), pairId(pair)).toBeLessThan(1e-12);
    }
    // Once the run ends the coordinator holds nothing of it.
    h.protocol.endHelping(RUN);
    expect(() => h.protocol.helperPair(h.gate, PROJECT, RUN, pairs[0], 'events', 'x')).toThrow(/helps no run/);
  });

  it('sends no share, so no pair figure leaves, when a hub has too few events or non-events', () => {
    const net = hubs();
    const sessions = new Map<string, string>();
    for (const name of HUBS) {
      const d = population(200, HUBS.indexOf(name) + 7, 0.4);
      // Hub a keeps THRESHOLD − 1 events only.
      if (name === 'a') {
        let seen = 0;
        d.y.forEach((v, i) => {
          if (v === 1 && ++seen >= THRESHOLD) d.y[i] = 0;
        });
      }
      sessions.set(name, net.get(name)!.sessions.keep('coordinator', PROJECT, d.risks, d.y));
    }
    const keys = HUBS.map(
      (n) => net.get(n)!.protocol.key(net.get(n)!.gate, 'coordinator', PROJECT, sessions.get(n), RUN).value,
    );
    const pairs = aurocPairs(HUBS);
    const a = net.get('a')!;
    let refusal: unknown;
    try {
      a.protocol.share(a.gate, 'coordinator', PROJECT, sessions.get('a'), RUN, keys, pairs);
    } catch (e) {
      refusal = e;
    }
    expect(refusal).toMatchObject({ code: 'VALIDATION_ROUND_REFUSED' });
    expect((refusal as Error).message).not.toMatch(/\d/);
    // As B only (its non-events are plenty), a's share is sent.
    const asB = pairs.filter((p) => p.events !== 'a');
    const shares = a.protocol.share(a.gate, 'coordinator', PROJECT, sessions.get('a'), RUN, keys, asB).value.shares;
    // The refusal came before the session counted as shared, so its shares as B still go.
    expect(shares.map((s) => s.role)).toEqual(['nonEvents', 'nonEvents']);
  });

  it('refuses another asker, a forged key and a repeated share', () => {
    const net = hubs();
    const sessions = new Map<string, string>();
    for (const name of HUBS) {
      const d = population(200, HUBS.indexOf(name) + 11, 0.4);
      sessions.set(name, net.get(name)!.sessions.keep('coordinator', PROJECT, d.risks, d.y));
    }
    const a = net.get('a')!;
    expect(() => a.protocol.key(a.gate, 'someone-else', PROJECT, sessions.get('a'), RUN)).toThrow(
      /no scored population/,
    );
    expect(() => a.protocol.key(a.gate, 'coordinator', 'p-2', sessions.get('a'), RUN)).toThrow(/no scored population/);
    const keys = HUBS.map(
      (n) => net.get(n)!.protocol.key(net.get(n)!.gate, 'coordinator', PROJECT, sessions.get(n), RUN).value,
    );
    expect(() => a.protocol.key(a.gate, 'coordinator', PROJECT, sessions.get('a'), RUN)).toThrow(/already/);
    // The coordinator swaps in a key of its own for b: its signature does not verify, a sends nothing.
    const forged = keys.map((k) => (k.hub === 'b' ? { ...k, key: keys[2]!.key } : k));
    expect(() =>
      a.protocol.share(a.gate, 'coordinator', PROJECT, sessions.get('a'), RUN, forged, aurocPairs(HUBS)),
    ).toThrow(/signature/);
    a.protocol.share(a.gate, 'coordinator', PROJECT, sessions.get('a'), RUN, keys, aurocPairs(HUBS));
    expect(() =>
      a.protocol.share(a.gate, 'coordinator', PROJECT, sessions.get('a'), RUN, keys, aurocPairs(HUBS)),
    ).toThrow(/already/);
  });

  it('puts scores in cells of the grid in order, the tails in the end cells', () => {
    expect(aurocCell(-100)).toBe(0);
    expect(aurocCell(100)).toBe(AUROC_GRID.cells - 1);
    expect(aurocCell(0)).toBe(AUROC_GRID.cells / 2);
    expect(aurocCell(0.001)).toBeGreaterThan(aurocCell(0.0009));
  });
});
