import type { FeatureMatrix } from '../src/models/index.js';
import { fitBoosted, fitLogistic, predictBoosted, predictLogistic, rocAnalysis } from '../src/models/index.js';
import { simulateRisk } from '../test/support/simulated-risk.js';

/** Floors from issue 5/7, in units of one X'X pass over the same rows. */
const LOGISTIC_FLOOR = 15;
const BOOSTING_FLOOR = 200;
const ROWS = Number(process.env.BENCH_MODELS_ROWS ?? 1_000_000);
const FEATURES = 20;

/**
 * The reference: one pass accumulating X'X (upper triangle, as the IRLS does), the least work any fit of a
 * linear model on these rows must do. Best of three, so a cold first pass does not flatter the ratios.
 */
function crossProductPass(m: FeatureMatrix): { seconds: number; checksum: number } {
  const p = m.names.length;
  const x = m.values;
  let best = Number.POSITIVE_INFINITY;
  let checksum = 0;
  for (let rep = 0; rep < 3; rep++) {
    const started = performance.now();
    const acc = new Float64Array((p * (p + 1)) / 2);
    for (let i = 0; i < m.rows; i++) {
      const base = i * p;
      let idx = 0;
      for (let j = 0; j < p; j++) {
        const xj = x[base + j]!;
        for (let k = j; k < p; k++) acc[idx++]! += xj * x[base + k]!;
      }
    }
    best = Math.min(best, (performance.now() - started) / 1000);
    checksum = acc[0]!;
  }
  return { seconds: best, checksum };
}

function timed<T>(fn: () => T): { value: T; seconds: number } {
  const started = performance.now();
  const value = fn();
  return { value, seconds: (performance.now() - started) / 1000 };
}

export async function runModelsBench(): Promise<boolean> {
  const { matrix } = simulateRisk(ROWS, FEATURES, 2024, true);
  const holdout = simulateRisk(100_000, FEATURES, 7, true);
  const reference = crossProductPass(matrix);
  const rows = `${ROWS.toLocaleString('en')} rows x ${FEATURES} features`;
  console.log(`models X'X pass: ${reference.seconds.toFixed(3)} s (${rows}; best of 3)`);

  const lr = timed(() => fitLogistic(matrix));
  const lrRatio = lr.seconds / reference.seconds;
  console.log(
    `models logistic regression fit: ${lr.seconds.toFixed(3)} s (${lrRatio.toFixed(1)}x vs X'X pass; floor ${LOGISTIC_FLOOR}x; ${lr.value.diagnostics.iterations} Newton steps)`,
  );

  const gb = timed(() => fitBoosted(matrix, { trees: 100, maxDepth: 6, validationFraction: 0 }));
  const gbRatio = gb.seconds / reference.seconds;
  console.log(
    `models gradient boosting fit: ${gb.seconds.toFixed(3)} s (${gbRatio.toFixed(1)}x vs X'X pass; floor ${BOOSTING_FLOOR}x; ${gb.value.trees.length} trees, depth 6)`,
  );

  // Not timed against a floor: evidence that both fits learned the simulated signal.
  const y = holdout.matrix.outcome!;
  const truth = rocAnalysis(holdout.risk, y).auroc;
  const lrAuc = rocAnalysis(predictLogistic(lr.value, holdout.matrix), y).auroc;
  const gbAuc = rocAnalysis(predictBoosted(gb.value, holdout.matrix), y).auroc;
  console.log(
    `models held-out AUROC logistic: ${lrAuc.toFixed(4)} (${(lrAuc / truth).toFixed(3)}x vs true risk ${truth.toFixed(4)})`,
  );
  console.log(
    `models held-out AUROC boosting: ${gbAuc.toFixed(4)} (${(gbAuc / truth).toFixed(3)}x vs true risk ${truth.toFixed(4)})`,
  );
  // maxRSS is the kernel's high-water mark of the whole process (KiB), not a sample.
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const inputMb = (matrix.values.byteLength / 1e6).toFixed(0);
  console.log(
    `models peak RSS: ${(peakRss / 1e6).toFixed(0)} MB (${(peakRss / matrix.values.byteLength).toFixed(1)}x vs the ${inputMb} MB feature matrix)`,
  );

  let ok = true;
  if (lrRatio > LOGISTIC_FLOOR) {
    console.error(
      `models: logistic regression took ${lrRatio.toFixed(1)} X'X passes, above the floor of ${LOGISTIC_FLOOR}`,
    );
    ok = false;
  }
  if (gbRatio > BOOSTING_FLOOR) {
    console.error(`models: boosting took ${gbRatio.toFixed(1)} X'X passes, above the floor of ${BOOSTING_FLOOR}`);
    ok = false;
  }
  if (reference.checksum <= 0) ok = false;
  return ok;
}
