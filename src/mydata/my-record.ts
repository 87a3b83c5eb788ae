import { csvField, HealthmeshError } from '../core/index.js';
import type { ResourceStore, StoredVersion } from '../store/index.js';
import { toResource } from '../store/index.js';
import { koreanName } from './code-names.js';

/** The most resources one citizen's download holds: a lifetime record is thousands, never this many. */
export const MAX_RECORD_RESOURCES = 200_000;

/** One line of a citizen's timeline: what happened when, with the code's display name as the record gives it. */
export interface TimelineEntry {
  date: string | null;
  type: string;
  id: string;
  /** The code's display name (or text), then its code. */
  display: string;
  /** The code's Korean name where the hub knows one (`code-names.ts`), else null: show `display`. */
  displayKo: string | null;
  code: string | null;
  system: string | null;
  value: number | string | null;
  unit: string | null;
  /** For observations: vital-signs, laboratory, activity (lifelog) … as the record categorises it. */
  category: string | null;
  /** The peer hub that holds the record, for a record held at another hub of the federation; absent for this hub's. */
  hub?: string;
}

/** The clinical types a timeline shows (the Patient resource itself is not an event). */
export const TIMELINE_TYPES = [
  'Encounter',
  'Condition',
  'MedicationRequest',
  'MedicationStatement',
  'Observation',
  'Immunization',
  'Procedure',
  'DiagnosticReport',
  'AllergyIntolerance',
] as const;

/** Every current resource in the compartments of `patientKeys`, in batches (Patient/$everything). */
export async function* everything(
  store: ResourceStore,
  patientKeys: readonly string[],
): AsyncIterable<StoredVersion[]> {
  if (patientKeys.length === 0) return;
  let n = 0;
  for await (const chunk of store.streamCurrent({ patients: patientKeys }, { order: 'id' })) {
    n += chunk.length;
    if (n > MAX_RECORD_RESOURCES) {
      throw new HealthmeshError('MYDATA_RECORD_TOO_LARGE', `a record of more than ${MAX_RECORD_RESOURCES} resources`);
    }
    yield chunk;
  }
}

/** A citizen's record as a FHIR R4 searchset Bundle, the answer of `Patient/$everything`. */
export async function everythingBundle(
  store: ResourceStore,
  patientKeys: readonly string[],
  fhirBase: string,
): Promise<Record<string, unknown>> {
  const entry: Record<string, unknown>[] = [];
  for await (const chunk of everything(store, patientKeys)) {
    for (const v of chunk) {
      entry.push({ fullUrl: `${fhirBase}/${v.type}/${v.id}`, resource: toResource(v), search: { mode: 'match' } });
    }
  }
  return { resourceType: 'Bundle', type: 'searchset', total: entry.length, entry };
}

/** The timeline of a citizen's records between `from` and `to` (inclusive dates, either open), newest first. */
export async function timeline(
  store: ResourceStore,
  patientKeys: readonly string[],
  range: { from?: string; to?: string; types?: readonly string[] } = {},
): Promise<TimelineEntry[]> {
  const types = range.types ?? TIMELINE_TYPES;
  const out: TimelineEntry[] = [];
  if (patientKeys.length === 0) return out;
  for await (const chunk of store.streamCurrent({ patients: patientKeys, types }, { order: 'id' })) {
    for (const v of chunk) {
      const e = entryOf(v.type, v.id, JSON.parse(v.content) as Record<string, unknown>);
      if (inRange(e, range)) out.push(e);
    }
  }
  return sortTimeline(out);
}

/**
 * A timeline with the citizen's records at peers merged in (each entry naming its hub), newest first. `peers` are
 * the resources each peer sent (`PeerRecords.fetch`), filtered here as `timeline` filters this hub's.
 */
export function withPeerRecords(
  local: readonly TimelineEntry[],
  peers: readonly { hub: string; resources: readonly { type: string; id: string; content: string }[] }[],
  range: { from?: string; to?: string; types?: readonly string[] } = {},
): TimelineEntry[] {
  const types: readonly string[] = range.types ?? TIMELINE_TYPES;
  const out = [...local];
  for (const p of peers) {
    for (const r of p.resources) {
      if (!types.includes(r.type)) continue;
      const e = { ...entryOf(r.type, r.id, JSON.parse(r.content) as Record<string, unknown>), hub: p.hub };
      if (inRange(e, range)) out.push(e);
    }
  }
  return sortTimeline(out);
}

function inRange(e: TimelineEntry, range: { from?: string; to?: string }): boolean {
  const day = e.date?.slice(0, 10);
  if (range.from !== undefined && (day === undefined || day < range.from)) return false;
  if (range.to !== undefined && (day === undefined || day > range.to)) return false;
  return true;
}

function sortTimeline(entries: TimelineEntry[]): TimelineEntry[] {
  return entries.sort((a, b) => (b.date ?? '').localeCompare(a.date ?? '') || a.id.localeCompare(b.id));
}

/** The timeline as CSV, one line per entry (RFC 4180 quoting; no formula can start a field). */
export function timelineCsv(entries: readonly TimelineEntry[]): string {
  // `hub`: the peer that holds a record kept at another hub of the federation, empty for this hub's.
  const head = ['date', 'type', 'display', 'display_ko', 'system', 'code', 'value', 'unit', 'category', 'hub'];
  const lines = entries.map((e) =>
    [e.date, e.type, e.display, e.displayKo, e.system, e.code, e.value, e.unit, e.category, e.hub ?? null]
      .map(csvField)
      .join(','),
  );
  return `${[head.join(','), ...lines].join('\n')}\n`;
}

type Json = Record<string, unknown>;

function entryOf(type: string, id: string, r: Json): TimelineEntry {
  const concept = (r.code ?? r.vaccineCode ?? r.medicationCodeableConcept ?? r.type) as Json | Json[] | undefined;
  const first = Array.isArray(concept) ? concept[0] : concept;
  const coding = ((first?.coding as Json[] | undefined) ?? [])[0];
  const quantity = r.valueQuantity as Json | undefined;
  const category = ((r.category as Json[] | undefined)?.[0]?.coding as Json[] | undefined)?.[0];
  const period = (r.period ?? r.effectivePeriod) as Json | undefined;
  const date =
    r.effectiveDateTime ??
    r.onsetDateTime ??
    r.occurrenceDateTime ??
    r.authoredOn ??
    r.performedDateTime ??
    (r.performedPeriod as Json | undefined)?.start ??
    period?.start ??
    r.recordedDate ??
    r.issued ??
    null;
  const code = typeof coding?.code === 'string' ? coding.code : null;
  const system = typeof coding?.system === 'string' ? coding.system : null;
  return {
    date: typeof date === 'string' ? date : null,
    type,
    id,
    display: String(coding?.display ?? first?.text ?? code ?? type),
    displayKo: koreanName(system, code),
    code,
    system,
    value:
      typeof quantity?.value === 'number' ? quantity.value : typeof r.valueString === 'string' ? r.valueString : null,
    unit:
      typeof quantity?.unit === 'string' ? quantity.unit : typeof quantity?.code === 'string' ? quantity.code : null,
    category: typeof category?.code === 'string' ? category.code : null,
  };
}
