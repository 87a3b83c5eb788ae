import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { HealthmeshError } from '../../core/index.js';
import { defaultHubDir, openHub } from '../../hub/index.js';
import { builtInView, CompiledView, formatRows, parseOutputFormat, runOverStore } from '../../views/index.js';
import type { Io } from '../io.js';

function readView(arg: string): unknown {
  if (!existsSync(arg) && /^[a-z_]+$/.test(arg)) return builtInView(arg).definition;
  let text: string;
  try {
    text = readFileSync(arg, 'utf8');
  } catch (e) {
    throw new HealthmeshError('INGEST_UNREADABLE', `cannot read ${arg}: ${(e as Error).message}`, { file: arg });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HealthmeshError('VIEW_INVALID', `${arg} is not valid JSON: ${(e as Error).message}`, { file: arg });
  }
}

export function viewsCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const views = program
    .command('views')
    .description('SQL-on-FHIR v2 views: the analytic tables (view_<name>) and ad-hoc ViewDefinitions.');

  views
    .command('list')
    .description('List the built-in views, their tables, row counts and last refresh.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ healthmesh views list --dir ./gwangju\n')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const hub = await openHub(opts.dir);
      try {
        const list = await hub.tables.list();
        if (opts.json) io.out.write(`${JSON.stringify(list, null, 2)}\n`);
        else {
          for (const t of list) {
            const when = t.refreshedAt ? t.refreshedAt.toISOString() : 'never built';
            io.out.write(
              `${t.table.padEnd(26)} ${t.resource.padEnd(18)} ${String(t.rows).padStart(9)} rows  ${when}\n`,
            );
          }
        }
        setCode(0);
      } finally {
        await hub.close();
      }
    });

  views
    .command('refresh')
    .description(
      'Bring the analytic tables, and the event index built from them, up to date with the store (a hub keeps them so after every write and at open: this repairs, or rebuilds with --rebuild).',
    )
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--rebuild', 'drop every table and rebuild it from the resource store')
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', '\nExample:\n  $ healthmesh views refresh --dir ./gwangju --rebuild\n')
    .action(async (opts: { dir: string; rebuild?: boolean; json?: boolean }) => {
      const hub = await openHub(opts.dir);
      try {
        const summary = await hub.tables.refresh({ rebuild: opts.rebuild === true });
        // The rest of the after-commit pipeline follows (event index, consent) and records the stamps.
        await hub.derived.bringCurrent({ force: true });
        await hub.audit.append({
          actor: 'cli',
          action: 'views-refresh',
          target: `hub:${hub.config.name}`,
          outcome: 'success',
          detail: { resources: summary.resources },
        });
        if (opts.json) io.out.write(`${JSON.stringify(summary, null, 2)}\n`);
        else {
          io.out.write(`flattened ${summary.resources} resources\n`);
          for (const v of summary.views) {
            io.out.write(
              `  ${v.table.padEnd(26)} ${String(v.rows).padStart(9)} rows (${v.flattened} resources flattened${v.rebuilt ? ', rebuilt' : ''})\n`,
            );
          }
        }
        setCode(0);
      } finally {
        await hub.close();
      }
    });

  views
    .command('run')
    .description("Run a ViewDefinition (a JSON file, or a built-in view name) over the hub's current resources.")
    .argument('<view>', 'ViewDefinition JSON file, or the name of a built-in view')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('-f, --format <format>', 'csv | ndjson | json', 'csv')
    .option('--limit <n>', 'stop after n rows')
    .addHelpText('after', '\nExample:\n  $ healthmesh views run ./bp.json --format ndjson --limit 100\n')
    .action(async (arg: string, opts: { dir: string; format: string; limit?: string }) => {
      const format = parseOutputFormat(opts.format);
      const definition = readView(arg);
      const hub = await openHub(opts.dir);
      try {
        const constants = (definition as { constant?: { name?: string }[] }).constant ?? [];
        const view = CompiledView.compile(definition, {
          constants: constants.some((c) => c.name === 'region') ? { region: hub.config.name } : {},
        });
        const limit = opts.limit !== undefined ? Number(opts.limit) : undefined;
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
          throw new HealthmeshError('API_BAD_REQUEST', '--limit must be a positive integer', { path: 'limit' });
        }
        let rows = 0;
        const counted = async function* () {
          for await (const batch of runOverStore(hub.store, view, limit !== undefined ? { limit } : {})) {
            rows += batch.length;
            yield batch;
          }
        };
        for await (const text of formatRows(view.columns, counted(), format)) io.out.write(text);
        await hub.audit.append({
          actor: 'cli',
          action: 'view-run',
          target: `ViewDefinition:${view.definition.name ?? view.definition.resource}`,
          outcome: 'success',
          detail: { rows },
        });
        setCode(0);
      } finally {
        await hub.close();
      }
    });
}
