import { join } from 'node:path';
import type { Command } from 'commander';
import { HealthmeshError } from '../../core/index.js';
import type { RegionId } from '../../synth/index.js';
import { formatPrevalenceReport, generateRegion, isRegionId, prevalenceReport, REGION_IDS } from '../../synth/index.js';
import type { Io } from '../io.js';
import { parsePeople, wholeNumber } from '../options.js';

interface SynthCliOptions {
  region: string;
  people: string;
  seed: string;
  out: string;
  endYear: string;
  years: string;
  types?: string;
  json?: boolean;
  prevalence?: boolean;
}

function regionsOf(value: string): RegionId[] {
  const names = value === 'all' ? [...REGION_IDS] : value.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!isRegionId(n)) {
      throw new HealthmeshError('SYNTH_INVALID_OPTION', `unknown region "${n}": use ${REGION_IDS.join(', ')} or all`, {
        path: 'region',
      });
    }
  }
  return names as RegionId[];
}

export function synthCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('synth')
    .description(
      'Generate a synthetic population with known ground truth: FHIR R4 NDJSON per type, plus truth/*.ndjson.',
    )
    .requiredOption('-r, --region <region>', `${REGION_IDS.join(' | ')} | all, or a comma list`)
    .option('-n, --people <n>', 'residents per region', '1000')
    .option('-s, --seed <seed>', 'random seed: the same seed gives the same bytes', '1')
    .option('-o, --out <dir>', 'output folder (one sub-folder per region when several)', './synth')
    .option('--end-year <year>', 'last calendar year of the history', '2025')
    .option('--years <n>', 'years of history (at least 6: the ground truth has a 5-year horizon)', '10')
    .option('--types <list>', 'write only these resource types, a comma list (default: all)')
    .option('--json', 'print the summary as JSON')
    .option('--prevalence', 'print age-sex prevalences beside the published figures they aim at')
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh synth --region all --people 5000 --seed 7 --out ./synth\n  $ healthmesh synth --region busan --types Patient,Encounter,Condition --out ./flu\n  $ healthmesh ingest --dir ./gwangju --source synth-gwangju ./synth/gwangju/*.ndjson\n',
    )
    .action((opts: SynthCliOptions) => {
      const regions = regionsOf(opts.region);
      const people = parsePeople(opts.people);
      const summaries = [];
      for (const region of regions) {
        const out = regions.length > 1 ? join(opts.out, region) : opts.out;
        const started = performance.now();
        const summary = generateRegion({
          region,
          people,
          seed: opts.seed,
          out,
          endYear: wholeNumber(opts.endYear, 'end-year'),
          years: wholeNumber(opts.years, 'years'),
          ...(opts.types !== undefined && { types: opts.types.split(',').map((t) => t.trim()) }),
          onProgress: (done, total) => {
            if (io.err.isTTY === true) io.err.write(`\r${region}: ${done}/${total} people`);
          },
        });
        if (io.err.isTTY === true) io.err.write('\n');
        const seconds = (performance.now() - started) / 1000;
        summaries.push({ ...summary, out });
        if (!opts.json) {
          io.out.write(
            `${region}: ${summary.residents} residents + ${summary.visitors} visitors, ${summary.resources} resources, ` +
              `${(summary.bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s -> ${out}\n`,
          );
        }
        if (opts.prevalence)
          io.out.write(`\n${region}\n${formatPrevalenceReport(prevalenceReport(out, summary.window.end))}\n`);
      }
      if (opts.json) io.out.write(`${JSON.stringify(summaries, null, 2)}\n`);
      setCode(0);
    });
}
