import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { Hub } from '../../hub/index.js';
import { defaultHubDir, hubPaths, openHub } from '../../hub/index.js';
import { buildServer } from '../../server/index.js';
import { ADMIN_OPERATIONS } from '../admin-operations.js';
import { startAdminSocket } from '../admin-socket.js';
import { issueDemoCitizens } from '../demo-citizens.js';
import { prepareDemoHubs, serveDemoHubs } from '../demo-federation.js';
import { issueDemoPeople } from '../demo-people.js';
import { DEMO_PEOPLE } from '../demo-population.js';
import { validateDemoModel } from '../demo-validation.js';
import type { Io } from '../io.js';
import { parsePeople } from '../options.js';

interface ServeOptions {
  dir: string;
  port?: string;
  host?: string;
}

interface StartOptions extends ServeOptions {
  people: string;
}

/**
 * The hub's admin socket, so `token`, `stats`, `ingest` and `audit verify` work while this process holds the store;
 * returns its closer. Without one (a path too long for a socket, or another process answering for the hub) the
 * hub still serves, and says why those commands will find the store locked.
 */
async function openAdminSocket(hub: Hub, io: Io): Promise<() => Promise<void>> {
  // A PostgreSQL store takes many processes: the CLI opens it itself, beside any number of serving ones.
  if (hub.db.engine === 'postgres') return async () => undefined;
  const socket = await startAdminSocket(hub, ADMIN_OPERATIONS);
  if (socket.ok) {
    io.out.write(`admin socket for the CLI: ${socket.path}\n`);
    return socket.close;
  }
  io.err.write(
    socket.reason === 'path-too-long'
      ? `no admin socket: ${hub.paths.adminSocket} is longer than a unix socket path may be; stop the hub to run token, stats, ingest or audit commands\n`
      : `no admin socket: another process answers on ${hub.paths.adminSocket}\n`,
  );
  return async () => undefined;
}

async function serve(hub: Hub, opts: ServeOptions, io: Io): Promise<void> {
  const port = opts.port !== undefined ? Number(opts.port) : hub.config.server.port;
  const host = opts.host ?? hub.config.server.host;
  const app = await buildServer(hub);
  const address = await app.listen({ port, host });
  const closeAdmin = await openAdminSocket(hub, io).catch(async (e: unknown) => {
    await app.close();
    throw e;
  });
  io.out.write(`healthmesh hub "${hub.config.name}" serving FHIR R4 at ${address}/fhir\n`);
  io.out.write(`admin token: ${hub.paths.adminToken}\n`);
  io.out.write(`try: curl -H "Authorization: Bearer $(cat ${hub.paths.adminToken})" ${address}/fhir/metadata\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void Promise.all([app.close(), closeAdmin()]).then(() => resolve());
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export function serveCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('serve')
    .description('Serve the hub over HTTP: FHIR R4 REST API with bulk $export.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('-p, --port <port>', 'port (default: hub config, 8080)')
    .option('--host <host>', 'interface to bind (default: hub config, 127.0.0.1)')
    .addHelpText('after', '\nExample:\n  $ healthmesh serve --dir ./gwangju --port 8081\n')
    .action(async (opts: ServeOptions) => {
      await serveDir(opts, io);
      setCode(0);
    });
}

/** Open the hub in `opts.dir`, serve it until a signal, close it. */
async function serveDir(opts: ServeOptions, io: Io): Promise<void> {
  const hub = await openHub(opts.dir);
  try {
    await serve(hub, opts, io);
    await checkpointAtShutdown(hub);
  } finally {
    await hub.close();
  }
}

export function startCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('start')
    .description(
      'The demo in one command: three peered hubs (gwangju data, gyeonggi research, busan demonstration), each with its own synthetic population, served on consecutive ports.',
    )
    .option(
      '-d, --dir <dir>',
      'folder of the demo hubs (an existing single hub there is served as it is)',
      defaultHubDir(),
    )
    .option(
      '-p, --port <port>',
      'first port (8080: gwangju 8080, gyeonggi 8081, busan 8082; 0: any free ports)',
      '8080',
    )
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--people <n>', 'residents in each synthetic population loaded into an empty hub', String(DEMO_PEOPLE))
    .addHelpText('after', '\nExample:\n  $ npm start            # same as: healthmesh start --dir ./.healthmesh\n')
    .action(async (opts: StartOptions) => {
      if (existsSync(hubPaths(opts.dir).config)) {
        // A single hub made by an earlier version of the demo, or by `init`: serve it.
        await serveDir(opts, io);
        setCode(0);
        return;
      }
      const people = parsePeople(opts.people);
      const hubs = await prepareDemoHubs(opts.dir, people, io);
      try {
        const apps = await serveDemoHubs(hubs, Number(opts.port), opts.host ?? '127.0.0.1', io);
        const passwords = await issueDemoPeople(hubs, apps, io);
        await issueDemoCitizens(hubs, io, people);
        await validateDemoModel(hubs, apps, passwords, io);
        const admins: (() => Promise<void>)[] = [];
        for (const hub of hubs) admins.push(await openAdminSocket(hub, io));
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            void Promise.all([...apps.map((a) => a.close()), ...admins.map((close) => close())]).then(() => resolve());
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        for (const hub of hubs) await checkpointAtShutdown(hub);
        setCode(0);
      } finally {
        for (const hub of hubs) await hub.close();
      }
    });
}

/**
 * Seal what the server appended with a signed checkpoint before the store closes. A failure (a hub without identity,
 * a chain that no longer verifies) is the hub log's to report and does not stop the shutdown.
 */
async function checkpointAtShutdown(hub: Hub): Promise<void> {
  try {
    await hub.audit.checkpoint();
  } catch (e) {
    hub.logger.error(
      { code: (e as { code?: string }).code ?? 'INTERNAL', reason: (e as Error).message.slice(0, 300) },
      'audit checkpoint not written at shutdown',
    );
  }
}
