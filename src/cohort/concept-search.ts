import type { HubServices as Hub } from '../context/index.js';
import { analyticTable } from '../views/index.js';

/** A code found in the hub's event index, with the display text its records carry and how many people have it. */
export interface ConceptMatch {
  domain: string;
  system: string;
  code: string;
  display: string | null;
  /**
   * Distinct people with an event of this code (a raw count: disclosure control is the caller's). People, not
   * events: a drug taken by 6 people in 40 prescriptions is a group of 6 (issue 14).
   */
  persons: number;
}

/**
 * Display texts per (system, code), from the analytic tables that carry one. The event index keeps codes only;
 * displays live in the views (docs/views.md).
 */
const DISPLAYS = `
  SELECT code_system AS system, code_code AS code, MAX(code_display) AS display FROM ${analyticTable('condition')}
    WHERE code_display IS NOT NULL GROUP BY code_system, code_code
  UNION ALL
  SELECT code_system, code_code, MAX(code_display) FROM ${analyticTable('observation')}
    WHERE code_display IS NOT NULL GROUP BY code_system, code_code
  UNION ALL
  SELECT code_system, code_code, MAX(code_display) FROM ${analyticTable('procedure')}
    WHERE code_display IS NOT NULL GROUP BY code_system, code_code`;

/**
 * Codes of this hub's event index whose code or display text contains `text` (case-insensitive), those held by
 * the most people first: what the console's cohort builder offers as concepts. The index is checked current, never
 * rebuilt here.
 */
export async function searchConcepts(hub: Hub, text: string, limit = 20): Promise<ConceptMatch[]> {
  await hub.derived.assertCurrent();
  const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  // The vocabulary finds the matching codes (it is small); the people behind each are counted in the event index.
  const rows = await hub.db.all<{ domain: string; system: string; code: string; display: unknown; persons: unknown }>(
    `WITH m AS (
       SELECT v.domain, v.system, v.code, MAX(d.display) AS display
       FROM cohort_vocabulary v LEFT JOIN (${DISPLAYS}) d ON d.system = v.system AND d.code = v.code
       WHERE v.code ILIKE $1 ESCAPE '\\' OR d.display ILIKE $1 ESCAPE '\\'
       GROUP BY v.domain, v.system, v.code)
     SELECT m.domain, m.system, m.code, m.display, COUNT(DISTINCT e.patient_key) AS persons
     FROM m JOIN cohort_event e ON e.domain = m.domain AND e.system = m.system AND e.code = m.code
     GROUP BY m.domain, m.system, m.code, m.display ORDER BY persons DESC, m.code LIMIT $2`,
    [pattern, limit],
  );
  return rows.map((r) => ({
    domain: r.domain,
    system: r.system,
    code: r.code,
    display: r.display === null || r.display === undefined ? null : String(r.display),
    persons: Number(r.persons),
  }));
}
