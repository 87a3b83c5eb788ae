import type { KeyObject } from 'node:crypto';
import { createHash } from 'node:crypto';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { HealthmeshError } from '../core/index.js';

/** The header that carries a compact JWS over a request's or response's claims (docs/federation.md). */
export const SIGNATURE_HEADER = 'healthmesh-signature';

/** RFC 9864's fully specified name for EdDSA over Ed25519; nothing else is accepted. */
const ALG = 'Ed25519';
const REQUEST_TYPE = 'healthmesh-request+jws';
const RESPONSE_TYPE = 'healthmesh-response+jws';

/** What a hub signs about a request it sends. The body travels as it is; its hash is signed. */
export interface RequestClaims {
  /** The signing hub's name, as the receiver's peers file knows it. */
  iss: string;
  /** The receiving hub's name: a request signed for one hub is refused by another. */
  aud: string;
  method: string;
  path: string;
  /** base64url SHA-256 of the exact body bytes. */
  bodySha256: string;
  /** Milliseconds since the epoch, by the signer's clock. */
  ts: number;
  /** 128 random bits, base64url; each is accepted once per signer. */
  nonce: string;
}

/** What a hub signs about its answer: bound to the request by its nonce. */
export interface ResponseClaims {
  iss: string;
  aud: string;
  status: number;
  bodySha256: string;
  ts: number;
  inReplyTo: string;
}

export function bodyHash(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('base64url');
}

function sign(claims: object, typ: string, key: KeyObject): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: ALG, typ })
    .sign(key);
}

export function signRequest(claims: RequestClaims, key: KeyObject): Promise<string> {
  return sign(claims, REQUEST_TYPE, key);
}

export function signResponse(claims: ResponseClaims, key: KeyObject): Promise<string> {
  return sign(claims, RESPONSE_TYPE, key);
}

function bad(message: string): HealthmeshError {
  return new HealthmeshError('FEDERATION_BAD_SIGNATURE', message);
}

/**
 * The claimed signer and nonce, read before verification: only to pick the key, and to address a signed
 * refusal back to whoever asked. Nothing else is trusted yet.
 */
export function claimedSender(jws: string): { iss: string; nonce: string } | undefined {
  const parts = jws.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const c = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { iss?: unknown; nonce?: unknown };
    return typeof c.iss === 'string' ? { iss: c.iss, nonce: typeof c.nonce === 'string' ? c.nonce : '' } : undefined;
  } catch {
    return undefined;
  }
}

async function verify(jws: string, key: KeyObject, typ: string): Promise<Record<string, unknown>> {
  let header: { alg?: string; typ?: string };
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw bad('the signature is not a compact JWS');
  }
  if (header.typ !== typ) throw bad(`the signature is of type ${String(header.typ)}, not ${typ}`);
  try {
    const { payload } = await compactVerify(jws, key, { algorithms: [ALG] });
    return JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  } catch (e) {
    throw bad(`the signature does not verify: ${(e as Error).message}`);
  }
}

function checkShape(c: Record<string, unknown>, fields: Record<string, 'string' | 'number'>): void {
  for (const [k, t] of Object.entries(fields)) {
    if (typeof c[k] !== t) throw bad(`the signed claims lack ${k}`);
  }
}

/** Verify a request signature with the signer's key; the caller compares the claims with the request. */
export async function verifyRequest(jws: string, key: KeyObject): Promise<RequestClaims> {
  const c = await verify(jws, key, REQUEST_TYPE);
  checkShape(c, {
    iss: 'string',
    aud: 'string',
    method: 'string',
    path: 'string',
    bodySha256: 'string',
    ts: 'number',
    nonce: 'string',
  });
  return c as unknown as RequestClaims;
}

export async function verifyResponse(jws: string, key: KeyObject): Promise<ResponseClaims> {
  const c = await verify(jws, key, RESPONSE_TYPE);
  checkShape(c, {
    iss: 'string',
    aud: 'string',
    status: 'number',
    bodySha256: 'string',
    ts: 'number',
    inReplyTo: 'string',
  });
  return c as unknown as ResponseClaims;
}
