import type { Clock } from '../core/index.js';
import type { Database } from '../store/index.js';

/** A piece of a project's work at this hub, as a person whose data it used may see it. */
export interface ProjectUse {
  projectId: string;
  title: string;
  purpose: string;
  kind: string;
  usedAt: Date;
}

/**
 * What each project ran at this hub (`project_use`): a cohort run's id for each cohort its members or its origin ran
 * here. A person's inclusion in a run (the cohort module's result) then traces to the projects that used their
 * data, which is what a citizen is shown (mydata/).
 */
export class ProjectUses {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** Record that `projectId` ran work `kind` here, leaving `ref` (a cohort run id). */
  async record(projectId: string, kind: string, ref: string, requester: string): Promise<void> {
    await this.db.run(
      'INSERT INTO project_use (project_id, kind, ref, requester, used_at) VALUES ($1, $2, $3, $4, $5)',
      [projectId, kind, ref, requester, this.clock.now()],
    );
  }

  /** The projects' uses that left any of `refs`, newest first, with the project's title and purpose. */
  async of(refs: readonly string[]): Promise<ProjectUse[]> {
    if (refs.length === 0) return [];
    const rows = await this.db.all<{ project_id: string; title: string; purpose: string; kind: string; used_at: Date }>(
      `SELECT u.project_id, p.title, p.purpose, u.kind, u.used_at
       FROM project_use u JOIN project p ON p.id = u.project_id
       WHERE ${this.db.inList('u.ref', '$1')}
       ORDER BY u.used_at DESC`,
      [[...refs]],
    );
    return rows.map((r) => ({
      projectId: r.project_id,
      title: r.title,
      purpose: r.purpose,
      kind: r.kind,
      usedAt: r.used_at,
    }));
  }
}
