/**
 * The demo's analysis, done once: each hub trains a hypertension risk model on its own population (its evaluation
 * plots then show on the console's Models page), and one federated ILI forecast round over the three, computed from
 * their released series, is stored at each with its fan charts and alerts (default thresholds from each region's
 * history). A hub that already holds a model, or a forecast, keeps it, so a restart costs nothing.
 */
import { HealthmeshError } from '../core/index.js';
import type { Federation } from '../federation/index.js';
import type { Hub } from '../hub/index.js';
import { hubModelRegistry, parseTrainingSpec, trainFromSpec } from '../models/index.js';
import type { SeriesFederation } from '../surveillance/index.js';
import { forecasterNamed, keepAlerts, listForecasts, saveForecasts } from '../surveillance/index.js';
import type { Io } from './io.js';

/** Incident hypertension (ICD-10 I10) within five years of 2021-01-01, among adults: enough events in every region. */
const DEMO_MODEL = {
  model: 'htn-5y',
  name: 'Hypertension within 5 years',
  conceptSets: {
    htn: { concepts: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10', descendants: true }] },
    sbp: { concepts: [{ system: 'http://loinc.org', code: '8480-6' }] },
    bmi: { concepts: [{ system: 'http://loinc.org', code: '39156-5' }] },
  },
  population: { indexDate: '2021-01-01', age: { min: 20 } },
  outcome: { name: 'hypertension', domain: 'condition', conceptSet: 'htn', horizonDays: 1826 },
  features: [
    { name: 'age', kind: 'age' },
    { name: 'male', kind: 'sex', value: 'male' },
    // Filled with the mean, not flagged: in a small demo region every adult may have a reading, and a flag that is
    // 0 in every row is refused as a constant feature (MODEL_CONSTANT_FEATURE).
    { name: 'sbp', kind: 'mean', conceptSet: 'sbp', window: { end: 0 }, missing: 'mean' },
    {
      name: 'bmi',
      kind: 'latest',
      conceptSet: 'bmi',
      window: { start: -1095, end: 0 },
      unit: 'kg/m2',
      missing: 'mean',
    },
  ],
  learner: { kind: 'logistic', l2: 1 },
  split: { testFraction: 0.3, seed: 1 },
  card: {
    title: 'Hypertension, 5-year risk (demo)',
    intendedUse: 'Demonstration on synthetic data only',
    limitations: ['synthetic population', 'not for clinical use'],
  },
};

/** A demo step that fails is reported with its code and the demo goes on: the hubs still serve. */
function report(io: Io, what: string, e: unknown): void {
  if (!(e instanceof HealthmeshError)) throw e;
  io.err.write(`${what}: ${e.code} ${e.message}\n`);
}

/** Trains the demo's risk model on a hub that holds none yet. */
export async function trainDemoModel(hub: Hub, io: Io): Promise<void> {
  if ((await (await hubModelRegistry(hub)).list()).length > 0) return;
  try {
    const result = await trainFromSpec(hub, parseTrainingSpec(DEMO_MODEL), 'demo');
    const auroc = result.heldOut.overall.auroc;
    io.out.write(
      `${hub.config.name}: trained risk model ${result.registered.id} v${result.registered.version} (held-out AUROC ${auroc === null ? '-' : auroc.toFixed(3)})\n`,
    );
  } catch (e) {
    report(io, `${hub.config.name}: demo model not trained`, e);
  }
}

/**
 * A federated ILI forecast over every hub of `hubs`, coordinated by the first and stored, with its alerts, at each
 * that has none yet. One round rather than one per hub: the released series are the same from any coordinator,
 * and each round costs every hub its weekly series.
 */
export async function forecastDemo(
  hubs: readonly { hub: Hub; series: SeriesFederation; federation: Federation }[],
  io: Io,
): Promise<void> {
  const lacking = [];
  for (const h of hubs) if ((await listForecasts(h.hub)).length === 0) lacking.push(h.hub);
  const [first] = hubs;
  if (first === undefined || lacking.length === 0) return;
  try {
    const names = hubs.map((h) => h.hub.config.name);
    const run = (await first.series.releasedForecast(first.federation, names, forecasterNamed('baseline'))).value;
    for (const hub of lacking) {
      await saveForecasts(hub, run.model, run.target, run.forecasts, 'released');
      await keepAlerts(hub, run.alerts, 'released');
    }
    io.out.write(
      `federated forecast of ${run.target} from ${run.referenceDate} stored at ${lacking.map((h) => h.config.name).join(', ')} (${run.alerts.length} alert(s))\n`,
    );
  } catch (e) {
    report(io, 'demo forecast not stored', e);
  }
}
