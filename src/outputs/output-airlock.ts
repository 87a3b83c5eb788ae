import { randomBytes } from 'node:crypto';
import type { AuditLog, Principal } from '../access/index.js';
import type { Clock } from '../core/index.js';
import { csvField, HealthmeshError } from '../core/index.js';
import type { CountTable, DisclosureRule, Released, ReleasedTable, ReleaseGate } from '../privacy/index.js';
import type { Database } from '../store/index.js';
import { checkOutput, differencingGap, outputContent } from './output-check.js';
import type { OutputDecisionBody, OutputRequest, OutputRequestBody } from './output-schema.js';

export type OutputStatus = 'released' | 'awaiting-review' | 'denied';

/** An output request as its project's members and the hub's stewards see it: provenance, never its content. */
export interface OutputRecord {
  id: string;
  projectId: string;
  requester: string;
  kind: OutputRequest['kind'];
  title: string;
  mediaType: string;
  sha256: string;
  source: OutputRequestBody['source'];
  /** The rules that checked it (`output-review`: a steward decided). */
  rules: DisclosureRule[];
  status: OutputStatus;
  requestedAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  comment: string | null;
}

/** A released output's bytes as its members download them. */
export interface ReleasedOutput {
  record: OutputRecord;
  mediaType: string;
  body: Released<Buffer>;
}

type Row = {
  id: string;
  project_id: string;
  requester: string;
  kind: OutputRequest['kind'];
  title: string;
  media_type: string;
  content: string;
  content_sha256: string;
  source: string;
  rules: string;
  status: OutputStatus;
  released: string | null;
  requested_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
  comment: string | null;
};

/**
 * The airlock of a project's workspace: nothing leaves except through it. Each requested output is checked by the
 * release gate's rules; what they cover is released or refused at once, what they do not (figures) waits for a
 * steward of this hub, who releases or denies it with a comment. Every step is audited, and every output is kept
 * with its provenance (project, requester, source analysis, content hash, rules, decision).
 *
 * Who may ask, see and download is the caller's business (the project's membership, checked by the route); this
 * class checks what only it knows: a decision is taken once, by someone other than the requester.
 */
export class OutputAirlock {
  constructor(
    private readonly db: Database,
    private readonly gate: ReleaseGate,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /**
   * Check an output of `projectId` and keep it: released at once if the rules cover it and it passes, waiting for a
   * steward if they do not cover it. A refused output is not kept: the refusal (403, naming the rule) is audited.
   */
  async request(principal: Principal, projectId: string, body: OutputRequest): Promise<OutputRecord> {
    const content = outputContent(body);
    const check = checkOutput(body, this.gate);
    const target = `project/${projectId}/outputs`;
    const refuse = async (rule: DisclosureRule, reason: string): Promise<never> => {
      await this.audit.append({
        actor: principal.name,
        action: 'output-request',
        target,
        outcome: 'denied',
        detail: { kind: body.kind, rule, sha256: content.sha256 },
      });
      throw new HealthmeshError('OUTPUT_REFUSED', `this output may not leave the workspace: ${reason}`);
    };
    if (check.verdict === 'refuse') return refuse(check.rule, check.reason);
    const id = `out_${randomBytes(9).toString('base64url')}`;
    const now = this.clock.now();
    const released = check.verdict === 'release' ? check.released : null;
    const status: OutputStatus = check.verdict === 'release' ? 'released' : 'awaiting-review';
    const counts = (body.kind === 'model-card' || body.kind === 'forecast' ? undefined : body.table) as
      | CountTable
      | undefined;
    const rules: DisclosureRule[] = counts === undefined ? check.rules : [...check.rules, 'differencing'];
    // The comparison with what already left and the insert are one transaction, so two near-identical outputs
    // asked for at once cannot both pass.
    const differs = await this.db.transaction(async (tx) => {
      if (counts !== undefined && (await this.isolatesFew(tx, projectId, counts))) return true;
      await tx.run(
        `INSERT INTO output_request (id, project_id, requester, kind, title, media_type, content, content_sha256,
           source, rules, status, released, requested_at, decided_by, decided_at, comment, counts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
        [
          id,
          projectId,
          principal.name,
          body.kind,
          body.title,
          content.mediaType,
          content.content,
          content.sha256,
          JSON.stringify(body.source),
          JSON.stringify(rules),
          status,
          released,
          now,
          check.verdict === 'release' ? 'automatic check' : null,
          check.verdict === 'release' ? now : null,
          check.verdict === 'release' ? check.why : null,
          counts === undefined ? null : JSON.stringify(counts),
        ],
      );
      await this.audit.append(
        {
          actor: principal.name,
          action: 'output-request',
          target: `${target}/${id}`,
          outcome: 'success',
          detail: { kind: body.kind, status, sha256: content.sha256 },
        },
        tx,
      );
      return false;
    });
    if (differs) {
      return refuse(
        'differencing',
        'with an output already released or waiting from this project, the difference would isolate fewer people than the threshold; widen the cohort or the bands',
      );
    }
    return this.get(id);
  }

  /**
   * The check against what already left the project (or waits for a steward): an earlier output's counts with the
   * same rows and columns whose every cell, margin and total is within the threshold of this one's, and differs
   * somewhere. Two populations that differ by k people give counts that differ by at most k everywhere, so a pair
   * whose difference isolates fewer than the threshold always looks like this; unrelated tables of one layout
   * rarely do (some cell differs by more). Figures' counts are compared as they were asked for, before any decision.
   */
  private async isolatesFew(tx: Database, projectId: string, counts: CountTable): Promise<boolean> {
    const earlier = await tx.all<{ counts: string }>(
      `SELECT counts FROM output_request WHERE project_id = $1 AND counts IS NOT NULL AND status <> 'denied'`,
      [projectId],
    );
    const t = this.gate.policy.threshold;
    return earlier.some((e) => {
      const gap = differencingGap(JSON.parse(e.counts) as CountTable, counts);
      return gap !== undefined && gap > 0 && gap < t;
    });
  }

  /** A steward's decision on an output waiting for review: released (through the gate's reviewed release) or denied. */
  async decide(principal: Principal, id: string, body: OutputDecisionBody): Promise<OutputRecord> {
    const row = await this.row(id);
    if (row.status !== 'awaiting-review') {
      throw new HealthmeshError('OUTPUT_ALREADY_DECIDED', `output ${id} was decided already (${row.status})`);
    }
    if (row.requester === principal.name) {
      throw new HealthmeshError('AUTH_FORBIDDEN', 'an output is checked by someone other than its requester');
    }
    const now = this.clock.now();
    const status: OutputStatus = body.decision === 'release' ? 'released' : 'denied';
    const rules = [...(JSON.parse(row.rules) as DisclosureRule[]), 'output-review'];
    await this.db.transaction(async (tx) => {
      await tx.run(
        `UPDATE output_request SET status = $1, released = $2, rules = $3, decided_by = $4, decided_at = $5,
           comment = $6 WHERE id = $7 AND status = 'awaiting-review'`,
        [
          status,
          status === 'released' ? row.content : null,
          JSON.stringify(rules),
          principal.name,
          now,
          body.comment,
          id,
        ],
      );
      await this.audit.append(
        {
          actor: principal.name,
          action: 'output-review',
          target: `project/${row.project_id}/outputs/${id}`,
          outcome: 'success',
          detail: { decision: body.decision, sha256: row.content_sha256 },
        },
        tx,
      );
    });
    return this.get(id);
  }

  /** One output's record. */
  async get(id: string): Promise<OutputRecord> {
    return recordOf(await this.row(id));
  }

  /** A project's outputs, newest first. */
  async list(projectId: string): Promise<OutputRecord[]> {
    const rows = await this.db.all<Row>(
      'SELECT * FROM output_request WHERE project_id = $1 ORDER BY requested_at DESC, id',
      [projectId],
    );
    return rows.map(recordOf);
  }

  /** Every output waiting for a steward of this hub, oldest first. */
  async awaitingReview(): Promise<OutputRecord[]> {
    const rows = await this.db.all<Row>(
      "SELECT * FROM output_request WHERE status = 'awaiting-review' ORDER BY requested_at, id",
    );
    return rows.map(recordOf);
  }

  /**
   * A released output's bytes: a table as CSV of the gate's rounded counts with their margins, a figure as reviewed.
   * What was not released (waiting, denied) cannot be downloaded.
   */
  async download(id: string): Promise<ReleasedOutput> {
    const row = await this.row(id);
    if (row.status !== 'released' || row.released === null) {
      throw new HealthmeshError('OUTPUT_NOT_RELEASED', `output ${id} is ${row.status}: only released outputs leave`);
    }
    const record = recordOf(row);
    if (row.kind === 'table') {
      const csv = tableCsv(JSON.parse(row.released) as ReleasedTable);
      return { record, mediaType: 'text/csv; charset=utf-8', body: this.gate.reviewed(Buffer.from(csv, 'utf8')) };
    }
    // A figure is kept as base64, a model card and a forecast as their JSON text.
    const bytes = Buffer.from(row.released, row.kind === 'figure' ? 'base64' : 'utf8');
    return { record, mediaType: row.media_type, body: this.gate.reviewed(bytes) };
  }

  /** The requested content of an output waiting for review, for the steward who decides (the figure as asked). */
  async contentForReview(id: string): Promise<{ mediaType: string; bytes: Buffer; record: OutputRecord }> {
    const row = await this.row(id);
    const bytes = row.kind === 'figure' ? Buffer.from(row.content, 'base64') : Buffer.from(row.content, 'utf8');
    return { mediaType: row.media_type, bytes, record: recordOf(row) };
  }

  private async row(id: string): Promise<Row> {
    const rows = await this.db.all<Row>('SELECT * FROM output_request WHERE id = $1', [id]);
    const row = rows[0];
    if (row === undefined) throw new HealthmeshError('OUTPUT_NOT_FOUND', `no output ${id} in this hub`);
    return row;
  }
}

function recordOf(r: Row): OutputRecord {
  return {
    id: r.id,
    projectId: r.project_id,
    requester: r.requester,
    kind: r.kind,
    title: r.title,
    mediaType: r.media_type,
    sha256: r.content_sha256,
    source: JSON.parse(r.source) as OutputRequestBody['source'],
    rules: JSON.parse(r.rules) as DisclosureRule[],
    status: r.status,
    requestedAt: r.requested_at.toISOString(),
    decidedBy: r.decided_by,
    decidedAt: r.decided_at?.toISOString() ?? null,
    comment: r.comment,
  };
}

/** A released table as CSV: a header of its columns and `total`, a row per label with its total, a total row. */
function tableCsv(t: ReleasedTable): string {
  const lines = [['', ...t.columns, 'total'].map(csvField).join(',')];
  t.rows.forEach((label, r) => {
    lines.push([label, ...(t.cells[r] ?? []), t.rowTotals[r] ?? null].map(csvField).join(','));
  });
  lines.push(['total', ...t.columnTotals, t.total].map(csvField).join(','));
  return `${lines.join('\n')}\n`;
}
