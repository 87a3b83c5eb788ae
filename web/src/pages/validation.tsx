import { useState } from 'preact/hooks';
import type { ConsolePolicy } from '../../../src/server/api-schemas.js';
import { type ApiError, api, fetchBlob, postJson, saveBlob } from '../api.js';
import { Async, Count, DataTable, ErrorBox, Section, useApi } from '../components.js';
import { useI18n } from '../i18n.js';
import type { MessageKey } from '../messages.js';

/** A submission as `GET /validation/submissions[/{id}]` answers it. */
interface Submission {
  id: string;
  name: string;
  version: string;
  submittedBy: string;
  status: 'submitted' | 'validating' | 'validated' | 'failed' | 'approved' | 'recalled';
  failure: { code: string; message: string } | null;
  decision: { by: string; comment: string } | null;
}
/** The few figures of the signed report the page shows; the whole report is in the downloads. */
interface ReportAnswer {
  run: number;
  report: {
    sampleSize: { n: number | null; events: number | null };
    discrimination: { auroc: number | null; aurocCi: [number | null, number | null] | null };
    calibration: { intercept: number | null; slope: number | null };
    verdict: { claims: 'supported' | 'not supported' | 'inconclusive'; summary: string };
  };
}
interface DriftAnswer {
  status: 'no-baseline' | 'too-few-predictions' | 'stable' | 'alert';
  window: { days: number };
  psiLimit: number;
  predictions: number | null;
  score: { psi: number | null; drifted: boolean };
  features: { name: string; psi: number | null; drifted: boolean }[];
  calibration: { available: boolean; reason: string };
}

const VALIDATORS = ['admin', 'steward', 'validator'];

function bytesBase64(file: File): Promise<string> {
  return file.arrayBuffer().then((b) => {
    let s = '';
    for (const byte of new Uint8Array(b)) s += String.fromCharCode(byte);
    return btoa(s);
  });
}

/** A developer uploads an ONNX model and its manifest (docs/validation.md); the hub tries it once before storing. */
export function SubmitModelPage() {
  const { t } = useI18n();
  const [model, setModel] = useState<File | null>(null);
  const [manifest, setManifest] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!model || !manifest) return;
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const parsed: unknown = JSON.parse(await manifest.text());
      const s = await postJson<Submission>('/validation/submissions', {
        manifest: parsed,
        model: await bytesBase64(model),
      });
      setDone(t('submitted', { name: s.name, version: s.version, status: t(`vstatus_${s.status}` as MessageKey) }));
    } catch (err) {
      setError(err instanceof SyntaxError ? err.message : (err as ApiError));
    }
    setBusy(false);
  };
  return (
    <Section title={t('navSubmitModel')}>
      <form onSubmit={submit}>
        <label for="model-file">{t('modelFile')}</label>
        <input
          id="model-file"
          type="file"
          accept=".onnx"
          onChange={(e) => setModel((e.currentTarget as HTMLInputElement).files?.[0] ?? null)}
        />
        <label for="manifest-file">{t('manifestFile')}</label>
        <input
          id="manifest-file"
          type="file"
          accept=".json,application/json"
          onChange={(e) => setManifest((e.currentTarget as HTMLInputElement).files?.[0] ?? null)}
        />
        <button type="submit" disabled={busy || !model || !manifest}>
          {busy ? t('submitting') : t('submitModel')}
        </button>
      </form>
      {done && <p role="status">{done}</p>}
      {error && <ErrorBox error={error} />}
    </Section>
  );
}

/** The signed report's headline figures and its downloads (JSON, HTML, the signed file, PDF). */
function ReportView({ id }: { id: string }) {
  const { t, num } = useI18n();
  const report = useApi<ReportAnswer>(`/validation/submissions/${encodeURIComponent(id)}/report`);
  const [error, setError] = useState<ApiError | null>(null);
  const base = `/validation/submissions/${encodeURIComponent(id)}/report`;
  const download = (query: string, file: string) =>
    fetchBlob(`${base}${query}`)
      .then((b) => saveBlob(b, file))
      .catch(setError);
  if (report.state === 'error' && report.error.code === 'VALIDATION_NOT_FOUND') return <p>{t('noReport')}</p>;
  return (
    <Async loaded={report}>
      {({ report: r }) => (
        <div data-testid="validation-report">
          <h3>{t('report')}</h3>
          <p>
            <strong>{t('verdict')}: </strong>
            {t(`claims_${r.verdict.claims}` as MessageKey)}
          </p>
          <p>{r.verdict.summary}</p>
          <dl class="facts">
            <dt>{t('reportPeople')}</dt>
            <dd>
              <Count value={r.sampleSize.n} />
            </dd>
            <dt>{t('reportEvents')}</dt>
            <dd>
              <Count value={r.sampleSize.events} />
            </dd>
            <dt>{t('reportAuroc')}</dt>
            <dd>
              {num(r.discrimination.auroc, 3)} ({num(r.discrimination.aurocCi?.[0], 3)}–
              {num(r.discrimination.aurocCi?.[1], 3)})
            </dd>
            <dt>{t('reportIntercept')}</dt>
            <dd>{num(r.calibration.intercept, 3)}</dd>
            <dt>{t('reportSlope')}</dt>
            <dd>{num(r.calibration.slope, 3)}</dd>
          </dl>
          <p class="actions">
            <button
              type="button"
              onClick={() =>
                api<unknown>(base)
                  .then((j) =>
                    saveBlob(new Blob([JSON.stringify(j, null, 2)], { type: 'application/json' }), `${id}.json`),
                  )
                  .catch(setError)
              }
            >
              {t('downloadJson')}
            </button>
            <button type="button" onClick={() => download('?format=html', `${id}.html`)}>
              {t('downloadHtml')}
            </button>
            <button type="button" onClick={() => download('?format=jws', `${id}.jws`)}>
              {t('downloadJws')}
            </button>
            <button type="button" onClick={() => download('?format=pdf', `${id}.pdf`)}>
              {t('downloadPdf')}
            </button>
          </p>
          {error && <ErrorBox error={error} />}
        </div>
      )}
    </Async>
  );
}

/** The served version's drift against its validation population, with the alert when past the hub's limit. */
function DriftView({ id }: { id: string }) {
  const { t, num } = useI18n();
  const drift = useApi<DriftAnswer>(`/validation/submissions/${encodeURIComponent(id)}/drift`);
  return (
    <Async loaded={drift}>
      {(d) => (
        <div data-testid="validation-drift">
          <h3>{t('drift')}</h3>
          <p role={d.status === 'alert' ? 'alert' : undefined} class={d.status === 'alert' ? 'bad' : undefined}>
            {t(`driftStatus_${d.status}` as MessageKey)}
          </p>
          <p>
            {t('driftPredictions', { days: d.window.days })}
            <Count value={d.predictions} />
          </p>
          {d.features.length > 0 && (
            <DataTable
              rows={[{ name: t('driftScore'), psi: d.score.psi, drifted: d.score.drifted }, ...d.features]}
              rowKey={(f) => f.name}
              columns={[
                { label: t('driftSeries'), cell: (f) => f.name, rowHeader: true },
                { label: t('driftPsi', { limit: d.psiLimit }), cell: (f) => num(f.psi, 3), numeric: true },
                { label: t('driftFlag'), cell: (f) => (f.drifted ? t('yes') : t('no')) },
              ]}
            />
          )}
          {!d.calibration.available && <p>{t('driftCalibration')}</p>}
        </div>
      )}
    </Async>
  );
}

/** One submission: its status, the validator's actions, its report and, once served, its drift. */
function SubmissionView({ id, role, onChange }: { id: string; role: string; onChange: () => void }) {
  const { t } = useI18n();
  const [round, setRound] = useState(0);
  const sub = useApi<Submission>(`/validation/submissions/${encodeURIComponent(id)}?r=${round}`);
  const [busy, setBusy] = useState(false);
  const [comment, setComment] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const act = async (path: string, body: unknown) => {
    setBusy(true);
    setError(null);
    try {
      await postJson(`/validation/submissions/${encodeURIComponent(id)}/${path}`, body);
    } catch (e) {
      setError(e as ApiError);
    }
    setBusy(false);
    setRound((r) => r + 1);
    onChange();
  };
  const validator = VALIDATORS.includes(role);
  return (
    <Async loaded={sub}>
      {(s) => (
        <Section title={`${s.name} ${s.version}`} id="submission-title" wide>
          <p data-testid="submission-status">
            {t('modelStatus')}: <strong>{t(`vstatus_${s.status}` as MessageKey)}</strong>
          </p>
          {s.failure && <p class="bad">{t('failedWith', { code: s.failure.code, message: s.failure.message })}</p>}
          {s.decision && <p>{t('decidedBy', { by: s.decision.by, comment: s.decision.comment })}</p>}
          {validator && ['submitted', 'failed', 'validated'].includes(s.status) && (
            <button type="button" disabled={busy} onClick={() => void act('validate', {})}>
              {busy ? t('validating') : t('runValidation')}
            </button>
          )}
          {['validated', 'approved', 'recalled'].includes(s.status) && <ReportView key={round} id={s.id} />}
          {validator && ['validated', 'approved'].includes(s.status) && (
            <form onSubmit={(e) => e.preventDefault()}>
              <label for="decision-comment">{t('decisionReason')}</label>
              <input
                id="decision-comment"
                value={comment}
                onInput={(e) => setComment((e.currentTarget as HTMLInputElement).value)}
              />
              {s.status === 'validated' && (
                <button
                  type="button"
                  disabled={busy || comment === ''}
                  onClick={() => void act('approve', { comment })}
                >
                  {t('approveModel')}
                </button>
              )}
              <button type="button" disabled={busy || comment === ''} onClick={() => void act('recall', { comment })}>
                {t('recallModel')}
              </button>
            </form>
          )}
          {['approved', 'recalled'].includes(s.status) && <DriftView key={round} id={s.id} />}
          {error && <ErrorBox error={error} />}
        </Section>
      )}
    </Async>
  );
}

/** The hub's submissions (a developer's own), each opened to follow its validation, report, decision and drift. */
export function ValidationsPage() {
  const { t } = useI18n();
  const policy = useApi<ConsolePolicy>('/console/policy');
  const [round, setRound] = useState(0);
  const list = useApi<{ submissions: Submission[] }>(`/validation/submissions?r=${round}`);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <Async loaded={policy}>
      {(p) => (
        <>
          <Section title={t('submissions')} wide>
            <Async loaded={list}>
              {({ submissions }) =>
                submissions.length === 0 ? (
                  <p>{t('noSubmissions')}</p>
                ) : (
                  <DataTable
                    testId="submissions"
                    rows={submissions}
                    rowKey={(s) => s.id}
                    columns={[
                      { label: t('modelName'), cell: (s) => s.name, rowHeader: true },
                      { label: t('modelVersion'), cell: (s) => s.version },
                      { label: t('modelStatus'), cell: (s) => t(`vstatus_${s.status}` as MessageKey) },
                      { label: t('submittedBy'), cell: (s) => s.submittedBy },
                      {
                        label: t('openSubmission'),
                        cell: (s) => (
                          <button type="button" onClick={() => setOpen(s.id)}>
                            {t('openSubmission')}
                          </button>
                        ),
                      },
                    ]}
                  />
                )
              }
            </Async>
          </Section>
          {open && <SubmissionView key={open} id={open} role={p.you.role} onChange={() => setRound((r) => r + 1)} />}
        </>
      )}
    </Async>
  );
}

/** Anyone checks a report file against this hub's identity: valid or invalid, and why. */
export function VerifyReportPage() {
  const { t } = useI18n();
  const [file, setFile] = useState<File | null>(null);
  const [answer, setAnswer] = useState<{ ok: boolean; text: string } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const verify = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setError(null);
    setAnswer(null);
    const text = (await file.text()).trim();
    // A .jws file is the signed report itself; the JSON the report route answers carries it as `jws`.
    let jws = text;
    if (text.startsWith('{')) {
      try {
        jws = String((JSON.parse(text) as { jws?: unknown }).jws ?? '');
      } catch {
        jws = text;
      }
    }
    try {
      const v = await postJson<{ valid: boolean; hub: string; kid?: string; reason?: string }>(
        '/validation/reports/verify',
        { jws },
      );
      setAnswer(
        v.valid
          ? { ok: true, text: t('reportValid', { hub: v.hub, kid: v.kid ?? '' }) }
          : { ok: false, text: t('reportInvalid', { reason: v.reason ?? '' }) },
      );
    } catch (err) {
      // A file that is not a signed report at all (the hub refuses its form) is not valid either.
      const e = err as ApiError;
      if (e.status === 400) setAnswer({ ok: false, text: t('reportInvalid', { reason: e.message }) });
      else setError(e);
    }
  };
  return (
    <Section title={t('navVerifyReport')}>
      <form onSubmit={verify}>
        <label for="report-file">{t('reportFile')}</label>
        <input
          id="report-file"
          type="file"
          onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)}
        />
        <button type="submit" disabled={!file}>
          {t('verifyReport')}
        </button>
      </form>
      {answer && (
        <p role="status" class={answer.ok ? 'good' : 'bad'}>
          {answer.text}
        </p>
      )}
      {error && <ErrorBox error={error} />}
    </Section>
  );
}
