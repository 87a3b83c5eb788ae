/**
 * Weekly series across hubs (docs/surveillance.md, "Federated series"). Each hub counts its own ILI visits and
 * confirmed influenza, releases them under its own disclosure policy and logs the release (`releaseHubSeries`);
 * the coordinator gathers the released series over the signed transport, reads suppressed weeks by a stated
 * policy (`seriesFromRelease`), and forecasts every region on one panel, so the pooled forecasters see the other
 * regions' signals.
 */

import { cohortIdOf } from '../cohort/index.js';
import type { HubServices as Hub } from '../context/index.js';
import { HealthmeshError, isHealthmeshError } from '../core/index.js';
import type { FanOutResult, Federation, PeerFailure } from '../federation/index.js';
import { fanOut, OperationRegistry, PeerFigures, screenPeerAnswers } from '../federation/index.js';
import type { Released } from '../privacy/index.js';
import { type EpidemicAlert, hubAlerts, keepAlerts } from './epidemic-alerts.js';
import { saveForecasts } from './forecast-store.js';
import type { Forecaster } from './forecaster.js';
import { CONFIRMED_FLU_TARGET, ILI_COHORT, ILI_TARGET } from './hub-series.js';
import type { QuantileForecast } from './quantile-forecast.js';
import { checkReleasedSeries, gatedHubSeries, gatedSeries, type ReleasedHubSeries } from './released-series.js';
import { forecastRound } from './rolling-forecast.js';
import { seasonalThresholds } from './seasonal-threshold.js';
import {
  type ReleasedTarget,
  releaseThresholds,
  type SuppressedWeekPolicy,
  seriesFromRelease,
  spreadSuppressedMass,
} from './suppressed-weeks.js';
import { buildPanel, isoDay, parseIsoDay, type SeriesPanel } from './weekly-series.js';

/** The federation operation each hub answers with its released weekly series. */
export const SERIES_OPERATION = 'surveillance.series';

/**
 * What the weekly series read, as a project's scope names it: the code and onset of conditions. A project must
 * have been approved for them to forecast the series. The weekly grid's span (a hub's first and last encounter
 * week) is the hub's coverage, which its catalog shows applicants before any approval.
 */
export const SERIES_SCOPE = {
  tables: ['condition'],
  columns: ['condition.code_code', 'condition.onset_start'],
} as const;

/** The cohort run that holds the people a series of `purpose` counted: a project's use of their data (mydata/). */
export function seriesUseRef(purpose: string): string {
  // Every confirmed case is an ILI visit: the ILI cohort's people are everyone the series counted.
  return cohortIdOf(ILI_COHORT, purpose);
}

/**
 * How a hub checks a project a peer names before releasing its series for it (the server wires
 * `ProjectRegistry.authorizePeer` with `SERIES_SCOPE`), and records the project's use of the people counted.
 */
export interface SeriesProjects {
  authorizePeer(peer: string, project: string): Promise<{ purpose: string }>;
  recordUse(project: string, ref: string, requester: string): Promise<void>;
}

/** A series gathered for a project: the project's id (sent to peers) and purpose (consent applied for it). */
export interface SeriesProject {
  id: string;
  purpose: string;
}

/** What a coordinator gathered: one released series per answering hub, and the hubs that did not answer. */
export interface FederatedSeries {
  hubs: ReleasedHubSeries[];
  failed: PeerFailure[];
  /** True when every named hub answered; otherwise `failed` names the missing ones. */
  complete: boolean;
}

/** A panel built from released series, with what was imputed per location. */
export interface FederatedPanel {
  panel: SeriesPanel;
  target: string;
  /** Per location, the end dates of the weeks imputed for suppression. */
  imputedWeeks: Record<string, string[]>;
}

/** Options of a federated forecast round. */
export interface FederatedForecastOptions {
  /** `ili` (default) or `confirmed`. */
  target?: ReleasedTarget;
  /** The round's Saturday; default: the week after the last week every hub released. */
  referenceDate?: string;
  suppressedWeeks?: SuppressedWeekPolicy;
}

/** What a federated forecast round stored and raised. */
export interface FederatedForecast {
  model: string;
  target: string;
  referenceDate: string;
  forecasts: QuantileForecast[];
  alerts: EpidemicAlert[];
  imputedWeeks: Record<string, string[]>;
  failed: PeerFailure[];
  complete: boolean;
}

/** The hubverse target name of a released series. */
export function releasedTargetName(target: ReleasedTarget): string {
  return target === 'ili' ? ILI_TARGET : CONFIRMED_FLU_TARGET;
}

/** All released series on one panel; suppressed weeks read by `policy` (listed in `imputedWeeks`). */
export function federatedPanel(
  gathered: Pick<FederatedSeries, 'hubs'>,
  target: ReleasedTarget = 'ili',
  policy: SuppressedWeekPolicy = 'midpoint',
): FederatedPanel {
  const imputedWeeks: Record<string, string[]> = {};
  const series = gathered.hubs.map((h) => {
    const s = seriesFromRelease(h, target, policy);
    imputedWeeks[h.location] = s.imputedWeeks;
    return s.series;
  });
  return { panel: buildPanel(series), target: releasedTargetName(target), imputedWeeks };
}

function releaseOptions(body: unknown): { through?: string } {
  const through = (body as { through?: unknown } | null)?.through;
  if (through === undefined || through === null) return {};
  if (typeof through !== 'string') {
    throw new HealthmeshError('SURVEILLANCE_BAD_DATE', 'through must be a date YYYY-MM-DD', { path: 'through' });
  }
  return { through };
}

/** The surveillance side of a hub's federation: answers `surveillance.series`, coordinates gathers and forecasts. */
export class SeriesFederation {
  private projects: SeriesProjects | undefined;

  constructor(private readonly hub: Hub) {}

  /**
   * Registers `surveillance.series` on a hub's operation registry (returned, to chain with other modules'). A request
   * naming a `project` is answered only for a project this hub approved (`withProjects`), counted for its purpose.
   */
  register(operations = new OperationRegistry()): OperationRegistry {
    operations.register(SERIES_OPERATION, 'peer', async ({ body, peer }) => {
      const project = (body as { project?: unknown } | null)?.project;
      if (project === undefined) return gatedHubSeries(this.hub, `peer:${peer}`, releaseOptions(body));
      if (typeof project !== 'string' || this.projects === undefined) {
        throw new HealthmeshError('PROJECT_NOT_FOUND', 'this hub runs no project work for peers');
      }
      const { purpose } = await this.projects.authorizePeer(peer, project);
      const requester = `peer:${peer}/project:${project}`;
      const series = await gatedHubSeries(this.hub, requester, { ...releaseOptions(body), purpose });
      await this.projects.recordUse(project, seriesUseRef(purpose), requester);
      return series;
    });
    return operations;
  }

  /** Let peers ask for series in projects this hub approved (without it, a request naming a project is refused). */
  withProjects(projects: SeriesProjects): this {
    this.projects = projects;
    return this;
  }

  /**
   * The released series of `hubs` (this hub answers locally when named, through the same disclosure control and
   * release log). Partial when a hub fails: the failures are named. A peer's series whose figures fail
   * `checkPeerSeries` is named as a `bad-response` and left out.
   */
  async gather(
    federation: Federation,
    hubs: readonly string[],
    options: { through?: string; requester?: string; project?: SeriesProject } = {},
  ): Promise<FederatedSeries> {
    const g = await this.gatherReleased(federation, hubs, options);
    return { ...g, hubs: g.hubs.map((h) => h.value) };
  }

  /**
   * `gather`, each hub's series as a `Released` value (this hub's from its release log, the others' as sent). With a
   * `project`, every hub counts for the project's purpose, and each peer checks the project first. Without a
   * federation, only this hub can be named.
   */
  async gatherReleased(
    federation: Federation | undefined,
    hubs: readonly string[],
    options: { through?: string; requester?: string; project?: SeriesProject } = {},
  ): Promise<Omit<FederatedSeries, 'hubs'> & { hubs: Released<ReleasedHubSeries>[] }> {
    const self = this.hub.config.name;
    const others = hubs.filter((h) => h !== self);
    const body = {
      ...(options.through !== undefined && { through: options.through }),
      ...(options.project !== undefined && { project: options.project.id }),
    };
    const purpose = options.project?.purpose;
    const ask = (): Promise<FanOutResult> => {
      if (others.length === 0) return Promise.resolve({ results: [], failed: [], complete: true });
      if (federation === undefined) {
        throw new HealthmeshError('API_BAD_REQUEST', 'this hub has no federation identity: it cannot coordinate', {
          path: 'hubs',
        });
      }
      return fanOut(federation.client, others, SERIES_OPERATION, body, { timeoutMs: federation.timeoutMs });
    };
    const [local, remote] = await Promise.all([
      hubs.includes(self)
        ? gatedHubSeries(this.hub, options.requester ?? 'coordinator', {
            ...releaseOptions(body),
            ...(purpose !== undefined && { purpose }),
          })
        : Promise.resolve(undefined),
      ask(),
    ]);
    const figures = new PeerFigures(this.hub.config.privacy.disclosure);
    const locations = new Set(local ? [local.value.location] : []);
    const checked = new Map<string, ReleasedHubSeries>();
    const screened = screenPeerAnswers(remote, (value, hub) => {
      const series = checkPeerSeries(figures, value, hub, options.through);
      // Two series of one location would be summed into one region's panel row.
      if (locations.has(series.location)) figures.fail('location', `${series.location} is another hub's location`);
      locations.add(series.location);
      checked.set(hub, series);
    });
    return {
      hubs: [
        ...(local ? [local] : []),
        ...screened.results.map((r) => gatedSeries(this.hub, checked.get(r.hub)!, 'peer')),
      ],
      failed: screened.failed,
      complete: screened.complete,
    };
  }

  /**
   * One forecast round for every answering hub's location from the gathered series, stored in this hub with its
   * alerts (marked as computed from released series). With a reference date, hubs release only the weeks before
   * it. Storing is for row-level roles and stewards; others use `releasedForecast`.
   */
  async forecast(
    federation: Federation,
    hubs: readonly string[],
    forecaster: Forecaster,
    options: FederatedForecastOptions & { requester?: string } = {},
  ): Promise<FederatedForecast> {
    const run = (await this.releasedForecast(federation, hubs, forecaster, options)).value;
    await saveForecasts(this.hub, run.model, run.target, run.forecasts, 'released');
    // The alerts of the round as found against the released panel (its default thresholds included).
    const alerts = await keepAlerts(this.hub, run.alerts, 'released');
    return { ...run, alerts };
  }

  /**
   * The same round, not stored: computed by the release gate from the released series only (`fromReleased`), so
   * it tells nothing of a week a hub suppressed beyond what the released series do. What a principal without
   * row-level rights may ask for.
   */
  async releasedForecast(
    federation: Federation | undefined,
    hubs: readonly string[],
    forecaster: Forecaster,
    options: FederatedForecastOptions & { requester?: string; project?: SeriesProject } = {},
  ): Promise<Released<FederatedForecast>> {
    let referenceDay: number | undefined;
    if (options.referenceDate !== undefined) {
      referenceDay = parseIsoDay(options.referenceDate);
      if (referenceDay === undefined) {
        throw new HealthmeshError(
          'SURVEILLANCE_BAD_DATE',
          `reference date must be YYYY-MM-DD, got "${options.referenceDate}"`,
          { path: 'referenceDate' },
        );
      }
    }
    const gathered = await this.gatherReleased(federation, hubs, {
      ...(referenceDay !== undefined && { through: isoDay(referenceDay - 7) }),
      ...(options.requester !== undefined && { requester: options.requester }),
      ...(options.project !== undefined && { project: options.project }),
    });
    const target = options.target ?? 'ili';
    return this.hub.gate.fromReleased(
      gathered.hubs,
      (released) => {
        const {
          panel,
          target: targetName,
          imputedWeeks,
        } = federatedPanel({ hubs: released }, target, options.suppressedWeeks);
        // Default round: the week after the last week of the panel (a hub whose data end earlier is refused by
        // the forecasters with SURVEILLANCE_SHORT_HISTORY, naming it).
        const day = referenceDay ?? panel.startDay + 7 * panel.weeks;
        // Forecasts of the count, not of its released form: what falls under a hub's threshold is spread over
        // 0 … t − 1.
        const forecasts = spreadSuppressedMass(forecastRound(panel, forecaster, day), releaseThresholds(released));
        return {
          model: forecaster.name,
          target: targetName,
          referenceDate: isoDay(day),
          forecasts,
          alerts: hubAlerts(this.hub, forecaster.name, targetName, forecasts, seasonalThresholds(panel)),
          imputedWeeks,
          failed: gathered.failed,
          complete: gathered.complete,
        };
      },
      'released-series',
    );
  }
}

/**
 * A peer's series as this hub can use it: well formed (`checkReleasedSeries`), for the hub that signed it, weeks
 * ending on Saturdays and none after `through` when one was asked, and every shown count one that both the peer's
 * stated policy and this hub's own would release (a laxer peer's small counts must not reach this hub's users).
 */
function checkPeerSeries(
  f: PeerFigures,
  value: unknown,
  signer: string,
  through: string | undefined,
): ReleasedHubSeries {
  let series: ReleasedHubSeries;
  try {
    series = checkedFromSigner(value, signer);
  } catch (e) {
    if (isHealthmeshError(e) && e.code === 'SURVEILLANCE_BAD_RELEASED_SERIES') return f.fail('', e.message);
    throw e;
  }
  const start = parseIsoDay(series.startDate)!;
  if (new Date(start * 86_400_000).getUTCDay() !== 6) f.fail('startDate', `${series.startDate} is not a Saturday`);
  const last = start + 7 * (series.ili.length - 1);
  if (through !== undefined && series.ili.length > 0 && last > parseIsoDay(through)!)
    f.fail('ili', `runs to the week ending ${isoDay(last)}, after ${through} asked for`);
  const stated = new PeerFigures({ ...f.policy, threshold: series.policy.threshold, rounding: series.policy.rounding });
  for (const key of ['ili', 'confirmed'] as const) {
    series[key].forEach((n, w) => {
      stated.count(n, `${key}[${w}]`);
      f.count(n, `${key}[${w}]`);
    });
  }
  const consent = (value as { consent?: unknown }).consent;
  if (consent !== undefined) {
    const c = f.object(consent, 'consent');
    f.text(c.purpose, 'consent.purpose');
    f.count(c.leftOut, 'consent.leftOut');
  }
  return series;
}

/** A peer's series, checked, and refused when it speaks for another hub than the one that signed it. */
function checkedFromSigner(value: unknown, signer: string): ReleasedHubSeries {
  const series = checkReleasedSeries(value, signer);
  if (series.hub !== signer) {
    throw new HealthmeshError(
      'SURVEILLANCE_BAD_RELEASED_SERIES',
      `${signer} sent a series labelled as hub ${series.hub}: a hub answers for itself only`,
      { path: 'hub' },
    );
  }
  return series;
}
