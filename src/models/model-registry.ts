import { createHash } from 'node:crypto';
import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Database, Migration } from '../store/index.js';
import type { FeaturePlan } from './feature-plan.js';
import type { ModelCard, RiskModel } from './model-card.js';

/**
 * The registry's table: one row per (model id, version); the fitted model and its card as JSON text (VARCHAR, so
 * the same DDL runs on DuckDB and PostgreSQL), with the SHA-256 of the model JSON for audit entries.
 */
export const modelMigrations: readonly Migration[] = [
  {
    module: 'models',
    version: 1,
    name: 'model registry',
    statements: [
      `CREATE TABLE model_registry (
        model_id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        kind VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        created_by VARCHAR NOT NULL,
        model_hash VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        card VARCHAR NOT NULL,
        PRIMARY KEY (model_id, version)
      )`,
    ],
  },
  {
    module: 'models',
    version: 2,
    name: 'feature plan of a model trained from a feature spec',
    // Nullable: models fitted on a matrix (tests, imports) have no spec to compute features from the hub.
    statements: ['ALTER TABLE model_registry ADD COLUMN feature_plan VARCHAR'],
  },
  {
    module: 'models',
    version: 3,
    name: 'federated GLM rounds answered per requester, spec and day',
    // The spec is kept as its SHA-256 only; the table holds no row-level data.
    statements: [
      `CREATE TABLE model_glm_round (
        requester VARCHAR NOT NULL,
        spec_hash VARCHAR NOT NULL,
        day VARCHAR NOT NULL,
        rounds INTEGER NOT NULL,
        PRIMARY KEY (requester, spec_hash, day)
      )`,
    ],
  },
  {
    module: 'models',
    version: 4,
    name: 'project of a model trained inside a project',
    // Nullable: a model trained by the hub's operator outside any project belongs to the hub.
    statements: ['ALTER TABLE model_registry ADD COLUMN project VARCHAR'],
  },
  {
    module: 'models',
    version: 5,
    name: 'serving status of model versions',
    // One row per change, so the history stays; a version with no row serves (as every version did before).
    statements: [
      `CREATE TABLE model_serving (
        model_id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        status VARCHAR NOT NULL,
        reason VARCHAR,
        changed_by VARCHAR NOT NULL,
        changed_at TIMESTAMPTZ NOT NULL
      )`,
    ],
    indexes: [['model_serving', ['model_id', 'version']]],
  },
];

/** Whether a model version answers predictions: `serving` (the default), `withdrawn` (may serve again) or `recalled` (never again). */
export type ServingStatus = 'serving' | 'withdrawn' | 'recalled';

/** A version's current serving status, with who set it, when and why (`changedBy` null: never set, so serving). */
export interface ModelServing {
  id: string;
  version: number;
  status: ServingStatus;
  reason: string | null;
  changedBy: string | null;
  changedAt: Date | null;
}

/** One stored version of a model. */
export interface RegisteredModel {
  id: string;
  version: number;
  kind: RiskModel['kind'];
  createdAt: Date;
  createdBy: string;
  /** SHA-256 (hex) of the stored model JSON. */
  modelHash: string;
  model: RiskModel;
  card: ModelCard;
  /** The fitted feature spec, when the model was trained from one: what scoring a patient of the hub needs. */
  plan?: FeaturePlan;
  /** The project it was trained in: only that project's members (and the hub's admins, stewards) may use it. */
  project?: string;
}

/** A model id's latest version, without the bodies. */
export interface ModelListing {
  id: string;
  latestVersion: number;
  kind: RiskModel['kind'];
  title: string;
  createdAt: Date;
  /** The project it was trained in, if any. */
  project?: string;
}

/** Which models a listing holds: the hub's own (no project) and those of the projects named, or every one. */
export type ModelScope = 'all' | { projects: readonly string[] };

/** Lower-case letters, digits, `.`, `_`, `-`; used in URLs (`/models/{id}`), so nothing that needs escaping. */
const MODEL_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

interface Row extends Record<string, unknown> {
  model_id: string;
  version: number;
  kind: string;
  created_at: Date;
  created_by: string;
  model_hash: string;
  model: string;
  card: string;
  feature_plan: string | null;
  project: string | null;
}

/** Versioned models with their cards, in the hub's store. Registering never overwrites: it adds a version. */
export class ModelRegistry {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /**
   * Store `model` with `card` as the next version of `id` (1 for a new id), in `project` when trained inside one.
   * An id keeps its project: a version of a project's model is not added outside it, nor the reverse
   * (`MODEL_PROJECT_MISMATCH`), so a model never moves out of a workspace by a new version.
   */
  async register(
    id: string,
    model: RiskModel,
    card: ModelCard,
    createdBy: string,
    plan?: FeaturePlan,
    project?: string,
  ): Promise<RegisteredModel> {
    if (!MODEL_ID.test(id)) {
      throw new HealthmeshError(
        'MODEL_INVALID_OPTION',
        `model id ${JSON.stringify(id)} must be 1-64 of a-z 0-9 . _ - starting with a letter or digit`,
        { path: 'id' },
      );
    }
    const body = JSON.stringify(model);
    const modelHash = createHash('sha256').update(body).digest('hex');
    const createdAt = this.clock.now();
    return this.db.transaction(async (tx) => {
      const rows = await tx.all<{ v: number | null; project: string | null }>(
        'SELECT version AS v, project FROM model_registry WHERE model_id = $1 ORDER BY version DESC LIMIT 1',
        [id],
      );
      const latest = rows[0];
      if (latest !== undefined && (latest.project ?? undefined) !== project) {
        throw new HealthmeshError(
          'MODEL_PROJECT_MISMATCH',
          `model ${id} is registered ${latest.project === null ? 'outside any project' : 'in another project'}: choose another id`,
          { path: 'model' },
        );
      }
      const version = Number(latest?.v ?? 0) + 1;
      await tx.run(
        `INSERT INTO model_registry (model_id, version, kind, created_at, created_by, model_hash, model, card, feature_plan, project)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          id,
          version,
          model.kind,
          createdAt,
          createdBy,
          modelHash,
          body,
          JSON.stringify(card),
          plan === undefined ? null : JSON.stringify(plan),
          project ?? null,
        ],
      );
      return {
        id,
        version,
        kind: model.kind,
        createdAt,
        createdBy,
        modelHash,
        model,
        card,
        ...(plan && { plan }),
        ...(project !== undefined && { project }),
      };
    });
  }

  /** A version of `id`, or its latest version when `version` is omitted. */
  async get(id: string, version?: number): Promise<RegisteredModel> {
    const rows =
      version === undefined
        ? await this.db.all<Row>('SELECT * FROM model_registry WHERE model_id = $1 ORDER BY version DESC LIMIT 1', [id])
        : await this.db.all<Row>('SELECT * FROM model_registry WHERE model_id = $1 AND version = $2', [id, version]);
    const row = rows[0];
    if (!row) {
      const what = version === undefined ? `model ${id}` : `version ${version} of model ${id}`;
      throw new HealthmeshError('MODEL_NOT_FOUND', `no ${what} is registered`, { path: id });
    }
    return fromRow(row);
  }

  /**
   * Set the serving status of a version. A recall is final and needs a reason (it tells users why the version's
   * predictions must not be relied on); a withdrawn version may serve again.
   */
  async setStatus(
    id: string,
    version: number,
    status: ServingStatus,
    changedBy: string,
    reason?: string,
  ): Promise<ModelServing> {
    await this.get(id, version);
    if (status === 'recalled' && (reason === undefined || reason.trim() === '')) {
      throw new HealthmeshError('MODEL_INVALID_OPTION', 'a recall needs a reason', { path: 'reason' });
    }
    const now = this.clock.now();
    return this.db.transaction(async (tx) => {
      const current = await servingOf(tx, id, version);
      if (current.status === 'recalled') {
        throw new HealthmeshError(
          'MODEL_RECALLED',
          `version ${version} of model ${id} was recalled by ${current.changedBy}: ${current.reason}`,
          { path: id },
        );
      }
      // A sequence per version, not the time, orders the changes: two may share a clock reading.
      await tx.run(
        `INSERT INTO model_serving (model_id, version, seq, status, reason, changed_by, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [id, version, current.seq + 1, status, reason ?? null, changedBy, now],
      );
      return { id, version, status, reason: reason ?? null, changedBy, changedAt: now } satisfies ModelServing;
    });
  }

  /** The current serving status of a version. */
  async status(id: string, version: number): Promise<ModelServing> {
    await this.get(id, version);
    const { seq: _seq, ...s } = await servingOf(this.db, id, version);
    return s;
  }

  /**
   * The version that answers predictions: `version` when it is in service, or the latest version in service when
   * omitted. A recalled version is `MODEL_RECALLED` (with who recalled it and why), a withdrawn one
   * `MODEL_NOT_SERVING`; with no version in service, the latest version's refusal.
   */
  async serving(id: string, version?: number): Promise<RegisteredModel> {
    if (version !== undefined) {
      const m = await this.get(id, version);
      const s = await servingOf(this.db, id, version);
      if (s.status === 'recalled') {
        throw new HealthmeshError(
          'MODEL_RECALLED',
          `version ${version} of model ${id} was recalled by ${s.changedBy}: ${s.reason}`,
          { path: id },
        );
      }
      if (s.status !== 'serving') {
        throw new HealthmeshError('MODEL_NOT_SERVING', `version ${version} of model ${id} is ${s.status}`, {
          path: id,
        });
      }
      return m;
    }
    const versions = await this.versions(id);
    if (versions.length === 0) await this.get(id);
    const latest = versions[versions.length - 1]!;
    for (const v of [...versions].reverse()) {
      if ((await servingOf(this.db, id, v)).status === 'serving') return this.get(id, v);
    }
    // None serves: the latest version's own refusal says most (a recall names who and why).
    return this.serving(id, latest);
  }

  /** Every version number of `id`, ascending. */
  async versions(id: string): Promise<number[]> {
    const rows = await this.db.all<{ version: number }>(
      'SELECT version FROM model_registry WHERE model_id = $1 ORDER BY version',
      [id],
    );
    return rows.map((r) => Number(r.version));
  }

  /**
   * The latest version of every model in `scope`, by id (reads the cards, not the model bodies). By default the
   * hub's own models only: a project's models are listed to those who name the project (its members) or ask for
   * `'all'` (the hub's operators).
   */
  async list(scope: ModelScope = { projects: [] }): Promise<ModelListing[]> {
    const projects = scope === 'all' ? [] : scope.projects;
    const where =
      scope === 'all'
        ? ''
        : `WHERE r.project IS NULL${projects.length === 0 ? '' : ` OR r.project IN (${projects.map((_, i) => `$${i + 1}`).join(', ')})`}`;
    const rows = await this.db.all<Pick<Row, 'model_id' | 'version' | 'kind' | 'created_at' | 'card' | 'project'>>(
      `SELECT r.model_id, r.version, r.kind, r.created_at, r.card, r.project FROM model_registry r
       JOIN (SELECT model_id, MAX(version) AS version FROM model_registry GROUP BY model_id) latest
         ON latest.model_id = r.model_id AND latest.version = r.version
       ${where}
       ORDER BY r.model_id`,
      [...projects],
    );
    return rows.map((row) => {
      let title: unknown;
      try {
        title = (JSON.parse(row.card) as { title?: unknown }).title;
      } catch {
        title = undefined;
      }
      if (typeof title !== 'string' || !['logistic', 'boosted', 'cox'].includes(row.kind)) {
        throw new HealthmeshError(
          'MODEL_INVALID_STORED',
          `model ${row.model_id} version ${row.version} has no readable card`,
          {
            path: row.model_id,
          },
        );
      }
      return {
        id: row.model_id,
        latestVersion: Number(row.version),
        kind: row.kind as RiskModel['kind'],
        title,
        createdAt: row.created_at,
        ...(row.project !== null && row.project !== undefined && { project: row.project }),
      };
    });
  }
}

async function servingOf(
  db: Pick<Database, 'all'>,
  id: string,
  version: number,
): Promise<ModelServing & { seq: number }> {
  const rows = await db.all<{
    seq: number;
    status: string;
    reason: string | null;
    changed_by: string;
    changed_at: Date;
  }>(
    `SELECT seq, status, reason, changed_by, changed_at FROM model_serving
     WHERE model_id = $1 AND version = $2 ORDER BY seq DESC LIMIT 1`,
    [id, version],
  );
  const latest = rows[0];
  if (latest === undefined) {
    return { id, version, seq: 0, status: 'serving', reason: null, changedBy: null, changedAt: null };
  }
  return {
    seq: Number(latest.seq),
    id,
    version,
    status: latest.status as ServingStatus,
    reason: latest.reason,
    changedBy: latest.changed_by,
    changedAt: latest.changed_at,
  };
}

function fromRow(row: Row): RegisteredModel {
  const where = `model ${row.model_id} version ${row.version}`;
  let model: unknown;
  let card: unknown;
  let plan: FeaturePlan | undefined;
  try {
    model = JSON.parse(row.model);
    card = JSON.parse(row.card);
    if (row.feature_plan !== null && row.feature_plan !== undefined) plan = JSON.parse(row.feature_plan) as FeaturePlan;
  } catch (e) {
    throw new HealthmeshError('MODEL_INVALID_STORED', `${where}: ${(e as Error).message}`, { path: row.model_id });
  }
  if (!isRiskModel(model) || model.kind !== row.kind || typeof card !== 'object' || card === null) {
    throw new HealthmeshError('MODEL_INVALID_STORED', `${where} is not a ${row.kind} model with a card`, {
      path: row.model_id,
    });
  }
  if (createHash('sha256').update(row.model).digest('hex') !== row.model_hash) {
    throw new HealthmeshError('MODEL_INVALID_STORED', `${where} does not match its stored hash`, {
      path: row.model_id,
    });
  }
  return {
    id: row.model_id,
    version: Number(row.version),
    kind: model.kind,
    createdAt: row.created_at,
    createdBy: row.created_by,
    modelHash: row.model_hash,
    model,
    card: card as ModelCard,
    ...(plan && { plan }),
    ...(row.project !== null && row.project !== undefined && { project: row.project }),
  };
}

function isRiskModel(v: unknown): v is RiskModel {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o.features)) return false;
  if (o.kind === 'logistic') return Array.isArray(o.coefficients) && o.coefficients.length === o.features.length + 1;
  if (o.kind === 'boosted') return Array.isArray(o.trees) && typeof o.baseScore === 'number';
  if (o.kind === 'cox')
    return (
      Array.isArray(o.coefficients) &&
      o.coefficients.length === o.features.length &&
      typeof o.horizon === 'number' &&
      typeof o.baselineCumHazard === 'number'
    );
  return false;
}
