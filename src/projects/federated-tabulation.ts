import type { DisclosurePolicy } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Federation } from '../federation/index.js';
import { describeFailures, fanOut, PeerFigures, peerFigureProblem, screenPeerAnswers } from '../federation/index.js';
import type { Released, ReleasedCount, ReleasedTable, ReleaseGate } from '../privacy/index.js';
import type { TabulationRequest } from './workspace-tabulation.js';
import { MAX_TABULATION_COLUMNS, MAX_TABULATION_ROWS } from './workspace-tabulation.js';

/** The signed operation a coordinating hub sends each peer of a project for its part of a tabulation. */
export const PROJECT_TABULATE_OPERATION = 'project.tabulate';

/** A tabulation's pooled table: every cell the sum of the hubs' released cells, or null where any hub withheld it. */
export type PooledTable = Omit<ReleasedTable, 'suppressed'>;

/** A tabulation over several hubs of a project: each hub's table as it released it, and their sum. */
export interface FederatedTabulation {
  view: string;
  hubs: { hub: string; table: ReleasedTable }[];
  /** Hubs that did not answer, refused (e.g. not approved there), or sent an answer this hub could not use. */
  failed: { hub: string; kind: string; remoteCode?: string; message: string }[];
  complete: boolean;
  /** Null when no hub answered, so a run where every hub failed never reads as a table of zeros. */
  pooled: PooledTable | null;
}

/**
 * Check a peer's table before it is pooled (throws to `peerFigureProblem`). The signature says which hub answered,
 * not that its numbers are sound: a faulty peer, or one with a laxer policy, could send counts this hub would never
 * publish, which a sum would pass on, or a shape the sum would misread.
 */
function checkPeerTable(check: PeerFigures, value: unknown): void {
  const t = check.object(value, 'the table');
  const labels = (v: unknown, path: string, max: number): number => {
    const list = check.list(v, path).map((x, i) => check.text(x, `${path}[${i}]`));
    if (list.length > max || new Set(list).size !== list.length)
      check.fail(path, `are not at most ${max} distinct labels`);
    return list.length;
  };
  const counts = (v: unknown, path: string, n: number): void => {
    for (const [i, c] of check.list(v, path, n).entries()) check.count(c, `${path}[${i}]`);
  };
  const rows = labels(t.rows, 'rows', MAX_TABULATION_ROWS);
  const columns = labels(t.columns, 'columns', MAX_TABULATION_COLUMNS);
  for (const [r, row] of check.list(t.cells, 'cells', rows).entries()) counts(row, `cells[${r}]`, columns);
  counts(t.rowTotals, 'rowTotals', rows);
  counts(t.columnTotals, 'columnTotals', columns);
  check.count(t.total, 'total');
}

/** Why a peer's table cannot be pooled under `policy`, or undefined when it can. */
export function peerTableProblem(value: unknown, policy: DisclosurePolicy): string | undefined {
  return peerFigureProblem(() => checkPeerTable(new PeerFigures(policy), value));
}

/**
 * The hubs' released tables summed by category. A category a hub does not list has no people there (0); a cell or
 * total any hub withheld is null in the sum, since adding the others would understate it. Every number is a sum of
 * released, rounded counts, so it can be off by up to half the rounding base per hub, and it discloses nothing the
 * hubs' own tables (returned beside it) do not.
 */
export function poolTables(tables: readonly ReleasedTable[]): PooledTable | null {
  if (tables.length === 0) return null;
  const rows = [...new Set(tables.flatMap((t) => t.rows))].sort();
  const columns = [...new Set(tables.flatMap((t) => t.columns))].sort();
  const sum = (parts: ReleasedCount[]): ReleasedCount =>
    parts.some((p) => p === null) ? null : parts.reduce<number>((s, p) => s + (p as number), 0);
  const at = (t: ReleasedTable, r: string, c: string): ReleasedCount => {
    const i = t.rows.indexOf(r);
    const j = t.columns.indexOf(c);
    return i < 0 || j < 0 ? 0 : (t.cells[i]![j] as ReleasedCount);
  };
  const rowTotal = (t: ReleasedTable, r: string) =>
    t.rows.includes(r) ? (t.rowTotals[t.rows.indexOf(r)] as ReleasedCount) : 0;
  const columnTotal = (t: ReleasedTable, c: string) =>
    t.columns.includes(c) ? (t.columnTotals[t.columns.indexOf(c)] as ReleasedCount) : 0;
  return {
    rows,
    columns,
    cells: rows.map((r) => columns.map((c) => sum(tables.map((t) => at(t, r, c))))),
    rowTotals: rows.map((r) => sum(tables.map((t) => rowTotal(t, r)))),
    columnTotals: columns.map((c) => sum(tables.map((t) => columnTotal(t, c)))),
    total: sum(tables.map((t) => t.total)),
  };
}

/**
 * Tabulate a view of project `project` at each of `hubs`: this hub answers with `local` when named; each peer runs
 * the tabulation itself after checking the project against its own approval and scope, and releases its table
 * through its own gate. Partial when a hub fails (named). What is returned is the peers' released values,
 * reissued as such, this hub's released table, and sums of those only.
 */
export async function tabulateAcross(
  ctx: { gate: ReleaseGate; policy: DisclosurePolicy; self: string; federation: Federation },
  project: string,
  hubs: readonly string[],
  request: TabulationRequest,
  local: () => Promise<Released<ReleasedTable>>,
): Promise<Released<FederatedTabulation>> {
  const { gate, federation } = ctx;
  const others = hubs.filter((h) => h !== ctx.self);
  const [own, remote] = await Promise.all([
    hubs.includes(ctx.self) ? local() : Promise.resolve(undefined),
    fanOut(
      federation.client,
      others,
      PROJECT_TABULATE_OPERATION,
      { id: project, ...request },
      { timeoutMs: federation.timeoutMs },
    ),
  ]);
  // A peer whose table this hub could not have released itself counts as one that did not answer.
  const figures = new PeerFigures(ctx.policy);
  const { results, failed } = screenPeerAnswers(remote, (value) => checkPeerTable(figures, value));
  const answered: { hub: string; table: Released<ReleasedTable> }[] = [
    ...(own ? [{ hub: ctx.self, table: own }] : []),
    ...results.map((r) => ({ hub: r.hub, table: gate.reissue(r.value as ReleasedTable, 'peer') })),
  ];
  const pooled = poolTables(answered.map((a) => a.table.value));
  if (pooled && (pooled.rows.length > MAX_TABULATION_ROWS || pooled.columns.length > MAX_TABULATION_COLUMNS)) {
    throw new HealthmeshError(
      'PROJECT_TABULATION_INVALID',
      `over the hubs, a tabulation has at most ${MAX_TABULATION_ROWS} row and ${MAX_TABULATION_COLUMNS} column categories: choose a coarser column`,
      { path: pooled.rows.length > MAX_TABULATION_ROWS ? 'rows' : 'columns' },
    );
  }
  return gate.bundle({
    view: request.view,
    hubs: answered,
    failed: describeFailures(failed),
    complete: failed.length === 0,
    // Sums of released counts are derived from released values only.
    pooled: gate.reissue(pooled, 'peer'),
  });
}
