/**
 * Age-sex prevalence of each chronic disease at the end of the window, beside the published figure it aims
 * at. The target of a cell is the published curve averaged over the ages of the people in it (a 70-79 band is
 * compared with the curve over 70-79, not with its value at 75). Tolerance: 3 percentage points or 25% of the
 * target, whichever is larger, plus two binomial standard errors for the cell's size.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { targetPrevalence } from './baseline-hazards.js';
import { DAYS_PER_YEAR, dayOf } from './calendar.js';
import { DISEASES } from './diseases.js';
import type { Sex } from './identity.js';

export interface PrevalenceRow {
  disease: string;
  sex: Sex;
  band: string;
  people: number;
  observed: number;
  target: number;
  tolerance: number;
  withinTolerance: boolean;
}

const BANDS = [20, 30, 40, 50, 60, 70, 80] as const;

interface TruthPerson {
  sex: Sex;
  birthDate: string;
  deathDate: string | null;
  onset: Record<string, string | null>;
}

function dayOfIso(iso: string): number {
  return dayOf(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)), Number(iso.slice(8, 10)));
}

/** The report for one region's output folder, from its `truth/persons.ndjson`. */
export function prevalenceReport(outDir: string, windowEnd = '2025-12-31'): PrevalenceRow[] {
  const end = dayOfIso(windowEnd);
  const cells = new Map<string, { n: number; cases: number[]; target: number[] }>();
  for (const line of readFileSync(join(outDir, 'truth', 'persons.ndjson'), 'utf8').split('\n')) {
    if (line.length === 0) continue;
    const p = JSON.parse(line) as TruthPerson;
    if (p.deathDate !== null) continue;
    const age = (end - dayOfIso(p.birthDate)) / DAYS_PER_YEAR;
    if (age < 20) continue;
    const band = Math.min(6, Math.floor((age - 20) / 10));
    const key = `${p.sex}|${band}`;
    let cell = cells.get(key);
    if (cell === undefined) {
      cell = { n: 0, cases: DISEASES.map(() => 0), target: DISEASES.map(() => 0) };
      cells.set(key, cell);
    }
    cell.n++;
    DISEASES.forEach((d, i) => {
      const onset = p.onset[d.id];
      if (onset !== null && onset !== undefined && dayOfIso(onset) <= end)
        cell.cases[i] = (cell.cases[i] as number) + 1;
      cell.target[i] = (cell.target[i] as number) + targetPrevalence(i, p.sex, age);
    });
  }
  const rows: PrevalenceRow[] = [];
  DISEASES.forEach((d, i) => {
    for (const sex of ['male', 'female'] as const) {
      BANDS.forEach((lo, b) => {
        const cell = cells.get(`${sex}|${b}`);
        if (cell === undefined || cell.n === 0) return;
        const observed = (cell.cases[i] as number) / cell.n;
        const target = (cell.target[i] as number) / cell.n;
        const se = Math.sqrt(Math.max(target * (1 - target), 1e-4) / cell.n);
        const tolerance = Math.max(0.03, 0.25 * target) + 2 * se;
        rows.push({
          disease: d.id,
          sex,
          band: lo === 80 ? '80+' : `${lo}-${lo + 9}`,
          people: cell.n,
          observed,
          target,
          tolerance,
          withinTolerance: Math.abs(observed - target) <= tolerance,
        });
      });
    }
  });
  return rows;
}

/** The report as a Markdown table: one row per disease and sex, one column per age band. */
export function formatPrevalenceReport(rows: readonly PrevalenceRow[]): string {
  const bands = [...new Set(rows.map((r) => r.band))];
  const lines = [`| disease | sex | ${bands.join(' | ')} |`, `| --- | --- | ${bands.map(() => '---').join(' | ')} |`];
  const pct = (x: number) => (100 * x).toFixed(1);
  for (const d of DISEASES) {
    for (const sex of ['male', 'female'] as const) {
      const cells = bands.map((b) => {
        const r = rows.find((x) => x.disease === d.id && x.sex === sex && x.band === b);
        return r === undefined ? '' : `${pct(r.observed)} / ${pct(r.target)}${r.withinTolerance ? '' : ' ✗'}`;
      });
      lines.push(`| ${d.id} | ${sex} | ${cells.join(' | ')} |`);
    }
  }
  return `${lines.join('\n')}\n(observed % / published target %; ✗ outside tolerance)\n`;
}
