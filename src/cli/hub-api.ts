/**
 * The CLI as a client of a serving hub's HTTP API: for work that runs where the hub's store is open (federated
 * runs, which need the serving process's federation identity) and for people acting at a hub they do not run
 * (a startup developer submitting a model to a demonstration hub). One place turns a refusal into our error, so
 * every such command exits with the code the hub gave (docs/errors.md).
 */
import { readFileSync } from 'node:fs';
import type { ErrorCode } from '../core/index.js';
import { ERROR_CODES, HealthmeshError } from '../core/index.js';
import { readHubConfig } from '../hub/index.js';

/** A serving hub's address and the bearer token used there. */
export interface HubEndpoint {
  url: string;
  token: string;
}

/**
 * The hub of `dir` as its operator reaches it: `url`, or its configured host and port, with its admin token (read
 * from the hub's own files; never from the command line, where other users' `ps` would see it).
 */
export function ownHubEndpoint(dir: string, url?: string): HubEndpoint {
  const { paths, config } = readHubConfig(dir);
  return {
    url: url ?? `http://${config.server.host}:${config.server.port}`,
    token: readFileSync(paths.adminToken, 'utf8').trim(),
  };
}

/**
 * A hub reached by a person with their own token: from `tokenFile`, else the `HEALTHMESH_TOKEN` environment
 * variable (a session token from signing in, or a token an admin issued).
 */
export function tokenEndpoint(url: string, tokenFile: string | undefined, env = process.env): HubEndpoint {
  let token: string | undefined;
  if (tokenFile !== undefined) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (e) {
      throw new HealthmeshError(
        'INGEST_UNREADABLE',
        `cannot read the token file ${tokenFile}`,
        { file: tokenFile },
        { cause: e },
      );
    }
  } else token = env.HEALTHMESH_TOKEN?.trim();
  if (token === undefined || token === '') {
    throw new HealthmeshError(
      'AUTH_MISSING_TOKEN',
      'no token: give --token-file FILE or set HEALTHMESH_TOKEN (sign in on the console or POST /auth/login to get one)',
    );
  }
  if (!/^https?:\/\/[^\s/]+/.test(url)) {
    throw new HealthmeshError('CONFIG_INVALID', `--url must be an http(s) address, got "${url}"`, { path: 'url' });
  }
  return { url: url.replace(/\/+$/, ''), token };
}

interface Outcome {
  issue?: { diagnostics?: string; details?: { coding?: { code?: string }[] } }[];
}

/**
 * Send one request and return the response when it succeeded. A hub that cannot be reached is
 * `FEDERATION_PEER_FAILED`; a refusal keeps the hub's own code (an OperationOutcome's `details.coding`) when it is
 * one of ours, so the exit code says who can fix it, with the hub's diagnostics as the message.
 */
export async function requestHub(
  hub: HubEndpoint,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(`${hub.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${hub.token}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  } catch (e) {
    throw new HealthmeshError(
      'FEDERATION_PEER_FAILED',
      `the hub at ${hub.url} is not reachable (is it serving?): ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (res.ok) return res;
  const text = await res.text();
  let outcome: Outcome = {};
  try {
    outcome = JSON.parse(text) as Outcome;
  } catch {
    // Not an OperationOutcome (a proxy's page): the status says enough.
  }
  const issue = outcome.issue?.[0];
  const code = issue?.details?.coding?.[0]?.code;
  throw new HealthmeshError(
    code !== undefined && code in ERROR_CODES ? (code as ErrorCode) : 'FEDERATION_PEER_FAILED',
    `${hub.url}${path.split('?')[0]}: ${res.status} ${issue?.diagnostics ?? ''}`.trimEnd(),
  );
}

/** `requestHub` for a JSON answer. */
export async function hubJson<T>(
  hub: HubEndpoint,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  return (await (await requestHub(hub, method, path, body)).json()) as T;
}
