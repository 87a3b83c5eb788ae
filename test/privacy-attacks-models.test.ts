/**
 * Issue 14's attacks on risk models: a federation peer asking `model.glm-moments` of two specs that differ only in
 * one feature's window, and an outside researcher reading a model card. Fresh hubs with hand-made populations;
 * each test asserts the secret is not recovered, whatever shape the answer takes (refused, rounded, withheld).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { isHealthmeshError } from '../src/core/index.js';
import { ModelFederation, parseTrainingSpec, trainFromSpec } from '../src/models/index.js';
import {
  HandMadePopulation,
  hubWith,
  ICD10,
  LOINC,
  peerAttacker,
  recovers,
  researcherSession,
} from './support/attack-hub.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const INDEX = '2023-01-01';
const conceptSets = {
  htn: { concepts: [{ system: ICD10, code: 'I10', descendants: true }] },
  ldl: { concepts: [{ system: LOINC, code: '13457-7' }] },
  steps: { concepts: [{ system: LOINC, code: '55423-8' }] },
};
const outcome = { name: 'hypertension', domain: 'condition', conceptSet: 'htn', horizonDays: 1826 };

/** A number, or undefined for anything else (absent, null, refused). */
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

describe('privacy attacks on risk models', () => {
  it('a peer cannot read one person’s feature value by widening one feature’s window in model.glm-moments', async () => {
    // 30 adults observed around 2023-01-01; 12 develop hypertension after it. 14 had an LDL test in 2022-09; the
    // target's only LDL is on 2022-12-27, five days before the index date.
    const TARGET_LDL = 187.3;
    const pop = new HandMadePopulation();
    for (let i = 0; i < 30; i++) {
      const id = `p${i}`;
      pop
        .patient(id, i % 2 ? 'female' : 'male', `${1955 + i}-04-01`)
        .encounter(id, '2021-01-10')
        .encounter(id, '2024-06-01');
      if (i < 12) pop.condition(id, 'I10', '2023-06-01');
      if (i >= 12 && i < 26) pop.measurement(id, '13457-7', '2022-09-01', 90 + 3.7 * i, 'mg/dL');
    }
    pop.measurement('p29', '13457-7', '2022-12-27', TARGET_LDL, 'mg/dL');
    const t = await hubWith('attack-glm', pop);
    cleanups.push(t.cleanup);
    const peer = await peerAttacker(t.hub, new ModelFederation(t.hub).register());
    cleanups.push(peer.close);

    const spec = (end: number) => ({
      name: 'Hypertension within 5 years',
      conceptSets,
      population: { indexDate: INDEX, age: { min: 20 } },
      outcome,
      features: [
        { name: 'age', kind: 'age' },
        { name: 'ldl', kind: 'latest', conceptSet: 'ldl', window: { start: -365, end } },
      ],
    });
    const moments = async (end: number) => {
      try {
        return (await peer.call('model.glm-moments', { spec: spec(end) })) as {
          recorded?: unknown[];
          sums?: unknown[];
        };
      } catch (e) {
        // A refusal is an answer too: it gives the attacker nothing to subtract (its message is read below).
        return { refused: isHealthmeshError(e) ? e.message : String(e) };
      }
    };
    const narrow = await moments(-10);
    const wide = await moments(-3);
    let estimate: number | undefined;
    if ('recorded' in narrow && 'recorded' in wide) {
      const dn = (num(wide.recorded?.[1]) ?? Number.NaN) - (num(narrow.recorded?.[1]) ?? Number.NaN);
      const ds = (num(wide.sums?.[1]) ?? Number.NaN) - (num(narrow.sums?.[1]) ?? Number.NaN);
      // One more recorded value: the sums differ by it. Rounded counts hide which, but an unchanged total does not.
      if (dn === 1 || (dn === 0 && Number.isFinite(ds) && ds !== 0)) estimate = ds;
    }
    console.log(
      `glm-moments attack: narrow ${JSON.stringify(narrow)}; wide ${JSON.stringify(wide)}; estimate ${estimate} (truth ${TARGET_LDL})`,
    );
    expect(recovers(estimate, TARGET_LDL)).toBe(false);
  }, 180_000);

  it('a researcher’s model card gives neither the withheld event count nor the mean of four people’s wearable data', async () => {
    // 50 adults; 10 develop hypertension after 2023-01-01; 4 have wearable step counts.
    const steps = [8123.4, 4520.7, 11870.2, 6433.9];
    const pop = new HandMadePopulation().device('band-1');
    for (let i = 0; i < 50; i++) {
      const id = `p${i}`;
      pop
        .patient(id, i % 2 ? 'female' : 'male', `${1950 + (i % 40)}-04-01`)
        .encounter(id, '2021-01-10')
        .encounter(id, '2024-06-01');
      if (i % 5 === 0) pop.condition(id, 'I10', '2023-06-01');
      if (i >= 40 && i < 44) pop.measurement(id, '55423-8', '2022-10-01', steps[i - 40]!, '/d', 'band-1');
    }
    const t = await hubWith('attack-card', pop);
    cleanups.push(t.cleanup);
    // The steward trains and registers the model, as `healthmesh model train` does.
    const trained = await trainFromSpec(
      t.hub,
      parseTrainingSpec({
        model: 'htn-5y',
        name: 'Hypertension within 5 years',
        conceptSets,
        population: { indexDate: INDEX, age: { min: 20 } },
        outcome,
        features: [
          { name: 'age', kind: 'age' },
          {
            name: 'steps',
            kind: 'lifelog',
            conceptSet: 'steps',
            window: { start: -365, end: 0 },
            missing: 'indicator',
          },
        ],
        learner: { kind: 'logistic', l2: 1 },
        split: { testFraction: 0.2, seed: 1 },
        card: { title: 'Hypertension, 5-year risk', intendedUse: 'testing', limitations: ['hand-made data'] },
      }),
      'steward',
    );
    // The truth, from the training rows: events, and the people with wearable data and their mean.
    const m = trained.rows.matrix;
    const stepsCol = m.names.indexOf('steps');
    let events = 0;
    const worn: number[] = [];
    for (const i of trained.split.train) {
      events += m.outcome![i]!;
      const v = m.values[i * m.names.length + stepsCol]!;
      if (!Number.isNaN(v)) worn.push(v);
    }
    const truthMean = worn.reduce((s, v) => s + v, 0) / worn.length;
    expect(events).toBeLessThan(10);
    expect(worn.length).toBeGreaterThan(0);
    expect(worn.length).toBeLessThan(10);

    const researcher = await researcherSession(t.hub);
    cleanups.push(() => researcher.app.close());
    const res = await researcher.get('/models/htn-5y');
    const card = res.statusCode === 200 ? (res.json().card ?? {}) : {};
    const td = (card.trainingData ?? {}) as {
      rows?: unknown;
      events?: unknown;
      prevalence?: unknown;
      features?: { name: string; mean?: unknown }[];
    };
    const prevalence = num(td.prevalence);
    const missingShare = num(td.features?.find((f) => f.name === 'steps_missing')?.mean);
    const releasedRows = num(td.rows);
    // Every row count the rounding allows (or any under the threshold when suppressed) that makes the published
    // fractions whole numbers of people.
    const candidates: number[] = [];
    const whole = (x: number) => Math.abs(x - Math.round(x)) < 1e-9;
    for (let r = releasedRows === undefined ? 1 : releasedRows - 2; r <= (releasedRows ?? 9) + 2; r++) {
      if (r <= 0) continue;
      if (prevalence !== undefined && !whole(prevalence * r)) continue;
      if (missingShare !== undefined && !whole(missingShare * r)) continue;
      if (prevalence !== undefined || missingShare !== undefined) candidates.push(r);
    }
    const rows = candidates.length === 1 ? candidates[0]! : undefined;
    const eventEstimate =
      num(td.events) ?? (rows !== undefined && prevalence !== undefined ? Math.round(prevalence * rows) : undefined);
    const wornEstimate =
      rows !== undefined && missingShare !== undefined ? Math.round(rows * (1 - missingShare)) : undefined;
    // With the missing ones filled by the recorded mean, the filled column's mean is the recorded people's mean.
    const meanEstimate = num(td.features?.find((f) => f.name === 'steps')?.mean);
    console.log(
      `model card attack: rows ${rows} (released ${releasedRows}), events ${eventEstimate} (truth ${events}), people with wearable data ${wornEstimate} (truth ${worn.length}), their mean steps ${meanEstimate} (truth ${truthMean})`,
    );
    expect(eventEstimate).not.toBe(events);
    // The mean of fewer than minCellSize people is not released, read directly or through the filled column.
    expect(meanEstimate !== undefined && Math.abs(meanEstimate - truthMean) < 0.05).toBe(false);
  }, 180_000);
});
