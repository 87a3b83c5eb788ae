import type { OmopHolding } from '../cohort/index.js';
import { omopHoldings } from '../cohort/index.js';
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

/** One analytic table (or loaded OMOP CDM table) as an applicant sees it before any approval. */
export interface CatalogTable {
  /** The view's name; `omop:<source>:<table>` for a table of a loaded OMOP CDM. */
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

/** What an OMOP table is loaded as: its events in the event index, queried by cohorts and feature specs. */
const OMOP_COLUMNS: readonly CatalogColumn[] = [
  { name: 'patient_key', type: 'string', description: 'the person, pseudonymised with the hub key' },
  { name: 'concept_id', type: 'code', description: 'the OMOP concept (also indexed under its vocabulary code)' },
  { name: 'date', type: 'date', description: 'the start date of the record' },
  { name: 'value', type: 'decimal', description: 'value_as_number (measurement, observation)' },
  { name: 'unit', type: 'string', description: 'unit_source_value (measurement)' },
];
const PERSON_COLUMNS: readonly CatalogColumn[] = [
  { name: 'patient_key', type: 'string', description: 'the person, pseudonymised with the hub key' },
  { name: 'gender', type: 'code', description: 'from gender_concept_id' },
  { name: 'birth', type: 'date', description: 'year_of_birth, month_of_birth, day_of_birth' },
  { name: 'observation', type: 'Period', description: 'observation_period start and end' },
  { name: 'death_date', type: 'date', description: 'from the death table' },
];

/** The key of an OMOP table in the catalog (`CatalogTable.view`). */
export const omopCatalogKey = (source: string, table: string) => `omop:${source}:${table}`;

/** Exact rows of every catalog entry by `view`: the analytic tables' and the loaded OMOP tables'. */
export async function catalogRows(hub: Hub): Promise<Map<string, number>> {
  const rows = new Map((await hub.tables.list()).map((t) => [t.view, t.rows]));
  for (const o of await omopHoldings(hub.db)) {
    rows.set(omopCatalogKey(o.source, 'person'), o.persons);
    for (const t of o.tables) rows.set(omopCatalogKey(o.source, t.table), t.rows);
  }
  return rows;
}

/** A loaded CDM's person table and clinical tables as catalog entries, every figure through the gate. */
function omopEntries(o: OmopHolding, gate: Hub['gate']) {
  const person = {
    view: omopCatalogKey(o.source, 'person'),
    table: 'person',
    resource: 'OMOP CDM',
    description: `OMOP CDM ${o.source}: persons`,
    refreshedAt: o.loadedAt,
    rows: gate.count(o.persons),
    coverage: null,
    columns: [...PERSON_COLUMNS],
  };
  return [
    person,
    ...o.tables.map((t) => {
      // As for the analytic tables: a year counts only when its own count passes the gate.
      const shown = t.years.filter((y) => gate.count(y.rows).value !== null).map((y) => y.year);
      const first = shown[0];
      const last = shown[shown.length - 1];
      return {
        view: omopCatalogKey(o.source, t.table),
        table: t.table,
        resource: 'OMOP CDM',
        description: `OMOP CDM ${o.source}: ${t.table.replace(/_/g, ' ')}`,
        refreshedAt: o.loadedAt,
        rows: gate.count(t.rows),
        coverage: first !== undefined && last !== undefined ? { date: 'date', from: first, to: last } : null,
        columns: [...OMOP_COLUMNS],
      };
    }),
  ];
}

/**
 * The catalog for applicants (issue 16 item 2): the analytic tables with their columns and descriptions, released
 * record counts and the years they cover, then the tables of loaded OMOP CDMs (which never pass through the views), the same for every role and for peers (`project.catalog`). A year counts
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
  for (const o of await omopHoldings(hub.db)) out.push(...omopEntries(o, gate));
  return gate.bundle({ hub: hub.config.name, tables: out });
}
