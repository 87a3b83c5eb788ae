import { chmodSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { HealthmeshError } from '../core/index.js';
import type { Hub } from '../hub/index.js';
import type { AdminMessage } from './admin-protocol.js';
import { errorMessage } from './admin-protocol.js';
import type { HubOperation, OperationContext } from './hub-operation.js';

/** An operation as the admin socket runs it: input straight from the request, checked by the operation. */
export type AdminHandler = (hub: Hub, input: unknown, ctx: OperationContext) => Promise<unknown>;

/** The socket's entry for `op`, under its name. */
export function adminHandler<I, R>(op: HubOperation<I, R>): [string, AdminHandler] {
  return [op.name, (hub, input, ctx) => op.run(hub, op.parse(input), ctx)];
}

/** Linux keeps a socket's path in 108 bytes with its NUL; libuv binds a longer one at a truncated path. */
const MAX_SOCKET_PATH_BYTES = 107;
/** Requests are a few names and paths; this bounds what a confused client can make the hub buffer. */
const MAX_REQUEST_BYTES = 1024 * 1024;

export type AdminSocketStart =
  | { ok: true; path: string; close(): Promise<void> }
  | { ok: false; reason: 'path-too-long' | 'another-process-answers' };

/**
 * Serve `operations` for the CLI on a unix socket in the hub's owner-only `run/` directory: HTTP with one POST per
 * operation, answered in NDJSON (`AdminMessage`). Unix only, never TCP: the file's permissions (directory 0700,
 * socket 0600) admit the hub's owner alone, who may open the store anyway, so requests carry no token. A socket
 * left by a crashed process is removed only when nothing answers on it.
 */
export async function startAdminSocket(
  hub: Hub,
  operations: ReadonlyMap<string, AdminHandler>,
): Promise<AdminSocketStart> {
  const path = hub.paths.adminSocket;
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) return { ok: false, reason: 'path-too-long' };
  mkdirSync(hub.paths.runDir, { recursive: true, mode: 0o700 });
  chmodSync(hub.paths.runDir, 0o700);
  if (await answers(path)) return { ok: false, reason: 'another-process-answers' };
  if (lstatSync(path, { throwIfNoEntry: false })?.isSocket()) rmSync(path);
  const server = createServer((req, res) => {
    void handle(hub, operations, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // The directory already keeps others out; the socket's own mode says so too (the umask made it 0700).
  chmodSync(path, 0o600);
  return {
    ok: true,
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          rmSync(path, { force: true });
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

/** Whether a process accepts connections on the socket at `path`. */
function answers(path: string): Promise<boolean> {
  if (!lstatSync(path, { throwIfNoEntry: false })?.isSocket()) return Promise.resolve(false);
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function handle(
  hub: Hub,
  operations: ReadonlyMap<string, AdminHandler>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  // A CLI that went away (Ctrl-C) does not stop the work; its later lines have nowhere to go.
  res.on('error', () => undefined);
  const send = (m: AdminMessage) => {
    if (!res.destroyed) res.write(`${JSON.stringify(m)}\n`);
  };
  const name = (req.url ?? '/').slice(1);
  try {
    const operation = operations.get(name);
    if (req.method !== 'POST' || operation === undefined)
      throw new HealthmeshError('API_NOT_FOUND', `the admin socket has no operation '${req.method} /${name}'`);
    const input = await readJson(req);
    const result = await operation(hub, input, {
      actor: 'cli:admin-socket',
      onProgress: (p) => send({ progress: p }),
    });
    send({ result });
  } catch (e) {
    // Faults that are not ours to expect go to the hub log as well, by kind only: messages may hold file paths.
    if (!(e instanceof HealthmeshError))
      hub.logger.error({ operation: name, error: e instanceof Error ? e.name : typeof e }, 'admin operation failed');
    send(errorMessage(e));
  }
  res.end();
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > MAX_REQUEST_BYTES)
      throw new HealthmeshError('API_BODY_TOO_LARGE', `an admin request is limited to ${MAX_REQUEST_BYTES} bytes`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HealthmeshError('API_BAD_REQUEST', 'an admin request body must be JSON');
  }
}
