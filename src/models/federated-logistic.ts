/**
 * Federated logistic regression over the signed federation transport (docs/federation.md). Each hub computes the
 * spec's features from its own data and answers two operations:
 * - `model.glm-moments`: per feature, the count and sum of recorded values, and the rows and events — what the
 *   coordinator needs to fill missing values with the pooled mean (the same fill on every hub);
 * - `model.glm-newton`: at the coordinator's β, the hub's gradient Σ(y − μ)x̃, information Σμ(1 − μ)x̃x̃' and
 *   log-likelihood (`partialNewtonStep`).
 * No row leaves a hub. A hub refuses a round (`MODEL_FEDERATION_REFUSED`) when fewer rows, events or non-events
 * than its disclosure threshold stand behind it: with a handful of rows the gradient and information come close
 * to the rows themselves. The coordinator runs `NewtonIteration` on the summed parts, as a pooled fit would.
 */

import { createHash } from 'node:crypto';
import type { HubServices as Hub } from '../context/index.js';
import type { DisclosurePolicy } from '../core/index.js';
import { HealthmeshError, isHealthmeshError } from '../core/index.js';
import type { Federation } from '../federation/index.js';
import { fanOut, OperationRegistry, PeerFigures, peerFigureProblem } from '../federation/index.js';
import type { FitSupport, Released } from '../privacy/index.js';
import { releaseCount, releaseTerms } from '../privacy/index.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { featureMatrix } from './feature-matrix.js';
import type { FeaturePlan } from './feature-plan.js';
import { applyFeaturePlan } from './feature-plan.js';
import { specTables, specVariables } from './feature-scope.js';
import type { FeatureSpec } from './feature-spec.js';
import { featureColumns, missingPolicy, validateFeatureSpec } from './feature-spec.js';
import { buildHubFeatures } from './hub-features.js';
import type { NewtonPart } from './logistic-newton.js';
import { partialNewtonStep, sumNewtonParts } from './logistic-newton.js';
import type { LogisticModel } from './logistic-regression.js';
import { NewtonIteration } from './logistic-regression.js';

/** One hub's aggregate moments of the raw features. */
export interface FeatureMoments {
  rows: number;
  events: number;
  /** Per feature of the spec: recorded values and their sum. */
  recorded: number[];
  sums: number[];
}

/** A Newton part as JSON (typed arrays as plain arrays). */
interface WireNewtonPart {
  size: number;
  rows: number;
  gradient: number[];
  information: number[];
  logLikelihood: number;
  saturated: number;
}

/** What one hub's answer to one round stood on, as the coordinator received it (exact; release it before showing it). */
export interface RoundAnswer {
  hub: string;
  rows: number;
  /** Events: known from the moments round only (a Newton part carries none). */
  events?: number;
}

/** One round of a federated fit: the operation, the hubs that answered, how long it took, what each answer stood on. */
export interface FederatedRound {
  round: number;
  operation: 'model.glm-moments' | 'model.glm-newton';
  ms: number;
  hubs: string[];
  answers: RoundAnswer[];
}

/** The result of a federated fit: the model, the fill it used, the purpose it ran for, and its rounds. */
export interface FederatedLogisticFit {
  model: LogisticModel;
  plan: FeaturePlan;
  /** The purpose of use every hub built its rows for (people whose consent refuses it are left out). */
  purpose: string;
  /** The hubs' moments summed: rows, events, and per feature the recorded values and their sum. */
  pooled: FeatureMoments;
  rounds: FederatedRound[];
}

/** The purpose a federated fit runs for when its caller names none (as for training on one hub). */
export const DEFAULT_FEDERATED_PURPOSE = 'ai-development';

function refuse(message: string): HealthmeshError {
  return new HealthmeshError('MODEL_FEDERATION_REFUSED', message, { path: 'spec' });
}

/** The fill of every missing-value policy from pooled moments (logistic regression cannot take `keep`). */
export function pooledPlan(spec: FeatureSpec, moments: readonly FeatureMoments[]): FeaturePlan {
  const fill: Record<string, number> = {};
  spec.features.forEach((f, j) => {
    const policy = missingPolicy(f);
    if (policy === undefined) return;
    if (policy === 'keep') {
      throw new HealthmeshError(
        'MODEL_INVALID_SPEC',
        `features[${j}].missing: logistic regression needs complete cases; "keep" is for boosted trees`,
        { path: `features[${j}].missing` },
      );
    }
    if (typeof policy === 'object') {
      fill[f.name] = policy.value;
      return;
    }
    const n = moments.reduce((s, m) => s + (m.recorded[j] ?? 0), 0);
    if (n === 0)
      throw new HealthmeshError('MODEL_ALL_MISSING_FEATURE', `feature ${f.name} is missing on every hub`, {
        path: f.name,
      });
    fill[f.name] = moments.reduce((s, m) => s + (m.sums[j] ?? 0), 0) / n;
  });
  return { spec, columns: featureColumns(spec), fill };
}

/** Specs whose feature rows a hub keeps between rounds; the oldest is dropped first. */
const FEATURE_CACHE_SPECS = 8;
/**
 * How long a spec's feature rows serve after the store has changed: long enough for the rounds of one fit (so
 * they all sum the same rows), short enough that the next fit sees new data.
 */
const FEATURE_REUSE_MS = 10 * 60_000;

interface CachedFeatures {
  /** The rows and, one per row, the patient key it belongs to. */
  matrix: Promise<{ matrix: FeatureMatrix; keys: readonly string[] }>;
  /** The store's state when the rows were computed (`storeStamp`). */
  stamp: string;
  at: number;
}
/**
 * Newton rounds one requester may ask of one spec in a day. A fit takes at most 10; each round answers exact
 * sums at a β the requester chooses, so an unbounded number of rounds would be an unbounded number of queries.
 */
export const NEWTON_ROUNDS_PER_DAY = 40;

/**
 * How a hub checks a peer's project before answering a round (the server wires `ProjectRegistry.authorizePeer`):
 * `scope` holds the tables and variables the round's spec reads (`specTables`, `specVariables`), checked against
 * this hub's own record of the project's approved scope.
 */
export interface ModelProjects {
  authorizePeer(
    peer: string,
    project: string,
    scope: { tables: readonly string[]; columns: readonly string[] },
  ): Promise<{ purpose: string }>;
  /** Record the people whose rows a peer's fit in `project` read (`ProjectUses.record`); `features` names the spec. */
  recordUse?(project: string, features: string, people: readonly string[], requester: string): Promise<void>;
}

/** The model side of a hub's federation: `model.glm-moments` and `model.glm-newton`. */
export class ModelFederation {
  /** Raw feature rows per spec, computed once per spec and reused by the rounds of a fit. */
  private readonly cache = new Map<string, CachedFeatures>();
  private projects: ModelProjects | undefined;

  constructor(
    private readonly hub: Hub,
    private readonly options: { reuseMs?: number } = {},
  ) {}

  /** This hub's disclosure policy, against which a coordinator checks its peers' rounds. */
  get disclosure(): DisclosurePolicy {
    return this.hub.config.privacy.disclosure;
  }

  /**
   * Answer peers' rounds only inside a project this hub approved (the server wires it): every round must name the
   * project, is checked by `authorizePeer` (approved here, filed by the asking hub, not expired, the spec's tables
   * and variables inside the scope approved here) and builds its rows for the project's purpose. Without it (library use), a round names no project and gives its purpose.
   */
  withProjects(projects: ModelProjects): this {
    this.projects = projects;
    return this;
  }

  register(operations = new OperationRegistry()): OperationRegistry {
    operations.register('model.glm-moments', 'peer', async ({ body, peer }) => {
      const b = body as { spec: unknown; purpose?: unknown; project?: unknown };
      const purpose = await this.purposeOf(peer, b);
      const answer = await this.moments(b.spec, `peer:${peer}`, purpose);
      if (this.projects?.recordUse !== undefined && typeof b.project === 'string') {
        // Every round of a fit reads the same rows; the moments round opens a fit, so it records them once.
        const { spec, people } = await this.people(b.spec, purpose);
        await this.projects.recordUse(b.project, spec, people, `peer:${peer}`);
      }
      return answer;
    });
    operations.register('model.glm-newton', 'peer', async ({ body, peer }) => {
      const b = body as { spec: unknown; fill: unknown; beta: unknown; purpose?: unknown; project?: unknown };
      return this.newton(b.spec, b.fill, b.beta, `peer:${peer}`, await this.purposeOf(peer, b));
    });
    return operations;
  }

  /** The purpose a peer's round runs for: its project's, checked here at every round. */
  private async purposeOf(peer: string, b: { spec: unknown; purpose?: unknown; project?: unknown }): Promise<unknown> {
    if (this.projects === undefined) {
      if (b.project !== undefined) throw new HealthmeshError('PROJECT_NOT_FOUND', 'this hub runs no project work');
      return b.purpose;
    }
    if (typeof b.project !== 'string' || b.project === '') {
      throw new HealthmeshError('MODEL_NO_PROJECT', 'a federated model fit runs on this hub only inside a project', {
        path: 'project',
      });
    }
    // The spec's scope is checked here, not taken from the coordinator: a coordinator that skipped its own check
    // (or checked another hub's scope) still gets no value of a variable this hub did not approve.
    const spec = validateFeatureSpec(b.spec);
    const { purpose } = await this.projects.authorizePeer(peer, b.project, {
      tables: specTables(spec),
      columns: specVariables(spec),
    });
    if (b.purpose !== undefined && b.purpose !== purpose) {
      throw new HealthmeshError(
        'PROJECT_OUT_OF_SCOPE',
        `project ${b.project} is for ${purpose}, not ${String(b.purpose).slice(0, 40)}`,
      );
    }
    return purpose;
  }

  private async raw(
    input: unknown,
    requester: string,
    purposeInput: unknown,
  ): Promise<{ spec: FeatureSpec; raw: FeatureMatrix; keys: readonly string[] }> {
    const spec = validateFeatureSpec(input);
    if (spec.outcome === undefined) throw refuse('a federated fit needs an outcome');
    if (purposeInput !== undefined && typeof purposeInput !== 'string') throw refuse('purpose must be a string');
    // Each hub checks the purpose against its own consent policy (an unknown purpose is refused) and leaves out the
    // people whose consent refuses it, whatever the coordinator says.
    const purpose = this.hub.consent.policy.purpose(purposeInput ?? DEFAULT_FEDERATED_PURPOSE, 'purpose').name;
    const key = JSON.stringify([spec, purpose]);
    const stamp = await storeStamp(this.hub);
    const now = this.hub.clock.now().getTime();
    const cached = this.cache.get(key);
    // Rows computed before an ingest are recomputed once they are older than a fit takes.
    const stale =
      cached !== undefined && cached.stamp !== stamp && now - cached.at > (this.options.reuseMs ?? FEATURE_REUSE_MS);
    if (stale) this.cache.delete(key);
    let p = stale ? undefined : cached?.matrix;
    if (p === undefined) {
      // An empty population is 0 rows: refused below like any population under the threshold.
      p = buildHubFeatures(this.hub, spec, { purpose }).then(
        async (r) => {
          await this.admit(
            spec,
            r.matrix,
            r.patientKeys.map((k, i) => `${k}|${r.indexDates[i]}`),
            requester,
          );
          return { matrix: r.matrix, keys: r.patientKeys };
        },
        (e: unknown) => {
          if (isHealthmeshError(e) && e.code === 'MODEL_EMPTY_DATA') {
            const matrix = featureMatrix(
              spec.features.map((f) => f.name),
              new Float64Array(0),
              new Uint8Array(0),
            );
            return { matrix, keys: [] };
          }
          throw e;
        },
      );
      // A bounded cache: any peer can send specs, and each holds a hub's feature rows in memory.
      if (this.cache.size >= FEATURE_CACHE_SPECS) this.cache.delete(this.cache.keys().next().value as string);
      const entry = { matrix: p, stamp, at: now };
      this.cache.set(key, entry);
      p.catch(() => {
        if (this.cache.get(key) === entry) this.cache.delete(key);
      });
    }
    const { matrix: raw, keys } = await p;
    // Disclosure: a round on fewer people than the threshold (or nearly all of one class) would come close to
    // releasing their rows; the hub refuses it rather than the coordinator deciding.
    const threshold = this.hub.config.privacy.disclosure.threshold;
    let events = 0;
    for (let i = 0; i < raw.rows; i++) events += raw.outcome![i]!;
    if (raw.rows < threshold || events < threshold || raw.rows - events < threshold) {
      throw refuse(
        `${this.hub.config.name} holds fewer than ${threshold} rows, events or non-events for this spec: it takes no part (disclosure control)`,
      );
    }
    const thin = thinFeature(raw, threshold);
    if (thin !== undefined) {
      throw refuse(
        `${this.hub.config.name}: feature ${thin} splits its rows into a group of fewer than ${threshold} (missing or not, zero or not), which exact sums and cross-products would reveal: it takes no part (disclosure control)`,
      );
    }
    return { spec, raw, keys };
  }

  /**
   * The people whose rows this hub's part of a fit over `input` for `purpose` reads (the rows its rounds reuse), and
   * the spec's name: what a project's use of their data records.
   */
  async people(input: unknown, purpose: unknown): Promise<{ spec: string; people: readonly string[] }> {
    const { spec, keys } = await this.raw(input, 'coordinator', purpose);
    return { spec: spec.name, people: keys };
  }

  /**
   * Enter the population into the hub's release log once per spec, so a spec whose population differs from an
   * earlier one by fewer than the threshold (an age bound moved by a year) is refused as differencing before any
   * exact sum leaves; and each feature's contributors (the rows with a recorded value), so that the same feature
   * over a window widened by a few days — the spec's rows unchanged, the feature's sum moved by one person's
   * value — is refused too. A feature's releases are compared with those of the same definition (kind, concept
   * set, unit, missing policy) whatever its name and window; the window and the population are its terms.
   * `keys`: one per row (patient key and index date).
   */
  private async admit(spec: FeatureSpec, raw: FeatureMatrix, keys: readonly string[], requester: string) {
    let events = 0;
    for (let i = 0; i < raw.rows; i++) events += raw.outcome![i]!;
    const policy = this.hub.config.privacy.disclosure;
    await this.hub.releases.admit({
      requester,
      family: 'model.glm/population',
      terms: releaseTerms([spec.population ?? null, spec.outcome ?? null]),
      cells: {
        rows: { count: raw.rows, released: releaseCount(raw.rows, policy) },
        events: { count: events, released: releaseCount(events, policy) },
      },
      population: keys,
    });
    const p = raw.names.length;
    for (let j = 0; j < p; j++) {
      const {
        name: _name,
        window,
        ...definition
      } = spec.features[j]! as FeatureSpec['features'][number] & {
        window?: unknown;
      };
      const contributors = keys.filter((_, i) => !Number.isNaN(raw.values[i * p + j]!));
      const [kind] = releaseTerms([definition]);
      await this.hub.releases.admit({
        requester,
        family: `model.glm/feature-contributors/${kind}`,
        terms: releaseTerms([spec.population ?? null, spec.outcome ?? null, window ?? null]),
        cells: { contributors: { count: contributors.length, released: releaseCount(contributors.length, policy) } },
        population: contributors,
      });
    }
  }

  /** What stands behind this hub's answers for a spec: rows, events, each feature's contributors and groups. */
  private support(raw: FeatureMatrix): FitSupport {
    const p = raw.names.length;
    let events = 0;
    for (let i = 0; i < raw.rows; i++) events += raw.outcome![i]!;
    return {
      rows: raw.rows,
      events,
      features: raw.names.map((name, j) => {
        let missing = 0;
        let zero = 0;
        for (let i = 0; i < raw.rows; i++) {
          const v = raw.values[i * p + j]!;
          if (Number.isNaN(v)) missing++;
          else if (v === 0) zero++;
        }
        const contributors = raw.rows - missing;
        return { name, contributors, groups: [missing, zero, contributors - zero] };
      }),
    };
  }

  /**
   * Per-feature counts and sums of recorded values, rows and events: exact (the pooled fill must equal the
   * centralised one), so released by the gate's exact-update rule (`modelUpdate`) after the release log admitted
   * the spec's rows and every feature's contributors.
   */
  async moments(input: unknown, requester = 'coordinator', purpose?: unknown): Promise<Released<FeatureMoments>> {
    const { raw } = await this.raw(input, requester, purpose);
    const p = raw.names.length;
    const recorded = new Array<number>(p).fill(0);
    const sums = new Array<number>(p).fill(0);
    let events = 0;
    for (let i = 0; i < raw.rows; i++) {
      events += raw.outcome![i]!;
      for (let j = 0; j < p; j++) {
        const v = raw.values[i * p + j]!;
        if (!Number.isNaN(v)) {
          recorded[j]!++;
          sums[j]! += v;
        }
      }
    }
    await this.hub.audit.append({
      actor: 'federation',
      action: 'model-glm-moments',
      target: 'features',
      outcome: 'success',
    });
    return this.hub.gate.modelUpdate({ rows: raw.rows, events, recorded, sums }, this.support(raw), 'these moments');
  }

  /** This hub's gradient, information and log-likelihood at `beta`, with the coordinator's fill. */
  async newton(
    input: unknown,
    fill: unknown,
    beta: unknown,
    requester = 'coordinator',
    purpose?: unknown,
  ): Promise<Released<WireNewtonPart>> {
    const { spec, raw } = await this.raw(input, requester, purpose);
    if (
      typeof fill !== 'object' ||
      fill === null ||
      !Array.isArray(beta) ||
      beta.some((b) => typeof b !== 'number' || !Number.isFinite(b))
    ) {
      throw refuse('a Newton round needs { spec, fill, beta: finite numbers }');
    }
    await this.countRound(requester, JSON.stringify(spec));
    const plan: FeaturePlan = { spec, columns: featureColumns(spec), fill: fill as Record<string, number> };
    const x = applyFeaturePlan(plan, raw);
    if (beta.length !== x.names.length + 1) {
      throw refuse(
        `beta has ${beta.length} coefficients; this spec's model has ${x.names.length + 1} (intercept first)`,
      );
    }
    const part = partialNewtonStep(x, Float64Array.from(beta as number[]));
    // At a β that pins many rows' probabilities to 0 or 1 the gradient counts the rows on either side of a
    // hyperplane the requester chose: a query, not a step of a fit (a separable fit is refused here too, and its
    // coordinator gets this message instead of a diverging model).
    const threshold = this.hub.config.privacy.disclosure.threshold;
    if (part.saturated >= threshold) {
      throw refuse(
        `${this.hub.config.name}: at this beta as many rows as the disclosure threshold or more have a fitted probability within 3e-7 of 0 or 1 (a hyperplane query, or a separable fit): it takes no part (disclosure control)`,
      );
    }
    await this.hub.audit.append({
      actor: 'federation',
      action: 'model-glm-newton',
      target: 'features',
      outcome: 'success',
    });
    // Exact: rounding a Newton term would move the pooled fit away from the centralised one.
    return this.hub.gate.modelUpdate(
      {
        size: part.size,
        rows: part.rows,
        gradient: Array.from(part.gradient),
        information: Array.from(part.information),
        logLikelihood: part.logLikelihood,
        saturated: part.saturated,
      },
      this.support(raw),
      'this Newton round',
    );
  }

  /**
   * Count a round against the requester's daily budget for this spec, in the hub's store: a budget kept in memory
   * was reset by every restart of the hub.
   */
  private async countRound(requester: string, spec: string): Promise<void> {
    const day = this.hub.clock.now().toISOString().slice(0, 10);
    const specHash = createHash('sha256').update(spec).digest('hex');
    const count = await this.hub.db.transaction(async (tx) => {
      const [row] = await tx.all<{ rounds: number }>(
        `INSERT INTO model_glm_round (requester, spec_hash, day, rounds) VALUES ($1, $2, $3, 1)
         ON CONFLICT (requester, spec_hash, day) DO UPDATE SET rounds = model_glm_round.rounds + 1
         RETURNING rounds`,
        [requester, specHash, day],
      );
      return Number(row?.rounds);
    });
    if (!(count <= NEWTON_ROUNDS_PER_DAY)) {
      throw refuse(
        `${this.hub.config.name}: ${requester} has asked ${NEWTON_ROUNDS_PER_DAY} Newton rounds of this spec today, the most a hub answers (each round is a query at a chosen beta)`,
      );
    }
  }
}

/** The store's state as far as features go: how many current resources, and the latest change. */
async function storeStamp(hub: Hub): Promise<string> {
  const summary = await hub.store.currentSummary();
  return `${String(summary.count)}|${String(summary.lastUpdated)}`;
}

/**
 * The first feature whose rows split into a group under the threshold — missing or recorded, zero or not — or
 * undefined. Such a group's members would be readable from exact sums and the information matrix.
 */
export function thinFeature(raw: FeatureMatrix, threshold: number): string | undefined {
  const p = raw.names.length;
  for (let j = 0; j < p; j++) {
    let missing = 0;
    let nonZero = 0;
    for (let i = 0; i < raw.rows; i++) {
      const v = raw.values[i * p + j]!;
      if (Number.isNaN(v)) missing++;
      else if (v !== 0) nonZero++;
    }
    const zero = raw.rows - missing - nonZero;
    if ([missing, nonZero, zero].some((n) => n > 0 && n < threshold)) return raw.names[j];
  }
  return undefined;
}

/**
 * A peer's moments as this hub could have released them under its own policy (`modelUpdate`'s rule): whole rows,
 * events and non-events at or above the threshold, each feature's recorded values none or enough and at most the
 * rows, finite sums, one per feature of the spec.
 */
function checkMoments(f: PeerFigures, value: unknown, features: number): FeatureMoments {
  const t = f.policy.threshold;
  const o = f.object(value, 'result');
  const rows = f.integer(o.rows, 'rows', Math.max(f.minContributors, 2 * t));
  const events = f.integer(o.events, 'events', t, rows - t);
  const recorded = f.list(o.recorded, 'recorded', features).map((x, j) => {
    const n = f.integer(x, `recorded[${j}]`, 0, rows);
    if (n > 0 && n < f.minContributors) f.fail(`recorded[${j}]`, `is ${n}, fewer contributors than this hub releases`);
    return n;
  });
  return { rows, events, recorded, sums: f.vector(o.sums, 'sums', features) };
}

/**
 * A peer's Newton part for a model of `size` coefficients: the gradient and a symmetric information matrix of that
 * size (its diagonal, sums of μ(1 − μ)x², never negative), finite throughout, a log-likelihood at most 0, whole rows
 * this hub's policy releases, and saturated rows a whole number no larger than the rows.
 */
function checkNewtonPart(f: PeerFigures, value: unknown, size: number): WireNewtonPart {
  const o = f.object(value, 'result');
  f.integer(o.size, 'size', size, size);
  const information = f.matrix(o.information, 'information', size, true);
  for (let i = 0; i < size; i++) f.number(information[i * size + i], `information[${i * size + i}]`, { min: 0 });
  const rows = f.integer(o.rows, 'rows', Math.max(f.minContributors, 2 * f.policy.threshold));
  return {
    size,
    rows,
    gradient: f.vector(o.gradient, 'gradient', size),
    information,
    logLikelihood: f.number(o.logLikelihood, 'logLikelihood', { max: 0 }),
    saturated: f.integer(o.saturated, 'saturated', 0, rows),
  };
}

function fromWire(w: WireNewtonPart): NewtonPart {
  return { ...w, gradient: Float64Array.from(w.gradient), information: Float64Array.from(w.information) };
}

/**
 * Fit a logistic regression across `hubs` (this hub takes part when named): one round of moments for the fill,
 * then Newton rounds until `NewtonIteration` converges. Every hub must answer every round: a partial sum would
 * be a different model, so a failing hub stops the fit with its name. Every hub builds its rows for `purpose`
 * (default ai-development) under its own consent policy.
 */
export async function fitFederatedLogistic(
  federation: Federation,
  local: ModelFederation,
  selfName: string,
  hubs: readonly string[],
  specInput: unknown,
  options: { l2?: number; maxRounds?: number; firstRoundTimeoutMs?: number; purpose?: string; project?: string } = {},
): Promise<FederatedLogisticFit> {
  const spec = validateFeatureSpec(specInput);
  const purpose = options.purpose ?? DEFAULT_FEDERATED_PURPOSE;
  // Every round names the project, so each hub checks it again (a project denied or expired mid-fit stops it).
  const scope = options.project !== undefined ? { purpose, project: options.project } : { purpose };
  const others = hubs.filter((h) => h !== selfName);
  const includeSelf = hubs.includes(selfName);
  const rounds: FederatedRound[] = [];
  const figures = new PeerFigures(local.disclosure);
  async function gather<T>(
    operation: FederatedRound['operation'],
    body: Record<string, unknown>,
    here: () => Promise<T>,
    stood: (v: T) => Omit<RoundAnswer, 'hub'>,
    check: (f: PeerFigures, value: unknown) => T,
    timeoutMs = federation.timeoutMs,
  ): Promise<T[]> {
    const t0 = performance.now();
    const [mine, remote] = await Promise.all([
      includeSelf ? here() : Promise.resolve(undefined),
      fanOut(federation.client, others, operation, { ...body, ...scope }, { timeoutMs }),
    ]);
    if (!remote.complete) {
      const f = remote.failed[0]!;
      throw new HealthmeshError(
        'MODEL_FEDERATION_REFUSED',
        `${f.hub} did not answer ${operation}: ${f.kind}${f.remoteCode !== undefined ? ` ${f.remoteCode}` : ''}: ${f.message}`,
        {
          path: f.hub,
        },
      );
    }
    // A partial sum would be another model, so a peer whose figures fail stops the fit, named, as a silent peer does.
    const remoteValues = remote.results.map((r) => {
      let value: T | undefined;
      const problem = peerFigureProblem(() => {
        value = check(figures, r.value);
      });
      if (problem !== undefined || value === undefined) {
        throw new HealthmeshError(
          'FEDERATION_BAD_FIGURES',
          `${r.hub} answered ${operation} with figures this hub cannot use: ${problem ?? 'nothing'}`,
          { path: r.hub },
        );
      }
      return { hub: r.hub, value };
    });
    const answered = [...(mine !== undefined ? [{ hub: selfName, value: mine }] : []), ...remoteValues];
    rounds.push({
      round: rounds.length,
      operation,
      ms: performance.now() - t0,
      hubs: answered.map((a) => a.hub),
      answers: answered.map((a) => ({ hub: a.hub, ...stood(a.value) })),
    });
    return answered.map((a) => a.value);
  }
  // The first round is where each hub refreshes its event index and computes the features (minutes on a large
  // hub); later rounds reuse them and take the transport's usual timeout.
  const moments = await gather(
    'model.glm-moments',
    { spec },
    async () => (await local.moments(spec, 'coordinator', purpose)).value,
    (m) => ({ rows: m.rows, events: m.events }),
    (f, v) => checkMoments(f, v, spec.features.length),
    options.firstRoundTimeoutMs ?? Math.max(federation.timeoutMs, 600_000),
  );
  const plan = pooledPlan(spec, moments);
  const newton = new NewtonIteration(plan.columns, {
    ...(options.l2 !== undefined && { l2: options.l2 }),
    maxIterations: options.maxRounds ?? 25,
  });
  for (;;) {
    const beta = Array.from(newton.beta);
    const parts = await gather(
      'model.glm-newton',
      { spec, fill: plan.fill, beta },
      async () => (await local.newton(spec, plan.fill, beta, 'coordinator', purpose)).value,
      (p) => ({ rows: p.rows }),
      (f, v) => checkNewtonPart(f, v, beta.length),
    );
    if (newton.accept(sumNewtonParts(parts.map(fromWire)))) break;
  }
  const pooled: FeatureMoments = {
    rows: moments.reduce((n, m) => n + m.rows, 0),
    events: moments.reduce((n, m) => n + m.events, 0),
    recorded: spec.features.map((_, j) => moments.reduce((n, m) => n + (m.recorded[j] ?? 0), 0)),
    sums: spec.features.map((_, j) => moments.reduce((n, m) => n + (m.sums[j] ?? 0), 0)),
  };
  return { model: newton.model(), plan, purpose, pooled, rounds };
}
