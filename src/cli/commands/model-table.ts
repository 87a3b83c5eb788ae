import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { HealthmeshError } from '../../core/index.js';
import { openHub } from '../../hub/index.js';
import type { LogisticFit, ModelRegistry, TableMissingPolicy, TableTrainingResult } from '../../models/index.js';
import {
  checkTestFraction,
  evaluationHtml,
  hubModelRegistry,
  readModelTable,
  TABLE_MISSING_POLICIES,
  trainCoxFromTable,
  trainFromTable,
} from '../../models/index.js';
import { audited, pathTarget } from '../audited-work.js';
import type { Io } from '../io.js';

/** The options of `model train --table`. */
export interface TableTrainOptions {
  table: string;
  outcome?: string;
  positive?: string;
  features?: string;
  missing: string;
  testFraction: string;
  learner: string;
  seed: string;
  id?: string;
  title?: string;
  out?: string;
  json?: boolean;
  /** The hub to register in; absent: fit and print only. */
  hubDir?: string;
  /** Cox: the time column, the horizon, the ties method. */
  time?: string;
  horizon?: string;
  ties?: string;
}

function option(message: string, path: string): HealthmeshError {
  return new HealthmeshError('MODEL_INVALID_OPTION', message, { path });
}

const fixed = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const pValue = (p: number) => (p < 1e-4 ? p.toExponential(2) : p.toFixed(4));

/** The Wald table as aligned text. */
export function fitTable(fit: LogisticFit): string {
  const width = Math.max(11, ...fit.coefficients.map((c) => c.term.length));
  const head = `  ${'term'.padEnd(width)} ${'estimate'.padStart(11)} ${'SE'.padStart(10)} ${'95% CI'.padStart(23)} ${'z'.padStart(8)} ${'p'.padStart(9)}`;
  const lines = fit.coefficients.map(
    (c) =>
      `  ${c.term.padEnd(width)} ${fixed(c.estimate, 6).padStart(11)} ${fixed(c.standardError, 6).padStart(10)} ${`${fixed(c.ci95[0])} – ${fixed(c.ci95[1])}`.padStart(23)} ${fixed(c.z, 2).padStart(8)} ${pValue(c.p).padStart(9)}`,
  );
  return [
    head,
    ...lines,
    `  log-likelihood ${fixed(fit.logLikelihood)}, AIC ${fixed(fit.aic, 2)}, n ${fit.rows}, events ${fit.events}`,
  ].join('\n');
}

function summaryText(file: string, r: TableTrainingResult, dropped: number, registered: string | undefined): string {
  const o = r.evaluation.overall;
  const f3 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  const t = r.card.table!;
  const lines = [
    `${r.model.kind} model of ${r.card.cohort.outcome} from ${file}: ${t.rowsRead} rows read`,
    t.missing === 'complete-case'
      ? `missing: complete-case, ${dropped} row(s) with a missing value dropped, ${t.rowsRead - dropped} used`
      : `missing: ${t.missing}`,
    r.inSample
      ? `full-sample fit on ${r.trainRows} rows; metrics are IN-SAMPLE`
      : `trained on ${r.trainRows} rows; metrics held out on ${r.testRows}`,
    `  AUROC ${f3(o.auroc)}, AUPRC ${f3(o.auprc)}, Brier ${o.brier.toFixed(4)}, calibration slope ${f3(o.calibrationSlope)}`,
  ];
  if (r.card.fit) lines.push(fitTable(r.card.fit));
  lines.push(registered ?? 'not registered (give --dir and --id to register it in a hub)');
  return `${lines.join('\n')}\n`;
}

/**
 * Runs `work` (read the table, fit); with `--dir` it runs inside an audited `model-train` at that hub and registers
 * the fitted model under `--id`. Without `--dir` no hub is opened: the fit is only printed.
 */
async function fitAndRegister<W>(
  opts: TableTrainOptions,
  work: () => Promise<W>,
  fitted: (w: W) => { model: Parameters<ModelRegistry['register']>[1]; card: Parameters<ModelRegistry['register']>[2] },
): Promise<{ done: W; registered: { id: string; version: number; modelHash: string } | undefined }> {
  if (opts.hubDir === undefined) return { done: await work(), registered: undefined };
  let registered: { id: string; version: number; modelHash: string } | undefined;
  const hub = await openHub(opts.hubDir);
  try {
    const id = opts.id!;
    const done = await audited(hub, 'model-train', `${id}:${pathTarget(hub, 'table', opts.table)}`, async () => {
      const w = await work();
      const { model, card } = fitted(w);
      const r = await (await hubModelRegistry(hub)).register(id, model, card, 'cli');
      registered = { id: r.id, version: r.version, modelHash: r.modelHash };
      return w;
    });
    return { done, registered };
  } finally {
    await hub.close();
  }
}

/**
 * `model train --table FILE --learner cox --time COL --outcome EVENT --horizon T`: a Cox proportional-hazards fit on
 * every complete row (no split: the partial likelihood's Wald table, concordance and calibration at the horizon
 * describe the fit), printed or as JSON; with `--dir` and `--id`, registered as the next version of the id, served
 * as the risk by the horizon.
 */
async function coxFromTable(opts: TableTrainOptions, io: Io): Promise<void> {
  if (opts.time === undefined) throw option('--learner cox needs --time COL (the follow-up time)', 'time');
  const horizon = Number(opts.horizon);
  if (opts.horizon === undefined || !(horizon > 0)) {
    throw option('--learner cox needs --horizon T, a time above 0 in the unit of --time', 'horizon');
  }
  const ties = opts.ties ?? 'efron';
  if (ties !== 'efron' && ties !== 'breslow') throw option(`--ties must be efron or breslow, not ${ties}`, 'ties');
  if (opts.hubDir !== undefined && opts.id === undefined)
    throw option('give --id to register the model in the hub', 'id');
  if (opts.missing === 'mean') throw option('--learner cox takes --missing fail or complete-case', 'missing');
  const features = opts.features
    ?.split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  const time = opts.time;
  const work = async () => {
    const table = await readModelTable(opts.table, {
      outcome: opts.outcome!,
      ...(opts.positive !== undefined && { positive: opts.positive }),
      ...(features !== undefined && { features }),
      missing: opts.missing as TableMissingPolicy,
      time,
    });
    const trained = trainCoxFromTable(table, {
      horizon,
      ties,
      unit: time,
      ...(opts.title !== undefined && { title: opts.title }),
    });
    return { table, trained };
  };
  const { done, registered } = await fitAndRegister(opts, work, (w) => w.trained);
  const { table, trained } = done;
  const { fit, survival } = trained;
  const m = table.matrix;
  const calibration = survival.calibration;
  const result = {
    ...(registered ?? {}),
    registered: registered !== undefined,
    table: {
      file: basename(opts.table),
      time: opts.time,
      event: table.outcome,
      missing: table.missing,
      rowsRead: table.rowsRead,
      rowsDropped: table.rowsDropped,
      rowsUsed: m.rows,
    },
    learner: 'cox',
    ties,
    n: fit.n,
    events: fit.events,
    coefficients: fit.coefficients.map((c) => ({ ...c, hazardRatio: Math.exp(c.estimate) })),
    logLik: fit.logLik,
    logLikNull: fit.logLikNull,
    aic: fit.aic,
    concordance: fit.concordance,
    horizon,
    baselineCumHazardAtHorizon: trained.model.baselineCumHazard,
    calibration,
    model: trained.model,
  };
  if (opts.json) {
    io.out.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const width0 = Math.max(9, ...fit.coefficients.map((c) => c.name.length));
  io.out.write(
    [
      `Cox model (${ties} ties) of ${table.outcome.column} ${table.outcome.positive} over ${opts.time} from ${result.table.file}: ${table.rowsRead} rows read, ${m.rows} used, ${fit.events} events`,
      `  ${'term'.padEnd(width0)} ${'coef'.padStart(10)} ${'HR'.padStart(8)} ${'SE'.padStart(9)} ${'95% CI (coef)'.padStart(21)} ${'p'.padStart(9)}`,
      ...fit.coefficients.map(
        (c) =>
          `  ${c.name.padEnd(width0)} ${fixed(c.estimate, 6).padStart(10)} ${fixed(Math.exp(c.estimate)).padStart(8)} ${fixed(c.se, 6).padStart(9)} ${`${fixed(c.lower)} – ${fixed(c.upper)}`.padStart(21)} ${pValue(c.p).padStart(9)}`,
      ),
      `  log partial likelihood ${fixed(fit.logLik)} (null ${fixed(fit.logLikNull)}), AIC ${fixed(fit.aic, 2)}, concordance ${fixed(fit.concordance)}`,
      `  baseline cumulative hazard at ${horizon}: ${fixed(result.baselineCumHazardAtHorizon, 6)}`,
      `  calibration at ${horizon} (risk tenths: predicted / Kaplan–Meier observed):`,
      ...calibration.map(
        (b, i) => `    ${String(i + 1).padStart(2)}: ${fixed(b.predicted, 3)} / ${fixed(b.observed, 3)}  (${b.n} rows)`,
      ),
      registered !== undefined
        ? `registered ${registered.id} version ${registered.version}`
        : 'not registered (give --dir and --id to register it in a hub)',
      '',
    ].join('\n'),
  );
}

/**
 * `healthmesh model train --table FILE --outcome COL`: fit from a flat table and print; with a hub (`--dir`),
 * register it as the next version of `--id` too.
 */
export async function trainFromTableCommand(opts: TableTrainOptions, io: Io): Promise<void> {
  if (opts.outcome === undefined) throw option('--table needs --outcome COL (e.g. --outcome target>0)', 'outcome');
  if (!(TABLE_MISSING_POLICIES as readonly string[]).includes(opts.missing)) {
    throw option(`--missing must be one of ${TABLE_MISSING_POLICIES.join(', ')}, not ${opts.missing}`, 'missing');
  }
  if (opts.learner === 'cox') return coxFromTable(opts, io);
  if (opts.learner !== 'logistic' && opts.learner !== 'boosted') {
    throw option(`--learner must be logistic, boosted or cox, not ${opts.learner}`, 'learner');
  }
  const testFraction = checkTestFraction(opts.testFraction.trim() === '' ? Number.NaN : Number(opts.testFraction));
  if (!/^-?\d{1,9}$/.test(opts.seed)) throw option(`--seed must be a whole number, not ${opts.seed}`, 'seed');
  if (opts.hubDir !== undefined && opts.id === undefined) {
    throw option('give --id to register the model in the hub', 'id');
  }
  const features = opts.features
    ?.split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  const learner = opts.learner;
  const work = async () => {
    const table = await readModelTable(opts.table, {
      outcome: opts.outcome!,
      ...(opts.positive !== undefined && { positive: opts.positive }),
      ...(features !== undefined && { features }),
      missing: opts.missing as TableMissingPolicy,
    });
    const result = trainFromTable(table, {
      learner,
      testFraction,
      seed: Number(opts.seed),
      ...(opts.title !== undefined && { title: opts.title }),
    });
    return { table, result };
  };
  const { done, registered } = await fitAndRegister(opts, work, (w) => w.result);
  const { table, result } = done;
  const file = basename(opts.table);
  const written: string[] = [];
  if (opts.out !== undefined) {
    const evaluationName = result.card.evaluations[0]!.name;
    writeFileSync(`${opts.out}.json`, `${JSON.stringify({ ...result.evaluation, fit: result.card.fit }, null, 2)}\n`);
    writeFileSync(
      `${opts.out}.html`,
      evaluationHtml(result.evaluation, `${result.card.title} — ${evaluationName}`, result.card.fit),
    );
    written.push(`${opts.out}.json`, `${opts.out}.html`);
  }
  if (opts.json) {
    io.out.write(
      `${JSON.stringify(
        {
          ...(registered ?? {}),
          registered: registered !== undefined,
          table: {
            file,
            outcome: table.outcome,
            missing: table.missing,
            rowsRead: table.rowsRead,
            rowsDropped: table.rowsDropped,
            rowsUsed: table.matrix.rows,
          },
          learner: result.model.kind,
          inSample: result.inSample,
          trainRows: result.trainRows,
          testRows: result.testRows,
          model: result.model,
          fit: result.card.fit ?? null,
          fill: result.card.table?.fill ?? null,
          evaluation: { name: result.card.evaluations[0]!.name, metrics: result.evaluation.overall },
          written,
        },
        null,
        2,
      )}\n`,
    );
    return;
  }
  io.out.write(
    summaryText(
      file,
      result,
      table.rowsDropped,
      registered && `registered ${registered.id} version ${registered.version}`,
    ) + written.map((w) => `wrote ${w}\n`).join(''),
  );
}
