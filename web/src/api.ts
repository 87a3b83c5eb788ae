/** The bearer token of this browser tab: sessionStorage, so it ends with the tab and never reaches a cookie. */
const TOKEN_KEY = 'healthmesh.token';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

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

export function postJson<T>(path: string, body: unknown): Promise<T> {
  return api<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
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
