import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { HealthmeshError } from '../core/index.js';
import { hubPaths, openHub, readHubConfig } from '../hub/index.js';
import type { IngestProgress } from '../ingest/index.js';
import type { AdminMessage } from './admin-protocol.js';
import { errorFromMessage } from './admin-protocol.js';
import type { HubOperation } from './hub-operation.js';

type Answer = { answered: false } | { answered: true; result: unknown };

/**
 * Ask the process serving on `socketPath` to run operation `name`. `answered: false` when no process listens there
 * (no socket, or a stale one left by a crash): nothing was sent, so the caller may do the work itself.
 */
export function askServingHub(
  socketPath: string,
  name: string,
  input: unknown,
  onProgress: (p: IngestProgress) => void,
): Promise<Answer> {
  // Without the file there is nothing to ask (a path too long for a socket was never bound either).
  if (!existsSync(socketPath)) return Promise.resolve({ answered: false });
  return new Promise((resolve, reject) => {
    let connected = false;
    let settled = false;
    const settle = (f: () => void) => {
      if (!settled) {
        settled = true;
        f();
      }
    };
    const body = JSON.stringify(input);
    const req = request(
      {
        socketPath,
        method: 'POST',
        path: `/${name}`,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.setEncoding('utf8');
        let buffer = '';
        const onLine = (line: string) => {
          const message = JSON.parse(line) as AdminMessage;
          if ('progress' in message) onProgress(message.progress);
          else if ('result' in message) settle(() => resolve({ answered: true, result: message.result }));
          else settle(() => reject(errorFromMessage(message.error)));
        };
        res.on('data', (chunk: string) => {
          buffer += chunk;
          for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
            const line = buffer.slice(0, i);
            buffer = buffer.slice(i + 1);
            try {
              onLine(line);
            } catch (e) {
              settle(() => reject(new HealthmeshError('INTERNAL', `unreadable answer from the serving hub: ${e}`)));
              req.destroy();
            }
          }
        });
        res.on('end', () =>
          settle(() =>
            reject(new HealthmeshError('INTERNAL', 'the serving hub closed its admin connection without an answer')),
          ),
        );
      },
    );
    req.on('socket', (s) => s.once('connect', () => (connected = true)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (!connected && (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')) settle(() => resolve({ answered: false }));
      else if (!connected)
        settle(() =>
          reject(
            new HealthmeshError(
              'STORE_LOCKED',
              `a serving hub holds the store and its admin socket cannot be used (${e.code ?? e.message})`,
              { file: socketPath },
            ),
          ),
        );
      else
        settle(() =>
          reject(
            new HealthmeshError(
              'INTERNAL',
              `the admin connection to the serving hub broke (${e.code ?? e.message}); the hub's audit log shows whether the work was done`,
            ),
          ),
        );
    });
    req.end(body);
  });
}

/**
 * Run a CLI command's work on the hub in `dir`: through the serving process's admin socket while a hub serves it
 * (DuckDB admits one process per store), else in this process on the store opened here.
 */
export async function runHubOperation<I, R>(
  dir: string,
  op: HubOperation<I, R>,
  input: I,
  onProgress: (p: IngestProgress) => void = () => undefined,
): Promise<R> {
  // A PostgreSQL store is opened by every process that needs it; only a DuckDB one is held by the serving process.
  const answer =
    readHubConfig(dir).config.store.engine === 'postgres'
      ? { answered: false as const }
      : await askServingHub(hubPaths(dir).adminSocket, op.name, input, onProgress);
  // The serving process ran this same `op.run`; its result is JSON by the operation's contract.
  if (answer.answered) return answer.result as R;
  const hub = await openHub(dir);
  try {
    return await op.run(hub, input, { actor: 'cli', onProgress });
  } finally {
    await hub.close();
  }
}
