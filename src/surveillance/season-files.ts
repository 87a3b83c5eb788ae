import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { HealthmeshError } from '../core/index.js';
import { type ModelOutputOptions, parseModelOutputCsv, type QuantileForecast } from './quantile-forecast.js';
import { parseTargetDataCsv, type TargetDataOptions } from './target-data-csv.js';
import { isoDay, parseIsoDay, type WeeklySeries } from './weekly-series.js';

/** A file's text, gunzipped when it starts with gzip's magic bytes (the CDC's archive snapshots are `.csv.gz`). */
function readText(path: string): string {
  try {
    const bytes = readFileSync(path);
    return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (cause) {
    throw new HealthmeshError('INGEST_UNREADABLE', `cannot read ${path}`, { file: path }, { cause });
  }
}

/** One dated snapshot of target data in a folder: the data as they stood on `day`. */
export interface TargetDataSnapshot {
  readonly day: number;
  readonly file: string;
}

const SNAPSHOT_NAME = /(\d{4}-\d{2}-\d{2}).*\.csv(\.gz)?$/;

/**
 * The dated snapshots of a folder such as FluSight's `target-data-archive/`: every `*.csv` or `*.csv.gz` whose
 * name holds a date (`target-hospital-admissions_2023-10-07.csv.gz`), oldest first. Two files of one date, or a
 * folder with none, are `SURVEILLANCE_BAD_DATE` naming the folder.
 */
export function listSnapshots(dir: string): TargetDataSnapshot[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (cause) {
    throw new HealthmeshError('INGEST_UNREADABLE', `cannot read folder ${dir}`, { file: dir }, { cause });
  }
  const byDay = new Map<number, string>();
  for (const name of names) {
    const m = SNAPSHOT_NAME.exec(name);
    const day = m ? parseIsoDay(m[1] as string) : undefined;
    if (day === undefined) continue;
    const earlier = byDay.get(day);
    if (earlier !== undefined) {
      throw new HealthmeshError(
        'SURVEILLANCE_BAD_DATE',
        `${dir}: ${earlier} and ${name} are both dated ${isoDay(day)}`,
        {
          file: dir,
        },
      );
    }
    byDay.set(day, name);
  }
  if (byDay.size === 0) {
    throw new HealthmeshError(
      'SURVEILLANCE_BAD_DATE',
      `${dir}: no file named with a date YYYY-MM-DD (*.csv, *.csv.gz)`,
      {
        file: dir,
      },
    );
  }
  return [...byDay].sort((a, b) => a[0] - b[0]).map(([day, name]) => ({ day, file: join(dir, name) }));
}

/** Reads a hubverse target-data CSV file, gzipped or not ({@link parseTargetDataCsv}); errors name the path. */
export function readTargetDataFile(path: string, options: Omit<TargetDataOptions, 'file'> = {}): WeeklySeries[] {
  return parseTargetDataCsv(readText(path), { ...options, file: path });
}

/** Reads every `*.csv` of a hubverse model-output folder (one model, one file per round). */
export function readModelOutputDir(dir: string, options: Omit<ModelOutputOptions, 'file'> = {}): QuantileForecast[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.csv'));
  } catch (cause) {
    throw new HealthmeshError('INGEST_UNREADABLE', `cannot read folder ${dir}`, { file: dir }, { cause });
  }
  return names.sort().flatMap((n) => {
    const file = join(dir, n);
    return parseModelOutputCsv(readText(file), { ...options, file });
  });
}
