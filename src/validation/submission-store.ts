import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Database, Migration } from '../store/index.js';
import type { ValidationManifest } from './manifest.js';

/**
 * The validation module's tables: one row per submitted model (its manifest as JSON text, the ONNX bytes as
 * base64 text so the same DDL runs on DuckDB and PostgreSQL, its SHA-256, its status) and one row per finished
 * validation run (the signed report as a compact JWS).
 */
export const validationMigrations: readonly Migration[] = [
  {
    module: 'validation',
    version: 1,
    name: 'submitted models and their signed validation reports',
    statements: [
      `CREATE TABLE validation_submission (
        submission_id VARCHAR NOT NULL PRIMARY KEY,
        name VARCHAR NOT NULL,
        model_version VARCHAR NOT NULL,
        project_id VARCHAR,
        submitted_by VARCHAR NOT NULL,
        submitted_at TIMESTAMPTZ NOT NULL,
        status VARCHAR NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        failure_code VARCHAR,
        failure_message VARCHAR,
        model_sha256 VARCHAR NOT NULL,
        model_bytes INTEGER NOT NULL,
        model VARCHAR NOT NULL,
        manifest VARCHAR NOT NULL
      )`,
      `CREATE TABLE validation_report (
        submission_id VARCHAR NOT NULL,
        run INTEGER NOT NULL,
        started_by VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        report_jws VARCHAR NOT NULL,
        PRIMARY KEY (submission_id, run)
      )`,
    ],
  },
  {
    module: 'validation',
    version: 2,
    name: "a validator's approval to serve a validated model, and its recall",
    statements: [
      'ALTER TABLE validation_submission ADD COLUMN decided_by VARCHAR',
      'ALTER TABLE validation_submission ADD COLUMN decision_comment VARCHAR',
    ],
  },
];

/**
 * Where a submission is: `submitted` (stored, checked against its schema), `validating` (a run in progress),
 * `validated` (a signed report exists) or `failed` (the model was refused at its run; the code says why).
 */
export type SubmissionStatus = 'submitted' | 'validating' | 'validated' | 'failed' | 'approved' | 'recalled';

/** A run still `validating` after this long is taken as dead: longer than any sandbox time limit and feature build. */
const STALE_RUN_MS = 30 * 60_000;

/** A submission without its model bytes. */
export interface Submission {
  id: string;
  name: string;
  version: string;
  projectId: string | null;
  submittedBy: string;
  submittedAt: Date;
  status: SubmissionStatus;
  updatedAt: Date;
  failure: { code: string; message: string } | null;
  /** The validator's approval to serve, or the recall, with its comment or reason. */
  decision: { by: string; comment: string } | null;
  modelSha256: string;
  modelBytes: number;
  manifest: ValidationManifest;
}

interface Row extends Record<string, unknown> {
  submission_id: string;
  name: string;
  model_version: string;
  project_id: string | null;
  submitted_by: string;
  submitted_at: Date;
  status: string;
  updated_at: Date;
  failure_code: string | null;
  decided_by: string | null;
  decision_comment: string | null;
  failure_message: string | null;
  model_sha256: string;
  model_bytes: number;
  manifest: string;
}

const LISTED =
  'submission_id, name, model_version, project_id, submitted_by, submitted_at, status, updated_at, failure_code, failure_message, decided_by, decision_comment, model_sha256, model_bytes, manifest';

function fromRow(r: Row): Submission {
  return {
    id: r.submission_id,
    name: r.name,
    version: r.model_version,
    projectId: r.project_id ?? null,
    submittedBy: r.submitted_by,
    submittedAt: r.submitted_at,
    status: r.status as SubmissionStatus,
    updatedAt: r.updated_at,
    failure: r.failure_code === null ? null : { code: r.failure_code, message: r.failure_message ?? '' },
    decision: r.decided_by === null ? null : { by: r.decided_by, comment: r.decision_comment ?? '' },
    modelSha256: r.model_sha256,
    modelBytes: Number(r.model_bytes),
    manifest: JSON.parse(r.manifest) as ValidationManifest,
  };
}

/** Submissions and reports in the hub's store. */
export class SubmissionStore {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** Store a checked manifest and its model as a new submission (`submitted`). */
  async add(manifest: ValidationManifest, model: Uint8Array, submittedBy: string): Promise<Submission> {
    const id = `sub-${randomBytes(8).toString('hex')}`;
    const now = this.clock.now();
    const sha = createHash('sha256').update(model).digest('hex');
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO validation_submission (${LISTED}, model)
         VALUES ($1, $2, $3, $4, $5, $6, 'submitted', $6, NULL, NULL, NULL, NULL, $7, $8, $9, $10)`,
        [
          id,
          manifest.name,
          manifest.version,
          manifest.projectId ?? null,
          submittedBy,
          now,
          sha,
          model.byteLength,
          JSON.stringify(manifest),
          Buffer.from(model).toString('base64'),
        ],
      );
    });
    return this.get(id);
  }

  async get(id: string): Promise<Submission> {
    const [row] = await this.db.all<Row>(`SELECT ${LISTED} FROM validation_submission WHERE submission_id = $1`, [id]);
    if (!row) throw new HealthmeshError('VALIDATION_NOT_FOUND', `no submission ${id}`, { path: 'id' });
    return fromRow(row);
  }

  /** The stored model bytes, checked against their hash. */
  async model(id: string): Promise<Uint8Array> {
    const [row] = await this.db.all<{ model: string; model_sha256: string }>(
      'SELECT model, model_sha256 FROM validation_submission WHERE submission_id = $1',
      [id],
    );
    if (!row) throw new HealthmeshError('VALIDATION_NOT_FOUND', `no submission ${id}`, { path: 'id' });
    const bytes = Buffer.from(row.model, 'base64');
    if (createHash('sha256').update(bytes).digest('hex') !== row.model_sha256) {
      throw new HealthmeshError('INTERNAL', `the stored model of ${id} does not match its hash`);
    }
    return new Uint8Array(bytes);
  }

  /** Every submission, newest first; only `submittedBy`'s when given. */
  async list(submittedBy?: string): Promise<Submission[]> {
    const rows =
      submittedBy === undefined
        ? await this.db.all<Row>(`SELECT ${LISTED} FROM validation_submission ORDER BY submitted_at DESC`)
        : await this.db.all<Row>(
            `SELECT ${LISTED} FROM validation_submission WHERE submitted_by = $1 ORDER BY submitted_at DESC`,
            [submittedBy],
          );
    return rows.map(fromRow);
  }

  /**
   * Move `id` to `validating` unless a run is already under way (`VALIDATION_IN_PROGRESS`): the check and the move
   * are one writer transaction, so two starts cannot both run. A run marked longer ago than `STALE_RUN_MS` is taken
   * as dead (its process stopped mid-run) and may be started again.
   */
  async begin(id: string): Promise<void> {
    await this.get(id);
    const now = this.clock.now();
    const moved = await this.db.transaction(async (tx) => {
      const [row] = await tx.all<{ status: string; updated_at: Date }>(
        'SELECT status, updated_at FROM validation_submission WHERE submission_id = $1',
        [id],
      );
      const running = row?.status === 'validating' && now.getTime() - row.updated_at.getTime() < STALE_RUN_MS;
      if (running) return false;
      // An approved version is served as validated, a recalled one stays recalled: a new run needs a new version.
      if (row?.status === 'approved' || row?.status === 'recalled') return 'decided';
      await tx.run(
        `UPDATE validation_submission SET status = 'validating', updated_at = $2, failure_code = NULL, failure_message = NULL
         WHERE submission_id = $1`,
        [id, now],
      );
      return true;
    });
    if (moved === 'decided') {
      throw new HealthmeshError(
        'VALIDATION_NOT_SERVING',
        `submission ${id} was approved or recalled: submit a new version`,
      );
    }
    if (!moved) {
      throw new HealthmeshError('VALIDATION_IN_PROGRESS', `submission ${id} is being validated already`, {
        path: 'id',
      });
    }
  }

  /**
   * Move a submission from one of `from` to `to` with who decided and why; refused (naming the status) otherwise.
   * Used for a validator's approval (validated → approved) and a recall (approved or validated → recalled).
   */
  async decide(id: string, from: readonly SubmissionStatus[], to: SubmissionStatus, by: string, comment: string) {
    const current = await this.get(id);
    if (!from.includes(current.status)) {
      throw new HealthmeshError(
        'VALIDATION_NOT_SERVING',
        `submission ${id} is ${current.status}: only a ${from.join(' or ')} one can become ${to}`,
      );
    }
    await this.db.run(
      `UPDATE validation_submission SET status = $2, updated_at = $3, decided_by = $4, decision_comment = $5
       WHERE submission_id = $1`,
      [id, to, this.clock.now(), by, comment.slice(0, 1000)],
    );
    return this.get(id);
  }

  /** The run failed: the refusal's code and message are kept with the submission. */
  async fail(id: string, code: string, message: string): Promise<void> {
    await this.db.transaction((tx) =>
      tx.run(
        `UPDATE validation_submission SET status = 'failed', updated_at = $2, failure_code = $3, failure_message = $4
         WHERE submission_id = $1`,
        [id, this.clock.now(), code, message.slice(0, 1000)],
      ),
    );
  }

  /** The run finished: its signed report is stored and the submission is `validated`. */
  async complete(id: string, startedBy: string, jws: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      const [r] = await tx.all<{ n: number | null }>(
        'SELECT MAX(run) AS n FROM validation_report WHERE submission_id = $1',
        [id],
      );
      const run = Number(r?.n ?? 0) + 1;
      const now = this.clock.now();
      await tx.run(
        'INSERT INTO validation_report (submission_id, run, started_by, created_at, report_jws) VALUES ($1, $2, $3, $4, $5)',
        [id, run, startedBy, now, jws],
      );
      await tx.run(`UPDATE validation_submission SET status = 'validated', updated_at = $2 WHERE submission_id = $1`, [
        id,
        now,
      ]);
      return run;
    });
  }

  /** The latest signed report of `id` (`VALIDATION_NOT_FOUND` when none was made). */
  async report(id: string): Promise<{ run: number; jws: string; createdAt: Date }> {
    const [r] = await this.db.all<{ run: number; report_jws: string; created_at: Date }>(
      'SELECT run, report_jws, created_at FROM validation_report WHERE submission_id = $1 ORDER BY run DESC LIMIT 1',
      [id],
    );
    if (!r) throw new HealthmeshError('VALIDATION_NOT_FOUND', `submission ${id} has no report yet`, { path: 'id' });
    return { run: Number(r.run), jws: r.report_jws, createdAt: r.created_at };
  }
}
