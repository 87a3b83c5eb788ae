import onnxProto from 'onnx-proto';
import type { BoostedModel } from './gradient-boosting.js';
import type { LogisticModel } from './logistic-regression.js';

const { onnx } = onnxProto;
type Attribute = InstanceType<typeof onnx.AttributeProto>;
type Tensor = ReturnType<typeof onnx.TensorProto.create>;

/** Names of the graph's input and output, the same for every exported model. */
export const ONNX_INPUT = 'features';
export const ONNX_OUTPUT = 'probability';

/** ONNX IR version 8 (ONNX 1.10) with opset 13 and ai.onnx.ml 3: what onnx-proto 8 describes; ORT runs it. */
const IR_VERSION = 8;
const DEFAULT_OPSET = 13;
const ML_OPSET = 3;
const { AttributeType } = onnx.AttributeProto;
const { DataType } = onnx.TensorProto;

function doubleTensor(name: string, dims: number[], values: ArrayLike<number>): Tensor {
  return onnx.TensorProto.create({ name, dims, dataType: DataType.DOUBLE, doubleData: Array.from(values) });
}

const attr = {
  ints: (name: string, ints: number[]): Attribute =>
    onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints }),
  int: (name: string, i: number): Attribute => onnx.AttributeProto.create({ name, type: AttributeType.INT, i }),
  string: (name: string, s: string): Attribute =>
    onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: new TextEncoder().encode(s) }),
  strings: (name: string, strings: string[]): Attribute =>
    onnx.AttributeProto.create({
      name,
      type: AttributeType.STRINGS,
      strings: strings.map((s) => new TextEncoder().encode(s)),
    }),
  tensor: (name: string, t: Tensor): Attribute => onnx.AttributeProto.create({ name, type: AttributeType.TENSOR, t }),
};

function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

function modelBytes(
  graph: ReturnType<typeof onnx.GraphProto.create>,
  features: readonly string[],
  kind: string,
  opsets: { domain: string; version: number }[],
): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'healthmesh',
    producerVersion: '0.1.0',
    docString: `healthmesh ${kind} risk model: input "${ONNX_INPUT}" [N, ${features.length}] double, output "${ONNX_OUTPUT}" [N, 1] = P(y = 1)`,
    opsetImport: opsets,
    graph,
    metadataProps: [
      { key: 'healthmesh.kind', value: kind },
      { key: 'healthmesh.features', value: JSON.stringify(features) },
    ],
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Logistic regression as MatMul → Add → Sigmoid, all in double, so ONNX Runtime reproduces our probabilities
 * to rounding. The input's columns are the model's features in order (listed in the metadata).
 */
export function logisticToOnnx(model: LogisticModel): Uint8Array {
  const p = model.features.length;
  const graph = onnx.GraphProto.create({
    name: 'healthmesh_logistic',
    node: [
      { opType: 'MatMul', input: [ONNX_INPUT, 'coefficients'], output: ['linear'], name: 'matmul' },
      { opType: 'Add', input: ['linear', 'intercept'], output: ['logit'], name: 'add_intercept' },
      { opType: 'Sigmoid', input: ['logit'], output: [ONNX_OUTPUT], name: 'sigmoid' },
    ],
    initializer: [
      doubleTensor('coefficients', [p, 1], model.coefficients.slice(1)),
      doubleTensor('intercept', [1], [model.coefficients[0]!]),
    ],
    input: [valueInfo(ONNX_INPUT, DataType.DOUBLE, ['N', p])],
    output: [valueInfo(ONNX_OUTPUT, DataType.DOUBLE, ['N', 1])],
  });
  return modelBytes(graph, model.features, 'logistic', [{ domain: '', version: DEFAULT_OPSET }]);
}

/**
 * Boosted trees as ai.onnx.ml TreeEnsembleRegressor (summing leaf values onto the base score) followed by
 * Sigmoid. Thresholds, leaf values and the base score go in the `*_as_tensor` double attributes, so splits
 * compare double inputs against our exact thresholds; a missing value follows `nodes_missing_value_tracks_true`
 * (our default direction: the "true" branch is x ≤ threshold, i.e. left). The regressor's output is float32,
 * which bounds the agreement with our double predictions at about 1e-7.
 */
export function boostedToOnnx(model: BoostedModel): Uint8Array {
  // An ensemble needs at least one tree: a model that kept none is its base score alone.
  const trees = model.trees.length > 0 ? model.trees : [stumpOf()];
  const n = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    modes: [] as string[],
    values: [] as number[],
    trueIds: [] as number[],
    falseIds: [] as number[],
    missingTrue: [] as number[],
  };
  const t = { treeIds: [] as number[], nodeIds: [] as number[], ids: [] as number[], weights: [] as number[] };
  trees.forEach((tree, treeId) => {
    for (let node = 0; node < tree.feature.length; node++) {
      const leaf = tree.feature[node]! < 0;
      n.treeIds.push(treeId);
      n.nodeIds.push(node);
      n.featureIds.push(leaf ? 0 : tree.feature[node]!);
      n.modes.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
      n.values.push(leaf ? 0 : tree.threshold[node]!);
      n.trueIds.push(leaf ? 0 : tree.left[node]!);
      n.falseIds.push(leaf ? 0 : tree.right[node]!);
      n.missingTrue.push(!leaf && tree.missingLeft[node] ? 1 : 0);
      if (leaf) {
        t.treeIds.push(treeId);
        t.nodeIds.push(node);
        t.ids.push(0);
        t.weights.push(tree.value[node]!);
      }
    }
  });
  const ensemble = onnx.NodeProto.create({
    opType: 'TreeEnsembleRegressor',
    domain: 'ai.onnx.ml',
    name: 'trees',
    input: [ONNX_INPUT],
    output: ['logit'],
    attribute: [
      attr.string('aggregate_function', 'SUM'),
      attr.tensor('base_values_as_tensor', doubleTensor('base_values', [1], [model.baseScore])),
      attr.int('n_targets', 1),
      attr.ints('nodes_treeids', n.treeIds),
      attr.ints('nodes_nodeids', n.nodeIds),
      attr.ints('nodes_featureids', n.featureIds),
      attr.strings('nodes_modes', n.modes),
      attr.tensor('nodes_values_as_tensor', doubleTensor('nodes_values', [n.values.length], n.values)),
      attr.ints('nodes_truenodeids', n.trueIds),
      attr.ints('nodes_falsenodeids', n.falseIds),
      attr.ints('nodes_missing_value_tracks_true', n.missingTrue),
      attr.string('post_transform', 'NONE'),
      attr.ints('target_treeids', t.treeIds),
      attr.ints('target_nodeids', t.nodeIds),
      attr.ints('target_ids', t.ids),
      attr.tensor('target_weights_as_tensor', doubleTensor('target_weights', [t.weights.length], t.weights)),
    ],
  });
  const graph = onnx.GraphProto.create({
    name: 'healthmesh_boosted',
    node: [ensemble, { opType: 'Sigmoid', input: ['logit'], output: [ONNX_OUTPUT], name: 'sigmoid' }],
    input: [valueInfo(ONNX_INPUT, DataType.DOUBLE, ['N', model.features.length])],
    output: [valueInfo(ONNX_OUTPUT, DataType.FLOAT, ['N', 1])],
  });
  return modelBytes(graph, model.features, 'boosted', [
    { domain: '', version: DEFAULT_OPSET },
    { domain: 'ai.onnx.ml', version: ML_OPSET },
  ]);
}

function stumpOf() {
  return { feature: [-1], threshold: [0], missingLeft: [false], left: [-1], right: [-1], value: [0] };
}
