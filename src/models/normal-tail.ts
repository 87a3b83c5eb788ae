/**
 * Two-sided p-value of a Wald z statistic, 2·(1 − Φ(|z|)), to double precision: Hart's (1968) rational
 * approximation of the normal tail as given by West (2005), accurate to ~1e-15 relative, so small p-values
 * are not lost to `1 − Φ` cancellation.
 */
export function twoSidedNormalP(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return Math.min(1, 2 * upperNormalTail(Math.abs(z)));
}

/** 1 − Φ(x) for x ≥ 0. */
function upperNormalTail(x: number): number {
  if (x > 37) return 0;
  const e = Math.exp((-x * x) / 2);
  if (x < 7.07106781186547) {
    let n = 3.52624965998911e-2 * x + 0.700383064443688;
    n = n * x + 6.37396220353165;
    n = n * x + 33.912866078383;
    n = n * x + 112.079291497871;
    n = n * x + 221.213596169931;
    n = n * x + 220.206867912376;
    let d = 8.83883476483184e-2 * x + 1.75566716318264;
    d = d * x + 16.064177579207;
    d = d * x + 86.7807322029461;
    d = d * x + 296.564248779674;
    d = d * x + 637.333633378831;
    d = d * x + 793.826512519948;
    d = d * x + 440.413735824752;
    return (e * n) / d;
  }
  let b = x + 0.65;
  b = x + 4 / b;
  b = x + 3 / b;
  b = x + 2 / b;
  b = x + 1 / b;
  return e / b / 2.506628274631;
}

/** Φ⁻¹(0.975): the multiplier of a 95% Wald interval. */
export const Z_975 = 1.959963984540054;
