import type { KeyObject } from 'node:crypto';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { HubPaths } from '../context/index.js';
import { HealthmeshError } from '../core/index.js';

/** An Ed25519 public key as a JWK (RFC 8037): what a peers file holds and `healthmesh identity` prints. */
export interface Ed25519Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
}

/** A hub's signing identity: its name, private key (kept in the process) and public JWK. */
export interface HubIdentity {
  name: string;
  privateKey: KeyObject;
  publicJwk: Ed25519Jwk;
  /** RFC 7638 JWK thumbprint (SHA-256, base64url): a short fingerprint to compare out of band. */
  thumbprint: string;
}

/** RFC 7638: the required members in lexicographic order, no whitespace. */
export function jwkThumbprint(jwk: Ed25519Jwk): string {
  return createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x }))
    .digest('base64url');
}

/** A fresh Ed25519 identity for hub-to-hub signatures (owner-only; refuses to overwrite an existing key). */
export function writeIdentityKey(paths: HubPaths): void {
  const { privateKey } = generateKeyPairSync('ed25519');
  mkdirSync(dirname(paths.identityKey), { recursive: true, mode: 0o700 });
  writeFileSync(paths.identityKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
}

/** Read the hub's identity key (written by `healthmesh init`). */
export function loadIdentity(name: string, paths: HubPaths): HubIdentity {
  if (!existsSync(paths.identityKey)) {
    throw new HealthmeshError(
      'FEDERATION_NO_IDENTITY',
      `${paths.identityKey} is missing: this hub predates federation; run \`healthmesh identity --generate\``,
      { file: paths.identityKey },
    );
  }
  const privateKey = createPrivateKey(readFileSync(paths.identityKey));
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new HealthmeshError('FEDERATION_NO_IDENTITY', `${paths.identityKey} is not an Ed25519 private key`, {
      file: paths.identityKey,
    });
  }
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const publicJwk: Ed25519Jwk = { kty: 'OKP', crv: 'Ed25519', x: String(jwk.x) };
  return { name, privateKey, publicJwk, thumbprint: jwkThumbprint(publicJwk) };
}
