import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HealthmeshError } from '../core/index.js';
import { type ModelOutputOptions, parseModelOutputCsv, type QuantileForecast } from './quantile-forecast.js';
import { parseTargetDataCsv, type TargetDataOptions } from './target-data-csv.js';
import type { WeeklySeries } from './weekly-series.js';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new HealthmeshError('INGEST_UNREADABLE', `cannot read ${path}`, { file: path }, { cause });
  }
}

/** Reads a hubverse target-data CSV file ({@link parseTargetDataCsv}); errors name the path. */
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
