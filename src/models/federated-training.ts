/**
 * Training across hubs for users (`healthmesh model train --hubs`, `POST /models/$federated-train`): the federated
 * logistic regression of `federated-logistic.ts` run from a training spec, and its result registered on the
 * coordinating hub with a card that records its hubs, purpose and rounds.
 */

import type { HubServices as Hub } from '../context/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Federation } from '../federation/index.js';
import type { FederatedLogisticFit, ModelFederation } from './federated-logistic.js';
import { DEFAULT_FEDERATED_PURPOSE, fitFederatedLogistic } from './federated-logistic.js';
import { hubModelRegistry } from './hub-models.js';
import type { FederatedFitRecord, ModelCard } from './model-card.js';
import type { RegisteredModel } from './model-registry.js';
import type { TrainingSpec } from './model-training.js';
import { describeFeatures } from './model-training.js';

/** What `trainFederated` made: the registered version and the fit behind it. */
export interface FederatedTrainingResult {
  registered: RegisteredModel;
  fit: FederatedLogisticFit;
}

/**
 * Fit `spec`'s logistic regression across `hubs` (this hub takes part when named) and register it here as the next
 * version of `spec.model`. Every hub builds its rows for `purpose` under its own consent policy and answers only
 * what its own disclosure rules admit; a refusal stops the fit (`MODEL_FEDERATION_REFUSED` naming the hub) and
 * nothing is registered. The fit uses every row (the spec's split is not applied: no row can be held out across
 * hubs), so the card carries no evaluation and says so. Boosted trees do not fit this protocol: refused.
 */
export async function trainFederated(
  hub: Hub,
  federation: Federation,
  local: ModelFederation,
  spec: TrainingSpec,
  hubs: readonly string[],
  options: { purpose?: string; createdBy: string; project?: string },
): Promise<FederatedTrainingResult> {
  if (spec.learner.kind !== 'logistic') {
    throw new HealthmeshError('MODEL_INVALID_SPEC', 'learner.kind: a federated fit is a logistic regression', {
      path: 'learner.kind',
    });
  }
  const names = [...new Set(hubs)];
  if (names.length === 0) throw new HealthmeshError('MODEL_INVALID_OPTION', 'name at least one hub', { path: 'hubs' });
  const purpose = hub.consent.policy.purpose(options.purpose ?? DEFAULT_FEDERATED_PURPOSE, 'purpose').name;
  const fit = await fitFederatedLogistic(federation, local, hub.config.name, names, spec.features, {
    ...(spec.learner.l2 !== undefined && { l2: spec.learner.l2 }),
    purpose,
    ...(options.project !== undefined && { project: options.project }),
  });
  const registry = await hubModelRegistry(hub);
  const registered = await registry.register(
    spec.model,
    fit.model,
    federatedCard(hub, spec, fit, names, options.project),
    options.createdBy,
    fit.plan,
    options.project,
  );
  return { registered, fit };
}

function federatedCard(
  hub: Hub,
  spec: TrainingSpec,
  fit: FederatedLogisticFit,
  hubs: string[],
  project: string | undefined,
): ModelCard {
  const { pooled, model } = fit;
  const outcome = spec.features.outcome!;
  const policy = hub.config.privacy.disclosure;
  const count = (n: number) => hub.gate.count(n).value;
  const federation: FederatedFitRecord = {
    hubs,
    ...(project !== undefined && { project }),
    purpose: fit.purpose,
    threshold: policy.threshold,
    rounding: policy.rounding,
    rounds: fit.rounds.map((r) => ({
      round: r.round,
      operation: r.operation,
      ms: Math.round(r.ms),
      hubs: r.hubs,
      answers: r.answers.map((a) => ({
        hub: a.hub,
        rows: count(a.rows),
        ...(a.events !== undefined && { events: count(a.events) }),
      })),
    })),
  };
  return {
    title: spec.card.title,
    cohort: {
      description: spec.features.description ?? spec.features.name,
      outcome: outcome.name,
      horizon: `${outcome.horizonDays} days after index`,
    },
    features: spec.card.features ?? describeFeatures(fit.plan),
    // Pooled moments only: no SD, and no zeros or dominance figures, so other roles get no feature means
    // (`releaseModelCard` withholds a statistic it cannot check).
    trainingData: {
      rows: pooled.rows,
      events: pooled.events,
      prevalence: pooled.rows > 0 ? pooled.events / pooled.rows : 0,
      features: spec.features.features.map((f, j) => {
        const recorded = pooled.recorded[j] ?? 0;
        return {
          name: f.name,
          missing: pooled.rows - recorded,
          mean: recorded > 0 ? (pooled.sums[j] ?? 0) / recorded : null,
          sd: null,
        };
      }),
    },
    evaluations: [],
    intendedUse: spec.card.intendedUse,
    limitations: [
      ...spec.card.limitations,
      `Fitted across ${hubs.join(', ')} on every row (no held-out evaluation: rows cannot be held out across hubs).`,
    ],
    learner: {
      kind: 'logistic',
      settings: {
        l2: model.l2,
        iterations: model.diagnostics.iterations,
        converged: model.diagnostics.converged,
        federated: true,
      },
    },
    federation,
  };
}
