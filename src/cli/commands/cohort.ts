import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Characterisation, CohortRun } from '../../cohort/index.js';
import { characterise, loadCohortRun, refreshCohortIndex, runCohort } from '../../cohort/index.js';
import { HealthmeshError } from '../../core/index.js';
import type { Hub } from '../../hub/index.js';
import { defaultHubDir, openHub } from '../../hub/index.js';
import type { Io } from '../io.js';

function readDefinition(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new HealthmeshError(
      'INGEST_UNREADABLE',
      `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`,
      { file },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HealthmeshError(
      'COHORT_INVALID_DEFINITION',
      `${file} is not JSON: ${e instanceof Error ? e.message : String(e)}`,
      { file },
    );
  }
}

function formatRun(run: CohortRun, c: Characterisation): string {
  const lines = [`cohort ${run.cohortId} "${run.name}": ${run.persons} persons, ${run.entries} entries`, 'attrition:'];
  for (const a of run.attrition) lines.push(`  ${String(a.persons).padStart(8)}  ${a.step}`);
  const cells = (title: string, xs: { key: string; persons: number }[]) =>
    lines.push(`${title}: ${xs.map((x) => `${x.key} ${x.persons}`).join(', ')}`);
  cells('age at index', c.ageBands);
  cells('sex', c.sex);
  cells('region', c.region);
  if (c.incidence !== undefined) {
    const i = c.incidence;
    lines.push(
      `outcome: ${i.events} events in ${i.personYears.toFixed(1)} person-years (${i.ratePer1000.toFixed(1)} per 1,000)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function audited<T>(hub: Hub, action: string, target: string, work: () => Promise<T>): Promise<T> {
  try {
    const result = await work();
    await hub.audit.append({ actor: 'cli', action, target, outcome: 'success' });
    return result;
  } catch (e) {
    await hub.audit.append({
      actor: 'cli',
      action,
      target,
      outcome: 'failure',
      detail: { code: e instanceof HealthmeshError ? e.code : 'INTERNAL' },
    });
    throw e;
  }
}

export function cohortCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const cohort = program
    .command('cohort')
    .description('Define, run and describe cohorts on this hub (docs/cohorts.md).');
  cohort
    .command('run')
    .description('Run a cohort definition on this hub: the result, its attrition and its characterisation.')
    .argument('<definition>', 'cohort definition JSON file')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--outcome <definition>', 'an outcome cohort: incidence rate and Kaplan-Meier curve')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ healthmesh cohort run t2d-40plus.json --outcome ihd.json\n')
    .action(async (file: string, opts: { dir: string; outcome?: string; json?: boolean }) => {
      const def = readDefinition(file);
      const outcomeDef = opts.outcome !== undefined ? readDefinition(opts.outcome) : undefined;
      const hub = await openHub(opts.dir);
      try {
        await refreshCohortIndex(hub);
        const run = await audited(hub, 'cohort-run', file, () => runCohort(hub.db, def, hub.clock));
        const outcome = outcomeDef !== undefined ? await runCohort(hub.db, outcomeDef, hub.clock) : undefined;
        const c = await characterise(
          hub.db,
          run.cohortId,
          outcome !== undefined ? { outcomeCohortId: outcome.cohortId } : {},
        );
        io.out.write(opts.json ? `${JSON.stringify({ run, characterisation: c }, null, 2)}\n` : formatRun(run, c));
        setCode(0);
      } finally {
        await hub.close();
      }
    });
  cohort
    .command('list')
    .description('List the cohorts run on this hub.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .addHelpText('after', '\nExample:\n  $ healthmesh cohort list\n')
    .action(async (opts: { dir: string }) => {
      const hub = await openHub(opts.dir);
      try {
        await refreshCohortIndex(hub);
        const rows = await hub.db.all<{ cohort_id: string; name: string; persons: unknown; created_at: unknown }>(
          'SELECT cohort_id, name, persons, created_at FROM cohort_run ORDER BY created_at',
        );
        for (const r of rows) io.out.write(`${r.cohort_id}  ${String(r.persons).padStart(8)}  ${r.name}\n`);
        setCode(0);
      } finally {
        await hub.close();
      }
    });
  cohort
    .command('show')
    .description('Show a cohort run earlier: attrition and characterisation.')
    .argument('<id>', 'cohort id (from cohort run or cohort list)')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ healthmesh cohort show c1a2b3c4d5e6f7a8 --json\n')
    .action(async (id: string, opts: { dir: string; json?: boolean }) => {
      const hub = await openHub(opts.dir);
      try {
        await refreshCohortIndex(hub);
        const run = await audited(hub, 'cohort-read', id, () => loadCohortRun(hub.db, id));
        const c = await characterise(hub.db, id);
        io.out.write(opts.json ? `${JSON.stringify({ run, characterisation: c }, null, 2)}\n` : formatRun(run, c));
        setCode(0);
      } finally {
        await hub.close();
      }
    });
}
