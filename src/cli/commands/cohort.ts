import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Characterisation, CohortRun, FederatedCohort } from '../../cohort/index.js';
import {
  characterise,
  DEFAULT_COHORT_PURPOSE,
  listCohortRuns,
  loadCohortRun,
  releaseSurvival,
  runCohort,
  survivalHtml,
  timeToOutcome,
} from '../../cohort/index.js';
import { HealthmeshError } from '../../core/index.js';
import { defaultHubDir, openHub } from '../../hub/index.js';
import { audited, pathTarget } from '../audited-work.js';
import { hubJson, ownHubEndpoint } from '../hub-api.js';
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

/**
 * A federated run goes through the coordinating hub's API: that hub is serving (its store is open in its own
 * process) and holds the federation identity. Only disclosure-controlled aggregates come back.
 */
async function runFederated(
  def: unknown,
  hubs: string[],
  opts: { dir: string; url?: string; json?: boolean; purpose: string },
  io: Io,
): Promise<void> {
  const hub = ownHubEndpoint(opts.dir, opts.url);
  const body = await hubJson<FederatedCohort>(hub, 'POST', '/cohort/$run', {
    definition: def,
    hubs,
    purpose: opts.purpose,
  });
  if (opts.json) {
    io.out.write(`${JSON.stringify(body, null, 2)}\n`);
    return;
  }
  const n = (v: number | null | undefined) => (v === null || v === undefined ? '<suppressed>' : String(v));
  const lines = [
    `cohort "${body.name}" across ${hubs.join(', ')} for ${body.purpose}${body.complete ? '' : ' (PARTIAL)'}`,
  ];
  for (const h of body.hubs)
    lines.push(
      `  ${h.hub.padEnd(10)} ${n(h.persons).padStart(12)} persons (${n(h.consent?.leftOut)} left out by consent)`,
    );
  for (const f of body.failed) lines.push(`  ${f.hub.padEnd(10)} ${'no answer'.padStart(12)} (${f.kind})`);
  lines.push(
    `  ${'sum'.padEnd(10)} ${(body.summedPersons === null ? 'no answer' : String(body.summedPersons)).padStart(12)}${body.suppressedHubs > 0 ? ` (+${body.suppressedHubs} suppressed)` : ''}`,
  );
  lines.push(
    `  ${'distinct'.padEnd(10)} ${n(body.distinctPersons).padStart(12)}${body.distinctUnavailable ? ` (${body.distinctUnavailable})` : ' people, each counted once'}`,
  );
  io.out.write(`${lines.join('\n')}\n`);
}

function formatRun(run: CohortRun, c: Characterisation): string {
  const lines = [`cohort ${run.cohortId} "${run.name}": ${run.persons} persons, ${run.entries} entries`];
  if (c.consent !== undefined || run.consent !== undefined) {
    const purpose = c.consent?.purpose ?? run.consent?.purpose;
    const leftOut = (run.consent?.leftOut ?? 0) + (c.consent?.leftOut ?? 0);
    lines.push(`purpose: ${purpose}; ${leftOut} people left out by consent`);
  }
  lines.push('attrition:');
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
    .option(
      '--html <file>',
      'with --outcome: write the survival and cumulative incidence plot with numbers at risk, released by the gate',
    )
    .option('--step-days <n>', 'with --html: days between the times the curve is read at', '365')
    .option('--hubs <names>', 'run across these hubs (comma list), coordinated by the serving hub of --dir')
    .option('--url <url>', "with --hubs: the coordinating hub's address (default: its configured host and port)")
    .option(
      '--purpose <purpose>',
      'the purpose of use; people whose consent refuses it are left out',
      DEFAULT_COHORT_PURPOSE,
    )
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh cohort run t2d-40plus.json --outcome ihd.json --purpose research\n  $ healthmesh cohort run t2d.json --dir .healthmesh/gwangju --hubs gwangju,gyeonggi,busan\n',
    )
    .action(
      async (
        file: string,
        opts: {
          dir: string;
          outcome?: string;
          json?: boolean;
          hubs?: string;
          url?: string;
          purpose: string;
          html?: string;
          stepDays: string;
        },
      ) => {
        const def = readDefinition(file);
        const stepDays = Number(opts.stepDays);
        if (opts.html !== undefined && (opts.outcome === undefined || !Number.isInteger(stepDays) || stepDays < 1)) {
          throw new HealthmeshError('COHORT_INVALID_DEFINITION', '--html needs --outcome and a whole --step-days ≥ 1', {
            path: 'html',
          });
        }
        if (opts.hubs !== undefined) {
          await runFederated(
            def,
            opts.hubs.split(',').map((h) => h.trim()),
            opts,
            io,
          );
          setCode(0);
          return;
        }
        const outcomeDef = opts.outcome !== undefined ? readDefinition(opts.outcome) : undefined;
        const hub = await openHub(opts.dir);
        try {
          const consent = await hub.consent.filter(opts.purpose, undefined, '--purpose');
          await hub.derived.assertCurrent();
          const run = await audited(hub, 'cohort-run', pathTarget(hub, 'file', file), () =>
            runCohort(hub.db, def, hub.clock, consent),
          );
          const outcome =
            outcomeDef !== undefined ? await runCohort(hub.db, outcomeDef, hub.clock, consent) : undefined;
          const c = await characterise(hub.db, run.cohortId, {
            consent,
            ...(outcome !== undefined && { outcomeCohortId: outcome.cohortId }),
          });
          io.out.write(opts.json ? `${JSON.stringify({ run, characterisation: c }, null, 2)}\n` : formatRun(run, c));
          if (opts.html !== undefined && outcome !== undefined) {
            // The report is a file that travels: its numbers are the gate's, as any role without row-level rights gets.
            const released = releaseSurvival(hub.gate, await timeToOutcome(hub.db, run.cohortId, outcome.cohortId), {
              stepDays,
            });
            writeFileSync(opts.html, survivalHtml(released.value, `${run.name}: time to ${outcome.name}`));
            if (!opts.json) io.out.write(`wrote ${opts.html}\n`);
          }
          setCode(0);
        } finally {
          await hub.close();
        }
      },
    );
  cohort
    .command('list')
    .description('List the cohorts run on this hub.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .addHelpText('after', '\nExample:\n  $ healthmesh cohort list\n')
    .action(async (opts: { dir: string }) => {
      const hub = await openHub(opts.dir);
      try {
        for (const r of await listCohortRuns(hub.db)) {
          io.out.write(`${r.cohortId}  ${String(r.persons).padStart(8)}  ${r.name}\n`);
        }
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
        const run = await audited(hub, 'cohort-read', id, () => loadCohortRun(hub.db, id));
        // A stored result is read for the purpose it ran for: members who refused it since are left out now.
        const consent = run.purpose !== null ? await hub.consent.filter(run.purpose) : undefined;
        const c = await characterise(hub.db, id, consent !== undefined ? { consent } : {});
        io.out.write(opts.json ? `${JSON.stringify({ run, characterisation: c }, null, 2)}\n` : formatRun(run, c));
        setCode(0);
      } finally {
        await hub.close();
      }
    });
}
