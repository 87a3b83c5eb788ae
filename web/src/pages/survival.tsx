import { useState } from 'preact/hooks';
import type { CohortSurvivalBody } from '../../../src/server/api-schemas.js';
import { ApiError, postJson } from '../api.js';
import { Count, ErrorBox, Loading, Section } from '../components.js';
import { useI18n } from '../i18n.js';

/** `POST /cohort/$survival`'s answer, released by the hub's gate: null where suppressed or withheld. */
interface ReleasedSurvival {
  stepDays: number;
  days: number[];
  atRisk: (number | null)[];
  survival: (number | null)[];
  cumulativeIncidence: (number | null)[];
}

const W = 640;
const H = 300;
const PAD = { left: 48, right: 12, top: 12, bottom: 36 };

/** A step path through the released values; a withheld time carries the previous value to the next released one. */
function steps(days: number[], values: (number | null)[], x: (d: number) => number, y: (v: number) => number) {
  let path = '';
  days.forEach((d, k) => {
    const v = values[k];
    if (v === null || v === undefined) return;
    path += path === '' ? `M${x(d)},${y(v)}` : `H${x(d)}V${y(v)}`;
  });
  return path;
}

/** Kaplan–Meier (solid) and cumulative incidence (dashed) against years, with the numbers at risk beneath. */
export function SurvivalChart({ r }: { r: ReleasedSurvival }) {
  const { t } = useI18n();
  const maxDay = Math.max(r.days[r.days.length - 1] ?? 1, 1);
  const x = (d: number) => PAD.left + (d / maxDay) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - v) * (H - PAD.top - PAD.bottom);
  return (
    <>
      <svg viewBox={`0 0 ${W} ${H}`} class="survival-chart" role="img" aria-label={t('kmTitle')}>
        {[0, 0.25, 0.5, 0.75, 1].map((v) => (
          <g key={v}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} stroke="#ddd" />
            <text x={PAD.left - 6} y={y(v) + 4} font-size="11" text-anchor="end">
              {v}
            </text>
          </g>
        ))}
        {r.days.map((d) => (
          <text key={d} x={x(d)} y={H - PAD.bottom + 14} font-size="11" text-anchor="middle">
            {(d / 365.25).toFixed(1)}
          </text>
        ))}
        <text x={(W + PAD.left) / 2} y={H - 4} font-size="12" text-anchor="middle">
          {t('kmYears')}
        </text>
        <path class="survival" d={steps(r.days, r.survival, x, y)} fill="none" stroke="#1f5fbf" stroke-width="2" />
        <path
          class="incidence"
          d={steps(r.days, r.cumulativeIncidence, x, y)}
          fill="none"
          stroke="#c0392b"
          stroke-width="2"
          stroke-dasharray="6 4"
        />
      </svg>
      <p class="muted">{t('kmLegend')}</p>
      <div class="scroll">
        <table class="at-risk">
          <tbody>
            <tr>
              <th scope="row">{t('kmYears')}</th>
              {r.days.map((d) => (
                <td key={d} class="num">
                  {(d / 365.25).toFixed(1)}
                </td>
              ))}
            </tr>
            <tr>
              <th scope="row">{t('kmAtRisk')}</th>
              {r.atRisk.map((n, k) => (
                <td key={r.days[k]} class="num">
                  <Count value={n} />
                </td>
              ))}
            </tr>
          </tbody>
        </table>
      </div>
    </>
  );
}

/** An outcome cohort's definition and a button: the cohort's survival curve on this hub, released. */
export function SurvivalSection({ definition }: { definition: () => unknown }) {
  const { t } = useI18n();
  const [outcome, setOutcome] = useState('');
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<ReleasedSurvival | null>(null);
  const [error, setError] = useState<ApiError | string | null>(null);
  const run = async () => {
    setError(null);
    let body: CohortSurvivalBody;
    try {
      body = { definition: definition(), outcome: JSON.parse(outcome) };
    } catch (err) {
      setError(t('badJson', { msg: (err as Error).message }));
      return;
    }
    setRunning(true);
    try {
      setResult(await postJson<ReleasedSurvival>('/cohort/$survival', body));
    } catch (err) {
      setResult(null);
      setError(err instanceof ApiError ? err : String(err));
    } finally {
      setRunning(false);
    }
  };
  return (
    <Section title={t('kmTitle')} id="survival">
      <div class="field">
        <label for="outcome-json">{t('kmOutcome')}</label>
        <textarea
          id="outcome-json"
          rows={6}
          value={outcome}
          onInput={(e) => setOutcome((e.currentTarget as HTMLTextAreaElement).value)}
        />
      </div>
      <button type="button" disabled={running || outcome.trim() === ''} onClick={run}>
        {t('kmRun')}
      </button>
      {running && <Loading />}
      {error && <ErrorBox error={error} />}
      {result && <SurvivalChart r={result} />}
    </Section>
  );
}
