/**
 * The counts a hub releases so the demonstration hub can pool net benefit and the calibration curve across hubs
 * (docs/validation.md, "Across hubs"), and their pooling. Both are sums of released counts, so the pooled figures
 * equal those of all the hubs' rows wherever the counts are released unrounded; a cell a hub withheld makes the
 * pooled figure withheld, never a zero.
 */
import type { PeerFigures } from '../federation/index.js';
import type { ReleasedCount, ReleaseGate } from '../privacy/index.js';
import { toPrecision } from '../privacy/index.js';

/** The calibration curve's bins close only at multiples of this predicted risk: a fixed grid shared by every hub. */
export const RISK_GRID = 0.05;
const CELLS = Math.round(1 / RISK_GRID);

/** True and false positives at one decision threshold (risk ≥ threshold is positive), or withheld. */
export type DecisionCounts =
  | { threshold: number; tp: ReleasedCount; fp: ReleasedCount }
  | { threshold: number; withheld: true };

/** One bin of a hub's calibration curve on the fixed grid: its edges, people, events and mean predicted risk. */
export interface RiskBin {
  lower: number;
  upper: number;
  n: ReleasedCount;
  events: ReleasedCount;
  meanPredicted: number | null;
}

/**
 * True and false positives at each threshold. A threshold is withheld unless its four cells (true and false
 * positives and negatives) each reach the threshold and its positives differ from those at the last threshold
 * released below it by none or at least the threshold, of events and of non-events: otherwise the difference of two
 * released thresholds would count the few people between them.
 */
export function releaseDecisionCounts(
  risks: ArrayLike<number>,
  y: ArrayLike<number>,
  thresholds: readonly number[],
  gate: ReleaseGate,
) {
  const t = gate.policy.threshold;
  let events = 0;
  for (let i = 0; i < y.length; i++) events += y[i]!;
  const nonEvents = y.length - events;
  const counted = thresholds.map((threshold) => {
    let tp = 0;
    let fp = 0;
    for (let i = 0; i < risks.length; i++) {
      if (risks[i]! >= threshold) y[i] === 1 ? tp++ : fp++;
    }
    return { threshold, tp, fp };
  });
  const released = new Set<number>();
  let last: { tp: number; fp: number } | undefined;
  const apart = (a: number, b: number) => a === b || Math.abs(a - b) >= t;
  for (const c of [...counted].sort((a, b) => a.threshold - b.threshold)) {
    const cells = [c.tp, c.fp, events - c.tp, nonEvents - c.fp];
    if (cells.some((n) => n < t)) continue;
    if (last !== undefined && !(apart(c.tp, last.tp) && apart(c.fp, last.fp))) continue;
    released.add(c.threshold);
    last = c;
  }
  return counted.map((c) =>
    released.has(c.threshold)
      ? { threshold: gate.parameter(c.threshold, 'decision threshold'), tp: gate.count(c.tp), fp: gate.count(c.fp) }
      : { threshold: gate.parameter(c.threshold, 'decision threshold'), withheld: true as const },
  );
}

/**
 * The calibration curve on the fixed grid of predicted risk: a bin closes at a grid edge once it holds at least
 * the threshold of events and of non-events (and the gate's fewest contributors), and a short last bin joins the
 * one before; so every count released reaches the threshold, no cell is withheld, and an edge is a grid value.
 */
export function releaseRiskGrid(risks: ArrayLike<number>, y: ArrayLike<number>, gate: ReleaseGate) {
  const t = gate.policy.threshold;
  const cell = (p: number) => Math.min(CELLS - 1, Math.max(0, Math.floor(p / RISK_GRID)));
  const n = new Array<number>(CELLS).fill(0);
  const e = new Array<number>(CELLS).fill(0);
  const sum = new Array<number>(CELLS).fill(0);
  for (let i = 0; i < risks.length; i++) {
    const c = cell(risks[i]!);
    n[c]!++;
    e[c]! += y[i]!;
    sum[c]! += risks[i]!;
  }
  type Acc = { lower: number; upper: number; n: number; events: number; sum: number };
  const out: Acc[] = [];
  let cur: Acc = { lower: 0, upper: 0, n: 0, events: 0, sum: 0 };
  for (let c = 0; c < CELLS; c++) {
    cur.n += n[c]!;
    cur.events += e[c]!;
    cur.sum += sum[c]!;
    cur.upper = c + 1;
    if (cur.events >= t && cur.n - cur.events >= t && cur.n >= gate.minContributors) {
      out.push(cur);
      cur = { lower: c + 1, upper: c + 1, n: 0, events: 0, sum: 0 };
    }
  }
  const lastBin = out.at(-1);
  if (lastBin === undefined) out.push(cur);
  else if (cur.n > 0 || cur.upper > lastBin.upper) {
    lastBin.upper = CELLS;
    lastBin.n += cur.n;
    lastBin.events += cur.events;
    lastBin.sum += cur.sum;
  }
  return out.map((b) => {
    const c = gate.countParts({ events: b.events, nonEvents: b.n - b.events });
    return {
      lower: gate.parameter(edge(b.lower), 'grid edge'),
      upper: gate.parameter(edge(b.upper), 'grid edge'),
      n: c.total,
      events: c.parts.events,
      meanPredicted: gate.statistic(b.n === 0 ? null : b.sum / b.n, b.n),
    };
  });
}

const edge = (k: number) => Number((k * RISK_GRID).toFixed(6));
const cellOf = (v: number) => Math.round(v / RISK_GRID);

/** What pooling needs of one hub: its name, released size and events, and its counts. */
export interface HubCounts {
  hub: string;
  n: ReleasedCount;
  events: ReleasedCount;
  netBenefit: readonly DecisionCounts[];
  curve: readonly RiskBin[];
}

/**
 * Net benefit at each threshold (Vickers & Elkin 2006) from the hubs' summed true and false positives over their
 * summed people, against treating everyone; withheld, naming the hubs, where a hub withheld its counts.
 */
export function pooledNetBenefit(hubs: readonly HubCounts[], thresholds: readonly number[], precision: number) {
  const total = sumOrNull(hubs.map((h) => h.n));
  const events = sumOrNull(hubs.map((h) => h.events));
  return thresholds.map((threshold, k) => {
    const odds = threshold / (1 - threshold);
    const at = hubs.map((h) => h.netBenefit[k]);
    const withheldAt = hubs.filter((_, j) => {
      const c = at[j];
      return c === undefined || 'withheld' in c || c.tp === null || c.fp === null;
    });
    const treatAll =
      events === null || total === null || total === 0
        ? null
        : toPrecision(events / total - (1 - events / total) * odds, precision);
    if (withheldAt.length > 0 || total === null || total === 0) {
      return { threshold, model: null, treatAll, treatNone: 0, withheldAt: withheldAt.map((h) => h.hub) };
    }
    let tp = 0;
    let fp = 0;
    for (const c of at) {
      if (c !== undefined && !('withheld' in c)) {
        tp += c.tp!;
        fp += c.fp!;
      }
    }
    return {
      threshold,
      model: toPrecision(tp / total - (fp / total) * odds, precision),
      treatAll,
      treatNone: 0,
      withheldAt: [] as string[],
    };
  });
}

/**
 * The calibration curve of all hubs on the grid edges every hub's curve shares: each pooled bin sums the hubs'
 * bins inside it (people, events, predicted risk as mean × people); withheld, naming the hubs, where a hub withheld
 * a figure of a bin inside it.
 */
export function pooledCurve(hubs: readonly HubCounts[], precision: number) {
  if (hubs.length === 0) return [];
  const uppers = hubs.map((h) => new Set(h.curve.map((b) => cellOf(b.upper))));
  const shared = [...uppers[0]!].filter((c) => c > 0 && c < CELLS && uppers.every((u) => u.has(c)));
  const edges = [0, ...shared.sort((a, b) => a - b), CELLS];
  return edges.slice(1).map((upper, k) => {
    const lower = edges[k]!;
    let n = 0;
    let events = 0;
    let sum = 0;
    const withheldAt = new Set<string>();
    for (const h of hubs) {
      for (const b of h.curve) {
        if (cellOf(b.lower) < lower || cellOf(b.upper) > upper) continue;
        if (b.n === null || b.events === null || b.meanPredicted === null) withheldAt.add(h.hub);
        else {
          n += b.n;
          events += b.events;
          sum += b.meanPredicted * b.n;
        }
      }
    }
    const shown = withheldAt.size === 0 && n > 0;
    return {
      lower: edge(lower),
      upper: edge(upper),
      n: shown ? n : null,
      events: shown ? events : null,
      meanPredicted: shown ? toPrecision(sum / n, precision) : null,
      observed: shown ? toPrecision(events / n, precision) : null,
      withheldAt: [...withheldAt],
    };
  });
}

function sumOrNull(xs: readonly ReleasedCount[]): number | null {
  let s = 0;
  for (const x of xs) {
    if (x === null) return null;
    s += x;
  }
  return s;
}

/**
 * A peer's counts as this hub can pool them: one entry per threshold of `thresholds`, in order, each withheld or
 * two counts this hub releases; a curve from risk 0 to 1 in bins on the grid, each edge the one before's, every
 * count one this hub releases, events no more than people, each mean predicted risk inside its bin.
 */
export function checkPeerCounts(
  f: PeerFigures,
  value: unknown,
  thresholds: readonly number[],
): { netBenefit: DecisionCounts[]; curve: RiskBin[] } {
  const o = f.object(value, 'counts');
  const netBenefit = f.list(o.netBenefit, 'counts.netBenefit', thresholds.length).map((c, k) => {
    const at = `counts.netBenefit[${k}]`;
    const row = f.object(c, at);
    if (row.threshold !== thresholds[k]) f.fail(`${at}.threshold`, `is not ${thresholds[k]}`);
    if (row.withheld === true) return { threshold: thresholds[k]!, withheld: true as const };
    return { threshold: thresholds[k]!, tp: f.shownCount(row.tp, `${at}.tp`), fp: f.shownCount(row.fp, `${at}.fp`) };
  });
  const bins = f.list(o.curve, 'counts.curve');
  if (bins.length === 0) f.fail('counts.curve', 'has no bins');
  let previous = 0;
  const curve = bins.map((b, i) => {
    const at = `counts.curve[${i}]`;
    const bin = f.object(b, at);
    const lower = f.number(bin.lower, `${at}.lower`);
    if (cellOf(lower) !== previous || Math.abs(lower - edge(previous)) > 1e-9)
      f.fail(`${at}.lower`, `is ${lower}, not the upper edge before it (${edge(previous)})`);
    const upper = f.number(bin.upper, `${at}.upper`, { min: 0, max: 1 });
    if (Math.abs(upper - edge(cellOf(upper))) > 1e-9 || cellOf(upper) <= previous)
      f.fail(`${at}.upper`, `is ${upper}, off the grid or not above its lower edge`);
    previous = cellOf(upper);
    const n = f.shownCount(bin.n, `${at}.n`);
    const events = f.shownCount(bin.events, `${at}.events`);
    if (events > n) f.fail(`${at}.events`, `is ${events}, more than the bin's ${n} people`);
    const meanPredicted = f.numberOrNull(bin.meanPredicted, `${at}.meanPredicted`, { min: lower, max: upper });
    return { lower, upper, n, events, meanPredicted };
  });
  if (previous !== CELLS) f.fail('counts.curve', 'does not end at risk 1');
  return { netBenefit, curve };
}
