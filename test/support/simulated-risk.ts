import type { FeatureMatrix, Random } from '../../src/models/index.js';
import { featureMatrix, seededRandom } from '../../src/models/index.js';

/** Standard normal draws by Box–Muller from a seeded uniform stream. */
export function normalSampler(rng: Random): () => number {
  let spare = Number.NaN;
  return () => {
    if (!Number.isNaN(spare)) {
      const s = spare;
      spare = Number.NaN;
      return s;
    }
    const u = 1 - rng.next();
    const v = rng.next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

export interface SimulatedRisk {
  matrix: FeatureMatrix;
  /** The true coefficients, intercept first. */
  beta: number[];
  /** The true probability of every row. */
  risk: Float64Array;
}

/**
 * `rows` x `features` standard-normal features with a known logistic signal: β₀ = −1, βⱼ alternating in sign
 * and shrinking (1, −0.8, 0.6, …), plus, when `interaction`, a threshold effect (x₀ > 1 and x₁ > 0 adds 1.5 to
 * the log-odds) that trees can find and a linear model cannot.
 */
export function simulateRisk(rows: number, features: number, seed: number, interaction = false): SimulatedRisk {
  const normal = normalSampler(seededRandom(seed));
  const uniform = seededRandom(seed + 1);
  const beta = [-1];
  for (let j = 0; j < features; j++) beta.push((j % 2 === 0 ? 1 : -1) * Math.max(0.1, 1 - 0.2 * j));
  const values = new Float64Array(rows * features);
  const outcome = new Uint8Array(rows);
  const risk = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let eta = beta[0]!;
    for (let j = 0; j < features; j++) {
      const x = normal();
      values[i * features + j] = x;
      eta += beta[j + 1]! * x;
    }
    if (interaction && values[i * features]! > 1 && values[i * features + 1]! > 0) eta += 1.5;
    const p = 1 / (1 + Math.exp(-eta));
    risk[i] = p;
    outcome[i] = uniform.next() < p ? 1 : 0;
  }
  const names = Array.from({ length: features }, (_, j) => `x${j}`);
  return { matrix: featureMatrix(names, values, outcome), beta, risk };
}
