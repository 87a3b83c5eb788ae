import { useState } from 'preact/hooks';
import type { ObservedSeries } from '../../../src/server/api-schemas.js';
import { Async, DataTable, ErrorBox, Loading, Section, useApi } from '../components.js';
import { useI18n } from '../i18n.js';
import { LineChart } from '../line-chart.js';

interface Forecasts {
  quantileLevels: number[];
  forecasts: {
    model: string;
    target: string;
    referenceDate: string;
    location: string;
    horizon: number;
    targetEndDate: string;
    quantiles: number[];
  }[];
}
/** `disclosureControlled` for roles without row-level access: small weeks come as null, the rest rounded. */
type Observed = ObservedSeries;
interface Scores {
  scores: {
    model: string;
    target: string;
    group: string;
    forecasts: number;
    meanWis: number;
    relativeWis: number | null;
    coverage50: number;
    coverage95: number;
  }[];
}
interface Alerts {
  alerts: {
    model: string;
    target: string;
    referenceDate: string;
    location: string;
    horizon: number;
    targetEndDate: string;
    quantileLevel: number;
    forecastValue: number;
    threshold: number;
  }[];
}

/** Weeks of observed history drawn before the forecast: a season and a half. */
const HISTORY_WEEKS = 78;
const HUB_TARGETS = new Set(['wk inc ili', 'wk inc flu conf']);
const seconds = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / 1000;

function ForecastChart({
  data,
  task,
}: {
  data: Forecasts;
  task: { model: string; target: string; location: string; ref: string };
}) {
  const { t, lang, num, date } = useI18n();
  const observed = useApi<Observed>(
    HUB_TARGETS.has(task.target) ? `/console/surveillance/observed?target=${encodeURIComponent(task.target)}` : null,
  );
  const rows = data.forecasts
    .filter(
      (f) =>
        f.model === task.model &&
        f.target === task.target &&
        f.location === task.location &&
        f.referenceDate === task.ref,
    )
    .sort((a, b) => a.horizon - b.horizon);
  const at = (level: number) => data.quantileLevels.findIndex((l) => Math.abs(l - level) < 1e-9);
  const [q025, q25, q50, q75, q975] = [at(0.025), at(0.25), at(0.5), at(0.75), at(0.975)];
  const obs = observed.state === 'ready' && observed.data.location === task.location ? observed.data.weeks : [];
  const firstForecast = rows[0] ? seconds(rows[0].targetEndDate) : Number.POSITIVE_INFINITY;
  const history = obs.filter((w) => seconds(w.weekEnd) < firstForecast).slice(-HISTORY_WEEKS);
  const xs = [...new Set([...history.map((w) => w.weekEnd), ...rows.map((r) => r.targetEndDate)])].sort();
  const byDate = new Map(rows.map((r) => [r.targetEndDate, r]));
  const obsByDate = new Map(obs.map((w) => [w.weekEnd, w.value]));
  const q = (i: number) => xs.map((d) => byDate.get(d)?.quantiles[i] ?? null);
  const title = t('forecastChart', { target: task.target, location: task.location });
  return (
    <>
      {observed.state === 'error' && <ErrorBox error={observed.error} onRetry={observed.reload} />}
      {observed.state === 'loading' && HUB_TARGETS.has(task.target) && <Loading />}
      {observed.state === 'ready' && (
        <p class="muted" data-testid="observed-weeks">
          {t('observedWeeks', { n: num(history.length) })}
          {observed.data.disclosureControlled && ` ${t('observedControlled')}`}
        </p>
      )}
      <LineChart
        title={title}
        x={xs.map(seconds)}
        xKind="time"
        xLabel={t('week')}
        yLabel={task.target}
        locale={lang === 'ko' ? 'ko-KR' : 'en-GB'}
        series={[
          { label: `${t('band95')} ↑`, values: q(q975), color: '#9ec5ee', bandEdge: true },
          { label: `${t('band95')} ↓`, values: q(q025), color: '#9ec5ee', bandEdge: true },
          { label: `${t('band50')} ↑`, values: q(q75), color: '#4f8fd6', bandEdge: true },
          { label: `${t('band50')} ↓`, values: q(q25), color: '#4f8fd6', bandEdge: true },
          { label: t('median'), values: q(q50), color: '#1f3f8f' },
          { label: t('observedSeries'), values: xs.map((d) => obsByDate.get(d) ?? null), color: '#222', points: true },
        ]}
        bands={[
          { upper: 0, lower: 1, fill: 'rgba(79, 143, 214, 0.18)' },
          { upper: 2, lower: 3, fill: 'rgba(79, 143, 214, 0.38)' },
        ]}
      />
      <DataTable
        testId="forecast-table"
        caption={title}
        rows={rows}
        rowKey={(r) => r.horizon}
        columns={[
          { label: t('horizon'), cell: (r) => r.horizon },
          { label: t('week'), cell: (r) => date(r.targetEndDate) },
          { label: t('median'), numeric: true, cell: (r) => num(r.quantiles[q50], 1) },
          {
            label: t('band50'),
            numeric: true,
            cell: (r) => `${num(r.quantiles[q25], 1)}–${num(r.quantiles[q75], 1)}`,
          },
          {
            label: t('band95'),
            numeric: true,
            cell: (r) => `${num(r.quantiles[q025], 1)}–${num(r.quantiles[q975], 1)}`,
          },
        ]}
      />
    </>
  );
}

function ForecastSection({ data }: { data: Forecasts }) {
  const { t, date } = useI18n();
  const tasks = [...new Map(data.forecasts.map((f) => [`${f.model}|${f.target}|${f.location}`, f])).values()];
  const [chosen, setChosen] = useState(0);
  const task = tasks[chosen] ?? tasks[0];
  const refs = [
    ...new Set(
      data.forecasts
        .filter((f) => task && f.model === task.model && f.location === task.location && f.target === task.target)
        .map((f) => f.referenceDate),
    ),
  ]
    .sort()
    .reverse();
  const [ref, setRef] = useState<string | null>(null);
  if (!task) return <p>{t('noForecasts')}</p>;
  const reference = ref !== null && refs.includes(ref) ? ref : (refs[0] ?? '');
  return (
    <>
      <div class="row">
        <div class="field">
          <label for="forecast-task">{t('location')}</label>
          <select
            id="forecast-task"
            value={String(chosen)}
            onChange={(e) => setChosen(Number((e.currentTarget as HTMLSelectElement).value))}
          >
            {tasks.map((f, i) => (
              <option key={`${f.model}|${f.target}|${f.location}`} value={String(i)}>
                {f.location} · {f.target} · {f.model}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="forecast-ref">{t('referenceDate')}</label>
          <select
            id="forecast-ref"
            value={reference}
            onChange={(e) => setRef((e.currentTarget as HTMLSelectElement).value)}
          >
            {refs.map((r) => (
              <option key={r} value={r}>
                {date(r)}
              </option>
            ))}
          </select>
        </div>
      </div>
      <ForecastChart
        data={data}
        task={{ model: task.model, target: task.target, location: task.location, ref: reference }}
      />
    </>
  );
}

export function SurveillancePage() {
  const { t, num, pct, date } = useI18n();
  const forecasts = useApi<Forecasts>('/surveillance/forecasts');
  const scores = useApi<Scores>('/surveillance/scores');
  const alerts = useApi<Alerts>('/surveillance/alerts');
  return (
    <>
      <Section title={t('forecasts')} id="forecasts">
        <Async loaded={forecasts}>
          {(f) => (f.forecasts.length === 0 ? <p>{t('noForecasts')}</p> : <ForecastSection data={f} />)}
        </Async>
      </Section>
      <Section title={t('alerts')} id="alerts">
        <p>{t('alertThresholds')}</p>
        <Async loaded={alerts}>
          {(a) =>
            a.alerts.length === 0 ? (
              <p>{t('noAlerts')}</p>
            ) : (
              <DataTable
                rows={a.alerts}
                rowKey={(x) => `${x.model}|${x.target}|${x.referenceDate}|${x.location}`}
                rowClass={() => 'bad'}
                columns={[
                  { label: t('location'), cell: (x) => x.location },
                  { label: t('week'), cell: (x) => date(x.targetEndDate) },
                  { label: t('model'), cell: (x) => x.model },
                  {
                    label: t('forecastValue'),
                    numeric: true,
                    cell: (x) => `${num(x.forecastValue, 1)} (q${x.quantileLevel})`,
                  },
                  { label: t('threshold'), numeric: true, cell: (x) => num(x.threshold, 1) },
                ]}
              />
            )
          }
        </Async>
      </Section>
      <Section title={t('scores')} id="scores">
        <Async loaded={scores}>
          {(s) =>
            s.scores.length === 0 ? (
              <p>{t('noScores')}</p>
            ) : (
              <DataTable
                rows={s.scores}
                rowKey={(x) => `${x.model}|${x.target}|${x.group}`}
                columns={[
                  { label: t('model'), cell: (x) => x.model },
                  { label: t('group'), cell: (x) => x.group },
                  { label: t('n'), numeric: true, cell: (x) => num(x.forecasts) },
                  { label: t('meanWis'), numeric: true, cell: (x) => num(x.meanWis, 2) },
                  { label: t('relWis'), numeric: true, cell: (x) => num(x.relativeWis, 3) },
                  { label: t('coverage50'), numeric: true, cell: (x) => pct(x.coverage50) },
                  { label: t('coverage95'), numeric: true, cell: (x) => pct(x.coverage95) },
                ]}
              />
            )
          }
        </Async>
      </Section>
    </>
  );
}
