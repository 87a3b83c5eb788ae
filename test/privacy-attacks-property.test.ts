/**
 * Differencing as a property (issue 14): random populations, two cohort definitions one rule apart whose
 * populations differ by a few people (a few of them measured), released one after the other through the hub's
 * release step (`releaseLikeHub` → `releaseCohortStatistics`: the release gate and the release log, as `releaseCohort`).
 * For each statistic kind, an attacker searches the pair of published results for one person's count or value:
 * a difference of released counts that can only be a number in 1 … threshold − 1, or a difference of released
 * means (with n and SD) that yields the one extra measured person's value exactly. Nothing may be recovered.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DisclosurePolicy } from '../src/core/index.js';
import { fixedClock } from '../src/core/index.js';
import type { ReleasedCount } from '../src/privacy/index.js';
import { ReleaseLog, releaseLogMigrations, releaseTerms } from '../src/privacy/index.js';
import { DuckDbDatabase, migrate } from '../src/store/index.js';
import type { HubRelease, Person } from './support/hub-release.js';
import { countsBehind, releaseLikeHub } from './support/hub-release.js';

const NOW = new Date('2026-03-01T00:00:00Z');

const person = (measured: boolean | undefined) =>
  fc.record({
    band: fc.integer({ min: 0, max: 4 }),
    sex: fc.integer({ min: 0, max: 1 }),
    value: measured === false ? fc.constant(undefined) : fc.option(fc.integer({ min: 500, max: 2000 }), { freq: 5 }),
  });

const scenario = fc.record({
  rounding: fc.constantFrom(1, 5),
  base: fc.array(person(undefined), { minLength: 20, maxLength: 60 }),
  // The wider definition's extra people: a few measured, any number unmeasured.
  extraMeasured: fc.array(
    fc.record({
      band: fc.integer({ min: 0, max: 4 }),
      sex: fc.integer({ min: 0, max: 1 }),
      value: fc.integer({ min: 500, max: 2000 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  // With the measured ones, at least the threshold of people: the case (aged 30–54 and 30–58, 11 more people,
  // one more measured), where the cohort itself is released twice and only its parts can be differenced. (Smaller
  // differences are refused whole: the cohort attack tests and src/privacy/release-log.test.ts.)
  extraUnmeasured: fc.array(person(false), { minLength: 9, maxLength: 30 }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function populations(s: Scenario): { a: Person[]; b: Person[]; extra: Person[] } {
  const tenth = (v: number | null | undefined) => (v === null || v === undefined ? undefined : v / 10);
  const a = s.base.map((p, i) => ({ key: `base-${i}`, band: p.band, sex: p.sex, value: tenth(p.value) }));
  const extra = [
    ...s.extraMeasured.map((p, i) => ({ key: `measured-${i}`, band: p.band, sex: p.sex, value: p.value / 10 })),
    ...s.extraUnmeasured.map((p, i) => ({ key: `unmeasured-${i}`, band: p.band, sex: p.sex })),
  ];
  return { a, b: [...a, ...extra], extra };
}

/** The one difference a pair of released counts can stand for, when only one is possible. */
function exactDifference(ra: ReleasedCount, rb: ReleasedCount, policy: DisclosurePolicy): number | undefined {
  if (ra === null || rb === null) return undefined;
  const diffs = new Set<number>();
  for (const x of countsBehind(ra, policy)) for (const y of countsBehind(rb, policy)) diffs.add(y - x);
  return diffs.size === 1 ? [...diffs][0] : undefined;
}

type Kind = 'count' | 'table' | 'summary' | 'histogram';

/** What the attacker recovers from the pair (a description), or undefined. */
function attack(kind: Kind, ra: HubRelease, rb: HubRelease, extra: Person[], policy: DisclosurePolicy) {
  const small = (d: number | undefined) => d !== undefined && Math.abs(d) >= 1 && Math.abs(d) < policy.threshold;
  switch (kind) {
    case 'count': {
      const d = exactDifference(ra.persons, rb.persons, policy);
      return small(d) ? `persons ${ra.persons} → ${rb.persons}: exactly ${d} people` : undefined;
    }
    case 'table': {
      const entries = (t: HubRelease['ageSex']) => [
        ...t.cells.flatMap((row, r) => row.map((v, c) => [`cell ${r}|${c}`, v] as const)),
        ...t.rowTotals.map((v, r) => [`row ${r}`, v] as const),
        ...t.columnTotals.map((v, c) => [`column ${c}`, v] as const),
      ];
      const before = new Map(entries(ra.ageSex));
      for (const [label, v] of entries(rb.ageSex)) {
        const d = exactDifference(before.get(label) ?? null, v, policy);
        if (small(d)) return `${label} ${before.get(label)} → ${v}: exactly ${d} people`;
      }
      return undefined;
    }
    case 'histogram': {
      const ha = ra.histogram;
      const hb = rb.histogram;
      if (!ha || !hb || JSON.stringify(ha.edges) !== JSON.stringify(hb.edges)) return undefined;
      for (let i = 0; i < ha.counts.length; i++) {
        const d = exactDifference(ha.counts[i] ?? null, hb.counts[i] ?? null, policy);
        if (small(d)) return `bin ${i} ${ha.counts[i]} → ${hb.counts[i]}: exactly ${d} people`;
      }
      return undefined;
    }
    case 'summary': {
      const [sa, sb] = [ra.summary, rb.summary];
      if (sa.n === null || sb.n === null || sa.mean === undefined || sb.mean === undefined) return undefined;
      if (sa.sd === undefined || sb.sd === undefined) return undefined;
      // One more measured person: try every n the rounding allows, keep those whose sums of squares agree.
      const found: number[] = [];
      for (const na of countsBehind(sa.n, policy)) {
        const nb = na + 1;
        if (!countsBehind(sb.n, policy).includes(nb)) continue;
        const x = nb * sb.mean - na * sa.mean;
        const ssA = (na - 1) * sa.sd ** 2 + na * sa.mean ** 2;
        const ssB = (nb - 1) * sb.sd ** 2 + nb * sb.mean ** 2;
        if (Math.abs(ssB - ssA - x * x) / ssB < 1e-9) found.push(x);
      }
      const measured = extra.filter((p) => p.value !== undefined);
      const x = found.length === 1 ? found[0]! : undefined;
      return x !== undefined && measured.length === 1 && Math.abs(x - measured[0]!.value!) < 0.05
        ? `mean ${sa.mean.toFixed(3)} → ${sb.mean.toFixed(3)} (n ${sa.n} → ${sb.n}): the extra person's value ${x.toFixed(1)} (truth ${measured[0]!.value})`
        : undefined;
    }
  }
}

describe('differencing two released cohorts one rule apart, as a property', () => {
  const kinds: Kind[] = ['count', 'table', 'histogram', 'summary'];
  it.each(kinds)(
    'recovers no single person’s count or value from two releases of kind %s',
    async (kind) => {
      const recovered: string[] = [];
      let runs = 0;
      let refused = 0;
      await fc
        .assert(
          fc.asyncProperty(scenario, async (s) => {
            runs++;
            const policy: DisclosurePolicy = { threshold: 10, rounding: s.rounding, minCellSize: 10 };
            const db = await DuckDbDatabase.open(':memory:');
            try {
              await migrate(db, releaseLogMigrations, NOW);
              const log = new ReleaseLog(db, fixedClock(NOW), policy, async () => undefined);
              const { a, b, extra } = populations(s);
              const entry = { domain: 'condition', conceptSet: 'dx' };
              const narrow = await releaseLikeHub(log, policy, releaseTerms([entry, { age: { max: 54 } }]), a);
              const wide = await releaseLikeHub(log, policy, releaseTerms([entry, { age: { max: 58 } }]), b);
              if (narrow === 'refused' || wide === 'refused') {
                refused++;
                return;
              }
              const found = attack(kind, narrow, wide, extra, policy);
              if (found !== undefined) recovered.push(`rounding ${s.rounding}: ${found}`);
              expect(found, found).toBeUndefined();
            } finally {
              await db.close();
            }
          }),
          { numRuns: 40, seed: 1414, endOnFailure: true },
        )
        .finally(() => {
          console.log(
            `${kind}: ${runs} runs, ${refused} pairs refused; recovered: ${recovered.length ? recovered.join('; ') : 'nothing'}`,
          );
        });
      // Not vacuous: most pairs are released both times and searched (a refusal recovers nothing by definition).
      expect(refused).toBeLessThan(runs / 2);
    },
    120_000,
  );
});
