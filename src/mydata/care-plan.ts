/**
 * A citizen's chronic-disease management plan, from their own records and the published Korean guidelines: targets
 * for blood pressure, HbA1c, LDL cholesterol, weight and daily activity, each set by the conditions on the record,
 * with the latest value and when it is next due; and the national screenings due for their age and sex.
 *
 * It is a reading aid, not a prescription: every target names the guideline it comes from, and a clinician may set
 * another. The rules are deliberately few and written out here so that a citizen, a steward and a reviewer can read
 * them; they are not a model.
 */

import type { ResourceStore } from '../store/index.js';

type Json = Record<string, unknown>;

/** Conditions the plan's targets depend on. */
export type PlanCondition = 'hypertension' | 'diabetes' | 'dyslipidaemia' | 'coronary' | 'stroke' | 'ckd';

export type TargetId = 'blood-pressure' | 'hba1c' | 'ldl' | 'bmi' | 'steps' | 'smoking';

export interface PlanTarget {
  id: TargetId;
  /** The conditions that set this target (empty: the target for everyone). */
  because: PlanCondition[];
  /** Below `max` (and `maxSecond`, the diastolic) or at least `min`. */
  target: { max?: number; maxSecond?: number; min?: number; unit: string };
  latest: { value: number; second?: number; date: string } | null;
  status: 'met' | 'not-met' | 'not-measured';
  /** When a new measurement is due (today when never measured or overdue); null for continuous lifelog. */
  nextDue: string | null;
  guideline: string;
}

export type ScreeningId =
  | 'general-health-check'
  | 'gastric-cancer'
  | 'colorectal-cancer'
  | 'breast-cancer'
  | 'cervical-cancer'
  | 'lung-cancer'
  | 'influenza-vaccine';

export interface PlanScreening {
  id: ScreeningId;
  everyMonths: number;
  /** The last one on the record at this hub, or null. */
  last: string | null;
  due: string;
  status: 'due' | 'up-to-date';
  /** A condition of eligibility the record cannot show (e.g. pack-years for lung screening). */
  ask?: string;
  guideline: string;
}

export interface CarePlan {
  asOf: string;
  age: number | null;
  sex: string | null;
  conditions: PlanCondition[];
  targets: PlanTarget[];
  screenings: PlanScreening[];
}

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const CVX = 'http://hl7.org/fhir/sid/cvx';

/** SNOMED CT codes and ICD-10 (KCD-8) prefixes of each condition. */
const CONDITION_CODES: Record<PlanCondition, { snomed: string[]; icd10: string[] }> = {
  hypertension: { snomed: ['38341003', '59621000', '1201005'], icd10: ['I10', 'I11', 'I12', 'I13', 'I15'] },
  diabetes: { snomed: ['44054006', '73211009', '46635009'], icd10: ['E10', 'E11', 'E12', 'E13', 'E14'] },
  dyslipidaemia: { snomed: ['370992007', '55822004', '13644009'], icd10: ['E78'] },
  coronary: { snomed: ['22298006', '194828000', '53741008', '414545008'], icd10: ['I20', 'I21', 'I22', 'I24', 'I25'] },
  stroke: { snomed: ['432504007', '274100004', '230690007', '422504002'], icd10: ['I60', 'I61', 'I63', 'I64'] },
  ckd: { snomed: ['433144002', '709044004', '431855005', '431856006'], icd10: ['N18'] },
};

const OBS = {
  bpPanel: '85354-9',
  systolic: '8480-6',
  diastolic: '8462-4',
  hba1c: '4548-4',
  ldl: ['13457-7', '18262-6', '2089-1'],
  bmi: '39156-5',
  steps: ['41950-7', '55423-8'],
  smoking: '72166-2',
};
const CURRENT_SMOKER = new Set(['77176002', '449868002', '428041000124106', '65568007']);
const EVER_SMOKER = new Set([...CURRENT_SMOKER, '8517006']);
const CHECK_UP = new Set(['185349003', '268565007', '410620009']);
/** Procedures or tests that count as each cancer screening, by SNOMED CT or LOINC code. */
const SCREENING_CODES: Partial<Record<ScreeningId, string[]>> = {
  'gastric-cancer': ['1919006', '386831001', '24884-9'],
  'colorectal-cancer': ['73761001', '29771-3', '57905-2', '104435004'],
  'breast-cancer': ['71651007', '24606-6', '241055006'],
  'cervical-cancer': ['171149006', '10524-7', '19762-4', '439958008'],
  'lung-cancer': ['16334891000119106', '241540006'],
};
const FLU_VACCINES = new Set([
  '88',
  '135',
  '140',
  '141',
  '150',
  '153',
  '155',
  '158',
  '161',
  '171',
  '185',
  '186',
  '197',
]);

const SOURCES = {
  ksh: 'Korean Society of Hypertension, 2022 hypertension guidelines',
  kda: 'Korean Diabetes Association, 2023 clinical practice guidelines for diabetes',
  ksola: 'Korean Society of Lipid and Atherosclerosis, 2022 dyslipidaemia fact sheet and treatment guidelines',
  kssoObesity: 'Korean Society for the Study of Obesity, 2022 guidelines (Asian BMI cut-offs)',
  activity:
    'WHO 2020 physical activity guidelines; daily steps and mortality (Paluch et al., Lancet Public Health 2022)',
  smoking: 'Korea Disease Control and Prevention Agency, national smoking-cessation programme',
  nhis: 'National Health Insurance Service, national health screening (every 2 years from age 20)',
  ncsp: 'National Cancer Screening Program (Korea)',
  nip: 'Korea Disease Control and Prevention Agency, National Immunization Program (influenza, age 65 and over)',
};

/** What the plan needs from a record, read from its FHIR resources. */
interface Facts {
  birthDate: string | null;
  sex: string | null;
  conditions: Set<PlanCondition>;
  /** Per LOINC code, each dated value (and for blood pressure the diastolic as `second`). */
  values: Map<string, { value: number; second?: number; date: string }[]>;
  codedValues: Map<string, { code: string; date: string }[]>;
  /** Dates of check-ups, screening procedures and flu vaccinations, by kind. */
  done: Map<string, string[]>;
}

/** The management plan for the person whose resources (every current resource of their linked records) are given. */
export function carePlan(resources: Iterable<Json>, today: string): CarePlan {
  const f = readFacts(resources);
  const age = f.birthDate === null ? null : ageOn(f.birthDate, today);
  const has = (c: PlanCondition) => f.conditions.has(c);
  const targets: PlanTarget[] = [];

  // Blood pressure (KSH 2022): below 130/80 with diabetes, coronary disease, stroke or CKD; below 140/90 for
  // hypertension alone; otherwise the normal range, below 120/80.
  const bpHigh = (['diabetes', 'coronary', 'stroke', 'ckd'] as const).filter(has);
  const bpBecause: PlanCondition[] = has('hypertension') ? ['hypertension', ...bpHigh] : bpHigh;
  const [sysMax, diaMax]: [number, number] =
    bpHigh.length > 0 ? [130, 80] : has('hypertension') ? [140, 90] : [120, 80];
  const bp = latestOf(f, [OBS.systolic]);
  targets.push(
    target('blood-pressure', bpBecause, { max: sysMax, maxSecond: diaMax, unit: 'mmHg' }, bp, today, {
      met: bp !== null && bp.value < sysMax && (bp.second === undefined || bp.second < diaMax),
      everyMonths: bpBecause.length > 0 ? 6 : 24,
      guideline: SOURCES.ksh,
    }),
  );

  // HbA1c (KDA 2023): below 6.5% with type 2 diabetes; for others only when measured (5.7% and over is prediabetes).
  const a1c = latestOf(f, [OBS.hba1c]);
  if (has('diabetes') || a1c !== null) {
    const max = has('diabetes') ? 6.5 : 5.7;
    const met = a1c !== null && a1c.value < max;
    targets.push(
      target('hba1c', has('diabetes') ? ['diabetes'] : [], { max, unit: '%' }, a1c, today, {
        met,
        everyMonths: has('diabetes') ? (met ? 6 : 3) : 12,
        guideline: SOURCES.kda,
      }),
    );
  }

  // LDL cholesterol (KSoLA 2022): by risk — coronary disease or ischaemic stroke below 55, diabetes with CKD below
  // 70, diabetes below 100, hypertension or dyslipidaemia below 130, otherwise below 160 mg/dL.
  const ldlBecause = (['coronary', 'stroke', 'diabetes', 'ckd', 'hypertension', 'dyslipidaemia'] as const).filter(has);
  const ldlMax =
    has('coronary') || has('stroke')
      ? 55
      : has('diabetes') && has('ckd')
        ? 70
        : has('diabetes')
          ? 100
          : has('hypertension') || has('dyslipidaemia')
            ? 130
            : 160;
  const ldl = latestOf(f, OBS.ldl);
  targets.push(
    target('ldl', ldlBecause, { max: ldlMax, unit: 'mg/dL' }, ldl, today, {
      met: ldl !== null && ldl.value < ldlMax,
      everyMonths: ldlBecause.length > 0 ? 12 : 48,
      guideline: SOURCES.ksola,
    }),
  );

  // Weight (KSSO 2022, Asian cut-offs): BMI 18.5 to under 23.
  const bmi = latestOf(f, [OBS.bmi]);
  targets.push(
    target('bmi', [], { min: 18.5, max: 23, unit: 'kg/m2' }, bmi, today, {
      met: bmi !== null && bmi.value >= 18.5 && bmi.value < 23,
      everyMonths: 24,
      guideline: SOURCES.kssoObesity,
    }),
  );

  // Activity: the mean of the last 30 days' daily steps (at least 7 days recorded), aiming at 7,000 a day or more.
  const steps = recentMeanSteps(f, today);
  targets.push({
    id: 'steps',
    because: [],
    target: { min: 7000, unit: 'steps/day' },
    latest: steps,
    status: steps === null ? 'not-measured' : steps.value >= 7000 ? 'met' : 'not-met',
    nextDue: null,
    guideline: SOURCES.activity,
  });

  // Smoking: only when the record says the person smokes now.
  const smoking = latestCoded(f, OBS.smoking);
  if (smoking !== null && CURRENT_SMOKER.has(smoking.code)) {
    targets.push({
      id: 'smoking',
      because: [],
      target: { max: 0, unit: 'cigarettes/day' },
      latest: null,
      status: 'not-met',
      nextDue: null,
      guideline: SOURCES.smoking,
    });
  }

  const everSmoked = (f.codedValues.get(OBS.smoking) ?? []).some((s) => EVER_SMOKER.has(s.code));
  return {
    asOf: today,
    age,
    sex: f.sex,
    conditions: [...f.conditions].sort(),
    targets,
    screenings: screenings(f, age, everSmoked, today),
  };
}

/** The record types a care plan reads. */
const PLAN_TYPES = ['Patient', 'Condition', 'Observation', 'Encounter', 'Procedure', 'Immunization'];

/**
 * The plan from the current versions of every record linked to the citizen here, and `peerRecords`: their records
 * at peers as the peers sent them for this answer (`PeerRecords.fetch`), read as their own and kept nowhere.
 */
export async function myCarePlan(
  store: ResourceStore,
  patientKeys: readonly string[],
  today: string,
  peerRecords: readonly { type: string; content: string }[] = [],
): Promise<CarePlan> {
  const resources: Json[] = [];
  if (patientKeys.length > 0) {
    for await (const chunk of store.streamCurrent({ patients: patientKeys, types: PLAN_TYPES }, { order: 'id' })) {
      for (const v of chunk) resources.push(JSON.parse(v.content) as Json);
    }
  }
  for (const r of peerRecords) if (PLAN_TYPES.includes(r.type)) resources.push(JSON.parse(r.content) as Json);
  return carePlan(resources, today);
}

function screenings(f: Facts, age: number | null, everSmoked: boolean, today: string): PlanScreening[] {
  if (age === null) return [];
  const female = f.sex === 'female';
  const rules: [ScreeningId, boolean, number, string, string?][] = [
    ['general-health-check', age >= 20, 24, SOURCES.nhis],
    ['gastric-cancer', age >= 40, 24, SOURCES.ncsp],
    ['colorectal-cancer', age >= 50, 12, SOURCES.ncsp],
    ['breast-cancer', female && age >= 40, 24, SOURCES.ncsp],
    ['cervical-cancer', female && age >= 20, 24, SOURCES.ncsp],
    // Lung screening is for heavy smokers (30 pack-years or more), which a record rarely states: ask a doctor.
    ['lung-cancer', everSmoked && age >= 54 && age <= 74, 24, SOURCES.ncsp, 'pack-years'],
    ['influenza-vaccine', age >= 65, 12, SOURCES.nip],
  ];
  const out: PlanScreening[] = [];
  for (const [id, eligible, everyMonths, guideline, ask] of rules) {
    if (!eligible) continue;
    const last =
      (f.done.get(id) ?? [])
        .filter((d) => d <= today)
        .sort()
        .at(-1) ?? null;
    // A flu vaccine counts for the season it was given in (from 1 September); the others by their interval.
    const due =
      id === 'influenza-vaccine'
        ? last !== null && last >= seasonStart(today)
          ? `${Number(seasonStart(today).slice(0, 4)) + 1}-09-01`
          : today
        : last === null
          ? today
          : addMonths(last, everyMonths);
    out.push({
      id,
      everyMonths,
      last,
      due: due < today ? today : due,
      status: due <= today ? 'due' : 'up-to-date',
      ...(ask !== undefined && { ask }),
      guideline,
    });
  }
  return out;
}

function target(
  id: TargetId,
  because: PlanCondition[],
  goal: PlanTarget['target'],
  latest: PlanTarget['latest'],
  today: string,
  o: { met: boolean; everyMonths: number; guideline: string },
): PlanTarget {
  const next = latest === null ? today : addMonths(latest.date, o.everyMonths);
  return {
    id,
    because,
    target: goal,
    latest,
    status: latest === null ? 'not-measured' : o.met ? 'met' : 'not-met',
    nextDue: next < today ? today : next,
    guideline: o.guideline,
  };
}

function readFacts(resources: Iterable<Json>): Facts {
  const f: Facts = {
    birthDate: null,
    sex: null,
    conditions: new Set(),
    values: new Map(),
    codedValues: new Map(),
    done: new Map(),
  };
  const push = <T>(m: Map<string, T[]>, k: string, v: T) => {
    const list = m.get(k);
    if (list === undefined) m.set(k, [v]);
    else list.push(v);
  };
  for (const r of resources) {
    switch (r.resourceType) {
      case 'Patient':
        if (typeof r.birthDate === 'string') f.birthDate = r.birthDate;
        if (typeof r.gender === 'string') f.sex = r.gender;
        break;
      case 'Condition': {
        if (!isActive(r)) break;
        for (const c of codings(r.code)) {
          for (const [name, codes] of Object.entries(CONDITION_CODES) as [
            PlanCondition,
            { snomed: string[]; icd10: string[] },
          ][]) {
            if (
              (c.system === SNOMED && codes.snomed.includes(c.code)) ||
              (c.system === ICD10 && codes.icd10.some((p) => c.code === p || c.code.startsWith(`${p}.`)))
            ) {
              f.conditions.add(name);
            }
          }
        }
        break;
      }
      case 'Observation': {
        if (r.status === 'entered-in-error' || r.status === 'cancelled') break;
        const date = dayOf(r.effectiveDateTime ?? (r.effectivePeriod as Json | undefined)?.start ?? r.issued);
        if (date === null) break;
        const codes = codings(r.code).filter((c) => c.system === LOINC);
        for (const c of codes) {
          if (c.code === OBS.bpPanel) {
            const part = (code: string) =>
              numberOf(
                ((r.component as Json[] | undefined) ?? []).find((k) => codings(k.code).some((x) => x.code === code))
                  ?.valueQuantity,
              );
            const sys = part(OBS.systolic);
            const dia = part(OBS.diastolic);
            if (sys !== null) push(f.values, OBS.systolic, { value: sys, ...(dia !== null && { second: dia }), date });
            continue;
          }
          const v = numberOf(r.valueQuantity);
          if (v !== null) push(f.values, c.code, { value: v, date });
          for (const k of codings(r.valueCodeableConcept)) push(f.codedValues, c.code, { code: k.code, date });
          for (const [id, list] of Object.entries(SCREENING_CODES)) if (list.includes(c.code)) push(f.done, id, date);
        }
        break;
      }
      case 'Encounter': {
        const date = dayOf((r.period as Json | undefined)?.start);
        if (date === null) break;
        for (const t of (r.type as Json[] | undefined) ?? []) {
          if (codings(t).some((c) => CHECK_UP.has(c.code))) push(f.done, 'general-health-check', date);
        }
        break;
      }
      case 'Procedure': {
        const date = dayOf(r.performedDateTime ?? (r.performedPeriod as Json | undefined)?.start);
        if (date === null || r.status === 'entered-in-error' || r.status === 'not-done') break;
        for (const c of codings(r.code)) {
          for (const [id, list] of Object.entries(SCREENING_CODES)) if (list.includes(c.code)) push(f.done, id, date);
        }
        break;
      }
      case 'Immunization': {
        const date = dayOf(r.occurrenceDateTime);
        if (date === null || r.status === 'not-done' || r.status === 'entered-in-error') break;
        if (codings(r.vaccineCode).some((c) => c.system === CVX && FLU_VACCINES.has(c.code))) {
          push(f.done, 'influenza-vaccine', date);
        }
        break;
      }
    }
  }
  // Diastolic readings recorded as their own Observation pair with the systolic of the same day.
  const dia = f.values.get(OBS.diastolic) ?? [];
  for (const s of f.values.get(OBS.systolic) ?? []) {
    if (s.second === undefined) {
      const d = dia.find((x) => x.date === s.date);
      if (d !== undefined) s.second = d.value;
    }
  }
  return f;
}

function isActive(r: Json): boolean {
  const clinical = codings(r.clinicalStatus).map((c) => c.code);
  const verification = codings(r.verificationStatus).map((c) => c.code);
  if (clinical.some((c) => c === 'resolved' || c === 'inactive' || c === 'remission')) return false;
  if (verification.some((c) => c === 'refuted' || c === 'entered-in-error')) return false;
  return r.abatementDateTime === undefined && r.abatementPeriod === undefined;
}

function latestOf(f: Facts, codes: readonly string[]): PlanTarget['latest'] {
  let best: PlanTarget['latest'] = null;
  for (const code of codes) {
    for (const v of f.values.get(code) ?? []) if (best === null || v.date > best.date) best = v;
  }
  return best === null ? null : { ...best };
}

function latestCoded(f: Facts, code: string): { code: string; date: string } | null {
  return (f.codedValues.get(code) ?? []).reduce<{ code: string; date: string } | null>(
    (a, v) => (a === null || v.date > a.date ? v : a),
    null,
  );
}

function recentMeanSteps(f: Facts, today: string): PlanTarget['latest'] {
  const from = addDays(today, -30);
  const byDay = new Map<string, number>();
  for (const code of OBS.steps) {
    for (const v of f.values.get(code) ?? []) if (v.date > from && v.date <= today) byDay.set(v.date, v.value);
  }
  if (byDay.size < 7) return null;
  const days = [...byDay.keys()].sort();
  const mean = [...byDay.values()].reduce((a, b) => a + b, 0) / byDay.size;
  return { value: Math.round(mean), date: days.at(-1)! };
}

type Coding = { system: string | null; code: string };

function codings(concept: unknown): Coding[] {
  const c = concept as Json | undefined;
  return (((c?.coding as Json[] | undefined) ?? []) as Json[])
    .filter((k) => typeof k.code === 'string')
    .map((k) => ({ system: typeof k.system === 'string' ? k.system : null, code: k.code as string }));
}

function numberOf(q: unknown): number | null {
  const v = (q as Json | undefined)?.value;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function dayOf(v: unknown): string | null {
  return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) ? v.slice(0, 10) : null;
}

/** Whole years from a (possibly generalised: YYYY or YYYY-MM) birth date to `today`, counting conservatively. */
export function ageOn(birthDate: string, today: string): number | null {
  const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(birthDate);
  if (m === null) return null;
  // A generalised date stands for its whole year or month: take its last day, so no one is made older than they are.
  const month = m[2] ?? '12';
  const day = m[3] ?? String(new Date(Date.UTC(Number(m[1]), Number(month), 0)).getUTCDate()).padStart(2, '0');
  const years = Number(today.slice(0, 4)) - Number(m[1]);
  return today.slice(5, 10) >= `${month}-${day}` ? years : years - 1;
}

function addMonths(day: string, months: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), last));
  return target.toISOString().slice(0, 10);
}

function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** The start of the influenza season `today` falls in: the last 1 September on or before it. */
function seasonStart(today: string): string {
  const y = Number(today.slice(0, 4));
  return today.slice(5) >= '09-01' ? `${y}-09-01` : `${y - 1}-09-01`;
}
