import { beforeAll, expect, it } from 'vitest';
import {
  buildPanel,
  flusightBaseline,
  healthmeshEnsemble,
  inFlusight2023Evaluation,
  isoDay,
  type QuantileForecast,
  readModelOutputDir,
  readTargetDataFile,
  reproductionGaps,
  rollingForecast,
  type SeriesPanel,
  scoreSeason,
  type TruthTable,
  truthTable,
} from '../src/surveillance/index.js';
import { describeWithSharedData, sharedPath } from './support/shared-data.js';

const DIR = 'flusight-2023-24/';

describeWithSharedData('FluSight 2023-24: scoring, baseline reproduction and our ensemble', () => {
  let panel: SeriesPanel;
  let truth: TruthTable;
  let publishedBaseline: QuantileForecast[];
  let publishedEnsemble: QuantileForecast[];
  let lastSeen: QuantileForecast[];
  let rounds: number[];

  beforeAll(() => {
    const series = readTargetDataFile(sharedPath(`${DIR}target-data/target-hospital-admissions_2024-04-27.csv`));
    panel = buildPanel(series);
    truth = truthTable(series);
    publishedBaseline = readModelOutputDir(sharedPath(`${DIR}model-output/FluSight-baseline`));
    publishedEnsemble = readModelOutputDir(sharedPath(`${DIR}model-output/FluSight-ensemble`));
    // Horizon -1 of the published baseline is the last value it saw (before later revisions).
    lastSeen = readModelOutputDir(sharedPath(`${DIR}model-output/FluSight-baseline`), { horizons: [-1] });
    rounds = [...new Set(publishedBaseline.map((f) => f.referenceDay))].sort((a, b) => a - b);
  });

  it('reproduces the published relative WIS of the FluSight-ensemble (0.71) within 0.02', () => {
    const scores = scoreSeason(
      new Map([
        ['FluSight-ensemble', publishedEnsemble],
        ['FluSight-baseline', publishedBaseline],
      ]),
      truth,
      'FluSight-baseline',
      inFlusight2023Evaluation,
    );
    const ensemble = scores.get('FluSight-ensemble');
    const baseline = scores.get('FluSight-baseline');
    console.log(
      `published FluSight-ensemble: relative WIS ${ensemble?.relativeWisLog.toFixed(4)} (log1p, published 0.71), ` +
        `${ensemble?.relativeWisNatural.toFixed(4)} on counts; 95% coverage ${ensemble?.overall.coverage95.toFixed(4)} ` +
        `(published 0.9267), baseline ${baseline?.overall.coverage95.toFixed(4)} (published 0.8879); n=${ensemble?.overall.count}`,
    );
    expect(rounds).toHaveLength(30);
    expect(Math.abs((ensemble?.relativeWisLog ?? 0) - 0.71)).toBeLessThanOrEqual(0.02);
    expect(ensemble?.overall.coverage95).toBeCloseTo(0.9267, 3);
    expect(baseline?.overall.coverage95).toBeCloseTo(0.8879, 3);
    // The published 50% coverage too, now that the 50% interval is read from the 0.25/0.75 levels (the 0.20/0.80
    // levels gave 0.6048 and 0.3604).
    expect(ensemble?.overall.coverage50).toBeCloseTo(0.517, 3);
    expect(baseline?.overall.coverage50).toBeCloseTo(0.2817, 3);
  });

  it('reproduces the published FluSight-baseline quantiles', () => {
    // 2e4 simulations instead of the published 1e5 keep this test quick; Monte Carlo noise is then ~1% of a
    // quantile's standard deviation, far below the differences the data revisions cause.
    const ours = rollingForecast(panel, flusightBaseline({ nsims: 20_000 }), rounds);
    // The same with the last week replaced by the value the published baseline saw then (its horizon -1 row):
    // isolates the method from revisions of the last week.
    const asSeen = rounds.flatMap((day) => {
      const last = (day - 7 - panel.startDay) / 7;
      const rows = panel.rows.map((r) => Float64Array.from(r));
      for (const f of lastSeen) {
        if (f.referenceDay !== day) continue;
        const l = panel.locations.indexOf(f.location);
        if (l >= 0) (rows[l] as Float64Array)[last] = f.values[11] as number;
      }
      return rollingForecast({ ...panel, rows }, flusightBaseline({ nsims: 20_000 }), [day]);
    });
    const gaps = reproductionGaps(ours, publishedBaseline);
    const gapsAsSeen = reproductionGaps(asSeen, publishedBaseline);
    console.log('location  n  maxAbs  maxRel  meanRel  medians | as-seen last value: maxAbs maxRel meanRel medians');
    gaps.forEach((g, i) => {
      const s = gapsAsSeen[i];
      console.log(
        `${g.location.padEnd(4)} ${g.forecasts} ${g.maxAbsolute.toFixed(1)} ${g.maxRelativeToWidth.toFixed(3)} ` +
          `${g.meanRelativeToWidth.toFixed(4)} ${g.medianMatches} | ${s?.maxAbsolute.toFixed(1)} ` +
          `${s?.maxRelativeToWidth.toFixed(3)} ${s?.meanRelativeToWidth.toFixed(4)} ${s?.medianMatches}`,
      );
    });
    const mean = (gs: typeof gaps) => gs.reduce((a, g) => a + g.meanRelativeToWidth * g.forecasts, 0) / 6360;
    console.log(
      `mean |ours - published| / width: ${mean(gaps).toFixed(4)}; with as-seen last value ${mean(gapsAsSeen).toFixed(4)}`,
    );
    expect(gaps).toHaveLength(53);
    // With the last value the published baseline saw, every median is that value, as the method demands.
    expect(gapsAsSeen.reduce((a, g) => a + g.medianMatches, 0)).toBe(30 * 53 * 4);
    expect(mean(gapsAsSeen)).toBeLessThan(0.03);
    const scores = scoreSeason(
      new Map([
        ['ours', ours],
        ['FluSight-baseline', publishedBaseline],
      ]),
      truth,
      'FluSight-baseline',
      inFlusight2023Evaluation,
    );
    const rel = scores.get('ours')?.relativeWisLog ?? 0;
    console.log(`our baseline on final data vs the published baseline: relative WIS ${rel.toFixed(4)}`);
    expect(Math.abs(rel - 1)).toBeLessThan(0.05);
  });

  it('runs our ensemble as a rolling forecast: relative WIS at most 0.85, 95% coverage 0.90-0.97', () => {
    const ours = rollingForecast(panel, healthmeshEnsemble(), rounds);
    // No forecast may use a week at or after its reference date: the runner hands each round a cut panel, so
    // changing the future must not change a forecast.
    const scores = scoreSeason(
      new Map([
        ['healthmesh-ensemble', ours],
        ['FluSight-baseline', publishedBaseline],
      ]),
      truth,
      'FluSight-baseline',
      inFlusight2023Evaluation,
    );
    const s = scores.get('healthmesh-ensemble');
    console.log(
      `healthmesh-ensemble 2023-24 (${isoDay(rounds[0] as number)}..${isoDay(rounds[29] as number)}): relative WIS ` +
        `${s?.relativeWisLog.toFixed(4)} (log1p) ${s?.relativeWisNatural.toFixed(4)} (counts); coverage 50% ` +
        `${s?.overall.coverage50.toFixed(4)}, 95% ${s?.overall.coverage95.toFixed(4)}; n=${s?.overall.count}`,
    );
    for (const [h, v] of s?.byHorizon ?? []) {
      console.log(
        `  horizon ${h}: mean WIS ${v.meanWis.toFixed(2)}, 50% ${v.coverage50.toFixed(3)}, 95% ${v.coverage95.toFixed(3)}`,
      );
    }
    expect(s?.overall.count).toBe(5716);
    expect(s?.relativeWisLog).toBeLessThanOrEqual(0.85);
    expect(s?.overall.coverage95).toBeGreaterThanOrEqual(0.9);
    expect(s?.overall.coverage95).toBeLessThanOrEqual(0.97);
  });
});
