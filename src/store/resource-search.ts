import type { Database, SqlValue } from './database.js';
import type { StoredVersion } from './resource-store.js';
import { fromRow } from './resource-store.js';

export type DatePrefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le';

/** One parsed search criterion; values within one criterion are OR-ed, criteria are AND-ed. */
export type Criterion =
  | { kind: 'id'; ids: string[] }
  | { kind: 'lastUpdated'; prefix: DatePrefix; low: Date; high: Date }
  | { kind: 'token'; param: string; values: { system?: string | null; code?: string }[] }
  | { kind: 'date'; param: string; prefix: DatePrefix; low: Date; high: Date }
  | { kind: 'reference'; param: string; targets: string[] };

export interface SearchQuery {
  /** Resource types searched (one for type-level search, several or none = all for system-level). */
  types: string[];
  criteria: Criterion[];
  count: number;
  offset: number;
}

export interface SearchPage {
  total: number;
  resources: StoredVersion[];
}

/**
 * Compiles search criteria into SQL over the index tables, in the subset both engines speak. An index row is matched
 * to its head by the shard key too, so Citus runs each criterion within a shard.
 */
export async function searchResources(db: Database, q: SearchQuery): Promise<SearchPage> {
  const params: SqlValue[] = [];
  const p = (v: SqlValue) => {
    params.push(v);
    return `$${params.length}`;
  };
  const where: string[] = [];
  if (q.types.length > 0) where.push(`h.type IN (${q.types.map(p).join(', ')})`);
  for (const c of q.criteria) where.push(criterionSql(c, p));
  const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const [countRow] = await db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM resource_head h ${filter}`, params);
  const total = Number(countRow?.n ?? 0);
  if (q.count === 0 || total === 0) return { total, resources: [] };
  // Page over the small head table first, then fetch only that page's bodies.
  const page = await db.all<{ type: string; id: string; version: number }>(
    `SELECT h.type, h.id, h.version FROM resource_head h ${filter} ORDER BY h.type, h.id LIMIT ${p(q.count)} OFFSET ${p(q.offset)}`,
    params,
  );
  return { total, resources: await fetchVersions(db, page) };
}

/** Bodies of the given (type, id, version) triples, in the order given. */
export async function fetchVersions(
  db: Database,
  keys: readonly { type: string; id: string; version: number }[],
): Promise<StoredVersion[]> {
  if (keys.length === 0) return [];
  const params: SqlValue[] = [];
  const ors: string[] = [];
  for (const k of keys) {
    ors.push(`(type = $${params.length + 1} AND id = $${params.length + 2} AND version = $${params.length + 3})`);
    params.push(k.type, k.id, k.version);
  }
  const rows = await db.all(
    `SELECT type, id, version, last_updated, patient_key, content FROM resource_version WHERE ${ors.join(' OR ')}`,
    params,
  );
  const byKey = new Map(rows.map((r) => [`${String(r.type)}/${String(r.id)}`, fromRow(r)]));
  return keys.map((k) => byKey.get(`${k.type}/${k.id}`)).filter((v): v is StoredVersion => v !== undefined);
}

/** Parameters are bound lazily: an unused placeholder is an error in DuckDB. */
type Bind = () => string;

function rangeSql(prefix: DatePrefix, low: string, high: string, pl: Bind, ph: Bind): string {
  // FHIR R4 3.1.1.5.7: both the value and the parameter are ranges at their precision.
  switch (prefix) {
    case 'eq':
      return `(${low} >= ${pl()} AND ${high} <= ${ph()})`;
    case 'ne':
      return `NOT (${low} >= ${pl()} AND ${high} <= ${ph()})`;
    case 'gt':
      return `${high} > ${ph()}`;
    case 'lt':
      return `${low} < ${pl()}`;
    case 'ge':
      return `${high} >= ${pl()}`;
    case 'le':
      return `${low} <= ${ph()}`;
  }
}

function criterionSql(c: Criterion, p: (v: SqlValue) => string): string {
  switch (c.kind) {
    case 'id':
      return `h.id IN (${c.ids.map(p).join(', ')})`;
    case 'lastUpdated':
      return rangeSql(
        c.prefix,
        'h.last_updated',
        'h.last_updated',
        () => p(c.low),
        () => p(c.high),
      );
    case 'token': {
      const ors = c.values.map((v) => {
        const parts: string[] = [];
        if (v.system === null) parts.push('t.system IS NULL');
        else if (v.system !== undefined) parts.push(`t.system = ${p(v.system)}`);
        if (v.code !== undefined) parts.push(`t.code = ${p(v.code)}`);
        return parts.length > 0 ? `(${parts.join(' AND ')})` : 'TRUE';
      });
      return `EXISTS (SELECT 1 FROM search_token t WHERE t.type = h.type AND t.id = h.id AND t.shard_key = h.shard_key AND t.param = ${p(c.param)} AND (${ors.join(' OR ')}))`;
    }
    case 'date':
      return `EXISTS (SELECT 1 FROM search_date d WHERE d.type = h.type AND d.id = h.id AND d.shard_key = h.shard_key AND d.param = ${p(c.param)} AND ${rangeSql(
        c.prefix,
        'd.low',
        'd.high',
        () => p(c.low.getTime()),
        () => p(c.high.getTime()),
      )})`;
    case 'reference':
      return `EXISTS (SELECT 1 FROM search_reference r WHERE r.type = h.type AND r.id = h.id AND r.shard_key = h.shard_key AND r.param = ${p(c.param)} AND r.target IN (${c.targets.map(p).join(', ')}))`;
  }
}
