import type { HubServices } from '../context/index.js';
import type { Released, ReleasedCount } from '../privacy/index.js';
import type { AnalyticTables } from '../views/index.js';
import { BUILT_IN_VIEWS } from '../views/index.js';

/** A column an applicant may ask for: its name, type and description (from the view definition; no data). */
export type CatalogColumn = {
  name: string;
  type: string;
  description: string;
};

/** One analytic table as an applicant sees it before any approval. */
export interface CatalogTable {
  view: string;
  table: string;
  resource: string;
  description: string;
  /** When the after-commit pipeline last changed the table (ISO time), or null: never built. */
  refreshedAt: string | null;
  /** Records in the table, released (null under the threshold). */
  rows: ReleasedCount;
  /** The first and last year of the table's date column with a released count of records; null when none. */
  coverage: { date: string; from: string; to: string } | null;
  columns: CatalogColumn[];
}

/** What one hub holds, for applicants: every figure through its release gate. */
export interface ApplicantCatalog {
  hub: string;
  tables: CatalogTable[];
}

type Hub = Pick<HubServices, 'db' | 'gate' | 'config'> & { tables: AnalyticTables };

const DATE_TYPES = new Set(['date', 'dateTime', 'instant']);
/** Dates of a person, not of the care recorded: a table's coverage is the years of its records. */
const NOT_COVERAGE = new Set(['birth_date', 'deceased_date']);

function columnsOf(node: unknown): CatalogColumn[] {
  if (Array.isArray(node)) return node.flatMap(columnsOf);
  if (node === null || typeof node !== 'object') return [];
  const o = node as Record<string, unknown>;
  const own = Array.isArray(o.column)
    ? (o.column as Record<string, unknown>[]).map((c) => ({
        name: String(c.name),
        type: String(c.type ?? 'string'),
        description: String(c.description ?? ''),
      }))
    : [];
  return [...own, ...columnsOf(o.select ?? []), ...columnsOf(o.unionAll ?? [])];
}

/** Each view's columns once (a unionAll repeats them), in definition order. */
const VIEW_COLUMNS = new Map(
  BUILT_IN_VIEWS.map((v) => {
    const seen = new Set<string>();
    return [v.name, columnsOf(v.definition).filter((c) => !seen.has(c.name) && seen.add(c.name))] as const;
  }),
);

/**
 * The catalog for applicants (issue 16 item 2): the analytic tables with their columns and descriptions, released
 * record counts and the years they cover, the same for every role and for peers (`project.catalog`). A year counts
 * towards coverage only when its own count of records passes the gate, so the first or last year never rests on a
 * handful of people; the yearly counts themselves are not sent.
 */
export async function applicantCatalog(hub: Hub): Promise<Released<ApplicantCatalog>> {
  const { gate } = hub;
  const tables = await hub.tables.list();
  const out = [];
  for (const t of tables) {
    const columns = VIEW_COLUMNS.get(t.view) ?? [];
    const date = columns.find((c) => DATE_TYPES.has(c.type) && !NOT_COVERAGE.has(c.name))?.name;
    let coverage: { date: string; from: string; to: string } | null = null;
    if (date !== undefined && t.refreshedAt !== null) {
      // ISO text in the analytic tables: the year is its first four characters (as the column profile reads it).
      const years = await hub.db.all<{ y: string; n: number }>(
        `SELECT SUBSTR(${date}, 1, 4) AS y, COUNT(*) AS n FROM ${t.table} WHERE ${date} IS NOT NULL GROUP BY 1 ORDER BY 1`,
      );
      const shown = years.filter((r) => gate.count(Number(r.n)).value !== null).map((r) => String(r.y));
      if (shown.length > 0) coverage = { date, from: shown[0]!, to: shown[shown.length - 1]! };
    }
    out.push({
      view: t.view,
      table: t.table,
      resource: t.resource,
      description: t.description,
      refreshedAt: t.refreshedAt?.toISOString() ?? null,
      rows: gate.count(t.rows),
      coverage,
      columns,
    });
  }
  return gate.bundle({ hub: hub.config.name, tables: out });
}
