import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Hub } from '../../src/hub/index.js';

export type AuditRow = {
  seq: number;
  logged_at: Date;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  detail: string;
};

/** The hash an entry had before the audit key: SHA-256 over the previous hash and the entry, as anyone can compute. */
export function unkeyedHash(prev: string, r: AuditRow): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        prev,
        Number(r.seq),
        new Date(r.logged_at).toISOString(),
        r.actor,
        r.action,
        r.target,
        r.outcome,
        r.detail,
      ]),
    )
    .digest('hex');
}

/** Rewrite entries from `fromSeq` to `toSeq` (all by default) with `edit`, recomputing the chain the unkeyed way. */
export async function rewriteUnkeyed(
  hub: Hub,
  edit: (r: AuditRow) => AuditRow,
  fromSeq = 1,
  toSeq = Number.MAX_SAFE_INTEGER,
) {
  const rows = await hub.db.all<AuditRow & { hash: string }>('SELECT * FROM audit_log ORDER BY seq');
  let prev = '0'.repeat(64);
  for (const original of rows) {
    const seq = Number(original.seq);
    if (seq < fromSeq || seq > toSeq) {
      prev = original.hash;
      continue;
    }
    const r = edit(original);
    const hash = unkeyedHash(prev, r);
    await hub.db.run(
      'UPDATE audit_log SET actor = $1, action = $2, target = $3, prev_hash = $4, hash = $5 WHERE seq = $6',
      [r.actor, r.action, r.target, prev, hash, seq],
    );
    prev = hash;
  }
  writeFileSync(hub.paths.auditAnchor, JSON.stringify({ seq: Number(rows.at(-1)?.seq ?? 0), hash: prev }));
}
