import type { Migration } from '../store/index.js';

/**
 * The projects module's tables. `project` holds an application as filed (the validated JSON, one copy at its origin
 * hub and one at each peer it touches); `project_hub` one row per hub the project touches with that hub's decision
 * and approved scope (a hub writes its own row; the origin also keeps what it last learned from each peer);
 * `project_member` the team, with removals kept; `project_event` the history every party sees.
 */
export const projectMigrations: readonly Migration[] = [
  {
    module: 'projects',
    version: 1,
    name: 'project applications, per-hub decisions, members and history',
    statements: [
      `CREATE TABLE project (
        id VARCHAR NOT NULL,
        origin VARCHAR NOT NULL,
        applicant VARCHAR NOT NULL,
        title VARCHAR NOT NULL,
        purpose VARCHAR NOT NULL,
        end_date VARCHAR NOT NULL,
        application VARCHAR NOT NULL,
        filed_at TIMESTAMPTZ NOT NULL
      )`,
      `CREATE TABLE project_hub (
        project_id VARCHAR NOT NULL,
        hub VARCHAR NOT NULL,
        decision VARCHAR NOT NULL,
        scope VARCHAR,
        conditions VARCHAR,
        decided_by VARCHAR,
        decided_at TIMESTAMPTZ
      )`,
      `CREATE TABLE project_member (
        project_id VARCHAR NOT NULL,
        handle VARCHAR NOT NULL,
        added_by VARCHAR NOT NULL,
        added_at TIMESTAMPTZ NOT NULL,
        removed_at TIMESTAMPTZ
      )`,
      `CREATE TABLE project_event (
        project_id VARCHAR NOT NULL,
        happened_at TIMESTAMPTZ NOT NULL,
        hub VARCHAR NOT NULL,
        actor VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        comment VARCHAR
      )`,
    ],
    keys: [
      ['project', ['id']],
      ['project_hub', ['project_id', 'hub']],
    ],
    indexes: [
      ['project_member', ['project_id']],
      ['project_event', ['project_id']],
    ],
  },
  {
    module: 'projects',
    version: 2,
    name: "each piece of a project's work at this hub: what ran, for whom, when",
    statements: [
      // `ref`: what the work left at this hub (a cohort run's id), so a person's inclusion can be traced to projects.
      `CREATE TABLE project_use (
        project_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        ref VARCHAR NOT NULL,
        requester VARCHAR NOT NULL,
        used_at TIMESTAMPTZ NOT NULL
      )`,
    ],
    indexes: [['project_use', ['ref']]],
  },
  {
    module: 'projects',
    version: 3,
    name: "the people of a project's work that left no cohort run naming them (a model's training, a tabulation)",
    statements: [
      // `people`: the id of this use's population in `project_use_person`; null for a cohort use (its run names them).
      'ALTER TABLE project_use ADD COLUMN people VARCHAR',
      `CREATE TABLE project_use_person (
        people VARCHAR NOT NULL,
        patient_key VARCHAR NOT NULL
      )`,
    ],
    indexes: [
      ['project_use', ['people']],
      ['project_use_person', ['patient_key']],
    ],
  },
  {
    module: 'projects',
    version: 4,
    name: "the people of a project's uses spread by person on a Citus cluster",
    statements: [],
    // Person-level and growing with every use: on a cluster it sits in each person's shard, beside their events
    // and cohort results (docs/citus.md). A citizen's uses are found by patient key, one shard per key.
    distribution: [['project_use_person', 'patient_key']],
  },
];
