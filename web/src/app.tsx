import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ConsolePolicy } from '../../src/server/api-schemas.js';
import { keepSessionFresh, onUnauthorised, refreshSession, session, signOutOfHub } from './api.js';
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
import { MyConsentPage } from './pages/my-consent.js';
import { MyRecordPage } from './pages/my-record.js';
import { OverviewPage } from './pages/overview.js';
import { ApplyPage, MyProjectsPage, ReviewPage } from './pages/projects.js';
import { SurveillancePage } from './pages/surveillance.js';
import { SubmitModelPage, ValidationsPage, VerifyReportPage } from './pages/validation.js';
import { OutputsReviewPage, WorkspacePage } from './pages/workspace.js';

/**
 * The console's pages. A page with `service` shows on hubs whose role offers it (research: applications and
 * projects; demonstration: applications and validation), one with `roles` to those roles only; the hub refuses what a page would call anyway.
 */
interface PageSpec {
  id: string;
  label: MessageKey;
  Page: () => preact.JSX.Element;
  service?: string;
  roles?: readonly string[];
}

/** Everyone who works with the hub's data, as against citizens, who see their own record. */
const STAFF = ['admin', 'steward', 'researcher', 'developer', 'validator', 'service'];

const PAGES = [
  { id: 'overview', label: 'navOverview', Page: OverviewPage, roles: STAFF },
  { id: 'catalog', label: 'navCatalog', Page: CatalogPage, roles: STAFF },
  { id: 'cohorts', label: 'navCohorts', Page: CohortsPage, roles: STAFF },
  { id: 'models', label: 'navModels', Page: ModelsPage, roles: STAFF },
  { id: 'surveillance', label: 'navSurveillance', Page: SurveillancePage, roles: STAFF },
  { id: 'ingest', label: 'navIngest', Page: IngestPage, roles: ['admin', 'steward', 'service'] },
  { id: 'apply', label: 'navApply', Page: ApplyPage, roles: ['researcher', 'developer'], service: 'applications' },
  {
    id: 'projects',
    label: 'navProjects',
    Page: MyProjectsPage,
    roles: ['researcher', 'developer', 'steward', 'admin'],
  },
  { id: 'review', label: 'navReview', Page: ReviewPage, roles: ['steward', 'admin'] },
  {
    id: 'workspace',
    label: 'navWorkspace',
    Page: WorkspacePage,
    roles: ['researcher', 'developer'],
    service: 'projects',
  },
  { id: 'outputs', label: 'navOutputs', Page: OutputsReviewPage, roles: ['steward', 'admin'], service: 'projects' },
  {
    id: 'submit-model',
    label: 'navSubmitModel',
    Page: SubmitModelPage,
    roles: ['developer', 'admin'],
    service: 'validation',
  },
  {
    id: 'validations',
    label: 'navValidations',
    Page: ValidationsPage,
    roles: ['developer', 'validator', 'steward', 'admin'],
    service: 'validation',
  },
  { id: 'verify-report', label: 'navVerifyReport', Page: VerifyReportPage, roles: STAFF, service: 'validation' },
  { id: 'accounts', label: 'navAccounts', Page: AccountsPage, roles: ['admin'] },
  { id: 'my-record', label: 'navMyRecord', Page: MyRecordPage, roles: ['citizen'] },
  { id: 'my-consent', label: 'navMyConsent', Page: MyConsentPage, roles: ['citizen'] },
] as const satisfies readonly PageSpec[];

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

/** The pages this hub and this caller have. */
function pagesFor(policy: ConsolePolicy): readonly PageSpec[] {
  return PAGES.filter(
    (p: PageSpec) =>
      (p.service === undefined || policy.hub.services.includes(p.service)) &&
      (p.roles === undefined || p.roles.includes(policy.you.role)),
  );
}

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

/**
 * The signed-in console renders once the hub's policy is known: withheld figures say "fewer than {threshold}", and
 * the navigation lists the pages of this hub's role and the caller's.
 */
function WithPolicy({ children }: { children: (policy: ConsolePolicy) => ComponentChildren }) {
  const policy = useApi<ConsolePolicy>('/console/policy');
  return (
    <Async loaded={policy}>
      {(p) => <PolicyContext.Provider value={p.disclosure}>{children(p)}</PolicyContext.Provider>}
    </Async>
  );
}

export function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [oidc] = useState(oidcReturn);
  const [signedIn, setSignedIn] = useState(() => session.token() !== null && oidc.refreshToken === undefined);
  const [refusal, setRefusal] = useState(oidc.error);
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
      {signedIn ? (
        <WithPolicy>
          {(policy) => {
            const pages = pagesFor(policy);
            const current = pages.find((p) => p.id === page) ?? pages[0] ?? PAGES[0];
            return (
              <>
                <nav aria-label={i18n.t('mainNav')} class="nav">
                  <ul>
                    {pages.map((p) => (
                      <li key={p.id}>
                        <a href={`#/${p.id}`} aria-current={p.id === current.id ? 'page' : undefined}>
                          {i18n.t(p.label)}
                        </a>
                      </li>
                    ))}
                  </ul>
                </nav>
                <main id="main" tabIndex={-1}>
                  <h1>{i18n.t(current.label)}</h1>
                  <current.Page />
                </main>
              </>
            );
          }}
        </WithPolicy>
      ) : (
        <main id="main" tabIndex={-1}>
          <LoginPage
            refusal={refusal}
            onSignedIn={() => {
              setRefusal(undefined);
              setSignedIn(true);
            }}
          />
        </main>
      )}
    </I18nContext.Provider>
  );
}
