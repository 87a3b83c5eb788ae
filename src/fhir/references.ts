/** A parsed Reference.reference string. */
export type ParsedReference =
  | { kind: 'relative'; type: string; id: string; version?: string }
  | { kind: 'absolute'; url: string; type?: string; id?: string }
  | { kind: 'urn'; urn: string }
  | { kind: 'contained'; id: string }
  | { kind: 'conditional'; type: string; query: string };

const RELATIVE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?$/;
const ABSOLUTE_TAIL = /\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const CONDITIONAL = /^([A-Z][A-Za-z]+)\?(.+)$/;

/** Classify a reference string (R4 3.1.3.4: relative, absolute, urn, contained `#id`, or conditional). */
export function parseReference(ref: string): ParsedReference | undefined {
  if (ref.startsWith('#')) return { kind: 'contained', id: ref.slice(1) };
  if (ref.startsWith('urn:uuid:') || ref.startsWith('urn:oid:')) return { kind: 'urn', urn: ref };
  const rel = RELATIVE.exec(ref);
  if (rel) {
    // No spread: this runs for every reference of a bulk ingest.
    return rel[3] === undefined
      ? { kind: 'relative', type: rel[1]!, id: rel[2]! }
      : { kind: 'relative', type: rel[1]!, id: rel[2]!, version: rel[3] };
  }
  const cond = CONDITIONAL.exec(ref);
  if (cond) return { kind: 'conditional', type: cond[1]!, query: cond[2]! };
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) {
    const tail = ABSOLUTE_TAIL.exec(ref);
    return tail ? { kind: 'absolute', url: ref, type: tail[1]!, id: tail[2]! } : { kind: 'absolute', url: ref };
  }
  return undefined;
}

type Json = Record<string, unknown>;

/**
 * Visit every Reference-shaped object (an object whose `reference` is a string) in a resource, including
 * contained resources, so callers can rewrite `reference` in place.
 */
export function visitReferences(node: unknown, visit: (ref: Json) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) if (item !== null && typeof item === 'object') visitReferences(item, visit);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const obj = node as Json;
  if (typeof obj.reference === 'string') visit(obj);
  for (const key in obj) {
    const value = obj[key];
    if (value !== null && typeof value === 'object') visitReferences(value, visit);
  }
}
