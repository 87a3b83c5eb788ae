import { dateRange, MAX_TIME, MIN_TIME } from './date-range.js';

/** Search index rows of one resource version, extracted at ingest. */
export interface SearchRows {
  tokens: [param: string, system: string | null, code: string][];
  /** Epoch milliseconds, both ends inclusive. */
  dates: [param: string, low: number, high: number][];
  references: [param: string, target: string][];
}

export type SearchParamType = 'token' | 'date' | 'reference';

/** A search parameter we index: its name, kind, and the element paths (top-level, choice types expanded). */
export interface SearchParamDef {
  name: string;
  type: SearchParamType;
  paths: readonly string[];
  /** For `patient`-style parameters: only references to this type are indexed. */
  target?: string;
  description: string;
}

const subject = (target = 'subject'): SearchParamDef[] => [
  { name: 'subject', type: 'reference', paths: [target], description: `Who the record is about (${target})` },
  {
    name: 'patient',
    type: 'reference',
    paths: [target],
    target: 'Patient',
    description: `The patient the record is about (${target} when it is a Patient)`,
  },
];

/**
 * The search parameters healthmesh indexes at ingest, per type. `date` follows the R4 definitions where R4 has
 * one (Observation.effective, Encounter.period, Immunization.occurrence, Procedure.performed); for Condition
 * and MedicationRequest, which define no `date`, it is onset and authoredOn (documented in the
 * CapabilityStatement). `code` on Encounter is its `type`.
 */
export const SEARCH_PARAMETERS: Readonly<Record<string, readonly SearchParamDef[]>> = {
  Observation: [
    { name: 'code', type: 'token', paths: ['code'], description: 'Observation.code' },
    {
      name: 'date',
      type: 'date',
      paths: ['effectiveDateTime', 'effectivePeriod', 'effectiveInstant'],
      description: 'Observation.effective[x]',
    },
    ...subject(),
  ],
  Condition: [
    { name: 'code', type: 'token', paths: ['code'], description: 'Condition.code' },
    { name: 'date', type: 'date', paths: ['onsetDateTime', 'onsetPeriod'], description: 'Condition.onset[x]' },
    { name: 'recorded-date', type: 'date', paths: ['recordedDate'], description: 'Condition.recordedDate' },
    ...subject(),
  ],
  Encounter: [
    { name: 'code', type: 'token', paths: ['type'], description: 'Encounter.type' },
    { name: 'type', type: 'token', paths: ['type'], description: 'Encounter.type' },
    { name: 'class', type: 'token', paths: ['class'], description: 'Encounter.class' },
    { name: 'date', type: 'date', paths: ['period'], description: 'Encounter.period' },
    ...subject(),
  ],
  MedicationRequest: [
    { name: 'code', type: 'token', paths: ['medicationCodeableConcept'], description: 'MedicationRequest.medication' },
    { name: 'date', type: 'date', paths: ['authoredOn'], description: 'MedicationRequest.authoredOn' },
    ...subject(),
  ],
  Immunization: [
    { name: 'code', type: 'token', paths: ['vaccineCode'], description: 'Immunization.vaccineCode' },
    { name: 'vaccine-code', type: 'token', paths: ['vaccineCode'], description: 'Immunization.vaccineCode' },
    { name: 'date', type: 'date', paths: ['occurrenceDateTime'], description: 'Immunization.occurrence[x]' },
    ...subject('patient'),
  ],
  Procedure: [
    { name: 'code', type: 'token', paths: ['code'], description: 'Procedure.code' },
    {
      name: 'date',
      type: 'date',
      paths: ['performedDateTime', 'performedPeriod'],
      description: 'Procedure.performed[x]',
    },
    ...subject(),
  ],
};

type Json = Record<string, unknown>;

function tokens(value: unknown, out: [string | null, string][]): void {
  if (Array.isArray(value)) {
    for (const v of value) tokens(v, out);
    return;
  }
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'string') out.push([null, value]);
    return;
  }
  const obj = value as Json;
  if (Array.isArray(obj.coding)) tokens(obj.coding, out);
  else if (typeof obj.code === 'string') out.push([typeof obj.system === 'string' ? obj.system : null, obj.code]);
}

function dates(value: unknown): [number, number] | undefined {
  if (typeof value === 'string') {
    const r = dateRange(value);
    return r ? [r.low, r.high] : undefined;
  }
  if (value && typeof value === 'object') {
    const p = value as Json;
    const start = typeof p.start === 'string' ? dateRange(p.start) : undefined;
    const end = typeof p.end === 'string' ? dateRange(p.end) : undefined;
    if (!start && !end) return undefined;
    return [start?.low ?? MIN_TIME, end?.high ?? MAX_TIME];
  }
  return undefined;
}

/** Extract the index rows of one (already pseudonymised, reference-rewritten) resource. */
export function extractSearchRows(resource: Json): SearchRows {
  const rows: SearchRows = { tokens: [], dates: [], references: [] };
  const defs = SEARCH_PARAMETERS[String(resource.resourceType)];
  if (!defs) return rows;
  for (const def of defs) {
    for (const path of def.paths) {
      const value = resource[path];
      if (value === undefined) continue;
      if (def.type === 'token') {
        const found: [string | null, string][] = [];
        tokens(value, found);
        for (const [system, code] of found) rows.tokens.push([def.name, system, code]);
      } else if (def.type === 'date') {
        const range = dates(value);
        if (range) rows.dates.push([def.name, range[0], range[1]]);
      } else {
        for (const ref of Array.isArray(value) ? value : [value]) {
          const target = (ref as Json | null)?.reference;
          if (typeof target !== 'string') continue;
          if (def.target && !target.startsWith(`${def.target}/`)) continue;
          rows.references.push([def.name, target]);
        }
      }
    }
  }
  return rows;
}
