/**
 * What the OMOP CDMs loaded into a hub hold, read from the event index they were loaded into (`omop-import.ts`):
 * per source, the persons and the rows of each clinical table, with the years the rows' dates cover. `stats`, the
 * catalog and the console overview show OMOP data from here, since it never passes through the FHIR store.
 */
import type { Database } from '../store/index.js';
import { OMOP_CONCEPT_SYSTEM, OMOP_EVENT_TABLES } from './omop-import.js';

/** One loaded CDM table: its rows as loaded and the rows per year of their dates (exact: release is the caller's). */
export interface OmopTableHolding {
  table: string;
  rows: number;
  years: { year: string; rows: number }[];
}

/** One loaded OMOP source (`ingest --omop --source NAME`). */
export interface OmopHolding {
  source: string;
  /** When the CDM was loaded (ISO time). */
  loadedAt: string;
  persons: number;
  tables: OmopTableHolding[];
}

const num = (v: unknown) => (typeof v === 'bigint' ? Number(v) : Number(v ?? 0));

/**
 * The OMOP sources loaded into this hub, each table counted once: every event is indexed under its OMOP concept id
 * and, again, under its vocabulary's own code, so only the concept-id rows are counted.
 */
export async function omopHoldings(db: Database): Promise<OmopHolding[]> {
  const states = await db.all<{ origin: string; built_at: Date }>(
    "SELECT origin, built_at FROM cohort_index_state WHERE origin LIKE 'omop:%' ORDER BY origin",
  );
  const out: OmopHolding[] = [];
  for (const s of states) {
    const [p] = await db.all<{ n: unknown }>('SELECT COUNT(*) AS n FROM cohort_person WHERE origin = $1', [s.origin]);
    const years = await db.all<{ domain: string; y: unknown; n: unknown }>(
      `SELECT domain, EXTRACT(YEAR FROM event_date) AS y, COUNT(*) AS n FROM cohort_event
       WHERE origin = $1 AND system = $2 GROUP BY domain, EXTRACT(YEAR FROM event_date) ORDER BY 1, 2`,
      [s.origin, OMOP_CONCEPT_SYSTEM],
    );
    const tables: OmopTableHolding[] = [];
    for (const t of OMOP_EVENT_TABLES) {
      const mine = years.filter((r) => r.domain === t.domain);
      if (mine.length === 0) continue;
      tables.push({
        table: t.table,
        rows: mine.reduce((a, r) => a + num(r.n), 0),
        years: mine.map((r) => ({ year: String(num(r.y)), rows: num(r.n) })),
      });
    }
    out.push({
      source: s.origin.slice('omop:'.length),
      loadedAt: new Date(s.built_at).toISOString(),
      persons: num(p?.n),
      tables,
    });
  }
  return out;
}
