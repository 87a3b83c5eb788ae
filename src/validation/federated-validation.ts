/**
 * Validation across hubs (docs/validation.md, "Across hubs"). The demonstration hub sends the model's bytes and its
 * manifest to each participating hub by the signed operation `validation.score`; each hub scores its own eligible
 * population (consent purpose `ai-validation`) in the same sandbox and releases through its own gate only what the
 * pooled report needs: its report's figures (sample size, discrimination, calibration, net benefit, subgroups by
 * sex and age band, missing data, dataset shift) and its scores' histogram by outcome in bins that each hold at
 * least the threshold of events and of non-events, with the counts that pool net benefit and the calibration curve
 * exactly (pooled-counts.ts). It keeps its scores in memory for the Newton rounds of the pooled calibration
 * (`validation.calibration`, pooled-calibration.ts). The demonstration hub pools them (pooled-report.ts).
 */
import { createHash } from 'node:crypto';
import type { HubServices as Hub } from '../context/index.js';
import { HealthmeshError, isHealthmeshError } from '../core/index.js';
import type { FanOutResult, Federation } from '../federation/index.js';
import { fanOut, OperationRegistry, PeerFigures, screenPeerAnswers } from '../federation/index.js';
import { applyFeaturePlan, buildHubFeatures } from '../models/index.js';
import type { Released, ReleasedCount, ReleaseGate } from '../privacy/index.js';
import { releaseCount, releaseTerms } from '../privacy/index.js';
import type { AurocOutcome } from './federated-auroc.js';
import { secureAurocAcrossHubs } from './federated-auroc.js';
import type { CalibrationOutcome } from './federated-calibration.js';
import { calibrateAcrossHubs } from './federated-calibration.js';
import type { ManifestScope, ValidationManifest } from './manifest.js';
import { DEFAULT_THRESHOLDS, manifestPlan, manifestScope, validateManifest } from './manifest.js';
import type { SandboxLimits } from './model-sandbox.js';
import { DEFAULT_SANDBOX_LIMITS } from './model-sandbox.js';
import { scoreInSandbox, VALIDATION_PURPOSE } from './model-validation.js';
import { checkPeerValidation } from './peer-validation-check.js';
import {
  AurocProtocol,
  hubRunSigner,
  VALIDATION_AUROC_KEY_OPERATION,
  VALIDATION_AUROC_PAIR_OPERATION,
  VALIDATION_AUROC_SHARE_OPERATION,
} from './pooled-auroc.js';
import { CalibrationSessions, countCalibrationRound, VALIDATION_CALIBRATION_OPERATION } from './pooled-calibration.js';
import type { DecisionCounts, RiskBin } from './pooled-counts.js';
import { releaseDecisionCounts, releaseRiskGrid } from './pooled-counts.js';
import type { Submission } from './submission-store.js';
import { buildValidationReport, logit } from './validation-report.js';

/** The signed operation a participating hub answers. */
export const VALIDATION_SCORE_OPERATION = 'validation.score';

/** Bin edges sit on this grid of the risk's log-odds, so edges describe the grid, not a person's score. */
export const LOGIT_GRID = 0.05;

/** One bin of a hub's score histogram of one outcome: edges on the log-odds grid (null: open), count and mean. */
export interface ScoreBin {
  lower: number | null;
  upper: number | null;
  n: ReleasedCount;
  meanLogit: number | null;
  sdLogit: number | null;
}

/** What one hub releases for a pooled validation (every number through its gate). */
export interface HubValidation {
  hub: string;
  /** The hub's own report as its gate built it (unsigned: the pooled report is what is signed). */
  report: Omit<ReturnType<typeof buildValidationReport>, 'verdict'>;
  /** The scores' histograms, of the events and of the non-events apart (no person is in both). */
  histogram: { events: ScoreBin[]; nonEvents: ScoreBin[] };
  /** True and false positives per threshold of the manifest, and the calibration curve on the fixed risk grid. */
  counts: { netBenefit: DecisionCounts[]; curve: RiskBin[] };
  /** The handle of this hub's scores kept for the pooled calibration's rounds (absent: it answers none). */
  session?: string;
}

/** What a hub's project policy lends validation (server/ wires `hub.projects` in; projects sit below). */
export interface ValidationProjects {
  /**
   * The project's purpose here, or a refusal (403) if `peer` may not run work in it at this hub or the tables and
   * variables the manifest's spec reads (`manifestScope`) are outside the scope approved here.
   */
  authorizePeer(
    peer: string,
    project: string,
    scope: { tables: readonly string[]; columns: readonly string[] },
  ): Promise<{ purpose: string }>;
}

/**
 * The histogram of the log-odds `l` (sorted), in bins closed at a grid edge once they hold at least `t` people (the
 * last, short one merged into the one before): every released count reaches the threshold, and each mean is over
 * at least that many people.
 */
function bins(l: readonly number[], t: number, gate: ReleaseGate): ScoreBin[] {
  type Acc = { lower: number | null; upper: number | null; n: number; sum: number; sq: number };
  const out: Acc[] = [];
  let cur: Acc = { lower: null, upper: null, n: 0, sum: 0, sq: 0 };
  l.forEach((v, k) => {
    cur.n++;
    cur.sum += v;
    cur.sq += v * v;
    const next = l[k + 1];
    // A bin closes only between grid cells, so its edge is a grid value and no score sits on it.
    const edge = Math.floor(v / LOGIT_GRID + 1) * LOGIT_GRID;
    if (next !== undefined && cur.n >= t && next >= edge) {
      cur.upper = Number(edge.toFixed(6));
      out.push(cur);
      cur = { lower: cur.upper, upper: null, n: 0, sum: 0, sq: 0 };
    }
  });
  const last = out.at(-1);
  if (last !== undefined && cur.n < t) {
    last.upper = null;
    last.n += cur.n;
    last.sum += cur.sum;
    last.sq += cur.sq;
  } else if (cur.n > 0) out.push(cur);
  return out.map((b) => ({
    lower: b.lower,
    upper: b.upper,
    n: gate.count(b.n).value,
    meanLogit: gate.statistic(b.sum / b.n, b.n).value,
    sdLogit: gate.statistic(Math.sqrt(Math.max(0, b.sq / b.n - (b.sum / b.n) ** 2)), b.n).value,
  }));
}

/** The histograms of `risks`' log-odds, of the events and of the non-events, each bin of at least the threshold. */
export function scoreHistogram(
  risks: ArrayLike<number>,
  y: ArrayLike<number>,
  gate: ReleaseGate,
): HubValidation['histogram'] {
  const t = Math.max(gate.policy.threshold, gate.minContributors);
  const events: number[] = [];
  const nonEvents: number[] = [];
  for (let i = 0; i < risks.length; i++) (y[i] === 1 ? events : nonEvents).push(logit(risks[i]!));
  const up = (a: number, b: number) => a - b;
  return { events: bins(events.sort(up), t, gate), nonEvents: bins(nonEvents.sort(up), t, gate) };
}

/**
 * Score `model` on this hub's population for `ai-validation` and release what a pooled report needs. A population
 * too small for the gate is refused with `DISCLOSURE_REFUSED`, whose message holds no number.
 */
export async function releaseHubValidation(
  hub: Hub,
  manifestInput: unknown,
  model: Uint8Array,
  requester: string,
  limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS,
): Promise<Released<HubValidation>> {
  return (await scoreHubValidation(hub, manifestInput, model, requester, limits)).part;
}

/** `releaseHubValidation`, with the scores and outcomes it released from (which stay in this hub). */
async function scoreHubValidation(
  hub: Hub,
  manifestInput: unknown,
  model: Uint8Array,
  requester: string,
  limits: SandboxLimits,
): Promise<{ part: Released<HubValidation>; risks: Float64Array; y: Uint8Array; population: string[] }> {
  if (model.byteLength > limits.maxModelBytes) {
    throw new HealthmeshError('VALIDATION_MODEL_TOO_LARGE', `the model is over the limit of ${limits.maxModelBytes}`, {
      path: 'model',
    });
  }
  const manifest: ValidationManifest = validateManifest(manifestInput);
  await hub.derived.assertCurrent();
  const rows = await buildHubFeatures(hub, manifest.featureSpec, { purpose: VALIDATION_PURPOSE });
  // Refused before anything is computed on the rows: the evaluation's own errors would name counts.
  const y = rows.matrix.outcome!;
  let events = 0;
  for (let i = 0; i < y.length; i++) events += y[i]!;
  const t = hub.gate.policy.threshold;
  if (y.length < hub.gate.minContributors || events < t || y.length - events < t) {
    throw new HealthmeshError(
      'DISCLOSURE_REFUSED',
      "this hub's validation population has too few people, events or non-events for its release gate",
      { path: 'min-contributors' },
    );
  }
  const x = applyFeaturePlan(manifestPlan(manifest), rows.matrix);
  const risks = await scoreInSandbox(hub, model, manifest, x, limits);
  const now = hub.clock.now();
  const sha = createHash('sha256').update(model).digest('hex');
  // The hub's part describes the model it scored, not a submission of its own.
  const submission: Submission = {
    id: `peer-${sha.slice(0, 16)}`,
    name: manifest.name,
    version: manifest.version,
    projectId: manifest.projectId ?? null,
    submittedBy: requester,
    submittedAt: now,
    status: 'validating',
    updatedAt: now,
    failure: null,
    decision: null,
    modelSha256: sha,
    modelBytes: model.byteLength,
    manifest,
  };
  const { verdict: _verdict, ...report } = buildValidationReport(hub, {
    submission,
    manifest,
    rows,
    risks,
    startedBy: requester,
    createdAt: now,
  });
  const { gate } = hub;
  await hub.audit.append({
    actor: requester,
    action: 'validation-score',
    target: `validation/model/${sha.slice(0, 16)}`,
    outcome: 'success',
    detail: { modelSha256: sha },
  });
  const part = gate.bundle({
    hub: hub.config.name,
    // Built by this hub's gate above: every figure in it passed.
    report: gate.reissue(report, 'release-log'),
    histogram: gate.reissue(scoreHistogram(risks, y, gate), 'release-log'),
    counts: {
      netBenefit: releaseDecisionCounts(risks, y, manifest.thresholds ?? DEFAULT_THRESHOLDS, gate),
      curve: releaseRiskGrid(risks, y, gate),
    },
  });
  return {
    part: part as Released<HubValidation>,
    risks,
    y: Uint8Array.from(y),
    population: rows.patientKeys.map((k, i) => `${k}|${rows.indexDates[i]}`),
  };
}

/** A hub that took part, or one that did not and why (a refusal's code; its message has no number). */
export interface FederatedParts {
  parts: HubValidation[];
  failed: { hub: string; kind: string; remoteCode?: string; message: string }[];
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The validation side of a hub's federation: answers `validation.score`, and asks the hubs for their parts. */
export class ValidationFederation {
  private projects: ValidationProjects | undefined;
  /** Scored populations kept for pooled calibration rounds, this hub's own and those it scored for peers. */
  private readonly sessions: CalibrationSessions;
  /** The pooled AUROC's secure products over the same kept scores. */
  private readonly aurocProtocol: AurocProtocol;

  constructor(
    private readonly hub: Hub,
    private readonly limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS,
  ) {
    this.sessions = new CalibrationSessions(() => hub.clock.now().getTime());
    this.aurocProtocol = new AurocProtocol(this.sessions, hubRunSigner(hub));
  }

  /**
   * The project checked for `peer` here: an ai-validation project this hub approved and `peer` filed, whose scope
   * approved here holds every table and variable `scope` names (read only once a project is named).
   */
  private async checkProject(
    peer: string,
    project: unknown,
    scope: () => { tables: readonly string[]; columns: readonly string[] },
  ): Promise<string> {
    // This hub's own record of the project decides: approved here, filed by the asking hub, for ai-validation, for
    // what the spec reads. The coordinator's own check is not trusted: it was against the coordinator's record.
    if (typeof project !== 'string' || this.projects === undefined) {
      throw new HealthmeshError('VALIDATION_NO_PROJECT', 'a validation runs on this hub only inside a project');
    }
    const { purpose } = await this.projects.authorizePeer(peer, project, scope());
    if (purpose !== VALIDATION_PURPOSE) {
      throw new HealthmeshError(
        'PROJECT_OUT_OF_SCOPE',
        `project ${project} is for ${purpose}, not ${VALIDATION_PURPOSE}`,
      );
    }
    return project;
  }

  /**
   * Score for `owner` and keep the scores for its calibration rounds: the part names the session. Rounds are exact
   * sums, so two populations a few people apart would give those people's scores and outcomes by subtraction: the
   * population goes through the release log first (as a federated GLM's does), and one it refuses as differencing
   * gets no session (the pooled calibration is then withheld, naming this hub).
   */
  private async scoreAndKeep(
    owner: string,
    project: string,
    manifestInput: unknown,
    model: Uint8Array,
    requester: string,
  ): Promise<HubValidation> {
    const scored = await scoreHubValidation(this.hub, manifestInput, model, requester, this.limits);
    const validated = validateManifest(manifestInput);
    const { featureSpec } = validated;
    const policy = this.hub.config.privacy.disclosure;
    let events = 0;
    for (let i = 0; i < scored.y.length; i++) events += scored.y[i]!;
    try {
      await this.hub.releases.admit({
        requester,
        family: 'validation.calibration/population',
        terms: releaseTerms([featureSpec.population ?? null, featureSpec.outcome ?? null]),
        cells: {
          rows: { count: scored.y.length, released: releaseCount(scored.y.length, policy) },
          events: { count: events, released: releaseCount(events, policy) },
        },
        population: scored.population,
      });
    } catch (e) {
      if (isHealthmeshError(e) && e.code === 'DISCLOSURE_DIFFERENCING') return scored.part.value;
      throw e;
    }
    const scope: ManifestScope = manifestScope(validated);
    return { ...scored.part.value, session: this.sessions.keep(owner, project, scored.risks, scored.y, scope) };
  }

  /** Let peers validate in projects this hub approved for `ai-validation` (without it, every request is refused). */
  withProjects(projects: ValidationProjects): this {
    this.projects = projects;
    return this;
  }

  register(operations = new OperationRegistry()): OperationRegistry {
    operations.register(VALIDATION_SCORE_OPERATION, 'peer', async ({ body, peer }) => {
      const b = body as { manifest?: unknown; model?: unknown; project?: unknown };
      const project = await this.checkProject(peer, b.project, () => manifestScope(validateManifest(b.manifest)));
      const maxChars = Math.ceil((this.limits.maxModelBytes * 4) / 3) + 4;
      if (typeof b.model !== 'string' || b.model.length > maxChars) {
        throw new HealthmeshError('VALIDATION_MODEL_TOO_LARGE', 'the model is missing or over the size limit', {
          path: 'model',
        });
      }
      if (b.model.length % 4 !== 0 || !BASE64.test(b.model)) {
        throw new HealthmeshError('VALIDATION_MODEL_INVALID', 'the model is not base64', { path: 'model' });
      }
      const model = new Uint8Array(Buffer.from(b.model, 'base64'));
      // The part was built by this hub's gate; the session is a random handle, no figure.
      return this.hub.gate.reissue(
        await this.scoreAndKeep(peer, project, b.manifest, model, `peer:${peer}/project:${project}`),
        'release-log',
      );
    });
    operations.register(VALIDATION_CALIBRATION_OPERATION, 'peer', async ({ body, peer }) => {
      const b = body as { session?: unknown; project?: unknown; slope?: unknown; intercept?: unknown };
      // The scope of the spec this hub scored for the session (its own record, not the coordinator's word); a round
      // on a session this hub does not hold is refused by `round` below.
      const project = await this.checkProject(
        peer,
        b.project,
        () => this.sessions.scopeOf(peer, String(b.project), b.session) ?? { tables: [], columns: [] },
      );
      await countCalibrationRound(this.hub.db, peer, this.hub.clock.now().toISOString().slice(0, 10));
      const round = this.sessions.round(this.hub.gate, peer, project, b.session, b.slope, b.intercept);
      await this.hub.audit.append({
        actor: `peer:${peer}/project:${project}`,
        action: 'validation-calibration-round',
        target: `validation/project/${project}`,
        outcome: 'success',
      });
      return round;
    });
    const auroc = (
      op: string,
      answer: (peer: string, project: string, b: Record<string, unknown>) => Released<unknown>,
    ) =>
      operations.register(op, 'peer', async ({ body, peer }) => {
        const b = (body ?? {}) as Record<string, unknown>;
        // Every step reads this hub's kept scores: the scope of the spec scored for the session is checked again,
        // as at each calibration round.
        const project = await this.checkProject(
          peer,
          b.project,
          () => this.sessions.scopeOf(peer, String(b.project), b.session) ?? { tables: [], columns: [] },
        );
        const out = answer(peer, project, b);
        await this.hub.audit.append({
          actor: `peer:${peer}/project:${project}`,
          action: `validation-${op.slice('validation.'.length)}`,
          target: `validation/project/${project}`,
          outcome: 'success',
        });
        return out;
      });
    const { gate } = this.hub;
    auroc(VALIDATION_AUROC_KEY_OPERATION, (peer, project, b) =>
      this.aurocProtocol.key(gate, peer, project, b.session, b.run),
    );
    auroc(VALIDATION_AUROC_SHARE_OPERATION, (peer, project, b) =>
      this.aurocProtocol.share(gate, peer, project, b.session, b.run, b.keys, b.pairs),
    );
    auroc(VALIDATION_AUROC_PAIR_OPERATION, (peer, project, b) =>
      this.aurocProtocol.pair(gate, peer, project, b.session, b.run, b.pair, b.role, b.blob),
    );
    return operations;
  }

  /**
   * The pooled AUROC of `parts` (as `gather` returned them) by secure products, with three hubs or more
   * (`secureAurocAcrossHubs`).
   */
  auroc(
    federation: Federation | undefined,
    parts: readonly HubValidation[],
    project: string,
    requester: string,
  ): Promise<AurocOutcome> {
    return secureAurocAcrossHubs(this.hub, this.aurocProtocol, federation, parts, project, requester);
  }

  /**
   * The exact pooled calibration of `parts` (as `gather` returned them) by Newton rounds (`calibrateAcrossHubs`).
   */
  calibrate(
    federation: Federation | undefined,
    parts: readonly HubValidation[],
    project: string,
    requester: string,
  ): Promise<CalibrationOutcome> {
    return calibrateAcrossHubs(this.hub, this.sessions, federation, parts, project, requester);
  }

  /**
   * Each of `hubs` scores the model on its own population (this hub locally, when named); a hub that refuses or
   * does not answer, or whose part fails `checkPeerValidation` (a `bad-response`), is named in `failed`, and the
   * others' parts stand.
   */
  async gather(
    federation: Federation | undefined,
    hubs: readonly string[],
    manifest: ValidationManifest,
    model: Uint8Array,
    project: string,
    requester: string,
  ): Promise<FederatedParts> {
    const self = this.hub.config.name;
    const others = hubs.filter((h) => h !== self);
    if (others.length > 0 && federation === undefined) {
      throw new HealthmeshError('FEDERATION_NO_IDENTITY', 'this hub has no identity key: it cannot ask other hubs');
    }
    const failed: FederatedParts['failed'] = [];
    const [mine, answered] = await Promise.all([
      hubs.includes(self)
        ? this.scoreAndKeep(self, project, manifest, model, requester).catch((e: unknown) => {
            if (!(e instanceof HealthmeshError) || e.code !== 'DISCLOSURE_REFUSED') throw e;
            failed.push({ hub: self, kind: 'refused', remoteCode: e.code, message: e.message });
            return undefined;
          })
        : Promise.resolve(undefined),
      others.length === 0
        ? Promise.resolve<FanOutResult>({ results: [], failed: [], complete: true })
        : fanOut(
            federation!.client,
            others,
            VALIDATION_SCORE_OPERATION,
            { manifest, model: Buffer.from(model).toString('base64'), project },
            // Scoring a hub's population in the sandbox takes longer than a count: the sandbox's own limit bounds it.
            { timeoutMs: Math.max(federation!.timeoutMs, this.limits.timeoutMs + 30_000) },
          ),
    ]);
    const figures = new PeerFigures(this.hub.config.privacy.disclosure);
    const remote = screenPeerAnswers(answered, (value, hub) => checkPeerValidation(figures, value, hub, manifest));
    for (const f of remote.failed) {
      failed.push({
        hub: f.hub,
        kind: f.kind,
        ...(f.remoteCode !== undefined && { remoteCode: f.remoteCode }),
        message: f.message,
      });
    }
    return {
      parts: [...(mine ? [mine] : []), ...remote.results.map((r) => r.value as HubValidation)],
      failed,
    };
  }
}
