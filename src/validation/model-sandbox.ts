/**
 * Runs a submitted ONNX model on a matrix of inputs in a child process, so that a model that crashes, spins or
 * eats memory takes down only that process. The child is Node with the permission model on: it may read only the
 * onnxruntime packages (no other file, not the hub's directory), write no file, start no process or worker; its
 * script is passed inline (`-e`) and the model and inputs come on stdin, so it needs no file of ours. Its address
 * space is capped with `prlimit --as` where util-linux provides it (the V8 heap too, with --max-old-space-size),
 * and it is killed at the time limit; it runs in an empty working directory with an empty environment. Not
 * enforced: the network (Node 20's permission model has no network switch; ONNX has no operator that opens a
 * socket), and file reads by onnxruntime's native code (a native addon is outside the permission model, and
 * `--allow-addons` is what lets it load): a model's only way to name a file is external data, which onnxruntime
 * refuses when absolute or outside the working directory, and that directory is empty.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { HealthmeshError } from '../core/index.js';

/** Limits of one sandboxed run. */
export interface SandboxLimits {
  /** Largest ONNX file accepted. */
  maxModelBytes: number;
  /** Largest input matrix (rows × columns × 8 bytes). */
  maxInputBytes: number;
  /** Wall time from start to the last output byte. */
  timeoutMs: number;
  /** Address space of the child (prlimit --as): the runtime's native memory as well as the JS heap. */
  memoryBytes: number;
}

/** 32 MiB models, 256 MiB of inputs, a minute, 3 GiB of address space (Node and onnxruntime reserve ~1 GiB idle). */
export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  maxModelBytes: 32 * 1024 * 1024,
  maxInputBytes: 256 * 1024 * 1024,
  timeoutMs: 60_000,
  memoryBytes: 3 * 1024 * 1024 * 1024,
};

/** What the model is asked to do. */
export interface SandboxRun {
  model: Uint8Array;
  inputName: string;
  inputType: 'float' | 'double';
  outputName: string;
  rows: number;
  columns: number;
  /** Row-major, rows × columns. */
  values: Float64Array;
}

/** The named output as the runtime gave it, as doubles, with its dimensions. */
export interface SandboxOutput {
  dims: number[];
  data: Float64Array;
}

/**
 * The child's script. Stdin: u32 header length, header JSON, model bytes, the input in the graph's element type;
 * stdout the same way back.
 */
const CHILD = `
const ort = await import(process.argv[1]);
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const buf = Buffer.concat(chunks);
const hlen = buf.readUInt32LE(0);
const h = JSON.parse(buf.subarray(4, 4 + hlen).toString('utf8'));
const model = buf.subarray(4 + hlen, 4 + hlen + h.modelBytes);
const raw = buf.subarray(4 + hlen + h.modelBytes);
const reply = (head, body) => {
  const hb = Buffer.from(JSON.stringify(head));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(hb.length);
  process.stdout.write(Buffer.concat([len, hb, body ?? Buffer.alloc(0)]));
};
let session;
try {
  session = await ort.InferenceSession.create(new Uint8Array(model), { intraOpNumThreads: 1, interOpNumThreads: 1 });
} catch (e) {
  reply({ error: 'load', message: String(e && e.message || e).slice(0, 500) });
  process.exit(0);
}
if (!session.inputNames.includes(h.inputName) || session.inputNames.length !== 1) {
  reply({ error: 'signature', message: 'the model takes inputs ' + JSON.stringify(session.inputNames) });
  process.exit(0);
}
if (!session.outputNames.includes(h.outputName)) {
  reply({ error: 'signature', message: 'the model gives outputs ' + JSON.stringify(session.outputNames) });
  process.exit(0);
}
const copy = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
const tensor = h.inputType === 'double'
  ? new ort.Tensor('float64', new Float64Array(copy), [h.rows, h.columns])
  : new ort.Tensor('float32', new Float32Array(copy), [h.rows, h.columns]);
let out;
try {
  out = (await session.run({ [h.inputName]: tensor }, [h.outputName]))[h.outputName];
} catch (e) {
  reply({ error: 'run', message: String(e && e.message || e).slice(0, 500) });
  process.exit(0);
}
if (out.type === 'string' || out.type === 'bool') {
  reply({ error: 'output', message: 'the output is not numeric (type ' + out.type + ')' });
  process.exit(0);
}
// Float outputs go back as they are (the parent widens them); other numeric types as doubles.
const same = out.data instanceof Float32Array || out.data instanceof Float64Array;
const data = same ? out.data : Float64Array.from(out.data, Number);
reply({ dims: out.dims.map(Number), type: data instanceof Float32Array ? 'float' : 'double' }, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
`;

let ortEntry: { entry: string; readable: string[] } | undefined;

/** onnxruntime-node's entry and the folders the child may read (resolved through the node_modules symlink). */
function runtimeFiles(): { entry: string; readable: string[] } {
  if (ortEntry !== undefined) return ortEntry;
  const require = createRequire(import.meta.url);
  const entry = realpathSync(require.resolve('onnxruntime-node'));
  const common = realpathSync(createRequire(entry).resolve('onnxruntime-common'));
  const packageOf = (file: string) => {
    let d = dirname(file);
    while (!existsSync(`${d}/package.json`) || d.endsWith('/dist') || d.endsWith('/cjs') || d.endsWith('/esm')) {
      d = dirname(d);
    }
    return d;
  };
  ortEntry = { entry, readable: [packageOf(entry), packageOf(common)] };
  return ortEntry;
}

const PRLIMIT = '/usr/bin/prlimit';

function refuse(
  code: 'VALIDATION_MODEL_INVALID' | 'VALIDATION_MODEL_SIGNATURE' | 'VALIDATION_MODEL_OUTPUT',
  m: string,
) {
  return new HealthmeshError(code, m, { path: 'model' });
}

/**
 * Run `run.model` on `run.values` in a sandboxed child process (see the file comment for what is enforced) and
 * return the output `run.outputName`. Refusals: `VALIDATION_MODEL_TOO_LARGE` (model or input over the limits,
 * before anything starts), `VALIDATION_MODEL_INVALID` (not a model onnxruntime can load),
 * `VALIDATION_MODEL_SIGNATURE` (input or output names, or shapes, other than the manifest's),
 * `VALIDATION_MODEL_OUTPUT` (not numeric), `VALIDATION_MODEL_TIMEOUT`, `VALIDATION_MODEL_CRASHED` (the process
 * died, e.g. at the memory limit).
 */
export async function runSandboxed(
  run: SandboxRun,
  limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS,
): Promise<SandboxOutput> {
  if (run.model.byteLength > limits.maxModelBytes) {
    throw new HealthmeshError(
      'VALIDATION_MODEL_TOO_LARGE',
      `the model is ${run.model.byteLength} bytes; the limit is ${limits.maxModelBytes}`,
      { path: 'model' },
    );
  }
  const inputBytes = run.rows * run.columns * 8;
  if (inputBytes > limits.maxInputBytes) {
    throw new HealthmeshError(
      'VALIDATION_MODEL_TOO_LARGE',
      `the input is ${inputBytes} bytes (${run.rows} rows × ${run.columns} columns); the limit is ${limits.maxInputBytes}`,
      { path: 'input' },
    );
  }
  const { entry, readable } = runtimeFiles();
  const node = [
    '--experimental-permission',
    ...readable.map((d) => `--allow-fs-read=${d}`),
    '--allow-addons',
    `--max-old-space-size=${Math.max(64, Math.floor(limits.memoryBytes / 4 / 1024 / 1024))}`,
    '--no-warnings',
    '--input-type=module',
    '-e',
    CHILD,
    entry,
  ];
  const useLimit = existsSync(PRLIMIT);
  const [cmd, args] = useLimit
    ? [PRLIMIT, [`--as=${limits.memoryBytes}`, '--', process.execPath, ...node]]
    : [process.execPath, node];
  // No environment: nothing of the hub's (paths, tokens) reaches the model's process. An empty working directory:
  // onnxruntime resolves a model's external-data paths against it (absolute ones and ones that climb out it refuses).
  const cwd = mkdtempSync(join(tmpdir(), 'hm-sandbox-'));
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: {}, cwd });
  const expected = run.rows * 8 * 1024 + 1_000_000;
  const out: Buffer[] = [];
  let outBytes = 0;
  let err = '';
  let overflow = false;
  child.stdout.on('data', (d: Buffer) => {
    outBytes += d.length;
    if (outBytes > expected) {
      overflow = true;
      child.kill('SIGKILL');
    } else out.push(d);
  });
  child.stderr.on('data', (d: Buffer) => {
    if (err.length < 4000) err += d.toString('utf8');
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, limits.timeoutMs);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  const header = Buffer.from(
    JSON.stringify({
      modelBytes: run.model.byteLength,
      inputName: run.inputName,
      inputType: run.inputType,
      outputName: run.outputName,
      rows: run.rows,
      columns: run.columns,
    }),
  );
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  // A child that dies early closes its stdin: the write error is the exit's, reported below.
  child.stdin.on('error', () => undefined);
  child.stdin.end(
    Buffer.concat([
      len,
      header,
      run.model,
      // Sent in the graph's own element type: half the bytes for float models, and no conversion in the child.
      run.inputType === 'float'
        ? Buffer.from(Float32Array.from(run.values).buffer)
        : Buffer.from(run.values.buffer, run.values.byteOffset, run.values.byteLength),
    ]),
  );
  const { code, signal } = await done.finally(() => {
    clearTimeout(timer);
    rmSync(cwd, { recursive: true, force: true });
  });
  if (timedOut) {
    throw new HealthmeshError('VALIDATION_MODEL_TIMEOUT', `the model ran past the limit of ${limits.timeoutMs} ms`, {
      path: 'model',
    });
  }
  const buf = Buffer.concat(out);
  if (overflow || code !== 0 || buf.length < 4) {
    throw new HealthmeshError(
      'VALIDATION_MODEL_CRASHED',
      overflow
        ? 'the model process wrote more output than its input can give'
        : `the model process ended with ${signal ?? `exit code ${code}`}${/memory|alloc/i.test(err) ? ' (out of memory)' : ''}`,
      { path: 'model' },
    );
  }
  const hlen = buf.readUInt32LE(0);
  const head = JSON.parse(buf.subarray(4, 4 + hlen).toString('utf8')) as {
    error?: 'load' | 'signature' | 'run' | 'output';
    message?: string;
    dims?: number[];
    type?: 'float' | 'double';
  };
  if (head.error === 'load')
    throw refuse('VALIDATION_MODEL_INVALID', `not a model onnxruntime can load: ${head.message}`);
  if (head.error === 'signature' || head.error === 'run') {
    throw refuse(
      'VALIDATION_MODEL_SIGNATURE',
      `the model does not take input "${run.inputName}" [${run.rows}, ${run.columns}] ${run.inputType} or give output "${run.outputName}": ${head.message}`,
    );
  }
  if (head.error === 'output') throw refuse('VALIDATION_MODEL_OUTPUT', String(head.message));
  const body = buf.subarray(4 + hlen);
  const copy = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
  const data = head.type === 'float' ? Float64Array.from(new Float32Array(copy)) : new Float64Array(copy);
  return { dims: head.dims ?? [], data };
}

/**
 * The predicted risks from a model's output: [N] or [N, 1] for a risk, column `classIndex` of [N, k] for class
 * probabilities. Each must be a finite probability in [0, 1] (`VALIDATION_MODEL_OUTPUT` names the first that is not).
 */
export function risksOf(out: SandboxOutput, rows: number, output: { kind: 'risk' | 'class'; classIndex?: number }) {
  const { dims, data } = out;
  const width = dims.length === 1 ? 1 : dims.length === 2 ? dims[1]! : -1;
  if (dims[0] !== rows || width < 1 || data.length !== rows * width) {
    throw refuse('VALIDATION_MODEL_OUTPUT', `the output has shape [${dims.join(', ')}] for ${rows} rows`);
  }
  const column = output.kind === 'class' ? output.classIndex! : 0;
  if (column >= width || (output.kind === 'risk' && width !== 1)) {
    throw refuse(
      'VALIDATION_MODEL_OUTPUT',
      `the output has shape [${dims.join(', ')}]; column ${column} was asked for`,
    );
  }
  const risks = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const v = data[i * width + column]!;
    if (!(v >= 0 && v <= 1)) {
      throw refuse('VALIDATION_MODEL_OUTPUT', `output row ${i} is ${v}, not a probability in [0, 1]`);
    }
    risks[i] = v;
  }
  return risks;
}
