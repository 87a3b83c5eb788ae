/**
 * Writes one region's synthetic data: FHIR R4 NDJSON (one file per resource type) and the ground truth
 * (`truth/*.ndjson`). People are generated one at a time and streamed out, so memory does not grow with N.
 *
 * A region's output holds its own residents (`--people N` of them) and the residents of the other regions who
 * are also treated here (about 3% of each, with the same identifiers as at home). Generate every region of a
 * federation with the same seed and N, so each traveller appears under the same resident registration number
 * in both regions' output.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HealthmeshError } from '../core/index.js';
import { baselineHazards } from './baseline-hazards.js';
import { DAYS_PER_YEAR, isoDate } from './calendar.js';
import type { EpidemicTally } from './care-events.js';
import { CareTimeline } from './care-events.js';
import { DISEASES } from './diseases.js';
import { simulateEpidemic } from './epidemic.js';
import { localPatientId, organizations, PersonWriter } from './fhir-writer.js';
import { trueRisk } from './life.js';
import { NdjsonSink } from './ndjson-sink.js';
import type { Person, Window } from './person.js';
import { defaultWindow, makePerson, travelDestination } from './person.js';
import type { RegionId } from './regions.js';
import { REGION_IDS, REGIONS } from './regions.js';

export interface SynthOptions {
  region: RegionId;
  people: number;
  seed: string | number;
  out: string;
  /** Last calendar year of the history (default 2025) and its length in years (default 10). */
  endYear?: number;
  years?: number;
  /**
   * Write only these resource types (default: every type). People and their events are generated as without it,
   * so the files written are byte-identical to a full run's; what is left out is only not serialised or written
   * (a surveillance run needs no Observations, about 70% of a region's bytes).
   */
  types?: readonly string[];
  onProgress?: (done: number, total: number) => void;
}

/** Every resource type the generator writes. */
export const SYNTH_RESOURCE_TYPES: readonly string[] = [
  'Condition',
  'Consent',
  'Device',
  'Encounter',
  'Immunization',
  'MedicationRequest',
  'Observation',
  'Organization',
  'Patient',
  'Procedure',
];

export interface SynthSummary {
  region: RegionId;
  residents: number;
  visitors: number;
  resources: number;
  bytes: number;
  files: Record<string, { lines: number; bytes: number }>;
  window: { start: string; end: string; index: string; horizonYears: number };
}

const GENERATOR_VERSION = 1;

function dateOrNull(day: number): string | null {
  return Number.isFinite(day) ? isoDate(Math.floor(day)) : null;
}

export function generateRegion(options: SynthOptions): SynthSummary {
  const { region: regionId, people, seed, out } = options;
  if (!Number.isInteger(people) || people < 1) {
    throw new HealthmeshError('SYNTH_INVALID_OPTION', `--people must be a positive integer, got ${people}`, {
      path: 'people',
    });
  }
  const years = options.years ?? 10;
  if (!Number.isInteger(years) || years < 6) {
    throw new HealthmeshError(
      'SYNTH_INVALID_OPTION',
      `--years must be an integer of at least 6 (5-year truth horizon), got ${years}`,
      { path: 'years' },
    );
  }
  const unknown = options.types?.filter((t) => !SYNTH_RESOURCE_TYPES.includes(t)) ?? [];
  if (unknown.length > 0 || options.types?.length === 0) {
    throw new HealthmeshError(
      'SYNTH_INVALID_OPTION',
      `--types must name resource types the generator writes (${SYNTH_RESOURCE_TYPES.join(', ')}), got ${unknown.length > 0 ? unknown.join(', ') : 'none'}`,
      { path: 'types' },
    );
  }
  const window: Window = defaultWindow(options.endYear ?? 2025, years);
  const region = REGIONS[regionId];
  const baseline = baselineHazards();
  const epidemic = simulateEpidemic(seed, window.start, window.end);
  const nWeeks = epidemic.weeks.length;
  const tally: EpidemicTally = {
    infections: new Float64Array(nWeeks),
    iliVisits: new Float64Array(nWeeks),
    expectedIliVisits: new Float64Array(nWeeks),
    confirmed: new Float64Array(nWeeks),
  };
  const sink = new NdjsonSink(out, options.types);
  const truth = new NdjsonSink(join(out, 'truth'));
  for (const org of organizations(region)) sink.write('Organization', org);
  const total = people * REGION_IDS.length;
  let done = 0;
  const progress = () => {
    done++;
    if (options.onProgress !== undefined && (done % 1000 === 0 || done === total)) options.onProgress(done, total);
  };

  for (let i = 0; i < people; i++) {
    const person = makePerson(seed, regionId, i, window, baseline);
    const events = new CareTimeline(seed, person, window).build(epidemic, tally);
    new PersonWriter(sink, region, person).write(events, window.start);
    writeTruth(truth, person, window);
    progress();
  }
  let visitors = 0;
  for (const other of REGION_IDS) {
    if (other === regionId) continue;
    for (let i = 0; i < people; i++) {
      if (travelDestination(seed, other, i) === regionId) {
        const person = makePerson(seed, other, i, window, baseline);
        const events = new CareTimeline(seed, person, window).build(epidemic);
        new PersonWriter(sink, region, person).write(events, window.start);
        visitors++;
      }
      progress();
    }
  }
  const r = REGION_IDS.indexOf(regionId);
  for (let w = 0; w < nWeeks; w++) {
    const week = epidemic.weeks[w] as number;
    if (week < window.start - 6 || week > window.end) continue;
    truth.write('epidemic', {
      region: regionId,
      weekStart: isoDate(week),
      weekEnd: isoDate(week + 6),
      populationSize: region.population,
      infections: Math.round(epidemic.infections[r * nWeeks + w] as number),
      forceOfInfection: Number((epidemic.force[r * nWeeks + w] as number).toPrecision(6)),
      syntheticPopulation: people,
      syntheticInfections: tally.infections[w],
      iliVisits: tally.iliVisits[w],
      expectedIliVisits: Number((tally.expectedIliVisits[w] as number).toFixed(4)),
      confirmedInfluenza: tally.confirmed[w],
    });
  }
  const files = Object.fromEntries(sink.close());
  const truthFiles = truth.close();
  const bytes = Object.values(files).reduce((s, f) => s + f.bytes, 0);
  // What was written: with `types`, the resources left out are not counted.
  const resources = Object.values(files).reduce((s, f) => s + f.lines, 0);
  const summary: SynthSummary = {
    region: regionId,
    residents: people,
    visitors,
    resources,
    bytes,
    files,
    window: {
      start: isoDate(window.start),
      end: isoDate(window.end),
      index: isoDate(window.index),
      horizonYears: window.horizonYears,
    },
  };
  writeFileSync(
    join(out, 'manifest.json'),
    `${JSON.stringify({ generator: 'healthmesh synth', version: GENERATOR_VERSION, seed: String(seed), ...summary, truth: Object.fromEntries(truthFiles) }, null, 2)}\n`,
  );
  return summary;
}

function writeTruth(truth: NdjsonSink, person: Person, window: Window): void {
  const life = person.life;
  const t = life.traits;
  const region = REGIONS[person.home];
  const onset: Record<string, string | null> = {};
  const prs: Record<string, number> = {};
  DISEASES.forEach((d, i) => {
    onset[d.id] = dateOrNull(life.onset[i] as number);
    prs[d.id] = Number((t.prs[i] as number).toFixed(4));
  });
  truth.write('persons', {
    person: person.key,
    region: person.home,
    patient: localPatientId(person, region),
    alsoIn: person.alsoIn ?? null,
    alsoInPatient: person.alsoIn !== undefined ? localPatientId(person, REGIONS[person.alsoIn]) : null,
    sex: person.sex,
    birthDate: isoDate(t.birthDay),
    deathDate: dateOrNull(life.death),
    onset,
    prs,
    optOut: person.optOut,
  });
  const horizonEnd = window.index + window.horizonYears * DAYS_PER_YEAR;
  DISEASES.forEach((d, i) => {
    const risk = trueRisk(life, i, window.index, window.horizonYears);
    if (Number.isNaN(risk)) return;
    const on = life.onset[i] as number;
    const outcome = on >= window.index && on < horizonEnd && on < life.death ? 1 : 0;
    truth.write('risk', {
      person: person.key,
      patient: localPatientId(person, region),
      disease: d.id,
      indexDate: isoDate(window.index),
      horizonYears: window.horizonYears,
      risk: Number(risk.toPrecision(6)),
      outcome,
      onsetDate: outcome === 1 ? dateOrNull(on) : null,
    });
  });
}
