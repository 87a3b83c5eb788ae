import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/core/index.js';
import { fanOut, openFederation } from '../src/federation/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import {
  issueLinkageKey,
  LinkageBlinder,
  LinkageTokeniser,
  PopulationSketch,
  releaseTable,
} from '../src/privacy/index.js';
import { buildServer } from '../src/server/index.js';

// No floors for these in issue 4/7: the figures size the costs (docs/linkage.md, docs/federation.md).
const PEOPLE = Number(process.env.BENCH_FEDERATION_PEOPLE ?? 100_000);
const REQUESTS = Number(process.env.BENCH_FEDERATION_REQUESTS ?? 500);

function timed<T>(fn: () => T): { value: T; seconds: number } {
  const started = performance.now();
  const value = fn();
  return { value, seconds: (performance.now() - started) / 1000 };
}

function line(what: string, value: number, unit: string, ratio: number, reference: string): void {
  console.log(
    `federation ${what}: ${value.toFixed(value < 10 ? 2 : 0)} ${unit} (${ratio.toFixed(1)}x vs ${reference})`,
  );
}

function rrn(i: number): string {
  return `${String(500101 + (i % 9000)).padStart(6, '0')}-${String(1000000 + i).slice(-7)}`;
}

async function signedRoundTrips(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'hm-bench-fed-'));
  try {
    const open = async (name: string) => {
      await initHub(join(root, name), { name, logger: silentLogger() });
      const hub = await openHub(join(root, name), { logger: silentLogger() });
      const federation = await openFederation(hub);
      const app = await buildServer(hub, { federation });
      return { hub, federation, app, url: await app.listen({ port: 0, host: '127.0.0.1' }) };
    };
    const a = await open('gwangju');
    const b = await open('busan');
    a.federation.peers.add({ name: 'busan', url: b.url, publicKey: b.federation.identity.publicJwk });
    b.federation.peers.add({ name: 'gwangju', url: a.url, publicKey: a.federation.identity.publicJwk });
    // Reference: an unsigned request to the same server (a 404 route: routing and reply only, no store).
    const t0 = performance.now();
    for (let i = 0; i < REQUESTS; i++) await (await fetch(`${b.url}/nowhere`)).text();
    const plain = (performance.now() - t0) / REQUESTS;
    const t1 = performance.now();
    for (let i = 0; i < REQUESTS; i++) {
      const out = await fanOut(a.federation.client, ['busan'], 'hub.ping', {}, { timeoutMs: 5000 });
      if (!out.complete) throw new Error(`ping failed: ${JSON.stringify(out.failed)}`);
    }
    const signed = (performance.now() - t1) / REQUESTS;
    line(
      'signed request round trip',
      signed,
      'ms',
      signed / plain,
      `the time of an unsigned request to the same hub, ${plain.toFixed(2)} ms`,
    );
    for (const h of [a, b]) {
      await h.app.close();
      await h.hub.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export async function runFederationBench(): Promise<boolean> {
  const key = issueLinkageKey(randomBytes(32), 'gwangju', new Date());
  const tokeniser = new LinkageTokeniser(key);
  const ids = Array.from({ length: PEOPLE }, (_, i) => rrn(i));
  const hmac = timed(() => {
    for (const id of ids) createHmac('sha256', key.pointKey).update(id).digest();
  });
  const tokens = timed(() => ids.map((id) => tokeniser.token(id)));
  line(
    'linkage tokens at ingest',
    PEOPLE / tokens.seconds,
    'people/s',
    tokens.seconds / hmac.seconds,
    'the time of HMAC-SHA256 of the same identifiers',
  );

  const blinder = new LinkageBlinder(key);
  const start = timed(() => blinder.start(tokens.value, 10));
  const forward = timed(() => blinder.forward(start.value.points));
  line(
    'ring start (own set)',
    PEOPLE / start.seconds,
    'points/s',
    start.seconds / tokens.seconds,
    'the time of deriving the tokens',
  );
  line(
    'ring forward (one hub)',
    PEOPLE / forward.seconds,
    'points/s',
    forward.seconds / start.seconds,
    'the time of the start step',
  );

  const keys = ids.map((id) => createHash('sha256').update(id).digest('hex'));
  const digest = timed(() => {
    for (const k of keys) createHash('sha256').update(k).digest();
  });
  const sketch = timed(() => PopulationSketch.of(keys, PopulationSketch.cellsFor(10)));
  line(
    'population sketch build',
    PEOPLE / sketch.seconds,
    'people/s',
    sketch.seconds / digest.seconds,
    'the time of SHA-256 of the same keys',
  );

  const cells = Array.from({ length: 100 }, (_, r) =>
    Array.from({ length: 20 }, (_, c) => ((r * 31 + c * 17) % 97) + (c === 3 ? 0 : 5)),
  );
  const table = timed(() =>
    releaseTable({ rows: cells.map((_, r) => `r${r}`), columns: cells[0]!.map((_, c) => `c${c}`), cells }),
  );
  const sum = timed(() => cells.flat().reduce((a, b) => a + b, 0));
  line(
    'complementary suppression 100x20',
    table.seconds * 1000,
    'ms',
    table.seconds / Math.max(sum.seconds, 1e-6),
    `the time of summing the table (${table.value.suppressed.primary} primary, ${table.value.suppressed.secondary} secondary)`,
  );

  await signedRoundTrips();
  return true;
}
