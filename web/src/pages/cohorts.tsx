import { useEffect, useMemo, useState } from 'preact/hooks';
import type { CohortRunBody } from '../../../src/server/api-schemas.js';
import { ApiError, postJson } from '../api.js';
import type { CohortForm, Concept, Domain } from '../cohort-form.js';
import { DOMAINS, EMPTY_FORM, toDefinition } from '../cohort-form.js';
import { Count, ErrorBox, Loading, Section, useApi } from '../components.js';
import { useI18n } from '../i18n.js';
import type { FederatedCohort, ReleasedCohort } from './cohort-result.js';
import { CohortResult } from './cohort-result.js';
import { SurvivalSection } from './survival.js';

interface Found {
  concepts: { domain: string; system: string; code: string; display: string | null; persons: number | null }[];
}

function ConceptSearch({ onAdd }: { onAdd: (c: Concept, domain: string, target: 'entry' | 'rule') => void }) {
  const { t } = useI18n();
  const [q, setQ] = useState('');
  const [debounced, setDebounced] = useState('');
  useEffect(() => {
    const h = setTimeout(() => setDebounced(q.trim()), 250);
    return () => clearTimeout(h);
  }, [q]);
  const found = useApi<Found>(debounced.length >= 2 ? `/console/concepts?q=${encodeURIComponent(debounced)}` : null);
  return (
    <div class="search">
      <label for="concept-q">{t('conceptSearch')}</label>
      <input
        id="concept-q"
        type="search"
        value={q}
        onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)}
      />
      {debounced.length < 2 ? (
        <p class="muted">{t('searchHint')}</p>
      ) : found.state === 'loading' ? (
        <Loading />
      ) : found.state === 'error' ? (
        <ErrorBox error={found.error} onRetry={found.reload} />
      ) : (
        <ul class="concepts" aria-label={t('conceptResults')}>
          {found.data.concepts.map((c) => (
            <li key={`${c.domain}|${c.system}|${c.code}`}>
              <span>
                <code>{c.code}</code> {c.display ?? ''}{' '}
                <span class="muted">
                  ({c.domain}, <Count value={c.persons} /> {t('conceptPeople')})
                </span>
              </span>
              <button
                type="button"
                onClick={() => onAdd({ system: c.system, code: c.code, display: c.display }, c.domain, 'entry')}
              >
                {t('add')} → {t('entryEvent')}
              </button>
              <button
                type="button"
                onClick={() => onAdd({ system: c.system, code: c.code, display: c.display }, c.domain, 'rule')}
              >
                {t('add')} → {t('criteria')}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function ConceptList({ concepts, onRemove }: { concepts: Concept[]; onRemove: (i: number) => void }) {
  const { t } = useI18n();
  if (concepts.length === 0) return <p class="muted">{t('none')}</p>;
  return (
    <ul class="chips">
      {concepts.map((c, i) => (
        <li key={`${c.system}|${c.code}`}>
          <code>{c.code}</code> {c.display ?? ''}
          <button type="button" aria-label={`✕ ${c.code}`} onClick={() => onRemove(i)}>
            ✕
          </button>
        </li>
      ))}
    </ul>
  );
}

function DomainSelect({
  id,
  label,
  value,
  onChange,
}: {
  id: string;
  label: string;
  value: Domain;
  onChange: (d: Domain) => void;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value as Domain)}>
        {DOMAINS.map((d) => (
          <option key={d} value={d}>
            {d}
          </option>
        ))}
      </select>
    </div>
  );
}

function NumberField({
  id,
  label,
  value,
  onChange,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        type="number"
        inputMode="numeric"
        value={value}
        onInput={(e) => onChange((e.currentTarget as HTMLInputElement).value)}
      />
    </div>
  );
}

const asDomain = (d: string): Domain => ((DOMAINS as readonly string[]).includes(d) ? (d as Domain) : 'condition');

export function CohortsPage() {
  const { t } = useI18n();
  const [form, setForm] = useState<CohortForm>(EMPTY_FORM);
  const [jsonText, setJsonText] = useState<string | null>(null);
  const [federated, setFederated] = useState(false);
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<ReleasedCohort | FederatedCohort | null>(null);
  const [error, setError] = useState<ApiError | string | null>(null);
  const overview = useApi<{ hub: { name: string }; peers: { name: string }[] }>('/console/overview');
  const definition = useMemo(() => toDefinition(form), [form]);
  const shown = jsonText ?? JSON.stringify(definition, null, 2);
  const update = (patch: Partial<CohortForm>) => {
    setJsonText(null);
    setForm((f) => ({ ...f, ...patch }));
  };
  const updateRule = (patch: Partial<CohortForm['rule']>) => update({ rule: { ...form.rule, ...patch } });

  const add = (c: Concept, domain: string, target: 'entry' | 'rule') => {
    if (target === 'entry') {
      if (form.entryConcepts.some((x) => x.system === c.system && x.code === c.code)) return;
      update({
        entryConcepts: [...form.entryConcepts, c],
        ...(form.entryConcepts.length === 0 && { entryDomain: asDomain(domain) }),
      });
    } else {
      if (form.rule.concepts.some((x) => x.system === c.system && x.code === c.code)) return;
      updateRule({
        on: true,
        concepts: [...form.rule.concepts, c],
        ...(form.rule.concepts.length === 0 && { domain: asDomain(domain) }),
      });
    }
  };

  const run = async (e: Event) => {
    e.preventDefault();
    setError(null);
    let def: unknown;
    try {
      def = JSON.parse(shown);
    } catch (err) {
      setError(t('badJson', { msg: (err as Error).message }));
      return;
    }
    if (jsonText === null && form.entryConcepts.length === 0) {
      setError(t('needConcept'));
      return;
    }
    const hubs =
      federated && overview.state === 'ready'
        ? [overview.data.hub.name, ...overview.data.peers.map((p) => p.name)]
        : undefined;
    setRunning(true);
    const body: CohortRunBody = { definition: def, ...(hubs && { hubs }) };
    try {
      setResult(await postJson<ReleasedCohort | FederatedCohort>('/cohort/$run', body));
    } catch (err) {
      setResult(null);
      setError(err instanceof ApiError ? err : String(err));
    } finally {
      setRunning(false);
    }
  };

  const download = () => {
    const blob = new Blob([`${shown}\n`], { type: 'application/json' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${(form.name || 'cohort').replace(/[^\w.-]+/g, '_')}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };
  const loadFile = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (file) setJsonText(await file.text());
  };

  const hasPeers = overview.state === 'ready' && overview.data.peers.length > 0;
  return (
    <form class="cohort" onSubmit={run}>
      <Section title={t('cohortBuilder')} id="builder">
        <div class="field">
          <label for="cohort-name">{t('cohortName')}</label>
          <input
            id="cohort-name"
            value={form.name}
            onInput={(e) => update({ name: (e.currentTarget as HTMLInputElement).value })}
          />
        </div>
        <ConceptSearch onAdd={add} />
        <fieldset>
          <legend>{t('entryEvent')}</legend>
          <ConceptList
            concepts={form.entryConcepts}
            onRemove={(i) => update({ entryConcepts: form.entryConcepts.filter((_, j) => j !== i) })}
          />
          <div class="row">
            <DomainSelect
              id="entry-domain"
              label={t('entryDomain')}
              value={form.entryDomain}
              onChange={(d) => update({ entryDomain: d })}
            />
            <div class="field">
              <label for="occurrence">{t('occurrence')}</label>
              <select
                id="occurrence"
                value={form.occurrence}
                onChange={(e) =>
                  update({ occurrence: (e.currentTarget as HTMLSelectElement).value as 'first' | 'all' })
                }
              >
                <option value="first">{t('first')}</option>
                <option value="all">{t('all')}</option>
              </select>
            </div>
          </div>
        </fieldset>
        <fieldset>
          <legend>{t('criteria')}</legend>
          <div class="row">
            <NumberField id="age-min" label={t('ageMin')} value={form.ageMin} onChange={(v) => update({ ageMin: v })} />
            <NumberField id="age-max" label={t('ageMax')} value={form.ageMax} onChange={(v) => update({ ageMax: v })} />
            <div class="field">
              <label for="sex">{t('sex')}</label>
              <select
                id="sex"
                value={form.sex}
                onChange={(e) => update({ sex: (e.currentTarget as HTMLSelectElement).value as CohortForm['sex'] })}
              >
                <option value="">{t('sexAny')}</option>
                <option value="female">{t('female')}</option>
                <option value="male">{t('male')}</option>
              </select>
            </div>
          </div>
          <div class="field check">
            <input
              id="rule-on"
              type="checkbox"
              checked={form.rule.on}
              onChange={(e) => updateRule({ on: (e.currentTarget as HTMLInputElement).checked })}
            />
            <label for="rule-on">{t('eventRule')}</label>
          </div>
          {form.rule.on && (
            <>
              <ConceptList
                concepts={form.rule.concepts}
                onRemove={(i) => updateRule({ concepts: form.rule.concepts.filter((_, j) => j !== i) })}
              />
              <div class="row">
                <DomainSelect
                  id="rule-domain"
                  label={t('ruleDomain')}
                  value={form.rule.domain}
                  onChange={(d) => updateRule({ domain: d })}
                />
                <NumberField
                  id="rule-start"
                  label={t('windowStart')}
                  value={form.rule.start}
                  onChange={(v) => updateRule({ start: v })}
                />
                <NumberField
                  id="rule-end"
                  label={t('windowEnd')}
                  value={form.rule.end}
                  onChange={(v) => updateRule({ end: v })}
                />
                <div class="field">
                  <label for="rule-presence">{t('ruleCount')}</label>
                  <select
                    id="rule-presence"
                    value={form.rule.presence}
                    onChange={(e) =>
                      updateRule({ presence: (e.currentTarget as HTMLSelectElement).value as 'present' | 'absent' })
                    }
                  >
                    <option value="present">{t('present')}</option>
                    <option value="absent">{t('absent')}</option>
                  </select>
                </div>
              </div>
            </>
          )}
        </fieldset>
        <fieldset>
          <legend>{t('exit')}</legend>
          <NumberField
            id="exit-days"
            label={`${t('exitDaysLabel')} (${t('exitEnd')}: —)`}
            value={form.exitDays}
            onChange={(v) => update({ exitDays: v })}
          />
        </fieldset>
        <fieldset>
          <legend>{t('runWhere')}</legend>
          <div class="field check">
            <input
              id="where-local"
              type="radio"
              name="where"
              checked={!federated}
              onChange={() => setFederated(false)}
            />
            <label for="where-local">{t('thisHub')}</label>
          </div>
          <div class="field check">
            <input
              id="where-fed"
              type="radio"
              name="where"
              checked={federated}
              disabled={!hasPeers}
              onChange={() => setFederated(true)}
            />
            <label for="where-fed">{t('federated')}</label>
          </div>
        </fieldset>
        <button type="submit" class="primary" disabled={running}>
          {running ? t('running') : t('run')}
        </button>
        {running && <Loading />}
        {error && <ErrorBox error={error} />}
      </Section>
      {result && <CohortResult result={result} />}
      <SurvivalSection definition={() => JSON.parse(shown)} />
      <Section title={t('definitionJson')} id="json">
        <label for="cohort-json" class="sr-only">
          {t('definitionJson')}
        </label>
        <textarea
          id="cohort-json"
          rows={14}
          spellcheck={false}
          value={shown}
          onInput={(e) => setJsonText((e.currentTarget as HTMLTextAreaElement).value)}
        />
        <div class="row">
          <button type="button" onClick={download}>
            {t('save')}
          </button>
          <label class="file">
            {t('load')}
            <input type="file" accept="application/json,.json" onChange={loadFile} />
          </label>
        </div>
      </Section>
    </form>
  );
}
