import type { Hub } from '../src/hub/index.js';
import type { ModelCard } from '../src/models/index.js';
import { releaseModelCard } from '../src/models/index.js';
import { compareWithTruth, formatComparison, syntheticHub } from '../test/support/synthetic-risk-check.js';

/** Issue 5/7: on held-out synthetic people, the model's AUROC is at least this share of the true risk's AUROC. */
const FLOOR = 0.95;
/**
 * 40,000 residents (~31,000 adults at risk of IHD, ~270 IHD events, ~107 held out; 11 minutes at load ~5 here). At
 * 20,000 one population's held-out ratio scattered with SD ~0.03 for IHD and ~0.013 for T2D around expectations at
 * the floor (replays of 15 populations, docs/models.md); at 40,000 the training side doubles and the SDs are about
 * halved. 60,000 is near the time budget under load (its IHD feature build, which ran out of DuckDB's default 1 GB,
 * now builds in 300 MB: docs/models.md).
 */
const PEOPLE = Number(process.env.BENCH_MODELS_SYNTH_PEOPLE ?? 40_000);

/**
 * Generates Busan residents, ingests them into a temporary hub, trains the fixture specs for type 2 diabetes and
 * ischaemic heart disease (logistic regression on features computed in the hub) and compares the held-out AUROC
 * with that of the generator's true 5-year risk on the same people. A bench rather than a test: at a size where
 * the estimate is stable, generation and ingest take longer than the test suite's budget allows.
 */
export async function runModelsSyntheticBench(): Promise<boolean> {
  const env = await syntheticHub(PEOPLE, 'models-truth');
  try {
    console.log(
      `models-synthetic generate+ingest: ${(env.seconds.generate + env.seconds.ingest).toFixed(1)} s (${PEOPLE.toLocaleString('en')} residents; generate ${env.seconds.generate.toFixed(1)} s)`,
    );
    let ok = true;
    for (const [spec, disease] of [
      ['t2d-5y', 't2d'],
      ['ihd-5y', 'ihd'],
    ] as const) {
      const { comparison: c, training } = await compareWithTruth(env.hub, env.input, spec, disease);
      console.log(
        `models-synthetic ${disease} held-out AUROC: ${c.modelAuroc.toFixed(4)} (${c.ratio.toFixed(3)}x vs true risk ${c.truthAuroc.toFixed(4)}; floor ${FLOOR}x; ${c.heldOut} people, ${c.events} events; features+fit ${c.trainSeconds.toFixed(1)} s)`,
      );
      console.log(`  ${formatComparison(c)}`);
      console.log(`  ${disease} with the gate: ${gatedFigures(env.hub.gate, training.registered.card)}`);
      console.log(
        `  ${disease} consent: purpose ${training.consent.purpose}, ${training.consent.leftOut} people left out of the training population`,
      );
      if (c.ratio < FLOOR) ok = false;
    }
    return ok;
  } finally {
    await env.cleanup();
  }
}

/**
 * What a researcher's card says beside the exact card (issue 14: utility measured, not assumed): the held-out
 * AUROC, calibration slope and Brier as released, the calibration bins and features whose means were released.
 */
function gatedFigures(gate: Hub['gate'], card: ModelCard): string {
  const released = releaseModelCard(card, gate).value as unknown as ReleasedCardView;
  const exact = card.evaluations[0]?.report.overall;
  const shown = released.evaluations[0]?.report.overall;
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? 'withheld' : String(v));
  const bins = shown?.calibrationCurve?.length ?? 0;
  const features = released.trainingData.features;
  return [
    `AUROC ${fmt(shown?.auroc)} (exact ${exact?.auroc?.toFixed(4)})`,
    `calibration slope ${fmt(shown?.calibrationSlope)} (exact ${exact?.calibrationSlope?.toFixed(4)})`,
    `Brier ${fmt(shown?.brier)} (exact ${exact?.brier.toFixed(4)})`,
    `calibration bins ${bins} of ${exact?.calibrationCurve.length ?? 0}`,
    `feature means ${features.filter((f) => f.mean !== null).length} of ${features.length}`,
  ].join('; ');
}

interface ReleasedCardView {
  trainingData: { features: { mean: number | null }[] };
  evaluations: {
    report: {
      overall: {
        auroc?: number | null;
        calibrationSlope?: number | null;
        brier?: number | null;
        calibrationCurve?: unknown[];
      };
    };
  }[];
}
