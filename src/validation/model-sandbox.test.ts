import { describe, expect, it } from 'vitest';
import {
  SANDBOX_B as B,
  rejectionCode as codeOf,
  sandboxRun as run,
  SANDBOX_W as W,
  SANDBOX_X as X,
} from '../../test/support/sandbox-run.js';
import { thirdPartyLogistic } from '../../test/support/third-party-onnx.js';
import type { SandboxLimits } from './index.js';
import { DEFAULT_SANDBOX_LIMITS, risksOf, runSandboxed } from './index.js';

describe('the model sandbox (a child process under the permission model)', () => {
  it('runs a hand-written float32 logistic model as onnxruntime defines it', async () => {
    const out = await runSandboxed(run(thirdPartyLogistic(W, B)));
    const risks = risksOf(out, 3, { kind: 'risk' });
    for (let i = 0; i < 3; i++) {
      const z = W.reduce((s, w, j) => s + Math.fround(w) * Math.fround(X[i * 3 + j]!), Math.fround(B));
      expect(risks[i]).toBeCloseTo(1 / (1 + Math.exp(-z)), 6);
    }
  });

  // The bad models of the issue (not ONNX, input names and widths, NaN and out-of-range outputs, a large file, a
  // model that runs too long) are refused through the API in test/validation.test.ts; here, what only the sandbox sees.
  it('refuses an input of another element type than the graph declares', async () => {
    expect(await codeOf(runSandboxed(run(thirdPartyLogistic(W, B), { inputType: 'double' })))).toBe(
      'VALIDATION_MODEL_SIGNATURE',
    );
  });

  it('refuses an input over the size limit before starting anything', async () => {
    const small: SandboxLimits = { ...DEFAULT_SANDBOX_LIMITS, maxInputBytes: 64 };
    expect(await codeOf(runSandboxed(run(thirdPartyLogistic(W, B)), small))).toBe('VALIDATION_MODEL_TOO_LARGE');
  });

  it('lets a model name no file: external data is refused wherever it points', async () => {
    for (const location of ['/etc/hostname', 'hostname', '../../../../etc/hostname']) {
      const model = thirdPartyLogistic(W, B, { externalData: location });
      expect(await codeOf(runSandboxed(run(model))), location).toBe('VALIDATION_MODEL_INVALID');
    }
  });

  it('reports a process that died at its memory limit as a crash of the model', async () => {
    // 600 MB of address space: Node and onnxruntime cannot even start in it, as a model that allocates past the
    // limit would find; the sandbox reports a dead process, not a hub fault.
    const tight: SandboxLimits = { ...DEFAULT_SANDBOX_LIMITS, memoryBytes: 600 * 1024 * 1024 };
    expect(await codeOf(runSandboxed(run(thirdPartyLogistic(W, B)), tight))).toBe('VALIDATION_MODEL_CRASHED');
  });
});
