import { useState } from 'preact/hooks';
import { type ApiError, postJson } from '../api.js';
import { DataTable, ErrorBox, Section } from '../components.js';
import { useI18n } from '../i18n.js';
import { HubChoice } from './workspace.js';

interface ForecastAnswer {
  purpose: string;
  hubs: string[];
  referenceDate: string;
  quantileLevels: number[];
  forecasts: { location: string; horizon: number; targetEndDate: string; quantiles: number[] }[];
  failed: { hub: string }[];
}

/**
 * A forecast inside the project (`POST /projects/:id/forecasts/$run`): the weekly ILI or confirmed-influenza
 * series of the hubs that approved the project, counted for its purpose and released by each hub's gate. It stays
 * in the workspace; asking to release it has the hub compute it again as an output of kind `forecast`.
 */
export function WorkspaceForecast({
  base,
  approvedHubs,
  askOutput,
}: {
  base: string;
  approvedHubs: string[];
  askOutput: (body: unknown) => Promise<void>;
}) {
  const { t } = useI18n();
  const [target, setTarget] = useState<'ili' | 'confirmed'>('ili');
  const [model, setModel] = useState<'ensemble' | 'baseline'>('ensemble');
  const [hubs, setHubs] = useState<string[]>(approvedHubs);
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<ForecastAnswer | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const parameters = { target, model, hubs };
  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setAnswer(null);
    try {
      setAnswer(await postJson<ForecastAnswer>(`${base}/forecasts/$run`, parameters));
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const targetName = t(target === 'ili' ? 'forecastIli' : 'forecastConfirmed');
  const level = (a: ForecastAnswer, q: number) => a.quantileLevels.findIndex((x) => Math.abs(x - q) < 1e-9);
  const shown = (a: ForecastAnswer, f: ForecastAnswer['forecasts'][number], q: number) =>
    (f.quantiles[level(a, q)] ?? Number.NaN).toFixed(1);
  return (
    <Section title={t('forecastInProject')} id="project-forecast">
      <form onSubmit={run}>
        <label class="field">
          {t('forecastSeries')}
          <select
            value={target}
            onChange={(e) => setTarget((e.currentTarget as HTMLSelectElement).value as 'ili' | 'confirmed')}
          >
            <option value="ili">{t('forecastIli')}</option>
            <option value="confirmed">{t('forecastConfirmed')}</option>
          </select>
        </label>
        <label class="field">
          {t('forecastModel')}
          <select
            value={model}
            onChange={(e) => setModel((e.currentTarget as HTMLSelectElement).value as 'ensemble' | 'baseline')}
          >
            <option value="ensemble">ensemble</option>
            <option value="baseline">baseline</option>
          </select>
        </label>
        <HubChoice approved={approvedHubs} chosen={hubs} set={setHubs} />
        <button type="submit" disabled={busy || hubs.length === 0}>
          {busy ? t('wsForecasting') : t('wsForecast')}
        </button>
      </form>
      {answer && (
        <div data-testid="project-forecast">
          <p role="status">
            {t('forecastFor', {
              target: targetName,
              date: answer.referenceDate,
              purpose: answer.purpose,
              hubs: answer.hubs.join(', '),
            })}
          </p>
          {answer.failed.length > 0 && (
            <p>{t('forecastFailed', { hubs: answer.failed.map((f) => f.hub).join(', ') })}</p>
          )}
          <DataTable
            rows={answer.forecasts}
            rowKey={(f) => `${f.location}-${f.horizon}`}
            columns={[
              { label: t('forecastRegion'), cell: (f) => f.location, rowHeader: true },
              { label: t('forecastWeekEnding'), cell: (f) => f.targetEndDate },
              { label: t('forecastMedian'), cell: (f) => shown(answer, f, 0.5) },
              {
                label: t('forecastInterval'),
                cell: (f) => `${shown(answer, f, 0.025)} – ${shown(answer, f, 0.975)}`,
              },
            ]}
          />
          <button
            type="button"
            onClick={() =>
              void askOutput({
                kind: 'forecast',
                title: t('forecastOf', { target: targetName, hubs: answer.hubs.join(', ') }),
                forecast: { target, model, hubs: answer.hubs },
                source: { analysis: 'forecast', reference: answer.referenceDate },
              })
            }
          >
            {t('askReleaseForecast')}
          </button>
        </div>
      )}
      {error && <ErrorBox error={error} />}
    </Section>
  );
}
