import { HealthmeshError } from '../core/index.js';

type Json = Record<string, unknown>;

/** One entry of a Bundle, as ingest sees it. */
export interface BundleEntry {
  index: number;
  resource: Json;
  fullUrl?: string;
}

/**
 * The entries of a Bundle we store, or a fault per entry. Entries must carry a resource; requests may be POST
 * or PUT (creating or updating); other methods are not ingest's business and are rejected by name. Search
 * outcome entries (OperationOutcome in a searchset) are informational and skipped.
 */
export function bundleEntries(bundle: Json): {
  entries: BundleEntry[];
  faults: { index: number; error: HealthmeshError }[];
} {
  const entries: BundleEntry[] = [];
  const faults: { index: number; error: HealthmeshError }[] = [];
  const list = bundle.entry;
  if (list === undefined) return { entries, faults };
  if (!Array.isArray(list)) {
    faults.push({
      index: -1,
      error: new HealthmeshError('INGEST_BUNDLE_ENTRY', 'Bundle.entry must be an array', { path: 'Bundle.entry' }),
    });
    return { entries, faults };
  }
  list.forEach((raw: unknown, index) => {
    const path = `Bundle.entry[${index}]`;
    const entry = raw as Json | null;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      faults.push({
        index,
        error: new HealthmeshError('INGEST_BUNDLE_ENTRY', 'the entry is not an object', { entry: index, path }),
      });
      return;
    }
    const search = entry.search as Json | undefined;
    if (search?.mode === 'outcome') return;
    const request = entry.request as Json | undefined;
    const method = typeof request?.method === 'string' ? request.method : undefined;
    if (method !== undefined && method !== 'POST' && method !== 'PUT') {
      faults.push({
        index,
        error: new HealthmeshError(
          'INGEST_BUNDLE_ENTRY',
          `request method ${method} is not supported by ingest (POST and PUT are)`,
          {
            entry: index,
            path: `${path}.request.method`,
          },
        ),
      });
      return;
    }
    const resource = entry.resource as Json | undefined;
    if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
      faults.push({
        index,
        error: new HealthmeshError('INGEST_BUNDLE_ENTRY', 'the entry has no resource', {
          entry: index,
          path: `${path}.resource`,
        }),
      });
      return;
    }
    // PUT Type/id names the id when the resource itself has none.
    if (method === 'PUT' && resource.id === undefined && typeof request?.url === 'string') {
      const m = /^[A-Za-z]+\/([A-Za-z0-9\-.]{1,64})$/.exec(request.url);
      if (m) resource.id = m[1];
    }
    entries.push({ index, resource, ...(typeof entry.fullUrl === 'string' && { fullUrl: entry.fullUrl }) });
  });
  return { entries, faults };
}
