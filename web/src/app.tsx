import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ConsolePolicy } from '../../src/server/api-schemas.js';
import { api, keepSessionFresh, onUnauthorised, refreshSession, session, signOutOfHub } from './api.js';
import { Async, PolicyContext, useApi } from './components.js';
import type { Lang } from './i18n.js';
import { I18nContext, initialLang, keepLang, makeI18n, useI18n } from './i18n.js';
import type { MessageKey } from './messages.js';
import { AccountsPage } from './pages/accounts.js';
import { CatalogPage } from './pages/catalog.js';
import { CohortsPage } from './pages/cohorts.js';
import { IngestPage } from './pages/ingest.js';
import { LoginPage } from './pages/login.js';
import { ModelsPage } from './pages/models.js';
import { OverviewPage } from './pages/overview.js';
import { SurveillancePage } from './pages/surveillance.js';

const PAGES = [
  { id: 'overview', label: 'navOverview', Page: OverviewPage },
  { id: 'catalog', label: 'navCatalog', Page: CatalogPage },
  { id: 'cohorts', label: 'navCohorts', Page: CohortsPage },
  { id: 'models', label: 'navModels', Page: ModelsPage },
  { id: 'surveillance', label: 'navSurveillance', Page: SurveillancePage },
  { id: 'ingest', label: 'navIngest', Page: IngestPage },
  { id: 'accounts', label: 'navAccounts', Page: AccountsPage, adminOnly: true },
] as const satisfies readonly {
  id: string;
  label: MessageKey;
  Page: () => preact.JSX.Element;
  /** Shown to admins only (the hub refuses the page's calls to anyone else). */
  adminOnly?: boolean;
}[];

/**
 * A finished sign-in at the hospital's OpenID Provider comes back as `#oidc=<refresh token>` (spent at once for a
 * session, so the copy in the browser's history is dead) or `#oidc-error=<code>`.
 */
function oidcReturn(): { refreshToken?: string; error?: string } {
  const m = /^#oidc(-error)?=(.+)$/.exec(location.hash);
  if (!m) return {};
  history.replaceState(null, '', `${location.pathname}#/overview`);
  const value = decodeURIComponent(m[2]!);
  return m[1] ? { error: value } : { refreshToken: value };
}

type PageId = (typeof PAGES)[number]['id'];

/** Hash routing (`#/cohorts`): the hub serves one page at `/`, so every view of the console is a fragment. */
function pageFromHash(): PageId {
  const id = location.hash.replace(/^#\/?/, '').split('/')[0];
  return PAGES.find((p) => p.id === id)?.id ?? 'overview';
}

function LanguageSwitch({ lang, setLang }: { lang: Lang; setLang: (l: Lang) => void }) {
  const { t } = useI18n();
  return (
    <label class="lang">
      <span>{t('language')}</span>
      <select value={lang} onChange={(e) => setLang((e.currentTarget as HTMLSelectElement).value as Lang)}>
        <option value="ko" lang="ko">
          한국어
        </option>
        <option value="en" lang="en">
          English
        </option>
      </select>
    </label>
  );
}

/** Pages render once the hub's disclosure rules are known: their withheld figures say "fewer than {threshold}". */
function WithPolicy({ children }: { children: ComponentChildren }) {
  const policy = useApi<ConsolePolicy>('/console/policy');
  return (
    <Async loaded={policy}>
      {(p) => <PolicyContext.Provider value={p.disclosure}>{children}</PolicyContext.Provider>}
    </Async>
  );
}

export function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [oidc] = useState(oidcReturn);
  const [signedIn, setSignedIn] = useState(() => session.token() !== null && oidc.refreshToken === undefined);
  const [refusal, setRefusal] = useState(oidc.error);
  const [role, setRole] = useState<string | null>(null);
  const [page, setPage] = useState<PageId>(pageFromHash);
  const i18n = useMemo(() => makeI18n(lang), [lang]);
  const setLang = (l: Lang) => {
    keepLang(l);
    setLangState(l);
  };
  useEffect(() => keepLang(lang), [lang]);
  useEffect(() => {
    if (oidc.refreshToken === undefined) {
      keepSessionFresh();
      return;
    }
    refreshSession(oidc.refreshToken).then(
      () => setSignedIn(true),
      () => setRefusal('AUTH_OIDC_FAILED'),
    );
  }, [oidc]);
  // Who is signed in decides which pages the navigation offers (the hub checks every call anyway).
  useEffect(() => {
    if (!signedIn) return setRole(null);
    api<{ role: string }>('/auth/me').then(
      (me) => setRole(me.role),
      () => setRole(null),
    );
  }, [signedIn]);
  useEffect(() => {
    const onHash = () => setPage(pageFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(
    () =>
      onUnauthorised(() => {
        session.signOut();
        setSignedIn(false);
      }),
    [],
  );
  useEffect(() => {
    const current = PAGES.find((p) => p.id === page);
    document.title = `${current ? i18n.t(current.label) : ''} · ${i18n.t('appName')}`;
  }, [page, i18n]);

  const pages = PAGES.filter((p) => !('adminOnly' in p) || role === 'admin');
  const current = pages.find((p) => p.id === page) ?? PAGES[0];
  return (
    <I18nContext.Provider value={i18n}>
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        {i18n.t('skipToContent')}
      </button>
      <header class="top">
        <span class="brand">{i18n.t('appName')}</span>
        <LanguageSwitch lang={lang} setLang={setLang} />
        {signedIn && (
          <button
            type="button"
            onClick={() => {
              void signOutOfHub().then(() => setSignedIn(false));
            }}
          >
            {i18n.t('signOut')}
          </button>
        )}
      </header>
      {signedIn && (
        <nav aria-label={i18n.t('mainNav')} class="nav">
          <ul>
            {pages.map((p) => (
              <li key={p.id}>
                <a href={`#/${p.id}`} aria-current={p.id === page ? 'page' : undefined}>
                  {i18n.t(p.label)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      )}
      <main id="main" tabIndex={-1}>
        {signedIn ? (
          <>
            <h1>{i18n.t(current.label)}</h1>
            <WithPolicy>
              <current.Page />
            </WithPolicy>
          </>
        ) : (
          <LoginPage
            refusal={refusal}
            onSignedIn={() => {
              setRefusal(undefined);
              setSignedIn(true);
            }}
          />
        )}
      </main>
    </I18nContext.Provider>
  );
}
