import type { Principal } from '../access/index.js';
import type { HubServices } from '../context/index.js';
import type { Federation } from '../federation/index.js';
import { fanOut, OperationRegistry, PeerCallError } from '../federation/index.js';
import type { Gated, Released, ReleasedTable } from '../privacy/index.js';
import type { AnalyticTables } from '../views/index.js';
import { PROJECT_TABULATE_OPERATION, tabulateAcross } from './federated-tabulation.js';
import type { ApplicantCatalog } from './project-catalog.js';
import { applicantCatalog } from './project-catalog.js';
import type { ProjectRegistry, ProjectScope } from './project-registry.js';
import type { HubDecision, ProjectEvent, ProjectView } from './project-rows.js';
import type { ProjectUses } from './project-uses.js';
import type { TabulationRequest } from './workspace-tabulation.js';
import { parseTabulationRequest, tabulateInWorkspace, tabulationVariables } from './workspace-tabulation.js';

/** A peer receives a project filed at another hub for its own stewards' review. */
export const PROJECT_FILE_OPERATION = 'project.file';
/** The origin asks a peer for its decision on a project it forwarded there. */
export const PROJECT_STATUS_OPERATION = 'project.status';
/** The origin sends a project's current team to each peer that holds it, after every member change. */
export const PROJECT_MEMBERS_OPERATION = 'project.members';
/** What a peer holds, for applicants (`applicantCatalog`): released before any approval. */
export const PROJECT_CATALOG_OPERATION = 'project.catalog';

/** A peer's catalog as an applicant sees it at this hub, or why the peer gave none. */
export type PeerCatalog = { hub: string; tables?: ApplicantCatalog['tables']; error?: string };

/**
 * The federated side of projects: a project is filed at one hub (its origin), which forwards it with a signed
 * request to each peer it names; each peer's stewards review it on their own hub, and the origin learns each
 * decision by asking (`project.status`) whenever the project is read there. A hub's answer is its own decision and
 * history: text, no figure about people.
 */
export class ProjectFederation {
  constructor(
    private readonly hub: Pick<HubServices, 'db' | 'gate' | 'config' | 'consent' | 'derived'> & {
      projects: ProjectRegistry;
      projectUses: ProjectUses;
      tables: AnalyticTables;
    },
  ) {}

  register(operations = new OperationRegistry()): OperationRegistry {
    operations.register(PROJECT_FILE_OPERATION, 'peer', async ({ peer, body }) =>
      this.hub.gate.text(gated(await this.hub.projects.receive(peer, body))),
    );
    operations.register(PROJECT_STATUS_OPERATION, 'peer', async ({ peer, body }) => {
      const s = await this.hub.projects.statusFor(peer, (body as { id?: unknown } | null)?.id);
      return this.hub.gate.text(gated(s));
    });
    operations.register(PROJECT_MEMBERS_OPERATION, 'peer', async ({ peer, body }) =>
      this.hub.gate.text(gated(await this.hub.projects.receiveMembers(peer, body))),
    );
    operations.register(PROJECT_CATALOG_OPERATION, 'peer', () => applicantCatalog(this.hub));
    operations.register(PROJECT_TABULATE_OPERATION, 'peer', ({ peer, body }) => this.peerTabulation(peer, body));
    return operations;
  }

  /**
   * A peer's part of a tabulation across hubs: this hub's own record of the project decides (approved here, for that
   * peer, the view and columns in the scope approved here), its purpose applies, and its gate releases the table.
   */
  private async peerTabulation(peer: string, body: unknown): Promise<Released<ReleasedTable>> {
    const { id, ...request } = parseTabulationRequest(body);
    const scope = await this.hub.projects.authorizePeer(peer, id, {
      tables: [request.view],
      columns: tabulationVariables(request),
    });
    const use = { uses: this.hub.projectUses, requester: `peer:${peer}` };
    return this.hub.gate.table(await tabulateInWorkspace(this.hub, scope, request, use));
  }

  /**
   * Tabulate an approved view of project `id` at each of `hubs` (this hub included when named), for a member the
   * caller has authorized here for those hubs (`ProjectRegistry.authorize`); see `tabulateAcross`. This hub's part
   * is recorded as the project's use, for `requester`.
   */
  tabulate(
    federation: Federation,
    id: string,
    hubs: readonly string[],
    request: TabulationRequest,
    scope: ProjectScope,
    requester: string,
  ) {
    const { gate, config } = this.hub;
    return tabulateAcross(
      { gate, policy: config.privacy.disclosure, self: config.name, federation },
      id,
      hubs,
      request,
      async () =>
        gate.table(await tabulateInWorkspace(this.hub, scope, request, { uses: this.hub.projectUses, requester })),
    );
  }

  /**
   * The catalogs of `hubs` (peers), each released by its own hub's gate and reissued here as such; a peer that does
   * not answer is named with the kind of failure.
   */
  async catalogs(federation: Federation | undefined, hubs: readonly string[]): Promise<Released<PeerCatalog[]>> {
    const { gate } = this.hub;
    if (federation === undefined) return gate.text(hubs.map((hub) => ({ hub, error: 'no-federation' })));
    const { results, failed } = await fanOut(
      federation.client,
      hubs,
      PROJECT_CATALOG_OPERATION,
      {},
      {
        timeoutMs: federation.timeoutMs,
      },
    );
    const answered = new Map(results.map((r) => [r.hub, r.value as ApplicantCatalog]));
    const failures = new Map(failed.map((f) => [f.hub, f.remoteCode ?? f.kind]));
    return gate.reissue(
      hubs.map((hub) => {
        const c = answered.get(hub);
        return c ? { hub, tables: c.tables } : { hub, error: failures.get(hub) ?? 'failed' };
      }),
      'peer',
    );
  }

  /** File at this hub and forward to each peer the application names (a peer that cannot be reached is retried at the next read). */
  async file(federation: Federation | undefined, principal: Principal, input: unknown): Promise<ProjectView> {
    const peers = federation?.peers.list().map((p) => p.name) ?? [];
    const filed = await this.hub.projects.file(principal, input, peers);
    if (federation !== undefined)
      for (const hub of await this.hub.projects.pendingPeers(filed.id)) await this.forward(federation, filed.id, hub);
    return this.hub.projects.view(filed.id);
  }

  /**
   * Add a member at this hub (the origin) and send the new team to every peer holding the project, so each peer's
   * own checks know it; a peer not reached is noted and sent the team again at the next read here.
   */
  async addMember(federation: Federation | undefined, principal: Principal, id: string, handle: string) {
    await this.hub.projects.addMember(principal, id, handle);
    await this.sendMembers(federation, id, await this.hub.projects.peersOf(id));
    return this.hub.projects.view(id);
  }

  /** Remove a member at this hub (the origin) and at once at every peer holding the project, as `addMember`. */
  async removeMember(federation: Federation | undefined, principal: Principal, id: string, handle: string) {
    await this.hub.projects.removeMember(principal, id, handle);
    await this.sendMembers(federation, id, await this.hub.projects.peersOf(id));
    return this.hub.projects.view(id);
  }

  /**
   * Send the current team to `hubs`; each outcome is a history step of this hub's (`members-sent` or
   * `members-failed`, naming the peer), which is how `sync` knows whom to send it again.
   */
  private async sendMembers(federation: Federation | undefined, id: string, hubs: readonly string[]): Promise<void> {
    if (hubs.length === 0) return;
    const members = await this.hub.projects.currentMembers(id);
    const self = this.hub.config.name;
    await Promise.all(
      hubs.map(async (hub) => {
        if (federation === undefined) {
          await this.hub.projects.note(id, self, 'members-failed', `to ${hub}: no-federation`);
          return;
        }
        try {
          await federation.client.call(
            hub,
            PROJECT_MEMBERS_OPERATION,
            { id, members },
            { timeoutMs: federation.timeoutMs },
          );
          await this.hub.projects.note(id, self, 'members-sent', `to ${hub}`);
        } catch (e) {
          const reason = e instanceof PeerCallError ? (e.failure.remoteCode ?? e.failure.kind) : 'failed';
          await this.hub.projects.note(id, self, 'members-failed', `to ${hub}: ${reason}`);
        }
      }),
    );
  }

  /**
   * The peers whose last sending of the team failed, from this hub's own history steps (a failure and a success
   * at the same instant count as owed: sending the same team again changes nothing at the peer).
   */
  private async membersOwed(id: string): Promise<string[]> {
    const self = this.hub.config.name;
    const sent = new Map<string, string>();
    const failed = new Map<string, string>();
    for (const e of (await this.hub.projects.view(id)).history) {
      if (e.hub !== self) continue;
      const hub = /^to ([^:]+)/.exec(e.comment ?? '')?.[1];
      if (hub === undefined) continue;
      if (e.action === 'members-sent') sent.set(hub, e.at);
      if (e.action === 'members-failed') failed.set(hub, e.at);
    }
    return [...failed].filter(([hub, at]) => at >= (sent.get(hub) ?? '')).map(([hub]) => hub);
  }

  /**
   * Learn the decision of each peer still pending on a project this hub originated; one that does not know the
   * project (a forward that failed) gets it again, and one the last member change did not reach gets the team.
   * A peer that does not answer keeps its last known decision.
   */
  async sync(federation: Federation | undefined, id: string): Promise<void> {
    if (federation === undefined) return;
    const owed = await this.membersOwed(id);
    if (owed.length > 0) await this.sendMembers(federation, id, owed);
    await Promise.all(
      (await this.hub.projects.pendingPeers(id)).map(async (hub) => {
        try {
          const status = (await federation.client.call(
            hub,
            PROJECT_STATUS_OPERATION,
            { id },
            { timeoutMs: federation.timeoutMs },
          )) as {
            decision: HubDecision;
            history: ProjectEvent[];
          };
          await this.hub.projects.recordPeerStatus(id, hub, status);
        } catch (e) {
          if (e instanceof PeerCallError && e.failure.remoteCode === 'PROJECT_NOT_FOUND')
            await this.forward(federation, id, hub);
        }
      }),
    );
  }

  private async forward(federation: Federation, id: string, hub: string): Promise<void> {
    try {
      await federation.client.call(hub, PROJECT_FILE_OPERATION, await this.hub.projects.forwarded(id), {
        timeoutMs: federation.timeoutMs,
      });
      await this.hub.projects.note(id, this.hub.config.name, 'forwarded', `to ${hub} for review`);
    } catch (e) {
      const reason = e instanceof PeerCallError ? (e.failure.remoteCode ?? e.failure.kind) : 'failed';
      await this.hub.projects.note(id, this.hub.config.name, 'forward-failed', `to ${hub}: ${reason}`);
    }
  }
}

/** Decisions and history hold only text, flags and nulls (no figure about people), which is what `gate.text` passes. */
function gated(v: object): Gated {
  return v as Gated;
}
