import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, seededRandom, silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { cliProcess, freePort, serveProcess } from './support/serve-process.js';

/**
 * Processes killed (SIGKILL) at seeded random points (issue 19): `healthmesh ingest` between a batch's store write
 * and its commit or just after the commit, `healthmesh serve` in the middle of a `POST /fhir` batch and in the
 * middle of an export (`HEALTHMESH_FAULT_POINT`, src/core/fault-point.ts). After each kill the reopened hub holds
 * whole batches only, each in an audited commit, and its audit chain verifies; reruns complete, the final store
 * equals a clean run's, and the killed export's files are swept. Replay a failure with the printed `FAULT_SEED=`.
 */
const SEED = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const rng = seededRandom(SEED);
const pick = (n: number) => 1 + Math.floor(rng.next() * n); // 1..n

const BATCH = 100;
const PATIENTS = 100;
const OBSERVATIONS = 400;
const BATCHES_AT_LEAST = Math.ceil((PATIENTS + OBSERVATIONS) / (2 * BATCH));
const POSTED = 40;
const SOURCE = 'fault-feed';
const LIFETIME_SECONDS = 1;

// One CLI kill by default (each `healthmesh` process takes ~5 s to start); FAULT_INGEST_KILLS=4 chains more, each
// rerun killed again, for at most 6 points a run. A batch is 100 records, or 200 when records arrived while the one
// before committed, so every run has at least BATCHES_AT_LEAST batches and reaches the point.
const INGEST_KILLS = Math.min(4, Math.max(1, Number(process.env.FAULT_INGEST_KILLS ?? 1)));
const ingestKills = Array.from({ length: INGEST_KILLS }, () => ({
  point: rng.next() < 0.5 ? 'ingest.before-commit' : 'ingest.after-commit',
  at: pick(BATCHES_AT_LEAST),
}));
const postKill = rng.next() < 0.5 ? 'ingest.before-commit' : 'ingest.after-commit';
const exportKill = pick(PATIENTS + OBSERVATIONS);
console.log(
  `FAULT_SEED=${SEED}: ingest ${ingestKills.map((k) => `${k.point}:${k.at}`).join(', ')}; POST /fhir ${postKill}:1; export.write:${exportKill}`,
);

const records = (): string => {
  const lines: string[] = [];
  for (let i = 0; i < PATIENTS; i++)
    lines.push(JSON.stringify({ resourceType: 'Patient', id: `p${i}`, gender: i % 2 ? 'male' : 'female' }));
  for (let i = 0; i < OBSERVATIONS; i++)
    lines.push(
      JSON.stringify({
        resourceType: 'Observation',
        id: `o${i}`,
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8302-2' }] },
        subject: { reference: `Patient/p${i % PATIENTS}` },
        effectiveDateTime: '2020-01-01',
        valueQuantity: { value: 150 + (i % 40), unit: 'cm' },
      }),
    );
  return `${lines.join('\n')}\n`;
};

const bundle = {
  resourceType: 'Bundle',
  type: 'batch',
  entry: Array.from({ length: POSTED }, (_, i) => ({
    resource: { resourceType: 'Patient', id: `api${i}`, gender: 'other' },
    request: { method: 'PUT', url: `Patient/api${i}` },
  })),
};

type Version = { type: string; id: string; version: number; hash: string };
const versions = (hub: Hub) =>
  hub.db.all<Version>('SELECT type, id, version, hash FROM resource_version ORDER BY type, id, version');

/** What must hold after any kill: whole batches, each version in an audited commit, the chain intact. */
async function checkConsistent(hub: Hub, batchesOf = 1): Promise<number> {
  const stored = await versions(hub);
  expect(stored.length % batchesOf).toBe(0);
  const [heads] = await hub.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM resource_head');
  const [index] = await hub.db.all<{ n: number }>("SELECT COUNT(*) AS n FROM search_token WHERE type = 'Observation'");
  expect(heads?.n).toBe(stored.length);
  expect(index?.n).toBe(stored.filter((v) => v.type === 'Observation').length);
  const commits = await hub.db.all<{ detail: string }>("SELECT detail FROM audit_log WHERE action = 'ingest.commit'");
  const audited = commits.reduce((n, c) => {
    const d = JSON.parse(c.detail) as { created?: number; updated?: number };
    return n + (d.created ?? 0) + (d.updated ?? 0);
  }, 0);
  expect(audited).toBe(stored.length);
  expect(await hub.audit.verify()).toMatchObject({ ok: true });
  return stored.length;
}

describe(`processes killed at seeded points (FAULT_SEED=${SEED})`, () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-faults-'));
  const dir = join(root, 'hub');
  const cleanDir = join(root, 'clean');
  const file = join(root, 'records.ndjson');
  let adminToken = '';
  let clean: Version[] = [];
  const auth = () => ({ authorization: `Bearer ${adminToken}` });

  beforeAll(async () => {
    writeFileSync(file, records());
    ({ adminToken } = await initHub(dir, {
      name: 'faults',
      config: {
        ingest: { ...defaultConfig('x').ingest, batchSize: BATCH },
        server: { ...defaultConfig('x').server, exportLifetimeSeconds: LIFETIME_SECONDS },
        // A checkpoint every few entries, so the kills land between signed checkpoints and `verify` checks them.
        audit: { checkpointEvery: 4 },
      },
      logger: silentLogger(),
    }));
    // The same hub (secrets, so ids) before any data: the clean run's store is what the killed runs must end at.
    cpSync(dir, cleanDir, { recursive: true });
    const hub = await openHub(cleanDir, { logger: silentLogger() });
    try {
      await hub.ingest.ingestPaths([file], {
        source: SOURCE,
        actor: 'test',
        rejectsPath: join(hub.paths.rejectsDir, 'clean.ndjson'),
        batchSize: BATCH,
      });
      const app = await buildServer(hub);
      expect((await postBundle(app)).statusCode).toBe(200);
      await app.close();
      clean = await versions(hub);
    } finally {
      await hub.close();
    }
    expect(clean).toHaveLength(PATIENTS + OBSERVATIONS + POSTED);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const postBundle = (app: FastifyInstance) =>
    app.inject({
      method: 'POST',
      url: `/fhir?source=${SOURCE}`,
      headers: { ...auth(), 'content-type': 'application/fhir+json' },
      payload: JSON.stringify(bundle),
    });

  it('an ingest killed mid-commit or after a commit keeps whole audited batches; a rerun completes it', async () => {
    let stored = 0;
    for (const kill of ingestKills) {
      const run = await cliProcess(['ingest', '--dir', dir, '--source', SOURCE, file], {
        env: { HEALTHMESH_FAULT_POINT: `${kill.point}:${kill.at}` },
      });
      expect(run.signal, run.err).toBe('SIGKILL');
      const hub = await openHub(dir, { logger: silentLogger() });
      try {
        const before = stored;
        stored = await checkConsistent(hub, BATCH);
        // Batches `1..at` were stored when killed after the commit of batch `at` (a rerun commits its unchanged
        // records again, so earlier runs' batches count); killed before it, batch `at` is not stored by this run.
        expect(stored).toBeGreaterThanOrEqual(before);
        if (kill.point === 'ingest.after-commit') expect(stored).toBeGreaterThanOrEqual(kill.at * BATCH);
        else expect(stored).toBeLessThanOrEqual(Math.max(before, (kill.at - 1) * 2 * BATCH));
      } finally {
        await hub.close();
      }
    }
    const expected = stored;
    const hub = await openHub(dir, { logger: silentLogger() });
    try {
      const rerun = await hub.ingest.ingestPaths([file], {
        source: SOURCE,
        actor: 'test',
        rejectsPath: join(hub.paths.rejectsDir, 'rerun.ndjson'),
        batchSize: BATCH,
      });
      expect(rerun.totals).toMatchObject({ created: PATIENTS + OBSERVATIONS - expected, unchanged: expected });
      expect(await checkConsistent(hub)).toBe(PATIENTS + OBSERVATIONS);
    } finally {
      await hub.close();
    }
  }, 180_000);

  it('a server killed in a POST /fhir batch stores all of it or none; killed mid-export, its files are swept and a new export completes', async () => {
    const port = await freePort();
    const posting = await serveProcess(dir, port, { HEALTHMESH_FAULT_POINT: `${postKill}:1` });
    const exited = new Promise((r) => posting.child.once('exit', r));
    const answer = await fetch(`http://127.0.0.1:${port}/fhir?source=${SOURCE}`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/fhir+json' },
      body: JSON.stringify(bundle),
    }).catch((e: unknown) => e);
    expect(answer).toBeInstanceOf(Error); // the connection died with the server: no answer at all
    await exited;
    let hub = await openHub(dir, { logger: silentLogger() });
    try {
      const all = PATIENTS + OBSERVATIONS;
      expect(await checkConsistent(hub)).toBe(postKill === 'ingest.before-commit' ? all : all + POSTED);
    } finally {
      await hub.close();
    }

    const exporting = await serveProcess(dir, port, { HEALTHMESH_FAULT_POINT: `export.write:${exportKill}` });
    const died = new Promise((r) => exporting.child.once('exit', r));
    const kick = await fetch(`http://127.0.0.1:${port}/fhir/$export?_type=Patient,Observation`, {
      headers: { ...auth(), prefer: 'respond-async' },
    });
    expect(kick.status).toBe(202);
    await died;
    const exportsDir = join(dir, 'exports');
    const left = readdirSync(exportsDir);
    expect(left).toHaveLength(1); // the killed job's folder, with what it had written
    const written = readdirSync(join(exportsDir, left[0]!)).reduce(
      (n, f) =>
        n +
        readFileSync(join(exportsDir, left[0]!, f), 'utf8')
          .split('\n')
          .filter(Boolean).length,
      0,
    );
    expect(written).toBeLessThanOrEqual(exportKill);

    // Rerun both on the restarted hub, once the killed job's folder has outlived the export lifetime.
    await new Promise((r) => setTimeout(r, LIFETIME_SECONDS * 1000 + 100));
    hub = await openHub(dir, { logger: silentLogger() });
    const app = await buildServer(hub);
    try {
      expect(existsSync(join(exportsDir, left[0]!))).toBe(false);
      expect((await postBundle(app)).statusCode).toBe(200);
      expect(await versions(hub)).toEqual(clean);
      await checkConsistent(hub);

      const res = await app.inject({
        method: 'GET',
        url: '/fhir/$export?_type=Patient,Observation',
        headers: { ...auth(), prefer: 'respond-async' },
      });
      expect(res.statusCode).toBe(202);
      const status = new URL(String(res.headers['content-location'])).pathname;
      let poll = await app.inject({ method: 'GET', url: status, headers: auth() });
      for (let i = 0; poll.statusCode === 202 && i < 500; i++) {
        await new Promise((r) => setTimeout(r, 20));
        poll = await app.inject({ method: 'GET', url: status, headers: auth() });
      }
      expect(poll.statusCode).toBe(200);
      const manifest = poll.json() as { output: { type: string; count: number }[]; extension: { leftOut: number } };
      const counts = Object.fromEntries(manifest.output.map((o) => [o.type, o.count]));
      expect(manifest.extension.leftOut).toBe(0); // no Consent in these records
      expect(counts).toEqual({ Patient: PATIENTS + POSTED, Observation: OBSERVATIONS });
    } finally {
      await app.close();
      await hub.close();
    }
  }, 240_000);
});
