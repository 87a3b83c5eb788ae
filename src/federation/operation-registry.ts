import { HealthmeshError } from '../core/index.js';
import type { Released } from '../privacy/index.js';

/** A verified request from a peer, as an operation handler sees it. */
export interface PeerRequest {
  /** The peer whose signature was verified. */
  peer: string;
  operation: string;
  /** The parsed JSON body (the signature covered its exact bytes). */
  body: unknown;
}

/**
 * A federation operation: takes a verified peer request, returns what the release gate let out. The transport
 * does not know what a result means, so it sends nothing else (`RequestReceiver.dispatch` checks at run time too).
 */
export type OperationHandler = (request: PeerRequest) => Promise<Released<unknown>>;

/**
 * Who may call an operation, declared at registration. `'peer'`: any hub of the peers file, by a request it signed
 * (verified before dispatch: signature, audience, time, nonce, body hash). Bearer tokens never reach an operation.
 * Narrower callers (named peers, a project's hubs) are not built; they would be further forms of this type.
 */
export type OperationAllow = 'peer';

/** One registered operation and who may call it. */
export interface OperationDeclaration {
  name: string;
  allow: OperationAllow;
}

const OPERATION_NAME = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;

/**
 * The operations this hub answers at `POST /federation/<name>`. Modules register theirs (`cohort.count`,
 * `glm.gradient`, `forecast.submit` …) when the server is built; the transport only verifies and dispatches.
 */
export class OperationRegistry {
  private readonly handlers = new Map<string, { allow: OperationAllow; handler: OperationHandler }>();

  /** Register `name`, answered by `handler`, callable by `allow`; an operation without a declaration is refused. */
  register(name: string, allow: OperationAllow, handler: OperationHandler): this {
    if (!OPERATION_NAME.test(name)) throw new Error(`invalid federation operation name ${name}`);
    if (this.handlers.has(name)) throw new Error(`federation operation ${name} is registered twice`);
    // Checked at run time as well: a declaration is what the authorization test enumerates (docs/federation.md).
    if ((allow as unknown) !== 'peer' || typeof handler !== 'function') {
      throw new Error(`federation operation ${name} declares no caller: register(name, 'peer', handler)`);
    }
    this.handlers.set(name, { allow, handler });
    return this;
  }

  has(name: string): boolean {
    return this.handlers.has(name);
  }

  names(): string[] {
    return [...this.handlers.keys()].sort();
  }

  /** Every operation with who may call it, by name. */
  declarations(): OperationDeclaration[] {
    return this.names().map((name) => ({ name, allow: this.handlers.get(name)!.allow }));
  }

  handler(name: string): OperationHandler {
    const h = this.handlers.get(name);
    if (!h) throw new HealthmeshError('FEDERATION_UNKNOWN_OPERATION', `no federation operation ${name} on this hub`);
    return h.handler;
  }
}
