/**
 * One person's feature sources with their records held elsewhere (a citizen's records at peers, read for one
 * answer) merged in: the records are flattened by the built-in views' own definitions into temporary tables of the
 * analytic tables' columns, their events drawn by the event index's own SQL (`eventRowsSql`), and each put under
 * the person's patient keys here beside this hub's rows for them. The tables live in the caller's transaction and
 * are dropped by `drop`; nothing of the records is written to the hub's own tables.
 */
import { EVENT_TABLE, eventRowsSql, vocabularyWith } from '../cohort/index.js';
import type { Database, SqlValue } from '../store/index.js';
import type { BuiltInViewName } from '../views/index.js';
import { analyticTable, builtInView, rowsOfResources, SHARD_COLUMN } from '../views/index.js';
import type { FeatureSources } from './feature-sql.js';

/** The views the event index and the table features read. */
const VIEWS: readonly BuiltInViewName[] = [
  'condition',
  'observation',
  'medication_request',
  'procedure',
  'encounter',
  'immunization',
  'lifelog',
];
/** Rows per INSERT: a person's record is small; this bounds a statement's parameters. */
const BATCH = 200;

/**
 * Records held elsewhere, flattened once by the views' definitions: an answer that builds features for several models
 * (a citizen's risks) reads the same records into each build without flattening them again.
 */
export interface FlattenedRecords {
  readonly count: number;
  readonly views: ReadonlyMap<BuiltInViewName, ReturnType<typeof rowsOfResources>>;
}

/** `records` (FHIR resources) as the rows of the views the event index and the table features read. */
export function flattenRecords(region: string, records: readonly Record<string, unknown>[]): FlattenedRecords {
  return {
    count: records.length,
    views: new Map(VIEWS.map((v) => [v, rowsOfResources(builtInView(v), region, records)])),
  };
}

/** The merged relations and the statements that drop them. */
export interface MergedSources {
  sources: FeatureSources;
  drop(tx: Database): Promise<void>;
}

/**
 * Temporary relations holding `patients`' rows here and `records` (flattened FHIR resources) as theirs, for feature
 * SQL over them (`FeatureSources`). Every record is put under every one of the keys: they are the same person's.
 */
export async function mergeRecords(
  tx: Database,
  tag: string,
  patients: readonly string[],
  records: FlattenedRecords,
): Promise<MergedSources> {
  const peerTable = (v: BuiltInViewName) => `merged_${v}_${tag}`;
  const made: string[] = [];
  const columnsOf = new Map<BuiltInViewName, string>();
  for (const v of VIEWS) {
    const { columns, rows } = records.views.get(v)!;
    const table = peerTable(v);
    const names = columns.map((c) => `"${c.name}"`).join(', ');
    await tx.run(`CREATE TEMPORARY TABLE ${table} (${columns.map((c) => `"${c.name}" ${c.sqlType}`).join(', ')})`);
    made.push(table);
    const pk = columns.findIndex((c) => c.name === 'patient_key');
    const owned = rows.flatMap((r) => patients.map((key) => r.map((x, i) => (i === pk ? key : x))));
    for (let at = 0; at < owned.length; at += BATCH) {
      const chunk = owned.slice(at, at + BATCH);
      const params: SqlValue[] = [];
      const tuples = chunk.map((r) => `(${r.map((x) => `$${params.push(x)}`).join(', ')})`);
      await tx.run(`INSERT INTO ${table} (${names}) VALUES ${tuples.join(', ')}`, params);
    }
    columnsOf.set(v, names);
  }
  const events = `merged_events_${tag}`;
  // The hub's index rows for the person (FHIR and OMOP origins alike) and the records' rows, by the index's own SQL.
  await tx.run(
    `CREATE TEMPORARY TABLE ${events} AS
     SELECT patient_key, domain, system, code, event_date, value, unit FROM ${EVENT_TABLE} WHERE ${tx.inList('patient_key', '$1')}
     UNION ALL
     SELECT patient_key, domain, system, code, event_date, value, unit FROM (${eventRowsSql(peerTable)}) r`,
    [patients],
  );
  made.push(events);
  // The table features (lifelog, polygenic) read these whole: this hub's rows for the person join the records',
  // after the events were drawn from the records alone (the index already holds this hub's). The person's rows are
  // found by the shard key, equal to the patient key where there is one: Citus reads only the person's shards.
  for (const v of ['observation', 'lifelog'] as const) {
    const names = columnsOf.get(v)!;
    await tx.run(
      `INSERT INTO ${peerTable(v)} (${names}) SELECT ${names} FROM ${analyticTable(v)} WHERE ${tx.inList(SHARD_COLUMN, '$1')}`,
      [patients],
    );
  }
  return {
    sources: {
      events,
      // Concept sets resolve against the codes present in the index, so the records' codes join them.
      vocabulary: vocabularyWith(events),
      lifelog: peerTable('lifelog'),
      observation: peerTable('observation'),
    },
    drop: async (t) => {
      for (const table of made) await t.run(`DROP TABLE ${table}`);
    },
  };
}
