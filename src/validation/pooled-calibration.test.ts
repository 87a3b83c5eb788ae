import { describe, expect, it } from 'vitest';
import { seededRandom } from '../core/index.js';
import { PeerFigures } from '../federation/index.js';
import { calibrationFit } from '../models/index.js';
import { ReleaseGate } from '../privacy/index.js';
import {
  CALIBRATION_ROUNDS,
  CalibrationSessions,
  checkCalibrationRound,
  fitPooledCalibration,
} from './pooled-calibration.js';
import { integratedCalibrationIndex } from './validation-report.js';

const policy = { threshold: 10, rounding: 1, minCellSize: 10, precision: 12 };
const gate = new ReleaseGate(policy);

/** `n` people whose outcome follows a risk miscalibrated against the model's (true log-odds 0.3 + 0.8·L). */
function population(n: number, seed: number) {
  const rng = seededRandom(seed);
  const risks = new Float64Array(n);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const l = -2 + 3 * rng.next();
    risks[i] = 1 / (1 + Math.exp(-l));
    y[i] = rng.next() < 1 / (1 + Math.exp(-(0.3 + 0.8 * l))) ? 1 : 0;
  }
  return { risks, y };
}

describe('pooled calibration by Newton rounds', () => {
  it('equals the recalibration fit and ICI on all rows', async () => {
    const hubs = [population(300, 1), population(450, 2), population(200, 3)];
    const sessions = new CalibrationSessions();
    const handles = hubs.map((h) => sessions.keep('busan', 'p-1', h.risks, h.y));
    const figures = new PeerFigures(policy);
    const fit = await fitPooledCalibration(async (slope, intercept) =>
      handles.map((s, k) => ({
        hub: `hub-${k}`,
        n: hubs[k]!.y.length,
        ...checkCalibrationRound(figures, sessions.round(gate, 'busan', 'p-1', s, slope, intercept).value),
      })),
    );
    const risks = hubs.flatMap((h) => Array.from(h.risks));
    const y = hubs.flatMap((h) => Array.from(h.y));
    const direct = calibrationFit(risks, y);
    expect(Math.abs(fit.intercept - direct.intercept)).toBeLessThan(1e-9);
    expect(Math.abs(fit.slope - direct.slope)).toBeLessThan(1e-9);
    expect(Math.abs(fit.ici! - integratedCalibrationIndex(risks, y)!)).toBeLessThan(1e-9);
    expect(fit.slope).toBeLessThan(1);
  });

  it('answers only the owner and project of a session, at most its rounds, and never a cut', () => {
    const { risks, y } = population(200, 4);
    const sessions = new CalibrationSessions();
    const s = sessions.keep('busan', 'p-1', risks, y);
    const code = (f: () => unknown) => {
      try {
        f();
        return 'answered';
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(code(() => sessions.round(gate, 'gwangju', 'p-1', s, [0, 1], [0]))).toBe('VALIDATION_ROUND_REFUSED');
    expect(code(() => sessions.round(gate, 'busan', 'p-2', s, [0, 1], [0]))).toBe('VALIDATION_ROUND_REFUSED');
    expect(code(() => sessions.round(gate, 'busan', 'p-1', 'f'.repeat(32), [0, 1], [0]))).toBe(
      'VALIDATION_ROUND_REFUSED',
    );
    expect(code(() => sessions.round(gate, 'busan', 'p-1', s, [0, 'x'], [0]))).toBe('VALIDATION_ROUND_REFUSED');
    // A steep slope around a chosen log-odds would count the people on either side of it.
    expect(code(() => sessions.round(gate, 'busan', 'p-1', s, [-50, 100], [0]))).toBe('VALIDATION_ROUND_REFUSED');
    // The two refused above were queries too: they count.
    for (let k = 2; k < CALIBRATION_ROUNDS; k++) {
      expect(code(() => sessions.round(gate, 'busan', 'p-1', s, [0, 1], [0]))).toBe('answered');
    }
    expect(code(() => sessions.round(gate, 'busan', 'p-1', s, [0, 1], [0]))).toBe('VALIDATION_ROUND_REFUSED');
  });

  it('keeps a session for ten minutes only', () => {
    const { risks, y } = population(100, 5);
    let now = 0;
    const sessions = new CalibrationSessions(() => now);
    const s = sessions.keep('busan', 'p-1', risks, y);
    now = 10 * 60_000 + 1;
    expect(() => sessions.round(gate, 'busan', 'p-1', s, [0, 1], [0])).toThrow(
      expect.objectContaining({ code: 'VALIDATION_ROUND_REFUSED' }),
    );
  });
});
