/**
 * Exact pooled calibration across hubs (docs/validation.md, "Across hubs"): the two logistic recalibration models,
 * logit P(y) = a + b·L (the slope) and logit P(y) = a + offset(L) (the intercept), with L the model's log-odds,
 * are fitted by federated Newton rounds, as `model.glm-newton` fits a GLM. Each hub keeps its scored population in
 * memory after `validation.score` (a session) and answers, at the coordinator's current coefficients, its gradient,
 * information matrix and log-likelihood: sums over its whole population, which pass the gate's fit-support rule.
 * The coordinator sums them and steps `NewtonIteration`, as `calibrationFit` does on one set of rows, so the pooled
 * fit is the fit on all the hubs' rows.
 */
import { randomBytes } from 'node:crypto';
import { HealthmeshError } from '../core/index.js';
import type { PeerFigures } from '../federation/index.js';
import type { FeatureMatrix, NewtonPart } from '../models/index.js';
import { NewtonIteration, partialNewtonStep, sumNewtonParts } from '../models/index.js';
import type { Released, ReleaseGate } from '../privacy/index.js';
import type { Database, Migration } from '../store/index.js';
import { logit } from './validation-report.js';

/** The signed operation that answers one pooled calibration round. */
export const VALIDATION_CALIBRATION_OPERATION = 'validation.calibration';

/**
 * Rounds one session answers. The two fits converge in 5–8 Newton steps; each round is exact sums at coefficients
 * the requester chooses, so the number of such queries is bounded.
 */
export const CALIBRATION_ROUNDS = 30;
/**
 * Rounds one requesting hub may ask of this hub in a day, across all its sessions: each `validation.score` opens a
 * new session on the same population, so the per-session bound alone would not bound the queries.
 */
export const CALIBRATION_ROUNDS_PER_DAY = 120;

/** The round budget's table: step 4 of the validation module's migrations (after the drift monitor's 3). */
export const calibrationMigrations: readonly Migration[] = [
  {
    module: 'validation',
    version: 4,
    name: 'pooled calibration rounds answered per requesting hub and day',
    statements: [
      `CREATE TABLE validation_calibration_round (
        requester VARCHAR NOT NULL,
        day VARCHAR NOT NULL,
        rounds INTEGER NOT NULL,
        PRIMARY KEY (requester, day)
      )`,
    ],
  },
];

/**
 * Count one round against `requester`'s budget for `day`, in the store (a budget in memory would reset at every
 * restart); refused (`VALIDATION_ROUND_REFUSED`) past `CALIBRATION_ROUNDS_PER_DAY`.
 */
export async function countCalibrationRound(db: Database, requester: string, day: string): Promise<void> {
  const count = await db.transaction(async (tx) => {
    const [row] = await tx.all<{ rounds: number }>(
      `INSERT INTO validation_calibration_round (requester, day, rounds) VALUES ($1, $2, 1)
       ON CONFLICT (requester, day) DO UPDATE SET rounds = validation_calibration_round.rounds + 1
       RETURNING rounds`,
      [requester, day],
    );
    return Number(row?.rounds);
  });
  if (!(count <= CALIBRATION_ROUNDS_PER_DAY)) {
    throw refuse(
      `${requester} has asked ${CALIBRATION_ROUNDS_PER_DAY} calibration rounds today, the most this hub answers`,
    );
  }
}

/** How long a scored population is kept for its rounds: long enough for one pooled report. */
const SESSION_MS = 10 * 60_000;
/** Sessions a hub keeps at once (each holds its population's scores and outcomes); the oldest goes first. */
const MAX_SESSIONS = 16;

/** One Newton part as it crosses the wire (typed arrays as plain arrays; no row count). */
export interface WireCalibrationPart {
  gradient: number[];
  information: number[];
  logLikelihood: number;
  saturated: number;
}

/** A hub's answer to one round: both fits' parts, and its ICI at the slope fit's coefficients. */
export interface CalibrationRound {
  slope: WireCalibrationPart;
  intercept: WireCalibrationPart;
  /** Mean |expit(a + b·L) − p| over this hub's population (Austin & Steyerberg's ICI on the logistic curve). */
  ici: number | null;
}

/** A scored population as a session keeps it: the scores, their log-odds and the outcomes, never on disk. */
export interface KeptScores {
  risks: Float64Array;
  logits: Float64Array;
  y: Uint8Array;
  events: number;
  /** The tables and variables the scored spec read, which every round checks against the project again. */
  scope: SessionScope | undefined;
}

/** What a session's spec read (`manifestScope`): analytic tables and `table.column` variables. */
export interface SessionScope {
  tables: readonly string[];
  columns: readonly string[];
}

interface Session extends KeptScores {
  owner: string;
  project: string;
  at: number;
  rounds: number;
}

function refuse(message: string): HealthmeshError {
  return new HealthmeshError('VALIDATION_ROUND_REFUSED', message);
}

const wire = (p: NewtonPart): WireCalibrationPart => ({
  gradient: Array.from(p.gradient),
  information: Array.from(p.information),
  logLikelihood: p.logLikelihood,
  saturated: p.saturated,
});

/** The finite coefficients of a round's request, `size` of them, or a refusal. */
function coefficients(v: unknown, size: number, path: string): Float64Array {
  if (!Array.isArray(v) || v.length !== size || v.some((b) => typeof b !== 'number' || !Number.isFinite(b))) {
    throw refuse(`${path} must be ${size} finite number${size === 1 ? '' : 's'}`);
  }
  return Float64Array.from(v as number[]);
}

/**
 * A hub's scored populations kept for the rounds of a pooled calibration. The scores and outcomes stay in this
 * process's memory; only the sums of a round leave, through the gate.
 */
export class CalibrationSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Keep a scored population for `owner` (the hub that asked) in `project`; returns the session's handle. */
  keep(owner: string, project: string, risks: Float64Array, y: ArrayLike<number>, scope?: SessionScope): string {
    const t = this.now();
    for (const [id, s] of this.sessions) if (t - s.at > SESSION_MS) this.sessions.delete(id);
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
    const id = randomBytes(16).toString('hex');
    const outcome = Uint8Array.from(y);
    let events = 0;
    for (let i = 0; i < outcome.length; i++) events += outcome[i]!;
    this.sessions.set(id, {
      owner,
      project,
      at: t,
      rounds: 0,
      risks,
      logits: Float64Array.from(risks, logit),
      y: outcome,
      events,
      scope,
    });
    return id;
  }

  /** The scope kept with `session` for `owner` in `project` (undefined: no such session, or none was kept). */
  scopeOf(owner: string, project: string, session: unknown): SessionScope | undefined {
    const s = typeof session === 'string' ? this.sessions.get(session) : undefined;
    return s !== undefined && s.owner === owner && s.project === project ? s.scope : undefined;
  }

  /** Whether `session` is kept and not yet expired. */
  alive(session: string): boolean {
    const s = this.sessions.get(session);
    return s !== undefined && this.now() - s.at <= SESSION_MS;
  }

  /**
   * The scored population kept under `session` for `owner` (the hub that asked) and `project`, for another
   * protocol over the same scores (the pooled AUROC's secure products); refused (`VALIDATION_ROUND_REFUSED`) for a
   * session this owner and project do not hold, or past its ten minutes.
   */
  scores(owner: string, project: string, session: unknown): Readonly<KeptScores> {
    return this.held(owner, project, session);
  }

  private held(owner: string, project: string, session: unknown): Session {
    const s = typeof session === 'string' ? this.sessions.get(session) : undefined;
    if (s === undefined || s.owner !== owner || s.project !== project || this.now() - s.at > SESSION_MS) {
      throw refuse('this hub keeps no scored population under that session for the asking hub and project');
    }
    return s;
  }

  /**
   * One round: both fits' gradient, information and log-likelihood at the coefficients asked (`slope` [a, b],
   * `intercept` [a]) and the ICI at `slope`, over the session's whole population, through the gate's fit-support
   * rule. Refused (`VALIDATION_ROUND_REFUSED`) for a session this owner and project do not hold, past its rounds,
   * or at coefficients that fit as many people as the threshold within 3e-7 of 0 or 1: such a round counts the
   * people on either side of a cut the requester chose.
   */
  round(
    gate: ReleaseGate,
    owner: string,
    project: string,
    session: unknown,
    slopeInput: unknown,
    interceptInput: unknown,
  ): Released<CalibrationRound> {
    const s = this.held(owner, project, session);
    if (s.rounds >= CALIBRATION_ROUNDS) {
      throw refuse(`this session has answered ${CALIBRATION_ROUNDS} rounds, the most a hub answers for one run`);
    }
    s.rounds++;
    const slope = coefficients(slopeInput, 2, 'slope');
    const intercept = coefficients(interceptInput, 1, 'intercept');
    const n = s.y.length;
    const withSlope: FeatureMatrix = { names: ['logit'], rows: n, values: s.logits, outcome: s.y };
    const interceptOnly: FeatureMatrix = { names: [], rows: n, values: new Float64Array(0), outcome: s.y };
    const slopePart = partialNewtonStep(withSlope, slope);
    const interceptPart = partialNewtonStep(interceptOnly, intercept, s.logits);
    const t = gate.policy.threshold;
    if (slopePart.saturated >= t || interceptPart.saturated >= t) {
      throw refuse(
        'at these coefficients as many people as the disclosure threshold or more are fitted within 3e-7 of 0 or 1 (a cut, not a step of a fit): this hub takes no part',
      );
    }
    let gap = 0;
    for (let i = 0; i < n; i++)
      gap += Math.abs(1 / (1 + Math.exp(-(slope[0]! + slope[1]! * s.logits[i]!))) - s.risks[i]!);
    const support = { rows: n, events: s.events, features: [{ name: 'logit', contributors: n }] };
    // Exact, as a GLM's Newton terms: rounding them would move the pooled fit away from the fit on all rows.
    return gate.modelUpdate(
      { slope: wire(slopePart), intercept: wire(interceptPart), ici: gap / n },
      support,
      'this calibration round',
    );
  }
}

/** A round's part for a model of `size` coefficients: finite sums, a symmetric information with a diagonal ≥ 0. */
function checkPart(f: PeerFigures, value: unknown, size: number, path: string): NewtonPart {
  const o = f.object(value, path);
  const information = f.matrix(o.information, `${path}.information`, size, true);
  for (let i = 0; i < size; i++)
    f.number(information[i * size + i], `${path}.information[${i * size + i}]`, { min: 0 });
  return {
    size,
    rows: 0,
    gradient: Float64Array.from(f.vector(o.gradient, `${path}.gradient`, size)),
    information: Float64Array.from(information),
    logLikelihood: f.number(o.logLikelihood, `${path}.logLikelihood`, { max: 0 }),
    saturated: f.integer(o.saturated, `${path}.saturated`, 0),
  };
}

/** A peer's answer to a round as this hub can use it, or a `PeerFigures` failure naming why not. */
export function checkCalibrationRound(
  f: PeerFigures,
  value: unknown,
): { slope: NewtonPart; intercept: NewtonPart; ici: number | null } {
  const o = f.object(value, 'result');
  return {
    slope: checkPart(f, o.slope, 2, 'slope'),
    intercept: checkPart(f, o.intercept, 1, 'intercept'),
    ici: f.numberOrNull(o.ici, 'ici', { min: 0, max: 1 }),
  };
}

/** One hub's usable answer to a round, with its population's released size (the ICI's weight). */
export interface RoundPart {
  hub: string;
  n: number | null;
  slope: NewtonPart;
  intercept: NewtonPart;
  ici: number | null;
}

/** The pooled recalibration fit: intercept, slope and ICI, and the rounds it took. */
export interface PooledCalibration {
  intercept: number;
  slope: number;
  /** Null when a hub withheld its ICI or its size. */
  ici: number | null;
  rounds: number;
}

/**
 * Fit both recalibration models by Newton rounds: `ask` gets each hub's part at the current coefficients (slope
 * [a, b], intercept [a]); the parts are summed and each fit steps until `NewtonIteration` converges (relative
 * change of the log-likelihood under 1e-10, as `calibrationFit`). A converged fit keeps its coefficients while the
 * other goes on, so the last round's ICI is at the final slope fit.
 */
export async function fitPooledCalibration(
  ask: (slope: number[], intercept: number[]) => Promise<RoundPart[]>,
): Promise<PooledCalibration> {
  const slopeFit = new NewtonIteration(['logit']);
  const interceptFit = new NewtonIteration([]);
  let slopeDone = false;
  let interceptDone = false;
  let rounds = 0;
  let last: RoundPart[] = [];
  while (!(slopeDone && interceptDone)) {
    if (rounds >= CALIBRATION_ROUNDS) {
      throw new HealthmeshError('MODEL_NOT_CONVERGED', `the pooled calibration did not converge in ${rounds} rounds`);
    }
    last = await ask(Array.from(slopeFit.beta), Array.from(interceptFit.beta));
    rounds++;
    if (!slopeDone) slopeDone = slopeFit.accept(sumNewtonParts(last.map((p) => p.slope)));
    if (!interceptDone) interceptDone = interceptFit.accept(sumNewtonParts(last.map((p) => p.intercept)));
  }
  let gap = 0;
  let n = 0;
  for (const p of last) {
    if (p.ici === null || p.n === null) {
      n = Number.NaN;
      break;
    }
    gap += p.ici * p.n;
    n += p.n;
  }
  return {
    intercept: interceptFit.beta[0]!,
    slope: slopeFit.beta[1]!,
    ici: Number.isFinite(n) && n > 0 ? gap / n : null,
    rounds,
  };
}
