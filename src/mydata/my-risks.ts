import type { HubServices } from '../context/index.js';
import { isHealthmeshError } from '../core/index.js';
import type { FeatureSpec, FlattenedRecords } from '../models/index.js';
import { buildHubFeatures } from '../models/index.js';
import { hubSubmissions, predictRowsWithSubmission } from '../validation/index.js';

type Hub = Parameters<typeof buildHubFeatures>[0] & Pick<HubServices, 'db' | 'clock'>;

/** One feature's part in a person's risk: how far the risk moves when it is set to the training population's mean. */
export interface RiskFactor {
  feature: string;
  value: number | null;
  typical: number;
  /** Risk now minus risk with this feature at its typical value: > 0 raises the risk, < 0 lowers it. */
  effect: number;
}

/** A citizen's risk from one served model, or why there is none. */
export interface MyRisk {
  model: string;
  version: string;
  submission: string;
  outcome: string;
  risk: number | null;
  /** Why no risk is shown: not in the model's population (too young, the outcome already recorded …). */
  notApplicable?: string;
  /** Largest effect first. */
  factors: RiskFactor[];
}

/**
 * The citizen's risks from every model a validator approved to serve on this hub, each computed from their own
 * records as of today, with what raises and lowers it: each feature is set in turn to the mean of the developer's
 * training population and the risk recomputed (one sandboxed run per model, one row per feature). A simple,
 * model-agnostic attribution: it says which of the person's values matter for this model, not why.
 */
export async function myRisks(hub: Hub, patientKeys: readonly string[], records?: FlattenedRecords): Promise<MyRisk[]> {
  if (patientKeys.length === 0) return [];
  const served = (await hubSubmissions(hub).list()).filter((s) => s.status === 'approved');
  const today = hub.clock.now().toISOString().slice(0, 10);
  const out: MyRisk[] = [];
  for (const s of served) {
    const base = {
      model: s.name,
      version: s.version,
      submission: s.id,
      outcome: s.manifest.intendedUse.purpose,
      factors: [] as RiskFactor[],
    };
    const spec = s.manifest.featureSpec as FeatureSpec;
    let rows: Awaited<ReturnType<typeof buildHubFeatures>>;
    try {
      rows = await buildHubFeatures(hub, spec, {
        patients: patientKeys,
        indexDate: today,
        purpose: 'treatment',
        ...(records !== undefined && { records }),
      });
    } catch (e) {
      // No row for the person today: the outcome already on their record, or outside the population.
      if (isHealthmeshError(e) && (e.code === 'MODEL_EMPTY_DATA' || e.code === 'MODEL_PATIENT_NOT_FOUND')) {
        out.push({ ...base, risk: null, notApplicable: "not in this model's population today" });
        continue;
      }
      throw e;
    }
    const names = rows.matrix.names;
    const person: Record<string, number | null> = {};
    names.forEach((n, j) => {
      const v = rows.matrix.values[j]!;
      person[n] = Number.isNaN(v) ? null : v;
    });
    const typical = (n: string) => s.manifest.trainingData.features[n]?.mean;
    const varied = names.filter((n) => typical(n) !== undefined);
    const people = [person, ...varied.map((n) => ({ ...person, [n]: typical(n)! }))];
    const { risks } = await predictRowsWithSubmission(hub, s.id, people);
    const risk = risks[0]!;
    const factors = varied
      .map((n, k) => ({ feature: n, value: person[n] ?? null, typical: typical(n)!, effect: risk - risks[k + 1]! }))
      .sort((a, b) => Math.abs(b.effect) - Math.abs(a.effect));
    out.push({ ...base, risk, factors });
  }
  return out;
}
