import type { ConsentFilter } from '../privacy/index.js';
import type { CurrentScope, ResourceStore } from '../store/index.js';
import { toResource } from '../store/index.js';
import type { CompiledView, ViewRow } from './view-compiler.js';

export interface RunScope {
  /** Only resources in these patients' compartments (by the store's patient_key). */
  patients?: readonly string[];
  /** Only resources last updated after this instant. */
  since?: Date;
  /** Stop after this many rows. */
  limit?: number;
  /** Leave out the resources of people whose consent refuses this filter's purpose (resources of no patient stay). */
  consent?: ConsentFilter;
}

function storeScope(view: CompiledView, scope: RunScope): CurrentScope {
  const out: CurrentScope = { types: [view.definition.resource] };
  if (scope.patients) out.patients = scope.patients;
  if (scope.since) out.since = scope.since;
  return out;
}

/** How many people's resources of the view's type in the scope its consent filter leaves out. */
export async function consentLeftOut(store: ResourceStore, view: CompiledView, scope: RunScope): Promise<number> {
  if (scope.consent === undefined) return 0;
  const consent = scope.consent;
  return store.countLeftOut(storeScope(view, scope), (column) => consent.allows(column));
}

/**
 * Run a compiled view over the current resources of its type in the store, yielding rows in batches (one per
 * store chunk): memory stays bounded however many resources match.
 */
export async function* runOverStore(
  store: ResourceStore,
  view: CompiledView,
  scope: RunScope = {},
): AsyncIterable<ViewRow[]> {
  let left = scope.limit ?? Number.POSITIVE_INFINITY;
  if (left <= 0) return;
  const consent = scope.consent;
  const options = consent
    ? { order: 'id' as const, allows: (column: string) => consent.allows(column) }
    : { order: 'id' as const };
  for await (const chunk of store.streamCurrent(storeScope(view, scope), options)) {
    const out: ViewRow[] = [];
    for (const stored of chunk) {
      for (const row of view.rows(toResource(stored))) {
        out.push(row);
        if (--left <= 0) break;
      }
      if (left <= 0) break;
    }
    if (out.length > 0) yield out;
    if (left <= 0) return;
  }
}

/** Run a compiled view over resources given in memory (the `resource` parameters of `$run`). */
export async function* runOverResources(
  view: CompiledView,
  resources: readonly Record<string, unknown>[],
  limit = Number.POSITIVE_INFINITY,
): AsyncIterable<ViewRow[]> {
  const out: ViewRow[] = [];
  for (const r of resources) {
    for (const row of view.rows(r)) {
      if (out.length >= limit) break;
      out.push(row);
    }
  }
  yield out;
}
