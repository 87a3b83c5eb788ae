import type { Clock, Logger } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Database, Migration } from '../store/index.js';

/**
 * Per derived step (analytic tables, cohort event index, consent decisions): the store write it reflects and the
 * fingerprint of what it was built by (view definitions, consent policy), so a reader can tell stale from current
 * without rebuilding anything.
 */
export const derivedStateMigrations: readonly Migration[] = [
  {
    module: 'hub',
    version: 1,
    name: 'the store write each derived table reflects',
    statements: [
      `CREATE TABLE derived_state (
        step VARCHAR NOT NULL PRIMARY KEY,
        write_stamp BIGINT NOT NULL,
        fingerprint VARCHAR NOT NULL,
        refreshed_at TIMESTAMPTZ NOT NULL
      )`,
    ],
  },
];

/** What a write changed, for steps that can limit their work to it (omitted ids: anything may have changed). */
export interface CommitScope {
  ids?: readonly string[];
}

/** One derived table kept current on write, registered by the module that owns the table. */
export interface DerivedStep {
  name: string;
  /** What else the table depends on besides the store (definitions, policy): a change makes it stale. */
  fingerprint: string;
  /** Brings the table up to date with the store; returns how much changed (e.g. resources flattened). */
  run(scope: CommitScope): Promise<number>;
}

/** What one pass of the pipeline did. */
export interface DerivedRefresh {
  /** The store write stamp the derived tables now reflect (null: not recorded, another write was in flight). */
  writeStamp: number | null;
  /** Per step, in order: how much it changed. */
  steps: Record<string, number>;
  /** Per step: how long it ran. */
  stepSeconds: Record<string, number>;
  seconds: number;
}

type PendingScope = Set<string> | 'all' | undefined;

/**
 * The after-commit pipeline: every committed write (ingest, `POST /fhir`, console upload) ends by running the
 * registered steps in module order, so a step may read what the steps before it wrote (the event index reads the
 * analytic tables). Readers never rebuild: they call `assertCurrent`, which refuses with `HUB_DERIVED_STALE` when a
 * table lags the store and no write of this process is about to bring it up (a crash between a commit and its
 * refresh, or a failed refresh). The hub runs the pipeline when it opens, so a serving hub starts current.
 *
 * A stamp is recorded only when no write was in flight while it was read: a write still committing may already
 * be in the stamp without being in the tables, and a crash then must leave the tables stale, not marked current.
 */
export class DerivedData {
  private readonly steps: DerivedStep[] = [];
  /** Writes whose work has started and not yet ended (their commits may be in the store but not in the tables). */
  private writing = 0;
  /** Bumped whenever a write starts: a stamp read across a bump may hold commits no step has seen. */
  private epoch = 0;
  private pending: PendingScope;
  /** Passes scheduled or running: until each has recorded its stamp, the tables lag the store by design. */
  private passes = 0;
  /** Pipeline passes run one at a time, in the order writes ended. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** The store's count of committed writes (`ResourceStore.writeStamp`): it only ever grows. */
    private readonly writeStamp: () => Promise<number>,
  ) {}

  /** Modules register their step when the hub opens them, in module order. */
  register(step: DerivedStep): void {
    if (this.steps.some((s) => s.name === step.name)) throw new Error(`derived step ${step.name} registered twice`);
    this.steps.push(step);
  }

  get stepNames(): readonly string[] {
    return this.steps.map((s) => s.name);
  }

  /**
   * Run a write and then the pipeline, whether the write succeeded or not (a failed run may have committed
   * batches before it failed). `scopeOf` names what a successful write changed; a failed one refreshes fully.
   */
  async afterWrite<T>(
    work: () => Promise<T>,
    scopeOf: (result: T) => CommitScope = () => ({}),
  ): Promise<{ result: T; derived: DerivedRefresh }> {
    // Other processes on the store (PostgreSQL) see the marker: they neither refuse readers nor record a stamp
    // that may hold this write's commits until its pass has run.
    const marker = await this.db.markWriting();
    this.writing++;
    this.epoch++;
    let result: T;
    try {
      try {
        result = await work();
      } catch (e) {
        this.writing--;
        this.widen(undefined);
        // The write's own error is the one to report; a refresh failing after it leaves the tables marked stale,
        // which readers refuse and the next write or open repairs.
        await this.schedule().catch((refreshError: unknown) =>
          this.logger.error({ err: refreshError, code: 'HUB_DERIVED_STALE' }, 'derived refresh after a failed write'),
        );
        throw e;
      }
      this.writing--;
      this.widen(scopeOf(result).ids);
      return { result, derived: await this.schedule() };
    } finally {
      await marker.release();
    }
  }

  /** Run every step over everything if any lags the store or was built by other definitions (at open, on demand). */
  async bringCurrent(options: { force?: boolean } = {}): Promise<DerivedRefresh | undefined> {
    if (options.force !== true && (await this.staleSteps()).length === 0) return undefined;
    this.widen(undefined);
    return this.schedule();
  }

  /**
   * Refuses with `HUB_DERIVED_STALE` when a derived table lags the store and no write, of this process or another
   * on the same store, will bring it up; a write in flight is fine: readers then see the tables as of the previous
   * write, each consistent.
   */
  async assertCurrent(): Promise<void> {
    if (this.writing > 0 || this.pending !== undefined || this.passes > 0) return;
    const stale = await this.staleSteps();
    if (
      stale.length > 0 &&
      this.writing === 0 &&
      this.pending === undefined &&
      this.passes === 0 &&
      (await this.db.writesElsewhere()) === 0
    ) {
      throw new HealthmeshError(
        'HUB_DERIVED_STALE',
        `derived data behind the resource store (${stale.join(', ')}): a refresh after a write failed or was cut short; reopen the hub or run \`healthmesh views refresh\``,
      );
    }
  }

  /** The steps whose recorded stamp lags the store, or whose fingerprint changed. */
  async staleSteps(): Promise<string[]> {
    const stamp = await this.writeStamp();
    const rows = await this.db.all<{ step: string; write_stamp: unknown; fingerprint: string }>(
      'SELECT step, write_stamp, fingerprint FROM derived_state',
    );
    const byStep = new Map(rows.map((r) => [r.step, r]));
    return this.steps
      .filter((s) => {
        const r = byStep.get(s.name);
        return r === undefined || Number(r.write_stamp) < stamp || r.fingerprint !== s.fingerprint;
      })
      .map((s) => s.name);
  }

  private widen(ids: readonly string[] | undefined): void {
    if (ids === undefined || this.pending === 'all') this.pending = 'all';
    else this.pending = new Set([...(this.pending ?? []), ...ids]);
  }

  private schedule(): Promise<DerivedRefresh> {
    this.passes++;
    const run = this.tail.then(() => this.pass()).finally(() => this.passes--);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async pass(): Promise<DerivedRefresh> {
    const t0 = performance.now();
    const pending = this.pending;
    this.pending = undefined;
    if (pending instanceof Set && pending.size === 0)
      return { writeStamp: null, steps: {}, stepSeconds: {}, seconds: 0 };
    const scope: CommitScope = pending instanceof Set ? { ids: [...pending] } : {};
    const epoch = this.epoch;
    const quiet = this.writing === 0;
    // Read before the steps: whatever they see includes at least these commits. A write started meanwhile may have
    // committed into this stamp without being in scope, so the stamp is then not recorded.
    const stamp = await this.writeStamp();
    // Another process's write whose commits are in the stamp is in flight until its own pass has run.
    const recordable = quiet && epoch === this.epoch && (await this.db.writesElsewhere()) === 0;
    const steps: Record<string, number> = {};
    const stepSeconds: Record<string, number> = {};
    try {
      for (const s of this.steps) {
        const t = performance.now();
        steps[s.name] = await s.run(scope);
        stepSeconds[s.name] = (performance.now() - t) / 1000;
      }
    } catch (e) {
      this.widen(undefined); // the next pass redoes everything
      throw e;
    }
    if (recordable) {
      const now = this.clock.now();
      await this.db.transaction(async (tx) => {
        for (const s of this.steps) {
          // Passes of several processes may end out of order: a stamp never moves back.
          const [kept] = await tx.all<{ write_stamp: unknown; fingerprint: string }>(
            'SELECT write_stamp, fingerprint FROM derived_state WHERE step = $1',
            [s.name],
          );
          if (kept && Number(kept.write_stamp) > stamp && kept.fingerprint === s.fingerprint) continue;
          await tx.run('DELETE FROM derived_state WHERE step = $1', [s.name]);
          await tx.run(
            'INSERT INTO derived_state (step, write_stamp, fingerprint, refreshed_at) VALUES ($1, $2, $3, $4)',
            [s.name, stamp, s.fingerprint, now],
          );
        }
      });
    }
    return { writeStamp: recordable ? stamp : null, steps, stepSeconds, seconds: (performance.now() - t0) / 1000 };
  }
}
