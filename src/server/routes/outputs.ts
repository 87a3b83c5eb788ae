import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal, Role } from '../../access/index.js';
import { mayReadRowLevel } from '../../access/index.js';
import { HealthmeshError } from '../../core/index.js';
import { hubModelRegistry, releaseModelCard } from '../../models/index.js';
import type { OutputRecord, OutputRequest } from '../../outputs/index.js';
import { OutputDecisionBody, OutputRequestBody } from '../../outputs/index.js';
import type { Gated } from '../../privacy/index.js';
import type { WorkspaceForecastContext } from './project-forecasts.js';
import { workspaceForecast } from './project-forecasts.js';

/** Project members who ask for outputs, and this hub's stewards and admins who check them. */
const MEMBERS: readonly Role[] = ['researcher', 'developer'];
const CHECKERS: readonly Role[] = ['steward', 'admin'];
const ProjectId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
const OutputId = Type.Object({ id: Type.String({ pattern: '^out_[A-Za-z0-9_-]{1,40}$' }) });

/**
 * The output airlock of a project's workspace (outputs/): members ask for an output to leave
 * (`POST /projects/:id/outputs`), the rules decide or a steward does (`GET /outputs/awaiting-review`,
 * `GET /outputs/:id/content`, `POST /outputs/:id/decision`), and members download what was released
 * (`GET /outputs/:id/download`). A member must pass the project's check (current member, approved here, not ended).
 */
export function outputRoutes(ctx: WorkspaceForecastContext) {
  const { hub } = ctx;
  const text = (v: OutputRecord | OutputRecord[]) => hub.gate.text(v as unknown as Gated);
  /** Members of the project pass its check; this hub's stewards and admins see every project's outputs. */
  const mayReadProject = async (req: FastifyRequest, projectId: string) => {
    if (!mayReadRowLevel(req.principal)) await hub.projects.authorize(req.principal!, projectId);
  };
  /**
   * A model card asked to leave: the project's own model only (a model of another project or of the hub is
   * `OUTPUT_INVALID` naming `model`), its card as the release gate builds it for roles without row-level rights,
   * with the version and hash it describes. The rules do not read a card whole, so a steward decides.
   */
  const modelCardOutput = async (
    projectId: string,
    body: Extract<OutputRequestBody, { kind: 'model-card' }>,
  ): Promise<OutputRequest> => {
    const m = await (await hubModelRegistry(hub)).get(body.model, body.version);
    if (m.project !== projectId)
      throw new HealthmeshError('OUTPUT_INVALID', `model ${body.model} was not trained in this project`, {
        path: 'model',
      });
    const card = releaseModelCard(m.card, hub.gate).value;
    return {
      kind: 'model-card',
      title: body.title,
      card: { model: m.id, version: m.version, modelHash: m.modelHash, card },
      source: body.source,
    };
  };
  /**
   * A forecast asked to leave: computed again from its parameters, as the workspace computes it (the member's check,
   * the project's scope and purpose, each hub's released series), so what leaves is the hub's forecast, never numbers
   * the requester sent. Built by the gate from released series only, it passes the rules at once.
   */
  const forecastOutput = async (
    principal: Principal,
    projectId: string,
    body: Extract<OutputRequestBody, { kind: 'forecast' }>,
  ): Promise<OutputRequest> => {
    const { released } = await workspaceForecast(ctx, principal, projectId, body.forecast);
    return { kind: 'forecast', title: body.title, forecast: released.value, source: body.source };
  };
  return async (app: FastifyInstance) => {
    app.post<{ Params: { id: string }; Body: OutputRequestBody }>(
      '/projects/:id/outputs',
      { config: { allow: MEMBERS, service: 'projects' }, schema: { params: ProjectId, body: OutputRequestBody } },
      async (req, reply) => {
        await hub.projects.authorize(req.principal!, req.params.id);
        req.auditedByRoute = true;
        const body = req.body;
        const asked: OutputRequest =
          body.kind === 'model-card'
            ? await modelCardOutput(req.params.id, body)
            : body.kind === 'forecast'
              ? await forecastOutput(req.principal!, req.params.id, body)
              : body;
        return reply.code(201).send(text(await hub.outputs.request(req.principal!, req.params.id, asked)));
      },
    );
    app.get<{ Params: { id: string } }>(
      '/projects/:id/outputs',
      { config: { allow: [...MEMBERS, ...CHECKERS], service: 'projects' }, schema: { params: ProjectId } },
      async (req) => {
        req.auditAction = { action: 'outputs', target: `project:${req.params.id}` };
        await mayReadProject(req, req.params.id);
        return text(await hub.outputs.list(req.params.id));
      },
    );
    app.get('/outputs/awaiting-review', { config: { allow: CHECKERS, service: 'projects' } }, async (req) => {
      req.auditAction = { action: 'outputs-awaiting-review', target: 'outputs' };
      return hub.outputs.awaitingReview();
    });
    app.get<{ Params: { id: string } }>(
      '/outputs/:id/content',
      { config: { allow: CHECKERS, service: 'projects' }, schema: { params: OutputId } },
      async (req, reply) => {
        req.auditAction = { action: 'output-content', target: `output:${req.params.id}` };
        const { mediaType, bytes } = await hub.outputs.contentForReview(req.params.id);
        // A figure as its requester sent it: shown, never run (an SVG's scripts stay inert).
        return reply
          .type(mediaType)
          .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
          .header('x-content-type-options', 'nosniff')
          .send(bytes);
      },
    );
    app.post<{ Params: { id: string }; Body: OutputDecisionBody }>(
      '/outputs/:id/decision',
      { config: { allow: CHECKERS, service: 'projects' }, schema: { params: OutputId, body: OutputDecisionBody } },
      async (req) => {
        req.auditedByRoute = true;
        return hub.outputs.decide(req.principal!, req.params.id, req.body);
      },
    );
    app.get<{ Params: { id: string } }>(
      '/outputs/:id/download',
      { config: { allow: [...MEMBERS, ...CHECKERS], service: 'projects' }, schema: { params: OutputId } },
      async (req, reply) => {
        req.auditAction = { action: 'output-download', target: `output:${req.params.id}` };
        const { record } = await hub.outputs.contentForReview(req.params.id);
        await mayReadProject(req, record.projectId);
        const out = await hub.outputs.download(req.params.id);
        const ext = out.mediaType.startsWith('text/csv')
          ? 'csv'
          : out.mediaType === 'image/png'
            ? 'png'
            : out.mediaType === 'application/json'
              ? 'json'
              : 'svg';
        reply.gated = true;
        return reply
          .type(out.mediaType)
          .header('content-disposition', `attachment; filename="${record.id}.${ext}"`)
          .header('content-security-policy', "default-src 'none'; sandbox")
          .header('x-content-type-options', 'nosniff')
          .header('x-content-sha256', record.sha256)
          .send(out.body.value);
      },
    );
  };
}
