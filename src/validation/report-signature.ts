/**
 * A validation report is signed by the hub with its Ed25519 identity (the key federation owns, `secrets/identity.pem`)
 * as a compact JWS whose payload is the report's JSON: the `.jws` file is the report. Anyone holding the hub's public
 * key (`GET /federation/identity`, or a peers file) can verify it offline with any JOSE library; a change to any
 * byte of the file breaks the signature or the encoding.
 */
import type { KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, decodeProtectedHeader, importJWK } from 'jose';
import type { HubServices as Hub } from '../context/index.js';
import type { Ed25519Jwk } from '../federation/index.js';
import { jwkThumbprint, loadIdentity } from '../federation/index.js';

/** The JWS `typ` of a report, so a hub's other signatures (federation requests) are never taken for one. */
export const REPORT_JWS_TYPE = 'healthmesh-validation-report+jws';

/** Sign `report` with the hub's identity key. */
export async function signReport(hub: Pick<Hub, 'config' | 'paths'>, report: unknown): Promise<string> {
  const identity = loadIdentity(hub.config.name, hub.paths);
  return signWith(identity.privateKey, identity.thumbprint, report);
}

/** Sign `report` with an Ed25519 key (`kid` its JWK thumbprint). */
export async function signWith(key: KeyObject, kid: string, report: unknown): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(report)))
    .setProtectedHeader({ alg: 'EdDSA', typ: REPORT_JWS_TYPE, kid })
    .sign(key);
}

/** What a verification found: the report when the signature holds, else why not (never a throw for a bad file). */
export type ReportVerification = { valid: true; kid: string; report: unknown } | { valid: false; reason: string };

/**
 * Verify a signed report against an Ed25519 public key: the signature, the algorithm, the report type, and that the
 * `kid` is the key's thumbprint.
 */
export async function verifyReport(jws: string, publicKey: Ed25519Jwk): Promise<ReportVerification> {
  const text = jws.trim();
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(text);
  } catch {
    return { valid: false, reason: 'not a compact JWS' };
  }
  if (header.alg !== 'EdDSA' || header.typ !== REPORT_JWS_TYPE) {
    return { valid: false, reason: `not a validation report signature (alg ${header.alg}, typ ${header.typ})` };
  }
  const kid = jwkThumbprint(publicKey);
  if (header.kid !== kid) return { valid: false, reason: 'signed by another key than the one given' };
  try {
    const key = await importJWK({ ...publicKey }, 'EdDSA');
    const { payload } = await compactVerify(text, key, { algorithms: ['EdDSA'] });
    return { valid: true, kid, report: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload)) };
  } catch {
    return { valid: false, reason: 'the signature does not match the report' };
  }
}

/** Verify a report against this hub's own identity. */
export async function verifyOwnReport(hub: Pick<Hub, 'config' | 'paths'>, jws: string): Promise<ReportVerification> {
  return verifyReport(jws, loadIdentity(hub.config.name, hub.paths).publicJwk);
}
