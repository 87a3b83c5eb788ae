import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal, Role } from '../../access/index.js';
import { HealthmeshError } from '../../core/index.js';
import type { Federation } from '../../federation/index.js';
import type { Gated, Released, ReleaseGate } from '../../privacy/index.js';
import type { Submission, ValidationFederation, ValidationReport } from '../../validation/index.js';
import {
  DEFAULT_SANDBOX_LIMITS,
  hubSubmissions,
  manifestScope,
  measureDrift,
  predictWithSubmission,
  printReportPdf,
  runFederatedValidation,
  runValidation,
  SCORE_SERIES,
  submitModel,
  VALIDATION_PURPOSE,
  validateManifest,
  validationReportHtml,
  verifyOwnReport,
} from '../../validation/index.js';
import { ReportQuery, SubmissionParams, SubmitModelBody, VerifyReportBody } from '../api-schemas.js';
import type { RouteContext } from '../app.js';
import { sendReleased } from '../app.js';
import { badRequest } from '../operation-outcome.js';

/** Who submits (a member of an approved project for ai-validation), who validates, who reads. */
const SUBMITTERS: readonly Role[] = ['admin', 'developer'];
const DecisionBody = Type.Object(
  { comment: Type.String({ minLength: 1, maxLength: 1000, description: 'why: the approval or the recall reason' }) },
  { additionalProperties: false },
);
const PredictBody = Type.Object(
  {
    features: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()]), {
      description: "one person's features, named as in the manifest's feature spec",
    }),
  },
  { additionalProperties: false },
);
const ValidateBody = Type.Union([
  Type.Null(),
  Type.Object(
    {
      hubs: Type.Optional(
        Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
          minItems: 1,
          maxItems: 32,
          uniqueItems: true,
          description:
            "hubs (this one and/or peers) whose populations validate the model, inside the submission's project",
        }),
      ),
    },
    { additionalProperties: false },
  ),
]);
const VALIDATORS: readonly Role[] = ['admin', 'steward', 'validator'];
const READERS: readonly Role[] = ['admin', 'steward', 'validator', 'developer'];

type One = { Params: Static<typeof SubmissionParams> };
type Report = One & { Querystring: Static<typeof ReportQuery> };

/** The developer's own figures (manifest, file size) describe no one of this hub: each is a parameter. */
function asParameters(v: unknown, gate: ReleaseGate): Gated {
  if (typeof v === 'number') return gate.parameter(v, "the developer's own figure");
  if (Array.isArray(v)) return v.map((e) => asParameters(e, gate));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, asParameters(e, gate)]));
  }
  return v as Gated;
}

function describe(s: Submission, gate: ReleaseGate, withManifest: boolean): Released<unknown> {
  return gate.bundle({
    id: s.id,
    name: s.name,
    version: s.version,
    projectId: s.projectId,
    submittedBy: s.submittedBy,
    submittedAt: s.submittedAt.toISOString(),
    status: s.status,
    updatedAt: s.updatedAt.toISOString(),
    failure: s.failure,
    decision: s.decision,
    modelSha256: s.modelSha256,
    modelBytes: gate.parameter(s.modelBytes, 'file size'),
    ...(withManifest && { manifest: asParameters(s.manifest, gate) }),
  });
}

/** A developer sees only their own submissions: another's answers as unknown, so ids cannot be probed. */
async function visible(req: FastifyRequest, ctx: RouteContext, id: string): Promise<Submission> {
  const s = await hubSubmissions(ctx.hub).get(id);
  if (req.principal?.role === 'developer' && s.submittedBy !== req.principal.name) {
    throw new HealthmeshError('VALIDATION_NOT_FOUND', `no submission ${id}`, { path: 'id' });
  }
  return s;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The submission's project checked again as a run starts (it was checked at submission; every peer checks its own
 * record at each run): still approved here, not expired, its submitter still a member, for AI validation and for
 * every table and variable the spec reads. A refusal carries the project's code, is audited (`project-authorize`,
 * denied) and leaves the submission as it was: nothing ran.
 */
async function recheckProject(ctx: RouteContext, operator: Principal, s: Submission): Promise<void> {
  if (s.projectId === null) {
    throw new HealthmeshError('VALIDATION_NO_PROJECT', `submission ${s.id} names no project`, { path: 'projectId' });
  }
  await ctx.hub.projects.authorizeFor(operator, s.submittedBy, s.projectId, {
    purpose: VALIDATION_PURPOSE,
    ...manifestScope(s.manifest),
  });
}

/**
 * Model validation (docs/validation.md): `POST /validation/submissions` (a manifest and a base64 ONNX file),
 * `GET /validation/submissions[/{id}]`, `POST /validation/submissions/{id}/validate` (runs it on this hub's rows),
 * `GET /validation/submissions/{id}/report[?format=jws]` (the signed report) and `POST /validation/reports/verify`
 * (public: checks a signed report against this hub's identity). Every figure answered passed the release gate;
 * the developer's own figures go out as parameters.
 */
export function validationRoutes(
  ctx: RouteContext & { federation: Federation | undefined; validation: ValidationFederation },
) {
  const gate = ctx.hub.gate;
  // The model as base64 (4/3 of its bytes) and a manifest well under a megabyte.
  const submitLimit = Math.ceil((DEFAULT_SANDBOX_LIMITS.maxModelBytes * 4) / 3) + 1024 * 1024;
  return async (app: FastifyInstance) => {
    app.post<{ Body: SubmitModelBody }>(
      '/validation/submissions',
      {
        config: { allow: SUBMITTERS, service: 'validation' },
        bodyLimit: submitLimit,
        schema: { body: SubmitModelBody },
      },
      async (req, reply) => {
        req.auditAction = { action: 'validation-submit', target: 'validation/submissions' };
        const { manifest, model } = req.body;
        if (model.length % 4 !== 0 || !BASE64.test(model)) throw badRequest('model must be base64', 'model');
        // Work inside a project: the submitter a member of one approved here, for AI validation.
        const projectId = (manifest as { projectId?: unknown } | null)?.projectId;
        if (typeof projectId !== 'string' || projectId.length === 0) {
          throw new HealthmeshError('VALIDATION_NO_PROJECT', 'the manifest names no project (projectId)', {
            path: 'manifest.projectId',
          });
        }
        // The spec's tables and variables too, as a model fit's: the project must have been approved for what the
        // model reads (an invalid manifest is refused first, naming its field).
        await ctx.hub.projects.authorize(req.principal!, projectId, {
          purpose: VALIDATION_PURPOSE,
          ...manifestScope(validateManifest(manifest)),
        });
        const s = await submitModel(
          ctx.hub,
          manifest,
          new Uint8Array(Buffer.from(model, 'base64')),
          req.principal!.name,
        );
        req.auditAction = {
          action: 'validation-submit',
          target: `validation/submissions/${s.id}`,
          detail: { modelSha256: s.modelSha256 },
        };
        return reply.code(201).send(describe(s, gate, false));
      },
    );
    app.get('/validation/submissions', { config: { allow: READERS, service: 'validation' } }, async (req) => {
      req.auditAction = { action: 'validation-list', target: 'validation/submissions' };
      const own = req.principal?.role === 'developer' ? req.principal.name : undefined;
      const all = await hubSubmissions(ctx.hub).list(own);
      return gate.bundle({ submissions: all.map((s) => describe(s, gate, false)) });
    });
    const one = { schema: { params: SubmissionParams } };
    app.get<One>(
      '/validation/submissions/:id',
      { config: { allow: READERS, service: 'validation' }, ...one },
      async (req) => {
        req.auditAction = { action: 'validation-read', target: `validation/submissions/${req.params.id.slice(0, 40)}` };
        return describe(await visible(req, ctx, req.params.id), gate, true);
      },
    );
    // A validator approves a validated version to serve, or recalls one; both audited with the comment.
    for (const [action, from, to] of [
      ['approve', ['validated'], 'approved'],
      ['recall', ['validated', 'approved'], 'recalled'],
    ] as const) {
      app.post<One & { Body: { comment: string } }>(
        `/validation/submissions/:id/${action}`,
        {
          config: { allow: VALIDATORS, service: 'validation' },
          schema: { params: SubmissionParams, body: DecisionBody },
        },
        async (req) => {
          const { id } = req.params;
          req.auditAction = { action: `validation-${action}`, target: `validation/submissions/${id.slice(0, 40)}` };
          const decided = await hubSubmissions(ctx.hub).decide(id, from, to, req.principal!.name, req.body.comment);
          return describe(decided, gate, false);
        },
      );
    }
    // A risk from an approved version for one person's features, as a FHIR RiskAssessment naming the version and
    // its report. It reads nothing of the hub's: the answer is a function of what the caller sent.
    app.post<One & { Body: { features: Record<string, number | null> } }>(
      '/validation/submissions/:id/predict',
      {
        config: { allow: 'authenticated', service: 'validation' },
        schema: { params: SubmissionParams, body: PredictBody },
      },
      async (req) => {
        const { id } = req.params;
        req.auditAction = { action: 'validation-predict', target: `validation/submissions/${id.slice(0, 40)}` };
        const { submission, risk, reportRun } = await predictWithSubmission(ctx.hub, id, req.body.features);
        return gate.fromRequest(
          {
            resourceType: 'RiskAssessment',
            status: 'final',
            method: { text: `${submission.name} ${submission.version} (sha256 ${submission.modelSha256})` },
            basis: [{ display: `validation report run ${reportRun} of ${submission.id} at ${ctx.hub.config.name}` }],
            prediction: [{ outcome: { text: submission.manifest.intendedUse.purpose }, probabilityDecimal: risk }],
          },
          "a prediction from the caller's own features",
        );
      },
    );
    // With `hubs`, each named hub scores the model on its own population and the parts are pooled into the report.
    app.post<One & { Body: Static<typeof ValidateBody> }>(
      '/validation/submissions/:id/validate',
      {
        config: { allow: VALIDATORS, service: 'validation' },
        schema: { params: SubmissionParams, body: ValidateBody },
      },
      async (req) => {
        const { id } = req.params;
        req.auditAction = { action: 'validation-run', target: `validation/submissions/${id.slice(0, 40)}` };
        const hubs = req.body?.hubs;
        await recheckProject(ctx, req.principal!, await hubSubmissions(ctx.hub).get(id));
        const done =
          hubs === undefined
            ? await runValidation(ctx.hub, id, req.principal!.name)
            : await runFederatedValidation(ctx.hub, ctx.validation, ctx.federation, id, hubs, req.principal!.name);
        req.auditAction.detail = { run: done.run, modelSha256: done.submission.modelSha256 };
        // The report was built by the gate and signed as it stands: answered again as released.
        return gate.bundle({
          submission: describe(done.submission, gate, false),
          run: gate.parameter(done.run, 'run number'),
          report: gate.reissue(done.report, 'release-log'),
          jws: done.jws,
        });
      },
    );
    app.get<Report>(
      '/validation/submissions/:id/report',
      {
        config: { allow: READERS, service: 'validation' },
        schema: { params: SubmissionParams, querystring: ReportQuery },
      },
      async (req, reply) => {
        const { id } = req.params;
        req.auditAction = { action: 'validation-report', target: `validation/submissions/${id.slice(0, 40)}` };
        await visible(req, ctx, id);
        const r = await hubSubmissions(ctx.hub).report(id);
        if (req.query.format === 'jws') {
          reply.type('application/jose').header('content-disposition', `attachment; filename="${id}.jws"`);
          // The signed file holds only the report the gate built.
          return sendReleased(reply, gate.reissue(r.jws, 'release-log'));
        }
        const verified = await verifyOwnReport(ctx.hub, r.jws);
        if (!verified.valid) throw new HealthmeshError('INTERNAL', `the stored report of ${id} does not verify`);
        if (req.query.format === 'html') {
          reply.type('text/html; charset=utf-8');
          // Rendered from the signed report, every figure of which the gate built.
          const page = validationReportHtml(verified.report as ValidationReport, r.jws);
          return sendReleased(reply, gate.reissue(page, 'release-log'));
        }
        if (req.query.format === 'pdf') {
          // The same page printed: it holds the gate's figures and the signed file's hash, nothing more.
          const pdf = gate.reissue(
            await printReportPdf(validationReportHtml(verified.report as ValidationReport, r.jws), r.jws),
            'release-log',
          );
          reply.type('application/pdf').header('content-disposition', `attachment; filename="${id}.pdf"`);
          reply.gated = true;
          return reply.send(Buffer.from(pdf.value));
        }
        return gate.bundle({
          run: gate.parameter(r.run, 'run number'),
          createdAt: r.createdAt.toISOString(),
          report: gate.reissue(verified.report, 'release-log'),
          jws: r.jws,
        });
      },
    );
    // Drift of a served version against its validation population (docs/validation.md, "Drift"). The PSI is a
    // statistic over the served window and released only over enough predictions; the alert is read from the
    // released figures, and an alert is written to the audit log with the request.
    app.get<One>(
      '/validation/submissions/:id/drift',
      { config: { allow: READERS, service: 'validation' }, ...one },
      async (req) => {
        const { id } = req.params;
        req.auditAction = { action: 'validation-drift', target: `validation/submissions/${id.slice(0, 40)}` };
        await visible(req, ctx, id);
        const limits = ctx.hub.config.validation;
        const m = await measureDrift(ctx.hub, id, limits.driftWindowDays);
        const enoughServed = m.served >= Math.max(limits.driftMinPredictions, gate.minContributors);
        const psiOf = (series: string) => gate.statistic(enoughServed ? m.psi[series] : null, m.served);
        const score = psiOf(SCORE_SERIES);
        const features = Object.keys(m.psi)
          .filter((s) => s !== SCORE_SERIES)
          .map((name) => ({ name, psi: psiOf(name) }));
        const over = [score, ...features.map((f) => f.psi)].some(
          (p) => p.value !== null && p.value > limits.driftPsiLimit,
        );
        const status =
          m.run === null ? 'no-baseline' : !enoughServed ? 'too-few-predictions' : over ? 'alert' : 'stable';
        const drifted = features.filter((f) => f.psi.value !== null && f.psi.value > limits.driftPsiLimit);
        req.auditAction.detail = {
          drift: status,
          drifted: drifted.map((f) => f.name).join(','),
          scoreDrifted: (score.value ?? 0) > limits.driftPsiLimit,
        };
        return gate.bundle({
          submission: id,
          run: m.run === null ? null : gate.parameter(m.run, 'run number'),
          window: { from: m.from, to: m.to, days: gate.parameter(limits.driftWindowDays, 'setting') },
          psiLimit: gate.parameter(limits.driftPsiLimit, 'setting'),
          minPredictions: gate.parameter(limits.driftMinPredictions, 'setting'),
          predictions: gate.count(m.served),
          status,
          score: { psi: score, drifted: score.value !== null && score.value > limits.driftPsiLimit },
          features: features.map((f) => ({
            name: f.name,
            psi: f.psi,
            drifted: f.psi.value !== null && f.psi.value > limits.driftPsiLimit,
          })),
          // Served predictions carry no outcome (predict takes features only): calibration cannot be monitored yet.
          calibration: {
            available: false,
            reason: 'no outcomes are recorded for served predictions, so live calibration is not measured',
          },
        });
      },
    );
    app.post<{ Body: Static<typeof VerifyReportBody> }>(
      '/validation/reports/verify',
      { config: { allow: 'public' }, bodyLimit: 8 * 1024 * 1024, schema: { body: VerifyReportBody } },
      async (req) => {
        const v = await verifyOwnReport(ctx.hub, req.body.jws);
        // Public: it tells whether a file was signed by this hub, and shows back only what the file itself holds.
        return v.valid
          ? { valid: true, hub: ctx.hub.config.name, kid: v.kid, report: v.report }
          : { valid: false, hub: ctx.hub.config.name, reason: v.reason };
      },
    );
  };
}
