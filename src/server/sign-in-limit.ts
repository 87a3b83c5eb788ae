import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';

/**
 * At most `perMinute` sign-in attempts a minute from one client address, counted in fixed one-minute windows by the
 * hub's clock. The per-account lockout limits guesses at one name; this limits one client trying one password
 * across many names, which the lockout never sees, and the token limit never counts (no principal yet). In memory
 * per process, like the token limit: a hub served by several processes allows this many per process.
 */
export class SignInLimit {
  private window = -1;
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
  ) {}

  /** A `preHandler` for the sign-in routes: past the limit, 429 `API_RATE_LIMITED` with `Retry-After`. */
  readonly check = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const ms = this.clock.now().getTime();
    const window = Math.floor(ms / 60_000);
    // A new window forgets every client at once, so the map never holds more than one minute's addresses.
    if (window !== this.window) {
      this.window = window;
      this.counts.clear();
    }
    const n = (this.counts.get(req.ip) ?? 0) + 1;
    this.counts.set(req.ip, n);
    if (n <= this.perMinute) return;
    const retryAfter = Math.max(1, Math.ceil(((window + 1) * 60_000 - ms) / 1000));
    reply.header('retry-after', String(retryAfter));
    throw new HealthmeshError(
      'API_RATE_LIMITED',
      `more than ${this.perMinute} sign-in attempts a minute from this client (auth.signInPerMinute); retry in ${retryAfter} s`,
    );
  };
}
