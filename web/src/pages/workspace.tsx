import { useEffect, useState } from 'preact/hooks';
import { type ApiError, api, fetchBlob, postJson, saveBlob } from '../api.js';
import { Async, Count, DataTable, ErrorBox, Section, useApi } from '../components.js';
import { useI18n } from '../i18n.js';
import type { MessageKey } from '../messages.js';
import { WorkspaceForecast } from './workspace-forecast.js';

interface ProjectSummary {
  id: string;
  title: string;
  decision: string | null;
}
interface ProjectView {
  id: string;
  title: string;
  hubs: { hub: string; decision: string }[];
}
interface ReleasedTable {
  rows: string[];
  columns: string[];
  cells: (number | null)[][];
}
interface FederatedTabulation {
  hubs: { hub: string; table: ReleasedTable }[];
  failed: { hub: string }[];
  pooled: ReleasedTable | null;
}
interface HubCohort {
  hub: string;
  persons: number | null;
  ageSex: ReleasedTable;
}
interface CohortAnswer {
  hubs?: HubCohort[];
  hub?: string;
  persons?: number | null;
  ageSex?: ReleasedTable;
}
interface Output {
  id: string;
  title: string;
  kind: string;
  requester: string;
  status: 'released' | 'awaiting-review' | 'denied';
  comment: string | null;
  mediaType: string;
}

const EXAMPLE = JSON.stringify(
  {
    name: 'outpatients',
    conceptSets: { amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] } },
    entry: { domain: 'encounter', conceptSet: 'amb' },
  },
  null,
  2,
);
const GRANTED = new Set(['approved', 'approved-with-conditions']);
const EXTENSION: Record<string, string> = { table: 'csv', 'model-card': 'json', forecast: 'json' };

/**
 * A small logistic model to start from: a first ankle sprain within 5 years from age, sex and systolic pressure, an
 * outcome common enough that a hub of a few dozen people has the events its disclosure rules ask for.
 */
const MODEL_EXAMPLE = JSON.stringify(
  {
    model: 'sprain-workspace',
    name: 'Ankle sprain within 5 years',
    conceptSets: {
      sprain: { concepts: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'S93.4' }] },
      sbp: { concepts: [{ system: 'http://loinc.org', code: '8480-6' }] },
    },
    population: { indexDate: '2019-01-01' },
    outcome: { name: 'ankle sprain', domain: 'condition', conceptSet: 'sprain', horizonDays: 1826 },
    features: [
      { name: 'age', kind: 'age' },
      { name: 'male', kind: 'sex', value: 'male' },
      { name: 'sbp', kind: 'mean', conceptSet: 'sbp', window: { end: 0 }, missing: 'indicator' },
    ],
    learner: { kind: 'logistic', l2: 1 },
    split: { testFraction: 0.3, seed: 1 },
    card: { title: 'Ankle sprain, 5-year risk', intendedUse: 'research', limitations: ['workspace model'] },
  },
  null,
  2,
);

interface TrainedModel {
  id: string;
  version: number | null;
  hubs: string[];
  card: { trainingData?: { rows?: number | null } };
}
interface ModelListing {
  id: string;
  latestVersion: number | null;
  title: string;
  project?: string;
}

function bytesBase64(file: File): Promise<string> {
  return file.arrayBuffer().then((b) => {
    let s = '';
    for (const byte of new Uint8Array(b)) s += String.fromCharCode(byte);
    return btoa(s);
  });
}

/** A project's outputs: each with its status and decision, released ones downloadable. */
function Outputs({ projectId, round }: { projectId: string; round: number }) {
  const { t } = useI18n();
  const outputs = useApi<Output[]>(`/projects/${encodeURIComponent(projectId)}/outputs?r=${round}`);
  const [error, setError] = useState<ApiError | null>(null);
  return (
    <Async loaded={outputs}>
      {(list) =>
        list.length === 0 ? (
          <p>{t('noOutputs')}</p>
        ) : (
          <>
            <DataTable
              testId="outputs"
              rows={list}
              rowKey={(o) => o.id}
              columns={[
                { label: t('outputTitle'), cell: (o) => o.title, rowHeader: true },
                { label: t('outputState'), cell: (o) => t(`outputStatus_${o.status}` as MessageKey) },
                { label: t('outputComment'), cell: (o) => o.comment ?? '' },
                {
                  label: t('downloadOutput'),
                  cell: (o) =>
                    o.status === 'released' ? (
                      <button
                        type="button"
                        onClick={() =>
                          fetchBlob(`/outputs/${o.id}/download`)
                            .then((b) => saveBlob(b, `${o.title}.${EXTENSION[o.kind] ?? 'img'}`))
                            .catch(setError)
                        }
                      >
                        {t('downloadOutput')}
                      </button>
                    ) : (
                      ''
                    ),
                },
              ]}
            />
            {error && <ErrorBox error={error} />}
          </>
        )
      }
    </Async>
  );
}

/** A view tabulated inside the workspace: people counted by approved columns, as the release gate publishes them. */
function Tabulation({
  base,
  hubs,
  askOutput,
}: {
  base: string;
  hubs: readonly string[];
  askOutput: (body: unknown) => Promise<void>;
}) {
  const { t } = useI18n();
  const [missing, setMissing] = useState<string[]>([]);
  const [view, setView] = useState('');
  const [rows, setRows] = useState('');
  const [columns, setColumns] = useState('');
  const [table, setTable] = useState<ReleasedTable | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setTable(null);
    setMissing([]);
    try {
      const res = await postJson<ReleasedTable | FederatedTabulation>(`${base}/views/$tabulate`, {
        view: view.trim(),
        rows: rows.trim(),
        ...(columns.trim() !== '' && { columns: columns.trim() }),
        hubs,
      });
      // One hub answers with its table; several with each hub's table and their sum, which is what is shown.
      if ('pooled' in res) {
        setMissing(res.failed.map((f) => f.hub));
        setTable(res.pooled ?? { rows: [], columns: [], cells: [] });
      } else setTable(res);
    } catch (err) {
      setError(err as ApiError);
    }
  };
  const text = (label: MessageKey, value: string, set: (v: string) => void) => (
    <label class="field">
      {t(label)}
      <input value={value} onInput={(e) => set((e.currentTarget as HTMLInputElement).value)} />
    </label>
  );
  return (
    <Section title={t('tabulateView')} id="tabulate-view">
      <p>{t('tabulateAt', { hubs: hubs.join(', ') })}</p>
      <form onSubmit={submit}>
        {text('tabulateViewName', view, setView)}
        {text('tabulateRows', rows, setRows)}
        {text('tabulateColumns', columns, setColumns)}
        <button type="submit" disabled={view.trim() === '' || rows.trim() === '' || hubs.length === 0}>
          {t('tabulate')}
        </button>
      </form>
      {missing.length > 0 && <p role="alert">{t('tabulateNoAnswer', { hubs: missing.join(', ') })}</p>}
      {table && (
        <>
          <table data-testid="tabulation">
            <thead>
              <tr>
                <th />
                {table.columns.map((c) => (
                  <th key={c} scope="col">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {table.rows.map((r, i) => (
                <tr key={r}>
                  <th scope="row">{r}</th>
                  {table.columns.map((c, j) => (
                    <td key={c}>
                      <Count value={table.cells[i]?.[j] ?? null} />
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {table.cells.every((row) => row.every((c) => c !== null)) && (
            <button
              type="button"
              onClick={() =>
                void askOutput({
                  kind: 'table',
                  title: `${view.trim()}: ${rows.trim()}${columns.trim() === '' ? '' : ` × ${columns.trim()}`} at ${hubs.join(', ')}`,
                  table: { rows: table.rows, columns: table.columns, cells: table.cells },
                  source: { analysis: 'view', reference: view.trim() },
                })
              }
            >
              {t('askReleaseTable')}
            </button>
          )}
        </>
      )}
      {error && <ErrorBox error={error} />}
    </Section>
  );
}

/** Hubs to run at: those that approved the project, all chosen at first. */
export function HubChoice({
  approved,
  chosen,
  set,
}: {
  approved: string[];
  chosen: string[];
  set: (h: string[]) => void;
}) {
  const { t } = useI18n();
  return (
    <fieldset>
      <legend>{t('runAt')}</legend>
      {approved.map((h) => (
        <label key={h} class="choice">
          <input
            type="checkbox"
            checked={chosen.includes(h)}
            onChange={(e) =>
              set((e.currentTarget as HTMLInputElement).checked ? [...chosen, h] : chosen.filter((x) => x !== h))
            }
          />
          {h}
        </label>
      ))}
    </fieldset>
  );
}

/**
 * A model trained inside the project, on this hub or across the hubs that approved it: registered in the project,
 * so only its members see it here; its card leaves the workspace only as an output.
 */
function ModelTraining({
  base,
  projectId,
  approvedHubs,
  askOutput,
}: {
  base: string;
  projectId: string;
  approvedHubs: string[];
  askOutput: (body: unknown) => Promise<void>;
}) {
  const { t } = useI18n();
  const [spec, setSpec] = useState(MODEL_EXAMPLE);
  const [hubs, setHubs] = useState<string[]>(approvedHubs);
  const [busy, setBusy] = useState(false);
  const [trained, setTrained] = useState<TrainedModel | null>(null);
  const [error, setError] = useState<ApiError | string | null>(null);
  const [round, setRound] = useState(0);
  const models = useApi<{ models: ModelListing[] }>(`/models?r=${round}`);
  const train = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setTrained(null);
    try {
      const parsed: unknown = JSON.parse(spec);
      setTrained(await postJson<TrainedModel>(`${base}/models/$train`, { spec: parsed, hubs }));
      setRound((r) => r + 1);
    } catch (err) {
      setError(err instanceof SyntaxError ? err.message : (err as ApiError));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title={t('trainModel')} id="train-model">
      <form onSubmit={train}>
        <label class="field">
          {t('trainingSpec')}
          <textarea rows={8} value={spec} onInput={(e) => setSpec((e.currentTarget as HTMLTextAreaElement).value)} />
        </label>
        <HubChoice approved={approvedHubs} chosen={hubs} set={setHubs} />
        <button type="submit" disabled={busy || hubs.length === 0}>
          {busy ? t('wsTraining') : t('wsTrain')}
        </button>
      </form>
      {trained && (
        <p role="status" data-testid="trained-model">
          {t('modelTrained', {
            model: trained.id,
            version: String(trained.version ?? '?'),
            hubs: trained.hubs.join(', '),
          })}{' '}
          <Count value={trained.card.trainingData?.rows ?? null} />
        </p>
      )}
      {error && <ErrorBox error={error} />}
      <Async loaded={models}>
        {(m) => {
          const mine = m.models.filter((x) => x.project === projectId);
          return mine.length === 0 ? (
            <p>{t('noProjectModels')}</p>
          ) : (
            <DataTable
              testId="project-models"
              rows={mine}
              rowKey={(x) => x.id}
              columns={[
                { label: t('projectModel'), cell: (x) => x.id, rowHeader: true },
                { label: t('figureTitle'), cell: (x) => x.title },
                { label: t('modelVersion'), cell: (x) => String(x.latestVersion ?? '') },
                {
                  label: t('askReleaseCard'),
                  cell: (x) => (
                    <button
                      type="button"
                      onClick={() =>
                        void askOutput({
                          kind: 'model-card',
                          title: t('modelCardOf', { model: x.id }),
                          model: x.id,
                          source: { analysis: 'model', reference: x.id },
                        })
                      }
                    >
                      {t('askReleaseCard')}
                    </button>
                  ),
                },
              ]}
            />
          );
        }}
      </Async>
    </Section>
  );
}

/** One approved project's workspace: run a cohort across its hubs, ask for outputs, follow them. */
function ProjectWorkspace({ project }: { project: ProjectView }) {
  const { t } = useI18n();
  const approvedHubs = project.hubs.filter((h) => GRANTED.has(h.decision)).map((h) => h.hub);
  const [definition, setDefinition] = useState(EXAMPLE);
  const [hubs, setHubs] = useState<string[]>(approvedHubs);
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<HubCohort[] | null>(null);
  const [error, setError] = useState<ApiError | string | null>(null);
  const [asked, setAsked] = useState<string | null>(null);
  const [round, setRound] = useState(0);
  const [figureTitle, setFigureTitle] = useState('');
  const [figure, setFigure] = useState<File | null>(null);
  const base = `/projects/${encodeURIComponent(project.id)}`;
  const askOutput = async (body: unknown) => {
    setError(null);
    try {
      const out = await postJson<Output>(`${base}/outputs`, body);
      setAsked(t('outputAsked', { title: out.title, status: t(`outputStatus_${out.status}` as MessageKey) }));
    } catch (e) {
      setError(e as ApiError);
    }
    setRound((r) => r + 1);
  };
  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const parsed: unknown = JSON.parse(definition);
      const res = await postJson<CohortAnswer>(`${base}/cohort/$run`, { definition: parsed, hubs });
      setAnswer(res.hubs ?? [{ hub: res.hub!, persons: res.persons ?? null, ageSex: res.ageSex! }]);
    } catch (err) {
      setError(err instanceof SyntaxError ? err.message : (err as ApiError));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Section title={t('runCohort')} id="run-cohort">
        <form onSubmit={run}>
          <label class="field">
            {t('cohortDefinition')}
            <textarea
              rows={8}
              value={definition}
              onInput={(e) => setDefinition((e.currentTarget as HTMLTextAreaElement).value)}
            />
          </label>
          <HubChoice approved={approvedHubs} chosen={hubs} set={setHubs} />
          <button type="submit" disabled={busy || hubs.length === 0}>
            {busy ? t('wsRunning') : t('wsRun')}
          </button>
        </form>
        {answer && (
          <ul data-testid="cohort-answer">
            {answer.map((h) => (
              <li key={h.hub}>
                {h.hub}: <Count value={h.persons} />{' '}
                {h.ageSex.cells.every((row) => row.every((c) => c !== null)) && (
                  <button
                    type="button"
                    onClick={() =>
                      void askOutput({
                        kind: 'table',
                        title: `${h.hub}: age by sex`,
                        table: { rows: h.ageSex.rows, columns: h.ageSex.columns, cells: h.ageSex.cells },
                        source: { analysis: 'cohort', reference: h.hub },
                      })
                    }
                  >
                    {t('askRelease', { hub: h.hub })}
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Tabulation base={base} hubs={hubs} askOutput={askOutput} />
      <ModelTraining base={base} projectId={project.id} approvedHubs={approvedHubs} askOutput={askOutput} />
      <WorkspaceForecast base={base} approvedHubs={approvedHubs} askOutput={askOutput} />
      <Section title={t('askFigure')} id="ask-figure">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (figure === null) return;
            void bytesBase64(figure).then((data) =>
              askOutput({
                kind: 'figure',
                title: figureTitle,
                mediaType: figure.type === 'image/svg+xml' ? 'image/svg+xml' : 'image/png',
                data,
                source: { analysis: 'workspace' },
              }),
            );
          }}
        >
          <label class="field">
            {t('figureTitle')}
            <input value={figureTitle} onInput={(e) => setFigureTitle((e.currentTarget as HTMLInputElement).value)} />
          </label>
          <label class="field">
            {t('figureFile')}
            <input
              type="file"
              accept="image/png,image/svg+xml"
              onChange={(e) => setFigure((e.currentTarget as HTMLInputElement).files?.[0] ?? null)}
            />
          </label>
          <button type="submit" disabled={figure === null || figureTitle.trim() === ''}>
            {t('askFigure')}
          </button>
        </form>
      </Section>
      {asked && <p role="status">{asked}</p>}
      {error && <ErrorBox error={error} />}
      <Section title={t('outputs')} id="outputs" wide>
        <Outputs projectId={project.id} round={round} />
      </Section>
    </>
  );
}

/** The workspace of a member's approved projects (research hubs). */
export function WorkspacePage() {
  const { t } = useI18n();
  const projects = useApi<ProjectSummary[]>('/projects');
  const [chosen, setChosen] = useState<string | null>(null);
  return (
    <Async loaded={projects}>
      {(list) => {
        const approved = list.filter((p) => p.decision === null || GRANTED.has(p.decision));
        if (approved.length === 0) return <p>{t('noApprovedProject')}</p>;
        const id = chosen ?? approved[0]!.id;
        return (
          <>
            <label class="field">
              {t('workspaceProject')}
              <select value={id} onChange={(e) => setChosen((e.currentTarget as HTMLSelectElement).value)}>
                {approved.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.title}
                  </option>
                ))}
              </select>
            </label>
            <ProjectLoader key={id} id={id} />
          </>
        );
      }}
    </Async>
  );
}

function ProjectLoader({ id }: { id: string }) {
  const project = useApi<ProjectView>(`/projects/${encodeURIComponent(id)}`);
  return <Async loaded={project}>{(p) => <ProjectWorkspace project={p} />}</Async>;
}

/** A steward's queue of outputs the rules do not cover: look at each, release or deny it with a comment. */
export function OutputsReviewPage() {
  const { t } = useI18n();
  const [round, setRound] = useState(0);
  const queue = useApi<Output[]>(`/outputs/awaiting-review?r=${round}`);
  return (
    <Async loaded={queue}>
      {(list) =>
        list.length === 0 ? (
          <p>{t('awaitingNone')}</p>
        ) : (
          <div class="grid">
            {list.map((o) => (
              <OutputDecision key={o.id} output={o} onDone={() => setRound((r) => r + 1)} />
            ))}
          </div>
        )
      }
    </Async>
  );
}

function OutputDecision({ output, onDone }: { output: Output; onDone: () => void }) {
  const { t } = useI18n();
  const [image, setImage] = useState<string | null>(null);
  const [text, setText] = useState<string | null>(null);
  const [comment, setComment] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    let url: string | undefined;
    fetchBlob(`/outputs/${output.id}/content`).then((b) => {
      // A model card is JSON: shown as text for the steward to read, never as an image.
      if (output.kind === 'model-card') {
        void b.text().then((json) => setText(JSON.stringify(JSON.parse(json), null, 2)));
        return;
      }
      url = URL.createObjectURL(b);
      setImage(url);
    }, setError);
    return () => {
      if (url !== undefined) URL.revokeObjectURL(url);
    };
  }, [output.id]);
  const decide = async (decision: 'release' | 'deny') => {
    try {
      await api(`/outputs/${output.id}/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ decision, comment }),
      });
      onDone();
    } catch (e) {
      setError(e as ApiError);
    }
  };
  return (
    <Section title={output.title} id={`output-${output.id}`}>
      <p>
        {t('outputRequester')}: {output.requester}
      </p>
      {image && <img src={image} alt={output.title} style={{ maxWidth: '100%' }} />}
      {text && (
        <pre data-testid="model-card" style={{ maxHeight: '20rem', overflow: 'auto' }}>
          {text}
        </pre>
      )}
      <label class="field">
        {t('decisionComment')}
        <input value={comment} onInput={(e) => setComment((e.currentTarget as HTMLInputElement).value)} />
      </label>
      <div class="row">
        <button type="button" disabled={comment.trim() === ''} onClick={() => void decide('release')}>
          {t('releaseOutput')}
        </button>
        <button type="button" disabled={comment.trim() === ''} onClick={() => void decide('deny')}>
          {t('denyOutput')}
        </button>
      </div>
      {error && <ErrorBox error={error} />}
    </Section>
  );
}
