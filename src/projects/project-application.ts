import { type Static, Type } from '@sinclair/typebox';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { validateCohortDefinition } from '../cohort/index.js';
import { firstSchemaError, HealthmeshError } from '../core/index.js';
import { BUILT_IN_VIEWS } from '../views/index.js';

const DAY = '^\\d{4}-\\d{2}-\\d{2}$';
/** A person's handle (the `name` of a principal): what audit entries and membership name, never a patient. */
export const HANDLE = '^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$';
const Handle = Type.String({ pattern: HANDLE, description: 'a person’s handle at the hub' });
const HubName = Type.String({ minLength: 1, maxLength: 100, description: 'a hub name: this hub or a peer' });

/** Tables (analytic tables, by view name) and the variables (columns) of each. */
export const ScopeTables = Type.Array(
  Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: 100, description: 'an analytic table, by view name' }),
      columns: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, uniqueItems: true }),
    },
    { additionalProperties: false },
  ),
  { minItems: 1, maxItems: 50 },
);
export type ScopeTables = Static<typeof ScopeTables>;

/** What an applicant files (docs/projects.md). */
export const ProjectApplication = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    purpose: Type.String({ minLength: 1, maxLength: 100, description: 'a consent purpose (docs/consent.md)' }),
    tables: ScopeTables,
    cohort: Type.Optional(Type.Unknown({ description: 'cohort criteria: a cohort definition (docs/cohorts.md)' })),
    endDate: Type.String({ pattern: DAY, description: 'the last day of access, YYYY-MM-DD (UTC)' }),
    members: Type.Optional(Type.Array(Handle, { maxItems: 100, uniqueItems: true })),
    ethicsApproval: Type.String({ minLength: 1, maxLength: 200, description: 'the ethics (IRB) approval reference' }),
    dataUseAgreement: Type.Literal(true, { description: 'the data use agreement is accepted' }),
    hubs: Type.Optional(Type.Array(HubName, { minItems: 1, maxItems: 20, uniqueItems: true })),
  },
  { additionalProperties: false },
);
export type ProjectApplication = Static<typeof ProjectApplication>;

/** A steward's decision for their own hub. */
export const ProjectReview = Type.Object(
  {
    decision: Type.Union([Type.Literal('approve'), Type.Literal('approve-with-conditions'), Type.Literal('deny')]),
    comment: Type.String({ minLength: 1, maxLength: 2000 }),
    conditions: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    tables: Type.Optional(ScopeTables),
  },
  { additionalProperties: false },
);
export type ProjectReview = Static<typeof ProjectReview>;

const ajv = new Ajv2020({ allErrors: false, strict: true });
const checkApplication = ajv.compile<ProjectApplication>(ProjectApplication);
const checkReview = ajv.compile<ProjectReview>(ProjectReview);

export function invalid(path: string, message: string): HealthmeshError {
  return new HealthmeshError('PROJECT_INVALID_APPLICATION', `${path || 'body'}: ${message}`, { path });
}

/** The columns of every built-in view, by view name: the variables a project may ask for. */
const VIEW_COLUMNS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  BUILT_IN_VIEWS.map((v) => [v.name, new Set(columnNames(v.definition))]),
);

function columnNames(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(columnNames);
  if (node === null || typeof node !== 'object') return [];
  const o = node as Record<string, unknown>;
  const own = Array.isArray(o.column) ? o.column.map((c) => String((c as { name?: unknown }).name)) : [];
  return [...own, ...columnNames(o.select ?? []), ...columnNames(o.unionAll ?? [])];
}

/** Every table and column in `tables` is an analytic table of the hub and one of its columns; `path` names a fault. */
export function checkTables(tables: ScopeTables, path: string): void {
  tables.forEach((t, i) => {
    const columns = VIEW_COLUMNS.get(t.name);
    if (columns === undefined) {
      throw invalid(
        `${path}[${i}].name`,
        `no analytic table '${t.name}'; known: ${[...VIEW_COLUMNS.keys()].join(', ')}`,
      );
    }
    t.columns.forEach((c, j) => {
      if (!columns.has(c)) throw invalid(`${path}[${i}].columns[${j}]`, `table '${t.name}' has no column '${c}'`);
    });
  });
  const names = tables.map((t) => t.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw invalid(path, `table '${twice}' is listed twice`);
}

/** The first day on which a project ending on `endDate` (YYYY-MM-DD) gives no access: the day after it, UTC. */
export function accessEndsAt(endDate: string): Date {
  return new Date(Date.parse(`${endDate}T00:00:00Z`) + 86_400_000);
}

/**
 * Parse an application: the schema first (errors name the field), then what a schema cannot say — known tables and
 * columns, cohort criteria a valid cohort definition, an end date not already past, and the hubs this one knows.
 * The purpose is checked by the caller against the hub's consent policy.
 */
export function parseApplication(input: unknown, now: Date, knownHubs: readonly string[]): ProjectApplication {
  if (!checkApplication(input)) {
    const { path, detail } = firstSchemaError(checkApplication.errors);
    throw invalid(path, detail);
  }
  const app = input;
  checkTables(app.tables, 'tables');
  if (app.cohort !== undefined) {
    try {
      validateCohortDefinition(app.cohort);
    } catch (e) {
      const fault = e instanceof HealthmeshError ? e : undefined;
      throw invalid(`cohort${fault?.location.path ? `.${fault.location.path}` : ''}`, (e as Error).message);
    }
  }
  const ends = accessEndsAt(app.endDate);
  if (Number.isNaN(ends.getTime())) throw invalid('endDate', `'${app.endDate}' is not a calendar date`);
  if (ends.getTime() <= now.getTime()) throw invalid('endDate', `'${app.endDate}' is already past`);
  (app.hubs ?? []).forEach((h, i) => {
    if (!knownHubs.includes(h)) throw invalid(`hubs[${i}]`, `'${h}' is neither this hub nor one of its peers`);
  });
  return app;
}

/** Parse a review: the schema, conditions present exactly when approving with conditions. */
export function parseReview(input: unknown): ProjectReview {
  if (!checkReview(input)) {
    const { path, detail } = firstSchemaError(checkReview.errors);
    throw invalid(path, detail);
  }
  if (input.decision === 'approve-with-conditions' && input.conditions === undefined) {
    throw invalid('conditions', 'approving with conditions needs the conditions');
  }
  if (input.decision === 'deny' && input.tables !== undefined) throw invalid('tables', 'a denial approves no tables');
  return input;
}
