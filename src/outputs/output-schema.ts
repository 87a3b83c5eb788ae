import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { Migration } from '../store/index.js';

/** The largest output a member may ask to release (a figure's bytes, a table's JSON). */
export const MAX_OUTPUT_BYTES = 2 * 1024 * 1024;
/** The most cells a table output may have: outputs are results to publish, not extracts. */
export const MAX_OUTPUT_CELLS = 10_000;

const Label = Type.String({ minLength: 1, maxLength: 200 });

/** A two-way table of person counts, as the release gate takes it. */
export const OutputTable = Type.Object(
  {
    rows: Type.Array(Label, { minItems: 1, maxItems: 1_000 }),
    columns: Type.Array(Label, { minItems: 1, maxItems: 200 }),
    cells: Type.Array(Type.Array(Type.Integer({ minimum: 0 })), { minItems: 1 }),
  },
  { additionalProperties: false },
);

/** Where an output came from: the analysis that made it, for its provenance (free text, no data). */
const Source = Type.Object(
  {
    analysis: Type.String({ minLength: 1, maxLength: 100, description: 'e.g. cohort, model, forecast' }),
    reference: Type.Optional(Type.String({ maxLength: 200, description: 'the run, model or file it came from' })),
    note: Type.Optional(Type.String({ maxLength: 2_000 })),
  },
  { additionalProperties: false },
);

/**
 * A forecast in a project's workspace, by its parameters (`POST /projects/:id/forecasts/$run`): what the member asks
 * for, and what the airlock has the hub compute again when the member asks to release it.
 */
export const ForecastParameters = Type.Object(
  {
    target: Type.Optional(
      Type.Union([Type.Literal('ili'), Type.Literal('confirmed')], { description: 'ili or confirmed' }),
    ),
    model: Type.Optional(
      Type.Union([Type.Literal('ensemble'), Type.Literal('baseline')], { description: 'default ensemble' }),
    ),
    reference_date: Type.Optional(
      Type.String({
        pattern: '^\\d{4}-\\d{2}-\\d{2}$',
        description: 'the round, YYYY-MM-DD (default: the week after the data)',
      }),
    ),
    suppressed_weeks: Type.Optional(
      Type.Union([Type.Literal('midpoint'), Type.Literal('refuse')], { description: 'midpoint or refuse' }),
    ),
    hubs: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { minItems: 1, maxItems: 20, uniqueItems: true }),
    ),
  },
  { additionalProperties: false },
);
export type ForecastParameters = Static<typeof ForecastParameters>;

/** A request to release an output from a project's workspace. */
export const OutputRequestBody = Type.Union([
  Type.Object(
    { kind: Type.Literal('table'), title: Label, table: OutputTable, source: Source },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('figure'),
      title: Label,
      mediaType: Type.Union([Type.Literal('image/svg+xml'), Type.Literal('image/png')]),
      /** The figure's bytes, base64. */
      data: Type.String({ minLength: 1, maxLength: Math.ceil((MAX_OUTPUT_BYTES * 4) / 3) + 4 }),
      /** The counts the figure draws, checked by the rules before a steward sees it. */
      table: Type.Optional(OutputTable),
      source: Source,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('model-card'),
      title: Label,
      /** A model registered in this project: its card, as the release gate builds it, goes to a steward. */
      model: Type.String({ minLength: 1, maxLength: 64 }),
      version: Type.Optional(Type.Integer({ minimum: 1 })),
      source: Source,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('forecast'),
      title: Label,
      /** The forecast's parameters: the hub computes it again, as the workspace did, and that is what leaves. */
      forecast: ForecastParameters,
      source: Source,
    },
    { additionalProperties: false },
  ),
]);
export type OutputRequestBody = Static<typeof OutputRequestBody>;

/**
 * What the airlock checks and keeps: a table or a figure as asked, a model card the route resolved from the
 * project's model (its JSON as the release gate built it for roles without row-level rights), or a forecast the route
 * computed from released series (its JSON as the release gate built it).
 */
export type OutputRequest =
  | Exclude<OutputRequestBody, { kind: 'model-card' } | { kind: 'forecast' }>
  | { kind: 'model-card'; title: string; card: unknown; source: OutputRequestBody['source'] }
  | { kind: 'forecast'; title: string; forecast: unknown; source: OutputRequestBody['source'] };

export const OutputDecisionBody = Type.Object(
  {
    decision: Type.Union([Type.Literal('release'), Type.Literal('deny')]),
    comment: Type.String({ minLength: 1, maxLength: 2_000 }),
  },
  { additionalProperties: false },
);
export type OutputDecisionBody = Static<typeof OutputDecisionBody>;

export const outputMigrations: readonly Migration[] = [
  {
    module: 'outputs',
    version: 1,
    name: 'output requests of project workspaces, their checks and decisions',
    statements: [
      // `content`: the output as requested (JSON of a table, base64 of a figure), kept inside the hub;
      // `released`: what its requester may download once released (the gate's table, or the reviewed figure).
      `CREATE TABLE output_request (
        id VARCHAR NOT NULL PRIMARY KEY,
        project_id VARCHAR NOT NULL,
        requester VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        title VARCHAR NOT NULL,
        media_type VARCHAR NOT NULL,
        content VARCHAR NOT NULL,
        content_sha256 VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        rules VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        released VARCHAR,
        requested_at TIMESTAMPTZ NOT NULL,
        decided_by VARCHAR,
        decided_at TIMESTAMPTZ,
        comment VARCHAR
      )`,
      'CREATE INDEX output_request_project ON output_request (project_id, requested_at)',
    ],
  },
  {
    module: 'outputs',
    version: 2,
    name: 'the counts of each output, to check later outputs against what left the project',
    // `counts`: the requested count table of a table or of a figure that carries one (JSON), else null.
    statements: ['ALTER TABLE output_request ADD COLUMN counts VARCHAR'],
  },
];
