import type { SandboxRun } from '../../src/validation/index.js';

/** A three-feature logistic model's weights and intercept, and three people's rows for it. */
export const SANDBOX_W = [0.04, -0.5, 0.02];
export const SANDBOX_B = -5;
export const SANDBOX_X = Float64Array.from([50, 1, 120, 70, 0, 160, 30, 1, 100]);

/** A sandbox run of `model` over the three rows, with `over` changed. */
export const sandboxRun = (model: Uint8Array, over: Partial<SandboxRun> = {}): SandboxRun => ({
  model,
  inputName: 'x',
  inputType: 'float',
  outputName: 'risk',
  rows: 3,
  columns: 3,
  values: SANDBOX_X,
  ...over,
});

/** The code a promise rejects with, or 'no error'. */
export const rejectionCode = async (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: { code?: string }) => e.code,
  );
