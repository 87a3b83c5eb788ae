import { useState } from 'preact/hooks';
import type { ApiError } from '../api.js';
import { api } from '../api.js';
import { Async, ErrorBox, useApi } from '../components.js';
import { useI18n } from '../i18n.js';
import type { MessageKey } from '../messages.js';

type Choice = 'permit' | 'deny' | null;
interface PurposeChoice {
  purpose: string;
  default: 'opt-in' | 'opt-out';
  withoutConsent: boolean;
  choice: Choice;
  used: boolean;
  history: { at: string; choice: Choice }[];
}

const CHOICES = [
  { value: 'permit', label: 'allow' },
  { value: 'deny', label: 'refuse' },
  { value: null, label: 'useDefault' },
] as const satisfies readonly { value: Choice; label: MessageKey }[];

/** One purpose: what holds without a choice, the citizen's choice (three radio buttons), whether it is used now. */
function PurposeCard({ p, onSaved }: { p: PurposeChoice; onSaved: (all: PurposeChoice[]) => void }) {
  const { t, dateTime } = useI18n();
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const [reach, setReach] = useState<{ hub: string; reached: boolean; why?: string }[]>([]);
  const label = (t(`purpose_${p.purpose}` as MessageKey) as string | undefined) ?? p.purpose;
  const choose = async (choice: Choice) => {
    setError(null);
    setSaved(false);
    try {
      const res = await api<{
        purposes: PurposeChoice[];
        federation: { hub: string; reached: boolean; why?: string }[];
      }>(`/me/consent/${encodeURIComponent(p.purpose)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ choice }),
      });
      setSaved(true);
      setReach(res.federation ?? []);
      onSaved(res.purposes);
    } catch (e) {
      setError(e as ApiError);
    }
  };
  return (
    <section class="card" aria-labelledby={`purpose-${p.purpose}`} data-testid={`purpose-${p.purpose}`}>
      <h2 id={`purpose-${p.purpose}`}>{label}</h2>
      <p>
        {t('hubDefault')}: {p.withoutConsent ? t('byLaw') : p.default === 'opt-in' ? t('optIn') : t('optOut')}
      </p>
      <fieldset disabled={p.withoutConsent}>
        <legend>{t('yourChoice')}</legend>
        {CHOICES.map((c) => (
          <label key={String(c.value)} class="choice">
            <input
              type="radio"
              name={`choice-${p.purpose}`}
              checked={p.choice === c.value}
              onChange={() => void choose(c.value)}
            />
            {t(c.label)}
          </label>
        ))}
      </fieldset>
      <p data-testid="used-now">
        {t('usedNow')}: <strong>{p.used ? t('included') : t('excluded')}</strong>
      </p>
      {saved && <p role="status">{t('saved')}</p>}
      {saved && reach.length > 0 && (
        <p data-testid="consent-reach">
          {reach.some((r) => r.reached) &&
            t('reachedHubs', {
              hubs: reach
                .filter((r) => r.reached)
                .map((r) => r.hub)
                .join(', '),
            })}{' '}
          {reach
            .filter((r) => !r.reached)
            .map((r) => t('notReachedHub', { hub: r.hub, why: r.why ?? '' }))
            .join(' ')}
        </p>
      )}
      {error && <ErrorBox error={error} />}
      {p.history.length > 0 && (
        <details>
          <summary>{t('history')}</summary>
          <ul>
            {p.history.map((h) => (
              <li key={h.at}>
                {dateTime(h.at)}:{' '}
                {h.choice === null ? t('withdrawn') : h.choice === 'permit' ? t('allow') : t('refuse')}
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}

interface MyUse {
  project: string;
  title: string;
  purpose: string;
  kind: string;
  what: string;
  at: string;
}

/** Who used my data: the projects whose work at this hub included the citizen's records (`GET /me/uses`). */
function MyUses() {
  const { t, dateTime } = useI18n();
  const loaded = useApi<{ uses: MyUse[] }>('/me/uses');
  return (
    <section class="card" aria-labelledby="my-uses" data-testid="my-uses">
      <h2 id="my-uses">{t('usesTitle')}</h2>
      <p>{t('usesHelp')}</p>
      <Async loaded={loaded}>
        {({ uses }) =>
          uses.length === 0 ? (
            <p>{t('usesNone')}</p>
          ) : (
            <ul>
              {uses.map((u) => (
                <li key={`${u.project}-${u.kind}-${u.what}-${u.at}`}>
                  <strong>{u.title}</strong> (
                  {(t(`purpose_${u.purpose}` as MessageKey) as string | undefined) ?? u.purpose}):{' '}
                  {(t(`useKind_${u.kind}` as MessageKey) as string | undefined) ?? u.kind} <code>{u.what}</code>,{' '}
                  {dateTime(u.at)}
                </li>
              ))}
            </ul>
          )
        }
      </Async>
    </section>
  );
}

/** A citizen's consent: every purpose of this hub with its default, their choice and whether their data is used. */
export function MyConsentPage() {
  const { t } = useI18n();
  const loaded = useApi<{ purposes: PurposeChoice[] }>('/me/consent');
  const [current, setCurrent] = useState<PurposeChoice[] | null>(null);
  return (
    <>
      <p>{t('consentHelp')}</p>
      <Async loaded={loaded}>
        {({ purposes }) => (
          <div class="grid">
            {(current ?? purposes).map((p) => (
              <PurposeCard key={p.purpose} p={p} onSaved={setCurrent} />
            ))}
          </div>
        )}
      </Async>
      <MyUses />
    </>
  );
}
