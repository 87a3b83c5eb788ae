import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hub } from '../../src/hub/index.js';
import type { TrainingResult } from '../../src/models/index.js';
import { parseTrainingSpec, rocAnalysis, trainFromSpec } from '../../src/models/index.js';
import { generateRegion } from '../../src/synth/index.js';
import { ingestOptions, tempHub } from './temp-hub.js';

const SOURCE = 'synth-busan';

/** One disease's comparison on the held-out people the truth file also covers. */
export interface TruthComparison {
  disease: string;
  heldOut: number;
  events: number;
  modelAuroc: number;
  modelCi: [number, number];
  truthAuroc: number;
  truthCi: [number, number];
  ratio: number;
  trainSeconds: number;
}

/** Busan residents generated, ingested into a temporary hub, with the generator's truth folder. */
export async function syntheticHub(
  people: number,
  seed: string,
): Promise<{
  hub: Hub;
  dir: string;
  input: string;
  seconds: { generate: number; ingest: number };
  cleanup: () => Promise<void>;
}> {
  const input = mkdtempSync(join(tmpdir(), 'hm-models-synth-'));
  let t = performance.now();
  generateRegion({ region: 'busan', people, seed, out: input });
  const generate = (performance.now() - t) / 1000;
  t = performance.now();
  const env = await tempHub('busan');
  const files = readdirSync(input)
    .filter((f) => f.endsWith('.ndjson'))
    .map((f) => join(input, f));
  await env.hub.ingest.ingestPaths(files, ingestOptions(env.hub, { source: SOURCE }));
  const ingest = (performance.now() - t) / 1000;
  return {
    hub: env.hub,
    dir: env.dir,
    input,
    seconds: { generate, ingest },
    cleanup: async () => {
      await env.cleanup();
      rmSync(input, { recursive: true, force: true });
    },
  };
}

/** The generator's true 5-year risk per patient key of this hub (truth/risk.ndjson, one disease). */
export function trueRisks(hub: Hub, input: string, disease: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of readFileSync(join(input, 'truth', 'risk.ndjson'), 'utf8').split('\n')) {
    if (line === '') continue;
    const r = JSON.parse(line) as { patient: string; disease: string; risk: number; indexDate: string };
    if (r.disease !== disease) continue;
    out.set(hub.pseudonymiser.resourceId(SOURCE, 'Patient', r.patient), r.risk);
  }
  return out;
}

/**
 * Train the fixture spec `test/fixtures/models/<specName>.json` on the hub and compare its held-out AUROC with the
 * truth's AUROC on the same held-out people (those the truth file covers: residents free of the disease on the
 * index date). The model sees only the hub's data through the spec; the truth file is read only here, to score.
 */
export async function compareWithTruth(
  hub: Hub,
  input: string,
  specName: string,
  disease: string,
): Promise<{ comparison: TruthComparison; training: TrainingResult }> {
  const spec = parseTrainingSpec(
    JSON.parse(readFileSync(new URL(`../fixtures/models/${specName}.json`, import.meta.url), 'utf8')) as unknown,
  );
  const t = performance.now();
  const training = await trainFromSpec(hub, spec, 'test');
  const trainSeconds = (performance.now() - t) / 1000;
  const truth = trueRisks(hub, input, disease);
  const p: number[] = [];
  const q: number[] = [];
  const y: number[] = [];
  const outcome = training.rows.matrix.outcome!;
  training.split.test.forEach((row, k) => {
    const risk = truth.get(training.rows.patientKeys[row]!);
    if (risk === undefined) return; // a visitor from another region: no truth here
    p.push(training.testPredictions[k]!);
    q.push(risk);
    y.push(outcome[row]!);
  });
  const model = rocAnalysis(p, y);
  const true_ = rocAnalysis(q, y);
  return {
    training,
    comparison: {
      disease,
      heldOut: y.length,
      events: y.reduce((a, b) => a + b, 0),
      modelAuroc: model.auroc,
      modelCi: model.aurocCi,
      truthAuroc: true_.auroc,
      truthCi: true_.aurocCi,
      ratio: model.auroc / true_.auroc,
      trainSeconds,
    },
  };
}

export function formatComparison(c: TruthComparison): string {
  const ci = (x: [number, number]) => `${x[0].toFixed(3)}–${x[1].toFixed(3)}`;
  return `${c.disease}: held-out AUROC model ${c.modelAuroc.toFixed(4)} (95% CI ${ci(c.modelCi)}) vs true risk ${c.truthAuroc.toFixed(4)} (${ci(c.truthCi)}); ratio ${c.ratio.toFixed(3)} (floor 0.95); ${c.heldOut} held-out people, ${c.events} events`;
}
