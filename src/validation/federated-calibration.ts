/**
 * The coordinator's side of the exact pooled calibration (docs/validation.md, "Across hubs"): Newton rounds over
 * the sessions the hubs' parts name, each hub answering `validation.calibration` (this hub locally).
 */
import type { HubServices as Hub } from '../context/index.js';
import { isHealthmeshError } from '../core/index.js';
import type { Federation } from '../federation/index.js';
import { askPeer, checkedAnswer, PeerFigures, PeerStepFailed } from '../federation/index.js';
import type { HubValidation } from './federated-validation.js';
import type { CalibrationSessions, PooledCalibration, RoundPart } from './pooled-calibration.js';
import { checkCalibrationRound, fitPooledCalibration, VALIDATION_CALIBRATION_OPERATION } from './pooled-calibration.js';

/** The exact pooled calibration, or the hub whose round failed (then the pooled intercept and slope are withheld). */
export type CalibrationOutcome =
  | { fit: PooledCalibration }
  | { failed: { hub: string; kind: string; remoteCode?: string; message: string } };

/**
 * The exact pooled calibration of `parts` (as `ValidationFederation.gather` returned them) by Newton rounds: each hub, this one
 * locally, answers `validation.calibration` on the session its part names. A hub whose round fails (refused,
 * silent, or figures this hub cannot use) ends the fit: a sum without it would be another population's fit.
 */
export async function calibrateAcrossHubs(
  hub: Hub,
  sessions: CalibrationSessions,
  federation: Federation | undefined,
  parts: readonly HubValidation[],
  project: string,
  requester: string,
): Promise<CalibrationOutcome> {
  const self = hub.config.name;
  const figures = new PeerFigures(hub.config.privacy.disclosure);
  const missing = parts.find((p) => p.session === undefined || (p.hub !== self && federation === undefined));
  if (missing !== undefined) {
    return {
      failed: {
        hub: missing.hub,
        kind: 'refused',
        message: 'it kept no scores for calibration rounds (its release log refused the population as differencing)',
      },
    };
  }
  const ask = (slope: number[], intercept: number[]) =>
    Promise.all(
      parts.map(async (p): Promise<RoundPart> => {
        const n = p.report.sampleSize.n;
        if (p.hub === self) {
          const r = sessions.round(hub.gate, self, project, p.session, slope, intercept).value;
          const ici = r.ici;
          const wire = { slope: r.slope, intercept: r.intercept, ici };
          return { hub: p.hub, n, ...checkCalibrationRound(figures, wire) };
        }
        const body = { session: p.session, project, slope, intercept };
        const value = await askPeer(federation!.client, p.hub, VALIDATION_CALIBRATION_OPERATION, body, {
          timeoutMs: federation!.timeoutMs,
        });
        return { hub: p.hub, n, ...checkedAnswer(p.hub, value, (v) => checkCalibrationRound(figures, v)) };
      }),
    );
  try {
    const fit = await fitPooledCalibration(ask);
    await hub.audit.append({
      actor: requester,
      action: 'validation-pooled-calibration',
      target: `validation/project/${project}`,
      outcome: 'success',
      detail: { hubs: parts.map((p) => p.hub).join(','), rounds: fit.rounds },
    });
    return { fit };
  } catch (e) {
    if (e instanceof PeerStepFailed) return { failed: e.failure };
    // This hub's own round refused, or the summed fit did not converge (separation): no pooled fit to report.
    if (isHealthmeshError(e) && (e.code === 'VALIDATION_ROUND_REFUSED' || e.code.startsWith('MODEL_'))) {
      return { failed: { hub: self, kind: 'refused', remoteCode: e.code, message: e.message } };
    }
    throw e;
  }
}
