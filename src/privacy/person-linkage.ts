import type { Database, Migration, SqlValue } from '../store/index.js';

export const personLinkageMigrations: readonly Migration[] = [
  {
    module: 'privacy',
    version: 2,
    name: 'person linkage tokens',
    statements: [
      `CREATE TABLE person_linkage (
        patient_key VARCHAR NOT NULL PRIMARY KEY,
        token VARCHAR NOT NULL,
        key_id VARCHAR NOT NULL
      )`,
      // Rows of one ingest batch land here first, then merge into person_linkage in one statement.
      `CREATE TABLE person_linkage_stage (
        patient_key VARCHAR NOT NULL,
        token VARCHAR NOT NULL,
        key_id VARCHAR NOT NULL
      )`,
    ],
    // One row per person, read with the person's events: spread by person on a Citus cluster; the stage of one
    // ingest batch stays on the coordinator.
    distribution: [['person_linkage', 'patient_key']],
  },
];

/** One person's linkage token, as ingest derives it. */
export interface PersonLink {
  patientKey: string;
  token: string;
  keyId: string;
}

/**
 * The person-linkage table: one linkage token per patient key (never the identifier it came from). Written in
 * the ingest's store transaction; a re-ingest or a new key replaces the row.
 */
export const personLinkage = {
  async record(tx: Database, links: readonly PersonLink[]): Promise<void> {
    if (links.length === 0) return;
    // The last link of a patient in the batch wins, as the last version of a resource does.
    const last = new Map(links.map((l) => [l.patientKey, l]));
    await tx.run('DELETE FROM person_linkage_stage');
    await tx.append(
      'person_linkage_stage',
      [...last.values()].map((l) => [l.patientKey, l.token, l.keyId]),
    );
    await tx.run(
      `INSERT INTO person_linkage (patient_key, token, key_id)
       SELECT patient_key, token, key_id FROM person_linkage_stage
       ON CONFLICT (patient_key) DO UPDATE SET token = EXCLUDED.token, key_id = EXCLUDED.key_id`,
    );
    await tx.run('DELETE FROM person_linkage_stage');
  },

  /** Every patient key with its token: what a hub matches a peer's blinded point against (mydata's consent reach). */
  async links(db: Database): Promise<{ patientKey: string; token: string }[]> {
    const rows = await db.all<{ patient_key: string; token: string }>(
      'SELECT patient_key, token FROM person_linkage ORDER BY patient_key',
    );
    return rows.map((r) => ({ patientKey: r.patient_key, token: r.token }));
  },

  /** Distinct tokens of the given patients (all patients when omitted). */
  async tokens(db: Database, patientKeys?: readonly string[]): Promise<string[]> {
    const rows =
      patientKeys === undefined
        ? await db.all<{ token: string }>('SELECT DISTINCT token FROM person_linkage')
        : await db.all<{ token: string }>(
            `SELECT DISTINCT token FROM person_linkage WHERE ${db.inList('patient_key', '$1')}`,
            [patientKeys],
          );
    return rows.map((r) => r.token);
  },

  /**
   * Distinct tokens of the patients a caller's relation holds: a table it named (a temporary table of its
   * transaction) or a parenthesised subquery with its `params`, either with a `patient_key` column. One join in the
   * engine, however many patients; patients without a token add nothing.
   */
  async tokensOf(db: Database, relation: string, params: readonly SqlValue[] = []): Promise<string[]> {
    const rows = await db.all<{ token: string }>(
      `SELECT DISTINCT l.token FROM person_linkage l JOIN ${relation} r ON r.patient_key = l.patient_key`,
      params,
    );
    return rows.map((r) => r.token);
  },
};
