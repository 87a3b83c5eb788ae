import { readFileSync } from 'node:fs';
import type { FeatureMatrix } from '../../src/models/index.js';
import { featureMatrix } from '../../src/models/index.js';
import { sharedPath } from './shared-data.js';

export interface RiskReference {
  n: number;
  events: number;
  predictors: string[];
  coef_intercept_first: number[];
  loglik: number;
  insample_auroc: number;
  iters: number;
}

/** The published reference fits in ../shared/data/risk. */
export function riskReference(): { pima: RiskReference; cleveland: RiskReference } {
  const raw = JSON.parse(readFileSync(sharedPath('risk/reference_logistic_insample.json'), 'utf8')) as Record<
    string,
    RiskReference
  >;
  return { pima: raw.pima!, cleveland: raw.cleveland_binary_target_gt0_complete_cases_numeric_codes! };
}

/**
 * A delimited file of the risk folder as a matrix: `?` and empty cells are missing; rows with any missing
 * predictor are dropped when `completeCases`; the outcome is `target > 0`.
 */
export function loadRiskTable(file: string, separator: string, predictors: readonly string[]): FeatureMatrix {
  const lines = readFileSync(sharedPath(`risk/${file}`), 'utf8')
    .trim()
    .split(/\r?\n/);
  const header = lines[0]!.split(separator).map((h) => h.trim());
  const cols = predictors.map((p) => header.indexOf(p));
  const target = header.indexOf('target');
  if (cols.some((c) => c < 0) || target < 0) throw new Error(`${file}: missing columns`);
  const values: number[] = [];
  const outcome: number[] = [];
  for (const line of lines.slice(1)) {
    const cells = line.split(separator).map((c) => c.trim());
    const row = cols.map((c) => (cells[c] === '?' || cells[c] === '' ? Number.NaN : Number(cells[c])));
    if (row.some((v) => Number.isNaN(v))) continue;
    values.push(...row);
    outcome.push(Number(cells[target]) > 0 ? 1 : 0);
  }
  return featureMatrix(predictors, Float64Array.from(values), outcome);
}
