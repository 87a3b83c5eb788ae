import type { AuditLog } from '../access/index.js';
import type { Clock, ErrorCode } from '../core/index.js';
import { HealthmeshError, isHealthmeshError } from '../core/index.js';
import { isReleased } from '../privacy/index.js';
import type { HubIdentity } from './hub-identity.js';
import type { NonceStore } from './nonce-store.js';
import type { OperationRegistry } from './operation-registry.js';
import type { PeerDirectory } from './peer-directory.js';
import type { RequestClaims } from './signed-message.js';
import { bodyHash, claimedSender, signResponse, verifyRequest } from './signed-message.js';

/** A hub-to-hub request as it arrived: the exact body text and the signature header. */
export interface IncomingRequest {
  method: string;
  /** Path and query exactly as requested. */
  path: string;
  body: string;
  signature: string | undefined;
}

export interface ReceiverDeps {
  identity: HubIdentity;
  peers: PeerDirectory;
  nonces: NonceStore;
  operations: OperationRegistry;
  clock: Clock;
  audit: AuditLog;
  /** Allowed distance between a request's signed time and this hub's clock. */
  clockSkewMs: number;
}

/** Who a response answers: the verified (or, for a refusal, the claimed) signer and nonce. */
export interface ReplyTo {
  peer: string;
  nonce: string;
}

/**
 * The receiving side of the federation transport: verifies a signed request against the peers file (signature,
 * audience, method, path, body hash, timestamp, nonce), dispatches verified requests to a registered operation, and
 * signs every response. What reaches the audit log is what a peer did: every request whose header passed (its nonce
 * is then spent, so each is one fresh request of a key holder) and every refusal after that. A refused header
 * (unsigned, unknown signer, bad signature, stale, replayed) is not audited: anyone can send one, or resend a
 * captured request forever; the server counts them for the hub's log instead (`isHeaderRefusal`).
 */
export class RequestReceiver {
  constructor(private readonly deps: ReceiverDeps) {}

  /** Verify a request, header and body; a refusal is thrown with its code, and audited once the header passed. */
  async verify(req: IncomingRequest): Promise<RequestClaims> {
    const claims = await this.verifyHeader(req);
    await this.verifyBody(claims, req);
    return claims;
  }

  /**
   * Verify everything a request's signature header says before its body is read: presence, signer (a peer),
   * signature, audience, method, path, timestamp and nonce. The server calls this as the request arrives, so a
   * request without a valid header is refused without its body being buffered (docs/federation.md). A refusal is
   * thrown with its code and not audited (`isHeaderRefusal`). Taking the nonce here means a request whose body then fails its hash has
   * used its nonce: it was signed by a peer for that nonce, so a resend with another body is a replay anyway.
   */
  async verifyHeader(req: Omit<IncomingRequest, 'body'>): Promise<RequestClaims> {
    try {
      return await this.checkHeader(req);
    } catch (e) {
      if (e instanceof Error) headerRefusals.add(e);
      throw e;
    }
  }

  /** Whether `e` refused a request's header (not audited; the caller counts it). */
  isHeaderRefusal(e: unknown): boolean {
    return e instanceof Error && headerRefusals.has(e);
  }

  /** Verify the body read after `verifyHeader` accepted the header: its hash is the signed one. */
  async verifyBody(claims: RequestClaims, req: IncomingRequest): Promise<void> {
    await this.audited(req, async () => {
      if (claims.bodySha256 !== bodyHash(req.body)) {
        throw new HealthmeshError('FEDERATION_BAD_SIGNATURE', 'the signed body hash does not match the request');
      }
    });
  }

  /** Audit a refusal of a request decided outside the receiver (a body over the route's limit). */
  async auditRefusal(req: Omit<IncomingRequest, 'body'>, e: unknown): Promise<void> {
    const claimed = req.signature ? claimedSender(req.signature)?.iss : undefined;
    const code: ErrorCode = isHealthmeshError(e) ? e.code : 'INTERNAL';
    await this.deps.audit.append({
      actor: claimed ? `peer:${claimed}` : 'anonymous',
      action: 'federation.refuse',
      target: `${req.method} ${req.path}`,
      outcome: 'denied',
      detail: { code, reason: e instanceof Error ? e.message.slice(0, 300) : String(e) },
    });
  }

  private async audited<T>(req: Omit<IncomingRequest, 'body'>, check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (e) {
      await this.auditRefusal(req, e);
      throw e;
    }
  }

  private async checkHeader(req: Omit<IncomingRequest, 'body'>): Promise<RequestClaims> {
    const { peers, identity, clock, clockSkewMs, nonces } = this.deps;
    if (!req.signature) {
      throw new HealthmeshError('FEDERATION_MISSING_SIGNATURE', 'a federation request must carry a signature header');
    }
    const issuer = claimedSender(req.signature)?.iss;
    const key = issuer === undefined ? undefined : peers.publicKey(issuer);
    if (issuer === undefined || key === undefined) {
      throw new HealthmeshError('FEDERATION_UNKNOWN_SIGNER', `signer ${issuer ?? '(none)'} is not a peer of this hub`);
    }
    const claims = await verifyRequest(req.signature, key);
    const mismatch = (what: string) =>
      new HealthmeshError('FEDERATION_BAD_SIGNATURE', `the signed ${what} does not match the request`);
    if (claims.aud !== identity.name) throw mismatch(`audience (${claims.aud})`);
    if (claims.method !== req.method) throw mismatch('method');
    if (claims.path !== req.path) throw mismatch('path');
    const drift = Math.abs(clock.now().getTime() - claims.ts);
    if (!Number.isFinite(drift) || drift > clockSkewMs) {
      throw new HealthmeshError(
        'FEDERATION_STALE_REQUEST',
        `the request was signed ${Math.round(drift / 1000)} s from this hub's clock; at most ${clockSkewMs / 1000} s is allowed`,
      );
    }
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(claims.nonce)) {
      throw new HealthmeshError('FEDERATION_BAD_SIGNATURE', 'the signed nonce is not 16–64 base64url characters');
    }
    // Last, so only verified, fresh requests take space in the nonce table.
    if (!(await nonces.accept(claims.iss, claims.nonce, new Date(claims.ts + clockSkewMs)))) {
      throw new HealthmeshError(
        'FEDERATION_REPLAY',
        `nonce ${claims.nonce.slice(0, 64)} from ${claims.iss} was already used`,
      );
    }
    return claims;
  }

  /** Parse the verified body and run its operation; the outcome is audited either way. */
  async dispatch(claims: RequestClaims, operation: string, bodyText: string): Promise<unknown> {
    const audit = (outcome: 'success' | 'failure' | 'denied', detail: Record<string, string | number | boolean>) =>
      this.deps.audit.append({
        actor: `peer:${claims.iss}`,
        action: `federation.${operation}`,
        target: claims.path,
        outcome,
        detail,
      });
    try {
      const handler = this.deps.operations.handler(operation);
      let body: unknown;
      try {
        body = bodyText === '' ? {} : JSON.parse(bodyText);
      } catch (e) {
        throw new HealthmeshError('API_BAD_REQUEST', `request body is not valid JSON: ${(e as Error).message}`);
      }
      const result: unknown = await handler({ peer: claims.iss, operation, body });
      // Structural, not by convention: an operation that built its answer around the gate is a defect, and the
      // peer gets an error instead of the figures.
      if (!isReleased(result)) {
        throw new HealthmeshError(
          'DISCLOSURE_UNGATED',
          `federation operation ${operation} answered without the release gate`,
        );
      }
      await audit('success', { nonce: claims.nonce });
      return result.value;
    } catch (e) {
      const code = isHealthmeshError(e) ? e.code : 'INTERNAL';
      await audit(code === 'DISCLOSURE_DIFFERENCING' || code === 'DISCLOSURE_REFUSED' ? 'denied' : 'failure', {
        nonce: claims.nonce,
        code,
      });
      throw e;
    }
  }

  /** Sign a response body for the peer it answers. */
  signResponse(status: number, body: string, to: ReplyTo): Promise<string> {
    return signResponse(
      {
        iss: this.deps.identity.name,
        aud: to.peer,
        status,
        bodySha256: bodyHash(body),
        ts: this.deps.clock.now().getTime(),
        inReplyTo: to.nonce,
      },
      this.deps.identity.privateKey,
    );
  }
}

/** Errors that refused a request's header: the server counts these instead of auditing them. */
const headerRefusals = new WeakSet<Error>();
