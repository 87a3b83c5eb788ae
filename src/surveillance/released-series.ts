import type { HubServices as Hub } from '../context/index.js';
import type { DisclosurePolicy } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Released } from '../privacy/index.js';
import { releaseCounts, releaseTerms } from '../privacy/index.js';
import { CONFIRMED_FLU_COHORT, type HubSeries, hubWeeklySeries, ILI_COHORT } from './hub-series.js';
import { isoDay, parseIsoDay } from './weekly-series.js';

/**
 * A hub's weekly series as they may leave it (docs/surveillance.md, "Federated series"): ILI visits and
 * confirmed influenza per week, each week disclosure-controlled under the releasing hub's own policy. A
 * suppressed week is `null` — "under the threshold, or withheld to protect a week that is" — never a zero.
 */
export interface ReleasedHubSeries {
  hub: string;
  location: string;
  /** End date (a Saturday) of the first week. */
  startDate: string;
  /** Weekly ILI visits: a multiple of `policy.rounding` at or above `policy.threshold`, or null (suppressed). */
  ili: (number | null)[];
  /** Weekly confirmed influenza, released the same way (null also when withheld to protect the unconfirmed visits). */
  confirmed: (number | null)[];
  /** The policy the releasing hub applied: the coordinator needs the threshold to read a null. */
  policy: { threshold: number; rounding: number };
  /** How many weeks of each series are null. */
  suppressed: { ili: number; confirmed: number };
  /** The purpose the cases were counted for and how many people consent left out, released like any count. */
  consent?: { purpose: string; leftOut: number | null };
}

/** Options of a series release. */
export interface SeriesReleaseOptions {
  /** Release only weeks ending on or before this date (`YYYY-MM-DD`): leaves out a week still being reported. */
  through?: string;
  /**
   * The purpose the cases are counted for (default public-health): a project's, whose consent applies. Its release
   * is compared with every other of the series in the release log, so two purposes' series cannot be subtracted
   * to reveal the few cases one purpose's consent leaves out.
   */
  purpose?: string;
}

/**
 * Disclosure control of one hub's weekly series, a pure function of the counts and the policy. Each week is the
 * linked table (confirmed, unconfirmed | ILI total) released through `releaseCounts`, because ILI visits include the
 * confirmed cases: releasing both series as independent counts would let anyone subtract them and read a small
 * number of unconfirmed visits. So a week with fewer than `threshold` unconfirmed visits has its confirmed count
 * withheld too (complementary suppression), and a week with fewer than `threshold` ILI visits releases neither.
 * The unconfirmed count itself is never sent.
 */
export function releaseWeeklySeries(
  series: HubSeries,
  hubName: string,
  policy: DisclosurePolicy,
  options: SeriesReleaseOptions = {},
): ReleasedHubSeries {
  const { ili, confirmed } = series;
  let weeks = ili.values.length;
  if (options.through !== undefined) {
    const through = parseIsoDay(options.through);
    if (through === undefined) {
      throw new HealthmeshError(
        'SURVEILLANCE_BAD_DATE',
        `through must be a date YYYY-MM-DD, got "${options.through}"`,
        {
          path: 'through',
        },
      );
    }
    weeks = Math.max(0, Math.min(weeks, Math.floor((through - ili.startDay) / 7) + 1));
  }
  const out: ReleasedHubSeries = {
    hub: hubName,
    location: ili.location,
    startDate: isoDay(ili.startDay),
    ili: [],
    confirmed: [],
    policy: { threshold: policy.threshold, rounding: policy.rounding },
    suppressed: { ili: 0, confirmed: 0 },
  };
  for (let w = 0; w < weeks; w++) {
    const total = ili.values[w] as number;
    const conf = confirmed.values[w] as number;
    const week = releaseCounts({ confirmed: conf, unconfirmed: total - conf }, policy);
    const releasedIli = week.total;
    const releasedConfirmed = week.counts.confirmed ?? null;
    out.ili.push(releasedIli);
    out.confirmed.push(releasedConfirmed);
    if (releasedIli === null) out.suppressed.ili++;
    if (releasedConfirmed === null) out.suppressed.confirmed++;
  }
  return out;
}

/** The family under which weekly-series releases are compared for differencing (docs/disclosure-control.md). */
export const SERIES_RELEASE_FAMILY = 'surveillance.series/week×(ili,confirmed)';

/**
 * Counts this hub's weekly series, releases them under its own disclosure policy and records the release in its
 * release log, each week's ILI and confirmed counts as cells. A week that moved by fewer than the threshold since
 * an earlier release published it (a late record) is published as it was then (`ReleaseLog.admitHolding`: the
 * difference would reveal the late records), so the rest of the series still goes out; the week moves on once
 * it has moved by the threshold. No population sketch is passed: the series grows by a week each week, and
 * comparing populations would refuse every quiet-season re-release in which fewer than the threshold new people
 * fell ill.
 */
export async function releaseHubSeries(
  hub: Hub,
  requester: string,
  options: SeriesReleaseOptions = {},
): Promise<ReleasedHubSeries> {
  const series = await hubWeeklySeries(hub, options.purpose);
  const released = releaseWeeklySeries(series, hub.config.name, hub.config.privacy.disclosure, options);
  const cells: Record<string, { count: number; released: number | null }> = {};
  const weeks = released.ili.map((_, w) => isoDay(series.ili.startDay + 7 * w));
  released.ili.forEach((v, w) => {
    cells[`${weeks[w]}|ili`] = { count: series.ili.values[w] as number, released: v };
    cells[`${weeks[w]}|confirmed`] = {
      count: series.confirmed.values[w] as number,
      released: released.confirmed[w] ?? null,
    };
  });
  const admitted = await hub.releases.admitHolding(
    {
      requester,
      family: SERIES_RELEASE_FAMILY,
      terms: releaseTerms([ILI_COHORT.entry, ILI_COHORT.conceptSets, CONFIRMED_FLU_COHORT.conceptSets]),
      cells,
    },
    (label) => label.slice(0, label.indexOf('|')),
  );
  const ili = weeks.map((week) => admitted.cells[`${week}|ili`]!.released);
  const confirmed = weeks.map((week) => admitted.cells[`${week}|confirmed`]!.released);
  return {
    ...released,
    ili,
    confirmed,
    suppressed: { ili: ili.filter((v) => v === null).length, confirmed: confirmed.filter((v) => v === null).length },
    ...(series.consent !== undefined && {
      consent: { purpose: series.consent.purpose, leftOut: hub.gate.count(series.consent.leftOut).value },
    }),
  };
}

/**
 * `releaseHubSeries` as a `Released` value, for a peer or a principal without row-level rights: each week's counts
 * are those the release log recorded as published (held weeks as published before), so they are reissued as
 * released; the policy and the numbers of suppressed weeks describe no one.
 */
export async function gatedHubSeries(
  hub: Hub,
  requester: string,
  options: SeriesReleaseOptions = {},
): Promise<Released<ReleasedHubSeries>> {
  return gatedSeries(hub, await releaseHubSeries(hub, requester, options), 'release-log');
}

/** A released series (this hub's from its release log, or a peer's answer) as a `Released` value. */
export function gatedSeries(
  hub: Pick<Hub, 'gate'>,
  s: ReleasedHubSeries,
  origin: 'release-log' | 'peer',
): Released<ReleasedHubSeries> {
  const gate = hub.gate;
  return gate.bundle({
    hub: s.hub,
    location: s.location,
    startDate: s.startDate,
    ili: s.ili.map((v) => gate.reissue(v, origin)),
    confirmed: s.confirmed.map((v) => gate.reissue(v, origin)),
    policy: {
      threshold: gate.parameter(s.policy.threshold, 'disclosure threshold'),
      rounding: gate.parameter(s.policy.rounding, 'rounding'),
    },
    suppressed: {
      ili: gate.parameter(s.suppressed.ili, 'weeks suppressed'),
      confirmed: gate.parameter(s.suppressed.confirmed, 'weeks suppressed'),
    },
    ...(s.consent !== undefined && {
      consent: { purpose: s.consent.purpose, leftOut: gate.reissue(s.consent.leftOut, origin) },
    }),
  });
}

/**
 * Checks a series a peer sent (it crossed a network and another hub's code): equal lengths, released values
 * non-negative integers or null, a policy with a positive threshold. `SURVEILLANCE_BAD_RELEASED_SERIES` names
 * the hub and the field otherwise.
 */
export function checkReleasedSeries(value: unknown, from: string): ReleasedHubSeries {
  const fail = (field: string, why: string): never => {
    throw new HealthmeshError('SURVEILLANCE_BAD_RELEASED_SERIES', `series from ${from}: ${field} ${why}`, {
      path: `${from}.${field}`,
    });
  };
  if (value === null || typeof value !== 'object') return fail('body', 'is not an object');
  const v = value as Partial<Record<keyof ReleasedHubSeries, unknown>>;
  for (const key of ['hub', 'location', 'startDate'] as const) {
    if (typeof v[key] !== 'string') fail(key, 'is not a string');
  }
  if (parseIsoDay(v.startDate as string) === undefined) fail('startDate', `is not a date: "${String(v.startDate)}"`);
  const policy = v.policy as { threshold?: unknown; rounding?: unknown } | undefined;
  if (
    policy === undefined ||
    !Number.isInteger(policy.threshold) ||
    (policy.threshold as number) < 1 ||
    !Number.isInteger(policy.rounding) ||
    (policy.rounding as number) < 1
  ) {
    fail('policy', 'needs a positive integer threshold and rounding');
  }
  const counts = (key: 'ili' | 'confirmed'): (number | null)[] => {
    const xs = v[key];
    if (!Array.isArray(xs)) return fail(key, 'is not a list');
    xs.forEach((x, i) => {
      if (x !== null && !(Number.isInteger(x) && (x as number) >= 0)) {
        fail(`${key}[${i}]`, `must be a non-negative integer or null, got ${JSON.stringify(x)}`);
      }
    });
    return xs as (number | null)[];
  };
  const ili = counts('ili');
  const confirmed = counts('confirmed');
  if (ili.length !== confirmed.length) fail('confirmed', `has ${confirmed.length} weeks, ili ${ili.length}`);
  return {
    hub: v.hub as string,
    location: v.location as string,
    startDate: v.startDate as string,
    ili,
    confirmed,
    policy: { threshold: policy?.threshold as number, rounding: policy?.rounding as number },
    suppressed: { ili: ili.filter((x) => x === null).length, confirmed: confirmed.filter((x) => x === null).length },
  };
}
