/**
 * SQL-on-FHIR v2 `getResourceKey()` / `getReferenceKey()`. A hub's stored ids are already stable keys (a keyed
 * hash of source, type and source id; the Patient id is the `patient_key`), so the resource key is the `id`
 * and a reference key is the id part of a literal reference. The spec requires the relative form
 * (`Patient/123`); absolute URLs and `_history` suffixes are accepted too. Contained (`#x`) and `urn:uuid:`
 * references cannot be resolved here and give the empty collection, as the spec says they must.
 */
const LITERAL = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** The key a `Reference.reference` points at, or undefined; `wantedType` restricts it to one resource type. */
export function referenceKey(reference: unknown, wantedType?: string): string | undefined {
  if (typeof reference !== 'string') return undefined;
  const m = LITERAL.exec(reference);
  if (!m) return undefined;
  if (wantedType !== undefined && m[1] !== wantedType) return undefined;
  return m[2];
}
