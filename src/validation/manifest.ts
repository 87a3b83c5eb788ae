/**
 * The manifest a developer submits with an ONNX model: what the model takes (a feature spec over the hub's
 * analytic tables and event index, as `models/` specs are), what it gives, what it is for, and what the developer
 * says of it (performance, training-data summary). The schema below is the contract, published as
 * docs/validation-manifest.schema.json (a test keeps the two equal); guide in docs/validation.md.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { firstSchemaError, HealthmeshError, isHealthmeshError } from '../core/index.js';
import type { FeatureDefinition, FeaturePlan, FeatureSpec, MissingPolicy } from '../models/index.js';
import { featureColumns, specTables, specVariables, validateFeatureSpec } from '../models/index.js';

/** A developer's figure for one input feature on their training data. */
export interface TrainingFeatureSummary {
  mean: number;
  sd: number;
  /** Share of training rows where the feature was not recorded (0–1). */
  missingShare?: number;
}

export interface ValidationManifest {
  name: string;
  version: string;
  developer: { name: string; contact?: string };
  /** The approved project the submission belongs to (issue 16): stored, not yet checked. */
  projectId?: string;
  model: {
    /** The ONNX graph's input: one tensor [N, columns], columns = the spec's feature columns in order. */
    input: { name: string; type: 'float' | 'double' };
    /**
     * The output read as the predicted risk: `risk` is [N] or [N, 1] probabilities; `class` is [N, k] class
     * probabilities of which column `classIndex` is the positive class.
     */
    output: { name: string; kind: 'risk' | 'class'; classIndex?: number };
  };
  /** Population (who is scored and when), outcome (what is predicted, within its horizon) and inputs. */
  featureSpec: FeatureSpec;
  intendedUse: { purpose: string; population: string; setting?: string };
  reportedPerformance: {
    auroc: number;
    aurocCi?: [number, number];
    calibrationIntercept?: number;
    calibrationSlope?: number;
    n?: number;
    events?: number;
  };
  /** The developer's training data: size and, per input feature, mean and spread (dataset shift is measured against these). */
  trainingData: { n: number; events?: number; features: Record<string, TrainingFeatureSummary> };
  /** Risk thresholds at which net benefit is reported (decision curve points); default 0.05, 0.1, 0.2. */
  thresholds?: number[];
}

/** A feature's missing-value policy as `models/` applies it: `mean` unless given; age, sex and counts are never missing. */
export function missingPolicyOf(f: FeatureDefinition): MissingPolicy | undefined {
  if (f.kind === 'age' || f.kind === 'sex' || f.kind === 'count') return undefined;
  return f.missing ?? 'mean';
}

const text = { type: 'string', minLength: 1, maxLength: 500 } as const;
const share = { type: 'number', minimum: 0, maximum: 1 } as const;

/** JSON Schema (draft 2020-12) of a manifest; the feature spec inside is checked by `models/` (its own schema). */
export const MANIFEST_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://healthmesh.example/schema/validation-manifest.schema.json',
  title: 'healthmesh model validation manifest',
  type: 'object',
  additionalProperties: false,
  required: [
    'name',
    'version',
    'developer',
    'model',
    'featureSpec',
    'intendedUse',
    'reportedPerformance',
    'trainingData',
  ],
  properties: {
    name: text,
    version: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$' },
    developer: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: { name: text, contact: text },
    },
    projectId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    model: {
      type: 'object',
      additionalProperties: false,
      required: ['input', 'output'],
      properties: {
        input: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'type'],
          properties: { name: text, type: { enum: ['float', 'double'] } },
        },
        output: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'kind'],
          properties: {
            name: text,
            kind: { enum: ['risk', 'class'] },
            classIndex: { type: 'integer', minimum: 0, maximum: 1000 },
          },
        },
      },
    },
    featureSpec: { type: 'object' },
    intendedUse: {
      type: 'object',
      additionalProperties: false,
      required: ['purpose', 'population'],
      properties: { purpose: text, population: text, setting: text },
    },
    reportedPerformance: {
      type: 'object',
      additionalProperties: false,
      required: ['auroc'],
      properties: {
        auroc: share,
        aurocCi: { type: 'array', minItems: 2, maxItems: 2, items: share },
        calibrationIntercept: { type: 'number' },
        calibrationSlope: { type: 'number' },
        n: { type: 'integer', minimum: 1 },
        events: { type: 'integer', minimum: 0 },
      },
    },
    trainingData: {
      type: 'object',
      additionalProperties: false,
      required: ['n', 'features'],
      properties: {
        n: { type: 'integer', minimum: 1 },
        events: { type: 'integer', minimum: 0 },
        features: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['mean', 'sd'],
            properties: { mean: { type: 'number' }, sd: { type: 'number', minimum: 0 }, missingShare: share },
          },
        },
      },
    },
    thresholds: {
      type: 'array',
      minItems: 1,
      maxItems: 20,
      items: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    },
  },
} as const;

const ajv = new Ajv2020({ allErrors: false, strict: true });
const validateSchema = ajv.compile<ValidationManifest>(MANIFEST_SCHEMA);

function invalid(path: string, message: string): HealthmeshError {
  return new HealthmeshError('VALIDATION_INVALID_MANIFEST', `${path === '' ? 'manifest' : path}: ${message}`, {
    path,
  });
}

/** Default decision thresholds of the net-benefit table when the manifest states none. */
export const DEFAULT_THRESHOLDS = [0.05, 0.1, 0.2] as const;

/**
 * Parse and check a manifest: the schema, the feature spec (`models/`' checks, its paths under `featureSpec.`),
 * then what neither can say — the spec has an outcome and a fixed index date (the population scored), every
 * feature the model fills from a training mean has one in `trainingData.features`, a class output names its
 * column. Errors are `VALIDATION_INVALID_MANIFEST` naming the field (`trainingData.features.sbp`).
 */
export function validateManifest(input: unknown): ValidationManifest {
  if (!validateSchema(input)) {
    const { path, detail } = firstSchemaError(validateSchema.errors);
    throw invalid(path, detail);
  }
  const m = input;
  try {
    m.featureSpec = validateFeatureSpec(m.featureSpec);
  } catch (e) {
    if (!isHealthmeshError(e) || e.code !== 'MODEL_INVALID_SPEC') throw e;
    const inner = e.location?.path ?? '';
    throw invalid(inner === '' ? 'featureSpec' : `featureSpec.${inner}`, e.message.replace(/^[^:]*: /, ''));
  }
  const spec = m.featureSpec;
  if (spec.outcome === undefined) throw invalid('featureSpec.outcome', 'a validated model needs an outcome');
  if (!('indexDate' in spec.population)) {
    throw invalid('featureSpec.population', 'give an indexDate: the population is scored on one date');
  }
  if (m.model.output.kind === 'class' && m.model.output.classIndex === undefined) {
    throw invalid('model.output.classIndex', 'a class output names the column of the positive class');
  }
  for (const f of spec.features) {
    const policy = missingPolicyOf(f);
    const needsMean = policy === 'mean' || policy === 'indicator';
    if (needsMean && m.trainingData.features[f.name] === undefined) {
      throw invalid(
        `trainingData.features.${f.name}`,
        `the feature's missing values are filled with the training mean, so its mean and sd are required`,
      );
    }
  }
  const known = new Set(spec.features.map((f) => f.name));
  for (const name of Object.keys(m.trainingData.features)) {
    if (!known.has(name)) throw invalid(`trainingData.features.${name}`, 'not a feature of featureSpec');
  }
  const ci = m.reportedPerformance.aurocCi;
  if (ci !== undefined && ci[0] > ci[1]) throw invalid('reportedPerformance.aurocCi', 'lower bound above upper');
  return m;
}

/**
 * How the hub's raw rows become the model's input: missing values filled as the developer's training did (the
 * training mean, or the spec's constant), indicator columns added, in the spec's column order.
 */
export function manifestPlan(m: ValidationManifest): FeaturePlan {
  const spec = m.featureSpec;
  const fill: Record<string, number> = {};
  for (const f of spec.features) {
    const policy = missingPolicyOf(f);
    if (typeof policy === 'object') fill[f.name] = policy.value;
    else if (policy === 'mean' || policy === 'indicator') fill[f.name] = m.trainingData.features[f.name]!.mean;
  }
  return { spec, columns: featureColumns(spec), fill };
}

/** What a manifest's feature spec reads, as a project's approved scope names it (tables, `table.column` variables). */
export interface ManifestScope {
  tables: string[];
  columns: string[];
}

/**
 * The analytic tables and variables a manifest's feature spec reads: its features, its population (a cohort's
 * tables too) and its outcome definition (`specTables`, `specVariables`). Every hub that scores the model checks
 * them against its own record of the project's approved scope.
 */
export function manifestScope(manifest: ValidationManifest): ManifestScope {
  return { tables: specTables(manifest.featureSpec), columns: specVariables(manifest.featureSpec) };
}

/**
 * The tables an `ai-validation` project asks for to validate this manifest's model (`manifestScope` grouped by
 * table; a table read only for its keys, such as a cohort population's, asks for its patient key).
 */
export function manifestProjectTables(manifest: ValidationManifest): { name: string; columns: string[] }[] {
  const { tables, columns } = manifestScope(manifest);
  return tables.map((name) => {
    const own = columns.filter((c) => c.startsWith(`${name}.`)).map((c) => c.slice(name.length + 1));
    return { name, columns: own.length > 0 ? own : ['patient_key'] };
  });
}
