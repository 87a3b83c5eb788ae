import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { silentLogger } from '../src/core/index.js';
import { initHub, openHub } from '../src/hub/index.js';

const FLOOR_RATIO = 0.3;
const TARGET_BYTES = Number(process.env.BENCH_INGEST_MB ?? 200) * 1e6;
const SYNTHEA = fileURLToPath(new URL('../../shared/data/synthea-fhir-r4/bundles-gz/', import.meta.url));

type Json = Record<string, unknown>;

/** NDJSON of at least TARGET_BYTES: the Synthea entries repeated with fresh ids and relative references. */
async function buildInput(file: string): Promise<{ bytes: number; lines: number }> {
  const entries: { type: string; resource: Json }[] = [];
  const typeOf = new Map<string, string>();
  for (const name of readdirSync(SYNTHEA).sort()) {
    const bundle = JSON.parse(gunzipSync(readFileSync(join(SYNTHEA, name))).toString('utf8')) as {
      entry: { fullUrl: string; resource: Json }[];
    };
    for (const e of bundle.entry) {
      typeOf.set(e.fullUrl, String(e.resource.resourceType));
      entries.push({ type: String(e.resource.resourceType), resource: e.resource });
    }
  }
  const templates = entries.map((e) =>
    JSON.stringify(e.resource).replace(
      /"reference":"urn:uuid:([0-9a-f-]+)"/g,
      (_m, uuid: string) => `"reference":"${typeOf.get(`urn:uuid:${uuid}`)}/${uuid}-COPY"`,
    ),
  );
  const out = createWriteStream(file);
  let bytes = 0;
  let lines = 0;
  for (let copy = 0; bytes < TARGET_BYTES; copy++) {
    for (let i = 0; i < templates.length; i++) {
      const resource = entries[i]!.resource;
      const line = `${templates[i]!.replace(`"id":"${String(resource.id)}"`, `"id":"${String(resource.id)}-${copy}"`).replaceAll('-COPY"', `-${copy}"`)}\n`;
      bytes += Buffer.byteLength(line);
      lines++;
      if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
  }
  await new Promise<void>((r) => out.end(() => r()));
  return { bytes, lines };
}

/** The reference: read the same file line by line and JSON.parse each line, nothing else. */
async function parseOnly(file: string): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line) n += (JSON.parse(line) as Json).resourceType ? 1 : 0;
  }
  if (n === 0) throw new Error('nothing parsed');
  return (performance.now() - t0) / 1000;
}

export async function runIngestBench(): Promise<boolean> {
  if (!existsSync(SYNTHEA)) {
    console.log(`ingest: skipped, ${SYNTHEA} is absent`);
    return process.env.CI !== 'true';
  }
  const work = mkdtempSync(join(tmpdir(), 'hm-bench-ingest-'));
  try {
    const file = join(work, 'synthea-repeated.ndjson');
    const { bytes, lines } = await buildInput(file);
    const mb = bytes / 1e6;
    const parseSeconds = await parseOnly(file);
    const hubDir = join(work, 'hub');
    mkdirSync(hubDir);
    await initHub(hubDir, { name: 'bench', logger: silentLogger() });
    const hub = await openHub(hubDir, { logger: silentLogger() });
    const t0 = performance.now();
    const summary = await hub.ingest.ingestPaths([file], {
      source: 'bench',
      actor: 'bench',
      rejectsPath: join(work, 'rejects.ndjson'),
    });
    await hub.close(); // timed too: the final checkpoint is part of the work
    const ingestSeconds = (performance.now() - t0) / 1000;
    const storeMb = statSync(hub.paths.store).size / 1e6;
    const ingestRate = mb / ingestSeconds;
    const parseRate = mb / parseSeconds;
    const ratio = ingestRate / parseRate;
    console.log(
      `ingest input: ${mb.toFixed(0)} MB, ${lines} resources (${summary.totals.created} stored, ${summary.totals.unchanged} unchanged, ${summary.totals.rejected} rejected)`,
    );
    console.log(
      `ingest throughput: ${ingestRate.toFixed(1)} MB/s (${ratio.toFixed(2)}x vs JSON.parse of the same lines ${parseRate.toFixed(1)} MB/s; floor ${FLOOR_RATIO}x)`,
    );
    console.log(
      `ingest resources: ${(lines / ingestSeconds).toFixed(0)} resources/s; store file ${storeMb.toFixed(0)} MB`,
    );
    const ok = ratio >= FLOOR_RATIO && summary.totals.rejected === 0;
    if (!ok)
      console.log(
        `ingest: FLOOR MISSED (ratio ${ratio.toFixed(2)} < ${FLOOR_RATIO} or rejects ${summary.totals.rejected})`,
      );
    return ok;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
