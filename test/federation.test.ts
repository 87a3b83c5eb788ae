import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/access/index.js';
import type { Federation, RequestClaims } from '../src/federation/index.js';
import {
  bodyHash,
  fanOut,
  OperationRegistry,
  openFederation,
  SIGNATURE_HEADER,
  signRequest,
} from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { streamBody } from './support/stream-body.js';
import { tempHub } from './support/temp-hub.js';

interface RunningHub {
  name: string;
  hub: Hub;
  federation: Federation;
  app: FastifyInstance;
  url: string;
  adminToken: string;
  cleanup: () => Promise<void>;
}

const NAMES = ['gwangju', 'gyeonggi', 'busan'] as const;

/** Released when the suite ends, so the hanging operation does not outlive it. */
let releaseHang: () => void = () => undefined;
const hang = new Promise<void>((resolve) => {
  releaseHang = resolve;
});

async function start(name: string, config: Parameters<typeof tempHub>[1] = {}): Promise<RunningHub> {
  const { hub, adminToken, cleanup } = await tempHub(name, config);
  const operations = new OperationRegistry()
    // The peer's own request body, sent back: nothing of this hub's data.
    .register('test.echo', 'peer', async ({ peer, body }) => hub.gate.reissue({ from: peer, echoed: body }, 'peer'))
    .register('test.hang', 'peer', async () => {
      await hang;
      return hub.gate.text({});
    })
    // A stand-in for a real counting operation: n people, disclosure-controlled, through the release log.
    .register('test.count', 'peer', async ({ peer, body }) => {
      const { terms, n } = body as { terms: string[]; n: number };
      const population = Array.from({ length: n }, (_, i) => `person-${i}`);
      const released = hub.gate.count(n);
      await hub.releases.admit({
        requester: `peer:${peer}`,
        family: 'test.count',
        terms,
        cells: { total: { count: n, released: released.value } },
        population,
      });
      return hub.gate.bundle({ count: released });
    });
  const federation = await openFederation(hub, operations);
  const app = await buildServer(hub, { federation });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { name, hub, federation, app, url, adminToken, cleanup };
}

/** A request signed by hand, so a test can tamper with any part of it. */
async function signedFetch(
  from: { name: string; key: RunningHub['federation']['identity']['privateKey'] },
  to: RunningHub,
  options: { body?: string; sentBody?: string; ts?: number; nonce?: string; operation?: string } = {},
): Promise<{ status: number; code: string | undefined; claims: RequestClaims; send: () => Promise<Response> }> {
  const body = options.body ?? '{"x":1}';
  const path = `/federation/${options.operation ?? 'test.echo'}`;
  const claims: RequestClaims = {
    iss: from.name,
    aud: to.name,
    method: 'POST',
    path,
    bodySha256: bodyHash(body),
    ts: options.ts ?? Date.now(),
    nonce: options.nonce ?? randomBytes(16).toString('base64url'),
  };
  const jws = await signRequest(claims, from.key);
  const send = () =>
    fetch(`${to.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: jws },
      body: options.sentBody ?? body,
    });
  const res = await send();
  const json = (await res.json()) as { issue?: { details: { coding: { code: string }[] } }[] };
  return { status: res.status, code: json.issue?.[0]?.details.coding[0]?.code, claims, send };
}

/** The newest audit entry of a hub: the receiver audits before it answers, so it is there already. */
async function lastAudit(hub: Hub): Promise<AuditRecord> {
  const [entry] = await hub.audit.recent(1);
  return entry!;
}

describe('federation transport between three hubs over real HTTP', () => {
  const hubs = new Map<string, RunningHub>();
  const get = (name: string) => hubs.get(name)!;
  const keyOf = (name: string) => ({ name, key: get(name).federation.identity.privateKey });

  beforeAll(async () => {
    for (const name of NAMES) hubs.set(name, await start(name));
    // Peered both ways, every pair: URLs are known only once each server listens on its port.
    for (const a of hubs.values()) {
      for (const b of hubs.values()) {
        if (a !== b) a.federation.peers.add({ name: b.name, url: b.url, publicKey: b.federation.identity.publicJwk });
      }
    }
  });

  afterAll(async () => {
    releaseHang();
    for (const h of hubs.values()) {
      await h.app.close().catch(() => undefined);
      await h.cleanup();
    }
  });

  it('answers a signed request with a signed result the caller verifies', async () => {
    const gwangju = get('gwangju');
    const out = await fanOut(
      gwangju.federation.client,
      ['gyeonggi', 'busan'],
      'test.echo',
      { q: 42 },
      { timeoutMs: 5000 },
    );
    expect(out.complete).toBe(true);
    expect(out.failed).toEqual([]);
    expect(out.results.map((r) => [r.hub, r.value])).toEqual([
      ['gyeonggi', { from: 'gwangju', echoed: { q: 42 } }],
      ['busan', { from: 'gwangju', echoed: { q: 42 } }],
    ]);
    const entry = await lastAudit(get('busan').hub);
    expect(entry).toMatchObject({ actor: 'peer:gwangju', action: 'federation.test.echo', outcome: 'success' });
  });

  it('refuses a tampered body and audits the refusal', async () => {
    const r = await signedFetch(keyOf('gwangju'), get('gyeonggi'), { body: '{"count":12}', sentBody: '{"count":99}' });
    expect([r.status, r.code]).toEqual([401, 'FEDERATION_BAD_SIGNATURE']);
    expect(await lastAudit(get('gyeonggi').hub)).toMatchObject({
      action: 'federation.refuse',
      outcome: 'denied',
      detail: { code: 'FEDERATION_BAD_SIGNATURE' },
    });
  });

  // A refused header is counted for the hub's log, not audited: anyone can send one, or resend a captured request
  // forever, and each would otherwise grow the audit log (issue 19).
  it('refuses a replayed request, many times over, without growing the audit log', async () => {
    const first = await signedFetch(keyOf('gwangju'), get('busan'));
    expect(first.status).toBe(200);
    const audited = await get('busan').hub.audit.count();
    for (let i = 0; i < 20; i++) {
      const again = await first.send();
      expect(again.status).toBe(401);
      const body = (await again.json()) as { issue: { details: { coding: { code: string }[] } }[] };
      expect(body.issue[0]!.details.coding[0]!.code).toBe('FEDERATION_REPLAY');
    }
    expect(await get('busan').hub.audit.count()).toBe(audited);
  });

  it('refuses a request signed outside the allowed clock skew, either way, without auditing it', async () => {
    const audited = await get('gwangju').hub.audit.count();
    for (const ts of [Date.now() - 61_000, Date.now() + 61_000]) {
      const r = await signedFetch(keyOf('gyeonggi'), get('gwangju'), { ts });
      expect([r.status, r.code]).toEqual([401, 'FEDERATION_STALE_REQUEST']);
    }
    expect(await get('gwangju').hub.audit.count()).toBe(audited);
  });

  it('refuses an unsigned request, an unknown signer and a known name with the wrong key, without auditing them', async () => {
    const audited = await get('gwangju').hub.audit.count();
    const unsigned = await fetch(`${get('gwangju').url}/federation/test.echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(unsigned.status).toBe(401);
    const stranger = { name: 'mallory', key: generateKeyPairSync('ed25519').privateKey };
    const r = await signedFetch(stranger, get('gwangju'));
    expect([r.status, r.code]).toEqual([401, 'FEDERATION_UNKNOWN_SIGNER']);
    const impostor = { name: 'busan', key: stranger.key };
    const r2 = await signedFetch(impostor, get('gwangju'));
    expect([r2.status, r2.code]).toEqual([401, 'FEDERATION_BAD_SIGNATURE']);
    expect(await get('gwangju').hub.audit.count()).toBe(audited);
  });

  it('audits a verified request whose body is not JSON as a failed operation', async () => {
    const r = await signedFetch(keyOf('gwangju'), get('busan'), { body: '{"unclosed":' });
    expect([r.status, r.code]).toEqual([400, 'API_BAD_REQUEST']);
    expect(await lastAudit(get('busan').hub)).toMatchObject({
      actor: 'peer:gwangju',
      action: 'federation.test.echo',
      outcome: 'failure',
      detail: { code: 'API_BAD_REQUEST' },
    });
  });

  it('refuses a request signed for another hub', async () => {
    const r = await signedFetch(keyOf('gwangju'), get('busan'));
    expect(r.status).toBe(200);
    // The same signed request, sent to gyeonggi instead: its audience is busan.
    const res = await fetch(`${get('gyeonggi').url}${r.claims.path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: await signRequest(
          { ...r.claims, nonce: randomBytes(16).toString('base64url') },
          keyOf('gwangju').key,
        ),
      },
      body: '{"x":1}',
    });
    expect(res.status).toBe(401);
  });

  it('keeps user tokens and peer signatures apart', async () => {
    const g = get('gwangju');
    const withToken = await fetch(`${g.url}/federation/test.echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${g.adminToken}` },
      body: '{}',
    });
    expect(withToken.status).toBe(401);
    const refusal = (await withToken.json()) as { issue: { details: { coding: { code: string }[] } }[] };
    expect(refusal.issue[0]!.details.coding[0]!.code).toBe('FEDERATION_MISSING_SIGNATURE');
    const r = await signedFetch(keyOf('busan'), g);
    expect(r.status).toBe(200);
    const fhir = await fetch(`${g.url}/fhir/metadata`, { headers: { [SIGNATURE_HEADER]: 'x.y.z' } });
    expect(fhir.status).toBe(401);
  });

  it('signs its refusals too, and refuses an operation it does not have', async () => {
    const out = await fanOut(get('busan').federation.client, ['gwangju'], 'no.such-operation', {}, { timeoutMs: 5000 });
    expect(out.failed).toEqual([
      expect.objectContaining({ hub: 'gwangju', kind: 'refused', remoteCode: 'FEDERATION_UNKNOWN_OPERATION' }),
    ]);
  });

  it('rejects an answer whose signature does not verify with the key it has for that peer', async () => {
    const busan = get('busan');
    const wrong = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    const real = busan.federation.peers.require('gyeonggi');
    busan.federation.peers.add({ ...real, publicKey: { kty: 'OKP', crv: 'Ed25519', x: String(wrong.x) } });
    try {
      // gyeonggi accepts busan's request (its keys are right) but busan cannot verify the answer.
      const out = await fanOut(busan.federation.client, ['gyeonggi'], 'test.echo', {}, { timeoutMs: 5000 });
      expect(out.failed).toEqual([expect.objectContaining({ hub: 'gyeonggi', kind: 'bad-response' })]);
    } finally {
      busan.federation.peers.add(real);
    }
  });

  it('refuses and audits a count that differs from an earlier release by fewer than the threshold', async () => {
    const client = get('gwangju').federation.client;
    expect(await client.call('gyeonggi', 'test.count', { terms: ['entry:T2D'], n: 503 }, { timeoutMs: 5000 })).toEqual({
      count: 505,
    });
    const out = await fanOut(
      client,
      ['gyeonggi'],
      'test.count',
      { terms: ['entry:T2D', 'age>=40'], n: 500 },
      { timeoutMs: 5000 },
    );
    expect(out.failed).toEqual([
      expect.objectContaining({ hub: 'gyeonggi', kind: 'refused', remoteCode: 'DISCLOSURE_DIFFERENCING' }),
    ]);
    const [operation, release] = await get('gyeonggi').hub.audit.recent(2);
    expect(release).toMatchObject({
      actor: 'peer:gwangju',
      action: 'release',
      outcome: 'denied',
      detail: { relatedTo: 1 },
    });
    expect(String(release!.detail?.reason)).toContain('3 people');
    expect(operation).toMatchObject({
      action: 'federation.test.count',
      outcome: 'denied',
      detail: { code: 'DISCLOSURE_DIFFERENCING' },
    });
  });

  it('refuses an unsigned request before reading its body', async () => {
    const busan = get('busan');
    const total = 96 * 1024 * 1024;
    const before = process.memoryUsage().arrayBuffers;
    const r = await streamBody(`${busan.url}/federation/test.echo`, total);
    expect([r.status, r.code]).toEqual([401, 'FEDERATION_MISSING_SIGNATURE']);
    // The answer came while the client still had most of the body to send (socket buffers hold a few MB), and the
    // server (this process) holds no copy of it.
    expect(r.written).toBeLessThan(total / 2);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(total / 2);
    // A header from no peer is refused as early.
    const forged = await streamBody(`${busan.url}/federation/test.echo`, total, { [SIGNATURE_HEADER]: 'x.y.z' });
    expect([forged.status, forged.code, forged.written < total / 2]).toEqual([401, 'FEDERATION_UNKNOWN_SIGNER', true]);
  });

  it('refuses a signed body over the default federation limit with 413', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(16 * 1024 * 1024) });
    const r = await signedFetch(keyOf('gwangju'), get('gyeonggi'), { body });
    expect([r.status, r.code]).toEqual([413, 'API_BODY_TOO_LARGE']);
    expect(await lastAudit(get('gyeonggi').hub)).toMatchObject({
      actor: 'peer:gwangju',
      action: 'federation.refuse',
      detail: { code: 'API_BODY_TOO_LARGE' },
    });
  });

  it('reads a signed body up to federation.maxBodyBytes and refuses a longer one', async () => {
    const small = await start('jeju', { federation: { clockSkewSeconds: 60, timeoutMs: 10_000, maxBodyBytes: 4096 } });
    try {
      small.federation.peers.add({
        name: 'gwangju',
        url: get('gwangju').url,
        publicKey: get('gwangju').federation.identity.publicJwk,
      });
      const fits = await signedFetch(keyOf('gwangju'), small, { body: JSON.stringify({ pad: 'x'.repeat(4000) }) });
      expect(fits.status).toBe(200);
      const over = await signedFetch(keyOf('gwangju'), small, { body: JSON.stringify({ pad: 'x'.repeat(4100) }) });
      expect([over.status, over.code]).toEqual([413, 'API_BODY_TOO_LARGE']);
    } finally {
      await small.app.close();
      await small.cleanup();
    }
  });

  it('names a hanging hub in a partial result once the timeout passes', async () => {
    const gyeonggi = get('gyeonggi');
    // busan answers test.hang only when the suite ends; gwangju answers test.echo at once.
    const [slow, fast] = await Promise.all([
      fanOut(gyeonggi.federation.client, ['busan'], 'test.hang', {}, { timeoutMs: 300 }),
      fanOut(gyeonggi.federation.client, ['gwangju'], 'test.echo', {}, { timeoutMs: 300 }),
    ]);
    expect(slow.failed).toEqual([expect.objectContaining({ hub: 'busan', kind: 'timeout' })]);
    expect(fast.complete).toBe(true);
  });

  it('gives a partial result naming a hub that was stopped', async () => {
    const busan = get('busan');
    await busan.app.close();
    const t0 = performance.now();
    const out = await fanOut(
      get('gwangju').federation.client,
      ['gyeonggi', 'busan'],
      'test.echo',
      { n: 1 },
      { timeoutMs: 2000 },
    );
    const elapsed = performance.now() - t0;
    expect(out.complete).toBe(false);
    expect(out.results.map((r) => r.hub)).toEqual(['gyeonggi']);
    expect(out.failed).toEqual([expect.objectContaining({ hub: 'busan', kind: 'unreachable' })]);
    const unknown = await fanOut(get('gwangju').federation.client, ['daegu'], 'hub.ping', {}, { timeoutMs: 2000 });
    expect(unknown.failed).toEqual([expect.objectContaining({ hub: 'daegu', kind: 'unknown-peer' })]);
    // The bound the coordinator promises: it never waits past its timeout for a hub.
    expect(elapsed).toBeLessThan(2000);
  });
});
