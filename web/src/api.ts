/**
 * The credential of this browser tab: sessionStorage, so it ends with the tab and never reaches a cookie. Either a
 * bearer token pasted at the login page, or a signed-in session: its short-lived access token, its refresh token and
 * when the access token expires (the console refreshes it before).
 */
const TOKEN_KEY = 'healthmesh.token';
const REFRESH_KEY = 'healthmesh.refresh';
const EXPIRES_KEY = 'healthmesh.expires';

/** What `POST /auth/login` and `POST /auth/refresh` answer. */
export interface SessionTokens {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
}

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  /** Keep a bearer token (no refresh: it lasts until revoked). */
  signIn: (token: string): void => {
    sessionStorage.removeItem(REFRESH_KEY);
    sessionStorage.removeItem(EXPIRES_KEY);
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  /** Keep a session's tokens and refresh them before they expire. */
  start: (tokens: SessionTokens): void => {
    sessionStorage.setItem(TOKEN_KEY, tokens.accessToken);
    sessionStorage.setItem(REFRESH_KEY, tokens.refreshToken);
    sessionStorage.setItem(EXPIRES_KEY, tokens.expiresAt);
    keepSessionFresh();
  },
  signOut: (): void => {
    clearTimeout(refreshTimer);
    for (const k of [TOKEN_KEY, REFRESH_KEY, EXPIRES_KEY]) sessionStorage.removeItem(k);
  },
};

let refreshTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Refresh a signed-in session at four fifths of its access token's remaining life (at least 5 s from now), so a
 * page in use never meets an expired token; a refusal signs the tab out.
 */
export function keepSessionFresh(): void {
  clearTimeout(refreshTimer);
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  const expires = Date.parse(sessionStorage.getItem(EXPIRES_KEY) ?? '');
  if (refreshToken === null || Number.isNaN(expires)) return;
  const wait = Math.max(5_000, (expires - Date.now()) * 0.8);
  refreshTimer = setTimeout(() => {
    refreshSession(refreshToken).catch(() => {
      session.signOut();
      for (const fn of unauthorised) fn();
    });
  }, wait);
}

/** Spend a refresh token for a new pair and keep it. */
export async function refreshSession(refreshToken: string): Promise<void> {
  session.start(
    await api<SessionTokens>(
      '/auth/refresh',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) },
      null,
    ),
  );
}

/** Sign out: a session is ended at the hub (its tokens refused at once), then forgotten by the tab. */
export async function signOutOfHub(): Promise<void> {
  if (sessionStorage.getItem(REFRESH_KEY) !== null) {
    await api('/auth/logout', { method: 'POST' }).catch(() => undefined);
  }
  session.signOut();
}

/** An API call that failed: the hub's error code and message (from its OperationOutcome) or the network error. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Listeners told when the hub refuses the token (401): the app returns to the login page. */
const unauthorised = new Set<() => void>();
export function onUnauthorised(fn: () => void): () => void {
  unauthorised.add(fn);
  return () => unauthorised.delete(fn);
}

interface Outcome {
  issue?: { diagnostics?: string; details?: { coding?: { code?: string }[] } }[];
}

async function failure(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as Outcome;
    const issue = body.issue?.[0];
    code = issue?.details?.coding?.[0]?.code ?? code;
    message = issue?.diagnostics ?? message;
  } catch {
    // Not an OperationOutcome (a proxy's page): the status line is all there is.
  }
  return new ApiError(res.status, code, message);
}

/** Call the hub's API with the tab's token; resolves to the JSON body or rejects with an ApiError. */
export async function api<T>(path: string, init: RequestInit = {}, token = session.token()): Promise<T> {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers });
  } catch (e) {
    throw new ApiError(0, 'NETWORK', e instanceof Error ? e.message : String(e));
  }
  if (!res.ok) {
    const err = await failure(res);
    if (res.status === 401 && token === session.token()) for (const fn of unauthorised) fn();
    throw err;
  }
  return (await res.json()) as T;
}

export function postJson<T>(path: string, body: unknown, method: 'POST' | 'PATCH' = 'POST'): Promise<T> {
  return api<T>(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/**
 * Upload a file's bytes with progress (fetch has no upload progress; XMLHttpRequest does). Resolves to the JSON
 * answer or rejects with an ApiError.
 */
export function upload<T>(path: string, file: Blob, onProgress: (fraction: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    const token = session.token();
    if (token) xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'the upload failed before the hub answered'));
    xhr.onload = () => {
      let body: unknown;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body as T);
        return;
      }
      const issue = (body as Outcome | undefined)?.issue?.[0];
      if (xhr.status === 401) for (const fn of unauthorised) fn();
      reject(
        new ApiError(
          xhr.status,
          issue?.details?.coding?.[0]?.code ?? `HTTP_${xhr.status}`,
          issue?.diagnostics ?? `HTTP ${xhr.status}`,
        ),
      );
    };
    xhr.send(file);
  });
}

/** GET a file the hub answers (a download, an image to show), with the tab's token; rejects with an ApiError. */
export async function fetchBlob(path: string): Promise<Blob> {
  const res = await fetch(path, { headers: { authorization: `Bearer ${session.token() ?? ''}` } });
  if (!res.ok) throw await failure(res);
  return res.blob();
}

/** Hand bytes to the browser as a download named `filename`. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  URL.revokeObjectURL(url);
}

/** DELETE with the tab's token; rejects with an ApiError. */
export async function apiDelete(path: string): Promise<void> {
  const res = await fetch(path, { method: 'DELETE', headers: { authorization: `Bearer ${session.token() ?? ''}` } });
  if (!res.ok) throw await failure(res);
}
