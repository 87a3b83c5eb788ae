import { useEffect, useState } from 'preact/hooks';
import type { SessionTokens } from '../api.js';
import { ApiError, api, session } from '../api.js';
import { ErrorBox } from '../components.js';
import { useI18n } from '../i18n.js';
import type { MessageKey } from '../messages.js';

/** What a refused sign-in says, by the hub's code; anything else is shown as the hub's own error. */
const REFUSALS: Record<string, MessageKey> = {
  AUTH_SIGN_IN_FAILED: 'badPassword',
  AUTH_ACCOUNT_LOCKED: 'accountLocked',
  AUTH_ACCOUNT_DISABLED: 'accountDisabled',
  AUTH_OIDC_FAILED: 'oidcFailed',
};

/**
 * The one page served before a credential: a sign-in name and password (a session the console keeps fresh), the
 * hospital's OpenID Provider when the hub has one, or a bearer token (services, the admin token `init` prints),
 * checked against the API before it is kept for the tab.
 */
export function LoginPage({ onSignedIn, refusal }: { onSignedIn: () => void; refusal?: string | undefined }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [oidc, setOidc] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | string | null>(
    refusal === undefined ? null : t(REFUSALS[refusal] ?? 'oidcFailed'),
  );
  useEffect(() => {
    api<{ oidc: boolean }>('/auth/options', {}, null).then(
      (o) => setOidc(o.oidc),
      () => setOidc(false),
    );
  }, []);
  const usePassword = name.trim() !== '' && password !== '';
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (token.trim() !== '') {
        await api('/console/overview', {}, token.trim());
        session.signIn(token.trim());
      } else {
        session.start(
          await api<SessionTokens>(
            '/auth/login',
            {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ name: name.trim(), password }),
            },
            null,
          ),
        );
      }
      onSignedIn();
    } catch (err) {
      const refused = err instanceof ApiError && err.status === 401;
      setError(
        err instanceof ApiError && err.status === 429
          ? t('tooManySignIns')
          : !refused
            ? (err as ApiError)
            : token.trim() !== ''
              ? t('badToken')
              : t(REFUSALS[err.code] ?? 'badPassword'),
      );
    } finally {
      setBusy(false);
    }
  };
  const field = (id: string, label: MessageKey, value: string, set: (v: string) => void, type = 'text') => (
    <>
      <label for={id}>{t(label)}</label>
      <input
        id={id}
        name={id}
        type={type}
        autocomplete={
          type === 'password' && id === 'token' ? 'off' : id === 'password' ? 'current-password' : 'username'
        }
        value={value}
        onInput={(e) => set((e.currentTarget as HTMLInputElement).value)}
      />
    </>
  );
  return (
    <>
      <form class="card login" onSubmit={submit}>
        <h1>{t('loginTitle')}</h1>
        <p>{t('loginPasswordHelp')}</p>
        {field('signin-name', 'signInName', name, setName)}
        {field('password', 'password', password, setPassword, 'password')}
        {oidc && (
          <p>
            <a class="button" href="/auth/oidc/start">
              {t('signInWithHospital')}
            </a>
          </p>
        )}
        <p>{t('loginHelp')}</p>
        {field('token', 'token', token, setToken, 'password')}
        <button type="submit" disabled={busy || (!usePassword && token.trim() === '')}>
          {busy ? t('signingIn') : t('signIn')}
        </button>
        {error && <ErrorBox error={error} />}
      </form>
      <SignUpForm />
    </>
  );
}

/** A person's own sign-up as an applicant: the account waits for an admin (docs/accounts.md). */
function SignUpForm() {
  const { t } = useI18n();
  const [handle, setHandle] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<'researcher' | 'developer'>('researcher');
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    try {
      const made = await api<{ handle: string }>(
        '/auth/sign-up',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            handle: handle.trim(),
            role,
            password,
            ...(name.trim() !== '' && { signInName: name.trim() }),
          }),
        },
        null,
      );
      setDone(t('signedUp', { handle: made.handle }));
      setPassword('');
    } catch (err) {
      setError(err instanceof ApiError && err.status === 429 ? t('tooManySignIns') : (err as ApiError));
    }
  };
  const input = (id: string, value: string, set: (v: string) => void, type = 'text') => (
    <input
      id={id}
      name={id}
      type={type}
      autocomplete={type === 'password' ? 'new-password' : 'off'}
      value={value}
      onInput={(e) => set((e.currentTarget as HTMLInputElement).value)}
    />
  );
  return (
    <form class="card login" onSubmit={submit} aria-labelledby="sign-up-title">
      <h2 id="sign-up-title">{t('signUpTitle')}</h2>
      <p>{t('signUpHelp')}</p>
      <label for="sign-up-handle">{t('accountHandle')}</label>
      {input('sign-up-handle', handle, setHandle)}
      <small>{t('accountHandleHelp')}</small>
      <label for="sign-up-name">{t('signUpName')}</label>
      {input('sign-up-name', name, setName)}
      <label for="sign-up-password">{t('signUpPassword')}</label>
      {input('sign-up-password', password, setPassword, 'password')}
      <label for="sign-up-role">{t('signUpRole')}</label>
      <select
        id="sign-up-role"
        value={role}
        onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value as 'researcher' | 'developer')}
      >
        <option value="researcher">{t('roleResearcher')}</option>
        <option value="developer">{t('roleDeveloper')}</option>
      </select>
      <button type="submit" disabled={handle.trim() === '' || password === ''}>
        {t('signUp')}
      </button>
      {done && <p role="status">{done}</p>}
      {error && <ErrorBox error={error} />}
    </form>
  );
}
