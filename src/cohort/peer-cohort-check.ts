import type { DisclosurePolicy } from '../core/index.js';
import { PeerFigures, peerFigureProblem } from '../federation/index.js';

/**
 * Why a peer's `cohort.run` answer cannot be used, or undefined when it can. A verified signature says who answered,
 * not that the answer is sound: a peer with a fault, or a laxer disclosure policy, could send a shape the pooling
 * would turn into a wrong number, or counts this hub would never publish (under its threshold, off its rounding
 * grid), which a sum would then pass on to its users. Such a hub is named as failed, as one that did not answer.
 */
export function peerCohortProblem(value: unknown, hub: string, policy: DisclosurePolicy): string | undefined {
  const f = new PeerFigures(policy);
  return peerFigureProblem(() => checkCohort(f, value, hub));
}

function checkCohort(f: PeerFigures, value: unknown, hub: string): void {
  const counts = (v: unknown, path: string) => {
    f.list(v, path).forEach((c, i) => {
      f.count(c, `${path}[${i}]`);
    });
  };
  const result = f.object(value, 'the result');
  if (result.hub !== hub) f.fail('the result', `names hub ${JSON.stringify(result.hub)}`);
  f.text(result.name, 'name');
  if (typeof result.linkage !== 'boolean') f.fail('linkage', 'is not a flag');
  if (result.asOf !== undefined) f.text(result.asOf, 'asOf');
  f.count(result.persons, 'persons');
  f.list(result.attrition, 'attrition').forEach((s, i) => {
    const step = f.object(s, `attrition[${i}]`);
    f.text(step.step, `attrition[${i}].step`);
    f.count(step.persons, `attrition[${i}].persons`);
  });
  const consent = f.object(result.consent, 'consent');
  f.text(consent.purpose, 'consent.purpose');
  f.count(consent.leftOut, 'consent.leftOut');
  const table = f.object(result.ageSex, 'ageSex');
  f.list(table.cells, 'ageSex.cells').forEach((row, i) => {
    counts(row, `ageSex.cells[${i}]`);
  });
  counts(table.rowTotals, 'ageSex.rowTotals');
  counts(table.columnTotals, 'ageSex.columnTotals');
  f.count(table.total, 'ageSex.total');
  const minBin = Math.max(f.minContributors, 1);
  f.list(result.measurements, 'measurements').forEach((item, i) => {
    const at = `measurements[${i}]`;
    const m = f.object(item, at);
    f.text(m.system, `${at}.system`);
    f.text(m.code, `${at}.code`);
    const summary = f.object(m.summary, `${at}.summary`);
    f.count(summary.n, `${at}.summary.n`);
    for (const key of ['mean', 'sd'] as const)
      if (summary[key] !== undefined) f.number(summary[key], `${at}.summary.${key}`);
    if (summary.quantiles !== undefined) {
      const q = f.object(summary.quantiles, `${at}.summary.quantiles`);
      for (const [level, v] of Object.entries(q)) f.number(v, `${at}.summary.quantiles.${level}`);
    }
    const h = m.histogram;
    if (h === null || h === undefined) return;
    const histogram = f.object(h, `${at}.histogram`);
    const edges = f.list(histogram.edges, `${at}.histogram.edges`);
    f.vector(histogram.edges, `${at}.histogram.edges`, edges.length);
    const bins = f.list(histogram.counts, `${at}.histogram.counts`);
    if (bins.length !== edges.length + 1)
      f.fail(`${at}.histogram`, `has ${bins.length} bins for ${edges.length} edges`);
    bins.forEach((c, k) => {
      if (!Number.isInteger(c) || (c as number) < minBin)
        f.fail(`${at}.histogram.counts[${k}]`, `is ${JSON.stringify(c)}, a bin under ${minBin} people`);
    });
  });
}
