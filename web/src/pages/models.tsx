import { useState } from 'preact/hooks';
import type { FederatedTrainBody } from '../../../src/server/api-schemas.js';
import { ApiError, postJson } from '../api.js';
import { Async, Count, DataTable, ErrorBox, Section, useApi, usePolicy } from '../components.js';
import { useI18n } from '../i18n.js';
import { LineChart } from '../line-chart.js';

interface Listing {
  models: { id: string; latestVersion: number; kind: string; title: string; createdAt: string }[];
}

interface Metrics {
  /** Released counts: null under the disclosure threshold (roles without row-level access). */
  n: number | null;
  events: number | null;
  prevalence: number | null;
  auroc: number | null;
  aurocCi: [number, number] | null;
  auprc: number | null;
  brier: number;
  calibrationIntercept: number | null;
  calibrationSlope: number | null;
  calibrationCurve: {
    n: number | null;
    meanPredicted: number;
    observed: number | null;
    observedCi: [number, number] | null;
  }[];
}

interface ModelDetail {
  id: string;
  version: number;
  versions: number[];
  kind: string;
  createdAt: string;
  createdBy: string;
  features: string[];
  card: {
    title: string;
    cohort: { description: string; outcome: string; horizon?: string };
    trainingData: { rows: number | null; events: number | null; prevalence: number | null };
    evaluations: {
      name: string;
      report: {
        /** Withheld when the evaluation set is too small to release (roles without row-level access). */
        overall: Metrics | { withheld: true };
        roc: { fpr: number[]; tpr: number[] };
        subgroups: Record<string, ((Metrics & { group: string }) | { group: string; withheld: true })[]>;
      };
    }[];
    intendedUse: string;
    limitations: string[];
    federation?: FederationRecord;
  };
}

/** A federated fit's record on its card: counts as the release gate released them (null: suppressed). */
interface FederationRecord {
  hubs: string[];
  purpose: string;
  threshold: number;
  rounding: number;
  rounds: {
    round: number;
    operation: string;
    ms: number;
    answers: { hub: string; rows: number | null; events?: number | null }[];
  }[];
}

/** What `POST /models/$federated-train` answers. */
interface FederatedTrainAnswer {
  id: string;
  version: number;
  federation: FederationRecord;
}

function MetricsRow({ m, label }: { m: Metrics | { withheld: true }; label: string }) {
  const { t, num } = useI18n();
  if ('withheld' in m) {
    return (
      <tr>
        <th scope="row">{label}</th>
        <td colSpan={6} class="muted">
          {t('withheldGroup')}
        </td>
      </tr>
    );
  }
  return (
    <tr>
      <th scope="row">{label}</th>
      <td class="num">
        <Count value={m.n} />
      </td>
      <td class="num">
        <Count value={m.events} />
      </td>
      <td class="num">
        {num(m.auroc, 3)}
        {m.aurocCi && (
          <span class="muted">
            {' '}
            ({num(m.aurocCi[0], 3)}–{num(m.aurocCi[1], 3)})
          </span>
        )}
      </td>
      <td class="num">{num(m.auprc, 3)}</td>
      <td class="num">{num(m.brier, 4)}</td>
      <td class="num">{num(m.calibrationSlope, 2)}</td>
    </tr>
  );
}

function MetricsHead({ first }: { first: string }) {
  const { t } = useI18n();
  return (
    <thead>
      <tr>
        <th scope="col">{first}</th>
        <th scope="col" class="num">
          {t('n')}
        </th>
        <th scope="col" class="num">
          {t('events')}
        </th>
        <th scope="col" class="num">
          {t('auroc')}
        </th>
        <th scope="col" class="num">
          {t('auprc')}
        </th>
        <th scope="col" class="num">
          {t('brier')}
        </th>
        <th scope="col" class="num">
          {t('calSlope')}
        </th>
      </tr>
    </thead>
  );
}

function Evaluation({ e }: { e: ModelDetail['card']['evaluations'][number] }) {
  const { t, lang } = useI18n();
  const locale = lang === 'ko' ? 'ko-KR' : 'en-GB';
  const { overall, roc, subgroups } = e.report;
  const cal = 'withheld' in overall ? [] : overall.calibrationCurve;
  return (
    <Section title={t('evaluation', { name: e.name })} id={`eval-${e.name}`}>
      <div class="scroll">
        <table>
          <MetricsHead first="" />
          <tbody>
            <MetricsRow m={overall} label={e.name} />
          </tbody>
        </table>
      </div>
      <div class="two">
        <LineChart
          title={t('rocCurve')}
          x={roc.fpr}
          xKind="number"
          xLabel={t('fpr')}
          yLabel={t('tpr')}
          unitSquare
          locale={locale}
          series={[
            { label: t('rocCurve'), values: roc.tpr, color: '#1f5fbf' },
            { label: t('chance'), values: roc.fpr, color: '#888', dash: true },
          ]}
        />
        <LineChart
          title={t('calibrationPlot')}
          x={cal.map((b) => b.meanPredicted)}
          xKind="number"
          xLabel={t('predicted')}
          yLabel={t('observed')}
          unitSquare
          locale={locale}
          series={[
            { label: t('observed'), values: cal.map((b) => b.observed), color: '#c0392b', points: true },
            { label: t('ideal'), values: cal.map((b) => b.meanPredicted), color: '#888', dash: true },
          ]}
        />
      </div>
      {Object.entries(subgroups).map(([name, groups]) => (
        <div key={name} class="scroll">
          <h3>{t('subgroups', { name })}</h3>
          <table>
            <MetricsHead first={t('group')} />
            <tbody>
              {groups.map((g) => (
                <MetricsRow key={g.group} m={g} label={g.group} />
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </Section>
  );
}

/** Each round of a federated fit: its operation and time, and per hub the rows (and events) it stood on. */
function FederationRounds({ f }: { f: FederationRecord }) {
  const { t, num } = useI18n();
  return (
    <Section
      title={t('fedRecord', {
        hubs: f.hubs.join(', '),
        purpose: f.purpose,
        threshold: f.threshold,
        rounding: f.rounding,
      })}
      id="federation"
    >
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">{t('fedRound')}</th>
              <th scope="col">{t('fedOperation')}</th>
              <th scope="col" class="num">
                {t('fedMs')}
              </th>
              {f.hubs.map((h) => (
                <th key={h} scope="col" class="num">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {f.rounds.map((r) => (
              <tr key={r.round}>
                <th scope="row">{r.round}</th>
                <td>{r.operation}</td>
                <td class="num">{num(r.ms)}</td>
                {f.hubs.map((h) => {
                  const a = r.answers.find((x) => x.hub === h);
                  return (
                    <td key={h} class="num">
                      <Count value={a?.rows} /> {t('fedRows')}
                      {a?.events !== undefined && (
                        <>
                          {', '}
                          <Count value={a.events} /> {t('fedEvents')}
                        </>
                      )}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Section>
  );
}

/** Start a federated fit: a training spec, the hubs (this one and its peers), the project. */
function FederatedTrain({ onDone }: { onDone: (id: string) => void }) {
  const { t } = useI18n();
  const overview = useApi<{ hub: { name: string }; peers: { name: string }[] }>('/console/overview');
  const [spec, setSpec] = useState('');
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [project, setProject] = useState('');
  const [running, setRunning] = useState(false);
  const [done, setDone] = useState<FederatedTrainAnswer | null>(null);
  const [error, setError] = useState<ApiError | string | null>(null);
  const names = overview.state === 'ready' ? [overview.data.hub.name, ...overview.data.peers.map((p) => p.name)] : [];
  const toggle = (h: string) =>
    setPicked((s) => {
      const n = new Set(s);
      if (n.has(h)) n.delete(h);
      else n.add(h);
      return n;
    });
  const start = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(spec);
    } catch (err) {
      setError(t('badJson', { msg: (err as Error).message }));
      return;
    }
    const body: FederatedTrainBody = {
      spec: parsed,
      hubs: names.filter((h) => picked.has(h)),
      project: project.trim(),
    };
    setRunning(true);
    try {
      const answer = await postJson<FederatedTrainAnswer>('/models/$federated-train', body);
      setDone(answer);
      onDone(answer.id);
    } catch (err) {
      setError(err instanceof ApiError ? err : String(err));
    } finally {
      setRunning(false);
    }
  };
  return (
    <Section title={t('fedTrain')} id="federated-train">
      <form onSubmit={start}>
        <p class="muted">{t('fedTrainHelp')}</p>
        <div class="field">
          <label for="fed-spec">{t('fedSpec')}</label>
          <textarea
            id="fed-spec"
            rows={8}
            value={spec}
            onInput={(e) => setSpec((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </div>
        <fieldset>
          <legend>{t('fedHubs')}</legend>
          {names.map((h) => (
            <label key={h} class="check">
              <input type="checkbox" name="fed-hub" value={h} checked={picked.has(h)} onChange={() => toggle(h)} /> {h}
            </label>
          ))}
        </fieldset>
        <div class="field">
          <label for="fed-purpose">{t('fedPurpose')}</label>
          <input
            id="fed-purpose"
            value={project}
            onInput={(e) => setProject((e.currentTarget as HTMLInputElement).value)}
          />
        </div>
        <button type="submit" disabled={running || picked.size === 0 || spec.trim() === '' || project.trim() === ''}>
          {running ? t('fedRunning') : t('fedStart')}
        </button>
      </form>
      {error && <ErrorBox error={error} />}
      {done && (
        <p role="status">
          {t('fedDone', {
            id: done.id,
            version: done.version,
            rounds: done.federation.rounds.length,
            hubs: done.federation.hubs.join(', '),
          })}
        </p>
      )}
    </Section>
  );
}

function ModelCard({ id }: { id: string }) {
  const { t, num, pct, dateTime } = useI18n();
  const { threshold } = usePolicy();
  const detail = useApi<ModelDetail>(`/models/${encodeURIComponent(id)}`);
  return (
    <Async loaded={detail}>
      {(m) => (
        <>
          <Section title={`${t('modelCard')}: ${m.card.title}`} id="card">
            <dl class="facts">
              <dt>{t('model')}</dt>
              <dd>
                {m.id} · {t('version')} {m.version} · {m.kind}
              </dd>
              <dt>{t('created')}</dt>
              <dd>
                {dateTime(m.createdAt)} ({m.createdBy})
              </dd>
              <dt>{t('cohort')}</dt>
              <dd>{m.card.cohort.description}</dd>
              <dt>{t('outcomeLabel')}</dt>
              <dd>
                {m.card.cohort.outcome}
                {m.card.cohort.horizon ? ` (${m.card.cohort.horizon})` : ''}
              </dd>
              <dt>{t('intendedUse')}</dt>
              <dd>{m.card.intendedUse}</dd>
              <dt>{t('limitations')}</dt>
              <dd>
                <ul>
                  {m.card.limitations.map((l) => (
                    <li key={l}>{l}</li>
                  ))}
                </ul>
              </dd>
              <dt>{t('features')}</dt>
              <dd>{m.features.join(', ')}</dd>
            </dl>
            <p>
              {t('training', {
                rows:
                  m.card.trainingData.rows === null ? t('suppressed', { n: threshold }) : num(m.card.trainingData.rows),
                events:
                  m.card.trainingData.events === null
                    ? t('suppressed', { n: threshold })
                    : num(m.card.trainingData.events),
                prevalence: pct(m.card.trainingData.prevalence),
              })}
            </p>
          </Section>
          {m.card.federation && <FederationRounds f={m.card.federation} />}
          {m.card.evaluations.map((e) => (
            <Evaluation key={e.name} e={e} />
          ))}
        </>
      )}
    </Async>
  );
}

export function ModelsPage() {
  const { t, dateTime } = useI18n();
  const list = useApi<Listing>('/models');
  const [chosen, setChosen] = useState<string | null>(null);
  const trained = (id: string) => {
    list.reload();
    setChosen(id);
  };
  return (
    <>
      <Async loaded={list}>
        {(l) =>
          l.models.length === 0 ? (
            <p>{t('noModels')}</p>
          ) : (
            <>
              <Section title={t('registry')} id="registry">
                <DataTable
                  rows={l.models}
                  rowKey={(m) => m.id}
                  columns={[
                    {
                      label: t('model'),
                      rowHeader: true,
                      cell: (m) => (
                        <button
                          type="button"
                          class="link"
                          aria-pressed={chosen === m.id}
                          onClick={() => setChosen(m.id)}
                        >
                          {m.title} ({m.id})
                        </button>
                      ),
                    },
                    { label: t('version'), cell: (m) => m.latestVersion },
                    { label: t('kind'), cell: (m) => m.kind },
                    { label: t('created'), cell: (m) => dateTime(m.createdAt) },
                  ]}
                />
              </Section>
              {chosen && <ModelCard key={chosen} id={chosen} />}
            </>
          )
        }
      </Async>
      <FederatedTrain onDone={trained} />
    </>
  );
}
