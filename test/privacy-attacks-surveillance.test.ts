/**
 * Issue 14's attacks on the surveillance and console routes, as an outside researcher over HTTP against fresh hubs
 * with hand-made records: stored forecasts that reveal a week the released series suppresses, a researcher
 * overwriting stored forecasts, and concept search listing a drug few people take.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildPanel,
  forecasterNamed,
  forecastRound,
  hubWeeklySeries,
  listForecasts,
  SeriesFederation,
  saveForecasts,
} from '../src/surveillance/index.js';
import { ATC, HandMadePopulation, hubWith, researcherSession } from './support/attack-hub.js';
import { serveFederated } from './support/peer-servers.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Influenza-like-illness visits per week (Wednesdays from 2023-11-15); the last week's 2 is under the threshold. */
const WEEKLY_ILI = [12, 15, 20, 25, 18, 14, 11, 2];
const PEOPLE = 30;

function iliPopulation(): HandMadePopulation {
  const pop = new HandMadePopulation();
  for (let i = 0; i < PEOPLE; i++) pop.patient(`p${i}`, i % 2 ? 'female' : 'male', `${1950 + i}-02-01`);
  const first = Date.parse('2023-11-15T00:00:00Z');
  WEEKLY_ILI.forEach((count, w) => {
    const day = new Date(first + w * 7 * 86_400_000).toISOString().slice(0, 10);
    for (let k = 0; k < count; k++) {
      const enc = `ili-${w}-${k}`;
      pop.encounter(`p${k}`, day, enc).condition(`p${k}`, 'J11.1', day, enc);
    }
  });
  return pop;
}

/** The steward's `healthmesh forecast run --model baseline`: one round from the hub's weekly series, stored. */
async function stewardForecast(hub: Parameters<typeof hubWeeklySeries>[0]) {
  const series = await hubWeeklySeries(hub);
  const panel = buildPanel([series.ili]);
  const forecaster = forecasterNamed('baseline');
  const forecasts = forecastRound(panel, forecaster, panel.startDay + 7 * panel.weeks);
  await saveForecasts(hub, forecaster.name, 'wk inc ili', forecasts);
}

describe('privacy attacks on surveillance and the console, as an outside researcher', () => {
  it('stored forecasts served to a researcher do not reveal a week the released series suppresses', async () => {
    const t = await hubWith('attack-forecast', iliPopulation());
    cleanups.push(t.cleanup);
    await stewardForecast(t.hub);
    const researcher = await researcherSession(t.hub);
    cleanups.push(() => researcher.app.close());

    // The released series tells which week is withheld: the last one.
    const observed = (await researcher.get('/console/surveillance/observed')).json() as {
      weeks: { weekEnd: string; value: number | null }[];
    };
    const last = observed.weeks.at(-1);
    const truth = WEEKLY_ILI.at(-1)!;
    expect(last?.value ?? null).toBeNull();

    // A flat-median forecaster's first horizon is centred on the last observed week: read its median.
    const res = await researcher.get('/surveillance/forecasts');
    let estimate: number | undefined;
    if (res.statusCode === 200) {
      const body = res.json() as {
        quantileLevels?: number[];
        forecasts?: { horizon: number; quantiles: number[]; model: string }[];
      };
      const median = body.quantileLevels?.indexOf(0.5) ?? -1;
      const first = (body.forecasts ?? []).filter((f) => f.horizon === 0)[0];
      if (first && median >= 0) estimate = first.quantiles[median];
    }
    console.log(`forecast attack: suppressed week ${last?.weekEnd}: estimate ${estimate} (truth ${truth})`);
    expect(estimate !== undefined && Math.abs(estimate - truth) < 0.5).toBe(false);
  }, 120_000);

  it('a researcher cannot overwrite stored forecasts with $federated-forecast', async () => {
    const t = await hubWith('attack-overwrite', iliPopulation());
    cleanups.push(t.cleanup);
    await stewardForecast(t.hub);
    const series = new SeriesFederation(t.hub);
    const served = await serveFederated(t.hub, series.register(), { series });
    cleanups.push(() => served.app.close());
    const researcher = await researcherSession(t.hub, served.app);
    const stored = async () =>
      (await listForecasts(t.hub, {})).map((f) => JSON.stringify({ ...f, values: [...f.values] })).sort();
    const before = await stored();
    expect(before.length).toBeGreaterThan(0);

    const res = await researcher.post('/surveillance/$federated-forecast', {
      hubs: [t.hub.config.name],
      model: 'baseline',
    });
    const after = await stored();
    console.log(
      `overwrite attack: status ${res.statusCode}; stored forecasts ${after.filter((f) => !before.includes(f)).length} of ${after.length} changed`,
    );
    // Refused, or answered from released series without storing anything (the hub's choice): either way the
    // stored forecasts are as they were.
    if (res.statusCode === 200) expect(res.json().stored).toBe(false);
    else expect(res.statusCode).toBe(403);
    expect(after).toEqual(before);
  }, 120_000);

  it('concept search does not list a drug fewer people than the threshold take, however often they take it', async () => {
    // 20 people; 15 take metformin (A10BA02) once; 6 take dimethyl fumarate (L04AX07) twice: 12 prescriptions.
    const RARE = 'L04AX07';
    const pop = new HandMadePopulation();
    for (let i = 0; i < 20; i++) {
      const id = `p${i}`;
      pop.patient(id, i % 2 ? 'female' : 'male', `${1960 + i}-02-01`).encounter(id, '2023-03-01');
      if (i < 15) pop.medication(id, ATC, 'A10BA02', '2023-03-01');
      if (i >= 14) {
        pop.medication(id, ATC, RARE, '2023-03-01');
        pop.medication(id, ATC, RARE, '2023-06-01');
      }
    }
    const t = await hubWith('attack-concepts', pop);
    cleanups.push(t.cleanup);
    const researcher = await researcherSession(t.hub);
    cleanups.push(() => researcher.app.close());

    const listed = async (q: string) => {
      const res = await researcher.get(`/console/concepts?q=${encodeURIComponent(q)}`);
      return res.statusCode === 200 ? ((res.json().concepts ?? []) as { code: string }[]).map((c) => c.code) : [];
    };
    // The attacker searches by a prefix of the class, and by the code itself.
    const found = [...new Set([...(await listed('L04AX')), ...(await listed(RARE)), ...(await listed('L04'))])];
    console.log(`concept search attack: listed ${JSON.stringify(found)} (secret ${RARE})`);
    expect(found).not.toContain(RARE);
    // The common drug is still found: the search works, it just keeps the rare one back.
    expect(await listed('A10BA')).toContain('A10BA02');
  }, 120_000);
});
