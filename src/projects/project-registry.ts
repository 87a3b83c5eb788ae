import { randomBytes } from 'node:crypto';
import type { Principal } from '../access/index.js';
import type { HubServices } from '../context/index.js';
import type { ErrorCode } from '../core/index.js';
import { HealthmeshError, HUB_ROLE_PURPOSES } from '../core/index.js';
import type { ProjectApplication, ScopeTables } from './project-application.js';
import { accessEndsAt, checkTables, HANDLE, invalid, parseApplication, parseReview } from './project-application.js';
import type {
  Decision,
  ForwardedProject,
  HubDecision,
  ProjectEvent,
  ProjectRow,
  ProjectSummary,
  ProjectView,
} from './project-rows.js';
import { ProjectRows } from './project-rows.js';

/** What work in a project asks for; each part given is checked against the approved scope. */
export interface ScopeRequest {
  tables?: readonly string[];
  /** Variables as `table.column`. */
  columns?: readonly string[];
  purpose?: string;
  /** Hubs the work reaches (a federated analysis): each must have approved the project, as last learned here. */
  hubs?: readonly string[];
}

/** What `authorize` grants: the project's scope at this hub. */
export interface ProjectScope {
  id: string;
  hub: string;
  purpose: string;
  members: string[];
  tables: ScopeTables;
  endDate: string;
}

type Hub = Pick<HubServices, 'db' | 'clock' | 'audit' | 'config' | 'consent'>;

const REVIEWERS = new Set(['steward', 'admin']);
const GRANTING = new Set<Decision>(['approved', 'approved-with-conditions']);

/**
 * Access requests and projects at one hub (docs/projects.md): filing, review by this hub's stewards, members, and
 * the one check work in a project goes through (`authorize`). Every step is written to the project's history and
 * to the audit log in the same transaction; every refusal of `authorize` is audited as denied.
 */
export class ProjectRegistry {
  private readonly rows: ProjectRows;

  constructor(private readonly hub: Hub) {
    this.rows = new ProjectRows(hub.db, hub.clock, hub.config.name);
  }

  /** The application as forwarded to peers. */
  forwarded(id: string): Promise<ForwardedProject> {
    return this.rows.forwarded(id);
  }

  /** The project with its decisions, members and history, for those `get` admits. */
  view(id: string): Promise<ProjectView> {
    return this.rows.view(id);
  }

  private get self(): string {
    return this.hub.config.name;
  }

  /**
   * File an application at this hub (its origin) for `principal`, the applicant and first member. `peers` are the
   * hubs this one may forward to; the hubs named default to this one alone. Every hub named gets a pending row.
   */
  async file(principal: Principal, input: unknown, peers: readonly string[] = []): Promise<ProjectView> {
    const now = this.hub.clock.now();
    const app = parseApplication(input, now, [this.self, ...peers]);
    this.hub.consent.policy.purpose(app.purpose, 'purpose');
    const purposes = HUB_ROLE_PURPOSES[this.hub.config.role];
    if (purposes !== undefined && !purposes.includes(app.purpose)) {
      throw invalid('purpose', `a ${this.hub.config.role} hub files projects for ${purposes.join(', ')} only`);
    }
    const id = `p-${randomBytes(8).toString('hex')}`;
    const hubs = app.hubs ?? [this.self];
    await this.hub.db.transaction(async (tx) => {
      await this.rows.insertProject(
        tx,
        { id, applicant: principal.name, filedAt: now.toISOString(), application: app },
        this.self,
      );
      for (const h of hubs)
        await tx.run('INSERT INTO project_hub (project_id, hub, decision) VALUES ($1, $2, $3)', [id, h, 'pending']);
      for (const handle of new Set([principal.name, ...(app.members ?? [])])) {
        await tx.run('INSERT INTO project_member (project_id, handle, added_by, added_at) VALUES ($1, $2, $3, $4)', [
          id,
          handle,
          principal.name,
          now,
        ]);
      }
      await this.rows.event(tx, id, principal.name, 'filed', `for ${hubs.join(', ')}`);
      await this.hub.audit.append(
        {
          actor: principal.name,
          action: 'project-file',
          target: `project:${id}`,
          outcome: 'success',
          detail: { purpose: app.purpose },
        },
        tx,
      );
    });
    return this.rows.view(id);
  }

  /**
   * Receive a project a peer filed at its own hub and forwarded for this hub's review (`project.file`). The same
   * project received again is a no-op; this hub must be among the hubs it names.
   */
  async receive(peer: string, input: unknown): Promise<HubDecision> {
    const p = input as Partial<ForwardedProject> | null;
    if (typeof p?.id !== 'string' || !/^p-[0-9a-f]{16}$/.test(p.id)) throw invalid('id', 'not a project id');
    if (typeof p.applicant !== 'string' || !new RegExp(HANDLE).test(p.applicant))
      throw invalid('applicant', 'not a handle');
    if (typeof p.filedAt !== 'string' || Number.isNaN(Date.parse(p.filedAt))) throw invalid('filedAt', 'not a time');
    const now = this.hub.clock.now();
    // The origin's peers are not this hub's: only the names that matter here are checked.
    const app = parseApplication(p.application, now, [this.self, peer, ...(p.application?.hubs ?? [])]);
    this.hub.consent.policy.purpose(app.purpose, 'application.purpose');
    if (!(app.hubs ?? []).includes(this.self))
      throw invalid('application.hubs', `does not name this hub (${this.self})`);
    const known = await this.rows.row(p.id);
    if (known !== undefined) {
      if (known.origin !== peer) throw new HealthmeshError('PROJECT_NOT_FOUND', `no project ${p.id} from ${peer}`);
      return this.rows.decisionAt(p.id, this.self);
    }
    const id = p.id;
    await this.hub.db.transaction(async (tx) => {
      await this.rows.insertProject(tx, { id, applicant: p.applicant!, filedAt: p.filedAt!, application: app }, peer);
      await tx.run('INSERT INTO project_hub (project_id, hub, decision) VALUES ($1, $2, $3)', [
        id,
        this.self,
        'pending',
      ]);
      for (const handle of new Set([p.applicant!, ...(app.members ?? [])])) {
        await tx.run('INSERT INTO project_member (project_id, handle, added_by, added_at) VALUES ($1, $2, $3, $4)', [
          id,
          handle,
          `peer:${peer}`,
          now,
        ]);
      }
      await this.rows.event(tx, id, `peer:${peer}`, 'received', `filed at ${peer} by ${p.applicant}`);
      await this.hub.audit.append(
        { actor: `peer:${peer}`, action: 'project-receive', target: `project:${id}`, outcome: 'success' },
        tx,
      );
    });
    return this.rows.decisionAt(id, this.self);
  }

  /**
   * This hub's decision and history on a project, for its origin (`project.status`); to any other hub the project
   * does not exist.
   */
  async statusFor(peer: string, id: unknown): Promise<{ decision: HubDecision; history: ProjectEvent[] }> {
    const row = typeof id === 'string' ? await this.rows.row(id) : undefined;
    if (row === undefined || row.origin !== peer) {
      throw new HealthmeshError('PROJECT_NOT_FOUND', `no project ${String(id).slice(0, 40)} from ${peer}`);
    }
    return {
      decision: await this.rows.decisionAt(row.id, this.self),
      history: (await this.rows.history(row.id)).filter((e) => e.hub === this.self),
    };
  }

  /**
   * Record what a peer answered about a project this hub originated: its decision and its own history steps
   * (replacing the earlier copy of them).
   */
  async recordPeerStatus(
    id: string,
    peer: string,
    status: { decision: HubDecision; history: ProjectEvent[] },
  ): Promise<void> {
    const d = status.decision;
    await this.hub.db.transaction(async (tx) => {
      await tx.run(
        `UPDATE project_hub SET decision = $3, scope = $4, conditions = $5, decided_by = $6, decided_at = $7
         WHERE project_id = $1 AND hub = $2`,
        [
          id,
          peer,
          d.decision,
          d.tables ? JSON.stringify(d.tables) : null,
          d.conditions,
          d.decidedBy,
          d.decidedAt ? new Date(d.decidedAt) : null,
        ],
      );
      await tx.run('DELETE FROM project_event WHERE project_id = $1 AND hub = $2', [id, peer]);
      for (const e of status.history) {
        await tx.run(
          'INSERT INTO project_event (project_id, happened_at, hub, actor, action, comment) VALUES ($1, $2, $3, $4, $5, $6)',
          [id, new Date(e.at), peer, e.actor, e.action, e.comment],
        );
      }
    });
  }

  /** Note a step of this hub's own (forwarding to a peer, a failed forward) in a project's history. */
  async note(id: string, actor: string, action: string, comment: string): Promise<void> {
    await this.hub.db.transaction((tx) => this.rows.event(tx, id, actor, action, comment));
  }

  /** The project, for its members and applicant and for this hub's stewards and admins; to anyone else it does not exist. */
  async get(principal: Principal, id: string): Promise<ProjectView> {
    const row = await this.rows.row(id);
    if (row === undefined || !(REVIEWERS.has(principal.role) || (await this.rows.isMember(id, principal.name)))) {
      throw new HealthmeshError('PROJECT_NOT_FOUND', `no project ${id} visible to ${principal.name}`);
    }
    return this.rows.view(id);
  }

  /**
   * Stewards and admins: every project this hub is asked to review or has reviewed, and every project filed here.
   * Others: their own projects.
   */
  async list(principal: Principal): Promise<ProjectSummary[]> {
    const reviewer = REVIEWERS.has(principal.role);
    const rows = await this.hub.db.all<ProjectRow & { decision: string } & Record<string, unknown>>(
      `SELECT p.id, p.origin, p.applicant, p.title, p.purpose, p.end_date, h.decision
       FROM project p LEFT JOIN project_hub h ON h.project_id = p.id AND h.hub = $1
       WHERE ${reviewer ? '(h.hub IS NOT NULL OR p.origin = $1)' : 'p.id IN (SELECT project_id FROM project_member WHERE handle = $2 AND removed_at IS NULL)'}
       ORDER BY p.filed_at DESC, p.id`,
      reviewer ? [this.self] : [this.self, principal.name],
    );
    return rows.map((r) => ({
      id: r.id,
      title: r.title,
      purpose: r.purpose,
      applicant: r.applicant,
      origin: r.origin,
      endDate: r.end_date,
      decision: (r.decision ?? null) as Decision | null,
    }));
  }

  /**
   * A steward's (or admin's) decision for this hub: approve, approve with conditions, or deny, with a comment; an
   * approval may narrow the tables and variables asked for. A hub decides once.
   */
  async review(principal: Principal, id: string, input: unknown): Promise<ProjectView> {
    if (!REVIEWERS.has(principal.role)) {
      throw new HealthmeshError('AUTH_FORBIDDEN', `a ${principal.role} does not review projects`);
    }
    const row = await this.rows.row(id);
    const mine = row === undefined ? undefined : await this.rows.decisionAt(id, this.self).catch(() => undefined);
    if (row === undefined || mine === undefined) {
      throw new HealthmeshError('PROJECT_NOT_FOUND', `no project ${id} awaits review at ${this.self}`);
    }
    const review = parseReview(input);
    if (mine.decision !== 'pending') {
      throw new HealthmeshError(
        'PROJECT_ALREADY_DECIDED',
        `project ${id} was already ${mine.decision} at ${this.self}`,
      );
    }
    const asked = (JSON.parse(row.application) as ProjectApplication).tables;
    let granted: ScopeTables | null = null;
    if (review.decision !== 'deny') {
      granted = review.tables ?? asked;
      checkTables(granted, 'tables');
      granted.forEach((t, i) => {
        const a = asked.find((x) => x.name === t.name);
        if (a === undefined) throw invalid(`tables[${i}].name`, `'${t.name}' was not asked for`);
        t.columns.forEach((c, j) => {
          if (!a.columns.includes(c)) throw invalid(`tables[${i}].columns[${j}]`, `'${t.name}.${c}' was not asked for`);
        });
      });
    }
    const decision: Decision =
      review.decision === 'approve' ? 'approved' : review.decision === 'deny' ? 'denied' : 'approved-with-conditions';
    const now = this.hub.clock.now();
    await this.hub.db.transaction(async (tx) => {
      await tx.run(
        `UPDATE project_hub SET decision = $3, scope = $4, conditions = $5, decided_by = $6, decided_at = $7
         WHERE project_id = $1 AND hub = $2`,
        [
          id,
          this.self,
          decision,
          granted ? JSON.stringify(granted) : null,
          review.conditions ?? null,
          principal.name,
          now,
        ],
      );
      const comment = review.conditions ? `${review.comment} (conditions: ${review.conditions})` : review.comment;
      await this.rows.event(tx, id, principal.name, decision, comment);
      await this.hub.audit.append(
        {
          actor: principal.name,
          action: 'project-review',
          target: `project:${id}`,
          outcome: 'success',
          detail: { decision },
        },
        tx,
      );
    });
    return this.rows.view(id);
  }

  /** Add a member: the applicant or an admin, at the project's origin hub. */
  async addMember(principal: Principal, id: string, handle: string): Promise<ProjectView> {
    await this.owned(principal, id);
    if (!new RegExp(HANDLE).test(handle)) throw invalid('handle', 'not a handle');
    if (await this.rows.isMember(id, handle)) return this.rows.view(id);
    await this.hub.db.transaction(async (tx) => {
      await tx.run('INSERT INTO project_member (project_id, handle, added_by, added_at) VALUES ($1, $2, $3, $4)', [
        id,
        handle,
        principal.name,
        this.hub.clock.now(),
      ]);
      await this.rows.event(tx, id, principal.name, 'member-added', handle);
      await this.hub.audit.append(
        {
          actor: principal.name,
          action: 'project-member-add',
          target: `project:${id}`,
          outcome: 'success',
          detail: { member: handle },
        },
        tx,
      );
    });
    return this.rows.view(id);
  }

  /**
   * Take the current team of a project from its origin (`project.members`): members the list no longer names are
   * removed here, new ones added, each step in the history and the audit log, so this hub's own `authorize` refuses
   * a removed member at once. Only the project's origin may send it; the same list again changes nothing.
   */
  async receiveMembers(peer: string, input: unknown): Promise<{ members: string[] }> {
    const b = input as { id?: unknown; members?: unknown } | null;
    const id = typeof b?.id === 'string' ? b.id : '';
    const row = await this.rows.row(id);
    if (row === undefined || row.origin !== peer) {
      throw new HealthmeshError('PROJECT_NOT_FOUND', `no project ${id.slice(0, 40)} from ${peer}`);
    }
    const handle = new RegExp(HANDLE);
    const list = b?.members;
    if (!Array.isArray(list) || list.length > 200 || !list.every((m) => typeof m === 'string' && handle.test(m))) {
      throw invalid('members', 'not a list of handles');
    }
    if (!list.includes(row.applicant)) throw invalid('members', 'the applicant stays a member of their project');
    const current = await this.rows.members(id);
    const added = [...new Set(list as string[])].filter((m) => !current.includes(m));
    const removed = current.filter((m) => !list.includes(m));
    if (added.length === 0 && removed.length === 0) return { members: current };
    const now = this.hub.clock.now();
    const actor = `peer:${peer}`;
    await this.hub.db.transaction(async (tx) => {
      for (const m of removed) {
        await tx.run(
          'UPDATE project_member SET removed_at = $3 WHERE project_id = $1 AND handle = $2 AND removed_at IS NULL',
          [id, m, now],
        );
        await this.rows.event(tx, id, actor, 'member-removed', m);
      }
      for (const m of added) {
        await tx.run('INSERT INTO project_member (project_id, handle, added_by, added_at) VALUES ($1, $2, $3, $4)', [
          id,
          m,
          actor,
          now,
        ]);
        await this.rows.event(tx, id, actor, 'member-added', m);
      }
      await this.hub.audit.append(
        {
          actor,
          action: 'project-member-sync',
          target: `project:${id}`,
          outcome: 'success',
          detail: { added: added.join(','), removed: removed.join(',') },
        },
        tx,
      );
    });
    return { members: await this.rows.members(id) };
  }

  /** The current team of a project this hub originated, as sent to its peers. */
  async currentMembers(id: string): Promise<string[]> {
    return this.rows.members(id);
  }

  /**
   * The peers of a project this hub originated that hold a copy of it (every hub named but this one): where member
   * changes go.
   */
  async peersOf(id: string): Promise<string[]> {
    const row = await this.rows.row(id);
    if (row === undefined || row.origin !== this.self) return [];
    return (await this.rows.decisions(id)).map((d) => d.hub).filter((h) => h !== this.self);
  }

  /** Remove a member (not the applicant): their next `authorize` is refused. */
  async removeMember(principal: Principal, id: string, handle: string): Promise<ProjectView> {
    const row = await this.owned(principal, id);
    if (handle === row.applicant) throw invalid('handle', 'the applicant stays a member of their project');
    if (!(await this.rows.isMember(id, handle)))
      throw new HealthmeshError('PROJECT_NOT_FOUND', `${handle} is not a member of ${id}`);
    await this.hub.db.transaction(async (tx) => {
      await tx.run(
        'UPDATE project_member SET removed_at = $3 WHERE project_id = $1 AND handle = $2 AND removed_at IS NULL',
        [id, handle, this.hub.clock.now()],
      );
      await this.rows.event(tx, id, principal.name, 'member-removed', handle);
      await this.hub.audit.append(
        {
          actor: principal.name,
          action: 'project-member-remove',
          target: `project:${id}`,
          outcome: 'success',
          detail: { member: handle },
        },
        tx,
      );
    });
    return this.rows.view(id);
  }

  /**
   * The one check before work in a project: `principal` is a current member, the project is approved at this hub
   * (and at every hub `request.hubs` names, as last learned here), not past its end date, and every table, variable
   * and purpose asked for is inside the approved scope. Returns the scope; otherwise throws a 403 naming the reason,
   * audited as denied. A granted check is audited too.
   */
  async authorize(principal: Principal, id: string, request: ScopeRequest = {}): Promise<ProjectScope> {
    return this.check(principal.name, id, request, async (row) => {
      if (!(await this.rows.isMember(id, principal.name))) {
        return ['PROJECT_NOT_MEMBER', `${principal.name} is not a member of project ${row.id}`];
      }
      return undefined;
    });
  }

  /**
   * The check for work this hub's operator (an admin or steward, not necessarily a member) starts for a project,
   * such as a federated model fit: approved here and at every hub `request.hubs` names, not past its end date,
   * inside the approved scope. Audited as `authorize`.
   */
  async authorizeOperator(principal: Principal, id: string, request: ScopeRequest = {}): Promise<ProjectScope> {
    return this.check(principal.name, id, request, async () =>
      REVIEWERS.has(principal.role)
        ? undefined
        : ['PROJECT_NOT_MEMBER', `role '${principal.role}' does not run project work as this hub's operator`],
    );
  }

  /**
   * The check for work this hub's operator starts on a member's behalf, such as a validator running a developer's
   * submission: `member` still a current member (a removal withdraws the work), the rest as `authorize`. Audited
   * with the operator as the actor.
   */
  async authorizeFor(
    operator: Principal,
    member: string,
    id: string,
    request: ScopeRequest = {},
  ): Promise<ProjectScope> {
    return this.check(operator.name, id, request, async (row) =>
      (await this.rows.isMember(id, member))
        ? undefined
        : ['PROJECT_NOT_MEMBER', `${member.slice(0, 60)} is not a member of project ${row.id}`],
    );
  }

  /**
   * The same check for work a peer asks this hub to do in a project (a federated analysis): only the project's
   * origin may, and its members were checked there (membership is kept at the origin, so a removal holds at once).
   */
  async authorizePeer(peer: string, id: string, request: ScopeRequest = {}): Promise<ProjectScope> {
    return this.check(`peer:${peer}`, id, request, async (row) =>
      row.origin === peer ? undefined : ['PROJECT_NOT_FOUND', `no project ${row.id} from ${peer}`],
    );
  }

  private async check(
    actor: string,
    id: string,
    request: ScopeRequest,
    caller: (row: ProjectRow) => Promise<[ErrorCode, string] | undefined>,
  ): Promise<ProjectScope> {
    const row = await this.rows.row(id);
    const refuse = async (code: ErrorCode, reason: string): Promise<never> => {
      await this.hub.audit.append({
        actor,
        action: 'project-authorize',
        target: `project:${id.slice(0, 40)}`,
        outcome: 'denied',
        detail: { code, reason: reason.slice(0, 300) },
      });
      throw new HealthmeshError(code, reason);
    };
    if (row === undefined) return refuse('PROJECT_NOT_FOUND', `no project ${id.slice(0, 40)} at ${this.self}`);
    const callerFault = await caller(row);
    if (callerFault) return refuse(...callerFault);
    if (this.hub.clock.now().getTime() >= accessEndsAt(row.end_date).getTime()) {
      return refuse('PROJECT_EXPIRED', `project ${id} ended on ${row.end_date}`);
    }
    const decisions = await this.rows.decisions(id);
    const here = decisions.find((d) => d.hub === this.self);
    if (here === undefined || !GRANTING.has(here.decision)) {
      return refuse('PROJECT_NOT_APPROVED', `project ${id} is ${here?.decision ?? 'not filed'} at ${this.self}`);
    }
    for (const h of request.hubs ?? []) {
      const d = decisions.find((x) => x.hub === h);
      if (d === undefined || !GRANTING.has(d.decision)) {
        return refuse('PROJECT_NOT_APPROVED', `project ${id} is ${d?.decision ?? 'not filed'} at ${h}`);
      }
    }
    if (request.purpose !== undefined && request.purpose !== row.purpose) {
      return refuse(
        'PROJECT_OUT_OF_SCOPE',
        `purpose '${request.purpose.slice(0, 40)}' is not the project's (${row.purpose})`,
      );
    }
    const tables = here.tables ?? [];
    for (const t of request.tables ?? []) {
      if (!tables.some((x) => x.name === t))
        return refuse('PROJECT_OUT_OF_SCOPE', `table '${t.slice(0, 60)}' is outside project ${id}`);
    }
    for (const qualified of request.columns ?? []) {
      const [t, c] = qualified.split('.', 2);
      if (!tables.some((x) => x.name === t && c !== undefined && x.columns.includes(c))) {
        return refuse('PROJECT_OUT_OF_SCOPE', `variable '${qualified.slice(0, 100)}' is outside project ${id}`);
      }
    }
    const members = await this.rows.members(id);
    await this.hub.audit.append({ actor, action: 'project-authorize', target: `project:${id}`, outcome: 'success' });
    return { id, hub: this.self, purpose: row.purpose, members, tables, endDate: row.end_date };
  }

  /** The hubs a project this hub originated still waits on, for its federation to forward or ask. */
  async pendingPeers(id: string): Promise<string[]> {
    const row = await this.rows.row(id);
    if (row === undefined || row.origin !== this.self) return [];
    return (await this.rows.decisions(id))
      .filter((d) => d.hub !== this.self && d.decision === 'pending')
      .map((d) => d.hub);
  }

  private async owned(principal: Principal, id: string): Promise<ProjectRow> {
    const row = await this.rows.row(id);
    if (row === undefined || !(principal.role === 'admin' || (await this.rows.isMember(id, principal.name)))) {
      throw new HealthmeshError('PROJECT_NOT_FOUND', `no project ${id} visible to ${principal.name}`);
    }
    if (principal.role !== 'admin' && principal.name !== row.applicant) {
      throw new HealthmeshError(
        'AUTH_FORBIDDEN',
        `only the applicant of project ${id} (or an admin) manages its members`,
      );
    }
    if (row.origin !== this.self) {
      throw new HealthmeshError(
        'AUTH_FORBIDDEN',
        `project ${id}'s members are managed at its origin hub, ${row.origin}`,
      );
    }
    return row;
  }
}
