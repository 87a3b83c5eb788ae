import { useState } from 'preact/hooks';
import type { ApiError } from '../api.js';
import { postJson } from '../api.js';
import { Async, DataTable, ErrorBox, Section, useApi } from '../components.js';
import { useI18n } from '../i18n.js';
import type { MessageKey } from '../messages.js';

/** The shapes of `/projects` (src/projects, docs/projects.md): text only, no figure about people. */
type Decision = 'pending' | 'approved' | 'approved-with-conditions' | 'denied';
type Tables = { name: string; columns: string[] }[];
interface ProjectSummary {
  id: string;
  title: string;
  purpose: string;
  applicant: string;
  origin: string;
  endDate: string;
  /** This hub's decision; null for a project filed here that this hub is not asked to decide. */
  decision: Decision | null;
}
interface ProjectView extends Omit<ProjectSummary, 'decision'> {
  filedAt: string;
  ethicsApproval: string;
  tables: Tables;
  cohort: string | null;
  hubs: {
    hub: string;
    decision: Decision;
    conditions: string | null;
    tables: Tables | null;
    decidedBy: string | null;
    decidedAt: string | null;
  }[];
  members: string[];
  history: { at: string; hub: string; actor: string; action: string; comment: string | null }[];
}
interface Overview {
  hub: { name: string; role: string };
  you: { name: string; role: string } | null;
  peers: { name: string }[];
}

const DECISION_TEXT: Record<Decision, MessageKey> = {
  pending: 'decisionPending',
  approved: 'decisionApproved',
  'approved-with-conditions': 'decisionConditions',
  denied: 'decisionDenied',
};
const PURPOSES = ['research', 'public-health', 'ai-development', 'ai-validation', 'commercial', 'treatment'];

const value = (e: Event) => (e.currentTarget as HTMLInputElement).value;
const scopeText = (tables: Tables | null) =>
  tables === null ? '—' : tables.map((t) => `${t.name}: ${t.columns.join(', ')}`).join('; ');

/** One project: the application, each hub's decision and scope, members and the history. */
function ProjectDetail({ id, children }: { id: string; children?: (p: ProjectView, reload: () => void) => unknown }) {
  const { t, date, dateTime } = useI18n();
  const project = useApi<ProjectView>(`/projects/${encodeURIComponent(id)}`);
  return (
    <Async loaded={project}>
      {(p) => (
        <Section title={p.title} id={`project-${p.id}`}>
          <dl class="facts">
            <dt>{t('projectApplicant')}</dt>
            <dd>{`${p.applicant} (${p.origin})`}</dd>
            <dt>{t('projectPurpose')}</dt>
            <dd>{p.purpose}</dd>
            <dt>{t('projectEnds')}</dt>
            <dd>{date(p.endDate)}</dd>
            <dt>{t('projectEthics')}</dt>
            <dd>{p.ethicsApproval}</dd>
            <dt>{t('projectTables')}</dt>
            <dd>{scopeText(p.tables)}</dd>
            <dt>{t('projectMembers')}</dt>
            <dd>{p.members.join(', ')}</dd>
          </dl>
          <DataTable
            caption={t('projectDecisions')}
            rows={p.hubs}
            rowKey={(h) => h.hub}
            columns={[
              { label: t('projectHub'), rowHeader: true, cell: (h) => h.hub },
              { label: t('projectDecision'), cell: (h) => t(DECISION_TEXT[h.decision]) },
              { label: t('projectScope'), cell: (h) => scopeText(h.tables) },
              { label: t('projectConditions'), cell: (h) => h.conditions ?? '—' },
            ]}
          />
          <DataTable
            caption={t('projectHistory')}
            rows={p.history}
            rowKey={(e) => `${e.at}-${e.hub}-${e.action}-${e.actor}`}
            columns={[
              { label: t('when'), cell: (e) => dateTime(e.at) },
              { label: t('projectHub'), cell: (e) => e.hub },
              { label: t('who'), cell: (e) => e.actor },
              { label: t('what'), cell: (e) => e.action },
              { label: t('projectComment'), cell: (e) => e.comment ?? '' },
            ]}
          />
          {children?.(p, project.reload)}
        </Section>
      )}
    </Async>
  );
}

function ProjectList({ onOpen, only }: { onOpen: (id: string) => void; only?: Decision }) {
  const { t, date } = useI18n();
  const list = useApi<ProjectSummary[]>('/projects');
  return (
    <Async loaded={list}>
      {(rows) => {
        const shown = only ? rows.filter((r) => r.decision === only) : rows;
        if (shown.length === 0) return <p class="muted">{t('noProjects')}</p>;
        return (
          <DataTable
            rows={shown}
            rowKey={(r) => r.id}
            columns={[
              {
                label: t('projectTitle'),
                rowHeader: true,
                cell: (r) => (
                  <button type="button" class="link" onClick={() => onOpen(r.id)}>
                    {r.title}
                  </button>
                ),
              },
              { label: t('projectApplicant'), cell: (r) => `${r.applicant} (${r.origin})` },
              { label: t('projectPurpose'), cell: (r) => r.purpose },
              { label: t('projectEnds'), cell: (r) => date(r.endDate) },
              { label: t('projectDecision'), cell: (r) => (r.decision ? t(DECISION_TEXT[r.decision]) : '—') },
            ]}
          />
        );
      }}
    </Async>
  );
}

/** The columns of one analytic table, as checkboxes (from the catalog's profile of it). */
function ColumnPicker({ view, chosen, onChange }: { view: string; chosen: string[]; onChange: (c: string[]) => void }) {
  const profile = useApi<{ columns: { name: string }[] }>(`/console/catalog/${encodeURIComponent(view)}`);
  return (
    <Async loaded={profile}>
      {(p) => (
        <fieldset>
          <legend>{`view_${view}`}</legend>
          {p.columns.map((c) => (
            <label key={c.name} class="field check">
              <input
                type="checkbox"
                checked={chosen.includes(c.name)}
                onChange={(e) =>
                  onChange(
                    (e.currentTarget as HTMLInputElement).checked
                      ? [...chosen, c.name]
                      : chosen.filter((x) => x !== c.name),
                  )
                }
              />
              <code>{c.name}</code>
            </label>
          ))}
        </fieldset>
      )}
    </Async>
  );
}

/** Apply: the application form (researchers and developers). */
export function ApplyPage() {
  const { t } = useI18n();
  const overview = useApi<Overview>('/console/overview');
  const catalog = useApi<{ tables: { view: string }[] }>('/console/catalog');
  const [form, setForm] = useState({
    title: '',
    purpose: 'research',
    endDate: '',
    members: '',
    ethicsApproval: '',
    dataUseAgreement: false,
    cohort: '',
  });
  const [tables, setTables] = useState<Record<string, string[]>>({});
  const [hubs, setHubs] = useState<string[]>([]);
  const [error, setError] = useState<ApiError | string | null>(null);
  const [filed, setFiled] = useState<string | null>(null);
  const update = (patch: Partial<typeof form>) => setForm({ ...form, ...patch });
  // A demonstration hub files projects for AI validation only (core/hub-role.ts, HUB_ROLE_PURPOSES).
  const purposes =
    overview.state === 'ready' && overview.data.hub.role === 'demonstration' ? ['ai-validation'] : PURPOSES;

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    let cohort: unknown;
    if (form.cohort.trim() !== '') {
      try {
        cohort = JSON.parse(form.cohort);
      } catch {
        setError(t('projectCohortJson'));
        return;
      }
    }
    const self = overview.state === 'ready' ? overview.data.hub.name : undefined;
    try {
      const p = await postJson<ProjectView>('/projects', {
        title: form.title,
        purpose: purposes.includes(form.purpose) ? form.purpose : purposes[0],
        tables: Object.entries(tables)
          .filter(([, c]) => c.length > 0)
          .map(([name, columns]) => ({ name, columns })),
        ...(cohort !== undefined && { cohort }),
        endDate: form.endDate,
        members: form.members
          .split(',')
          .map((m) => m.trim())
          .filter(Boolean),
        ethicsApproval: form.ethicsApproval,
        dataUseAgreement: form.dataUseAgreement,
        ...(self !== undefined && { hubs: [self, ...hubs] }),
      });
      setFiled(p.id);
    } catch (err) {
      setError(err as ApiError);
    }
  };

  if (filed !== null) return <ProjectDetail id={filed} />;
  return (
    <form class="project" onSubmit={submit}>
      <Section title={t('projectApplication')} id="apply">
        <div class="field">
          <label for="p-title">{t('projectTitle')}</label>
          <input id="p-title" required value={form.title} onInput={(e) => update({ title: value(e) })} />
        </div>
        <div class="row">
          <div class="field">
            <label for="p-purpose">{t('projectPurpose')}</label>
            <select id="p-purpose" value={form.purpose} onChange={(e) => update({ purpose: value(e) })}>
              {purposes.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="p-end">{t('projectEnds')}</label>
            <input
              id="p-end"
              type="date"
              required
              value={form.endDate}
              onInput={(e) => update({ endDate: value(e) })}
            />
          </div>
        </div>
        <fieldset>
          <legend>{t('projectTables')}</legend>
          <Async loaded={catalog}>
            {(c) => (
              <>
                {c.tables.map((tb) => (
                  <label key={tb.view} class="field check">
                    <input
                      type="checkbox"
                      checked={tables[tb.view] !== undefined}
                      onChange={(e) => {
                        const next = { ...tables };
                        if ((e.currentTarget as HTMLInputElement).checked) next[tb.view] = [];
                        else delete next[tb.view];
                        setTables(next);
                      }}
                    />
                    {`view_${tb.view}`}
                  </label>
                ))}
                {Object.entries(tables).map(([view, chosen]) => (
                  <ColumnPicker
                    key={view}
                    view={view}
                    chosen={chosen}
                    onChange={(cols) => setTables({ ...tables, [view]: cols })}
                  />
                ))}
              </>
            )}
          </Async>
        </fieldset>
        <div class="field">
          <label for="p-cohort">{t('projectCohort')}</label>
          <textarea id="p-cohort" rows={4} value={form.cohort} onInput={(e) => update({ cohort: value(e) })} />
        </div>
        <div class="field">
          <label for="p-members">{t('projectTeam')}</label>
          <input id="p-members" value={form.members} onInput={(e) => update({ members: value(e) })} />
        </div>
        <div class="field">
          <label for="p-ethics">{t('projectEthics')}</label>
          <input
            id="p-ethics"
            required
            value={form.ethicsApproval}
            onInput={(e) => update({ ethicsApproval: value(e) })}
          />
        </div>
        <Async loaded={overview}>
          {(o) =>
            o.peers.length > 0 && (
              <fieldset>
                <legend>{t('projectHubs', { hub: o.hub.name })}</legend>
                {o.peers.map((p) => (
                  <label key={p.name} class="field check">
                    <input
                      type="checkbox"
                      checked={hubs.includes(p.name)}
                      onChange={(e) =>
                        setHubs(
                          (e.currentTarget as HTMLInputElement).checked
                            ? [...hubs, p.name]
                            : hubs.filter((h) => h !== p.name),
                        )
                      }
                    />
                    {p.name}
                  </label>
                ))}
              </fieldset>
            )
          }
        </Async>
        <div class="field check">
          <input
            id="p-dua"
            type="checkbox"
            checked={form.dataUseAgreement}
            onChange={(e) => update({ dataUseAgreement: (e.currentTarget as HTMLInputElement).checked })}
          />
          <label for="p-dua">{t('projectAgreement')}</label>
        </div>
        {error !== null && <ErrorBox error={error} />}
        <button type="submit" class="primary">
          {t('projectSubmit')}
        </button>
      </Section>
    </form>
  );
}

/** My projects: status and history of the caller's own projects (reviewers see every project of this hub). */
export function MyProjectsPage() {
  const [open, setOpen] = useState<string | null>(null);
  return (
    <>
      <ProjectList onOpen={setOpen} />
      {open !== null && <ProjectDetail key={open} id={open} />}
    </>
  );
}

function ReviewForm({ project, onDone }: { project: ProjectView; onDone: () => void }) {
  const { t } = useI18n();
  const [decision, setDecision] = useState<'approve' | 'approve-with-conditions' | 'deny'>('approve');
  const [comment, setComment] = useState('');
  const [conditions, setConditions] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await postJson(`/projects/${encodeURIComponent(project.id)}/review`, {
        decision,
        comment,
        ...(decision === 'approve-with-conditions' && { conditions }),
      });
      onDone();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <form onSubmit={submit}>
      <fieldset>
        <legend>{t('reviewDecision')}</legend>
        {(['approve', 'approve-with-conditions', 'deny'] as const).map((d) => (
          <label key={d} class="field check">
            <input type="radio" name="decision" checked={decision === d} onChange={() => setDecision(d)} />
            {t(d === 'approve' ? 'decisionApproved' : d === 'deny' ? 'decisionDenied' : 'decisionConditions')}
          </label>
        ))}
      </fieldset>
      {decision === 'approve-with-conditions' && (
        <div class="field">
          <label for="r-conditions">{t('projectConditions')}</label>
          <textarea id="r-conditions" required value={conditions} onInput={(e) => setConditions(value(e))} />
        </div>
      )}
      <div class="field">
        <label for="r-comment">{t('projectComment')}</label>
        <textarea id="r-comment" required value={comment} onInput={(e) => setComment(value(e))} />
      </div>
      {error !== null && <ErrorBox error={error} />}
      <button type="submit" class="primary">
        {t('reviewSubmit')}
      </button>
    </form>
  );
}

/** Review: applications awaiting this hub's decision (stewards and admins). */
export function ReviewPage() {
  const { t } = useI18n();
  const overview = useApi<Overview>('/console/overview');
  const self = overview.state === 'ready' ? overview.data.hub.name : undefined;
  const [open, setOpen] = useState<string | null>(null);
  const [round, setRound] = useState(0);
  return (
    <>
      <p>{t('reviewIntro')}</p>
      <ProjectList key={round} onOpen={setOpen} only="pending" />
      {open !== null && (
        <ProjectDetail key={`${open}-${round}`} id={open}>
          {(p, reload) =>
            p.hubs.some((h) => h.hub === self && h.decision === 'pending') && (
              <ReviewForm
                project={p}
                onDone={() => {
                  reload();
                  setRound(round + 1);
                }}
              />
            )
          }
        </ProjectDetail>
      )}
    </>
  );
}
