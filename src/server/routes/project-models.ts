import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Federation } from '../../federation/index.js';
import type { Hub } from '../../hub/index.js';
import type { ModelFederation, TrainingSpec } from '../../models/index.js';
import { parseTrainingSpec, releaseModelCard, trainFederated, trainFromSpec } from '../../models/index.js';
import { badRequest } from '../operation-outcome.js';
import { DOMAIN_TABLE, MEMBERS, ProjectId, tablesOf, WorkHubs } from './project-work.js';

const ProjectTrainBody = Type.Object(
  {
    spec: Type.Unknown({ description: 'a training spec (docs/models.md); across hubs, a logistic learner' }),
    hubs: WorkHubs,
  },
  { additionalProperties: false },
);

/**
 * The analytic tables a training spec reads, which the project must have been approved for: age and sex from
 * `patient`, measured values from `observation`, lifelog values from `lifelog`, counts and the outcome from their
 * domain's table, and whatever a cohort-defined population reads.
 */
export function specTables(spec: TrainingSpec): string[] {
  const f = spec.features;
  const tables = new Set<string>(['patient']);
  for (const x of f.features) {
    if (x.kind === 'latest' || x.kind === 'mean' || x.kind === 'polygenic') tables.add('observation');
    else if (x.kind === 'lifelog') tables.add('lifelog');
    else if (x.kind === 'count') tables.add(DOMAIN_TABLE[x.domain] ?? x.domain);
  }
  if (f.outcome) tables.add(DOMAIN_TABLE[f.outcome.domain] ?? f.outcome.domain);
  if ('cohort' in f.population) for (const t of tablesOf(f.population.cohort)) tables.add(t);
  return [...tables].sort();
}

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

/** The column of a domain's table whose code a concept set matches (the event index's sources, cohort/). */
const CODE_COLUMN: Record<string, string> = {
  condition: 'code_code',
  observation: 'code_code',
  measurement: 'code_code',
  medication: 'medication_code',
  procedure: 'code_code',
  immunization: 'vaccine_code',
};

/**
 * The variables (`table.column`) a training spec reads values from, which the project must have been approved
 * for column by column: birth date for age, gender for sex, the code and value of a measurement (and its unit when
 * the feature names one), the code column of a counted domain or of the outcome. The keys and dates that link a
 * table's rows to a person and place them in time come with the approved table; a cohort-defined population is
 * checked by its tables, as a cohort in the workspace is.
 */
export function specVariables(spec: TrainingSpec): string[] {
  const f = spec.features;
  const vars = new Set<string>();
  const coded = (domain: string, conceptSet: string) => {
    const table = DOMAIN_TABLE[domain] ?? domain;
    if (domain !== 'encounter') {
      vars.add(`${table}.${CODE_COLUMN[domain] ?? 'code_code'}`);
      return;
    }
    // An encounter's class (v3-ActCode) and its type are two columns; the concept set's systems say which it reads.
    const systems = new Set((f.conceptSets[conceptSet]?.concepts ?? []).map((c) => c.system));
    if (systems.has(ACT_CODE)) vars.add('encounter.class_code');
    if (systems.size === 0 || [...systems].some((s) => s !== ACT_CODE)) vars.add('encounter.type_code');
  };
  const measured = (table: string, unit: string | undefined) => {
    vars.add(`${table}.code_code`);
    vars.add(`${table}.value_quantity`);
    if (unit !== undefined) vars.add(`${table}.unit`);
  };
  if ('indexDate' in f.population && f.population.age !== undefined) vars.add('patient.birth_date');
  for (const x of f.features) {
    if (x.kind === 'age') {
      vars.add('patient.birth_date');
      if (x.sex !== undefined) vars.add('patient.gender');
    } else if (x.kind === 'sex') vars.add('patient.gender');
    else if (x.kind === 'latest' || x.kind === 'mean') measured('observation', x.unit);
    else if (x.kind === 'lifelog') measured('lifelog', x.unit);
    else if (x.kind === 'count') coded(x.domain, x.conceptSet);
    else if (x.kind === 'polygenic') {
      vars.add('observation.code_code');
      vars.add('observation.value_code');
    }
  }
  if (f.outcome) coded(f.outcome.domain, f.outcome.conceptSet);
  return [...vars].sort();
}

/**
 * `POST /projects/:id/models/$train` with `{ spec, hubs? }`: a member trains a model inside an approved project,
 * on this hub (the spec's learner, held-out evaluation) or across `hubs` (the federated logistic regression, each
 * hub checking the project at every round). The tables the spec reads and the variables it reads values from must
 * be in the approved scope (a refusal names the variable), the rows are
 * built for the project's purpose (consent applied for it), and the model is registered in the project: only its
 * members and this hub's admins and stewards list, read or use it. The member gets the card as the release gate
 * builds it; it leaves the workspace only as an output request.
 */
export function projectModelRoutes(ctx: { hub: Hub; models: ModelFederation; federation: Federation | undefined }) {
  const { hub } = ctx;
  return async (app: FastifyInstance) => {
    app.post<{ Params: { id: string }; Body: { spec: unknown; hubs?: string[] } }>(
      '/projects/:id/models/$train',
      { config: { allow: MEMBERS, service: 'projects' }, schema: { params: ProjectId, body: ProjectTrainBody } },
      async (req, reply) => {
        const { id } = req.params;
        const self = hub.config.name;
        const spec = parseTrainingSpec(req.body.spec);
        const hubs = [...new Set(req.body.hubs ?? [self])];
        const scope = await hub.projects.authorize(req.principal!, id, {
          tables: specTables(spec),
          columns: specVariables(spec),
          hubs,
        });
        req.auditAction = {
          action: 'project-model-train',
          target: `project:${id}`,
          detail: { model: spec.model, purpose: scope.purpose, hubs: hubs.join(',') },
        };
        const createdBy = `user:${req.principal!.name}`;
        let registered: Awaited<ReturnType<typeof trainFromSpec>>['registered'];
        // The people whose rows trained the model here are the project's use of their data (peers record their own).
        let people: readonly string[] = [];
        if (hubs.length === 1 && hubs[0] === self) {
          let rows: Awaited<ReturnType<typeof trainFromSpec>>['rows'];
          ({ registered, rows } = await trainFromSpec(hub, spec, createdBy, scope.purpose, id));
          people = rows.patientKeys;
        } else {
          if (ctx.federation === undefined)
            throw badRequest('this hub has no federation identity: it cannot coordinate', 'hubs');
          ({ registered } = await trainFederated(hub, ctx.federation, ctx.models, spec, hubs, {
            purpose: scope.purpose,
            project: id,
            createdBy,
          }));
          if (hubs.includes(self)) ({ people } = await ctx.models.people(spec.features, scope.purpose));
        }
        const what = `${registered.id}/${registered.version}`;
        if (people.length > 0) await hub.projectUses.record(id, 'model-training', what, req.principal!.name, people);
        req.auditAction.detail = { ...req.auditAction.detail, version: registered.version };
        const gate = hub.gate;
        return reply.code(201).send(
          gate.bundle({
            id: registered.id,
            version: gate.parameter(registered.version, 'model version'),
            kind: registered.kind,
            project: id,
            hubs,
            modelHash: registered.modelHash,
            features: registered.model.features,
            card: releaseModelCard(registered.card, gate),
          }),
        );
      },
    );
  };
}
