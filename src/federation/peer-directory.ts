import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { HealthmeshError } from '../core/index.js';
import type { Ed25519Jwk } from './hub-identity.js';

/** One hub this hub talks to. */
export interface Peer {
  name: string;
  /** Base URL of its server, e.g. `http://127.0.0.1:8082`. */
  url: string;
  publicKey: Ed25519Jwk;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Check one peer entry, naming the file and field that is wrong. */
export function parsePeer(value: unknown, where: string): Peer {
  const fail = (path: string, expected: string): never => {
    throw new HealthmeshError('FEDERATION_INVALID_PEERS', `${where}: ${path} must be ${expected}`, {
      file: where,
      path,
    });
  };
  if (value === null || typeof value !== 'object') return fail('(peer)', 'an object');
  const v = value as Record<string, unknown>;
  if (typeof v.name !== 'string' || !NAME.test(v.name)) fail('name', 'a lower-case hub name');
  let url: URL | undefined;
  try {
    url = new URL(String(v.url));
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) fail('url', 'an http(s) URL');
  const k = (v.publicKey ?? {}) as Record<string, unknown>;
  if (k.kty !== 'OKP' || k.crv !== 'Ed25519' || typeof k.x !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(k.x)) {
    fail('publicKey', 'an Ed25519 JWK ({"kty":"OKP","crv":"Ed25519","x":"<43 base64url chars>"})');
  }
  return {
    name: v.name as string,
    url: String(v.url).replace(/\/+$/, ''),
    publicKey: { kty: 'OKP', crv: 'Ed25519', x: k.x as string },
  };
}

/**
 * The peers file (`peers.json` in the hub's directory): a JSON array of `{ name, url, publicKey }`. Read once
 * when opened; `add` and `remove` rewrite it atomically. Public keys are not secret, but the file decides whom
 * this hub believes, so it is written owner-only like the rest of the hub's directory.
 */
export class PeerDirectory {
  private readonly keys = new Map<string, KeyObject>();

  private constructor(
    private readonly file: string,
    private peers: Peer[],
  ) {}

  static open(file: string): PeerDirectory {
    if (!existsSync(file)) return new PeerDirectory(file, []);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new HealthmeshError('FEDERATION_INVALID_PEERS', `${file}: ${(e as Error).message}`, { file });
    }
    if (!Array.isArray(parsed)) {
      throw new HealthmeshError('FEDERATION_INVALID_PEERS', `${file}: must be a JSON array of peers`, { file });
    }
    const peers = parsed.map((p, i) => parsePeer(p, `${file}[${i}]`));
    const names = new Set<string>();
    for (const p of peers) {
      if (names.has(p.name)) {
        throw new HealthmeshError('FEDERATION_INVALID_PEERS', `${file}: peer ${p.name} is listed twice`, { file });
      }
      names.add(p.name);
    }
    return new PeerDirectory(file, peers);
  }

  list(): readonly Peer[] {
    return this.peers;
  }

  get(name: string): Peer | undefined {
    return this.peers.find((p) => p.name === name);
  }

  /** The peer or a `FEDERATION_UNKNOWN_PEER` error. */
  require(name: string): Peer {
    const p = this.get(name);
    if (!p) throw new HealthmeshError('FEDERATION_UNKNOWN_PEER', `no peer named ${name} in ${this.file}`);
    return p;
  }

  /** The peer's verification key, imported once. */
  publicKey(name: string): KeyObject | undefined {
    const known = this.keys.get(name);
    if (known) return known;
    const peer = this.get(name);
    if (!peer) return undefined;
    const key = createPublicKey({ key: { ...peer.publicKey }, format: 'jwk' });
    this.keys.set(name, key);
    return key;
  }

  /** Add or replace a peer. */
  add(peer: Peer): void {
    const checked = parsePeer(peer, this.file);
    this.peers = [...this.peers.filter((p) => p.name !== checked.name), checked];
    this.keys.delete(checked.name);
    this.save();
  }

  remove(name: string): void {
    this.require(name);
    this.peers = this.peers.filter((p) => p.name !== name);
    this.keys.delete(name);
    this.save();
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.peers, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
