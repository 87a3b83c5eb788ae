/**
 * Turns one person's care events into FHIR R4 resources for one region's output. Local ids are made of the
 * person's local id and a counter, so the same input always writes the same bytes.
 */
import { isoDate, isoDateTime } from './calendar.js';
import type { CareEvent, Measured } from './care-events.js';
import type { QuantityCode } from './codes.js';
import {
  BLOOD_PRESSURE,
  ENCOUNTER_TYPE,
  FAMILY_HISTORY,
  FLU_TEST,
  FLU_VACCINE,
  GENOMICS,
  ILI,
  INFLUENZA,
  MINOR_CONDITIONS,
  OSELTAMIVIR,
  PROCEDURES,
  QUANTITIES,
  SMOKING,
  SYSTEM,
} from './codes.js';
import type { Disease } from './diseases.js';
import { DISEASES } from './diseases.js';
import { PANEL } from './genotype-panel.js';
import type { Person } from './person.js';
import type { Region, RegionId } from './regions.js';
import { REGIONS } from './regions.js';

type Json = Record<string, unknown>;

/** Where resources go: one stream per resource type. */
export interface ResourceSink {
  write(type: string, resource: Json): void;
}

const coding = (system: string, code: string, display: string) => ({ system, code, display });
const concept = (system: string, code: string, display: string) => ({ coding: [coding(system, code, display)] });
const quantity = (value: number, q: QuantityCode) => ({ value, unit: q.unit, system: SYSTEM.ucum, code: q.ucum });
const category = (code: string) => [{ coding: [{ system: SYSTEM.obsCategory, code }] }];

/** The local Patient id of a person in a region's output: home patients and visitors from elsewhere differ. */
export function localPatientId(person: Person, region: Region): string {
  return person.home === region.id ? `p${person.index}` : visitorPatientId(person.home, person.index);
}

/** The Patient id that resident `index` of `home` has in the output of another region that treats them. */
export function visitorPatientId(home: RegionId, index: number): string {
  return `v-${REGIONS[home].code}-${index}`;
}

export function organizations(region: Region): Json[] {
  return region.hospitals.map((h) => ({
    resourceType: 'Organization',
    id: h.id,
    active: true,
    type: [{ coding: [{ system: SYSTEM.orgType, code: 'prov', display: 'Healthcare Provider' }] }],
    name: h.name,
    address: [{ state: region.nameKo, country: 'KR' }],
  }));
}

export class PersonWriter {
  private counter = 0;
  private readonly pid: string;
  private readonly subject: { reference: string };
  private readonly recorded = new Set<number>();
  private written = 0;

  constructor(
    private readonly sink: ResourceSink,
    private readonly region: Region,
    private readonly person: Person,
  ) {
    this.pid = localPatientId(person, region);
    this.subject = { reference: `Patient/${this.pid}` };
  }

  /** Writes the person's Patient, Consent and every event placed in this region; returns the resource count. */
  write(events: readonly CareEvent[], windowStart: number): number {
    const here = events.filter((e) => e.where === this.region.id);
    this.patient();
    this.consent(here[0]?.day ?? Math.max(windowStart, this.person.life.traits.birthDay));
    if (here.some((e) => e.kind === 'lifelog')) this.device();
    for (const e of here) this.event(e);
    return this.written;
  }

  private emit(type: string, resource: Json): void {
    this.sink.write(type, resource);
    this.written++;
  }

  private nextId(): string {
    this.counter++;
    return `${this.pid}-${this.counter}`;
  }

  private hospital(kind: 'tertiary' | 'general' | 'clinic' | 'screening'): { reference: string } {
    const h = this.region.hospitals.find((x) => x.kind === kind) ?? this.region.hospitals[0];
    return { reference: `Organization/${h?.id ?? ''}` };
  }

  private patient(): void {
    const p = this.person;
    const id = p.identity;
    const t = p.life.traits;
    const home = REGIONS[p.home];
    const full = `${id.family}${id.given}`;
    const mrn = `${this.region.code.toUpperCase()}${p.home === this.region.id ? '' : 'V'}${String(p.index).padStart(8, '0')}`;
    const resource: Json = {
      resourceType: 'Patient',
      id: this.pid,
      text: {
        status: 'generated',
        div: `<div xmlns="http://www.w3.org/1999/xhtml">${full} (${id.rrn}), ${id.mobile}</div>`,
      },
      identifier: [
        {
          use: 'official',
          type: concept(SYSTEM.identifierType, 'NI', 'National unique individual identifier'),
          system: SYSTEM.rrn,
          value: id.rrn,
        },
        {
          use: 'usual',
          type: concept(SYSTEM.identifierType, 'MR', 'Medical record number'),
          system: SYSTEM.mrn(this.region.id),
          value: mrn,
        },
      ],
      active: true,
      name: [{ use: 'official', text: full, family: id.family, given: [id.given] }],
      telecom: [{ system: 'phone', value: id.mobile, use: 'mobile' }],
      gender: p.sex,
      birthDate: isoDate(t.birthDay),
    };
    if (Number.isFinite(p.life.death)) resource.deceasedDateTime = isoDateTime(Math.floor(p.life.death), 600);
    resource.address = [
      {
        use: 'home',
        type: 'physical',
        text: `${home.nameKo} ${id.district} ${id.line}`,
        line: [id.line],
        city: id.district,
        district: id.district,
        state: home.nameKo,
        postalCode: id.postalCode,
        country: 'KR',
      },
    ];
    resource.managingOrganization = this.hospital('tertiary');
    this.emit('Patient', resource);
  }

  private consent(day: number): void {
    const optOut = this.person.optOut;
    this.emit('Consent', {
      resourceType: 'Consent',
      id: this.nextId(),
      status: 'active',
      scope: concept(SYSTEM.consentScope, 'research', 'Research'),
      category: [concept(SYSTEM.loinc, '59284-0', 'Patient Consent')],
      patient: this.subject,
      dateTime: isoDateTime(day, 600),
      policyRule: concept(SYSTEM.actCode, optOut ? 'OPTOUT' : 'OPTIN', optOut ? 'opt-out' : 'opt-in'),
      provision: {
        type: optOut ? 'deny' : 'permit',
        purpose: [coding(SYSTEM.actReason, 'HRESCH', 'healthcare research')],
      },
    });
  }

  private deviceId(): string {
    return `${this.pid}-dev`;
  }

  private device(): void {
    this.emit('Device', {
      resourceType: 'Device',
      id: this.deviceId(),
      status: 'active',
      deviceName: [{ name: '손목형 활동량계', type: 'user-friendly-name' }],
      type: { text: 'Wrist-worn activity tracker' },
      patient: this.subject,
    });
  }

  private encounter(
    day: number,
    minute: number,
    cls: 'AMB' | 'IMP' | 'EMER',
    type: { snomed: string; display: string },
    provider: { reference: string },
    minutes: number,
    reason?: Json,
  ): { reference: string } {
    const id = this.nextId();
    const end = minute + minutes;
    const resource: Json = {
      resourceType: 'Encounter',
      id,
      status: 'finished',
      class: {
        system: SYSTEM.actCode,
        code: cls,
        display: cls === 'AMB' ? 'ambulatory' : cls === 'IMP' ? 'inpatient encounter' : 'emergency',
      },
      type: [concept(SYSTEM.snomed, type.snomed, type.display)],
      subject: this.subject,
      period: { start: isoDateTime(day, minute), end: isoDateTime(day + Math.floor(end / 1440), end % 1440) },
    };
    if (reason !== undefined) resource.reasonCode = [reason];
    resource.serviceProvider = provider;
    this.emit('Encounter', resource);
    return { reference: `Encounter/${id}` };
  }

  private observation(
    encounter: { reference: string } | undefined,
    day: number,
    minute: number,
    code: { loinc: string; display: string },
    cat: string,
    value: Json,
    extra: Json = {},
  ): void {
    const resource: Json = {
      resourceType: 'Observation',
      id: this.nextId(),
      status: 'final',
      category: category(cat),
      code: concept(SYSTEM.loinc, code.loinc, code.display),
      subject: this.subject,
    };
    if (encounter !== undefined) resource.encounter = encounter;
    resource.effectiveDateTime = isoDateTime(day, minute);
    Object.assign(resource, value, extra);
    this.emit('Observation', resource);
  }

  private quantity(
    enc: { reference: string } | undefined,
    day: number,
    minute: number,
    q: QuantityCode,
    value: number,
    extra: Json = {},
  ): void {
    this.observation(enc, day, minute, q, q.category, { valueQuantity: quantity(value, q) }, extra);
  }

  private measurements(enc: { reference: string }, day: number, minute: number, m: Measured, note?: string): void {
    if (m.heightCm !== undefined) this.quantity(enc, day, minute, QUANTITIES.heightCm, m.heightCm);
    if (m.weightKg !== undefined) this.quantity(enc, day, minute, QUANTITIES.weightKg, m.weightKg);
    if (m.heightCm !== undefined && m.weightKg !== undefined) {
      this.quantity(enc, day, minute, QUANTITIES.bmi, Math.round((m.weightKg / (m.heightCm / 100) ** 2) * 10) / 10);
    }
    if (m.sbp !== undefined && m.dbp !== undefined) {
      const mmHg = { unit: 'mm[Hg]', system: SYSTEM.ucum, code: 'mm[Hg]' };
      const bp: Json = {
        component: [
          {
            code: concept(SYSTEM.loinc, BLOOD_PRESSURE.systolic.loinc, BLOOD_PRESSURE.systolic.display),
            valueQuantity: { value: m.sbp, ...mmHg },
          },
          {
            code: concept(SYSTEM.loinc, BLOOD_PRESSURE.diastolic.loinc, BLOOD_PRESSURE.diastolic.display),
            valueQuantity: { value: m.dbp, ...mmHg },
          },
        ],
      };
      this.observation(
        enc,
        day,
        minute,
        BLOOD_PRESSURE.panel,
        'vital-signs',
        bp,
        note !== undefined ? { note: [{ text: note }] } : {},
      );
    }
    for (const key of [
      'fpg',
      'hba1c',
      'tc',
      'hdl',
      'ldl',
      'tg',
      'creatinine',
      'egfr',
      'auditC',
      'activityDays',
      'phq9',
      'mmse',
      'fev1Fvc',
    ] as const) {
      const v = m[key];
      if (v !== undefined) this.quantity(enc, day, minute, QUANTITIES[key], v);
    }
    if (m.smoking !== undefined) {
      const s = SMOKING[m.smoking];
      this.observation(enc, day, minute, SMOKING, 'social-history', {
        valueCodeableConcept: concept(SYSTEM.snomed, s.snomed, s.display),
      });
    }
  }

  private condition(
    enc: { reference: string } | undefined,
    code: { icd10: string; icd10Display: string; snomed: string; snomedDisplay: string },
    onsetDay: number,
    recordedDay: number,
    category: 'problem-list-item' | 'encounter-diagnosis',
    abatementDay?: number,
    note?: string,
  ): void {
    const resource: Json = {
      resourceType: 'Condition',
      id: this.nextId(),
      clinicalStatus: concept(
        SYSTEM.clinicalStatus,
        abatementDay === undefined ? 'active' : 'resolved',
        abatementDay === undefined ? 'Active' : 'Resolved',
      ),
      verificationStatus: concept(SYSTEM.verificationStatus, 'confirmed', 'Confirmed'),
      category: [
        concept(
          SYSTEM.conditionCategory,
          category,
          category === 'problem-list-item' ? 'Problem List Item' : 'Encounter Diagnosis',
        ),
      ],
      code: {
        coding: [
          coding(SYSTEM.icd10, code.icd10, code.icd10Display),
          coding(SYSTEM.snomed, code.snomed, code.snomedDisplay),
        ],
        text: code.snomedDisplay,
      },
      subject: this.subject,
    };
    if (enc !== undefined) resource.encounter = enc;
    resource.onsetDateTime = isoDate(Math.floor(onsetDay));
    if (abatementDay !== undefined) resource.abatementDateTime = isoDate(abatementDay);
    resource.recordedDate = isoDate(recordedDay);
    if (note !== undefined) resource.note = [{ text: note }];
    this.emit('Condition', resource);
  }

  private medication(
    enc: { reference: string },
    day: number,
    med: { atc: string; display: string },
    supplyDays: number,
    active: boolean,
  ): void {
    this.emit('MedicationRequest', {
      resourceType: 'MedicationRequest',
      id: this.nextId(),
      status: active ? 'active' : 'completed',
      intent: 'order',
      medicationCodeableConcept: concept(SYSTEM.atc, med.atc, med.display),
      subject: this.subject,
      encounter: enc,
      authoredOn: isoDate(day),
      dosageInstruction: [{ text: supplyDays > 30 ? '1일 1회 1정' : '1일 2회 1캡슐' }],
      dispenseRequest: {
        expectedSupplyDuration: { value: supplyDays, unit: 'days', system: SYSTEM.ucum, code: 'd' },
      },
    });
  }

  private procedure(
    enc: { reference: string },
    day: number,
    minute: number,
    code: { snomed: string; display: string },
  ): void {
    this.emit('Procedure', {
      resourceType: 'Procedure',
      id: this.nextId(),
      status: 'completed',
      code: concept(SYSTEM.snomed, code.snomed, code.display),
      subject: this.subject,
      encounter: enc,
      performedDateTime: isoDateTime(day, minute),
    });
  }

  /** The chronic condition's problem-list entry, once per region, at its first visit here. */
  private recordChronic(d: number, enc: { reference: string }, day: number, codeIndex = 0): void {
    if (this.recorded.has(d)) return;
    this.recorded.add(d);
    const disease = DISEASES[d] as Disease;
    const code = disease.codes[codeIndex] ?? disease.codes[0];
    if (code === undefined) return;
    this.condition(enc, { ...code }, this.person.life.onset[d] as number, day, 'problem-list-item');
  }

  private medFor(d: number): { atc: string; display: string } {
    const meds = (DISEASES[d] as Disease).medications;
    return meds[this.person.index % meds.length] ?? (meds[0] as { atc: string; display: string });
  }

  private event(e: CareEvent): void {
    switch (e.kind) {
      case 'screening': {
        const enc = this.encounter(e.day, e.minute, 'AMB', ENCOUNTER_TYPE.screening, this.hospital('screening'), 90);
        this.measurements(
          enc,
          e.day,
          e.minute,
          e.values,
          e.note ? `수검자 본인확인 주민번호 ${this.person.identity.rrn}` : undefined,
        );
        if (e.familyHistory) this.familyHistory(enc, e.day, e.minute);
        this.procedure(enc, e.day, e.minute + 30, PROCEDURES.screening);
        return;
      }
      case 'diagnosis': {
        const disease = DISEASES[e.disease] as Disease;
        let enc: { reference: string };
        if (disease.acute) {
          this.encounter(e.day, e.minute, 'EMER', ENCOUNTER_TYPE.emergency, this.hospital('tertiary'), 180);
          enc = this.encounter(
            e.day,
            e.minute + 180,
            'IMP',
            ENCOUNTER_TYPE.inpatient,
            this.hospital('tertiary'),
            e.stayDays * 1440,
          );
        } else {
          enc = this.encounter(e.day, e.minute, 'AMB', ENCOUNTER_TYPE.problem, this.hospital('clinic'), 20);
        }
        this.recordChronic(e.disease, enc, e.day, e.code);
        this.measurements(enc, e.day, e.minute, e.values);
        const proc = PROCEDURES[disease.id as keyof typeof PROCEDURES];
        if (proc !== undefined && e.procedure) this.procedure(enc, e.day, e.minute + 60, proc);
        this.medication(enc, e.day + e.stayDays, this.medFor(e.disease), 180, true);
        return;
      }
      case 'followup': {
        const enc = this.encounter(e.day, e.minute, 'AMB', ENCOUNTER_TYPE.followup, this.hospital('clinic'), 15);
        for (const d of e.diseases) this.recordChronic(d, enc, e.day);
        const v = e.values;
        const m: Measured = {};
        if (e.diseases.some((d) => DISEASES[d]?.id === 'htn' || DISEASES[d]?.id === 'ckd')) {
          m.sbp = v.sbp;
          m.dbp = v.dbp;
        }
        if (e.diseases.some((d) => DISEASES[d]?.id === 't2d')) {
          m.hba1c = v.hba1c;
          m.fpg = v.fpg;
        }
        if (e.diseases.some((d) => ['dyslipidaemia', 'ihd', 'stroke'].includes(DISEASES[d]?.id ?? ''))) m.ldl = v.ldl;
        if (e.diseases.some((d) => DISEASES[d]?.id === 'ckd')) m.egfr = v.egfr;
        this.measurements(enc, e.day, e.minute, m);
        const given = new Set<string>();
        for (const d of e.diseases) {
          const med = this.medFor(d);
          if (given.has(med.atc)) continue;
          given.add(med.atc);
          this.medication(enc, e.day, med, 180, true);
        }
        return;
      }
      case 'minor': {
        const c = MINOR_CONDITIONS[e.condition] ?? MINOR_CONDITIONS[0];
        if (c === undefined) return;
        const enc = this.encounter(e.day, e.minute, 'AMB', ENCOUNTER_TYPE.problem, this.hospital('clinic'), 10);
        const note = e.note ? `보호자 연락처 ${this.person.identity.mobile}` : undefined;
        this.condition(enc, c, e.day, e.day, 'encounter-diagnosis', e.day + e.days, note);
        return;
      }
      case 'ili': {
        const reason = concept(SYSTEM.snomed, ILI.snomed, ILI.display);
        const enc = this.encounter(
          e.day,
          e.minute,
          'AMB',
          ENCOUNTER_TYPE.problem,
          this.hospital('general'),
          15,
          reason,
        );
        if (e.tested) {
          const result = e.positive ? FLU_TEST.detected : FLU_TEST.notDetected;
          this.observation(enc, e.day, e.minute + 5, FLU_TEST, 'laboratory', {
            valueCodeableConcept: concept(SYSTEM.snomed, result.snomed, result.display),
          });
        }
        const code = e.positive ? INFLUENZA : ILI;
        this.condition(
          enc,
          { icd10: code.icd10, icd10Display: code.icd10Display, snomed: code.snomed, snomedDisplay: code.display },
          e.day,
          e.day,
          'encounter-diagnosis',
          e.day + 7,
        );
        if (e.antiviral) this.medication(enc, e.day, OSELTAMIVIR, 5, false);
        return;
      }
      case 'vaccination':
        this.emit('Immunization', {
          resourceType: 'Immunization',
          id: this.nextId(),
          status: 'completed',
          vaccineCode: concept(SYSTEM.cvx, FLU_VACCINE.cvx, FLU_VACCINE.display),
          patient: this.subject,
          occurrenceDateTime: isoDateTime(e.day, e.minute),
          primarySource: true,
        });
        return;
      case 'lifelog': {
        const extra = {
          effectivePeriod: { start: isoDate(e.day), end: isoDate(e.day + 6) },
          device: { reference: `Device/${this.deviceId()}` },
          method: { text: 'weekly mean of daily values' },
        };
        for (const [q, v] of [
          [QUANTITIES.steps, e.steps],
          [QUANTITIES.sleepHours, e.sleepHours],
          [QUANTITIES.restingHr, e.restingHr],
        ] as const) {
          const resource: Json = {
            resourceType: 'Observation',
            id: this.nextId(),
            status: 'final',
            category: category(q.category),
            code: concept(SYSTEM.loinc, q.loinc, q.display),
            subject: this.subject,
            ...extra,
            valueQuantity: quantity(v, q),
          };
          this.emit('Observation', resource);
        }
        return;
      }
      case 'genotype':
        this.genotype(e.day, e.minute);
        return;
      default: {
        const never: never = e;
        throw new Error(`unknown care event ${JSON.stringify(never)}`);
      }
    }
  }

  private familyHistory(enc: { reference: string }, day: number, minute: number): void {
    const flags = this.person.life.traits.familyHistory;
    DISEASES.forEach((d, i) => {
      const code = d.codes[0];
      if (flags[i] !== 1 || code === undefined) return;
      this.observation(enc, day, minute, FAMILY_HISTORY, 'social-history', {
        valueCodeableConcept: {
          coding: [
            coding(SYSTEM.icd10, code.icd10, code.icd10Display),
            coding(SYSTEM.snomed, code.snomed, code.snomedDisplay),
          ],
        },
      });
    });
  }

  /** One Observation per panel variant, in the FHIR genomics reporting style (risk allele reported). */
  private genotype(day: number, minute: number): void {
    const g = this.person.life.traits.genotype;
    PANEL.forEach((v, i) => {
      const count = g[i] ?? 0;
      const present = count > 0 ? GENOMICS.present : GENOMICS.absent;
      const component: Json[] = [
        {
          code: concept(SYSTEM.loinc, GENOMICS.geneStudied.loinc, GENOMICS.geneStudied.display),
          valueCodeableConcept: concept(SYSTEM.hgnc, v.hgnc, v.gene),
        },
        {
          code: concept(SYSTEM.loinc, GENOMICS.variantId.loinc, GENOMICS.variantId.display),
          valueCodeableConcept: concept(SYSTEM.dbsnp, v.rsid, `${v.rsid} ${v.riskAllele}`),
        },
      ];
      if (count > 0) {
        const state = count === 2 ? GENOMICS.homozygous : GENOMICS.heterozygous;
        component.push({
          code: concept(SYSTEM.loinc, GENOMICS.allelicState.loinc, GENOMICS.allelicState.display),
          valueCodeableConcept: concept(SYSTEM.loinc, state.code, state.display),
        });
      }
      this.observation(undefined, day, minute, GENOMICS.variantAssessment, 'laboratory', {
        valueCodeableConcept: concept(SYSTEM.loinc, present.code, present.display),
        component,
      });
    });
  }
}
