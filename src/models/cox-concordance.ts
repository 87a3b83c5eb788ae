/**
 * Harrell's C of a risk score against right-censored times: among comparable pairs (one subject has the event
 * at a time the other is still followed, a censored time tied with it counting as longer, as R's `concordance`
 * does), the share where the earlier event has the higher score, a tied score counting one half; pairs of tied
 * event times are not comparable. O(n log n): rows are visited from the latest time while a Fenwick tree counts
 * the scores of those already passed.
 */
export function harrellConcordance(
  time: ArrayLike<number>,
  event: ArrayLike<number>,
  score: ArrayLike<number>,
): number {
  const n = time.length;
  const distinct = Float64Array.from(score).sort();
  const ranks = new Int32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) if (i === 0 || distinct[i] !== distinct[i - 1]) distinct[m++] = distinct[i]!;
  const values = distinct.subarray(0, m);
  for (let i = 0; i < n; i++) ranks[i] = lowerBound(values, score[i]!) + 1;
  const tree = new Float64Array(m + 1);
  let passed = 0;
  const add = (r: number): void => {
    passed++;
    for (let k = r; k <= m; k += k & -k) tree[k]! += 1;
  };
  const countUpTo = (r: number): number => {
    let s = 0;
    for (let k = r; k > 0; k -= k & -k) s += tree[k]!;
    return s;
  };
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => time[b]! - time[a]!);
  let concordant = 0;
  let discordant = 0;
  let tied = 0;
  let i = 0;
  while (i < n) {
    let end = i;
    while (end < n && time[order[end]!] === time[order[i]!]) end++;
    for (let k = i; k < end; k++) if (event[order[k]!] !== 1) add(ranks[order[k]!]!);
    for (let k = i; k < end; k++) {
      const row = order[k]!;
      if (event[row] !== 1) continue;
      const r = ranks[row]!;
      const below = countUpTo(r - 1);
      const same = countUpTo(r) - below;
      concordant += below;
      tied += same;
      discordant += passed - below - same;
    }
    for (let k = i; k < end; k++) if (event[order[k]!] === 1) add(ranks[order[k]!]!);
    i = end;
  }
  const comparable = concordant + discordant + tied;
  return comparable === 0 ? Number.NaN : (concordant + tied / 2) / comparable;
}

function lowerBound(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
