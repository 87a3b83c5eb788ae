import type { Clock } from '../core/index.js';
import type { Database, Migration } from '../store/index.js';

export const federationMigrations: readonly Migration[] = [
  {
    module: 'federation',
    version: 1,
    name: 'accepted request nonces',
    statements: [
      `CREATE TABLE federation_nonce (
        signer VARCHAR NOT NULL,
        nonce VARCHAR NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (signer, nonce)
      )`,
    ],
  },
];

/**
 * Nonces of accepted requests, kept in the store until their request could no longer pass the timestamp check
 * (signed time + allowed skew), so a replay is refused across restarts too.
 */
export class NonceStore {
  private lastPurge = 0;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** Record the nonce; false when this signer has used it before. */
  async accept(signer: string, nonce: string, expiresAt: Date): Promise<boolean> {
    const now = this.clock.now();
    // Expired nonces are purged at most once a minute: the table stays small without a delete per request.
    if (now.getTime() - this.lastPurge > 60_000) {
      this.lastPurge = now.getTime();
      await this.db.run('DELETE FROM federation_nonce WHERE expires_at < $1', [now]);
    }
    // ON CONFLICT … RETURNING yields a row only when the insert happened: one atomic statement on both engines.
    const rows = await this.db.transaction((tx) =>
      tx.all(
        `INSERT INTO federation_nonce (signer, nonce, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING nonce`,
        [signer, nonce, expiresAt],
      ),
    );
    return rows.length === 1;
  }
}
