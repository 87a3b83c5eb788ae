/**
 * Issue 14's attacks on cohort releases, run as an outside researcher over HTTP and as a federation peer by signed
 * `cohort.run` requests, each against a fresh hub whose population is hand-made, so the secret is known. Each test
 * performs the attack with what the responses reveal and asserts the secret is not recovered — whatever shape the answer takes (refused, withheld, an earlier
 * release answered again).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CohortFederation } from '../src/cohort/index.js';
import type { Hub } from '../src/hub/index.js';
import {
  HandMadePopulation,
  hubWith,
  ICD10,
  numbersIn,
  peerAttacker,
  recovers,
  researcherSession,
} from './support/attack-hub.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

function cohortOn(code: string, name: string, inclusion?: unknown[]) {
  return {
    name,
    conceptSets: { entry: { concepts: [{ system: ICD10, code }] } },
    entry: { domain: 'condition', conceptSet: 'entry' },
    ...(inclusion !== undefined && { inclusion }),
  };
}

/** What a released cohort answer says of its size: the person count, or the last attrition step, if published. */
function sizeIn(body: { persons?: unknown; attrition?: { persons?: unknown }[] }): number | undefined {
  if (typeof body.persons === 'number') return body.persons;
  const last = body.attrition?.at(-1)?.persons;
  return typeof last === 'number' ? last : undefined;
}

/** A cohort asked of the hub: the released answer, or the text of a refusal. */
type Answer = { ok: true; body: Record<string, unknown> } | { ok: false; text: string };
type Ask = (definition: unknown) => Promise<Answer>;

/** How each attacker asks: a researcher over the HTTP API, a federation peer by a signed `cohort.run`. */
const ATTACKERS: Record<'researcher' | 'peer', (hub: Hub) => Promise<Ask>> = {
  researcher: async (hub) => {
    const r = await researcherSession(hub);
    cleanups.push(() => r.app.close());
    return async (definition) => {
      const res = await r.post('/cohort/$run', { definition });
      return res.statusCode === 200 ? { ok: true, body: res.json() } : { ok: false, text: res.body };
    };
  },
  peer: async (hub) => {
    const p = await peerAttacker(hub, new CohortFederation(hub).register());
    cleanups.push(p.close);
    return async (definition) => {
      try {
        return { ok: true, body: (await p.call('cohort.run', { definition })) as Record<string, unknown> };
      } catch (e) {
        return { ok: false, text: e instanceof Error ? e.message : String(e) };
      }
    };
  },
};

describe.each(['researcher', 'peer'] as const)('privacy attacks on cohorts, as an outside %s', (as) => {
  it('a refused cohort says no number, so an empty release does not reveal a small cohort’s size', async () => {
    // 30 residents; 6 have a rare condition (G71.0), 8 another (D66); nobody has cholera (A00).
    const secrets = { 'G71.0': 6, D66: 8 } as const;
    const pop = new HandMadePopulation();
    for (let i = 0; i < 30; i++) {
      const id = `p${i}`;
      pop.patient(id, i % 2 ? 'female' : 'male', `${1950 + i}-03-01`).encounter(id, '2022-05-01');
      if (i < secrets['G71.0']) pop.condition(id, 'G71.0', '2022-05-01');
      if (i >= 10 && i < 10 + secrets.D66) pop.condition(id, 'D66', '2022-05-01');
    }
    const t = await hubWith('attack-refusal', pop);
    cleanups.push(t.cleanup);
    const ask = await ATTACKERS[as](t.hub);

    // Step 1: put an empty population into the release log.
    const empty = await ask(cohortOn('A00', 'cholera'));
    expect(empty.ok).toBe(true);

    const recovered: Record<string, number | undefined> = {};
    for (const [code, truth] of Object.entries(secrets)) {
      // Step 2: ask for the small cohort; its population differs from the empty one by exactly its size.
      const res = await ask(cohortOn(code, `has ${code}`));
      let estimate: number | undefined;
      if (res.ok) estimate = sizeIn(res.body);
      else {
        // A refusal: read every number of the message ("differs from release 1 by 6 people").
        const small = numbersIn(res.text).filter((n) => n > 0 && n < 10);
        estimate = small.includes(truth) ? truth : undefined;
      }
      recovered[code] = estimate;
    }
    console.log(
      `refusal attack (${as}): recovered sizes ${JSON.stringify(recovered)} (truth ${JSON.stringify(secrets)})`,
    );
    for (const [code, truth] of Object.entries(secrets)) expect(recovered[code], code).not.toBe(truth);
  }, 120_000);

  it('two admitted cohorts that differ by one measured person do not give that person’s lab values by subtraction', async () => {
    // Everyone enters with hypertension (I10) on 2023-06-01. Aged 30–54: 25 people, 23 with seven labs in the year
    // before. Aged 55–58: 11 people, of whom only the target (aged 56) has labs. So "aged 30–54" and "aged 30–58"
    // differ by 11 people (admitted) but their measurement n by one: 23 → 24.
    const labs = [
      ['1558-6', 'mg/dL'],
      ['2093-3', 'mg/dL'],
      ['2085-9', 'mg/dL'],
      ['13457-7', 'mg/dL'],
      ['2571-8', 'mg/dL'],
      ['4548-4', '%'],
      ['2160-0', 'mg/dL'],
    ] as const;
    let seed = 17;
    const draw = (lo: number, hi: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return Math.round((lo + ((hi - lo) * seed) / 2147483648) * 10) / 10;
    };
    const pop = new HandMadePopulation();
    const target: number[] = [];
    const addPerson = (id: string, birthDate: string, withLabs: boolean) => {
      pop.patient(id, 'female', birthDate).condition(id, 'I10', '2023-06-01');
      if (!withLabs) return;
      const values = labs.map(() => draw(50, 200));
      labs.forEach(([code, unit], j) => {
        pop.measurement(id, code, '2023-03-01', values[j]!, unit);
      });
      return values;
    };
    for (let i = 0; i < 25; i++) addPerson(`young${i}`, `${1970 + (i % 20)}-01-15`, i < 23); // aged 33–52
    for (let i = 0; i < 10; i++) addPerson(`older${i}`, `${1965 + (i % 3)}-01-15`, false); // aged 56–58
    target.push(...(addPerson('target', '1967-01-15', true) ?? [])); // aged 56
    const t = await hubWith('attack-means', pop);
    cleanups.push(t.cleanup);
    const askCohort = await ATTACKERS[as](t.hub);

    const ask = async (max: number) => {
      const res = await askCohort(
        cohortOn('I10', `hypertension aged 30-${max}`, [{ name: `aged 30-${max}`, age: { min: 30, max } }]),
      );
      return res.ok
        ? (res.body as { measurements?: { code: string; summary: { n: unknown; mean?: unknown; sd?: unknown } }[] })
        : undefined;
    };
    const a = await ask(54);
    const b = await ask(58);

    // The attacker's best estimate of the target's value of each lab: the released n are rounded, so try every n
    // the rounding allows, one more person in the wider cohort, and keep the n whose sums of squares agree too.
    const estimates = labs.map(([code]) => {
      const sa = a?.measurements?.find((m) => m.code === code)?.summary;
      const sb = b?.measurements?.find((m) => m.code === code)?.summary;
      if (!sa || !sb || typeof sa.mean !== 'number' || typeof sb.mean !== 'number') return undefined;
      if (typeof sa.sd !== 'number' || typeof sb.sd !== 'number' || typeof sa.n !== 'number') return undefined;
      let best: { x: number; residual: number } | undefined;
      for (let na = Math.max(2, sa.n - 2); na <= sa.n + 2; na++) {
        const nb = na + 1;
        const x = nb * sb.mean - na * sa.mean;
        const ssA = (na - 1) * sa.sd ** 2 + na * sa.mean ** 2;
        const ssB = (nb - 1) * sb.sd ** 2 + nb * sb.mean ** 2;
        const residual = Math.abs(ssB - ssA - x * x) / ssB;
        if (best === undefined || residual < best.residual) best = { x, residual };
      }
      return best && best.residual < 1e-6 ? best.x : undefined;
    });
    const hits = estimates.filter((e, j) => recovers(e, target[j]!)).length;
    console.log(
      `means attack (${as}): target's labs ${target.join(', ')}; estimates ${estimates.map((e) => e?.toFixed(2) ?? '-').join(', ')}; ${hits} of 7 recovered`,
    );
    expect(target).toHaveLength(7);
    expect(hits).toBe(0);
  }, 120_000);
});
