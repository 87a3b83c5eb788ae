import { describe, expect, it } from 'vitest';
import type { ReleasedTable } from '../privacy/index.js';
import { DEFAULT_DISCLOSURE_POLICY as POLICY } from '../privacy/index.js';
import { peerTableProblem, poolTables } from './federated-tabulation.js';

const table = (rows: string[], cells: (number | null)[][], extra: Partial<ReleasedTable> = {}): ReleasedTable => ({
  rows,
  columns: ['all'],
  cells,
  rowTotals: cells.map((c) => c[0] ?? null),
  columnTotals: [cells.some((c) => c[0] === null) ? null : cells.reduce((s, c) => s + (c[0] as number), 0)],
  total: cells.some((c) => c[0] === null) ? null : cells.reduce((s, c) => s + (c[0] as number), 0),
  suppressed: { primary: 0, secondary: 0 },
  ...extra,
});

describe('a tabulation pooled over hubs', () => {
  it('adds the hubs category by category, counts a missing category as 0 there, and keeps a withheld cell withheld', () => {
    const a = table(['AMB', 'EMER'], [[30], [null]]);
    const b = table(['AMB', 'IMP'], [[15], [20]]);
    expect(poolTables([a, b])).toEqual({
      rows: ['AMB', 'EMER', 'IMP'],
      columns: ['all'],
      cells: [[45], [null], [20]],
      rowTotals: [45, null, 20],
      columnTotals: [null],
      total: null,
    });
    expect(poolTables([])).toBeNull();
  });

  it("takes a peer's table only if this hub could have released every count of it", () => {
    expect(peerTableProblem(table(['AMB'], [[30]]), POLICY)).toBeUndefined();
    expect(peerTableProblem(table(['AMB'], [[null]]), POLICY)).toBeUndefined();
    // Under the threshold, off the rounding grid, negative, or not a number: each named by where it is.
    expect(peerTableProblem(table(['AMB'], [[5]]), POLICY)).toMatch(/^cells\[0\]\[0\]/);
    expect(peerTableProblem(table(['AMB'], [[33]]), POLICY)).toMatch(/^cells\[0\]\[0\]/);
    expect(peerTableProblem(table(['AMB'], [[30]], { total: -10 }), POLICY)).toMatch(/^total/);
    expect(peerTableProblem(table(['AMB'], [['30' as unknown as number]]), POLICY)).toMatch(/^cells/);
    // A shape the pooling would misread.
    expect(peerTableProblem(table(['AMB', 'AMB'], [[30], [30]]), POLICY)).toMatch(/^rows/);
    expect(peerTableProblem(table(['AMB', 'EMER'], [[30]]), POLICY)).toMatch(/^cells has 1 items, not 2/);
    expect(peerTableProblem(table(['AMB'], [[30, 30]]), POLICY)).toMatch(/^cells\[0\] has 2 items, not 1/);
    expect(peerTableProblem(table(['AMB'], [[30]], { rowTotals: [] }), POLICY)).toMatch(/^rowTotals/);
    expect(peerTableProblem([1, 2], POLICY)).toBe('the table is not an object');
    const wide = Array.from({ length: 51 }, (_, i) => `r${i}`);
    expect(
      peerTableProblem(
        table(
          wide,
          wide.map(() => [30]),
        ),
        POLICY,
      ),
    ).toMatch(/^rows/);
  });
});
