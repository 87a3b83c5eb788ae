import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { HealthmeshError } from '../../core/index.js';
import { defaultHubDir, openHub } from '../../hub/index.js';
import type {
  EvaluationReport,
  FederatedFitRecord,
  LogisticFit,
  Metrics,
  RegisteredModel,
} from '../../models/index.js';
import {
  boostedToOnnx,
  evaluatePredictions,
  evaluationHtml,
  hubModelRegistry,
  logisticToOnnx,
  parseTrainingSpec,
  riskAssessment,
  rowGroupings,
  scoreFeatureVector,
  scoreHubRows,
  trainFromSpec,
} from '../../models/index.js';
import { audited } from '../audited-work.js';
import { hubJson, ownHubEndpoint } from '../hub-api.js';
import type { Io } from '../io.js';
import type { TableTrainOptions } from './model-table.js';
import { trainFromTableCommand } from './model-table.js';

/** `model train`'s options: those of `--table` (model-table.ts), the hub, the purpose, and `--hubs`. */
interface TrainOptions extends Omit<TableTrainOptions, 'table' | 'hubDir'> {
  dir: string;
  table?: string;
  purpose: string;
  hubs?: string;
  url?: string;
  project?: string;
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new HealthmeshError('INGEST_UNREADABLE', `cannot read ${file}`, { file }, { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HealthmeshError('MODEL_INVALID_SPEC', `${what} ${file} is not JSON: ${(e as Error).message}`, { file });
  }
}

function versionOption(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[1-9][0-9]{0,8}$/.test(v)) {
    throw new HealthmeshError('MODEL_INVALID_OPTION', `--version must be a positive whole number, got "${v}"`, {
      path: 'version',
    });
  }
  return Number(v);
}

function dateOption(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) {
    throw new HealthmeshError('MODEL_INVALID_OPTION', `--index-date must be a date YYYY-MM-DD, got "${v}"`, {
      path: 'index-date',
    });
  }
  return v;
}

const f3 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));

function summary(m: Metrics): string {
  const ci = m.aurocCi ? ` (95% CI ${f3(m.aurocCi[0])}–${f3(m.aurocCi[1])})` : '';
  return [
    `  rows ${m.n}, events ${m.events} (${(m.prevalence * 100).toFixed(2)}%)`,
    `  AUROC ${f3(m.auroc)}${ci}, AUPRC ${f3(m.auprc)}, Brier ${m.brier.toFixed(4)}`,
    `  calibration intercept ${f3(m.calibrationIntercept)}, slope ${f3(m.calibrationSlope)}`,
  ].join('\n');
}

function writeReports(report: EvaluationReport, title: string, base: string, fit?: LogisticFit): string[] {
  writeFileSync(`${base}.json`, `${JSON.stringify(fit ? { ...report, fit } : report, null, 2)}\n`);
  writeFileSync(`${base}.html`, evaluationHtml(report, title, fit));
  return [`${base}.json`, `${base}.html`];
}

function onnxOf(m: RegisteredModel): Uint8Array {
  if (m.model.kind === 'cox') {
    throw new HealthmeshError('MODEL_INVALID_OPTION', 'a Cox model has no ONNX export; it is served by the hub', {
      path: 'onnx',
    });
  }
  return m.model.kind === 'logistic' ? logisticToOnnx(m.model) : boostedToOnnx(m.model);
}

/**
 * `model train --hubs`: a federated fit goes through the coordinating hub's API (`POST /models/$federated-train`),
 * as `cohort run --hubs` does: that hub is serving, holds the federation identity and registers the result.
 */
async function trainAcrossHubs(
  spec: unknown,
  hubList: string,
  opts: {
    dir: string;
    url?: string;
    json?: boolean;
    purpose: string;
    purposeGiven: boolean;
    out?: string;
    project?: string;
  },
  io: Io,
): Promise<void> {
  if (opts.project === undefined) {
    throw new HealthmeshError(
      'MODEL_NO_PROJECT',
      '--hubs needs --project ID: a federated fit runs inside an approved project',
      {
        path: 'project',
      },
    );
  }
  if (opts.out !== undefined) {
    throw new HealthmeshError('MODEL_INVALID_OPTION', '--out: a federated fit has no held-out evaluation to write', {
      path: 'out',
    });
  }
  const hubs = hubList
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  // The project's purpose is the fit's: --purpose is sent only when given, to be checked against it.
  const body = await hubJson<FederatedTrainAnswer>(
    ownHubEndpoint(opts.dir, opts.url),
    'POST',
    '/models/$federated-train',
    {
      spec,
      hubs,
      project: opts.project,
      ...(opts.purposeGiven && { purpose: opts.purpose }),
    },
  );
  if (opts.json) {
    io.out.write(`${JSON.stringify(body, null, 2)}\n`);
    return;
  }
  const f = body.federation;
  const lines = [
    `registered ${body.id} version ${body.version} (logistic, ${body.features.length} inputs) across ${f.hubs.join(', ')}`,
    `project: ${f.project ?? 'none'}; purpose: ${f.purpose}; ${f.rounds.length} rounds (the first gathers the moments), converged: ${body.converged}`,
  ];
  const n = (v: number | null | undefined) => (v === null || v === undefined ? '<suppressed>' : String(v));
  for (const a of f.rounds[0]?.answers ?? [])
    lines.push(`  ${a.hub.padEnd(12)} rows ${n(a.rows)}, events ${n(a.events)}`);
  lines.push(`  round ms: ${f.rounds.map((r) => r.ms).join(', ')}`);
  io.out.write(`${lines.join('\n')}\n`);
}

/** What `POST /models/$federated-train` answers. */
interface FederatedTrainAnswer {
  id: string;
  version: number;
  features: string[];
  coefficients: number[];
  converged: boolean;
  federation: FederatedFitRecord;
}

export function modelCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const model = program
    .command('model')
    .description('Train, evaluate, list, export and score risk models on this hub (docs/models.md).');
  model
    .command('train')
    .description(
      'Train a model from a spec (features, population, outcome, learner, card) and register a version, or from a flat table (--table).',
    )
    .argument('[spec]', 'training spec JSON file (or give --table)')
    .option('-d, --dir <dir>', 'hub data directory (with --table: register there only when given)', defaultHubDir())
    .option('--table <file>', 'fit from a .csv, .tsv or .parquet table instead of a spec (no hub needed)')
    .option('--outcome <col>', "with --table: the outcome column, 0/1, or a comparison such as 'target>0'")
    .option('--positive <rule>', "with --table: which outcome values are events: '>0', '>=2', '!=0', 'yes'")
    .option('--features <a,b,c>', 'with --table: the predictor columns (default every column but the outcome)')
    .option('--missing <policy>', 'with --table: NA, ? or empty cells: fail, complete-case or mean', 'fail')
    .option('--test-fraction <f>', 'with --table: held-out share, 0 for a full-sample fit (in-sample metrics)', '0.3')
    .option(
      '--learner <kind>',
      'with --table: logistic, boosted or cox (time to event: needs --time and --horizon)',
      'logistic',
    )
    .option('--time <col>', 'with --learner cox: the follow-up time column (the outcome is then the event)')
    .option('--horizon <t>', 'with --learner cox: the horizon of the risk and its calibration, in the time unit')
    .option('--ties <method>', 'with --learner cox: efron or breslow', 'efron')
    .option('--seed <n>', 'with --table: seed of the split', '1')
    .option('--id <id>', 'with --table and --dir: the model id to register')
    .option('--title <text>', "with --table: the card's title")
    .option('--out <base>', 'also write the evaluation as <base>.json and <base>.html')
    .option('--purpose <purpose>', 'purpose of use; people whose consent refuses it are left out', 'ai-development')
    .option('--json', 'print as JSON (nothing else on stdout)')
    .option('--hubs <names>', 'fit across these hubs (comma list), coordinated by the serving hub of --dir')
    .option('--url <url>', "with --hubs: the coordinating hub's address (default: its configured host and port)")
    .option('--project <id>', 'with --hubs: the approved project the fit runs in (every hub checks it)')
    .addHelpText(
      'after',
      "\nExamples:\n  $ healthmesh model train test/fixtures/models/t2d-5y.json --out t2d-heldout\n  $ healthmesh model train --table heart.tsv --outcome target --positive '>0' --missing complete-case --test-fraction 0 --json\n  $ healthmesh model train --table lung.csv --learner cox --time time --outcome status --positive 2 --horizon 365 --features age,sex,ph.ecog --missing complete-case\n  $ healthmesh model train t2d-5y.json --dir .healthmesh/gyeonggi --hubs gwangju,gyeonggi,busan --project p-…\n",
    )
    .action(async (file: string | undefined, opts: TrainOptions, cmd: Command) => {
      if (opts.table !== undefined) {
        if (file !== undefined) throw new HealthmeshError('MODEL_INVALID_OPTION', 'give a spec or --table, not both');
        const explicitDir = cmd.getOptionValueSource('dir') !== 'default';
        await trainFromTableCommand(
          {
            ...opts,
            table: opts.table,
            missing: opts.missing,
            testFraction: opts.testFraction,
            learner: opts.learner,
            seed: opts.seed,
            ...(explicitDir && { hubDir: opts.dir }),
          },
          io,
        );
        setCode(0);
        return;
      }
      if (file === undefined) {
        throw new HealthmeshError('MODEL_INVALID_OPTION', 'give a training spec file or --table FILE --outcome COL', {
          path: 'spec',
        });
      }
      const raw = readJson(file, 'spec');
      const spec = parseTrainingSpec(raw);
      if (opts.hubs !== undefined) {
        await trainAcrossHubs(
          raw,
          opts.hubs,
          { ...opts, purposeGiven: cmd.getOptionValueSource('purpose') !== 'default' },
          io,
        );
        setCode(0);
        return;
      }
      const hub = await openHub(opts.dir);
      try {
        const purpose = hub.consent.policy.purpose(opts.purpose, '--purpose').name;
        const r = await audited(hub, 'model-train', spec.model, () => trainFromSpec(hub, spec, 'cli', purpose));
        const written = opts.out
          ? writeReports(r.heldOut, r.registered.card.title, opts.out, r.registered.card.fit)
          : [];
        const { id, version, kind, modelHash } = r.registered;
        if (opts.json) {
          io.out.write(
            `${JSON.stringify({ id, version, kind, modelHash, consent: r.consent, inSample: r.inSample, heldOut: r.heldOut.overall, fit: r.registered.card.fit ?? null, written }, null, 2)}\n`,
          );
        } else {
          io.out.write(
            `registered ${id} version ${version} (${kind}, ${r.registered.model.features.length} inputs)\npurpose: ${r.consent.purpose}; ${r.consent.leftOut} people left out by consent\n${r.inSample ? 'in-sample (full-sample fit, not a held-out estimate)' : 'held-out'}:\n${summary(r.heldOut.overall)}\n${written.map((w) => `wrote ${w}\n`).join('')}`,
          );
        }
        setCode(0);
      } finally {
        await hub.close();
      }
    });
  model
    .command('evaluate')
    .description("Score the model's population on this hub and write the JSON and HTML evaluation report.")
    .argument('<id>', 'model id')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--version <n>', 'model version (default: the latest)')
    .option('--index-date <date>', "evaluate at this index date instead of the spec's (fixed-date populations)")
    .option('--out <base>', 'write <base>.json and <base>.html (default <id>-v<version>-evaluation)')
    .option('--purpose <purpose>', 'purpose of use; people whose consent refuses it are left out', 'ai-validation')
    .option('--json', 'print the report as JSON instead of a summary')
    .addHelpText('after', '\nExample:\n  $ healthmesh model evaluate t2d-5y --index-date 2020-01-01 --out t2d-2020\n')
    .action(
      async (
        id: string,
        opts: { dir: string; version?: string; indexDate?: string; out?: string; json?: boolean; purpose: string },
      ) => {
        const version = versionOption(opts.version);
        const indexDate = dateOption(opts.indexDate);
        const hub = await openHub(opts.dir);
        try {
          const report = await audited(hub, 'model-evaluate', id, async () => {
            const m = await (await hubModelRegistry(hub)).get(id, version);
            const purpose = hub.consent.policy.purpose(opts.purpose, '--purpose').name;
            const s = await scoreHubRows(hub, m, { purpose, ...(indexDate !== undefined && { indexDate }) });
            if (s.input.outcome === undefined) {
              throw new HealthmeshError('MODEL_INVALID_SPEC', `model ${id} has no outcome to evaluate against`, {
                path: id,
              });
            }
            const rep = evaluatePredictions(s.probabilities, s.input.outcome, { groupings: rowGroupings(s.rows) });
            return { m, rep };
          });
          const base = opts.out ?? `${id}-v${report.m.version}-evaluation`;
          const written = writeReports(report.rep, `${report.m.card.title} — evaluation`, base);
          if (opts.json) io.out.write(`${JSON.stringify(report.rep, null, 2)}\n`);
          else {
            io.out.write(
              `${id} version ${report.m.version} on this hub:\n${summary(report.rep.overall)}\n${written.map((w) => `wrote ${w}\n`).join('')}`,
            );
          }
          setCode(0);
        } finally {
          await hub.close();
        }
      },
    );
  model
    .command('list')
    .description('List the registered models (latest version of each).')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ healthmesh model list\n')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const hub = await openHub(opts.dir);
      try {
        const list = await (await hubModelRegistry(hub)).list('all');
        if (opts.json) io.out.write(`${JSON.stringify(list, null, 2)}\n`);
        else {
          for (const m of list) {
            io.out.write(`${m.id.padEnd(24)} v${String(m.latestVersion).padEnd(4)} ${m.kind.padEnd(9)} ${m.title}\n`);
          }
        }
        setCode(0);
      } finally {
        await hub.close();
      }
    });
  model
    .command('status')
    .description('Show or set whether a model version serves predictions (serving, withdrawn, recalled).')
    .argument('<id>', 'model id')
    .requiredOption('--version <n>', 'model version')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--set <status>', 'serving, withdrawn (may serve again) or recalled (for good; needs --reason)')
    .option('--reason <text>', 'why (required for a recall)')
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh model status t2d-5y --version 2 --set recalled --reason "overestimates risk in women"\n',
    )
    .action(async (id: string, opts: { dir: string; version: string; set?: string; reason?: string }) => {
      const version = versionOption(opts.version)!;
      const set = opts.set;
      if (set !== undefined && set !== 'serving' && set !== 'withdrawn' && set !== 'recalled') {
        throw new HealthmeshError('MODEL_INVALID_OPTION', '--set must be serving, withdrawn or recalled', {
          path: 'set',
        });
      }
      const hub = await openHub(opts.dir);
      try {
        const registry = await hubModelRegistry(hub);
        const s =
          set === undefined
            ? await registry.status(id, version)
            : await audited(hub, 'model-status', `models/${id}/${version}`, () =>
                registry.setStatus(id, version, set, 'cli', opts.reason),
              );
        io.out.write(`${id} version ${version}: ${s.status}${s.reason === null ? '' : ` (${s.reason})`}\n`);
        setCode(0);
      } finally {
        await hub.close();
      }
    });
  model
    .command('export')
    .description('Write a registered model as ONNX (input "features" [N, p] double, output "probability").')
    .argument('<id>', 'model id')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--version <n>', 'model version (default: the latest)')
    .option('--out <file>', 'ONNX file to write (default <id>-v<version>.onnx)')
    .addHelpText('after', '\nExample:\n  $ healthmesh model export t2d-5y --out t2d.onnx\n')
    .action(async (id: string, opts: { dir: string; version?: string; out?: string }) => {
      const version = versionOption(opts.version);
      const hub = await openHub(opts.dir);
      try {
        const m = await audited(hub, 'model-export', id, async () => (await hubModelRegistry(hub)).get(id, version));
        const out = opts.out ?? `${id}-v${m.version}.onnx`;
        writeFileSync(out, onnxOf(m));
        io.out.write(`wrote ${out} (${m.kind}, inputs in order: ${m.model.features.join(', ')})\n`);
        setCode(0);
      } finally {
        await hub.close();
      }
    });
  model
    .command('predict')
    .description('Score one patient of this hub (features computed from its data) or one feature vector.')
    .argument('<id>', 'model id')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--version <n>', 'model version (default: the latest in service)')
    .option('--patient <key>', 'a patient key of this hub (its pseudonymous id)')
    .option('--index-date <date>', 'with --patient: the date to predict from (default today)')
    .option('--features <json>', 'a feature vector as JSON, e.g. \'{"age": 61, "fpg": null}\' (null = not recorded)')
    .option(
      '--purpose <purpose>',
      "with --patient: purpose of use, refused when the patient's consent refuses it",
      'treatment',
    )
    .option('--json', 'print the probability and the FHIR RiskAssessment as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh model predict t2d-5y --patient 3f9a… --index-date 2021-01-01\n  $ healthmesh model predict t2d-5y --features \'{"age": 61, "male": 1, "fpg": 118}\'\n',
    )
    .action(
      async (
        id: string,
        opts: {
          dir: string;
          version?: string;
          patient?: string;
          indexDate?: string;
          features?: string;
          json?: boolean;
          purpose: string;
        },
      ) => {
        const version = versionOption(opts.version);
        if ((opts.patient === undefined) === (opts.features === undefined)) {
          throw new HealthmeshError('MODEL_INVALID_OPTION', 'give either --patient or --features', { path: 'patient' });
        }
        let vector: unknown;
        if (opts.features !== undefined) {
          try {
            vector = JSON.parse(opts.features) as unknown;
          } catch (e) {
            throw new HealthmeshError('MODEL_INVALID_FEATURES', `--features is not JSON: ${(e as Error).message}`, {
              path: 'features',
            });
          }
        }
        const indexDate = dateOption(opts.indexDate);
        const hub = await openHub(opts.dir);
        try {
          const out = await audited(
            hub,
            'model-predict',
            opts.patient !== undefined ? `${id}:patient` : `${id}:vector`,
            async () => {
              const m = await (await hubModelRegistry(hub)).serving(id, version);
              const now = hub.clock.now();
              if (opts.patient !== undefined) {
                const at = indexDate ?? now.toISOString().slice(0, 10);
                const purpose = hub.consent.policy.purpose(opts.purpose, '--purpose').name;
                const s = await scoreHubRows(hub, m, { patients: [opts.patient], indexDate: at, purpose });
                const p = s.probabilities[0]!;
                return { m, p, ra: riskAssessment(m, p, { patientKey: opts.patient, indexDate: at, now }) };
              }
              const { probability } = scoreFeatureVector(m, vector);
              return { m, p: probability, ra: riskAssessment(m, probability, { now }) };
            },
          );
          if (opts.json) io.out.write(`${JSON.stringify({ probability: out.p, riskAssessment: out.ra }, null, 2)}\n`);
          else
            io.out.write(
              `${id} version ${out.m.version}: ${(out.p * 100).toFixed(2)}% (${out.ra.prediction?.[0]?.outcome?.text ?? ''})\n`,
            );
          setCode(0);
        } finally {
          await hub.close();
        }
      },
    );
}
