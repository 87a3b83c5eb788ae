import { useState } from 'preact/hooks';
import type { UploadQuery, UploadResult } from '../../../src/server/api-schemas.js';
import { ApiError, upload } from '../api.js';
import { DataTable, ErrorBox, Section } from '../components.js';
import { useI18n } from '../i18n.js';

type FileState =
  | { name: string; state: 'waiting' }
  | { name: string; state: 'uploading'; fraction: number }
  | { name: string; state: 'done'; result: UploadResult }
  | { name: string; state: 'failed'; error: ApiError };

function Report({ r }: { r: UploadResult }) {
  const { t, num } = useI18n();
  return (
    <>
      <p class={r.totals.rejected > 0 ? 'bad' : 'ok'} data-testid="upload-summary">
        {t('uploadDone', {
          name: r.name,
          created: num(r.totals.created),
          updated: num(r.totals.updated),
          unchanged: num(r.totals.unchanged),
          rejected: num(r.totals.rejected),
        })}
      </p>
      <DataTable
        rows={Object.entries(r.byType)}
        rowKey={([type]) => type}
        columns={[
          { label: t('resourceType'), rowHeader: true, cell: ([type]) => type },
          { label: t('created_'), numeric: true, cell: ([, c]) => num(c.created) },
          { label: t('updated_'), numeric: true, cell: ([, c]) => num(c.updated) },
          { label: t('unchanged_'), numeric: true, cell: ([, c]) => num(c.unchanged) },
          { label: t('rejected'), numeric: true, cell: ([, c]) => num(c.rejected) },
        ]}
      />
      {r.rejects.length > 0 && (
        <DataTable
          testId="rejects"
          caption={t('rejectsReport', { name: r.name })}
          rows={r.rejects.map((x, i) => ({ ...x, i }))}
          rowKey={(x) => x.i}
          columns={[
            {
              label: t('where'),
              cell: (x) =>
                `${x.line !== undefined ? t('atLine', { n: x.line }) : x.entry !== undefined ? t('atEntry', { n: x.entry }) : ''}${x.path ? ` · ${x.path}` : ''}`,
            },
            { label: t('resourceType'), cell: (x) => x.resourceType ?? '—' },
            { label: t('code'), cell: (x) => <code>{x.code}</code> },
            { label: t('reason'), cell: (x) => x.message },
          ]}
        />
      )}
    </>
  );
}

/** Upload FHIR files one after another, each with its progress, then its counts and rejects. */
export function IngestPage() {
  const { t, pct } = useI18n();
  const [files, setFiles] = useState<File[]>([]);
  const [source, setSource] = useState('');
  const [states, setStates] = useState<FileState[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const set = (i: number, s: FileState) => setStates((all) => all.map((x, j) => (j === i ? s : x)));
  const submit = async (e: Event) => {
    e.preventDefault();
    if (files.length === 0) {
      setError(t('chooseFiles'));
      return;
    }
    setError(null);
    setBusy(true);
    setStates(files.map((f) => ({ name: f.name, state: 'waiting' })));
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      const query: UploadQuery = { name: f.name, ...(source.trim() && { source: source.trim() }) };
      const params = new URLSearchParams(query as Record<string, string>);
      set(i, { name: f.name, state: 'uploading', fraction: 0 });
      try {
        const result = await upload<UploadResult>(`/console/ingest?${params}`, f, (fraction) =>
          set(i, { name: f.name, state: 'uploading', fraction }),
        );
        set(i, { name: f.name, state: 'done', result });
      } catch (err) {
        set(i, {
          name: f.name,
          state: 'failed',
          error: err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err)),
        });
      }
    }
    setBusy(false);
  };
  return (
    <>
      <Section title={t('uploadTitle')} id="upload">
        <p>{t('uploadHelp')}</p>
        <form onSubmit={submit}>
          <div class="field">
            <label for="files">{t('files')}</label>
            <input
              id="files"
              type="file"
              multiple
              accept=".json,.ndjson,.jsonl,.gz,application/json,application/fhir+json"
              onChange={(e) => setFiles([...((e.currentTarget as HTMLInputElement).files ?? [])])}
            />
          </div>
          <div class="field">
            <label for="source">{t('sourceName')}</label>
            <input
              id="source"
              value={source}
              placeholder="default"
              onInput={(e) => setSource((e.currentTarget as HTMLInputElement).value)}
            />
          </div>
          <button type="submit" class="primary" disabled={busy}>
            {t('upload')}
          </button>
          {error && <ErrorBox error={error} />}
        </form>
      </Section>
      {states.map((s, i) => (
        <Section key={i} title={s.name} id={`file-${i}`}>
          {s.state === 'waiting' && <p class="muted">…</p>}
          {s.state === 'uploading' && (
            <div role="status" aria-live="polite">
              <progress max={1} value={s.fraction} aria-label={s.name} />{' '}
              {s.fraction < 1
                ? t('uploading', { name: s.name, pct: pct(s.fraction) })
                : t('processing', { name: s.name })}
            </div>
          )}
          {s.state === 'done' && <Report r={s.result} />}
          {s.state === 'failed' && <ErrorBox error={s.error} />}
        </Section>
      ))}
    </>
  );
}
