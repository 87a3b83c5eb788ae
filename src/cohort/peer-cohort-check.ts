import type { DisclosurePolicy } from '../core/index.js';
import { isReleasedCount } from '../privacy/index.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

/**
 * Why a peer's `cohort.run` answer cannot be used, or undefined when it can. A verified signature says who answered,
 * not that the answer is sound: a peer with a fault, or a laxer disclosure policy, could send a shape the pooling
 * would turn into a wrong number, or counts this hub would never publish (under its threshold, off its rounding
 * grid), which a sum would then pass on to its users. Such a hub is named as failed, as one that did not answer.
 */
export function peerCohortProblem(value: unknown, hub: string, policy: DisclosurePolicy): string | undefined {
  const count = (v: unknown, path: string) =>
    isReleasedCount(v, policy)
      ? undefined
      : `${path} is ${JSON.stringify(v)}, not a count this hub releases (threshold ${policy.threshold}, rounding ${policy.rounding})`;
  const counts = (v: unknown, path: string) =>
    Array.isArray(v) ? v.map((c, i) => count(c, `${path}[${i}]`)).find(Boolean) : `${path} is not a list`;
  if (!isObject(value)) return 'the result is not an object';
  if (value.hub !== hub) return `the result names hub ${JSON.stringify(value.hub)}`;
  if (typeof value.name !== 'string') return 'name is not text';
  if (typeof value.linkage !== 'boolean') return 'linkage is not a flag';
  if (value.asOf !== undefined && typeof value.asOf !== 'string') return 'asOf is not text';
  const persons = count(value.persons, 'persons');
  if (persons) return persons;
  if (!Array.isArray(value.attrition)) return 'attrition is not a list';
  for (const [i, step] of value.attrition.entries()) {
    if (!isObject(step) || typeof step.step !== 'string') return `attrition[${i}] is not a step`;
    const problem = count(step.persons, `attrition[${i}].persons`);
    if (problem) return problem;
  }
  const consent = value.consent;
  if (!isObject(consent) || typeof consent.purpose !== 'string') return 'consent is not a purpose with a count';
  const leftOut = count(consent.leftOut, 'consent.leftOut');
  if (leftOut) return leftOut;
  const table = value.ageSex;
  if (!isObject(table) || !Array.isArray(table.cells)) return 'ageSex is not a table';
  for (const [i, row] of table.cells.entries()) {
    const problem = counts(row, `ageSex.cells[${i}]`);
    if (problem) return problem;
  }
  const totals =
    counts(table.rowTotals, 'ageSex.rowTotals') ??
    counts(table.columnTotals, 'ageSex.columnTotals') ??
    count(table.total, 'ageSex.total');
  if (totals) return totals;
  if (!Array.isArray(value.measurements)) return 'measurements is not a list';
  const minBin = Math.max(policy.threshold, policy.minCellSize, 1);
  for (const [i, m] of value.measurements.entries()) {
    const at = `measurements[${i}]`;
    if (!isObject(m) || typeof m.system !== 'string' || typeof m.code !== 'string') return `${at} is not a measurement`;
    const summary = m.summary;
    if (!isObject(summary)) return `${at}.summary is not a summary`;
    const n = count(summary.n, `${at}.summary.n`);
    if (n) return n;
    for (const key of ['mean', 'sd'] as const)
      if (summary[key] !== undefined && !finite(summary[key])) return `${at}.summary.${key} is not a number`;
    if (
      summary.quantiles !== undefined &&
      !(isObject(summary.quantiles) && Object.values(summary.quantiles).every(finite))
    )
      return `${at}.summary.quantiles are not numbers`;
    const h = m.histogram;
    if (h === null || h === undefined) continue;
    if (!isObject(h) || !Array.isArray(h.edges) || !Array.isArray(h.counts) || !h.edges.every(finite))
      return `${at}.histogram is not a histogram`;
    if (h.counts.length !== h.edges.length + 1)
      return `${at}.histogram has ${h.counts.length} bins for ${h.edges.length} edges`;
    if (!h.counts.every((c) => Number.isInteger(c) && (c as number) >= minBin))
      return `${at}.histogram has a bin under ${minBin} people`;
  }
  return undefined;
}
