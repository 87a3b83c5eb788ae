import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabase, TEST_ENGINE } from '../../test/support/test-engine.js';
import { fixedClock, isHealthmeshError } from '../core/index.js';
import type { Database } from '../store/index.js';
import { migrate, ResourceStore, resourceStoreMigrations } from '../store/index.js';
import { ACT_REASON, ConsentDecisions, ConsentPolicy, consentDecisionMigrations } from './index.js';

const ENGINES = [TEST_ENGINE] as const;
const NOW = new Date('2026-03-01T00:00:00Z');
const PEOPLE = ['p1', 'p2', 'p3', 'p4'];

function consent(id: string, patient: string, provision: Record<string, unknown>, dateTime = '2020-01-01') {
  const content = JSON.stringify({
    resourceType: 'Consent',
    id,
    status: 'active',
    dateTime,
    patient: { reference: `Patient/${patient}` },
    provision,
  });
  return {
    type: 'Consent',
    id,
    hash: createHash('sha256').update(content).digest('hex'),
    patientKey: patient,
    source: 'test',
    content,
    search: { tokens: [], dates: [], references: [] },
  };
}

for (const engine of ENGINES) {
  describe(`consent decisions as SQL (${engine})`, () => {
    let db: Database | undefined;
    afterEach(async () => {
      await db?.close();
      db = undefined;
    });

    async function open(config = {}) {
      db = await openTestDatabase();
      await migrate(db, [...resourceStoreMigrations, ...consentDecisionMigrations], NOW);
      const store = new ResourceStore(db);
      const decisions = new ConsentDecisions(db, new ConsentPolicy({ purposes: config }), fixedClock(NOW));
      const allowed = async (purpose: string, asOf?: Date) => {
        await decisions.refresh(); // what the hub's after-commit pipeline does after each write
        const f = await decisions.filter(purpose, asOf);
        const values = PEOPLE.map((p) => `('${p}')`).join(', ');
        const rows = await db!.all<{ k: string }>(
          `SELECT k FROM (VALUES ${values}) AS t(k) WHERE ${f.allows('k')} ORDER BY k`,
        );
        return rows.map((r) => r.k);
      };
      return { store, decisions, allowed };
    }

    it('leaves out refusers of a purpose as of the query time, and counts a new consent at the next query', async () => {
      const { store, allowed } = await open();
      await store.write(
        [
          consent('c1', 'p1', { type: 'deny', purpose: [{ system: ACT_REASON, code: 'HRESCH' }] }),
          // Refuses research in 2021 only.
          consent('c2', 'p2', {
            type: 'deny',
            purpose: [{ system: ACT_REASON, code: 'HRESCH' }],
            period: { start: '2021-01-01', end: '2021-12-31' },
          }),
        ],
        NOW,
      );
      expect(await allowed('research')).toEqual(['p2', 'p3', 'p4']);
      expect(await allowed('research', new Date('2021-06-01T00:00:00Z'))).toEqual(['p3', 'p4']);
      expect(await allowed('research', new Date('2021-12-31T23:00:00Z'))).toEqual(['p3', 'p4']);
      expect(await allowed('treatment')).toEqual(PEOPLE);
      // Opt-in: only someone who permitted commercial use is in.
      expect(await allowed('commercial')).toEqual([]);
      await store.write(
        [
          consent('c3', 'p3', { type: 'permit', purpose: [{ system: ACT_REASON, code: 'HMARKT' }] }, '2025-01-01'),
          // p1 permits research again, later than the refusal.
          consent('c4', 'p1', { type: 'permit', purpose: [{ system: ACT_REASON, code: 'HRESCH' }] }, '2025-01-01'),
        ],
        NOW,
      );
      expect(await allowed('commercial')).toEqual(['p3']);
      expect(await allowed('research')).toEqual(PEOPLE);
      // As of before the permit, p1's refusal still held.
      expect(await allowed('research', new Date('2024-06-01T00:00:00Z'))).toEqual(['p2', 'p3', 'p4']);
    });

    it('applies no consent to a purpose used without consent, and refuses an unknown purpose by code', async () => {
      const { store, allowed, decisions } = await open({ research: { withoutConsent: true } });
      await store.write(
        [consent('c1', 'p1', { type: 'deny', purpose: [{ system: ACT_REASON, code: 'HRESCH' }] })],
        NOW,
      );
      expect(await allowed('research')).toEqual(PEOPLE);
      expect((await decisions.filter('research')).basis).toBe('law');
      await expect(decisions.filter('marketing')).rejects.toSatisfy(
        (e: unknown) => isHealthmeshError(e) && e.code === 'CONSENT_UNKNOWN_PURPOSE',
      );
    });
  });
}
