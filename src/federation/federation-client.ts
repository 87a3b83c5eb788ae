import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { HubIdentity } from './hub-identity.js';
import type { PeerDirectory } from './peer-directory.js';
import { bodyHash, SIGNATURE_HEADER, signRequest, verifyResponse } from './signed-message.js';

/** Why a peer gave no usable result. */
export interface PeerFailure {
  hub: string;
  /** `unknown-peer`: the name is not in this hub's peers file, so nothing was sent. */
  kind: 'timeout' | 'unreachable' | 'refused' | 'bad-response' | 'unknown-peer';
  /** The peer's own error code, when it refused with one. */
  remoteCode?: string;
  message: string;
}

/** A failed call to one peer; `failure` says how. */
export class PeerCallError extends HealthmeshError {
  constructor(readonly failure: PeerFailure) {
    super(
      failure.kind === 'bad-response' ? 'FEDERATION_BAD_SIGNATURE' : 'FEDERATION_PEER_FAILED',
      `${failure.hub}: ${failure.message}`,
    );
  }
}

export interface CallOptions {
  timeoutMs: number;
}

function remoteError(text: string): { code?: string; message: string } {
  try {
    const issue = (
      JSON.parse(text) as { issue?: { details?: { coding?: { code?: string }[] }; diagnostics?: string }[] }
    ).issue?.[0];
    const code = issue?.details?.coding?.[0]?.code;
    return { ...(code !== undefined && { code }), message: issue?.diagnostics ?? text.slice(0, 200) };
  } catch {
    return { message: text.slice(0, 200) };
  }
}

/**
 * The sending side: signs a request for one peer, sends it, and accepts the answer only when the peer's
 * signature over it verifies and binds it to this request (audience, nonce, status, body hash, fresh time).
 */
export class FederationClient {
  constructor(
    private readonly identity: HubIdentity,
    private readonly peers: PeerDirectory,
    private readonly clock: Clock,
    private readonly clockSkewMs: number,
  ) {}

  /** Call `operation` on `hub` with a JSON body; resolves to the operation's verified result. */
  async call(hub: string, operation: string, body: unknown, options: CallOptions): Promise<unknown> {
    const peer = this.peers.require(hub);
    const key = this.peers.publicKey(hub)!;
    const text = JSON.stringify(body ?? {});
    const path = `/federation/${operation}`;
    const nonce = randomBytes(16).toString('base64url');
    const signature = await signRequest(
      {
        iss: this.identity.name,
        aud: peer.name,
        method: 'POST',
        path,
        bodySha256: bodyHash(text),
        ts: this.clock.now().getTime(),
        nonce,
      },
      this.identity.privateKey,
    );
    const fail = (kind: PeerFailure['kind'], message: string, remoteCode?: string): never => {
      throw new PeerCallError({ hub, kind, message, ...(remoteCode !== undefined && { remoteCode }) });
    };
    let res: Response;
    let answer: string;
    try {
      // One signal bounds connecting, waiting and reading the body.
      const signal = AbortSignal.timeout(options.timeoutMs);
      res = await fetch(`${peer.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature },
        body: text,
        signal,
      });
      answer = await res.text();
    } catch (e) {
      const err = e as Error;
      if (err.name === 'TimeoutError' || err.name === 'AbortError')
        return fail('timeout', `no answer within ${options.timeoutMs} ms`);
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return fail('unreachable', `cannot reach ${peer.url}: ${cause ?? err.message}`);
    }
    const header = res.headers.get(SIGNATURE_HEADER);
    if (!header) return fail('bad-response', 'the answer carries no signature');
    let claims: Awaited<ReturnType<typeof verifyResponse>>;
    try {
      claims = await verifyResponse(header, key);
    } catch (e) {
      return fail('bad-response', (e as Error).message);
    }
    if (claims.iss !== peer.name || claims.aud !== this.identity.name || claims.inReplyTo !== nonce) {
      return fail('bad-response', 'the signed answer is not addressed to this request');
    }
    if (claims.status !== res.status || claims.bodySha256 !== bodyHash(answer)) {
      return fail('bad-response', 'the answer does not match its signature (status or body changed)');
    }
    if (Math.abs(this.clock.now().getTime() - claims.ts) > this.clockSkewMs) {
      return fail('bad-response', 'the signed answer is stale');
    }
    if (res.status !== 200) {
      const r = remoteError(answer);
      return fail('refused', `refused with ${res.status}${r.code ? ` ${r.code}` : ''}: ${r.message}`, r.code);
    }
    try {
      return (JSON.parse(answer) as { result: unknown }).result;
    } catch {
      return fail('bad-response', 'the answer is not JSON');
    }
  }
}
