import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { buildServer } from '../src/server/index.js';
import {
  buildPanel,
  forecastRound,
  isoDay,
  parseIsoDay,
  parseModelOutputCsv,
  parseTargetDataCsv,
  readTargetDataFile,
  seasonForecaster,
  seasonRounds,
  truthTable,
} from '../src/surveillance/index.js';
import { captureIo } from './support/cli-capture.js';
import { codeOf } from './support/error-code.js';
import { describeWithSharedData, sharedPath } from './support/shared-data.js';
import { tempHub } from './support/temp-hub.js';

const HEADER = 'reference_date,location,horizon,target,target_end_date,output_type,output_type_id,value';
const LOCATIONS = new Set(['06', '36']);
const day = (iso: string) => parseIsoDay(iso) as number;

/** The rows of one FluSight target-data CSV (plain or gzipped) for a few locations, as CSV text. */
function slice(file: string): string {
  const series = readTargetDataFile(file).filter((s) => LOCATIONS.has(s.location));
  const lines = ['date,location,location_name,value'];
  for (const s of series) {
    s.values.forEach((v, i) => {
      lines.push(`${isoDay(s.startDay + 7 * i)},${s.location},x,${v}`);
    });
  }
  return `${lines.join('\n')}\n`;
}

describeWithSharedData('forecast season on the real 2023-24 files (two locations, three rounds)', () => {
  const work = mkdtempSync(join(tmpdir(), 'hm-season-'));
  const archive = join(work, 'archive');
  const rounds = ['2024-01-06', '2024-01-13', '2024-01-20'];
  const out = join(work, 'out');
  let finalFile: string;
  let stderr: string;

  beforeAll(async () => {
    finalFile = join(work, 'final.csv');
    writeFileSync(
      finalFile,
      slice(sharedPath('flusight-2023-24/target-data/target-hospital-admissions_2024-04-27.csv')),
    );
    mkdirSync(archive);
    // The snapshots the rounds may read and the ones dated on their reference dates (published after their
    // deadlines): gzipped as the CDC archives them, but one plain, since both are read.
    for (const d of ['2023-12-30', '2024-01-06', '2024-01-13', '2024-01-20']) {
      const text = slice(sharedPath(`flusight-2023-24/target-data-archive/target-hospital-admissions_${d}.csv.gz`));
      if (d === '2024-01-06') writeFileSync(join(archive, `target-hospital-admissions_${d}.csv`), text);
      else writeFileSync(join(archive, `target-hospital-admissions_${d}.csv.gz`), gzipSync(text));
    }
    const cli = captureIo();
    const code = await main(
      ['forecast', 'season', '--target-data', finalFile, '--as-of', archive, '--from', rounds[0] as string].concat([
        '--to',
        rounds[2] as string,
        '--models',
        'ensemble,baseline',
        '--out',
        out,
      ]),
      cli.io,
    );
    stderr = cli.err;
    expect(code, cli.err).toBe(0);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('writes one hubverse file per model and round, named <reference_date>-<model>.csv', () => {
    expect(readdirSync(out).sort()).toEqual(['healthmesh-baseline', 'healthmesh-ensemble']);
    for (const model of ['healthmesh-baseline', 'healthmesh-ensemble']) {
      expect(readdirSync(join(out, model)).sort()).toEqual(rounds.map((r) => `${r}-${model}.csv`));
      const text = readFileSync(join(out, model, `${rounds[1]}-${model}.csv`), 'utf8');
      expect(text.split('\n')[0]).toBe(HEADER);
      const forecasts = parseModelOutputCsv(text);
      // Two locations × horizons 0..3, 23 levels each (the parser checks levels and order).
      expect(forecasts).toHaveLength(8);
      expect(new Set(forecasts.map((f) => f.location))).toEqual(LOCATIONS);
      expect(forecasts.every((f) => f.referenceDay === day(rounds[1] as string))).toBe(true);
    }
    expect(stderr).toContain('2024-01-13: 2 location(s) from target-hospital-admissions_2024-01-06.csv');
  });

  it('forecasts each round from the snapshot dated the week before it, not from later data', async () => {
    const plain = (d: string) => {
      const file = join(work, `${d}.csv`);
      writeFileSync(
        file,
        slice(join(archive, `target-hospital-admissions_${d}.csv${d === '2024-01-06' ? '' : '.gz'}`)),
      );
      return file;
    };
    const values = (fs: readonly { values: Float64Array }[]) =>
      fs.flatMap((f) => [...f.values].map((v) => v.toPrecision(12)));
    // The baseline keeps nothing between rounds: each round equals, to the digit, a forecast from the snapshot dated
    // the week before it, and differs from one from the round's own snapshot (published after its deadline, with
    // revisions of the last week) or from the final file.
    const snapshotBefore = ['2023-12-30', '2024-01-06', '2024-01-13'];
    rounds.forEach((round, i) => {
      const written = parseModelOutputCsv(
        readFileSync(join(out, 'healthmesh-baseline', `${round}-healthmesh-baseline.csv`), 'utf8'),
      );
      const from = (file: string) =>
        forecastRound(buildPanel(readTargetDataFile(file)), seasonForecaster('baseline'), day(round));
      expect(values(written)).toEqual(values(from(plain(snapshotBefore[i] as string))));
      expect(values(written)).not.toEqual(values(from(plain(round))));
      expect(values(written)).not.toEqual(values(from(finalFile)));
    });
    // The ensemble recalibrates on its earlier rounds as issued, so it is checked by tampering instead: ten times
    // every count of the last round's own snapshot and of the final file changes none of its forecasts.
    const tampered = join(work, 'tampered');
    mkdirSync(join(tampered, 'archive'), { recursive: true });
    for (const name of readdirSync(archive)) {
      const text = name.includes('2024-01-20') ? tenfold(plain('2024-01-20')) : null;
      writeFileSync(
        join(tampered, 'archive', name),
        text === null ? readFileSync(join(archive, name)) : gzipSync(text),
      );
    }
    writeFileSync(join(tampered, 'final.csv'), tenfold(finalFile));
    const cli = captureIo();
    const args = [
      'forecast',
      'season',
      '--target-data',
      join(tampered, 'final.csv'),
      '--as-of',
      join(tampered, 'archive'),
    ];
    const range = ['--from', rounds[0] as string, '--to', rounds[2] as string, '--out', join(tampered, 'out')];
    expect(await main([...args, ...range], cli.io), cli.err).toBe(0);
    for (const round of rounds) {
      const file = `${round}-healthmesh-ensemble.csv`;
      const again = readFileSync(join(tampered, 'out', 'healthmesh-ensemble', file), 'utf8');
      expect(again).toBe(readFileSync(join(out, 'healthmesh-ensemble', file), 'utf8'));
    }
  });
});

/** A target-data file's text with every count multiplied by ten. */
function tenfold(file: string): string {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line, i) => {
      const cells = line.split(',');
      if (i === 0 || cells.length < 4) return line;
      cells[3] = String(10 * Number(cells[3]));
      return cells.join(',');
    })
    .join('\n');
}

describe('forecast season without shared data: rounds, missing values, the API', () => {
  const weeks = 40;
  const start = day('2023-06-03');
  /** Two locations' weekly counts, a rise and fall; `edit` may blank a value to "NA". */
  const csv = (edit: (location: string, i: number, v: number) => string = (_l, _i, v) => String(v)) => {
    const lines = ['date,location,location_name,value'];
    for (const location of ['01', '02']) {
      for (let i = 0; i < weeks; i++) {
        const v = Math.round((location === '01' ? 50 : 20) * (1 + 4 * Math.exp(-(((i - 25) / 6) ** 2))));
        lines.push(`${isoDay(start + 7 * i)},${location},x,${edit(location, i, v)}`);
      }
    }
    return `${lines.join('\n')}\n`;
  };

  it('takes the season of the last data week: from the second Saturday of October to the week after the data', () => {
    const rounds = seasonRounds(parseTargetDataCsv(csv()));
    expect(isoDay(rounds[0] as number)).toBe('2023-10-14');
    expect(isoDay(rounds[rounds.length - 1] as number)).toBe(isoDay(start + 7 * weeks));
    expect(codeOf(() => seasonRounds(parseTargetDataCsv(csv()), { from: day('2023-10-15') }))).toBe(
      'SURVEILLANCE_BAD_DATE',
    );
  });

  it('refuses NA rows and missing weeks under --missing refuse, as before', () => {
    const na = csv((l, i, v) => (l === '01' && i === 10 ? 'NA' : String(v)));
    expect(codeOf(() => parseTargetDataCsv(na))).toBe('SURVEILLANCE_BAD_VALUE');
    expect(codeOf(() => parseTargetDataCsv(na, { missing: 'refuse' }))).toBe('SURVEILLANCE_BAD_VALUE');
    const dropped = na
      .split('\n')
      .filter((line) => !line.endsWith(',NA'))
      .join('\n');
    expect(codeOf(() => parseTargetDataCsv(dropped))).toBe('SURVEILLANCE_GAP');
    expect(codeOf(() => parseTargetDataCsv(csv((_l, _i, v) => (v > 100 ? 'many' : String(v)))))).toBe(
      'SURVEILLANCE_BAD_VALUE',
    );
  });

  it('interpolates missing weeks inside a span, leaves out NA before and after it, and scores none of them', () => {
    // 01: NA at weeks 10-11 (inside), 0-1 (before its first report) and 39 (after its last).
    const text = csv((l, i, v) => (l === '01' && [0, 1, 10, 11, 39].includes(i) ? 'NA' : String(v)));
    const [one, two] = parseTargetDataCsv(text, { missing: 'interpolate' });
    expect(isoDay(one?.startDay as number)).toBe(isoDay(start + 14));
    expect(one?.values).toHaveLength(37);
    const v = (i: number) => one?.values[i - 2] as number;
    expect(v(10)).toBeCloseTo(v(9) + (v(12) - v(9)) / 3, 9);
    expect(v(11)).toBeCloseTo(v(9) + (2 * (v(12) - v(9))) / 3, 9);
    expect(one?.missingDays?.map(isoDay)).toEqual([isoDay(start + 70), isoDay(start + 77)]);
    expect(two?.missingDays ?? []).toEqual([]);
    const truth = truthTable([one, two].filter((s) => s !== undefined));
    expect(truth.has(`01|${start + 70}`)).toBe(false);
    expect(truth.has(`01|${start + 63}`)).toBe(true);
  });

  it('restarts a location after its last missing week under --missing restart', () => {
    const text = csv((l, i, v) => (l === '01' && (i === 10 || i === 20) ? 'NA' : String(v)));
    const [one] = parseTargetDataCsv(text, { missing: 'restart' });
    expect(isoDay(one?.startDay as number)).toBe(isoDay(start + 7 * 21));
    expect(one?.values).toHaveLength(weeks - 21);
  });

  it('forecasts a file with NA rows by default and names the policy; refuses it with --missing refuse', async () => {
    const work = mkdtempSync(join(tmpdir(), 'hm-season-na-'));
    try {
      const file = join(work, 'target.csv');
      writeFileSync(
        file,
        csv((l, i, v) => (l === '02' && (i === 30 || i === 31) ? 'NA' : String(v))),
      );
      const ok = captureIo();
      const args = ['forecast', 'season', '--target-data', file, '--out', join(work, 'out'), '--models', 'baseline'];
      expect(await main([...args, '--from', '2023-12-30', '--to', '2024-01-13'], ok.io), ok.err).toBe(0);
      expect(ok.err).toContain('02: 2 missing week(s) read as interpolate');
      expect(readdirSync(join(work, 'out', 'healthmesh-baseline'))).toHaveLength(3);
      const refused = captureIo();
      expect(await main([...args, '--missing', 'refuse'], refused.io)).toBe(1);
      expect(refused.err).toContain('SURVEILLANCE_BAD_VALUE');
      const bad = captureIo();
      expect(await main([...args, '--missing', 'zero'], bad.io)).toBe(1);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  describe('POST /surveillance/$forecast-season', () => {
    let env: Awaited<ReturnType<typeof tempHub>>;
    let app: Awaited<ReturnType<typeof buildServer>>;
    let researcher: string;
    beforeAll(async () => {
      env = await tempHub('season');
      app = await buildServer(env.hub);
      researcher = await env.hub.tokens.create('a-researcher', 'researcher');
    });
    afterAll(async () => {
      await app.close();
      await env.cleanup();
    });

    it('forecasts the posted rounds from the posted snapshots, for a role without row-level rights', async () => {
      const known = csv((_l, i, v) => (i >= 36 ? 'NA' : String(v)));
      const res = await app.inject({
        method: 'POST',
        url: '/surveillance/$forecast-season',
        headers: { authorization: `Bearer ${researcher}` },
        payload: {
          target_data: csv(),
          snapshots: [{ as_of: isoDay(start + 7 * 35), target_data: known }],
          from: isoDay(start + 7 * 36),
          to: isoDay(start + 7 * 37),
          models: ['baseline'],
        },
      });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as {
        rounds: { referenceDate: string; locations: number; leftOut: { reason: string }[] }[];
        forecasts: { model: string; location: string; quantiles: number[] }[];
      };
      // The snapshot ends with week 35: the first round (data through week 35) is forecast, the second, whose
      // week 36 the snapshot does not hold, is left out whole rather than read from the later file.
      expect(body.rounds.map((r) => r.locations)).toEqual([2, 0]);
      expect(body.rounds[1]?.leftOut[0]?.reason).toContain(isoDay(start + 7 * 36));
      expect(body.forecasts).toHaveLength(8);
      expect(body.forecasts.every((f) => f.model === 'healthmesh-baseline' && f.quantiles.length === 23)).toBe(true);
      const bad = await app.inject({
        method: 'POST',
        url: '/surveillance/$forecast-season',
        headers: { authorization: `Bearer ${researcher}` },
        payload: { target_data: csv((_l, i, v) => (i === 5 ? 'NA' : String(v))), missing: 'refuse' },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.body).toContain('SURVEILLANCE_BAD_VALUE');
    });
  });
});
