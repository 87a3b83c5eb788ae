import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './serve-process.js';

/** Debian's PostgreSQL binaries (`postgresql-15`; `.ci/run` installs them when missing). */
function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

export interface ThrowawayPostgres {
  /** A superuser URL of the cluster's `postgres` database. */
  url: string;
  port: number;
  /** Start the server again after `halt`. */
  start(): void;
  /** Stop the server, keeping its data (a node that goes down). */
  halt(): void;
  /** Stop the server and remove its data. */
  stop(): void;
}

/**
 * A throwaway PostgreSQL cluster: `initdb` on a temporary directory and a server on a free loopback port, run as
 * the `postgres` account when we are root (PostgreSQL refuses to run as root). Durability is off (fsync,
 * synchronous commit): a crashed test cluster is thrown away anyway. Undefined when no binaries are installed.
 */
export async function startPostgres(
  options: { settings?: readonly string[]; prefix?: string; bin?: string } = {},
): Promise<ThrowawayPostgres | undefined> {
  const bin = options.bin ?? binDir();
  if (bin === undefined) return undefined;
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), options.prefix ?? 'hm-pg-'));
  const data = join(dir, 'data');
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  const as = (cmd: string, args: string[]) =>
    root
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe' })
      : execFileSync(join(bin, cmd), args, { stdio: 'pipe' });
  as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
    '-c shared_buffers=256MB',
    ...(options.settings ?? []),
  ].join(' ');
  as('pg_ctl', ['-D', data, '-o', settings, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start: () => as('pg_ctl', ['-D', data, '-o', settings, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']),
    halt: () => as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']),
    stop: () => {
      try {
        as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
