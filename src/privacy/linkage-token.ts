import type { KeyObject } from 'node:crypto';
import { createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { HealthmeshError } from '../core/index.js';

/** The identifier system of Korean resident registration numbers, as the synthetic data (and our docs) use it. */
export const RRN_SYSTEM = 'https://healthmesh.example/fhir/sid/kr-rrn';

const FORMAT = 'healthmesh-linkage-key/1';
// DER prefixes of X25519 keys (RFC 8410): PKCS#8 private key and SubjectPublicKeyInfo, each + 32 raw bytes.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

/** An X25519 scalar as a key object, for `diffieHellman`. */
export function x25519Scalar(bytes: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, bytes]), format: 'der', type: 'pkcs8' });
}

/** [scalar]·u on Curve25519 (x-only, RFC 7748). Scalar multiplications commute, which the blinding relies on. */
export function x25519(scalar: KeyObject, u: Uint8Array): Buffer {
  const point = createPublicKey({ key: Buffer.concat([SPKI_X25519, u]), format: 'der', type: 'spki' });
  try {
    return diffieHellman({ privateKey: scalar, publicKey: point });
  } catch (e) {
    // Only a small-order point gives the all-zero result OpenSSL refuses; hashes and random bytes never are one.
    throw new HealthmeshError('LINKAGE_INVALID_SUBMISSION', 'a linkage point is of small order', {}, { cause: e });
  }
}

/** The 13 digits of a resident registration number (YYMMDD-SNNNNNN), or a `LINKAGE_INVALID_IDENTIFIER` error. */
export function normaliseRrn(value: string): string {
  const digits = value.replace(/[\s-]/g, '');
  if (!/^\d{13}$/.test(digits)) {
    throw new HealthmeshError('LINKAGE_INVALID_IDENTIFIER', 'a resident registration number must have 13 digits', {
      path: 'Patient.identifier',
    });
  }
  return digits;
}

/**
 * The curve point of a person: a keyed hash of the normalised identifier (bit 255 is ignored by X25519). Keyed
 * with the service's point key, so only enrolled hubs can turn an identifier into a point at all.
 */
function personPoint(pointKey: Uint8Array, rrn: string): Buffer {
  return createHmac('sha256', pointKey).update('healthmesh-linkage/v1/point\u0000').update(normaliseRrn(rrn)).digest();
}

/** What the linkage service issues to one hub: the point key every hub shares, and the hub's own scalar. */
export interface LinkageKey {
  hub: string;
  /** Short fingerprint of the key, to tell keys apart in logs and audits. */
  keyId: string;
  /** K_p: the same for every hub of one service. */
  pointKey: Uint8Array;
  /** k_h: this hub's own. */
  scalar: Uint8Array;
  issuedAt: string;
}

/**
 * The linkage service's derivation from its master key M: K_p = HMAC-SHA256(M, "…/point-key") for every hub and
 * k_h = HMAC-SHA256(M, "…/hub/" ‖ hub name) for hub h (docs/linkage.md).
 */
export function issueLinkageKey(master: Uint8Array, hub: string, issuedAt: Date): LinkageKey {
  if (master.length < 32) throw new HealthmeshError('LINKAGE_INVALID_KEY', 'the linkage master key must be 32 bytes');
  const pointKey = createHmac('sha256', master).update('healthmesh-linkage/v1/point-key').digest();
  const scalar = createHmac('sha256', master).update(`healthmesh-linkage/v1/hub/${hub}`).digest();
  return {
    hub,
    keyId: keyIdOf(pointKey, scalar),
    pointKey: new Uint8Array(pointKey),
    scalar: new Uint8Array(scalar),
    issuedAt: issuedAt.toISOString(),
  };
}

function keyIdOf(pointKey: Uint8Array, scalar: Uint8Array): string {
  return createHash('sha256')
    .update('healthmesh-linkage/v1/key-id\u0000')
    .update(pointKey)
    .update(scalar)
    .digest('hex')
    .slice(0, 16);
}

export function formatLinkageKey(key: LinkageKey): string {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
  const file = {
    format: FORMAT,
    hub: key.hub,
    keyId: key.keyId,
    issuedAt: key.issuedAt,
    pointKey: b64(key.pointKey),
    scalar: b64(key.scalar),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Read an issued key file, checking that it was issued for `hub`. */
export function parseLinkageKey(text: string, file: string, hub: string): LinkageKey {
  const fail = (why: string): never => {
    throw new HealthmeshError('LINKAGE_INVALID_KEY', `${file}: ${why}`, { file });
  };
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    return fail((e as Error).message);
  }
  if (v.format !== FORMAT) fail(`format must be ${FORMAT}`);
  if (v.hub !== hub) fail(`the key was issued for hub ${String(v.hub)}, not ${hub}`);
  const bytes = (field: string): Buffer => {
    const b = typeof v[field] === 'string' ? Buffer.from(v[field] as string, 'base64url') : Buffer.alloc(0);
    if (b.length !== 32) fail(`${field} must be 32 bytes (base64url)`);
    return b;
  };
  const pointKey = bytes('pointKey');
  const scalar = bytes('scalar');
  if (v.keyId !== keyIdOf(pointKey, scalar)) fail('keyId does not match the key');
  return {
    hub,
    keyId: String(v.keyId),
    pointKey: new Uint8Array(pointKey),
    scalar: new Uint8Array(scalar),
    issuedAt: String(v.issuedAt),
  };
}

/**
 * Derives a hub's linkage token of a person at ingest: t = [k_h]·H_Kp(rrn), 32 bytes as base64url. The
 * identifier itself is never kept; without the issued key a token cannot be recomputed from a guessed
 * identifier, and two hubs' tokens of the same person differ until the per-query blinding makes them comparable.
 */
export class LinkageTokeniser {
  private readonly scalar: KeyObject;

  constructor(readonly key: LinkageKey) {
    this.scalar = x25519Scalar(key.scalar);
  }

  token(rrn: string): string {
    return x25519(this.scalar, personPoint(this.key.pointKey, rrn)).toString('base64url');
  }

  /** The token of a FHIR Patient from its resident registration number identifier, if it has one. */
  tokenOfPatient(patient: Record<string, unknown>): string | undefined {
    const ids = patient.identifier;
    if (!Array.isArray(ids)) return undefined;
    for (const id of ids as { system?: unknown; value?: unknown }[]) {
      if (id?.system === RRN_SYSTEM && typeof id.value === 'string') return this.token(id.value);
    }
    return undefined;
  }
}
