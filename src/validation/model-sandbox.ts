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
import { HealthmeshError } from '../core/index.js';
import type { SandboxPool } from './sandbox-pool.js';
import type { SandboxLimits } from './sandbox-process.js';
import { SandboxProcess } from './sandbox-process.js';

export type { SandboxLimits } from './sandbox-process.js';

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

function refuse(
  code: 'VALIDATION_MODEL_INVALID' | 'VALIDATION_MODEL_SIGNATURE' | 'VALIDATION_MODEL_OUTPUT',
  m: string,
) {
  return new HealthmeshError(code, m, { path: 'model' });
}

/**
 * Run `run.model` on `run.values` in a sandboxed child process (see the file comment for what is enforced) and
 * return the output `run.outputName`. With `pool`, a warm process that already holds the same model under the same
 * limits is reused, and the process goes back to the pool after a run that succeeded (sandbox-pool.ts); without
 * one, a process is started for this run and killed after it. Refusals: `VALIDATION_MODEL_TOO_LARGE` (model or
 * input over the limits, before anything starts), `VALIDATION_MODEL_INVALID` (not a model onnxruntime can load),
 * `VALIDATION_MODEL_SIGNATURE` (input or output names, or shapes, other than the manifest's),
 * `VALIDATION_MODEL_OUTPUT` (not numeric), `VALIDATION_MODEL_TIMEOUT`, `VALIDATION_MODEL_CRASHED` (the process
 * died, e.g. at the memory limit). A refused run's process is killed, never reused.
 */
export async function runSandboxed(
  run: SandboxRun,
  limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS,
  pool?: SandboxPool,
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
  const lease = pool?.acquire(run.model, limits) ?? {
    process: new SandboxProcess(run.model, limits),
    release: (_healthy: boolean) => lease.process.kill(),
  };
  const { process } = lease;
  // The limit covers this run: a new process's start and the model's load too.
  const timer = setTimeout(() => process.kill('timeout'), limits.timeoutMs);
  let healthy = false;
  try {
    await process.loaded;
    const { head, body } = await process.ask(
      {
        inputName: run.inputName,
        inputType: run.inputType,
        outputName: run.outputName,
        rows: run.rows,
        columns: run.columns,
      },
      // Sent in the graph's own element type: half the bytes for float models, and no conversion in the child.
      run.inputType === 'float'
        ? new Uint8Array(Float32Array.from(run.values).buffer)
        : new Uint8Array(run.values.buffer, run.values.byteOffset, run.values.byteLength),
      run.rows * 8 * 1024 + 1_000_000,
    );
    if (head.error === 'signature' || head.error === 'run') {
      throw refuse(
        'VALIDATION_MODEL_SIGNATURE',
        `the model does not take input "${run.inputName}" [${run.rows}, ${run.columns}] ${run.inputType} or give output "${run.outputName}": ${head.message}`,
      );
    }
    if (head.error !== undefined) throw refuse('VALIDATION_MODEL_OUTPUT', String(head.message));
    const copy = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
    const data = head.type === 'float' ? Float64Array.from(new Float32Array(copy)) : new Float64Array(copy);
    healthy = true;
    return { dims: head.dims ?? [], data };
  } finally {
    clearTimeout(timer);
    lease.release(healthy);
  }
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
