import { useMemo, useState } from 'preact/hooks';
import { ApiError, apiDelete, fetchBlob, postJson, saveBlob } from '../api.js';
import { Async, DataTable, ErrorBox, Section, useApi } from '../components.js';
import { useI18n } from '../i18n.js';
import { LineChart } from '../line-chart.js';
import type { MessageKey } from '../messages.js';

interface Me {
  name: string;
  records: { source: string; linkedAt: string }[];
  /** Records at other hubs of the federation, linked with a code of that hub's source. */
  peerRecords?: { hub: string; source: string; linkedAt: string }[];
}
interface Entry {
  date: string | null;
  type: string;
  id: string;
  display: string;
  displayKo: string | null;
  code: string | null;
  value: number | string | null;
  unit: string | null;
  category: string | null;
  /** The other hub that holds the record; absent for this hub's. */
  hub?: string;
}

/** The lifelog measures charted, by their LOINC codes in the records (synth/codes.ts writes these). */
const LIFELOG = [
  { code: '41950-7', label: 'steps', color: '#2563eb' },
  { code: '93832-4', label: 'sleep', color: '#7c3aed' },
  { code: '40443-4', label: 'restingHr', color: '#dc2626' },
] as const satisfies readonly { code: string; label: MessageKey; color: string }[];

const PERIODS = [
  { id: 'last3Months', days: 92 },
  { id: 'lastYear', days: 366 },
  { id: 'allTime', days: null },
] as const satisfies readonly { id: MessageKey; days: number | null }[];

function daysBefore(last: string, days: number): string {
  return new Date(Date.parse(`${last}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}

/** Enrolment: a one-time code from the person's source links their record to this account. */
function Enrol({ onEnrolled }: { onEnrolled: (source: string) => void }) {
  const { t } = useI18n();
  const [code, setCode] = useState('');
  const [hub, setHub] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // A code from a hospital of another hub names that hub; the hub passes it on and links the record there.
      const body = hub.trim() === '' ? { code: code.trim() } : { code: code.trim(), hub: hub.trim() };
      const linked = await postJson<{ source: string }>('/me/enrol', body);
      setCode('');
      setHub('');
      onEnrolled(linked.source);
    } catch (err) {
      setError(err instanceof ApiError && err.code === 'MYDATA_CODE_INVALID' ? t('badCode') : (err as ApiError));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="field" onSubmit={submit}>
      <label for="enrol-code">{t('enrolCode')}</label>
      <input
        id="enrol-code"
        autocomplete="off"
        autocapitalize="characters"
        placeholder="XXXX-XXXX-XXXX"
        value={code}
        onInput={(e) => setCode((e.currentTarget as HTMLInputElement).value)}
      />
      <label for="enrol-hub">{t('enrolHub')}</label>
      <input
        id="enrol-hub"
        autocomplete="off"
        value={hub}
        onInput={(e) => setHub((e.currentTarget as HTMLInputElement).value)}
      />
      <button type="submit" disabled={busy || code.trim() === ''}>
        {busy ? t('enrolling') : t('enrol')}
      </button>
      {error && <ErrorBox error={error} />}
    </form>
  );
}

/** Steps, sleep and resting heart rate over a chosen period, one chart each. */
function Lifelog({ entries }: { entries: readonly Entry[] }) {
  const { t, lang } = useI18n();
  const [period, setPeriod] = useState<(typeof PERIODS)[number]['id']>('last3Months');
  const days = PERIODS.find((p) => p.id === period)?.days ?? null;
  const last = entries.reduce((m, e) => (e.date && e.date > m ? e.date : m), '').slice(0, 10);
  const from = days === null || last === '' ? '' : daysBefore(last, days);
  return (
    <>
      <label>
        {t('period')}{' '}
        <select
          value={period}
          onChange={(e) => setPeriod((e.currentTarget as HTMLSelectElement).value as typeof period)}
        >
          {PERIODS.map((p) => (
            <option key={p.id} value={p.id}>
              {t(p.id)}
            </option>
          ))}
        </select>
      </label>
      {LIFELOG.map((m) => {
        const points = entries
          .filter((e) => e.code === m.code && typeof e.value === 'number' && e.date !== null && e.date >= from)
          .map((e) => ({ x: Date.parse(e.date!) / 1000, y: e.value as number }))
          .sort((a, b) => a.x - b.x);
        if (points.length === 0) return <p key={m.code}>{`${t(m.label)}: ${t('noLifelog')}`}</p>;
        return (
          <LineChart
            key={`${m.code}-${period}`}
            title={t(m.label)}
            x={points.map((p) => p.x)}
            xKind="time"
            xLabel={t('my_when')}
            yLabel={t(m.label)}
            series={[{ label: t(m.label), values: points.map((p) => p.y), color: m.color }]}
            locale={lang === 'ko' ? 'ko-KR' : 'en-GB'}
            height={200}
          />
        );
      })}
    </>
  );
}

/** The most timeline entries shown at once: a phone screen, not a lifetime of measurements. */
const SHOWN = 60;

/** The timeline between two dates: what happened, named in Korean where the hub knows the code, else as recorded. */
function Timeline() {
  const { t, date, num, lang } = useI18n();
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [query, setQuery] = useState('');
  const loaded = useApi<{ entries: Entry[] }>(`/me/timeline${query}`);
  const show = (e: Event) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (from) q.set('from', from);
    if (to) q.set('to', to);
    setQuery(q.size > 0 ? `?${q}` : '');
  };
  const typeLabel = (type: string) => {
    const key = `type_${type}` as MessageKey;
    return t(key) ?? type;
  };
  return (
    <>
      <form class="row" onSubmit={show}>
        <label>
          {t('from')}{' '}
          <input type="date" value={from} onInput={(e) => setFrom((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label>
          {t('to')} <input type="date" value={to} onInput={(e) => setTo((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <button type="submit">{t('show')}</button>
      </form>
      <Async loaded={loaded}>
        {({ entries }) =>
          entries.length === 0 ? (
            <p>{t('noEntries')}</p>
          ) : (
            <>
              {entries.length > SHOWN && <p>{t('showingNewest', { n: SHOWN, total: entries.length })}</p>}
              <DataTable
                testId="timeline"
                rows={entries.slice(0, SHOWN)}
                rowKey={(e) => `${e.type}/${e.id}`}
                columns={[
                  { label: t('my_when'), cell: (e) => date(e.date?.slice(0, 10)) },
                  { label: t('my_kind'), cell: (e) => typeLabel(e.type) },
                  {
                    label: t('my_what'),
                    // Korean first where the hub knows the code's Korean name; else the record's own display.
                    cell: (e) => (lang === 'ko' ? (e.displayKo ?? e.display) : e.display),
                    rowHeader: true,
                  },
                  {
                    label: t('my_result'),
                    cell: (e) =>
                      e.value === null
                        ? ''
                        : `${typeof e.value === 'number' ? num(e.value, 1) : e.value} ${e.unit ?? ''}`,
                  },
                  // Only when some record is held at another hub: then each row says where.
                  ...(entries.some((e) => e.hub !== undefined)
                    ? [{ label: t('my_where'), cell: (e: Entry) => e.hub ?? t('hereHub') }]
                    : []),
                ]}
              />
            </>
          )
        }
      </Async>
    </>
  );
}

interface Risk {
  model: string;
  outcome: string;
  risk: number | null;
  notApplicable?: string;
  factors: { feature: string; value: number | null; typical: number; effect: number }[];
}

type Words = { ko: string; en: string };

/** A risk from one of the hub's own trained models: the server words each factor and change in both languages. */
interface TrainedRisk {
  model: string;
  title: string;
  risk: number | null;
  notAvailable?: Words;
  factors: { feature: string; say: Words }[];
  changes: { feature: string; say: Words }[];
}

/** The citizen's risks from the models served here, each with the factors that raise and lower it most. */
function RisksSection() {
  const { t, pct, num, lang } = useI18n();
  const risks = useApi<{
    risks: Risk[];
    trained?: TrainedRisk[];
    recordsFrom?: string[];
    peers?: { hub: string; reached: boolean; why?: string }[];
  }>('/me/risks');
  const say = (w: Words) => (lang === 'ko' ? w.ko : w.en);
  return (
    <Async loaded={risks}>
      {({ risks: list, trained = [], recordsFrom = [], peers = [] }) =>
        list.length === 0 && trained.length === 0 ? (
          <p>{t('noRisks')}</p>
        ) : (
          <>
            {/* Whose records the numbers stand on, and which hub holding some of them did not answer. */}
            <p data-testid="risks-from">{t('risksFrom', { hubs: recordsFrom.join(', ') })}</p>
            {peers
              .filter((p) => !p.reached)
              .map((p) => (
                <p key={p.hub} role="status" data-testid="risks-peer-missed">
                  {t('risksPeerMissed', { hub: p.hub, why: p.why ?? '' })}
                </p>
              ))}
            {trained.length > 0 && (
              <>
                <h3>{t('trainedRisks')}</h3>
                <ul data-testid="trained-risks">
                  {trained.map((r) => (
                    <li key={r.model}>
                      {r.risk === null
                        ? t('trainedNotAvailable', {
                            model: r.title,
                            reason: r.notAvailable ? say(r.notAvailable) : '',
                          })
                        : t('trainedRiskOf', { model: r.title, risk: pct(r.risk) })}
                      <ul>
                        {r.factors.slice(0, 3).map((f) => (
                          <li key={f.feature}>{say(f.say)}</li>
                        ))}
                        {r.changes.map((c) => (
                          <li key={`change-${c.feature}`}>{say(c.say)}</li>
                        ))}
                      </ul>
                    </li>
                  ))}
                </ul>
              </>
            )}
            {list.length > 0 && (
              <ul data-testid="risks">
                {list.map((r) => (
                  <li key={r.model}>
                    {r.risk === null
                      ? t('riskNotApplicable', { model: r.model, reason: r.notApplicable ?? '' })
                      : t('riskOf', { model: r.model, risk: pct(r.risk), outcome: r.outcome })}
                    <ul>
                      {r.factors.slice(0, 3).map((f) => (
                        <li key={f.feature}>
                          {t('factorLine', {
                            feature: f.feature,
                            value: num(f.value, 1),
                            typical: num(f.typical, 1),
                            direction: f.effect >= 0 ? t('raises') : t('lowers'),
                            points: num(Math.abs(f.effect) * 100, 1),
                          })}
                        </li>
                      ))}
                    </ul>
                  </li>
                ))}
              </ul>
            )}
          </>
        )
      }
    </Async>
  );
}

interface Plan {
  conditions: string[];
  targets: {
    id: string;
    because: string[];
    target: { max?: number; maxSecond?: number; min?: number; unit: string };
    latest: { value: number; second?: number; date: string } | null;
    status: string;
    nextDue: string | null;
  }[];
  screenings: { id: string; last: string | null; due: string; status: string; ask?: string }[];
}

/** The citizen's management plan: each target with its latest value, then the screenings due (GET /me/plan). */
function CarePlanSection() {
  const { t, num, date } = useI18n();
  const plan = useApi<Plan>('/me/plan');
  const key = (prefix: string, id: string) => `${prefix}_${id}` as MessageKey;
  const goal = (g: Plan['targets'][number]['target']) =>
    g.min !== undefined && g.max !== undefined
      ? `${num(g.min, 1)}–${num(g.max, 1)} ${g.unit}`
      : g.min !== undefined
        ? `≥ ${num(g.min)} ${g.unit}`
        : `< ${num(g.max ?? 0, 1)}${g.maxSecond !== undefined ? `/${num(g.maxSecond)}` : ''} ${g.unit}`;
  return (
    <Async loaded={plan}>
      {(p) => (
        <>
          <p>{t('planHelp')}</p>
          <DataTable
            testId="plan-targets"
            rows={p.targets}
            rowKey={(r) => r.id}
            columns={[
              { label: t('my_what'), cell: (r) => t(key('planTarget', r.id)), rowHeader: true },
              {
                label: t('planTarget'),
                cell: (r) =>
                  `${goal(r.target)}${
                    r.because.length > 0
                      ? ` — ${t('planBecause', { conditions: r.because.map((c) => t(key('planCondition', c))).join(', ') })}`
                      : ''
                  }`,
              },
              {
                label: t('planLatest'),
                cell: (r) =>
                  r.latest === null
                    ? '—'
                    : `${num(r.latest.value, 1)}${r.latest.second !== undefined ? `/${num(r.latest.second)}` : ''} (${date(r.latest.date)})`,
              },
              { label: t('planStatus'), cell: (r) => t(key('planStatus', r.status)) },
              { label: t('planNextDue'), cell: (r) => (r.nextDue === null ? '—' : date(r.nextDue)) },
            ]}
          />
          <h3>{t('planScreenings')}</h3>
          <DataTable
            testId="plan-screenings"
            rows={p.screenings}
            rowKey={(r) => r.id}
            columns={[
              {
                label: t('planScreenings'),
                cell: (r) =>
                  `${t(key('planScreening', r.id))}${r.ask === 'pack-years' ? ` (${t('planAskPackYears')})` : ''}`,
                rowHeader: true,
              },
              { label: t('planLast'), cell: (r) => (r.last === null ? t('planNone') : date(r.last)) },
              { label: t('planStatus'), cell: (r) => t(key('planStatus', r.status)) },
              { label: t('planDue'), cell: (r) => date(r.due) },
            ]}
          />
        </>
      )}
    </Async>
  );
}

interface Grant {
  id: string;
  app: string;
  expiresAt: string;
  revokedAt: string | null;
}

/** Apps the citizen lets read their record: grant one (its token shown once), see them, revoke one. */
function AppGrantsSection() {
  const { t, date } = useI18n();
  const grants = useApi<{ grants: Grant[] }>('/me/app-grants');
  const [app, setApp] = useState('');
  const [days, setDays] = useState('30');
  const [issued, setIssued] = useState<{ app: string; token: string } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const grant = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const g = await postJson<{ app: string; token: string }>('/me/app-grants', {
        app: app.trim(),
        days: Number(days),
      });
      setIssued({ app: g.app, token: g.token });
      setApp('');
      grants.reload();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  const revoke = async (id: string) => {
    setError(null);
    try {
      await apiDelete(`/me/app-grants/${encodeURIComponent(id)}`);
      grants.reload();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <>
      <p>{t('appsHelp')}</p>
      <form class="row" onSubmit={grant}>
        <label class="field">
          {t('grantApp')}
          <input value={app} onInput={(e) => setApp((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label class="field">
          {t('appDays')}
          <input
            type="number"
            min="1"
            max="90"
            value={days}
            onInput={(e) => setDays((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" disabled={app.trim() === ''}>
          {t('grant')}
        </button>
      </form>
      {issued && (
        <p role="status">
          {t('grantToken', { app: issued.app })} <code data-testid="app-token">{issued.token}</code>
        </p>
      )}
      <Async loaded={grants}>
        {({ grants: list }) =>
          list.length === 0 ? (
            <p>{t('noApps')}</p>
          ) : (
            <ul data-testid="app-grants">
              {list.map((g) => (
                <li key={g.id}>
                  {g.app}:{' '}
                  {g.revokedAt === null
                    ? t('appUntil', { date: date(g.expiresAt) })
                    : t('appRevoked', { date: date(g.revokedAt) })}{' '}
                  {g.revokedAt === null && (
                    <button type="button" onClick={() => void revoke(g.id)}>
                      {t('revoke')} {g.app}
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )
        }
      </Async>
      {error && <ErrorBox error={error} />}
    </>
  );
}

/** A citizen's own record: what is linked, enrolment, daily life, the timeline and downloads. */
export function MyRecordPage() {
  const { t, date } = useI18n();
  const me = useApi<Me>('/me');
  const lifelog = useApi<{ entries: Entry[] }>('/me/timeline?type=Observation');
  const [error, setError] = useState<ApiError | null>(null);
  const [enrolled, setEnrolled] = useState<string | null>(null);
  const onEnrolled = useMemo(
    () => (source: string) => {
      setEnrolled(source);
      me.reload();
      lifelog.reload();
    },
    [me.reload, lifelog.reload],
  );
  return (
    <div class="grid">
      <Section title={t('myRecords')} id="my-records">
        <Async loaded={me}>
          {(m) => (
            <>
              {m.records.length === 0 && (m.peerRecords ?? []).length === 0 ? (
                <p>{t('noRecordYet')}</p>
              ) : (
                <ul data-testid="linked-records">
                  {m.records.map((r) => (
                    <li key={`${r.source}-${r.linkedAt}`}>
                      {t('linkedFrom', { source: r.source, date: date(r.linkedAt) })}
                    </li>
                  ))}
                  {(m.peerRecords ?? []).map((r) => (
                    <li key={`${r.hub}-${r.source}-${r.linkedAt}`}>
                      {t('linkedFromHub', { source: r.source, hub: r.hub, date: date(r.linkedAt) })}
                    </li>
                  ))}
                </ul>
              )}
            </>
          )}
        </Async>
        {enrolled !== null && <p role="status">{t('enrolled', { source: enrolled })}</p>}
        <Enrol onEnrolled={onEnrolled} />
      </Section>
      <Section title={t('lifelog')} id="lifelog">
        <Async loaded={lifelog}>{({ entries }) => <Lifelog entries={entries} />}</Async>
      </Section>
      <Section title={t('timeline')} id="timeline" wide>
        <Timeline key={enrolled ?? 'before-enrolment'} />
      </Section>
      <Section title={t('myPlan')} id="plan" wide>
        <CarePlanSection key={enrolled ?? 'before-enrolment'} />
      </Section>
      <Section title={t('myRisks')} id="risks">
        <RisksSection key={enrolled ?? 'before-enrolment'} />
      </Section>
      <Section title={t('apps')} id="apps">
        <AppGrantsSection />
      </Section>
      <Section title={t('download')} id="download">
        <p>{t('downloadHelp')}</p>
        <div class="row">
          <button
            type="button"
            onClick={() =>
              fetchBlob('/me/$everything')
                .then((b) => saveBlob(b, 'my-record.json'))
                .catch(setError)
            }
          >
            {t('downloadFhir')}
          </button>
          <button
            type="button"
            onClick={() =>
              fetchBlob('/me/export.csv')
                .then((b) => saveBlob(b, 'my-record.csv'))
                .catch(setError)
            }
          >
            {t('downloadCsv')}
          </button>
        </div>
        {error && <ErrorBox error={error} />}
      </Section>
    </div>
  );
}
