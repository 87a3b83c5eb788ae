import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { HealthmeshError } from '../../core/index.js';
import type { HubEndpoint } from '../hub-api.js';
import { hubJson, requestHub, tokenEndpoint } from '../hub-api.js';
import type { Io } from '../io.js';

/** What the API answers about a submission (`GET /validation/submissions/{id}`). */
interface SubmissionAnswer {
  id: string;
  name: string;
  version: string;
  projectId: string;
  status: string;
  submittedBy: string;
  submittedAt: string;
  failure: string | null;
  decision: { by: string; at: string; comment: string } | null;
  modelSha256: string;
}

/** The parts of a report the CLI prints; the whole report is what `--json` and `report` write. */
interface ReportAnswer {
  discrimination?: { auroc?: number | null; aurocCi?: (number | null)[] | null };
  calibration?: { intercept?: number | null; slope?: number | null };
  sampleSize?: { total?: number | null; events?: number | null };
  verdict?: { claims?: string; summary?: string };
}

interface Common {
  url: string;
  tokenFile?: string;
  json?: boolean;
}

function readFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new HealthmeshError('INGEST_UNREADABLE', `cannot read ${what} ${file}`, { file }, { cause: e });
  }
}

function manifestOf(file: string): unknown {
  try {
    return JSON.parse(readFile(file, 'the manifest').toString('utf8')) as unknown;
  } catch (e) {
    if (e instanceof HealthmeshError) throw e;
    throw new HealthmeshError('VALIDATION_INVALID_MANIFEST', `${file} is not JSON: ${(e as Error).message}`, { file });
  }
}

const id = (v: string) => encodeURIComponent(v);
const n = (v: number | null | undefined) => (v === null || v === undefined ? 'withheld' : String(v));

function submissionLine(s: SubmissionAnswer): string {
  const decided = s.decision === null ? '' : `; ${s.status} by ${s.decision.by}: ${s.decision.comment}`;
  const failed = s.failure === null ? '' : `; failed: ${s.failure}`;
  return `${s.id}  ${s.name} ${s.version}  ${s.status}  project ${s.projectId}  by ${s.submittedBy} at ${s.submittedAt}${decided}${failed}`;
}

function reportLines(r: ReportAnswer): string[] {
  const ci = r.discrimination?.aurocCi;
  return [
    `  people ${n(r.sampleSize?.total)}, events ${n(r.sampleSize?.events)}`,
    `  AUROC ${n(r.discrimination?.auroc)}${ci ? ` (95% CI ${n(ci[0])}–${n(ci[1])})` : ''}`,
    `  calibration intercept ${n(r.calibration?.intercept)}, slope ${n(r.calibration?.slope)}`,
    `  verdict: ${r.verdict?.summary ?? r.verdict?.claims ?? 'none'}`,
  ];
}

/**
 * `healthmesh validation …`: a developer's and a validator's side of the demonstration hub's validation service
 * (docs/validation.md), through that hub's API with the person's own token, so it works from any machine.
 */
export function validationCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const validation = program
    .command('validation')
    .description(
      "Submit a model for validation at a demonstration hub, run it, and fetch its signed report (the hub's API).",
    );
  const connect = (c: Command, json = true) => {
    c.requiredOption('--url <url>', "the demonstration hub's address, e.g. https://busan.example").option(
      '--token-file <file>',
      'a file holding your token (default: the HEALTHMESH_TOKEN environment variable)',
    );
    return json ? c.option('--json', 'print the answer as JSON (nothing else on stdout)') : c;
  };
  const endpoint = (o: Common): HubEndpoint => tokenEndpoint(o.url, o.tokenFile);
  const print = (o: Common, value: unknown, lines: () => string[]) => {
    io.out.write(o.json ? `${JSON.stringify(value, null, 2)}\n` : `${lines().join('\n')}\n`);
    setCode(0);
  };

  connect(
    validation
      .command('submit')
      .description(
        'Submit an ONNX model with its manifest, inside an approved ai-validation project (the manifest names it).',
      )
      .requiredOption('--manifest <file>', 'the manifest (JSON; its schema: docs/validation.md)')
      .requiredOption('--model <file>', 'the ONNX model file'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ export HEALTHMESH_TOKEN=…   # from signing in at the hub\n  $ healthmesh validation submit --url https://busan.example --manifest acme.json --model acme.onnx\n',
    )
    .action(async (o: Common & { manifest: string; model: string }) => {
      const manifest = manifestOf(o.manifest);
      const model = readFile(o.model, 'the model').toString('base64');
      const s = await hubJson<SubmissionAnswer>(endpoint(o), 'POST', '/validation/submissions', { manifest, model });
      print(o, s, () => [`submitted ${s.id} (${s.name} ${s.version}, sha256 ${s.modelSha256}): ${s.status}`]);
    });

  connect(validation.command('list').description('The submissions you may see (a developer: their own).')).action(
    async (o: Common) => {
      const { submissions } = await hubJson<{ submissions: SubmissionAnswer[] }>(
        endpoint(o),
        'GET',
        '/validation/submissions',
      );
      print(o, submissions, () => (submissions.length === 0 ? ['no submissions'] : submissions.map(submissionLine)));
    },
  );

  connect(validation.command('show').description('One submission, with its manifest.').argument('<id>')).action(
    async (sub: string, o: Common) => {
      const s = await hubJson<SubmissionAnswer>(endpoint(o), 'GET', `/validation/submissions/${id(sub)}`);
      print(o, s, () => [submissionLine(s)]);
    },
  );

  connect(
    validation
      .command('run')
      .description(
        "Validate a submission on the hub's own population, or across hubs that approved its project (a validator).",
      )
      .argument('<id>')
      .option('--hubs <names>', 'validate across these hubs (comma list), pooled by this hub'),
  ).action(async (sub: string, o: Common & { hubs?: string }) => {
    const hubs = o.hubs
      ?.split(',')
      .map((h) => h.trim())
      .filter((h) => h !== '');
    const done = await hubJson<{ submission: SubmissionAnswer; run: number; report: ReportAnswer }>(
      endpoint(o),
      'POST',
      `/validation/submissions/${id(sub)}/validate`,
      hubs === undefined ? {} : { hubs },
    );
    print(o, done, () => [
      `${done.submission.id} run ${done.run}${hubs ? ` across ${hubs.join(', ')}` : ''}: ${done.submission.status}`,
      ...reportLines(done.report),
    ]);
  });

  for (const [action, what] of [
    ['approve', 'Approve a validated submission to serve (a validator), with a comment.'],
    ['recall', 'Recall a submission at once: no more predictions (a validator), with the reason.'],
  ] as const) {
    connect(
      validation
        .command(action)
        .description(what)
        .argument('<id>')
        .requiredOption('--comment <text>', 'why; kept with the decision and in the audit log'),
    ).action(async (sub: string, o: Common & { comment: string }) => {
      const s = await hubJson<SubmissionAnswer>(endpoint(o), 'POST', `/validation/submissions/${id(sub)}/${action}`, {
        comment: o.comment,
      });
      print(o, s, () => [submissionLine(s)]);
    });
  }

  connect(
    validation
      .command('report')
      .description('Fetch the signed report of the latest run: the signed file (jws), HTML, PDF or the JSON report.')
      .argument('<id>')
      .option('--format <format>', 'jws, html, pdf or json', 'jws')
      .option('-o, --out <file>', 'write it to this file (default: stdout; a PDF needs --out)'),
    false,
  )
    .addHelpText(
      'after',
      "\nThe signed file verifies with the hub's public key:\n  $ healthmesh validation report sub-… --url https://busan.example --out sub.jws\n  $ curl -s https://busan.example/federation/identity > busan.json\n  $ healthmesh report verify sub.jws --key busan.json\n",
    )
    .action(async (sub: string, o: Common & { format: string; out?: string }) => {
      if (!['jws', 'html', 'pdf', 'json'].includes(o.format)) {
        throw new HealthmeshError('API_BAD_REQUEST', `--format must be jws, html, pdf or json, got "${o.format}"`, {
          path: 'format',
        });
      }
      if (o.format === 'pdf' && o.out === undefined) {
        throw new HealthmeshError('API_BAD_REQUEST', 'a PDF is written to a file: give --out FILE', { path: 'out' });
      }
      const query = o.format === 'json' ? '' : `?format=${o.format}`;
      const res = await requestHub(endpoint(o), 'GET', `/validation/submissions/${id(sub)}/report${query}`);
      // The signed file is written byte for byte as the hub sent it: any change would fail verification.
      const bytes = Buffer.from(await res.arrayBuffer());
      if (o.out === undefined) io.out.write(bytes.toString('utf8'));
      else {
        writeFileSync(o.out, bytes);
        io.err.write(`wrote ${o.out} (${bytes.length} bytes, ${o.format})\n`);
      }
      setCode(0);
    });
}
