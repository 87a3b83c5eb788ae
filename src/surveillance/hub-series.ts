import type { CohortDefinition } from '../cohort/index.js';
import { entriesByDay, eventDateSpan, runCohort } from '../cohort/index.js';
import type { HubServices as Hub } from '../context/index.js';
import { HealthmeshError } from '../core/index.js';
import type { ConsentFilter } from '../privacy/index.js';
import { isoDay, parseIsoDay, type WeeklySeries } from './weekly-series.js';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';

/** ICD-10 J11.1: influenza, virus not identified, with other respiratory manifestations — an ILI diagnosis. */
export const ILI_UNCONFIRMED_CODE = 'J11.1';
/** ICD-10 J10.1: influenza, virus identified (a confirmed case), with other respiratory manifestations. */
export const INFLUENZA_CONFIRMED_CODE = 'J10.1';

/** hubverse target name of the weekly ILI visit count built from hub data. */
export const ILI_TARGET = 'wk inc ili';
/** hubverse target name of the weekly confirmed influenza count built from hub data. */
export const CONFIRMED_FLU_TARGET = 'wk inc flu conf';

/**
 * Every influenza-like-illness visit: a condition coded J11.1 or J10.1 (a confirmed case is also an ILI visit),
 * each occurrence an entry (`all`), so a person ill in two seasons counts twice.
 */
export const ILI_COHORT: CohortDefinition = {
  name: 'Influenza-like illness visits (ICD-10 J11.1 or J10.1), every occurrence',
  conceptSets: {
    ili: {
      concepts: [
        { system: ICD10, code: ILI_UNCONFIRMED_CODE },
        { system: ICD10, code: INFLUENZA_CONFIRMED_CODE },
      ],
    },
  },
  entry: { domain: 'condition', conceptSet: 'ili', occurrence: 'all' },
};

/** Laboratory-confirmed influenza: a condition coded J10.1, every occurrence. */
export const CONFIRMED_FLU_COHORT: CohortDefinition = {
  name: 'Confirmed influenza (ICD-10 J10.1), every occurrence',
  conceptSets: { flu: { concepts: [{ system: ICD10, code: INFLUENZA_CONFIRMED_CODE }] } },
  entry: { domain: 'condition', conceptSet: 'flu', occurrence: 'all' },
};

/** The weekly series of one hub: ILI visits and confirmed influenza, on the same week grid. */
export interface HubSeries {
  readonly ili: WeeklySeries;
  readonly confirmed: WeeklySeries;
  /**
   * The purpose the cases were counted for (public-health unless asked) and how many people with an ILI visit
   * their consent left out (raw: the counts leave the hub only through disclosure control).
   */
  readonly consent?: { purpose: string; leftOut: number };
}

/** The Saturday ending the epidemiological (MMWR, Sunday–Saturday) week that holds `day` (days since 1970-01-01). */
export function weekEndingDay(day: number): number {
  // 1970-01-01 was a Thursday: (day + 4) mod 7 is the weekday with Sunday = 0.
  const weekday = (((day + 4) % 7) + 7) % 7;
  return day + (6 - weekday);
}

function toDay(value: unknown, what: string): number {
  const day = parseIsoDay(String(value).slice(0, 10));
  if (day === undefined)
    throw new HealthmeshError('SURVEILLANCE_BAD_DATE', `${what}: "${String(value)}" is not a date`);
  return day;
}

async function weeklyCounts(
  hub: Hub,
  def: CohortDefinition,
  first: number,
  weeks: number,
  consent: ConsentFilter,
): Promise<{ values: Float64Array; leftOut: number }> {
  const run = await runCohort(hub.db, def, hub.clock, consent);
  const days = await entriesByDay(hub.db, run.cohortId);
  // Zero-filled: between the hub's first and last data week a week without a case is a count of zero, not a gap.
  const values = new Float64Array(weeks);
  for (const r of days) {
    const w = (weekEndingDay(toDay(r.day, 'cohort entry start date')) - first) / 7;
    if (w < 0 || w >= weeks) {
      throw new HealthmeshError(
        'SURVEILLANCE_BAD_DATE',
        `${def.name}: a case dated ${r.day} lies outside the hub's encounters (${isoDay(first - 6)} … ${isoDay(first + 7 * weeks - 1)})`,
      );
    }
    values[w] = (values[w] as number) + r.entries;
  }
  return { values, leftOut: run.consent?.leftOut ?? 0 };
}

/**
 * Weekly counts of ILI visits and confirmed influenza among this hub's records, counted by the week (Sunday to
 * Saturday, dated by its Saturday as hubverse target data are) of each cohort entry's start date. The grid runs
 * from the week of the hub's first encounter to the week of its last; location = the hub's name. A case dated
 * outside that span is refused (`SURVEILLANCE_BAD_DATE`) rather than dropped.
 * Refuses (`HUB_DERIVED_STALE`) when the event index lags the store; never rebuilds it. Cases of people whose
 * consent refuses `purpose` (public-health unless named) are not counted.
 */
export async function hubWeeklySeries(hub: Hub, purpose = 'public-health'): Promise<HubSeries> {
  const consent = await hub.consent.filter(purpose);
  await hub.derived.assertCurrent();
  // The span of the hub's encounters: conditions carry onsets from before a record began (a diagnosis dated 1948),
  // which would stretch the grid over decades the hub never observed.
  const span = await eventDateSpan(hub.db, 'encounter');
  if (span.first === null || span.last === null) {
    throw new HealthmeshError(
      'SURVEILLANCE_SHORT_HISTORY',
      `hub ${hub.config.name} holds no dated encounters to count`,
      {
        path: hub.config.name,
      },
    );
  }
  const first = weekEndingDay(toDay(span.first, 'first event date'));
  const weeks = (weekEndingDay(toDay(span.last, 'last event date')) - first) / 7 + 1;
  const location = hub.config.name;
  const ili = await weeklyCounts(hub, ILI_COHORT, first, weeks, consent);
  const confirmed = await weeklyCounts(hub, CONFIRMED_FLU_COHORT, first, weeks, consent);
  return {
    ili: { location, locationName: location, startDay: first, values: ili.values },
    confirmed: { location, locationName: location, startDay: first, values: confirmed.values },
    // Every confirmed case is an ILI visit, so the ILI cohort's count covers both.
    consent: { purpose: consent.purpose, leftOut: ili.leftOut },
  };
}
