/**
 * Weighted ridge least squares for the small designs of the forecasters (a handful of columns, thousands of
 * rows): accumulate XᵀWX and XᵀWy, then solve by Cholesky. Column 0 is taken as the intercept and not penalised.
 */
export class RidgeAccumulator {
  readonly columns: number;
  private readonly xtx: Float64Array;
  private readonly xty: Float64Array;
  private rows = 0;

  constructor(columns: number) {
    this.columns = columns;
    this.xtx = new Float64Array(columns * columns);
    this.xty = new Float64Array(columns);
  }

  /** Adds one row `x` with response `y` and weight `w`. */
  add(x: ArrayLike<number>, y: number, w = 1): void {
    const p = this.columns;
    for (let i = 0; i < p; i++) {
      const xi = (x[i] as number) * w;
      this.xty[i] = (this.xty[i] as number) + xi * y;
      for (let j = 0; j <= i; j++) this.xtx[i * p + j] = (this.xtx[i * p + j] as number) + xi * (x[j] as number);
    }
    this.rows++;
  }

  get count(): number {
    return this.rows;
  }

  /** Coefficients minimising Σ w (y - xβ)² + λ Σ_{j>0} β_j². */
  solve(lambda: number): Float64Array {
    const p = this.columns;
    const a = new Float64Array(p * p);
    for (let i = 0; i < p; i++) {
      for (let j = 0; j <= i; j++) {
        const v = this.xtx[i * p + j] as number;
        a[i * p + j] = v;
        a[j * p + i] = v;
      }
      if (i > 0) a[i * p + i] = (a[i * p + i] as number) + lambda;
    }
    // Cholesky A = LLᵀ in the lower triangle; a tiny jitter keeps an all-zero column (e.g. a flat series) solvable.
    for (let i = 0; i < p; i++) a[i * p + i] = (a[i * p + i] as number) + 1e-9;
    for (let j = 0; j < p; j++) {
      let d = a[j * p + j] as number;
      for (let k = 0; k < j; k++) d -= (a[j * p + k] as number) ** 2;
      const l = Math.sqrt(Math.max(d, 1e-12));
      a[j * p + j] = l;
      for (let i = j + 1; i < p; i++) {
        let s = a[i * p + j] as number;
        for (let k = 0; k < j; k++) s -= (a[i * p + k] as number) * (a[j * p + k] as number);
        a[i * p + j] = s / l;
      }
    }
    const z = new Float64Array(p);
    for (let i = 0; i < p; i++) {
      let s = this.xty[i] as number;
      for (let k = 0; k < i; k++) s -= (a[i * p + k] as number) * (z[k] as number);
      z[i] = s / (a[i * p + i] as number);
    }
    const beta = new Float64Array(p);
    for (let i = p - 1; i >= 0; i--) {
      let s = z[i] as number;
      for (let k = i + 1; k < p; k++) s -= (a[k * p + i] as number) * (beta[k] as number);
      beta[i] = s / (a[i * p + i] as number);
    }
    return beta;
  }
}
