import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { mayReadRowLevel } from '../../access/index.js';
import { HealthmeshError } from '../../core/index.js';
import {
  cardFitSupport,
  hubModelRegistry,
  riskAssessment,
  scoreFeatureVector,
  scoreHubRows,
} from '../../models/index.js';
import type { Gated } from '../../privacy/index.js';
import { refusal } from '../../privacy/index.js';
import { ModelParams, PredictBody } from '../api-schemas.js';
import type { RouteContext } from '../app.js';
import { badRequest } from '../operation-outcome.js';
import { auditableId } from './read.js';

type Predict = { Params: Static<typeof ModelParams>; Body: PredictBody };

/**
 * `POST /models/{id}/predict` with `{ patient, indexDate? }` (a patient key of this hub: features computed from its
 * data at the index date, default today) or `{ features: { name: number | null } }` (a feature vector), optionally
 * `version` (default: the latest version in service; a withdrawn or recalled version is refused). Returns the probability and a FHIR R4 RiskAssessment. Scoring a patient of the hub reads that
 * patient's rows, so it is limited to the roles that may see row-level data (as `$run` is); a feature vector
 * brings its own data and any authenticated role may score one. Every call is audited with the model version.
 */
export function modelPredictRoutes(ctx: RouteContext) {
  return async (app: FastifyInstance) => {
    const schema = { params: ModelParams, body: PredictBody };
    // Every role may score a feature vector; scoring a patient of the hub is refused below to all but row-level roles.
    app.post<Predict>('/models/:id/predict', { config: { allow: 'authenticated' }, schema }, async (req) => {
      const { id } = req.params;
      req.auditAction = { action: 'model-predict', target: `models/${id}` };
      const body = req.body;
      if ((body.patient === undefined) === (body.features === undefined)) {
        throw badRequest('give exactly one of "patient" (a patient key of this hub) or "features"', 'patient');
      }
      const version = body.version;
      const indexDate = body.indexDate;
      // The schema checked the form YYYY-MM-DD; 2023-02-30 has it and parses (as 2 March): only a date that reads
      // back the same is a calendar date.
      if (indexDate !== undefined && new Date(`${indexDate}T00:00:00Z`).toISOString().slice(0, 10) !== indexDate) {
        throw badRequest('indexDate must be a date YYYY-MM-DD', 'indexDate');
      }
      if (body.patient !== undefined && !mayReadRowLevel(req.principal)) {
        throw new HealthmeshError(
          'AUTH_FORBIDDEN',
          `role '${req.principal?.role ?? 'none'}' may not score a patient of this hub: it reads row-level data (send a feature vector instead)`,
        );
      }
      const registry = await hubModelRegistry(ctx.hub);
      // A project's model is used inside its workspace only: by its current members while the project holds. A
      // model id keeps one project over its versions, so the latest says which; checked before its serving status.
      const project = (await registry.get(id)).project;
      if (project !== undefined && !mayReadRowLevel(req.principal))
        await ctx.hub.projects.authorize(req.principal!, project);
      // Only a version in service answers: a withdrawn or recalled one is refused with its own code.
      const m = await registry.serving(id, version);
      req.auditAction.target = `models/${m.id}/${m.version}`;
      const now = ctx.hub.clock.now();
      if (body.patient !== undefined) {
        const patient = body.patient.startsWith('Patient/') ? body.patient.slice(8) : body.patient;
        const at = indexDate ?? now.toISOString().slice(0, 10);
        // Whose record was read goes in the audit entry before scoring, as for a FHIR read (a stored id only).
        req.auditAction.detail = {
          source: 'patient',
          patient: auditableId(patient),
          indexDate: at,
          modelHash: m.modelHash,
        };
        // Prediction for a patient is for their care unless the request says otherwise (docs/consent.md).
        const purpose = ctx.hub.consent.policy.purpose(body.purpose ?? 'treatment').name;
        req.auditAction.detail.purpose = purpose;
        const s = await scoreHubRows(ctx.hub, m, { patients: [patient], indexDate: at, purpose });
        const probability = s.probabilities[0]!;
        return {
          model: { id: m.id, version: m.version },
          purpose,
          probabilities: [probability],
          features: Object.fromEntries(s.input.names.map((n, j) => [n, s.input.values[j]!])),
          riskAssessment: riskAssessment(m, probability, { patientKey: patient, indexDate: at, now }),
        };
      }
      const { probability, input } = scoreFeatureVector(m, body.features);
      req.auditAction.detail = { source: 'features', modelHash: m.modelHash };
      if (!mayReadRowLevel(req.principal)) {
        // A probability for a vector the caller chose describes no one, but enough of them give the coefficients,
        // and a missing value is filled with a training mean: so the gate releases it (`prediction`) only for a
        // model whose training rows pass the exact-update rule, on the precision grid, and a filled value only
        // when that mean is itself releasable — otherwise the probability would carry it and is refused.
        const gate = ctx.hub.gate;
        const released = gate.prediction(probability, cardFitSupport(m.card.trainingData));
        const given = body.features as Record<string, unknown>;
        const summary = new Map(m.card.trainingData.features.map((f) => [f.name, f]));
        const rows = m.card.trainingData.rows;
        const features: Record<string, Gated> = {};
        input.names.forEach((name, j) => {
          const value = input.values[j]!;
          const filled = !name.endsWith('_missing') && (given[name] === null || given[name] === undefined);
          if (!filled) {
            features[name] = gate.parameter(value, 'a value the caller sent, or its missing indicator');
            return;
          }
          const f = summary.get(name);
          const mean =
            f?.dominance === undefined ? gate.statistic(null, 0) : gate.statistic(value, rows - f.missing, f.dominance);
          if (mean.value === null) throw refusal('min-contributors', `filling the missing ${name}`);
          features[name] = mean;
        });
        const ra = riskAssessment(m, released.value, {
          now,
          ...(indexDate !== undefined && { indexDate }),
        });
        return gate.bundle({
          model: { id: m.id, version: gate.parameter(m.version, 'model version') },
          probabilities: [released],
          features,
          // The resource's one number is the released probability (the gate checks there is no other).
          riskAssessment: {
            ...ra,
            prediction: (ra.prediction ?? []).map((p) => ({ ...p, probabilityDecimal: released })),
          } as unknown as Gated,
        });
      }
      return {
        model: { id: m.id, version: m.version },
        probabilities: [probability],
        features: Object.fromEntries(input.names.map((n, j) => [n, input.values[j]!])),
        riskAssessment: riskAssessment(m, probability, {
          now,
          ...(indexDate !== undefined && { indexDate }),
        }),
      };
    });
  };
}
