import type { ConsentFilter } from '../privacy/index.js';
import type { Database, SqlValue } from '../store/index.js';
import type { CompiledView, ViewRow } from './view-compiler.js';

export interface RunScope {
  /** Only resources in these patients' compartments (by the store's patient_key). */
  patients?: readonly string[];
  /** Only resources last updated after this instant. */
  since?: Date;
  /** Stop after this many rows. */
  limit?: number;
  /** Leave out the resources of people whose consent refuses this filter's purpose (resources of no patient stay). */
  consent?: ConsentFilter;
}

function scopeFilter(db: Database, view: CompiledView, scope: RunScope): { filter: string; params: SqlValue[] } {
  const params: SqlValue[] = [view.definition.resource];
  let filter = '';
  if (scope.patients) {
    params.push([...scope.patients]);
    filter += ` AND ${db.inList('h.patient_key', `$${params.length}`)}`;
  }
  if (scope.since) {
    params.push(scope.since);
    filter += ` AND h.last_updated > $${params.length}`;
  }
  return { filter, params };
}

/** How many people's resources of the view's type in the scope its consent filter leaves out. */
export async function consentLeftOut(db: Database, view: CompiledView, scope: RunScope): Promise<number> {
  if (scope.consent === undefined) return 0;
  const { filter, params } = scopeFilter(db, view, scope);
  const [r] = await db.all<{ n: unknown }>(
    `SELECT COUNT(DISTINCT h.patient_key) AS n FROM resource_head h
     WHERE h.type = $1${filter} AND h.patient_key IS NOT NULL AND NOT (${scope.consent.allows('h.patient_key')})`,
    params,
  );
  return Number(r?.n ?? 0);
}

/**
 * Run a compiled view over the current resources of its type in the store, yielding rows in batches (one per
 * store chunk): memory stays bounded however many resources match.
 */
export async function* runOverStore(db: Database, view: CompiledView, scope: RunScope = {}): AsyncIterable<ViewRow[]> {
  const { params, filter: scoped } = scopeFilter(db, view, scope);
  const filter =
    scope.consent !== undefined
      ? `${scoped} AND (h.patient_key IS NULL OR ${scope.consent.allows('h.patient_key')})`
      : scoped;
  let left = scope.limit ?? Number.POSITIVE_INFINITY;
  if (left <= 0) return;
  const sql = `SELECT v.version, v.last_updated, v.content FROM resource_head h
    JOIN resource_version v ON v.type = h.type AND v.id = h.id AND v.version = h.version
    WHERE h.type = $1${filter} ORDER BY h.id`;
  for await (const chunk of db.stream<{ version: number; last_updated: unknown; content: string }>(sql, params)) {
    const out: ViewRow[] = [];
    for (const r of chunk) {
      const resource = JSON.parse(r.content) as Record<string, unknown>;
      const meta = (resource.meta ?? {}) as Record<string, unknown>;
      const updated = r.last_updated instanceof Date ? r.last_updated : new Date(String(r.last_updated));
      resource.meta = { ...meta, versionId: String(r.version), lastUpdated: updated.toISOString() };
      for (const row of view.rows(resource)) {
        out.push(row);
        if (--left <= 0) break;
      }
      if (left <= 0) break;
    }
    if (out.length > 0) yield out;
    if (left <= 0) return;
  }
}

/** Run a compiled view over resources given in memory (the `resource` parameters of `$run`). */
export async function* runOverResources(
  view: CompiledView,
  resources: readonly Record<string, unknown>[],
  limit = Number.POSITIVE_INFINITY,
): AsyncIterable<ViewRow[]> {
  const out: ViewRow[] = [];
  for (const r of resources) {
    for (const row of view.rows(r)) {
      if (out.length >= limit) break;
      out.push(row);
    }
  }
  yield out;
}
