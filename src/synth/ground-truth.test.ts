import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISEASES, formatPrevalenceReport, generateRegion, prevalenceReport } from './index.js';

interface RiskRow {
  disease: string;
  risk: number;
  outcome: 0 | 1;
}

/** Chi-square critical value for 10 degrees of freedom at p = 0.001. */
const CHI2_10_P001 = 29.59;

function auroc(rows: readonly RiskRow[]): number {
  const sorted = [...rows].sort((a, b) => a.risk - b.risk);
  let rankSum = 0;
  let positives = 0;
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1]!.risk === sorted[i]!.risk) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (sorted[k]!.outcome === 1) {
        rankSum += midRank;
        positives++;
      }
    }
    i = j + 1;
  }
  const negatives = sorted.length - positives;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

describe('synthetic population: ground truth', () => {
  let out: string;
  let risks: RiskRow[];
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'hm-truth-'));
    generateRegion({ region: 'busan', people: 12_000, seed: 'truth', out });
    risks = readFileSync(join(out, 'truth', 'risk.ndjson'), 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as RiskRow);
  }, 300_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('matches the published age-sex prevalences within the documented tolerance', () => {
    const rows = prevalenceReport(out);
    console.log(`Busan, 12,000 residents, prevalence at 2025-12-31:\n${formatPrevalenceReport(rows)}`);
    const judged = rows.filter((r) => r.people >= 150);
    expect(judged.length).toBeGreaterThan(DISEASES.length * 2 * 5);
    expect(judged.filter((r) => !r.withinTolerance)).toEqual([]);
  });

  it('is calibrated: observed 5-year onset agrees with the true risk within deciles', () => {
    for (const d of DISEASES) {
      const rows = risks.filter((r) => r.disease === d.id).sort((a, b) => a.risk - b.risk);
      let chi2 = 0;
      let expectedAll = 0;
      let observedAll = 0;
      let varianceAll = 0;
      for (let k = 0; k < 10; k++) {
        const decile = rows.slice(Math.floor((k * rows.length) / 10), Math.floor(((k + 1) * rows.length) / 10));
        const expected = decile.reduce((s, r) => s + r.risk, 0);
        const variance = decile.reduce((s, r) => s + r.risk * (1 - r.risk), 0);
        const observed = decile.reduce((s, r) => s + r.outcome, 0);
        if (variance > 0) chi2 += (observed - expected) ** 2 / variance;
        expectedAll += expected;
        observedAll += observed;
        varianceAll += variance;
      }
      expect(chi2, `${d.id}: Hosmer-Lemeshow statistic`).toBeLessThan(CHI2_10_P001);
      expect(
        Math.abs(observedAll - expectedAll),
        `${d.id}: ${observedAll} observed vs ${expectedAll.toFixed(1)} expected`,
      ).toBeLessThan(3.5 * Math.sqrt(varianceAll));
    }
  });

  it('makes the true risk informative: the known risk factors separate who falls ill', () => {
    for (const id of ['htn', 't2d', 'ihd', 'copd', 'dementia']) {
      const rows = risks.filter((r) => r.disease === id);
      expect(rows.filter((r) => r.outcome === 1).length, id).toBeGreaterThan(20);
      expect(auroc(rows), id).toBeGreaterThan(0.75);
    }
  });
});
