import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Database } from '../store/index.js';
import type { ProjectApplication, ScopeTables } from './project-application.js';

/** A hub's decision on a project. `approved-with-conditions` grants access as `approved` does, with the conditions. */
export type Decision = 'pending' | 'approved' | 'approved-with-conditions' | 'denied';

/** One hub's decision and, once approved, the scope that hub granted (the steward may narrow the request). */
export interface HubDecision {
  hub: string;
  decision: Decision;
  conditions: string | null;
  tables: ScopeTables | null;
  decidedBy: string | null;
  decidedAt: string | null;
}

/** One step of a project's history: who did what, where and when, with the comment given. */
export interface ProjectEvent {
  at: string;
  hub: string;
  actor: string;
  action: string;
  comment: string | null;
}

/** A project as its applicant, members and the stewards see it. Text only: it carries no figure about people. */
export interface ProjectView {
  id: string;
  title: string;
  purpose: string;
  applicant: string;
  origin: string;
  endDate: string;
  filedAt: string;
  ethicsApproval: string;
  dataUseAgreement: boolean;
  /** The tables and variables asked for. */
  tables: ScopeTables;
  /** The cohort criteria as filed (a cohort definition as JSON text), or null. */
  cohort: string | null;
  hubs: HubDecision[];
  /** Current members, the applicant included. */
  members: string[];
  history: ProjectEvent[];
}

/** A project as a list shows it, with this hub's decision. */
export interface ProjectSummary {
  id: string;
  title: string;
  purpose: string;
  applicant: string;
  origin: string;
  endDate: string;
  /** This hub's decision; null for a project filed here that this hub is not asked to decide. */
  decision: Decision | null;
}

/** A project as forwarded to a peer (`project.file`): the application as filed at its origin. */
export interface ForwardedProject {
  id: string;
  applicant: string;
  filedAt: string;
  application: ProjectApplication;
}

export interface ProjectRow {
  id: string;
  origin: string;
  applicant: string;
  title: string;
  purpose: string;
  end_date: string;
  application: string;
  filed_at: Date;
}

const iso = (v: unknown): string => new Date(v as string).toISOString();

/** The SQL over the projects module's tables: one project's row, members, decisions and history, and the view of them. */
export class ProjectRows {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly self: string,
  ) {}

  /** The application as forwarded to peers. */
  async forwarded(id: string): Promise<ForwardedProject> {
    const row = await this.row(id);
    if (row === undefined) throw new HealthmeshError('PROJECT_NOT_FOUND', `no project ${id}`);
    const application = JSON.parse(row.application) as ProjectApplication;
    // The team as it is now, not as filed: a peer that receives the project late starts from the current members.
    const members = (await this.members(id)).filter((m) => m !== row.applicant);
    return {
      id,
      applicant: row.applicant,
      filedAt: iso(row.filed_at),
      application: { ...application, members },
    };
  }

  /** The project with its decisions, members and history, for those `get` admits. */
  async view(id: string): Promise<ProjectView> {
    const row = await this.row(id);
    if (row === undefined) throw new HealthmeshError('PROJECT_NOT_FOUND', `no project ${id}`);
    const app = JSON.parse(row.application) as ProjectApplication;
    return {
      id,
      title: row.title,
      purpose: row.purpose,
      applicant: row.applicant,
      origin: row.origin,
      endDate: row.end_date,
      filedAt: iso(row.filed_at),
      ethicsApproval: app.ethicsApproval,
      dataUseAgreement: app.dataUseAgreement,
      tables: app.tables,
      cohort: app.cohort === undefined ? null : JSON.stringify(app.cohort),
      hubs: await this.decisions(id),
      members: await this.members(id),
      history: await this.history(id),
    };
  }

  async insertProject(tx: Database, p: ForwardedProject, origin: string): Promise<void> {
    const a = p.application;
    await tx.run(
      `INSERT INTO project (id, origin, applicant, title, purpose, end_date, application, filed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [p.id, origin, p.applicant, a.title, a.purpose, a.endDate, JSON.stringify(a), new Date(p.filedAt)],
    );
  }

  event(tx: Database, id: string, actor: string, action: string, comment: string | null): Promise<void> {
    return tx.run(
      'INSERT INTO project_event (project_id, happened_at, hub, actor, action, comment) VALUES ($1, $2, $3, $4, $5, $6)',
      [id, this.clock.now(), this.self, actor, action, comment],
    );
  }

  async row(id: string): Promise<ProjectRow | undefined> {
    const [r] = await this.db.all<ProjectRow & Record<string, unknown>>(
      'SELECT id, origin, applicant, title, purpose, end_date, application, filed_at FROM project WHERE id = $1',
      [id],
    );
    return r;
  }

  async isMember(id: string, handle: string): Promise<boolean> {
    const r = await this.db.all(
      'SELECT 1 AS m FROM project_member WHERE project_id = $1 AND handle = $2 AND removed_at IS NULL',
      [id, handle],
    );
    return r.length > 0;
  }

  async members(id: string): Promise<string[]> {
    const rows = await this.db.all<{ handle: string }>(
      'SELECT handle FROM project_member WHERE project_id = $1 AND removed_at IS NULL ORDER BY handle',
      [id],
    );
    return rows.map((r) => r.handle);
  }

  async decisionAt(id: string, hub: string): Promise<HubDecision> {
    const d = (await this.decisions(id)).find((x) => x.hub === hub);
    if (d === undefined) throw new HealthmeshError('PROJECT_NOT_FOUND', `project ${id} does not name ${hub}`);
    return d;
  }

  async decisions(id: string): Promise<HubDecision[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      'SELECT hub, decision, scope, conditions, decided_by, decided_at FROM project_hub WHERE project_id = $1 ORDER BY hub',
      [id],
    );
    return rows.map((r) => ({
      hub: String(r.hub),
      decision: r.decision as Decision,
      conditions: (r.conditions as string | null) ?? null,
      tables: r.scope ? (JSON.parse(String(r.scope)) as ScopeTables) : null,
      decidedBy: (r.decided_by as string | null) ?? null,
      decidedAt: r.decided_at ? iso(r.decided_at) : null,
    }));
  }

  async history(id: string): Promise<ProjectEvent[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      'SELECT happened_at, hub, actor, action, comment FROM project_event WHERE project_id = $1 ORDER BY happened_at, hub',
      [id],
    );
    return rows.map((r) => ({
      at: iso(r.happened_at),
      hub: String(r.hub),
      actor: String(r.actor),
      action: String(r.action),
      comment: (r.comment as string | null) ?? null,
    }));
  }
}
