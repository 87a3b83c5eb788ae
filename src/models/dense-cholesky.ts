/**
 * Cholesky factorisation of a small symmetric positive-definite matrix (p x p, row-major, full storage) —
 * the Newton systems of logistic regression, where p is the number of coefficients.
 */
export interface CholeskyFactor {
  readonly size: number;
  /** Lower-triangular L with A = L L', row-major. */
  readonly lower: Float64Array;
}

/**
 * A pivot below this fraction of its original diagonal means the column is (numerically) a linear combination
 * of the columns before it: the Newton system is singular. 1e-10 leaves ~6 digits of headroom in double
 * precision while still catching exact collinearity after rounding.
 */
const PIVOT_TOLERANCE = 1e-10;

/**
 * Factor `a`. Returns the factor, or the index of the first column whose pivot vanished (that column is
 * collinear with earlier ones).
 */
export function cholesky(a: Float64Array, size: number): CholeskyFactor | { singularColumn: number } {
  const l = new Float64Array(size * size);
  for (let j = 0; j < size; j++) {
    let d = a[j * size + j]!;
    for (let k = 0; k < j; k++) d -= l[j * size + k]! ** 2;
    const original = a[j * size + j]!;
    if (!(d > PIVOT_TOLERANCE * Math.abs(original)) || !(original > 0)) return { singularColumn: j };
    const root = Math.sqrt(d);
    l[j * size + j] = root;
    for (let i = j + 1; i < size; i++) {
      let s = a[i * size + j]!;
      for (let k = 0; k < j; k++) s -= l[i * size + k]! * l[j * size + k]!;
      l[i * size + j] = s / root;
    }
  }
  return { size, lower: l };
}

/** Solve A x = b given A's factor. */
export function choleskySolve(f: CholeskyFactor, b: Float64Array): Float64Array {
  const n = f.size;
  const l = f.lower;
  const x = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    let s = x[i]!;
    for (let k = 0; k < i; k++) s -= l[i * n + k]! * x[k]!;
    x[i] = s / l[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * x[k]!;
    x[i] = s / l[i * n + i]!;
  }
  return x;
}

/** The diagonal of A⁻¹ (variances of the coefficients when A is the information matrix). */
export function inverseDiagonal(f: CholeskyFactor): Float64Array {
  const n = f.size;
  const out = new Float64Array(n);
  const e = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    e.fill(0);
    e[j] = 1;
    out[j] = choleskySolve(f, e)[j]!;
  }
  return out;
}
