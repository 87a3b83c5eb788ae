import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Role } from '../../access/index.js';
import type { Federation } from '../../federation/index.js';
import type { Hub } from '../../hub/index.js';
import type { Gated } from '../../privacy/index.js';
import { ProjectFederation } from '../../projects/index.js';
import {
  ProjectApplicationBody,
  ProjectMemberBody,
  ProjectMemberParams,
  ProjectParams,
  ProjectReviewBody,
} from '../api-schemas.js';

/** Who applies (researchers and startup developers), who reviews (this hub's stewards and admins). */
const APPLICANTS: readonly Role[] = ['researcher', 'developer'];
const REVIEWERS: readonly Role[] = ['steward', 'admin'];
const READERS: readonly Role[] = [...APPLICANTS, ...REVIEWERS];
const MANAGERS: readonly Role[] = [...APPLICANTS, 'admin'];

/**
 * Access requests and projects (docs/projects.md). Route declarations admit roles; what a caller may see of one
 * project is decided by the projects module (members and the applicant, this hub's stewards and admins): to anyone
 * else a project answers as unknown (404), as an export job does. Answers are text (no figure about people), sent
 * through `gate.text`. The module audits each step (filing, review, members) with its outcome; the app's hook audits
 * the request itself, naming the project.
 */
export function projectRoutes(ctx: { hub: Hub; federation: Federation | undefined }) {
  const { hub, federation } = ctx;
  const projects = new ProjectFederation(hub);
  const text = (v: object) => hub.gate.text(v as Gated);
  return async (app: FastifyInstance) => {
    app.post<{ Body: unknown }>(
      '/projects',
      // Filed at a research hub, or for AI validation at a demonstration hub (the project's origin, whose
      // validations its peers then accept); every hub a project names reviews it.
      { config: { allow: APPLICANTS, service: 'applications' }, schema: { body: ProjectApplicationBody } },
      async (req, reply) => {
        const filed = await projects.file(federation, req.principal!, req.body);
        req.auditAction = { action: 'request', target: `project:${filed.id}` };
        return reply.code(201).send(text(filed));
      },
    );
    app.get('/projects', { config: { allow: READERS } }, async (req) => {
      req.auditAction = { action: 'request', target: 'projects' };
      return text(await hub.projects.list(req.principal!));
    });
    app.get<{ Params: Static<typeof ProjectParams> }>(
      '/projects/:id',
      { config: { allow: READERS }, schema: { params: ProjectParams } },
      async (req) => {
        const { id } = req.params;
        req.auditAction = { action: 'request', target: `project:${id}` };
        // Visibility first, so that a caller who may not see the project sets off no call to peers.
        await hub.projects.get(req.principal!, id);
        await projects.sync(federation, id);
        return text(await hub.projects.get(req.principal!, id));
      },
    );
    app.post<{ Params: Static<typeof ProjectParams>; Body: unknown }>(
      '/projects/:id/review',
      { config: { allow: REVIEWERS }, schema: { params: ProjectParams, body: ProjectReviewBody } },
      async (req) => {
        const { id } = req.params;
        req.auditAction = { action: 'request', target: `project:${id}` };
        return text(await hub.projects.review(req.principal!, id, req.body));
      },
    );
    app.post<{ Params: Static<typeof ProjectParams>; Body: ProjectMemberBody }>(
      '/projects/:id/members',
      { config: { allow: MANAGERS }, schema: { params: ProjectParams, body: ProjectMemberBody } },
      async (req) => {
        const { id } = req.params;
        req.auditAction = { action: 'request', target: `project:${id}` };
        return text(await projects.addMember(federation, req.principal!, id, req.body.handle));
      },
    );
    app.delete<{ Params: Static<typeof ProjectMemberParams> }>(
      '/projects/:id/members/:handle',
      { config: { allow: MANAGERS }, schema: { params: ProjectMemberParams } },
      async (req) => {
        const { id, handle } = req.params;
        req.auditAction = { action: 'request', target: `project:${id}` };
        return text(await projects.removeMember(federation, req.principal!, id, handle));
      },
    );
  };
}
