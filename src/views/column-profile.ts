import type { Database } from '../store/index.js';
import type { MaterialisedView } from './materialised-view.js';
import type { sqlType } from './table-schema.js';

/** How a column's values are summarised in the data catalog. */
export type ProfileKind = 'key' | 'categorical' | 'numeric' | 'date' | 'text';

/**
 * One column of an analytic table, profiled: raw counts, for the caller to pass through disclosure control
 * before they leave the hub (the console route does).
 */
export interface ColumnProfile {
  name: string;
  type: string;
  description: string;
  kind: ProfileKind;
  /** Rows where the column is not null. */
  filled: number;
  distinct: number;
  /** Commonest values (categorical) or years (date), with their row counts, most frequent or earliest first. */
  values?: { value: string; rows: number }[];
  /** Nearest-rank quartiles of a numeric column. */
  quartiles?: { p25: number; median: number; p75: number };
}

export interface TableProfile {
  view: string;
  table: string;
  rows: number;
  columns: ColumnProfile[];
}

/** Values listed per categorical column: enough for a bar chart, few enough to read. */
const TOP_VALUES = 8;

/**
 * Ids, references and free text are not summarised by value: keys are pseudonyms (a distribution of them means
 * nothing) and free text can hold anything a clinician typed.
 */
export function profileKind(name: string, type: string, sql: ReturnType<typeof sqlType>): ProfileKind {
  if (name === 'id' || name.endsWith('_key')) return 'key';
  if (/(^|_)(text|string|note)$/.test(name)) return 'text';
  if (sql === 'BIGINT' || sql === 'DOUBLE') return 'numeric';
  if (type === 'date' || type === 'dateTime' || type === 'instant') return 'date';
  return 'categorical';
}

const num = (v: unknown) => (typeof v === 'bigint' ? Number(v) : Number(v ?? 0));

/**
 * Profile every column of a materialised view's table with portable SQL: counts, the commonest values, years of
 * dates (ISO text, so the first four characters), and quartiles by nearest rank (ORDER BY … OFFSET), which both
 * engines speak without a dialect's percentile function.
 */
export async function profileTable(db: Database, m: MaterialisedView): Promise<TableProfile> {
  const t = m.table;
  const [total] = await db.all<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${t}`);
  const rows = num(total?.n);
  const columns: ColumnProfile[] = [];
  for (let i = 0; i < m.view.columns.length; i++) {
    const c = m.view.columns[i]!;
    const sql = m.sqlTypes[i]!;
    const col = `"${c.name}"`;
    const kind = profileKind(c.name, c.type, sql);
    const [counts] = await db.all<{ filled: unknown; distinct_values: unknown }>(
      `SELECT COUNT(${col}) AS filled, COUNT(DISTINCT ${col}) AS distinct_values FROM ${t}`,
    );
    const profile: ColumnProfile = {
      name: c.name,
      type: c.type,
      description: c.description ?? '',
      kind,
      filled: num(counts?.filled),
      distinct: num(counts?.distinct_values),
    };
    if (kind === 'categorical') {
      const top = await db.all<{ v: unknown; n: unknown }>(
        `SELECT CAST(${col} AS VARCHAR) AS v, COUNT(*) AS n FROM ${t} WHERE ${col} IS NOT NULL
         GROUP BY CAST(${col} AS VARCHAR) ORDER BY n DESC, v LIMIT ${TOP_VALUES}`,
      );
      profile.values = top.map((r) => ({ value: String(r.v), rows: num(r.n) }));
    } else if (kind === 'date') {
      const years = await db.all<{ v: unknown; n: unknown }>(
        `SELECT SUBSTR(${col}, 1, 4) AS v, COUNT(*) AS n FROM ${t} WHERE ${col} IS NOT NULL
         GROUP BY SUBSTR(${col}, 1, 4) ORDER BY v`,
      );
      profile.values = years.map((r) => ({ value: String(r.v), rows: num(r.n) }));
    } else if (kind === 'numeric' && profile.filled > 0) {
      const at = async (q: number): Promise<number> => {
        const offset = Math.min(profile.filled - 1, Math.max(0, Math.ceil(q * profile.filled) - 1));
        const [r] = await db.all<{ v: unknown }>(
          `SELECT ${col} AS v FROM ${t} WHERE ${col} IS NOT NULL ORDER BY ${col} LIMIT 1 OFFSET ${offset}`,
        );
        return num(r?.v);
      };
      profile.quartiles = { p25: await at(0.25), median: await at(0.5), p75: await at(0.75) };
    }
    columns.push(profile);
  }
  return { view: m.name, table: t, rows, columns };
}
