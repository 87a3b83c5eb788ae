/**
 * Scoring with a registered model: rows of this hub through the model's stored feature plan, or one feature vector
 * given as JSON; and the FHIR R4 RiskAssessment a prediction is returned as.
 */
import type { RiskAssessment } from '@medplum/fhirtypes';
import type { HubServices as Hub } from '../context/index.js';
import { HealthmeshError } from '../core/index.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { featureMatrix } from './feature-matrix.js';
import { applyFeaturePlan, rawVectorFromJson } from './feature-plan.js';
import type { FeatureScope, HubFeatureRows } from './hub-features.js';
import { buildHubFeatures } from './hub-features.js';
import type { RegisteredModel } from './model-registry.js';
import { applyTableFill } from './model-table.js';
import { planOf, predictRisk } from './model-training.js';

/** Score rows of this hub with a registered model (its stored plan); `scope` picks people or an index date. */
export async function scoreHubRows(
  hub: Hub,
  m: RegisteredModel,
  scope: FeatureScope = {},
): Promise<{ rows: HubFeatureRows; input: FeatureMatrix; probabilities: Float64Array }> {
  const plan = planOf(m);
  const rows = await buildHubFeatures(hub, plan.spec, scope);
  const input = applyFeaturePlan(plan, rows.matrix);
  return { rows, input, probabilities: predictRisk(m.model, input) };
}

/**
 * One probability from a feature vector `{ name: number | null }`. With a feature plan, names are the spec's
 * features and a null or absent one is filled as in training (a `keep` feature stays missing: boosted trees route
 * it, logistic regression refuses it with MODEL_MISSING_VALUE). Without a plan, names are the model's own input
 * columns, all required unless the model was fitted from a table under `--missing mean` (then filled with the
 * training means). Malformed vectors are MODEL_INVALID_FEATURES naming the field.
 */
export function scoreFeatureVector(m: RegisteredModel, input: unknown): { probability: number; input: FeatureMatrix } {
  let x: FeatureMatrix;
  if (m.plan !== undefined) {
    x = applyFeaturePlan(m.plan, rawVectorFromJson(m.plan.spec, input));
  } else {
    const names = m.model.features;
    const raw = rawVectorFromJson(
      {
        name: m.id,
        conceptSets: {},
        population: { indexDate: '1970-01-01' },
        features: names.map((name) => ({ name, kind: 'age' })),
      },
      input,
    );
    x = featureMatrix(names, raw.values);
    // A table model fitted under `--missing mean` fills a gap with its training mean, as training did.
    const fill = m.card.table?.fill;
    if (fill !== undefined) x = applyTableFill(x, fill);
  }
  const p = predictRisk(m.model, x)[0];
  if (p === undefined || !Number.isFinite(p)) {
    throw new HealthmeshError('MODEL_INVALID_FEATURES', 'the model gave no finite probability for this vector', {
      path: 'features',
    });
  }
  return { probability: p, input: x };
}

/** The system of the `method` coding that names a registered model (code `<id>|<version>`). */
export const MODEL_METHOD_SYSTEM = 'urn:healthmesh:model';

/**
 * A FHIR R4 RiskAssessment of one prediction: subject the patient (or, for a bare feature vector, a display-only
 * reference), method naming the model id and version, one prediction with the outcome coded from the spec's
 * concept set and the horizon as `whenPeriod`.
 */
export function riskAssessment(
  m: RegisteredModel,
  probability: number,
  at: { patientKey?: string; indexDate?: string; now: Date },
): RiskAssessment {
  const spec = m.plan?.spec;
  const outcome = spec?.outcome;
  const concepts = outcome !== undefined ? (spec?.conceptSets[outcome.conceptSet]?.concepts ?? []) : [];
  const start = at.indexDate ?? at.now.toISOString().slice(0, 10);
  const end =
    outcome !== undefined
      ? new Date(Date.parse(`${start}T00:00:00Z`) + outcome.horizonDays * 86_400_000).toISOString().slice(0, 10)
      : undefined;
  return {
    resourceType: 'RiskAssessment',
    status: 'final',
    subject:
      at.patientKey !== undefined
        ? { reference: `Patient/${at.patientKey}` }
        : { display: 'feature vector (no patient)' },
    occurrenceDateTime: start,
    method: {
      coding: [{ system: MODEL_METHOD_SYSTEM, code: `${m.id}|${m.version}`, display: m.card.title }],
      text: `${m.card.title} (model ${m.id} version ${m.version}, ${m.kind}, sha256 ${m.modelHash.slice(0, 12)})`,
    },
    prediction: [
      {
        outcome: {
          ...(concepts.length > 0 && {
            coding: concepts.filter((c) => !c.exclude).map((c) => ({ system: c.system, code: c.code })),
          }),
          text: outcome?.name ?? m.card.cohort.outcome,
        },
        probabilityDecimal: probability,
        ...(end !== undefined && { whenPeriod: { start, end } }),
      },
    ],
  };
}
