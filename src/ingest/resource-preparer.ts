import { createHash, hash as oneShotHash } from 'node:crypto';
import { HealthmeshError } from '../core/index.js';
import { extractSearchRows, parseReference } from '../fhir/index.js';
import type { LinkageTokeniser, Pseudonymiser, ResourceDeidentifier } from '../privacy/index.js';
import { SeenNames } from '../privacy/index.js';
import type { ResourceWrite } from '../store/index.js';

type Json = Record<string, unknown>;

/** What the other entries of the same submission tell us, for resolving references between them. */
export interface ReferenceScope {
  /** fullUrl (urn:uuid:…, absolute URL, or `Type/id`) → stored type and id. */
  fullUrls: Map<string, { type: string; id: string }>;
  /** `Type|system|value` → stored id, for conditional references `Type?identifier=system|value`. */
  identifiers: Map<string, string>;
  /** Names of the people the ingest run has seen, masked in free text. */
  personNames: SeenNames;
}

/** The scope of a record that stands alone, in a run that knows `names`. */
export function standaloneScope(names: SeenNames = new SeenNames()): ReferenceScope {
  return { fullUrls: new Map(), identifiers: new Map(), personNames: names };
}

/** A resource ready for the store, plus the stored targets it points to outside its submission. */
export interface Prepared {
  write: ResourceWrite;
  /** `Type/id` targets outside the submission (checked against the store where integrity is enforced). */
  outsideTargets: { target: string; path: string }[];
}

const PATIENT_FIELDS = ['subject', 'patient', 'beneficiary', 'individual'] as const;

/**
 * Turns a validated source resource into what we store: keyed stored id, references rewritten to stored ids,
 * direct identifiers removed, content hash and search rows computed. Mutates `resource`.
 */
export class ResourcePreparer {
  constructor(
    private readonly pseudonymiser: Pseudonymiser,
    private readonly deidentifier: ResourceDeidentifier,
    /** The hub's linkage key, when the linkage service has issued one (docs/linkage.md). */
    private readonly linkage?: LinkageTokeniser,
  ) {}

  /** The stored id a source resource gets (and the source id it was derived from). */
  storedId(source: string, resource: Json, fullUrl?: string): string {
    const type = String(resource.resourceType);
    const sourceId = sourceIdOf(resource, fullUrl);
    return this.pseudonymiser.resourceId(source, type, sourceId);
  }

  prepare(source: string, resource: Json, scope: ReferenceScope, fullUrl?: string): Prepared {
    const type = String(resource.resourceType);
    const id = this.storedId(source, resource, fullUrl);
    const outsideTargets: Prepared['outsideTargets'] = [];
    this.rewriteReferences(source, resource, scope, type, outsideTargets);
    // The token comes from the national identifier, which de-identification is about to remove.
    const token = this.linkage && type === 'Patient' ? this.linkage.tokenOfPatient(resource) : undefined;
    this.deidentifier.deidentify(resource, scope.personNames);
    resource.id = id;
    stripServerMeta(resource);
    const content = JSON.stringify(resource);
    const hash = oneShotHash('sha256', content, 'hex');
    const write: ResourceWrite = {
      type,
      id,
      patientKey: type === 'Patient' ? id : patientOf(resource),
      source,
      content,
      hash,
      search: extractSearchRows(resource),
    };
    if (token !== undefined) write.linkage = { token, keyId: this.linkage!.key.keyId };
    return { write, outsideTargets };
  }

  private rewriteReferences(
    source: string,
    root: Json,
    scope: ReferenceScope,
    type: string,
    outside: Prepared['outsideTargets'],
  ): void {
    // One walk state per call, methods rather than closures: this runs for every resource of a bulk ingest.
    this.walkReferences(root, { source, scope, outside, path: [type] });
  }

  private walkReferences(node: unknown, w: ReferenceWalk): void {
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const item: unknown = node[i];
        if (item !== null && typeof item === 'object') {
          w.path.push(i);
          this.walkReferences(item, w);
          w.path.pop();
        }
      }
      return;
    }
    const obj = node as Json;
    if (typeof obj.reference === 'string') this.rewriteReference(obj, w);
    for (const key in obj) {
      const v = obj[key];
      if (v !== null && typeof v === 'object') {
        w.path.push(key);
        this.walkReferences(v, w);
        w.path.pop();
      }
    }
  }

  private rewriteReference(ref: Json, w: ReferenceWalk): void {
    const value = ref.reference as string;
    const parsed = parseReference(value);
    if (!parsed || parsed.kind === 'contained') return;
    const inScope = w.scope.fullUrls.get(value);
    if (inScope) {
      ref.reference = `${inScope.type}/${inScope.id}`;
      return;
    }
    switch (parsed.kind) {
      case 'urn':
        throw unresolved(w, `reference ${value} names no entry of this bundle`);
      case 'relative': {
        const target = `${parsed.type}/${this.pseudonymiser.resourceId(w.source, parsed.type, parsed.id)}`;
        ref.reference = target;
        w.outside.push({ target, path: formatPath(w.path) });
        return;
      }
      case 'conditional': {
        const m = /^identifier=([^&]*)$/.exec(parsed.query);
        const [system, val] = m ? splitToken(decodeURIComponent(m[1]!)) : [undefined, undefined];
        const id = val !== undefined ? w.scope.identifiers.get(`${parsed.type}|${system ?? ''}|${val}`) : undefined;
        if (!id) throw unresolved(w, `conditional reference ${value.slice(0, 80)} matches no entry of this bundle`);
        ref.reference = `${parsed.type}/${id}`;
        return;
      }
      case 'absolute':
        return; // a resource on another server: kept as it is
    }
  }
}

/** The state of one reference walk: where we are, and what the submission tells us. */
interface ReferenceWalk {
  source: string;
  scope: ReferenceScope;
  outside: Prepared['outsideTargets'];
  path: (string | number)[];
}

function unresolved(w: ReferenceWalk, message: string): HealthmeshError {
  return new HealthmeshError('INGEST_UNRESOLVED_REFERENCE', message, { path: formatPath(w.path) });
}

/** The source's own id: `id`, else the uuid of a `urn:uuid:` fullUrl, else a hash of the content. */
export function sourceIdOf(resource: Json, fullUrl?: string): string {
  if (typeof resource.id === 'string' && resource.id.length > 0) return resource.id;
  if (fullUrl) return fullUrl;
  return `sha256:${createHash('sha256').update(JSON.stringify(resource)).digest('hex')}`;
}

function splitToken(token: string): [string | undefined, string] {
  const bar = token.indexOf('|');
  return bar === -1 ? [undefined, token] : [token.slice(0, bar), token.slice(bar + 1)];
}

/** versionId and lastUpdated belong to the storing server: the store sets them from its own columns. */
function stripServerMeta(resource: Json): void {
  const meta = resource.meta as Json | undefined;
  if (!meta) return;
  delete meta.versionId;
  delete meta.lastUpdated;
  if (Object.keys(meta).length === 0) delete resource.meta;
}

function patientOf(resource: Json): string | null {
  for (const field of PATIENT_FIELDS) {
    const ref = (resource[field] as Json | undefined)?.reference;
    if (typeof ref === 'string' && ref.startsWith('Patient/')) return ref.slice(8);
  }
  return null;
}

export function formatPath(parts: readonly (string | number)[]): string {
  let out = '';
  for (const p of parts) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}
