import type { Database, SqlValue } from './database.js';

/**
 * The version row `v` of each row `a` that names one (type, id, version, shard_key), a head or a relation of heads:
 * the one place the store joins a head to its body. `type` replaces `a.type` where the caller knows it as a parameter
 * (the engine can then filter the version table by it before the join). The shard key makes the join one Citus runs
 * within each shard (both tables are distributed by it); elsewhere it is one more equal column.
 */
export function versionJoin(a: string, type = `${a}.type`): string {
  return `JOIN resource_version v ON v.type = ${type} AND v.id = ${a}.id AND v.version = ${a}.version AND v.shard_key = ${a}.shard_key`;
}

/** Current versions: each head `h` with its version row `v`. */
export const CURRENT_VERSIONS = `resource_head h ${versionJoin('h')}`;

/** The columns `fromRow` reads, taken from the version row. */
export const VERSION_COLUMNS = 'v.type, v.id, v.version, v.last_updated, v.patient_key, v.content';

/**
 * Which current resources a read covers; every field narrows it, none given = every current resource.
 * `allows` is a condition of another module's on a patient-key column (a consent filter's `allows`).
 */
export interface CurrentScope {
  /** Only these types. */
  types?: readonly string[];
  /** Only resources in these patients' compartments (by the store's patient key). */
  patients?: readonly string[];
  /** Only resources last updated after this instant. */
  since?: Date;
  /** Only resources last updated at or before this instant. */
  until?: Date;
  /** Only resources in a patient's compartment. */
  inCompartment?: boolean;
}

/** SQL conditions over the head `h` for a scope, binding values through `bind`. */
export function scopeConditions(db: Database, scope: CurrentScope, bind: (v: SqlValue) => string): string[] {
  const where: string[] = [];
  if (scope.until) where.push(`h.last_updated <= ${bind(scope.until)}`);
  if (scope.types) {
    // One type is an equality, as the readers of one type always wrote it.
    if (scope.types.length === 1) where.push(`h.type = ${bind(scope.types[0]!)}`);
    else if (scope.types.length > 0) where.push(`h.type IN (${scope.types.map(bind).join(', ')})`);
  }
  if (scope.patients) where.push(db.inList('h.patient_key', bind([...scope.patients])));
  if (scope.since) where.push(`h.last_updated > ${bind(scope.since)}`);
  if (scope.inCompartment) where.push('h.patient_key IS NOT NULL');
  return where;
}

/** A parameter list and the binder that appends to it (`$n` placeholders, in the order bound). */
export function binder(): { params: SqlValue[]; bind: (v: SqlValue) => string } {
  const params: SqlValue[] = [];
  return {
    params,
    bind: (v) => {
      params.push(v);
      return `$${params.length}`;
    },
  };
}
