import { HealthmeshError } from '../core/index.js';
import condition from './builtin/condition.json' with { type: 'json' };
import consent from './builtin/consent.json' with { type: 'json' };
import encounter from './builtin/encounter.json' with { type: 'json' };
import immunization from './builtin/immunization.json' with { type: 'json' };
import lifelog from './builtin/lifelog.json' with { type: 'json' };
import medicationRequest from './builtin/medication_request.json' with { type: 'json' };
import observation from './builtin/observation.json' with { type: 'json' };
import patient from './builtin/patient.json' with { type: 'json' };
import procedure from './builtin/procedure.json' with { type: 'json' };
import { tableOfView } from './materialised-view.js';

/** A view the hub materialises as an analytic table `view_<name>`. */
export interface BuiltInView {
  name: string;
  /** The ViewDefinition JSON, as shipped in `src/views/builtin/<name>.json`. */
  definition: Readonly<Record<string, unknown>>;
}

/**
 * The built-in views, in the order their tables are refreshed. Each declares a `%region` constant that the
 * hub binds to its configured name when it materialises the table (docs/views.md).
 */
export const BUILT_IN_VIEWS: readonly BuiltInView[] = [
  patient,
  condition,
  observation,
  encounter,
  medicationRequest,
  immunization,
  procedure,
  consent,
  lifelog,
].map((definition) => ({ name: definition.name, definition }));

/** The names of the built-in views (one `src/views/builtin/<name>.json` each). */
export type BuiltInViewName =
  | 'patient'
  | 'condition'
  | 'observation'
  | 'encounter'
  | 'medication_request'
  | 'immunization'
  | 'procedure'
  | 'consent'
  | 'lifelog';

/**
 * The analytic table of a built-in view, for SQL in other modules: a published read-only relation with the columns
 * its ViewDefinition declares (documented per table in docs/views.md). Only the after-commit pipeline writes it.
 */
export function analyticTable(name: BuiltInViewName): string {
  return tableOfView(builtInView(name).name);
}

/** The built-in view called `name`, or a VIEW_UNKNOWN error listing the known ones. */
export function builtInView(name: string): BuiltInView {
  const v = BUILT_IN_VIEWS.find((b) => b.name === name);
  if (!v) {
    throw new HealthmeshError(
      'VIEW_UNKNOWN',
      `no built-in view '${name}'; known: ${BUILT_IN_VIEWS.map((b) => b.name).join(', ')}`,
    );
  }
  return v;
}
