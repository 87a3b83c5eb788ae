import type { Principal } from '../access/index.js';
import type { Federation } from '../federation/index.js';
import { OperationRegistry, PeerCallError } from '../federation/index.js';
import type { Gated, ReleaseGate } from '../privacy/index.js';
import type { ProjectRegistry } from './project-registry.js';
import type { HubDecision, ProjectEvent, ProjectView } from './project-rows.js';

/** A peer receives a project filed at another hub for its own stewards' review. */
export const PROJECT_FILE_OPERATION = 'project.file';
/** The origin asks a peer for its decision on a project it forwarded there. */
export const PROJECT_STATUS_OPERATION = 'project.status';

/**
 * The federated side of projects: a project is filed at one hub (its origin), which forwards it with a signed
 * request to each peer it names; each peer's stewards review it on their own hub, and the origin learns each
 * decision by asking (`project.status`) whenever the project is read there. A hub's answer is its own decision and
 * history: text, no figure about people.
 */
export class ProjectFederation {
  constructor(private readonly hub: { projects: ProjectRegistry; gate: ReleaseGate; config: { name: string } }) {}

  register(operations = new OperationRegistry()): OperationRegistry {
    operations.register(PROJECT_FILE_OPERATION, 'peer', async ({ peer, body }) =>
      this.hub.gate.text(gated(await this.hub.projects.receive(peer, body))),
    );
    operations.register(PROJECT_STATUS_OPERATION, 'peer', async ({ peer, body }) => {
      const s = await this.hub.projects.statusFor(peer, (body as { id?: unknown } | null)?.id);
      return this.hub.gate.text(gated(s));
    });
    return operations;
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
   * Learn the decision of each peer still pending on a project this hub originated; one that does not know the
   * project (a forward that failed) gets it again. A peer that does not answer keeps its last known decision.
   */
  async sync(federation: Federation | undefined, id: string): Promise<void> {
    if (federation === undefined) return;
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
