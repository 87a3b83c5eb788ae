import type { HubServices } from '../context/index.js';
import { HealthmeshError } from '../core/index.js';
import type { CountTable } from '../privacy/index.js';
import type { BuiltInViewName } from '../views/index.js';
import { analyticTable, builtInView, CompiledView } from '../views/index.js';
import type { ProjectScope } from './project-registry.js';
import type { ProjectUses } from './project-uses.js';

/** A workspace's tabulation: people of one view's analytic table counted by one column, or by two. */
export interface TabulationRequest {
  view: string;
  rows: string;
  columns?: string;
}

/** The project variables a tabulation reads, as `view.column` (what a project's scope approves). */
export function tabulationVariables(request: TabulationRequest): string[] {
  return [request.rows, ...(request.columns === undefined ? [] : [request.columns])].map((c) => `${request.view}.${c}`);
}

/**
 * A peer's tabulation request (`project.tabulate`), checked field by field: it arrives signed but not through the
 * route's schema. Names are checked again against the view before any SQL.
 */
export function parseTabulationRequest(body: unknown): TabulationRequest & { id: string } {
  const b = (body ?? {}) as Record<string, unknown>;
  const text = (field: string, optional = false): string | undefined => {
    const v = b[field];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > 100)
      throw new HealthmeshError('PROJECT_TABULATION_INVALID', `${field} must be a name`, { path: field });
    return v;
  };
  const columns = text('columns', true);
  return {
    id: text('id') as string,
    view: text('view') as string,
    rows: text('rows') as string,
    ...(columns !== undefined && { columns }),
  };
}

/** Outputs are results to publish, not extracts: a column with more categories than this is refused. */
export const MAX_TABULATION_ROWS = 50;
export const MAX_TABULATION_COLUMNS = 20;
const COLUMN = /^[a-z][a-z0-9_]{0,62}$/;
const NONE = '(none)';

/**
 * The people of `scope`'s approved view counted by the values of one or two of its approved columns, for the
 * project's purpose (people whose consent refuses it are left out, in the SQL), as a count table for the release
 * gate. The view's rows never leave the hub: only these counts, which the caller passes through `gate.table`.
 * The caller has checked the view and columns against the project (`authorize`); here they are checked against
 * the view (so the names are safe to quote into SQL) and the categories against the limits. Given `use`, the people
 * counted are recorded as the project's use (`ProjectUses`), so each of them sees it.
 */
export async function tabulateInWorkspace(
  hub: Pick<HubServices, 'db' | 'consent' | 'derived'>,
  scope: ProjectScope,
  request: TabulationRequest,
  use?: { uses: ProjectUses; requester: string },
): Promise<CountTable> {
  const view = builtInView(request.view);
  // The analytic table's columns are the view's (docs/views.md); `%region` only matters to the rows.
  const compiled = CompiledView.compile(view.definition, { constants: { region: 'workspace' } });
  const names = new Set(compiled.columns.map((c) => c.name));
  const person = names.has('patient_key') ? 'patient_key' : 'id';
  for (const [field, column] of [
    ['rows', request.rows],
    ['columns', request.columns],
  ] as const) {
    if (column !== undefined && (!COLUMN.test(column) || !names.has(column))) {
      throw new HealthmeshError('PROJECT_TABULATION_INVALID', `view '${view.name}' has no column '${column}'`, {
        path: field,
      });
    }
  }
  await hub.derived.assertCurrent();
  const consent = await hub.consent.filter(scope.purpose);
  // One column groups by it alone (a constant second key is not portable SQL); the one column of counts is `all`.
  const byColumn =
    request.columns === undefined ? '' : `, COALESCE(CAST(t."${request.columns}" AS VARCHAR), '${NONE}') AS c`;
  const counted = (
    await hub.db.all<{ r: string; c?: string; n: unknown }>(
      `SELECT COALESCE(CAST(t."${request.rows}" AS VARCHAR), '${NONE}') AS r${byColumn},
         COUNT(DISTINCT t.${person}) AS n
       FROM ${analyticTable(view.name as BuiltInViewName)} t
       WHERE ${consent.allows(`t.${person}`)}
       GROUP BY ${request.columns === undefined ? '1' : '1, 2'}`,
    )
  ).map((x) => ({ r: x.r, c: x.c ?? 'all', n: x.n }));
  const rows = [...new Set(counted.map((x) => x.r))].sort();
  const columns = [...new Set(counted.map((x) => x.c))].sort();
  if (rows.length > MAX_TABULATION_ROWS || columns.length > MAX_TABULATION_COLUMNS) {
    throw new HealthmeshError(
      'PROJECT_TABULATION_INVALID',
      `a tabulation has at most ${MAX_TABULATION_ROWS} row and ${MAX_TABULATION_COLUMNS} column categories: choose a coarser column`,
      { path: rows.length > MAX_TABULATION_ROWS ? 'rows' : 'columns' },
    );
  }
  if (rows.length === 0) return { rows: [NONE], columns: ['all'], cells: [[0]] };
  // The people counted are the project's use of their data, whatever the gate then publishes of the counts.
  await use?.uses.record(scope.id, 'tabulation', tabulationVariables(request).join(','), use.requester, {
    sql: `SELECT DISTINCT t.${person} AS patient_key FROM ${analyticTable(view.name as BuiltInViewName)} t WHERE ${consent.allows(`t.${person}`)}`,
  });
  const cells = rows.map(() => columns.map(() => 0));
  for (const x of counted) cells[rows.indexOf(x.r)]![columns.indexOf(x.c)] = Number(x.n);
  return { rows, columns, cells };
}
