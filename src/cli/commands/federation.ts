import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { HealthmeshError } from '../../core/index.js';
import type { Ed25519Jwk } from '../../federation/index.js';
import { loadIdentity, PeerDirectory, parsePeer } from '../../federation/index.js';
import type { HubPaths } from '../../hub/index.js';
import { defaultHubDir, readHubConfig, writeIdentityKey } from '../../hub/index.js';
import type { Io } from '../io.js';

/** The hub's paths and name, read from its files alone: these commands work while the hub is serving. */
export function hubFiles(dir: string): { paths: HubPaths; name: string } {
  const { paths, config } = readHubConfig(dir);
  return { paths, name: config.name };
}

/** A bare Ed25519 `x` (43 base64url characters) can begin with '-'; commander would read it as an option. */
const BARE_KEY_WITH_DASH = /^-[A-Za-z0-9_-]{42}$/;

/**
 * `peers add NAME URL -abc…`: one key in 64 begins with '-'. Move such a key behind `--` so it stays the
 * third operand instead of failing as an unknown option.
 */
export function protectBareKeys(argv: readonly string[]): string[] {
  if (argv[0] !== 'peers' || argv[1] !== 'add' || argv.includes('--')) return [...argv];
  const keys = argv.filter((a) => BARE_KEY_WITH_DASH.test(a));
  if (keys.length !== 1) return [...argv];
  return [...argv.filter((a) => a !== keys[0]), '--', keys[0] as string];
}

/** A public key given on the command line: a JWK (JSON) or its bare 43-character `x`. */
function parseKeyArgument(text: string): Ed25519Jwk {
  const t = text.trim();
  if (t.startsWith('{')) {
    try {
      return JSON.parse(t) as Ed25519Jwk;
    } catch (e) {
      throw new HealthmeshError(
        'FEDERATION_INVALID_PEERS',
        `the public key is not valid JSON: ${(e as Error).message}`,
      );
    }
  }
  return { kty: 'OKP', crv: 'Ed25519', x: t };
}

export function identityCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('identity')
    .description("Print this hub's Ed25519 public key (JWK) and its thumbprint, for other hubs' peers files.")
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--json', 'print {name, publicKey, thumbprint} as JSON')
    .option('--generate', 'create the identity key if this hub has none (hubs made before federation)')
    .addHelpText('after', '\nExample:\n  $ healthmesh identity --dir ./gwangju --json\n')
    .action(async (opts: { dir: string; json?: boolean; generate?: boolean }) => {
      const { paths, name } = hubFiles(opts.dir);
      if (opts.generate && !existsSync(paths.identityKey)) writeIdentityKey(paths);
      const id = loadIdentity(name, paths);
      if (opts.json) {
        io.out.write(`${JSON.stringify({ name, publicKey: id.publicJwk, thumbprint: id.thumbprint })}\n`);
      } else {
        io.out.write(`hub: ${name}\npublic key (JWK): ${JSON.stringify(id.publicJwk)}\nthumbprint: ${id.thumbprint}\n`);
      }
      setCode(0);
    });
}

export function peersCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const peers = program
    .command('peers')
    .description('The hubs this hub exchanges signed requests with (peers.json). A running hub reads it at start.');
  peers
    .command('add <name> <url> <publicKey>')
    .description("Add or replace a peer: its name, base URL, and public key (JWK JSON or the JWK's x).")
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh peers add busan http://127.0.0.1:8083 "$(healthmesh identity --dir ./busan --json | jq -c .publicKey)" --dir ./gwangju\n',
    )
    .action(async (name: string, url: string, key: string, opts: { dir: string }) => {
      const { paths } = hubFiles(opts.dir);
      const peer = parsePeer({ name, url, publicKey: parseKeyArgument(key) }, 'command line');
      PeerDirectory.open(paths.peers).add(peer);
      io.out.write(`peer ${peer.name} at ${peer.url} added\n`);
      setCode(0);
    });
  peers
    .command('list')
    .description('List the peers: name, URL and key thumbprint.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--json', 'print the peers file as JSON')
    .addHelpText('after', '\nExample:\n  $ healthmesh peers list --dir ./gwangju\n')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const { paths } = hubFiles(opts.dir);
      const list = PeerDirectory.open(paths.peers).list();
      if (opts.json) io.out.write(`${JSON.stringify(list)}\n`);
      else if (list.length === 0) io.out.write('no peers\n');
      else for (const p of list) io.out.write(`${p.name}\t${p.url}\t${p.publicKey.x}\n`);
      setCode(0);
    });
  peers
    .command('remove <name>')
    .description('Remove a peer: its requests are refused from the next start on.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .addHelpText('after', '\nExample:\n  $ healthmesh peers remove busan --dir ./gwangju\n')
    .action(async (name: string, opts: { dir: string }) => {
      const { paths } = hubFiles(opts.dir);
      PeerDirectory.open(paths.peers).remove(name);
      io.out.write(`peer ${name} removed\n`);
      setCode(0);
    });
}
