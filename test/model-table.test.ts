import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { HealthmeshError } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { openHub } from '../src/hub/index.js';
import type { LogisticFit, RegisteredModel } from '../src/models/index.js';
import { readModelTable, scoreFeatureVector, twoSidedNormalP } from '../src/models/index.js';
import { toPrecision } from '../src/privacy/index.js';
import { buildServer } from '../src/server/index.js';
import { DuckDbDatabase } from '../src/store/index.js';
import { captureIo } from './support/cli-capture.js';
import { describeWithSharedData, sharedPath } from './support/shared-data.js';
import { tempHub } from './support/temp-hub.js';

interface Reference {
  n: number;
  events: number;
  predictors: string[];
  coef_intercept_first: number[];
  loglik: number;
  insample_auroc: number;
}

interface TrainJson {
  registered: boolean;
  version?: number;
  table: { rowsRead: number; rowsDropped: number; rowsUsed: number };
  inSample: boolean;
  model: { features: string[]; coefficients: number[] };
  fit: LogisticFit;
  fill: Record<string, number> | null;
  evaluation: { name: string; metrics: { auroc: number; n: number; events: number } };
}

async function train(args: string[]): Promise<TrainJson> {
  const cli = captureIo();
  const code = await main(['model', 'train', ...args, '--test-fraction', '0', '--json'], cli.io);
  expect(code, cli.err).toBe(0);
  // --json: one JSON document and nothing else on stdout.
  return JSON.parse(cli.out) as TrainJson;
}

/** The table's rows as numbers, read without DuckDB: the independent side of the standard-error check. */
function parseTable(file: string, outcome: (v: string) => number) {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const sep = file.endsWith('.tsv') ? '\t' : ',';
  const names = head!.split(sep).map((s) => s.trim());
  const y: number[] = [];
  const x: number[][] = [];
  for (const line of lines) {
    const cells = line.split(sep).map((s) => s.trim());
    if (cells.some((c) => c === '' || c === '?' || c === 'NA')) continue;
    y.push(outcome(cells[names.length - 1]!));
    x.push([1, ...cells.slice(0, -1).map(Number)]);
  }
  return { x, y };
}

function logLikelihood(x: number[][], y: number[], beta: number[]): number {
  let ll = 0;
  x.forEach((row, i) => {
    const eta = row.reduce((s, v, j) => s + v * beta[j]!, 0);
    ll += y[i]! * eta - (eta > 0 ? eta + Math.log1p(Math.exp(-eta)) : Math.log1p(Math.exp(eta)));
  });
  return ll;
}

/**
 * Standard errors from a finite-difference Hessian of the log-likelihood (central second differences, steps scaled
 * by each column's spread, not by the fitter's SEs), inverted by Gauss–Jordan elimination.
 */
function finiteDifferenceSe(x: number[][], y: number[], beta: number[]): number[] {
  const k = beta.length;
  const n = x.length;
  const h = beta.map((_, j) => {
    if (j === 0) return 1e-3 / Math.sqrt(n);
    const col = x.map((r) => r[j]!);
    const mean = col.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    return 1e-3 / (sd * Math.sqrt(n));
  });
  const at = (dj: number, j: number, dk: number, kk: number) => {
    const b = [...beta];
    b[j]! += dj * h[j]!;
    b[kk]! += dk * h[kk]!;
    return logLikelihood(x, y, b);
  };
  // Negative Hessian, augmented with the identity.
  const a = Array.from({ length: k }, (_, j) =>
    Array.from({ length: 2 * k }, (_, c) => {
      if (c >= k) return c - k === j ? 1 : 0;
      return -(at(1, j, 1, c) - at(1, j, -1, c) - at(-1, j, 1, c) + at(-1, j, -1, c)) / (4 * h[j]! * h[c]!);
    }),
  );
  for (let p = 0; p < k; p++) {
    const pivot = a[p]![p]!;
    for (let c = 0; c < 2 * k; c++) a[p]![c]! /= pivot;
    for (let r = 0; r < k; r++) {
      if (r === p) continue;
      const f = a[r]![p]!;
      for (let c = 0; c < 2 * k; c++) a[r]![c]! -= f * a[p]![c]!;
    }
  }
  return beta.map((_, j) => Math.sqrt(a[j]![k + j]!));
}

function expectReference(out: TrainJson, ref: Reference) {
  expect(out.model.features).toEqual(ref.predictors);
  expect(out.fit.rows).toBe(ref.n);
  expect(out.fit.events).toBe(ref.events);
  ref.coef_intercept_first.forEach((b, j) => {
    // The reference holds 6 decimals: a fitter off by 1e-6 differs from it by more than 5e-7 + 1e-6.
    expect(Math.abs(out.model.coefficients[j]! - b), `coefficient ${j}`).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(out.fit.coefficients[j]!.estimate - b)).toBeLessThanOrEqual(1e-6);
  });
  // The reference log-likelihood is rounded to 4 decimals (half a unit of that is 5e-5).
  expect(Math.abs(out.fit.logLikelihood - ref.loglik)).toBeLessThanOrEqual(5e-5);
  expect(out.fit.aic).toBeCloseTo(-2 * out.fit.logLikelihood + 2 * ref.coef_intercept_first.length, 10);
  expect(Math.abs(out.evaluation.metrics.auroc - ref.insample_auroc)).toBeLessThanOrEqual(1e-6);
  expect(out.inSample).toBe(true);
  expect(out.evaluation.name).toMatch(/^in-sample/);
  for (const c of out.fit.coefficients) {
    expect(c.ci95[0]).toBeCloseTo(c.estimate - 1.959963984540054 * c.standardError, 12);
    expect(c.ci95[1]).toBeCloseTo(c.estimate + 1.959963984540054 * c.standardError, 12);
    expect(c.p).toBeCloseTo(twoSidedNormalP(c.estimate / c.standardError), 15);
  }
}

describe('two-sided normal p-values', () => {
  it('match erfc(|z|/√2) from the C library to 1e-13 relative, into the far tail', () => {
    // Python's math.erfc(z / math.sqrt(2)).
    const expected: [number, number][] = [
      [0.1, 0.920344325445942],
      [1, 0.31731050786291415],
      [1.959963984540054, 0.05000000000000004],
      [2.5, 0.012419330651552278],
      [5, 5.733031437583892e-7],
      [8, 1.2441921148543639e-15],
      [10, 1.5239706048321186e-23],
    ];
    for (const [z, p] of expected) {
      expect(Math.abs(twoSidedNormalP(z) - p) / p, `z = ${z}`).toBeLessThan(1e-13);
      expect(twoSidedNormalP(-z)).toBe(twoSidedNormalP(z));
    }
  });
});

describeWithSharedData('model train --table on the reference tables', () => {
  const refs = JSON.parse(readFileSync(sharedPath('risk/reference_logistic_insample.json'), 'utf8')) as Record<
    string,
    Reference
  >;
  const pimaFile = sharedPath('risk/pima-indians-diabetes.csv');
  const clevelandFile = sharedPath('risk/heart-cleveland-processed.tsv');
  let hubDir: string;
  let cleanup: () => Promise<void>;
  let pima: TrainJson;
  let cleveland: TrainJson;
  let hub: Hub | undefined;
  let app: FastifyInstance | undefined;

  beforeAll(async () => {
    const t = await tempHub('model-table');
    hubDir = t.dir;
    cleanup = t.cleanup;
    // The CLI opens the DuckDB store itself; it admits one process.
    await t.hub.close();
    pima = await train([
      ...['--table', pimaFile, '--outcome', 'target', '--missing', 'complete-case'],
      ...['--out', join(hubDir, 'pima-report')],
    ]);
    cleveland = await train([
      ...['--table', clevelandFile, '--outcome', 'target', '--positive', '>0', '--missing', 'complete-case'],
      ...['--dir', hubDir, '--id', 'cleveland'],
    ]);
    await train([
      ...['--table', pimaFile, '--outcome', 'target', '--missing', 'complete-case'],
      '--dir',
      hubDir,
      '--id',
      'pima',
    ]);
  });
  afterAll(async () => {
    await app?.close();
    await hub?.close();
    await cleanup?.();
  });

  it('fits Pima (768 rows, 8 predictors) in-sample as the reference does, without a hub', () => {
    expect(pima.registered).toBe(false);
    expect(pima.table).toEqual({ ...pima.table, rowsRead: 768, rowsDropped: 0, rowsUsed: 768 });
    expectReference(pima, refs.pima!);
  });

  it('writes the coefficient table into the HTML and JSON evaluation report', () => {
    const html = readFileSync(join(hubDir, 'pima-report.html'), 'utf8');
    expect(html).toContain('<h2>Coefficients</h2>');
    for (const term of ['(intercept)', ...refs.pima!.predictors])
      expect(html).toContain(`<th scope="row">${term}</th>`);
    const json = JSON.parse(readFileSync(join(hubDir, 'pima-report.json'), 'utf8')) as { fit: LogisticFit };
    expect(json.fit).toEqual(pima.fit);
  });

  it('fits Cleveland (target > 0, 297 complete cases of 303) as the reference does, and registers it', () => {
    expect(cleveland.registered).toBe(true);
    expect(cleveland.version).toBe(1);
    expect(cleveland.table).toEqual({ ...cleveland.table, rowsRead: 303, rowsDropped: 6, rowsUsed: 297 });
    expectReference(cleveland, refs.cleveland_binary_target_gt0_complete_cases_numeric_codes!);
  });

  it('gives standard errors equal to a finite-difference Hessian of the log-likelihood', () => {
    const cases: [TrainJson, string, (v: string) => number][] = [
      [pima, pimaFile, Number],
      [cleveland, clevelandFile, (v) => (Number(v) > 0 ? 1 : 0)],
    ];
    for (const [out, file, outcome] of cases) {
      const { x, y } = parseTable(file, outcome);
      expect(x.length).toBe(out.fit.rows);
      const se = finiteDifferenceSe(x, y, out.model.coefficients);
      out.fit.coefficients.forEach((c, j) => {
        expect(Math.abs(c.standardError - se[j]!) / se[j]!, `${file} ${c.term}`).toBeLessThan(1e-4);
      });
    }
  });

  it('reads the comparison from --outcome as from --positive', async () => {
    const inline = await train(['--table', clevelandFile, '--outcome', 'target>0', '--missing', 'complete-case']);
    expect(inline.model.coefficients).toEqual(cleveland.model.coefficients);
  });

  it('fits a Cox model from lung.csv on the command line as R survival::coxph does, both ties methods', async () => {
    const ref = JSON.parse(readFileSync(sharedPath('risk/reference_cox_lung.json'), 'utf8')) as Record<
      'efron' | 'breslow',
      {
        n: number;
        events: number;
        coef: Record<string, number>;
        se: Record<string, number>;
        loglik: number;
        concordance: number;
        cumhaz_baseline_at_365_uncentred: number;
      }
    >;
    for (const ties of ['efron', 'breslow'] as const) {
      const cli = captureIo();
      // sex is 1/2 in the file and female = (sex == 2) in the reference: the same coefficient, as Cox has no intercept.
      const args = ['model', 'train', '--table', sharedPath('risk/lung.csv'), '--learner', 'cox', '--time', 'time'];
      const code = await main(
        [
          ...args,
          '--outcome',
          'status',
          '--positive',
          '2',
          '--horizon',
          '365',
          '--ties',
          ties,
          '--missing',
          'complete-case',
          '--features',
          'age,sex,ph.ecog,ph.karno,wt.loss',
          '--json',
        ],
        cli.io,
      );
      expect(code, cli.err).toBe(0);
      const out = JSON.parse(cli.out) as {
        n: number;
        events: number;
        coefficients: { name: string; estimate: number; se: number }[];
        logLik: number;
        concordance: number;
        baselineCumHazardAtHorizon: number;
        calibration: { n: number }[];
      };
      const r = ref[ties];
      expect([out.n, out.events]).toEqual([r.n, r.events]);
      const refName = (n: string) => (n === 'sex' ? 'female' : n);
      for (const c of out.coefficients) {
        expect(Math.abs(c.estimate - r.coef[refName(c.name)]!), `${ties} ${c.name}`).toBeLessThan(1e-6);
        expect(Math.abs(c.se - r.se[refName(c.name)]!), `${ties} se ${c.name}`).toBeLessThan(1e-6);
      }
      expect(Math.abs(out.logLik - r.loglik)).toBeLessThan(1e-6);
      expect(Math.abs(out.concordance - r.concordance)).toBeLessThan(1e-4);
      // The uncentred baseline is at covariates 0: sex = 0 is female = −1, so H0(female coding) = H0(sex) × e^β(sex).
      const sex = out.coefficients.find((c) => c.name === 'sex')!.estimate;
      expect(
        Math.abs(out.baselineCumHazardAtHorizon * Math.exp(sex) - r.cumhaz_baseline_at_365_uncentred),
      ).toBeLessThan(1e-6);
      expect(out.calibration.reduce((a, b) => a + b.n, 0)).toBe(r.n);
    }
  });

  it('serves the Wald table as stored to a steward and through the release gate to a researcher', async () => {
    hub = await openHub(hubDir);
    app = await buildServer(hub);
    const researcher = await hub.tokens.create('analyst', 'researcher');
    const admin = await hub.tokens.create('admin-2', 'admin');
    const get = async (url: string, token: string) => {
      const res = await app!.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { card: { fit: LogisticFit | { withheld: true; reason: string }; table: unknown } };
    };
    const stored = (await get('/models/cleveland', admin)).card.fit as LogisticFit;
    expect(stored.coefficients.map((c) => c.estimate)).toEqual(cleveland.model.coefficients);
    const released = (await get('/models/cleveland', researcher)).card.fit as LogisticFit;
    stored.coefficients.forEach((c, j) => {
      const r = released.coefficients[j]!;
      expect(r.term).toBe(c.term);
      expect(r.estimate).toBe(toPrecision(c.estimate, 3));
      expect(r.standardError).toBe(toPrecision(c.standardError, 3));
      expect(r.p).toBe(toPrecision(c.p, 3));
    });
    expect(released.logLikelihood).toBe(toPrecision(stored.logLikelihood, 3));
    // Pima's glucose is 0 for 5 people: a group under the threshold, so its fit is withheld, saying no number.
    const pimaCard = (await get('/models/pima', researcher)).card;
    expect(pimaCard.fit).toEqual({ withheld: true, reason: expect.not.stringMatching(/\d/) });
    expect(pimaCard.table).toEqual({
      outcome: { column: 'target', positive: '1' },
      missing: 'complete-case',
      rowsRead: 770,
      rowsDropped: null,
      inSample: true,
    });
  });
});

describe('model train --table on bad input', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hm-model-table-'));
    const rows = (n: number) =>
      Array.from({ length: n }, (_, i) => `${i % 7},${(i * 13) % 11},${i % 3 === 0 || i % 5 === 0 ? 1 : 0}`);
    writeFileSync(join(dir, 'bad-cell.csv'), ['a,b,y', '1,2,0', '3,high,1', '4,5,0'].join('\n'));
    writeFileSync(join(dir, 'bad-outcome.csv'), ['a,b,y', '1,2,0', '3,4,2'].join('\n'));
    writeFileSync(
      join(dir, 'gaps.csv'),
      ['a,b,y', ...rows(40).map((r, i) => (i === 4 ? 'NA,3,1' : i === 9 ? '2,,0' : r))].join('\n'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const fault = async (file: string, options: Parameters<typeof readModelTable>[1]) => {
    try {
      await readModelTable(join(dir, file), options);
    } catch (e) {
      if (!(e instanceof HealthmeshError)) throw e;
      return { code: e.code, location: e.location };
    }
    throw new Error('no fault');
  };

  it('names the file, line and column of a non-numeric cell, on the CLI with exit 1', async () => {
    expect(await fault('bad-cell.csv', { outcome: 'y' })).toEqual({
      code: 'MODEL_TABLE_BAD_VALUE',
      location: { file: 'bad-cell.csv', line: 3, path: 'b' },
    });
    const cli = captureIo();
    expect(await main(['model', 'train', '--table', join(dir, 'bad-cell.csv'), '--outcome', 'y'], cli.io)).toBe(1);
    expect(cli.err).toContain('MODEL_TABLE_BAD_VALUE');
  });

  it('refuses an outcome that is not 0/1 unless --positive says which values are events', async () => {
    expect(await fault('bad-outcome.csv', { outcome: 'y' })).toEqual({
      code: 'MODEL_BAD_OUTCOME',
      location: { file: 'bad-outcome.csv', line: 3, path: 'y' },
    });
    const t = await readModelTable(join(dir, 'bad-outcome.csv'), { outcome: 'y', positive: '>=2' });
    expect(Array.from(t.matrix.outcome!)).toEqual([0, 1]);
    expect(await fault('bad-outcome.csv', { outcome: 'z' })).toMatchObject({ code: 'MODEL_TABLE_UNKNOWN_COLUMN' });
  });

  it('refuses the first missing cell by default, drops and counts under complete-case, fills under mean', async () => {
    expect(await fault('gaps.csv', { outcome: 'y' })).toEqual({
      code: 'MODEL_MISSING_VALUE',
      location: { file: 'gaps.csv', line: 6, path: 'a' },
    });
    const cc = await readModelTable(join(dir, 'gaps.csv'), { outcome: 'y', missing: 'complete-case' });
    expect([cc.rowsRead, cc.rowsDropped, cc.matrix.rows]).toEqual([40, 2, 38]);
    const out = await train(['--table', join(dir, 'gaps.csv'), '--outcome', 'y', '--missing', 'mean']);
    expect(out.table.rowsUsed).toBe(40);
    const a = parseTable(join(dir, 'gaps.csv'), Number).x; // complete rows only
    expect(out.fill?.a).toBeCloseTo(
      (a.reduce((s, r) => s + r[1]!, 0) + 2) / 39, // the 38 complete rows plus row 9 (a = 2), over 39 recorded
      12,
    );
    // Scoring a vector with a gap fills it with the same training mean.
    const m = { model: out.model, card: { table: { fill: out.fill } } } as unknown as RegisteredModel;
    const gap = scoreFeatureVector(m, { a: null, b: 3 }).probability;
    expect(gap).toBe(scoreFeatureVector(m, { a: out.fill!.a, b: 3 }).probability);
  });

  it('reads a Parquet file as it reads the same CSV, its nulls as missing', async () => {
    const db = await DuckDbDatabase.open(':memory:');
    const parquet = join(dir, 'gaps.parquet');
    try {
      await db.run(
        `COPY (SELECT TRY_CAST(a AS DOUBLE) AS a, TRY_CAST(b AS INTEGER) AS b, CAST(y AS INTEGER) AS y
           FROM read_csv('${join(dir, 'gaps.csv')}', all_varchar=true)) TO '${parquet}' (FORMAT parquet)`,
      );
    } finally {
      await db.close();
    }
    const options = { outcome: 'y', missing: 'complete-case' } as const;
    const fromParquet = await readModelTable(parquet, options);
    const fromCsv = await readModelTable(join(dir, 'gaps.csv'), options);
    expect(fromParquet.rowsDropped).toBe(2);
    expect(Array.from(fromParquet.matrix.values)).toEqual(Array.from(fromCsv.matrix.values));
    expect(Array.from(fromParquet.matrix.outcome!)).toEqual(Array.from(fromCsv.matrix.outcome!));
  });

  it('refuses a run with neither spec nor table, and a test fraction of 1', async () => {
    const none = captureIo();
    expect(await main(['model', 'train'], none.io)).toBe(1);
    expect(none.err).toContain('MODEL_INVALID_OPTION');
    const one = captureIo();
    const args = ['model', 'train', '--table', join(dir, 'gaps.csv'), '--outcome', 'y', '--test-fraction', '1'];
    expect(await main(args, one.io)).toBe(1);
    expect(one.err).toContain('MODEL_INVALID_OPTION');
  });
});
