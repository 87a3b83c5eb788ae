import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  EVENT_COLUMNS,
  EVENT_TABLE,
  eventIndexSelects,
  eventRowsSql,
  FHIR_ORIGIN,
  refreshEventIndex,
  searchConcepts,
} from '../src/cohort/index.js';
import type { Hub } from '../src/hub/index.js';
import type { IngestSummary } from '../src/ingest/index.js';
import { tabulateInWorkspace } from '../src/projects/index.js';
import { searchResources } from '../src/store/index.js';
import { generateRegion } from '../src/synth/index.js';
import { analyticTable } from '../src/views/index.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

/**
 * The resource store on a Citus cluster (issue 21, docs/citus.md): its tables are distributed by the shard key,
 * co-located with the person-level tables, both workers' shards hold rows after an ingest, and reads by (type, id),
 * searches and updates (heads moving, index rows replaced) answer as on one node, for resources in a patient's
 * compartment and outside every one (Organization, Device: the shard key ''). The analytic tables are distributed in
 * the same group (the Patient view's by its patient key, the others by their shard key), and so is `view_source`, by
 * the shard key of the resource each row records.
 */
const STORE_TABLES = ['resource_version', 'resource_head', 'search_token', 'search_date', 'search_reference'];
/**
 * Analytic tables and the column each is distributed by (`distributionColumn` in the views module): the Patient
 * view's `id` (its patient key), every other view's `_shard_key` (the patient key, or '' without a patient subject).
 */
const PERSON_VIEWS = [
  ['view_patient', 'id'],
  ['view_condition', '_shard_key'],
  ['view_consent', '_shard_key'],
  ['view_encounter', '_shard_key'],
  ['view_immunization', '_shard_key'],
  ['view_lifelog', '_shard_key'],
  ['view_medication_request', '_shard_key'],
  ['view_observation', '_shard_key'],
  ['view_procedure', '_shard_key'],
] as const;
/** The views (and view_source) whose rows the 20 synthetic people spread over both workers' shards. */
const BUSY_VIEWS = [
  'view_patient',
  'view_condition',
  'view_encounter',
  'view_observation',
  'view_procedure',
  'view_source',
];

describe('the resource store distributed by patient on a Citus cluster', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-citus-store-'));
  let hub: Hub;
  let cleanup: () => Promise<void>;
  let updated: IngestSummary;
  let organization: string;
  let patient: string;

  beforeAll(async () => {
    ({ hub, cleanup } = await tempHub('citus-store'));
    const input = join(root, 'input');
    generateRegion({ region: 'gwangju', people: 20, seed: 'citus-store', out: input });
    const files = readdirSync(input)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(input, f));
    await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: 'synth-gwangju' }));
    // One Organization and one Patient changed at their source: the staged write moves their heads across shards'
    // tables (delete and insert) within one transaction.
    const changed = join(root, 'changed');
    mkdirSync(changed);
    for (const type of ['Organization', 'Patient']) {
      const first = readFileSync(join(input, `${type}.ndjson`), 'utf8').split('\n')[0]!;
      const resource = { ...(JSON.parse(first) as Record<string, unknown>), active: false };
      writeFileSync(join(changed, `${type}.ndjson`), `${JSON.stringify(resource)}\n`);
    }
    updated = await hub.ingest.ingestPaths([changed], ingestOptions(hub, { source: 'synth-gwangju' }));
    const moved = async (type: string) => {
      const heads = await hub.db.all<{ id: string }>('SELECT id FROM resource_head WHERE type = $1 AND version = 2', [
        type,
      ]);
      expect(heads).toHaveLength(1);
      return heads[0]!.id;
    };
    organization = await moved('Organization');
    patient = await moved('Patient');
  }, 240_000);

  afterAll(async () => {
    await cleanup?.();
    rmSync(root, { recursive: true, force: true });
  });

  /** Citus's placement of every table it knows, by name, and the event index's (the co-location group to join). */
  async function placements() {
    const rows = await hub.db.all<{ t: string; kind: string; col: string; colocation: number }>(
      `SELECT table_name::TEXT AS t, citus_table_type AS kind, distribution_column AS col, colocation_id AS colocation
         FROM citus_tables`,
    );
    const byName = new Map(rows.map((r) => [r.t, r]));
    return { byName, events: byName.get('cohort_event')! };
  }

  it('distributes every store table by shard_key, co-located with the event index', async () => {
    const { byName, events } = await placements();
    for (const t of STORE_TABLES) {
      expect(byName.get(t), t).toMatchObject({ kind: 'distributed', col: 'shard_key', colocation: events.colocation });
    }
    const [off] = await hub.db.all<{ n: number }>(
      `SELECT COUNT(*) AS n FROM resource_head WHERE shard_key <> COALESCE(patient_key, '')`,
    );
    expect(off?.n).toBe(0);
  });

  it('distributes every analytic table by its person column in that group, and view_source by its shard key', async () => {
    const { byName, events } = await placements();
    for (const [t, col] of PERSON_VIEWS) {
      expect(byName.get(t), t).toMatchObject({ kind: 'distributed', col, colocation: events.colocation });
    }
    const views = await hub.db.all<{ t: string }>('SELECT table_name AS t FROM view_table ORDER BY 1');
    expect(views.map((v) => v.t)).toEqual(PERSON_VIEWS.map(([t]) => t).sort());
    expect(byName.get('view_source')).toMatchObject({
      kind: 'distributed',
      col: 'shard_key',
      colocation: events.colocation,
    });
    // Each view's record of a resource carries the resource's shard key: it meets the resource's head in its shard.
    const [records] = await hub.db.all<{ n: number; matched: number }>(
      `SELECT COUNT(*) AS n, COUNT(h.id) AS matched FROM view_source s
         LEFT JOIN resource_head h ON h.shard_key = s.shard_key AND h.id = s.id AND h.version = s.version`,
    );
    expect(Number(records?.n)).toBeGreaterThan(0);
    expect(Number(records?.matched)).toBe(Number(records?.n));
    // Every person of the Patient view is one of the event index's people, joined within each shard.
    const [joined] = await hub.db.all<{ people: number; matched: number }>(
      `SELECT COUNT(*) AS people, COUNT(c.patient_key) AS matched
         FROM view_patient p LEFT JOIN cohort_person c ON c.patient_key = p.id`,
    );
    expect(Number(joined?.people)).toBe(20);
    expect(Number(joined?.matched)).toBe(20);
    // A workspace tabulation's form (count of people under a purpose's consent filter) runs on it as on the index.
    for (const purpose of hub.consent.policy.names()) {
      const consent = await hub.consent.filter(purpose);
      const count = async (sql: string) => Number((await hub.db.all<{ n: number }>(sql))[0]?.n);
      const people = await count(
        `SELECT COUNT(DISTINCT t.id) AS n FROM view_patient t WHERE ${consent.allows('t.id')}`,
      );
      expect(people, purpose).toBe(
        await count(`SELECT COUNT(*) AS n FROM cohort_person c WHERE ${consent.allows('c.patient_key')}`),
      );
    }
  });

  it('keys each analytic row by its patient, or by the empty shard key without a patient subject', async () => {
    for (const [t, col] of PERSON_VIEWS) {
      if (col !== '_shard_key') continue;
      const [row] = await hub.db.all<{ off: number; subjectless: number; unkeyed: number }>(
        `SELECT COUNT(*) FILTER (WHERE _shard_key <> COALESCE(patient_key, '')) AS off,
                COUNT(*) FILTER (WHERE _shard_key = '') AS subjectless,
                COUNT(*) FILTER (WHERE patient_key IS NULL) AS unkeyed
           FROM ${t}`,
      );
      expect(Number(row?.off), t).toBe(0);
      expect(Number(row?.subjectless), t).toBe(Number(row?.unkeyed));
    }
  });

  it('joins the analytic tables to the person-level tables within each shard by the distribution column', async () => {
    // Citus runs a join of distributed tables only co-located on their distribution columns (repartition joins are
    // off): by the shard key, each view's rows meet their person's events and people in one shard, and give what the
    // patient key gives, since rows without a patient match no person either way.
    for (const [t, col] of PERSON_VIEWS) {
      if (col !== '_shard_key') continue;
      const [shard] = await hub.db.all<{ n: number; people: number }>(
        `SELECT COUNT(*) AS n, COUNT(DISTINCT v.patient_key) AS people
           FROM ${t} v JOIN cohort_person p ON p.patient_key = v._shard_key`,
      );
      const [patients] = await hub.db.all<{ n: number; people: number }>(
        `SELECT COUNT(*) AS n, COUNT(DISTINCT v.patient_key) AS people
           FROM ${t} v WHERE v.patient_key IN (SELECT patient_key FROM cohort_person)`,
      );
      expect(shard, t).toEqual(patients);
    }
    const [events] = await hub.db.all<{ n: number }>(
      `SELECT COUNT(*) AS n FROM view_condition v JOIN cohort_event e
          ON e.patient_key = v._shard_key AND e.domain = 'condition' AND e.code = v.code_code`,
    );
    expect(Number(events?.n)).toBeGreaterThan(0);
  });

  it("builds the event index within each shard: every source's INSERT … SELECT is pushed down", async () => {
    // As the PostgreSQL engine runs them on a coordinator (Database.insertSelects): one INSERT per source. Citus
    // pulls an INSERT … SELECT it cannot push down through the coordinator ("Citus INSERT ... SELECT", method "pull
    // to coordinator" or "repartition"); a pushed-down one is one task per shard of the event index.
    const into = `INSERT INTO ${EVENT_TABLE} (${EVENT_COLUMNS.join(', ')})`;
    const selects = eventIndexSelects();
    expect(selects.length).toBeGreaterThan(1);
    for (const select of selects) {
      const plan = (await hub.db.all<{ 'QUERY PLAN': string }>(`EXPLAIN ${into} ${select}`))
        .map((r) => r['QUERY PLAN'])
        .join('\n');
      expect(plan, select).not.toMatch(/INSERT \.\.\. SELECT|pull to coordinator|repartition/);
      expect(plan, select).toMatch(/Custom Scan \(Citus Adaptive\)/);
      expect(plan, select).toMatch(/Task Count: 8/);
    }
    // The build gives the events the analytic tables hold by their patient key (the shard key read in its place
    // names the same people), domain by domain.
    expect(await refreshEventIndex(hub.db, hub.clock, true)).toBe(true);
    const perDomain = (from: string) =>
      hub.db.all(
        `SELECT domain, COUNT(*) AS n, COUNT(DISTINCT patient_key) AS people, COUNT(DISTINCT code) AS codes
           FROM ${from} GROUP BY domain ORDER BY domain`,
      );
    const built = await perDomain(`${EVENT_TABLE} WHERE origin = '${FHIR_ORIGIN}'`);
    expect(built.length).toBeGreaterThan(3);
    expect(built).toEqual(await perDomain(`(${eventRowsSql(analyticTable)}) e`));
  });

  it("spreads a project's used people by person and finds a person's uses across shards", async () => {
    const { byName, events } = await placements();
    expect(byName.get('project_use_person')).toMatchObject({
      kind: 'distributed',
      col: 'patient_key',
      colocation: events.colocation,
    });
    await hub.db.run(
      `INSERT INTO project (id, origin, applicant, title, purpose, end_date, application, filed_at)
       VALUES ('p-citus', 'here', 'someone', 'Citus', 'research', '2030-01-01', '{}', $1)`,
      [new Date()],
    );
    // A tabulation's population, by the workspace's SQL over a distributed analytic table.
    await hub.projectUses.record('p-citus', 'tabulation', 'observation:status', 'someone', {
      sql: 'SELECT DISTINCT t.patient_key FROM view_observation t',
    });
    const [used] = await hub.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM project_use_person');
    const [people] = await hub.db.all<{ n: number }>('SELECT COUNT(DISTINCT patient_key) AS n FROM view_observation');
    expect(Number(used?.n)).toBeGreaterThan(0);
    expect(Number(used?.n)).toBe(Number(people?.n));
    const [someone] = await hub.db.all<{ k: string }>('SELECT patient_key AS k FROM project_use_person LIMIT 1');
    const found = await hub.projectUses.including([someone!.k, 'nobody'], []);
    expect(found.map((u) => [u.projectId, u.kind])).toEqual([['p-citus', 'tabulation']]);
    expect(await hub.projectUses.including(['nobody'], [])).toEqual([]);
  });

  it('tabulates a distributed analytic table in a workspace and searches its concepts as the rows say', async () => {
    let counted = 0;
    for (const purpose of hub.consent.policy.names()) {
      const scope = { id: 'p-tab', hub: 'here', purpose, members: [], tables: [], endDate: '2030-01-01' };
      const table = await tabulateInWorkspace(hub, scope, { view: 'condition', rows: 'clinical_status' });
      // The same counts from the rows themselves: people with a patient, under the purpose's consent filter.
      const consent = await hub.consent.filter(purpose);
      const allowed = new Set(
        (
          await hub.db.all<{ k: string }>(
            `SELECT patient_key AS k FROM cohort_person c WHERE ${consent.allows('c.patient_key')}`,
          )
        ).map((r) => r.k),
      );
      const rows = await hub.db.all<{ s: string | null; k: string }>(
        'SELECT clinical_status AS s, patient_key AS k FROM view_condition WHERE patient_key IS NOT NULL',
      );
      const people = new Map<string, Set<string>>();
      for (const r of rows) {
        if (!allowed.has(r.k)) continue;
        const s = r.s ?? '(none)';
        people.set(s, (people.get(s) ?? new Set()).add(r.k));
      }
      counted += people.size;
      for (const [i, r] of table.rows.entries()) {
        expect(table.cells[i]![0], `${purpose} ${r}`).toBe(people.get(r)?.size ?? 0);
      }
    }
    expect(counted).toBeGreaterThan(0);
    const [code] = await hub.db.all<{ d: string }>(
      'SELECT code_display AS d FROM view_condition WHERE code_display IS NOT NULL LIMIT 1',
    );
    const found = await searchConcepts(hub, code!.d.slice(0, 6));
    expect(found.some((c) => c.display === code!.d)).toBe(true);
  });

  it('holds rows in shards on both workers after an ingest', async () => {
    const workers = (inject('citusWorkers') ?? []).map((u) => Number(new URL(u).port));
    expect(workers).toHaveLength(2);
    for (const t of [...STORE_TABLES, ...BUSY_VIEWS]) {
      const placed = await hub.db.all<{ port: number; n: number }>(
        `SELECT nodeport AS port, SUM(result::BIGINT) AS n
           FROM run_command_on_placements($1::regclass, 'SELECT COUNT(*) FROM %s') GROUP BY nodeport`,
        [t],
      );
      const [total] = await hub.db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`);
      expect(Number(total?.n), t).toBeGreaterThan(0);
      for (const port of workers) expect(Number(placed.find((p) => p.port === port)?.n ?? 0), t).toBeGreaterThan(0);
      expect(
        placed.reduce((n, p) => n + Number(p.n), 0),
        t,
      ).toBe(Number(total?.n));
    }
  });

  it('reads a resource by type and id without its patient key, in a compartment or outside every one', async () => {
    expect(updated.totals.updated).toBe(2);
    for (const [type, id] of [
      ['Organization', organization],
      ['Patient', patient],
    ] as const) {
      const current = await hub.store.read(type, id);
      expect(current?.version, type).toBe(2);
      expect(JSON.parse(current!.content).active, type).toBe(false);
      expect((await hub.store.history(type, id)).map((v) => v.version)).toEqual([2, 1]);
      expect((await hub.store.vread(type, id, 1))?.version).toBe(1);
      const [heads] = await hub.db.all<{ n: number }>(
        'SELECT COUNT(*) AS n FROM resource_head WHERE type = $1 AND id = $2',
        [type, id],
      );
      expect(heads?.n).toBe(1);
    }
    expect((await hub.store.read('Organization', organization))?.patientKey).toBeNull();
  });

  it('searches the index tables joined to the heads within each shard', async () => {
    const [target] = await hub.db.all<{ target: string; n: number }>(
      `SELECT target, COUNT(DISTINCT id) AS n FROM search_reference WHERE type = 'Observation' AND param = 'subject'
        GROUP BY target ORDER BY target LIMIT 1`,
    );
    expect(Number(target?.n)).toBeGreaterThan(0);
    const page = await searchResources(hub.db, {
      types: ['Observation'],
      criteria: [{ kind: 'reference', param: 'subject', targets: [target!.target] }],
      count: 5,
      offset: 0,
    });
    expect(page.total).toBe(Number(target!.n));
    expect(page.resources).toHaveLength(Math.min(5, Number(target!.n)));
  });

  it('keeps the analytic tables distributed, with the same rows, when a refresh rebuilds them', async () => {
    const before = await hub.db.all('SELECT view, row_count FROM view_table ORDER BY view');
    const summary = await hub.tables.refresh({ rebuild: true });
    expect(summary.views.find((v) => v.view === 'patient')).toMatchObject({ rebuilt: true, rows: 20 });
    expect(await hub.db.all('SELECT view, row_count FROM view_table ORDER BY view')).toEqual(before);
    const { byName } = await placements();
    for (const [t, col] of PERSON_VIEWS) expect(byName.get(t), t).toMatchObject({ kind: 'distributed', col });
  });
});
