import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/support/error-code.js';
import type { CountTable, ReleasedTable } from './index.js';
import { releaseCount, releaseCounts, releaseSummary, releaseTable } from './index.js';

const policy = { threshold: 10, rounding: 5, minCellSize: 10 };

/** Rank of a small dense matrix by Gaussian elimination with partial pivoting. */
function rank(m: number[][]): number {
  const a = m.map((row) => [...row]);
  const cols = a[0]?.length ?? 0;
  let r = 0;
  for (let c = 0; c < cols && r < a.length; c++) {
    let pivot = r;
    for (let i = r + 1; i < a.length; i++) if (Math.abs(a[i]![c]!) > Math.abs(a[pivot]![c]!)) pivot = i;
    if (Math.abs(a[pivot]![c]!) < 1e-9) continue;
    [a[r], a[pivot]] = [a[pivot]!, a[r]!];
    for (let i = 0; i < a.length; i++) {
      if (i === r) continue;
      const f = a[i]![c]! / a[r]![c]!;
      for (let k = c; k < cols; k++) a[i]![k] = a[i]![k]! - f * a[r]![k]!;
    }
    r++;
  }
  return r;
}

/**
 * The suppressed entries an attacker can solve for from the table's line equations (each row and column of the
 * table with its margins: cells sum to their total), even knowing every released entry exactly, not rounded.
 * Independent of the implementation's graph reasoning: plain linear algebra over the suppressed unknowns.
 */
function recoverable(t: ReleasedTable): string[] {
  const R = t.rows.length;
  const C = t.columns.length;
  const grid: (number | null)[][] = [
    ...t.cells.map((row, r) => [...row, t.rowTotals[r]!]),
    [...t.columnTotals, t.total],
  ];
  const unknowns: [number, number][] = [];
  grid.forEach((row, r) => {
    row.forEach((v, c) => {
      if (v === null) unknowns.push([r, c]);
    });
  });
  if (unknowns.length === 0) return [];
  const index = new Map(unknowns.map(([r, c], i) => [`${r},${c}`, i]));
  const equations: number[][] = [];
  const line = (entries: [number, number][], totalAt: [number, number]) => {
    const eq = new Array<number>(unknowns.length).fill(0);
    for (const [r, c] of entries) {
      const i = index.get(`${r},${c}`);
      if (i !== undefined) eq[i] = 1;
    }
    const t = index.get(`${totalAt[0]},${totalAt[1]}`);
    if (t !== undefined) eq[t] = -1;
    if (eq.some((x) => x !== 0)) equations.push(eq);
  };
  for (let r = 0; r <= R; r++)
    line(
      Array.from({ length: C }, (_, c): [number, number] => [r, c]),
      [r, C],
    );
  for (let c = 0; c <= C; c++)
    line(
      Array.from({ length: R }, (_, r): [number, number] => [r, c]),
      [R, c],
    );
  const base = rank(equations);
  return unknowns
    .filter((_, i) => {
      const unit = new Array<number>(unknowns.length).fill(0);
      unit[i] = 1;
      return rank([...equations, unit]) === base;
    })
    .map(([r, c]) => `${r},${c}`);
}

function released(t: ReleasedTable): number[] {
  return [...t.cells.flat(), ...t.rowTotals, ...t.columnTotals, t.total].filter((v): v is number => v !== null);
}

/** Small counts are common in real cohort tables; draw from a mix so suppression actually happens. */
const count = fc.oneof(
  fc.integer({ min: 0, max: 12 }),
  fc.integer({ min: 0, max: 60 }),
  fc.integer({ min: 0, max: 500 }),
);
const table: fc.Arbitrary<CountTable> = fc
  .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }))
  .chain(([R, C]) =>
    fc.array(fc.array(count, { minLength: C, maxLength: C }), { minLength: R, maxLength: R }).map((cells) => ({
      rows: cells.map((_, r) => `r${r}`),
      columns: Array.from({ length: C }, (_, c) => `c${c}`),
      cells,
    })),
  );
const anyPolicy = fc.record({
  threshold: fc.integer({ min: 1, max: 30 }),
  rounding: fc.integer({ min: 1, max: 20 }),
  minCellSize: fc.integer({ min: 1, max: 30 }),
});

describe('releaseTable', () => {
  it('never releases a count under the threshold, and rounds every released count to the base', () => {
    fc.assert(
      fc.property(table, anyPolicy, (t, p) => {
        for (const v of released(releaseTable(t, p))) {
          expect(v).toBeGreaterThanOrEqual(p.threshold);
          expect(v % p.rounding).toBe(0);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('suppresses every entry under the threshold, margins included', () => {
    fc.assert(
      fc.property(table, (t) => {
        const out = releaseTable(t, policy);
        t.cells.forEach((row, r) => {
          row.forEach((v, c) => {
            if (v < policy.threshold) expect(out.cells[r]![c]).toBeNull();
          });
          if (row.reduce((a, b) => a + b, 0) < policy.threshold) expect(out.rowTotals[r]).toBeNull();
        });
      }),
      { numRuns: 300 },
    );
  });

  it('leaves no suppressed cell or margin recoverable by subtraction from the released ones', () => {
    fc.assert(
      fc.property(table, (t) => {
        expect(recoverable(releaseTable(t, policy))).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('protects a lone small cell by suppressing the smallest cells that complete a cycle', () => {
    const out = releaseTable(
      {
        rows: ['F', 'M'],
        columns: ['<40', '40-64', '65+'],
        cells: [
          [120, 3, 80],
          [110, 40, 95],
        ],
      },
      policy,
    );
    // 3 is primary; row F's next smallest (80) and column 40-64's (40) are secondary, and so is the fourth
    // corner (95) that closes the cycle; the margins stay published.
    expect(out.cells).toEqual([
      [120, null, null],
      [110, null, null],
    ]);
    expect(out.rowTotals).toEqual([205, 245]);
    expect(out.columnTotals).toEqual([230, 45, 175]);
    expect(out.total).toBe(450);
    expect(out.suppressed).toEqual({ primary: 1, secondary: 3 });
    expect(recoverable(out)).toEqual([]);
  });

  it('breaks a bridge between two protected blocks that no single line reveals', () => {
    // Two 2x2 blocks of small cells joined through one more small cell: every line has 0 or ≥ 2 suppressed
    // entries, yet the joining cell is solvable unless something else is suppressed.
    const out = releaseTable(
      {
        rows: ['a', 'b', 'c', 'd'],
        columns: ['w', 'x', 'y', 'z'],
        cells: [
          [1, 2, 3, 100],
          [2, 1, 100, 100],
          [100, 100, 1, 2],
          [100, 100, 2, 1],
        ],
      },
      policy,
    );
    expect(out.cells[0]![2]).toBeNull();
    expect(recoverable(out)).toEqual([]);
  });

  it('rejects a ragged or negative table, naming the cell', () => {
    expect(codeOf(() => releaseTable({ rows: ['a'], columns: ['x', 'y'], cells: [[1]] }, policy))).toBe(
      'DISCLOSURE_INVALID_TABLE',
    );
    expect(codeOf(() => releaseTable({ rows: ['a'], columns: ['x'], cells: [[-1]] }, policy))).toBe(
      'DISCLOSURE_INVALID_TABLE',
    );
  });
});

describe('releaseCount and releaseCounts', () => {
  it('suppresses under the threshold and rounds to the nearest multiple, never below the threshold', () => {
    expect(releaseCount(9, policy)).toBeNull();
    expect(releaseCount(0, policy)).toBeNull();
    expect(releaseCount(12, policy)).toBe(10);
    expect(releaseCount(13, policy)).toBe(15);
    expect(releaseCount(9, { threshold: 8, rounding: 20, minCellSize: 8 })).toBe(20);
  });

  it('protects one small band of a list with its total published', () => {
    const out = releaseCounts({ '0-17': 40, '18-39': 4, '40-64': 70, '65+': 33 }, policy);
    expect(out.counts['18-39']).toBeNull();
    // The total is known, so a second band must go with it.
    expect(out.counts['65+']).toBeNull();
    expect(out.total).toBe(145);
  });
});

describe('releaseSummary', () => {
  it('drops mean, SD and quantiles behind fewer people than the minimum cell size', () => {
    const out = releaseSummary({ n: 7, mean: 120.5, sd: 14, quantiles: { '0.5': 118 } }, policy);
    expect(out).toEqual({ n: null, quantiles: {}, withheld: ['mean', 'sd', 'q0.5'] });
  });

  it('keeps the median but drops the extremes, which single out a person', () => {
    const out = releaseSummary(
      { n: 40, mean: 5.2, sd: 1.1, quantiles: { '0': 2, '0.25': 4.4, '0.5': 5, '1': 9.9 } },
      policy,
    );
    expect(out.n).toBe(40);
    expect(out.mean).toBe(5.2);
    expect(out.quantiles).toEqual({ '0.25': 4.4, '0.5': 5 });
    expect(out.withheld).toEqual(['q0', 'q1']);
  });

  it('releases no statistic with fewer people behind it than the policy allows (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        anyPolicy,
        (n, p, pol) => {
          const out = releaseSummary({ n, mean: 1, sd: 1, quantiles: { [String(p)]: 1 } }, pol);
          if (out.mean !== undefined) expect(n).toBeGreaterThanOrEqual(pol.minCellSize);
          for (const q of Object.keys(out.quantiles ?? {})) {
            expect(Math.min(n * Number(q), n * (1 - Number(q)))).toBeGreaterThanOrEqual(pol.minCellSize);
          }
        },
      ),
    );
  });
});
