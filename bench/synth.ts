import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Floors from issue 2/7: memory under 1 GB whatever the size; 50k resources/s on one core (~0.3 of stringify). */
const MEMORY_CEILING_MB = 1024;
const FLOOR_RESOURCES_PER_SECOND = 50_000;
const FLOOR_RATIO = 0.3;
const PEOPLE = Number(process.env.BENCH_SYNTH_PEOPLE ?? 100_000);
/** How much of the output the reference re-serialises. */
const REFERENCE_BYTES = 150e6;

interface ChildResult {
  seconds: number;
  resources: number;
  bytes: number;
  maxRssMb: number;
}

function generateInChild(out: string, people: number): ChildResult {
  const child = fileURLToPath(new URL('./synth-child.ts', import.meta.url));
  const text = execFileSync(process.execPath, ['--import', 'tsx', child, out, String(people)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(text.trim().split('\n').pop() as string) as ChildResult;
}

/**
 * The reference: plain JSON.stringify of the same resources (read back from the output, a proportional slice
 * of every file up to REFERENCE_BYTES), timed alone. The generator must build the objects too, so it cannot
 * beat this; the ratio says how much its own work costs on top.
 */
function stringifyRate(out: string, totalBytes: number): number {
  const share = Math.min(1, REFERENCE_BYTES / totalBytes);
  const objects: unknown[] = [];
  for (const f of readdirSync(out).filter((n) => n.endsWith('.ndjson'))) {
    // The head of each file, whole lines only (the largest files exceed V8's string limit).
    const path = join(out, f);
    const size = statSync(path).size;
    const buf = Buffer.alloc(Math.ceil(size * share));
    const fd = openSync(path, 'r');
    readSync(fd, buf, 0, buf.length, 0);
    closeSync(fd);
    const lines = buf.toString('utf8').split('\n');
    if (buf.length < size) lines.pop();
    for (const line of lines) if (line) objects.push(JSON.parse(line));
  }
  // The best of several rounds: a round that shares the cores with other work must not flatter the ratio.
  // UTF-8 bytes, as the generator counts them, measured once outside the timed loop.
  let bytes = 0;
  for (const o of objects) bytes += Buffer.byteLength(JSON.stringify(o)) + 1;
  let best = 0;
  let sink = 0;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    for (const o of objects) sink += JSON.stringify(o).length;
    best = Math.max(best, bytes / 1e6 / ((performance.now() - t0) / 1000));
  }
  if (sink === 0) throw new Error('nothing stringified');
  return best;
}

export async function runSynthBench(): Promise<boolean> {
  const work = mkdtempSync(join(tmpdir(), 'hm-bench-synth-'));
  try {
    const small = generateInChild(join(work, 'small'), Math.max(1, Math.round(PEOPLE / 10)));
    rmSync(join(work, 'small'), { recursive: true, force: true });
    const out = join(work, 'large');
    const big = generateInChild(out, PEOPLE);
    const mb = big.bytes / 1e6;
    const rate = mb / big.seconds;
    const reference = stringifyRate(out, big.bytes);
    const ratio = rate / reference;
    const perSecond = big.resources / big.seconds;
    console.log(
      `synth people: ${PEOPLE} residents of gyeonggi, 10 years: ${(PEOPLE / big.seconds).toFixed(0)} people/s`,
    );
    console.log(
      `synth resources: ${big.resources} in ${big.seconds.toFixed(1)} s: ${perSecond.toFixed(0)} resources/s (floor ${FLOOR_RESOURCES_PER_SECOND})`,
    );
    console.log(
      `synth throughput: ${rate.toFixed(1)} MB/s (${ratio.toFixed(2)}x vs JSON.stringify of the same resources ${reference.toFixed(1)} MB/s; floor ${FLOOR_RATIO}x)`,
    );
    console.log(
      `synth memory: peak RSS ${big.maxRssMb.toFixed(0)} MB for ${PEOPLE} people (${(big.maxRssMb / small.maxRssMb).toFixed(2)}x vs ${small.maxRssMb.toFixed(0)} MB for ${Math.round(PEOPLE / 10)}; ceiling ${MEMORY_CEILING_MB} MB)`,
    );
    const ok =
      big.maxRssMb < MEMORY_CEILING_MB &&
      small.maxRssMb < MEMORY_CEILING_MB &&
      perSecond >= FLOOR_RESOURCES_PER_SECOND &&
      ratio >= FLOOR_RATIO;
    if (!ok) console.log('synth: FLOOR MISSED');
    return ok;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
