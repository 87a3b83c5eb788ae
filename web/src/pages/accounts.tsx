import type { Static } from '@sinclair/typebox';
import { useState } from 'preact/hooks';
import type { AccountView } from '../../../src/server/api-schemas.js';
import { type ApiError, apiDelete, postJson } from '../api.js';
import { Async, DataTable, ErrorBox, Section, useApi } from '../components.js';
import { useI18n } from '../i18n.js';

type Account = Static<typeof AccountView>;
const ROLES = ['admin', 'steward', 'researcher', 'developer', 'validator', 'citizen', 'service'] as const;

/**
 * Admins manage the hub's accounts while it serves (`GET/POST /accounts`, `PATCH /accounts/:id`): list, create,
 * change a role, disable or enable, unlock. Each change is audited by the hub and holds from the holder's next request.
 */
export function AccountsPage() {
  const { t } = useI18n();
  const accounts = useApi<Account[]>('/accounts');
  const [error, setError] = useState<ApiError | null>(null);
  const change = async (a: Account, body: Record<string, unknown>) => {
    setError(null);
    try {
      await postJson(`/accounts/${encodeURIComponent(a.id)}`, body, 'PATCH');
      accounts.reload();
    } catch (e) {
      setError(e as ApiError);
    }
  };
  return (
    <>
      <Section title={t('accountsList')} id="accounts-list">
        {error && <ErrorBox error={error} />}
        <Async loaded={accounts}>
          {(list) => (
            <DataTable
              testId="accounts"
              rows={list}
              rowKey={(a) => a.id}
              columns={[
                { label: t('accountHandle'), cell: (a) => a.handle, rowHeader: true },
                {
                  label: t('accountRole'),
                  cell: (a) => (
                    <select
                      aria-label={t('accountRoleOf', { handle: a.handle })}
                      value={a.role}
                      onChange={(e) => change(a, { role: (e.currentTarget as HTMLSelectElement).value })}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  ),
                },
                {
                  label: t('accountStatus'),
                  cell: (a) =>
                    a.status === 'active'
                      ? t('statusActive')
                      : a.status === 'pending'
                        ? t('statusPending')
                        : t('statusDisabled'),
                },
                {
                  label: t('accountSignIn'),
                  cell: (a) => [a.password && t('password'), a.oidc && 'OpenID'].filter(Boolean).join(', '),
                },
                { label: t('accountLockedUntil'), cell: (a) => a.lockedUntil ?? '—' },
                {
                  label: t('accountActions'),
                  cell: (a) => (
                    <>
                      <button
                        type="button"
                        onClick={() => change(a, { status: a.status === 'active' ? 'disabled' : 'active' })}
                      >
                        {a.status === 'active'
                          ? t('accountDisable')
                          : a.status === 'pending'
                            ? t('accountApprove')
                            : t('accountEnable')}
                      </button>
                      {a.lockedUntil && (
                        <button type="button" onClick={() => change(a, { unlock: true })}>
                          {t('accountUnlock')}
                        </button>
                      )}
                    </>
                  ),
                },
              ]}
            />
          )}
        </Async>
      </Section>
      <Section title={t('accountCreate')} id="account-create">
        <CreateAccount onCreated={accounts.reload} />
      </Section>
      {accounts.state === 'ready' && (
        <Section title={t('accountResetPassword')} id="account-reset">
          <ResetPassword accounts={accounts.data.filter((a) => a.password)} />
        </Section>
      )}
      <Section title={t('tokensList')} id="tokens" wide>
        <Tokens />
      </Section>
    </>
  );
}

interface TokenRow {
  name: string;
  role: string;
  sources: string[];
  createdAt: string;
}

/** The hub's bearer tokens (`GET/POST /tokens`, `DELETE /tokens/:name`): holders only; a new token is shown once. */
function Tokens() {
  const { t, dateTime } = useI18n();
  const list = useApi<TokenRow[]>('/tokens');
  const [name, setName] = useState('');
  const [role, setRole] = useState('service');
  const [sources, setSources] = useState('');
  const [made, setMade] = useState<{ name: string; token: string } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const make = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const list_ = sources
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const r = await postJson<{ name: string; token: string }>('/tokens', {
        name: name.trim(),
        role,
        ...(list_.length > 0 && { sources: list_ }),
      });
      setMade({ name: r.name, token: r.token });
      setName('');
      setSources('');
      list.reload();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  const revoke = async (holder: string) => {
    setError(null);
    try {
      await apiDelete(`/tokens/${encodeURIComponent(holder)}`);
      list.reload();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <>
      {error && <ErrorBox error={error} />}
      <Async loaded={list}>
        {(rows) => (
          <DataTable
            testId="tokens"
            rows={rows}
            rowKey={(r) => `${r.name}-${r.createdAt}`}
            columns={[
              { label: t('tokenHolder'), cell: (r) => r.name, rowHeader: true },
              { label: t('accountRole'), cell: (r) => r.role },
              { label: t('tokenSources'), cell: (r) => (r.sources.length > 0 ? r.sources.join(', ') : '—') },
              { label: t('tokenCreated'), cell: (r) => dateTime(r.createdAt) },
              {
                label: t('accountActions'),
                cell: (r) => (
                  <button type="button" onClick={() => revoke(r.name)}>
                    {t('tokenRevoke')}
                  </button>
                ),
              },
            ]}
          />
        )}
      </Async>
      <form onSubmit={make} class="row">
        <label>
          {t('tokenHolder')}
          <input value={name} required onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label>
          {t('accountRole')}
          <select value={role} onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('tokenSourcesHelp')}
          <input value={sources} onInput={(e) => setSources((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <button type="submit">{t('tokenMake')}</button>
      </form>
      {made && (
        <p role="status">
          {t('tokenShownOnce', { name: made.name })} <code data-testid="new-token">{made.token}</code>
        </p>
      )}
    </>
  );
}

function CreateAccount({ onCreated }: { onCreated: () => void }) {
  const { t } = useI18n();
  const [handle, setHandle] = useState('');
  const [role, setRole] = useState<string>('researcher');
  const [signInName, setSignInName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    try {
      const a = await postJson<Account>('/accounts', {
        handle: handle.trim(),
        role,
        password,
        ...(signInName.trim() !== '' && { signInName: signInName.trim() }),
      });
      setDone(t('accountCreated', { handle: a.handle }));
      setHandle('');
      setSignInName('');
      setPassword('');
      onCreated();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  const input = (id: string, label: string, value: string, set: (v: string) => void, type = 'text') => (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        type={type}
        autocomplete={type === 'password' ? 'new-password' : 'off'}
        value={value}
        onInput={(e) => set((e.currentTarget as HTMLInputElement).value)}
      />
    </div>
  );
  return (
    <form onSubmit={submit}>
      {input('new-handle', t('accountHandle'), handle, setHandle)}
      <p class="hint">{t('accountHandleHelp')}</p>
      <div class="field">
        <label for="new-role">{t('accountRole')}</label>
        <select id="new-role" value={role} onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </div>
      {input('new-signin', t('signInName'), signInName, setSignInName)}
      {input('new-password', t('password'), password, setPassword, 'password')}
      <button type="submit" disabled={handle.trim() === '' || password === ''}>
        {t('accountCreate')}
      </button>
      {done && <p role="status">{done}</p>}
      {error && <ErrorBox error={error} />}
    </form>
  );
}

/** An admin sets a new password for a local account; the hub ends the holder's sessions. */
function ResetPassword({ accounts }: { accounts: Account[] }) {
  const { t } = useI18n();
  const [id, setId] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const chosen = accounts.find((a) => a.id === id) ?? accounts[0];
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!chosen) return;
    setError(null);
    setDone(null);
    try {
      await postJson(`/accounts/${encodeURIComponent(chosen.id)}`, { password }, 'PATCH');
      setDone(t('accountPasswordReset', { handle: chosen.handle }));
      setPassword('');
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <form onSubmit={submit}>
      <div class="field">
        <label for="reset-account">{t('accountHandle')}</label>
        <select
          id="reset-account"
          value={chosen?.id ?? ''}
          onChange={(e) => setId((e.currentTarget as HTMLSelectElement).value)}
        >
          {accounts.map((a) => (
            <option key={a.id} value={a.id}>
              {a.handle}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="reset-password">{t('accountNewPassword')}</label>
        <input
          id="reset-password"
          type="password"
          autocomplete="new-password"
          value={password}
          onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)}
        />
      </div>
      <button type="submit" disabled={!chosen || password === ''}>
        {t('accountResetPassword')}
      </button>
      {done && <p role="status">{done}</p>}
      {error && <ErrorBox error={error} />}
    </form>
  );
}
