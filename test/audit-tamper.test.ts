import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../src/access/index.js';
import { main } from '../src/cli/main.js';
import { silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { openHub } from '../src/hub/index.js';
import { rewriteUnkeyed } from './support/audit-rewrite.js';
import { captureIo } from './support/cli-capture.js';
import { tempHub } from './support/temp-hub.js';

/**
 * Tampering with the audit log by someone who can write the store (and the files beside it) but does not hold the
 * hub's audit key or identity key: each way of rewriting history silently is detected, naming the entry or checkpoint.
 */

async function appendSome(hub: Hub, n: number): Promise<void> {
  for (let i = 0; i < n; i++)
    await hub.audit.append({ actor: 'kim', action: 'read', target: `Patient/${i}`, outcome: 'success' });
}

async function verifyCli(dir: string): Promise<{ code: number; err: string }> {
  const c = captureIo();
  const code = await main(['audit', 'verify', '--dir', dir], c.io);
  return { code, err: c.err };
}

describe('an audit log that cannot be rewritten silently', () => {
  let hub: Hub;
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ hub, dir, cleanup } = await tempHub('audit'));
  });
  afterAll(async () => cleanup());

  it('starts with a signed checkpoint of the init entry and verifies', async () => {
    const lines = readFileSync(hub.paths.auditCheckpoints, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ n: 1, seq: 1, count: 1, keyedFrom: 1 });
    expect(await hub.audit.verify()).toMatchObject({ ok: true, checkpoints: 1 });
  });

  it('refuses an entry rewritten with the chain recomputed the old, unkeyed way', async () => {
    await appendSome(hub, 4);
    await rewriteUnkeyed(hub, (r) => (Number(r.seq) === 3 ? { ...r, actor: 'mallory' } : r));
    const v = await hub.audit.verify();
    expect(v.ok).toBe(false);
    // Entry 1 too is rehashed without the key, so the first keyed entry is where the chain breaks.
    expect(v.fault).toMatchObject({ seq: 1, reason: 'entry content does not match its hash' });
  });

  it('detects the tail and the anchor deleted through a checkpoint, naming it', async () => {
    const fresh = await tempHub('audit-tail');
    try {
      await appendSome(fresh.hub, 5);
      const { checkpoint } = await fresh.hub.audit.checkpoint();
      // init wrote entry 1 and checkpoint 1's entry 2
      expect(checkpoint).toMatchObject({ n: 2, seq: 7 });
      await appendSome(fresh.hub, 2);
      await fresh.hub.db.run('DELETE FROM audit_log WHERE seq >= 4');
      rmSync(fresh.hub.paths.auditAnchor);
      const v = await fresh.hub.audit.verify();
      expect(v).toMatchObject({ ok: false, entries: 3, fault: { seq: 4, checkpoint: 2 } });
      expect(v.fault?.reason).toContain('cut off');
      await fresh.hub.close();
      const cli = await verifyCli(fresh.dir);
      expect(cli.code).toBe(1);
      expect(cli.err).toContain('AUDIT_CHAIN_BROKEN at entry 4 (checkpoint 2)');
    } finally {
      await fresh.cleanup();
    }
  });

  it('detects a checkpoint line cut from the middle or the end, an edited signature, and a deleted file', async () => {
    const fresh = await tempHub('audit-lines');
    try {
      for (let i = 0; i < 3; i++) {
        await appendSome(fresh.hub, 2);
        expect((await fresh.hub.audit.checkpoint()).written).toBe(true);
      }
      const path = fresh.hub.paths.auditCheckpoints;
      const original = readFileSync(path, 'utf8');
      const lines = original.trim().split('\n');
      expect(lines).toHaveLength(4);
      expect(await fresh.hub.audit.verify()).toMatchObject({ ok: true, checkpoints: 4 });
      const withLines = async (kept: string[]) => {
        writeFileSync(path, kept.length > 0 ? `${kept.join('\n')}\n` : '');
        return fresh.hub.audit.verify();
      };

      const middle = await withLines([lines[0]!, lines[1]!, lines[3]!]);
      expect(middle).toMatchObject({ ok: false, fault: { checkpoint: 3 } });
      expect(middle.fault?.reason).toContain('checkpoint 3 is missing');

      const last = await withLines(lines.slice(0, 3));
      expect(last).toMatchObject({ ok: false, fault: { checkpoint: 4 } });
      expect(last.fault?.reason).toContain('missing from the checkpoint file');

      const c = JSON.parse(lines[1]!) as { sig: string };
      const flipped = `${c.sig.startsWith('A') ? 'B' : 'A'}${c.sig.slice(1)}`;
      const edited = await withLines([lines[0]!, JSON.stringify({ ...c, sig: flipped }), lines[2]!, lines[3]!]);
      expect(edited).toMatchObject({ ok: false, fault: { checkpoint: 2 } });
      expect(edited.fault?.reason).toContain('signature of checkpoint 2 does not verify');

      // A checkpoint re-covering a shorter log cannot be forged either: a changed count breaks its signature.
      const c4 = JSON.parse(lines[3]!) as { seq: number };
      const moved = await withLines([...lines.slice(0, 3), JSON.stringify({ ...c4, seq: c4.seq - 1 })]);
      expect(moved.fault?.reason).toContain('signature of checkpoint 4 does not verify');

      rmSync(path);
      const gone = await fresh.hub.audit.verify();
      expect(gone).toMatchObject({ ok: false, fault: { checkpoint: 1 } });

      writeFileSync(path, original);
      expect(await fresh.hub.audit.verify()).toMatchObject({ ok: true, checkpoints: 4 });
    } finally {
      await fresh.cleanup();
    }
  });

  it('writes a checkpoint with `healthmesh audit checkpoint`, and none when nothing was appended since', async () => {
    const fresh = await tempHub('audit-cli');
    try {
      await appendSome(fresh.hub, 3);
      await fresh.hub.close();
      const first = captureIo();
      expect(await main(['audit', 'checkpoint', '--dir', fresh.dir], first.io)).toBe(0);
      expect(first.out).toMatch(/^checkpoint 2: entries 1-5, signed by \S+\n$/);
      const again = captureIo();
      expect(await main(['audit', 'checkpoint', '--dir', fresh.dir], again.io)).toBe(0);
      expect(again.out).toMatch(/^already at checkpoint 2/);
      const ok = captureIo();
      expect(await main(['audit', 'verify', '--dir', fresh.dir], ok.io)).toBe(0);
      expect(ok.out).toBe('audit log intact: 6 entries, 2 signed checkpoints\n');
    } finally {
      await fresh.cleanup();
    }
  });

  it('refuses to sign a checkpoint over a chain that no longer verifies', async () => {
    const fresh = await tempHub('audit-refuse');
    try {
      await appendSome(fresh.hub, 3);
      await fresh.hub.db.run("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
      await expect(fresh.hub.audit.checkpoint()).rejects.toMatchObject({ code: 'AUDIT_CHAIN_BROKEN' });
      expect(readFileSync(fresh.hub.paths.auditCheckpoints, 'utf8').trim().split('\n')).toHaveLength(1);
    } finally {
      await fresh.cleanup();
    }
  });

  it('writes a checkpoint every N entries on its own', async () => {
    const fresh = await tempHub('audit-every');
    try {
      const path = `${fresh.dir}/every.jsonl`;
      const log = new AuditLog(fresh.hub.db, fresh.hub.clock, `${fresh.dir}/every.head`, {
        key: fresh.hub.keys.audit,
        checkpointsPath: path,
        checkpointEvery: 5,
      });
      const { loadIdentity } = await import('../src/federation/index.js');
      const id = loadIdentity('audit-every', fresh.hub.paths);
      log.useSigner({ privateKey: id.privateKey, kid: id.thumbprint });
      for (let i = 0; i < 12; i++) await log.append({ actor: 'x', action: 'read', target: 't', outcome: 'success' });
      const written = readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { seq: number });
      // This file starts empty: the first checkpoint comes 5 entries in (init's two and three appends), each is then
      // recorded by an entry, and the next comes 5 entries after the one before.
      expect(written.map((c) => c.seq)).toEqual([5, 10, 15]);
      expect(await log.verify()).toMatchObject({ ok: true, checkpoints: 3 });
    } finally {
      await fresh.cleanup();
    }
  });

  it('upgrades a hub made before the audit key: old entries kept, keyed from the next one, and sealed by it', async () => {
    const fresh = await tempHub('audit-upgrade');
    try {
      await appendSome(fresh.hub, 3);
      await fresh.hub.close();
      // What an older hub looked like: every entry hashed unkeyed, no audit key, no checkpoints.
      const old = await openHub(fresh.dir, { logger: silentLogger() });
      await rewriteUnkeyed(old, (r) => (r.action === 'audit-checkpoint' ? { ...r, action: 'stats' } : r));
      await old.close();
      rmSync(fresh.hub.paths.auditKey);
      rmSync(fresh.hub.paths.auditCheckpoints);
      const before = readFileSync(fresh.hub.paths.auditAnchor, 'utf8');

      const hub = await openHub(fresh.dir, { logger: silentLogger() });
      try {
        expect(hub.keys.audit.keyedFrom).toBe(6);
        expect(readFileSync(fresh.hub.paths.auditAnchor, 'utf8')).toBe(before);
        expect(await hub.audit.verify()).toMatchObject({ ok: true, entries: 5, checkpoints: 0 });
        await appendSome(hub, 2);
        await hub.audit.checkpoint();
        expect(await hub.audit.verify()).toMatchObject({ ok: true, entries: 8, checkpoints: 1 });
        // The unkeyed part can still be recomputed by anyone, but the first keyed entry's HMAC covers its end.
        await rewriteUnkeyed(hub, (r) => (Number(r.seq) === 2 ? { ...r, actor: 'mallory' } : r), 1, 5);
        const v = await hub.audit.verify();
        expect(v).toMatchObject({ ok: false, fault: { seq: 6, reason: 'previous-hash link does not match' } });
      } finally {
        await hub.close();
      }
    } finally {
      await fresh.cleanup();
    }
  });

  it('keeps the audit key and the checkpoints owner-only, and the key out of the store', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(hub.paths.auditKey).mode & 0o777).toBe(0o600);
    expect(statSync(hub.paths.auditCheckpoints).mode & 0o777).toBe(0o600);
    expect(statSync(hub.paths.auditDir).mode & 0o777).toBe(0o700);
    const key = JSON.parse(readFileSync(hub.paths.auditKey, 'utf8')) as { key: string };
    const rows = await hub.db.all('SELECT * FROM audit_log');
    expect(JSON.stringify(rows)).not.toContain(key.key);
    expect(dir).toBeTruthy();
  });
});
