import { MISSING_BIN } from './feature-binning.js';

/** One regression tree as flat arrays (node 0 is the root; a leaf has feature −1). */
export interface BinnedTree {
  feature: Int32Array;
  /** Split rule: bin ≤ binThreshold goes left. */
  binThreshold: Int32Array;
  /** Where a missing value goes: 1 = left. */
  missingLeft: Uint8Array;
  left: Int32Array;
  right: Int32Array;
  /** Leaf values (learning rate applied); 0 on inner nodes. */
  value: Float64Array;
}

export interface TreeParams {
  maxDepth: number;
  minLeafSize: number;
  /** L2 penalty λ on leaf values (XGBoost's lambda). */
  l2: number;
  /** A split must gain more than this (½[G²ₗ/(Hₗ+λ) + G²ᵣ/(Hᵣ+λ) − G²/(H+λ)]). */
  minGain: number;
  learningRate: number;
}

/** The training state shared by every tree of one fit: binned rows and the current gradients. */
export interface GrowData {
  /** Row-major bins, `width` per row. */
  bins: Uint8Array;
  width: number;
  /** Number of value bins per feature (missing is extra, in MISSING_BIN). */
  valueBins: Int32Array;
  grad: Float64Array;
  hess: Float64Array;
}

/** Each histogram cell holds Σg, Σh and a count, interleaved so one cell is one cache line's neighbourhood. */
const CELL = 3;
const BINS_PER_FEATURE = 256;
/** A child needs at least this much hessian (XGBoost's min_child_weight), so leaf values stay finite. */
const MIN_CHILD_HESSIAN = 1e-3;

interface OpenNode {
  id: number;
  start: number;
  end: number;
  hist: Float64Array;
  g: number;
  h: number;
}

interface Split {
  gain: number;
  feature: number;
  bin: number;
  missingLeft: boolean;
}

/**
 * Grow one tree depth-wise on `rows` (the rows sampled for it; reordered in place). Histograms: each node's is
 * built from its rows only for the smaller child; the larger child's is the parent's minus the smaller's, so a
 * level costs at most half a pass over the rows after the root. With `score`, each leaf's value is added to the
 * score of the rows it holds (saving a walk down the tree for every sampled row).
 */
export function growTree(data: GrowData, rows: Uint32Array, params: TreeParams, score?: Float64Array): BinnedTree {
  const { width } = data;
  const histSize = width * BINS_PER_FEATURE * CELL;
  const pool: Float64Array[] = [];
  const take = (): Float64Array => pool.pop() ?? new Float64Array(histSize);
  const scratch = new Uint32Array(rows.length);
  const nodes = {
    feature: [] as number[],
    bin: [] as number[],
    missingLeft: [] as number[],
    left: [] as number[],
    right: [] as number[],
    value: [] as number[],
  };
  const addNode = (): number => {
    nodes.feature.push(-1);
    nodes.bin.push(0);
    nodes.missingLeft.push(0);
    nodes.left.push(-1);
    nodes.right.push(-1);
    nodes.value.push(0);
    return nodes.feature.length - 1;
  };
  const makeLeaf = (n: OpenNode): void => {
    const value = (-n.g / (n.h + params.l2)) * params.learningRate;
    nodes.value[n.id] = value;
    pool.push(n.hist);
    if (score) for (let k = n.start; k < n.end; k++) score[rows[k]!]! += value;
  };

  const rootHist = take();
  buildHistogram(data, rows, 0, rows.length, rootHist);
  let g = 0;
  let h = 0;
  for (let i = 0; i < rows.length; i++) {
    g += data.grad[rows[i]!]!;
    h += data.hess[rows[i]!]!;
  }
  let level: OpenNode[] = [{ id: addNode(), start: 0, end: rows.length, hist: rootHist, g, h }];
  const split: Split = { gain: 0, feature: -1, bin: 0, missingLeft: false };
  for (let depth = 0; depth < params.maxDepth && level.length > 0; depth++) {
    const next: OpenNode[] = [];
    for (const node of level) {
      bestSplit(data, node, params, split);
      if (split.feature < 0) {
        makeLeaf(node);
        continue;
      }
      const mid = partition(data, rows, scratch, node.start, node.end, split);
      const leftId = addNode();
      const rightId = addNode();
      nodes.feature[node.id] = split.feature;
      nodes.bin[node.id] = split.bin;
      nodes.missingLeft[node.id] = split.missingLeft ? 1 : 0;
      nodes.left[node.id] = leftId;
      nodes.right[node.id] = rightId;
      const leftSmaller = mid - node.start <= node.end - mid;
      const small = take();
      if (leftSmaller) buildHistogram(data, rows, node.start, mid, small);
      else buildHistogram(data, rows, mid, node.end, small);
      const large = node.hist;
      for (let k = 0; k < histSize; k++) large[k]! -= small[k]!;
      const leftHist = leftSmaller ? small : large;
      const rightHist = leftSmaller ? large : small;
      const gl = sumGradient(leftHist);
      next.push({ id: leftId, start: node.start, end: mid, hist: leftHist, g: gl.g, h: gl.h });
      next.push({ id: rightId, start: mid, end: node.end, hist: rightHist, g: node.g - gl.g, h: node.h - gl.h });
    }
    level = next;
  }
  for (const node of level) makeLeaf(node);
  return {
    feature: Int32Array.from(nodes.feature),
    binThreshold: Int32Array.from(nodes.bin),
    missingLeft: Uint8Array.from(nodes.missingLeft),
    left: Int32Array.from(nodes.left),
    right: Int32Array.from(nodes.right),
    value: Float64Array.from(nodes.value),
  };
}

/** The hot loop of boosting: Σg, Σh and count per (feature, bin) over rows[start..end). */
function buildHistogram(data: GrowData, rows: Uint32Array, start: number, end: number, hist: Float64Array): void {
  hist.fill(0);
  const { bins, width, grad, hess } = data;
  for (let k = start; k < end; k++) {
    const r = rows[k]!;
    const gr = grad[r]!;
    const hr = hess[r]!;
    const base = r * width;
    for (let j = 0; j < width; j++) {
      const cell = ((j << 8) | bins[base + j]!) * CELL;
      hist[cell]! += gr;
      hist[cell + 1]! += hr;
      hist[cell + 2]! += 1;
    }
  }
}

/** Node totals from feature 0's cells (every row sits in exactly one bin of every feature). */
function sumGradient(hist: Float64Array): { g: number; h: number } {
  let g = 0;
  let h = 0;
  for (let b = 0; b < BINS_PER_FEATURE; b++) {
    g += hist[b * CELL]!;
    h += hist[b * CELL + 1]!;
  }
  return { g, h };
}

/** Scan every feature's bins left to right; try missing values on either side. Writes the winner into `out`. */
function bestSplit(data: GrowData, node: OpenNode, params: TreeParams, out: Split): void {
  out.feature = -1;
  out.gain = params.minGain;
  const count = node.end - node.start;
  if (count < 2 * params.minLeafSize) return;
  const { hist } = node;
  const lambda = params.l2;
  const G = node.g;
  const H = node.h;
  const parentScore = (G * G) / (H + lambda);
  const minLeaf = params.minLeafSize;
  const consider = (gl: number, hl: number, cl: number, feature: number, bin: number, missingLeft: boolean) => {
    const cr = count - cl;
    const hr = H - hl;
    if (cl < minLeaf || cr < minLeaf || hl < MIN_CHILD_HESSIAN || hr < MIN_CHILD_HESSIAN) return;
    const gr = G - gl;
    const gain = 0.5 * ((gl * gl) / (hl + lambda) + (gr * gr) / (hr + lambda) - parentScore);
    if (gain > out.gain) {
      out.gain = gain;
      out.feature = feature;
      out.bin = bin;
      out.missingLeft = missingLeft;
    }
  };
  for (let j = 0; j < data.width; j++) {
    const nb = data.valueBins[j]!;
    const base = j * BINS_PER_FEATURE * CELL;
    const mCell = base + MISSING_BIN * CELL;
    const gm = hist[mCell]!;
    const hm = hist[mCell + 1]!;
    const cm = hist[mCell + 2]!;
    let gl = 0;
    let hl = 0;
    let cl = 0;
    for (let b = 0; b < nb; b++) {
      const cell = base + b * CELL;
      gl += hist[cell]!;
      hl += hist[cell + 1]!;
      cl += hist[cell + 2]!;
      if (b === nb - 1) {
        // Every value left, missing right: a split on missingness itself.
        if (cm > 0) consider(gl, hl, cl, j, b, false);
        break;
      }
      if (cl === 0) continue;
      // Missing right; with no missing rows here, send future ones to the larger child.
      const before = out.gain;
      consider(gl, hl, cl, j, b, false);
      if (cm === 0 && out.gain !== before) out.missingLeft = cl >= count - cl;
      if (cm > 0) consider(gl + gm, hl + hm, cl + cm, j, b, true);
    }
  }
}

/** Stable partition of rows[start..end) by the split: left rows first. Returns the boundary. */
function partition(
  data: GrowData,
  rows: Uint32Array,
  scratch: Uint32Array,
  start: number,
  end: number,
  split: Split,
): number {
  const { bins, width } = data;
  const f = split.feature;
  const t = split.bin;
  const missingLeft = split.missingLeft;
  let l = start;
  let r = 0;
  for (let k = start; k < end; k++) {
    const row = rows[k]!;
    const b = bins[row * width + f]!;
    if (b === MISSING_BIN ? missingLeft : b <= t) rows[l++] = row;
    else scratch[r++] = row;
  }
  rows.set(scratch.subarray(0, r), l);
  return l;
}

/** Add the tree's leaf value to `score` for every row, walking the binned rows. */
export function addTreeScores(tree: BinnedTree, bins: Uint8Array, width: number, score: Float64Array): void {
  const { feature, binThreshold, missingLeft, left, right, value } = tree;
  for (let i = 0; i < score.length; i++) {
    let node = 0;
    const base = i * width;
    while (feature[node]! >= 0) {
      const b = bins[base + feature[node]!]!;
      node = (b === MISSING_BIN ? missingLeft[node] === 1 : b <= binThreshold[node]!) ? left[node]! : right[node]!;
    }
    score[i]! += value[node]!;
  }
}
