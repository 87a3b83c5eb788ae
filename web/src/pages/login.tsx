import { useState } from 'preact/hooks';
import { ApiError, api, session } from '../api.js';
import { ErrorBox } from '../components.js';
import { useI18n } from '../i18n.js';

/** The one page served before a token: the token is checked against the API before it is kept for the tab. */
export function LoginPage({ onSignedIn }: { onSignedIn: () => void }) {
  const { t } = useI18n();
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('/console/overview', {}, token.trim());
      session.signIn(token.trim());
      onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? t('badToken') : (err as ApiError));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card login" onSubmit={submit}>
      <h1>{t('loginTitle')}</h1>
      <p>{t('loginHelp')}</p>
      <label for="token">{t('token')}</label>
      <input
        id="token"
        name="token"
        type="password"
        autocomplete="off"
        required
        value={token}
        onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)}
      />
      <button type="submit" disabled={busy || token.trim() === ''}>
        {busy ? t('signingIn') : t('signIn')}
      </button>
      {error && <ErrorBox error={error} />}
    </form>
  );
}
