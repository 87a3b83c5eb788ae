/**
 * One sandbox process: Node under the permission model running onnxruntime on one model, answering scoring
 * requests one at a time over its stdin and stdout (model-sandbox.ts says what is enforced). The model is sent and
 * loaded once, when the process starts; each request then carries only its input matrix, in the graph's element
 * type, and gets the named output back, so a process kept warm (sandbox-pool.ts) scores again without Node's start
 * or onnxruntime's load. A process that times out, runs out of memory, crashes or breaks the protocol is killed and
 * never reused.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { HealthmeshError } from '../core/index.js';

/** Limits of a sandbox process (the memory cap is the process's; the others are each request's). */
export interface SandboxLimits {
  /** Largest ONNX file accepted. */
  maxModelBytes: number;
  /** Largest input matrix (rows × columns × 8 bytes). */
  maxInputBytes: number;
  /** Wall time of one run: from its request (and, for a new process, its start and the model's load) to its answer. */
  timeoutMs: number;
  /** Address space of the child (prlimit --as): the runtime's native memory as well as the JS heap. */
  memoryBytes: number;
}

/**
 * The child's script. Every message, both ways: u32 header length, header JSON (with `bytes`, the body's length),
 * body. The first message to it carries the model; each later one an input matrix. It answers each in order.
 */
const CHILD = `
const ort = await import(process.argv[1]);
let pending = [];
let have = 0;
let wake;
process.stdin.on('data', (c) => { pending.push(c); have += c.length; if (wake) { const w = wake; wake = undefined; w(); } });
process.stdin.on('end', () => process.exit(0));
const take = async (n) => {
  while (have < n) await new Promise((r) => { wake = r; });
  const all = pending.length === 1 ? pending[0] : Buffer.concat(pending);
  const out = all.subarray(0, n);
  const rest = all.subarray(n);
  pending = rest.length > 0 ? [rest] : [];
  have = rest.length;
  return out;
};
const message = async () => {
  const hlen = (await take(4)).readUInt32LE(0);
  const head = JSON.parse((await take(hlen)).toString('utf8'));
  return { head, body: await take(head.bytes) };
};
const reply = (head, body) => {
  const b = body ?? Buffer.alloc(0);
  const hb = Buffer.from(JSON.stringify({ ...head, bytes: b.length }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(hb.length);
  process.stdout.write(Buffer.concat([len, hb, b]));
};
const first = await message();
let session;
try {
  session = await ort.InferenceSession.create(new Uint8Array(first.body), { intraOpNumThreads: 1, interOpNumThreads: 1 });
} catch (e) {
  reply({ error: 'load', message: String(e && e.message || e).slice(0, 500) });
  process.exit(0);
}
reply({ ready: true });
for (;;) {
  const { head: h, body: raw } = await message();
  if (!session.inputNames.includes(h.inputName) || session.inputNames.length !== 1) {
    reply({ error: 'signature', message: 'the model takes inputs ' + JSON.stringify(session.inputNames) });
    continue;
  }
  if (!session.outputNames.includes(h.outputName)) {
    reply({ error: 'signature', message: 'the model gives outputs ' + JSON.stringify(session.outputNames) });
    continue;
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
    continue;
  }
  if (out.type === 'string' || out.type === 'bool') {
    reply({ error: 'output', message: 'the output is not numeric (type ' + out.type + ')' });
    continue;
  }
  // Float outputs go back as they are (the parent widens them); other numeric types as doubles.
  const same = out.data instanceof Float32Array || out.data instanceof Float64Array;
  const data = same ? out.data : Float64Array.from(out.data, Number);
  reply({ dims: out.dims.map(Number), type: data instanceof Float32Array ? 'float' : 'double' }, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}
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

/** A reply of the child: its header (`error`, `message`, `dims`, `type`, `ready`) and its body. */
export interface SandboxReply {
  head: {
    error?: 'load' | 'signature' | 'run' | 'output';
    message?: string;
    dims?: number[];
    type?: 'float' | 'double';
    ready?: boolean;
  };
  body: Buffer;
}

interface Waiting {
  resolve: (r: SandboxReply) => void;
  reject: (e: unknown) => void;
  /** Most bytes the reply may have: more is a process writing what no input gives (it is killed). */
  maxBytes: number;
}

function frame(head: object, body: Uint8Array): Buffer {
  const hb = Buffer.from(JSON.stringify({ ...head, bytes: body.byteLength }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(hb.length);
  return Buffer.concat([len, hb, body]);
}

/** A sandbox process for one model: started, sent the model, then asked to score one matrix at a time. */
export class SandboxProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly cwd: string;
  private out: Buffer[] = [];
  private outBytes = 0;
  private err = '';
  private waiting: Waiting | undefined;
  /** The reply being received, once its header has arrived. */
  private expect: { head: SandboxReply['head']; headerBytes: number; total: number } | undefined;
  private why: 'timeout' | 'overflow' | 'stopped' | undefined;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** The model's load: resolves when the runtime holds it, rejects with the refusal (a process to drop). */
  readonly loaded: Promise<void>;
  /** Set once the process has ended or been killed: it answers nothing more. */
  dead = false;
  /** Resolves when the process has ended. */
  readonly exited: Promise<void>;
  private onExit: () => void = () => undefined;

  constructor(
    model: Uint8Array,
    readonly limits: SandboxLimits,
  ) {
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
    const [cmd, args] = existsSync(PRLIMIT)
      ? [PRLIMIT, [`--as=${limits.memoryBytes}`, '--', process.execPath, ...node]]
      : [process.execPath, node];
    // No environment: nothing of the hub's (paths, tokens) reaches the model's process. An empty working directory:
    // onnxruntime resolves a model's external-data paths against it (absolute ones and ones that climb out it refuses).
    this.cwd = mkdtempSync(join(tmpdir(), 'hm-sandbox-'));
    this.exited = new Promise((resolve) => {
      this.onExit = resolve;
    });
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: {}, cwd: this.cwd });
    this.child.stdout.on('data', (d: Buffer) => this.received(d));
    this.child.stderr.on('data', (d: Buffer) => {
      if (this.err.length < 4000) this.err += d.toString('utf8');
    });
    // A child that dies early closes its stdin: the write error is the exit's, reported as such.
    this.child.stdin.on('error', () => undefined);
    this.child.on('error', (e) => this.ended(null, null, e));
    this.child.on('close', (code, signal) => this.ended(code, signal));
    this.loaded = this.ask({}, model, 1_000_000).then(({ head }) => {
      if (head.error === 'load') {
        this.kill('stopped');
        throw new HealthmeshError('VALIDATION_MODEL_INVALID', `not a model onnxruntime can load: ${head.message}`, {
          path: 'model',
        });
      }
    });
    // Awaited by each run; a load nobody awaits (a process closed before use) must not be an unhandled rejection.
    this.loaded.catch(() => undefined);
  }

  /**
   * Whether this process (and its pipes) may keep the hub's Node process alive: not while it waits idle in a pool,
   * so a command that ends without closing its hub is not held up by a warm sandbox.
   */
  hold(on: boolean): void {
    for (const h of [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as {
      ref?: () => void;
      unref?: () => void;
    }[]) {
      if (on) h.ref?.();
      else h.unref?.();
    }
  }

  /** The process id (for the pool's accounting and tests). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Send one request and wait for its reply (one at a time: a process scores one matrix at once). */
  ask(head: object, body: Uint8Array, maxBytes: number): Promise<SandboxReply> {
    if (this.waiting !== undefined) throw new Error('a sandbox process answers one request at a time');
    if (this.dead) return Promise.reject(this.failure());
    const p = new Promise<SandboxReply>((resolve, reject) => {
      this.waiting = { resolve, reject, maxBytes };
    });
    this.child.stdin.write(frame(head, body));
    return p;
  }

  /** Kill the process (idempotent); a request waiting on it fails with the reason. */
  kill(why: 'timeout' | 'overflow' | 'stopped' = 'stopped'): void {
    if (this.dead) return;
    this.why ??= why;
    this.dead = true;
    this.child.kill('SIGKILL');
  }

  private joined(): Buffer {
    const buf = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [buf];
    return buf;
  }

  private received(d: Buffer): void {
    this.out.push(d);
    this.outBytes += d.length;
    const w = this.waiting;
    if (w === undefined || this.outBytes > w.maxBytes + 4096) {
      // Output nobody asked for, or more than the input can give: the process is not playing by the protocol.
      this.kill('overflow');
      return;
    }
    // The reply's length is known from its header: chunks are joined once it has all arrived, not at every chunk.
    if (this.expect === undefined) {
      if (this.outBytes < 4) return;
      const start = this.joined();
      const hlen = start.readUInt32LE(0);
      if (start.length < 4 + hlen) return;
      try {
        const head = JSON.parse(start.subarray(4, 4 + hlen).toString('utf8')) as SandboxReply['head'] & {
          bytes?: number;
        };
        this.expect = { head, headerBytes: 4 + hlen, total: 4 + hlen + Number(head.bytes ?? 0) };
      } catch {
        this.kill('overflow');
        return;
      }
    }
    const { head, headerBytes, total } = this.expect;
    if (this.outBytes < total) return;
    if (this.outBytes > total) {
      this.kill('overflow');
      return;
    }
    const buf = this.joined();
    this.out = [];
    this.outBytes = 0;
    this.expect = undefined;
    this.waiting = undefined;
    w.resolve({ head, body: buf.subarray(headerBytes) });
  }

  private ended(code: number | null, signal: NodeJS.Signals | null, error?: Error): void {
    this.dead = true;
    this.exit ??= { code, signal };
    rmSync(this.cwd, { recursive: true, force: true });
    this.onExit();
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(error ?? this.failure());
  }

  /** Why a request on this process failed: its time limit, its output, or how it ended. */
  private failure(): HealthmeshError {
    if (this.why === 'timeout') {
      return new HealthmeshError(
        'VALIDATION_MODEL_TIMEOUT',
        `the model ran past the limit of ${this.limits.timeoutMs} ms`,
        { path: 'model' },
      );
    }
    const { code, signal } = this.exit ?? { code: null, signal: null };
    return new HealthmeshError(
      'VALIDATION_MODEL_CRASHED',
      this.why === 'overflow'
        ? 'the model process wrote more output than its input can give'
        : this.why === 'stopped'
          ? 'the model process was stopped'
          : `the model process ended with ${signal ?? `exit code ${code}`}${/memory|alloc/i.test(this.err) ? ' (out of memory)' : ''}`,
      { path: 'model' },
    );
  }
}
