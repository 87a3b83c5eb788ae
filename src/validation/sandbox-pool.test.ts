import { describe, expect, it, vi } from 'vitest';
import { ACME_INTERCEPT, ACME_WEIGHTS, acmeManifest } from '../../test/support/acme-model.js';
import {
  SANDBOX_B as B,
  rejectionCode as codeOf,
  sandboxRun as run,
  SANDBOX_W as W,
} from '../../test/support/sandbox-run.js';
import { tempHub } from '../../test/support/temp-hub.js';
import { slowModel, thirdPartyLogistic } from '../../test/support/third-party-onnx.js';
import type { SandboxLimits } from './index.js';
import { DEFAULT_SANDBOX_LIMITS, risksOf, runSandboxed, SandboxPool, submitModel } from './index.js';

/** Whether a process id is still a running process. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the warm sandbox pool', () => {
  it('reuses a process for the same model, and starts a fresh one after a refused run', async () => {
    const pool = new SandboxPool();
    try {
      const model = thirdPartyLogistic(W, B);
      const first = risksOf(await runSandboxed(run(model), DEFAULT_SANDBOX_LIMITS, pool), 3, { kind: 'risk' });
      const [warm] = pool.pids();
      expect(pool.pids()).toHaveLength(1);
      // The same model again: the same process answers, with the same risks.
      const again = risksOf(await runSandboxed(run(model), DEFAULT_SANDBOX_LIMITS, pool), 3, { kind: 'risk' });
      expect(Array.from(again)).toEqual(Array.from(first));
      expect(pool.pids()).toEqual([warm]);
      // Another model gets its own process; both wait.
      await runSandboxed(run(thirdPartyLogistic(W, B + 1)), DEFAULT_SANDBOX_LIMITS, pool);
      expect(pool.pids()).toHaveLength(2);
      expect(pool.pids()).toContain(warm);
      // A refused run (an input of another element type) kills its process: the next run starts a new one.
      expect(await codeOf(runSandboxed(run(model, { inputType: 'double' }), DEFAULT_SANDBOX_LIMITS, pool))).toBe(
        'VALIDATION_MODEL_SIGNATURE',
      );
      expect(pool.pids()).not.toContain(warm);
      await vi.waitFor(() => expect(alive(warm!)).toBe(false), { timeout: 10_000 });
      await runSandboxed(run(model), DEFAULT_SANDBOX_LIMITS, pool);
      expect(pool.pids()).toHaveLength(2);
      expect(pool.pids()).not.toContain(warm);
    } finally {
      await pool.close();
    }
  });

  it('kills a process that runs too long or dies at its memory limit, and keeps serving the others', async () => {
    const pool = new SandboxPool();
    try {
      const model = thirdPartyLogistic(W, B);
      await runSandboxed(run(model), DEFAULT_SANDBOX_LIMITS, pool);
      const [warm] = pool.pids();
      const short: SandboxLimits = { ...DEFAULT_SANDBOX_LIMITS, timeoutMs: 1000 };
      expect(await codeOf(runSandboxed(run(slowModel(3)), short, pool))).toBe('VALIDATION_MODEL_TIMEOUT');
      const tight: SandboxLimits = { ...DEFAULT_SANDBOX_LIMITS, memoryBytes: 600 * 1024 * 1024 };
      expect(await codeOf(runSandboxed(run(model), tight, pool))).toBe('VALIDATION_MODEL_CRASHED');
      // Only the healthy process is left, and it still scores.
      expect(pool.pids()).toEqual([warm]);
      await runSandboxed(run(model), DEFAULT_SANDBOX_LIMITS, pool);
      expect(pool.pids()).toEqual([warm]);
    } finally {
      await pool.close();
    }
  });

  it('lets an idle process exit after a while, keeps at most its idle count, and stops every process on close', async () => {
    const quick = new SandboxPool({ maxIdle: 4, idleMs: 200 });
    await runSandboxed(run(thirdPartyLogistic(W, B)), DEFAULT_SANDBOX_LIMITS, quick);
    const [idle] = quick.pids();
    await vi.waitFor(() => expect(quick.pids()).toEqual([]), { timeout: 10_000 });
    await vi.waitFor(() => expect(alive(idle!)).toBe(false), { timeout: 10_000 });

    const one = new SandboxPool({ maxIdle: 1, idleMs: 60_000 });
    await runSandboxed(run(thirdPartyLogistic(W, B)), DEFAULT_SANDBOX_LIMITS, one);
    await runSandboxed(run(thirdPartyLogistic(W, B + 1)), DEFAULT_SANDBOX_LIMITS, one);
    const [kept] = one.pids();
    expect(one.pids()).toHaveLength(1);
    await one.close();
    expect(one.pids()).toEqual([]);
    expect(alive(kept!)).toBe(false);
  });

  it("is the hub's: a submission's probe leaves its process warm, and the hub's close stops it", async () => {
    const env = await tempHub('pool');
    try {
      await submitModel(env.hub, acmeManifest, thirdPartyLogistic(ACME_WEIGHTS, ACME_INTERCEPT), 'acme');
      const [warm] = env.hub.sandboxes.pids();
      expect(env.hub.sandboxes.pids()).toHaveLength(1);
      await env.hub.close();
      expect(env.hub.sandboxes.pids()).toEqual([]);
      expect(alive(warm!)).toBe(false);
    } finally {
      await env.cleanup();
    }
  });
});
