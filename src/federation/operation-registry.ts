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

const OPERATION_NAME = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;

/**
 * The operations this hub answers at `POST /federation/<name>`. Modules register theirs (`cohort.count`,
 * `glm.gradient`, `forecast.submit` …) when the server is built; the transport only verifies and dispatches.
 */
export class OperationRegistry {
  private readonly handlers = new Map<string, OperationHandler>();

  register(name: string, handler: OperationHandler): this {
    if (!OPERATION_NAME.test(name)) throw new Error(`invalid federation operation name ${name}`);
    if (this.handlers.has(name)) throw new Error(`federation operation ${name} is registered twice`);
    this.handlers.set(name, handler);
    return this;
  }

  has(name: string): boolean {
    return this.handlers.has(name);
  }

  names(): string[] {
    return [...this.handlers.keys()].sort();
  }

  handler(name: string): OperationHandler {
    const h = this.handlers.get(name);
    if (!h) throw new HealthmeshError('FEDERATION_UNKNOWN_OPERATION', `no federation operation ${name} on this hub`);
    return h;
  }
}
