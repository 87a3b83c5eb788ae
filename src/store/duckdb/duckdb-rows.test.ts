import * as duck from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { DuckDbDatabase } from './duckdb-database.js';

/**
 * The engine builds result rows from the vectors column by column (`chunkRows`): a row must hold what the driver's
 * own JS row objects hold, BIGINT made a number where it fits, for every type a caller reads.
 */
const QUERY = `SELECT * FROM (VALUES
  (1::TINYINT, 2::SMALLINT, 3::INTEGER, 4::BIGINT, 9007199254740993::BIGINT, 5::UBIGINT, 6::HUGEINT, 1.5::FLOAT,
   2.25::DOUBLE, true, 'text', 'ünï ☃', DATE '2020-01-02', TIMESTAMPTZ '2021-03-04 05:06:07.891+00', 12.34::DECIMAL(6, 2),
   [1, 2, 3], {'a': 1}, 7::UINTEGER),
  (NULL, NULL, NULL, NULL, -9007199254740993::BIGINT, NULL, NULL, NULL, NULL, false, '', NULL, NULL, NULL, NULL, [],
   NULL, NULL)
) t(ti, si, i, bi, big, ubi, hi, f, d, b, s, u, dt, ts, dec, l, st, ui)`;

/** The driver's row objects with BIGINT made a number where it fits: what `all` returned before `chunkRows`. */
function expected(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [
        k,
        typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
          ? Number(v)
          : v,
      ]),
    ),
  );
}

describe('DuckDB result rows', () => {
  let db: DuckDbDatabase | undefined;
  afterAll(async () => db?.close());

  it('hold what the driver converts each type to, in `all` and in `stream`, across chunks', async () => {
    db = await DuckDbDatabase.open(':memory:');
    const instance = await duck.DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    const driver = expected((await conn.runAndReadAll(QUERY)).getRowObjectsJS() as Record<string, unknown>[]);
    conn.closeSync();
    const rows = await db.all(QUERY);
    expect(rows).toEqual(driver);
    expect(rows[0]!.big).toBe(9007199254740993n); // past 2^53: kept a bigint, never rounded
    expect(rows[0]!.bi).toBe(4);
    expect(rows[0]!.dt).toBeInstanceOf(Date);
    expect(Object.keys(rows[1]!)).toEqual(Object.keys(rows[0]!));
    const streamed: unknown[] = [];
    for await (const chunk of db.stream(QUERY)) streamed.push(...chunk);
    expect(streamed).toEqual(driver);
    // More rows than one chunk (2,048): every chunk read, in order, with its columns named.
    const many = 'SELECT i, i * 0.5 AS half, CAST(i AS VARCHAR) AS s FROM range(5000) r(i) ORDER BY i';
    const all = await db.all<{ i: number; half: number; s: string }>(many);
    expect(all.length).toBe(5000);
    expect(all[4999]).toEqual({ i: 4999, half: 2499.5, s: '4999' });
    let n = 0;
    for await (const chunk of db.stream<{ i: number }>(many)) {
      for (const r of chunk) expect(r.i).toBe(n++);
    }
    expect(n).toBe(5000);
  });
});
