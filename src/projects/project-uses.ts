import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/index.js';
import type { Database, SqlValue } from '../store/index.js';

/** A piece of a project's work at this hub, as a person whose data it used may see it. */
export interface ProjectUse {
  projectId: string;
  title: string;
  purpose: string;
  kind: string;
  /** What ran: a cohort run's id, a model's id and version, a view and its columns. */
  ref: string;
  usedAt: Date;
}

/**
 * The people a piece of work used, when it left no cohort run naming them: their patient keys, or a query whose
 * `patient_key` column gives them (run in the recording's transaction, so a large population never passes through
 * JavaScript).
 */
export type UsedPeople = readonly string[] | { sql: string; params?: readonly SqlValue[] };

/**
 * What each project ran at this hub (`project_use`) and whose data it used. A cohort run names its people itself
 * (the cohort module's result, found by `ref`); other work (a model's training, a tabulation) stores its population
 * beside the use (`project_use_person`), each use its own set, so a person left out of a later run of the same work
 * still sees the earlier one. A person's inclusion then traces to the projects that used their data, which is what a
 * citizen is shown (mydata/). Consent is applied before: the caller passes the people its work read for the project's
 * purpose, so someone whose consent refused it is never recorded.
 */
export class ProjectUses {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /**
   * Record that `projectId` ran work `kind` here for `requester`. Without `people`, `ref` is a cohort run's id and
   * its result names the people; with `people`, they are stored as this use's population and `ref` says what ran.
   */
  async record(projectId: string, kind: string, ref: string, requester: string, people?: UsedPeople): Promise<void> {
    const set = people === undefined ? null : `u${randomBytes(12).toString('hex')}`;
    await this.db.transaction(async (tx) => {
      await tx.run(
        'INSERT INTO project_use (project_id, kind, ref, requester, used_at, people) VALUES ($1, $2, $3, $4, $5, $6)',
        [projectId, kind, ref, requester, this.clock.now(), set],
      );
      if (set === null || people === undefined) return;
      if (isKeyList(people)) {
        const keys = [...new Set(people)];
        if (keys.length > 0)
          await tx.append(
            'project_use_person',
            keys.map((k) => [set, k]),
          );
        return;
      }
      const params = people.params ?? [];
      await tx.run(
        `INSERT INTO project_use_person (people, patient_key)
         SELECT DISTINCT $${params.length + 1}, q.patient_key FROM (${people.sql}) q WHERE q.patient_key IS NOT NULL`,
        [...params, set],
      );
    });
  }

  /**
   * The projects' uses whose people include any of `patientKeys` (a citizen's records): those that stored their
   * population, and the cohort uses among `cohortRuns` (the runs whose result includes them). Newest first, with
   * the project's title and purpose.
   */
  async including(patientKeys: readonly string[], cohortRuns: readonly string[]): Promise<ProjectUse[]> {
    if (patientKeys.length === 0) return [];
    const rows = await this.db.all<{
      project_id: string;
      title: string;
      purpose: string;
      kind: string;
      ref: string;
      used_at: Date;
    }>(
      `SELECT u.project_id, p.title, p.purpose, u.kind, u.ref, u.used_at
       FROM project_use u JOIN project p ON p.id = u.project_id
       WHERE (u.people IS NULL AND ${this.db.inList('u.ref', '$2')})
          OR u.people IN (SELECT x.people FROM project_use_person x WHERE ${this.db.inList('x.patient_key', '$1')})
       ORDER BY u.used_at DESC`,
      [[...patientKeys], [...cohortRuns]],
    );
    return rows.map((r) => ({
      projectId: r.project_id,
      title: r.title,
      purpose: r.purpose,
      kind: r.kind,
      ref: r.ref,
      usedAt: r.used_at,
    }));
  }
}

function isKeyList(people: UsedPeople): people is readonly string[] {
  return Array.isArray(people);
}
