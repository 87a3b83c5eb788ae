import onnxProto from 'onnx-proto';

/**
 * ONNX models written by hand here, not by our exporter (`models/onnx-export.ts`): a "third party's" logistic risk
 * model in float32 (Gemm → Sigmoid, input "x", output "risk") and the bad models the sandbox must refuse.
 */
const { onnx } = onnxProto;
const { DataType } = onnx.TensorProto;
type Node = Parameters<typeof onnx.GraphProto.create>[0] extends infer G ? G : never;

function floatTensor(name: string, dims: number[], values: number[]) {
  return onnx.TensorProto.create({ name, dims, dataType: DataType.FLOAT, floatData: values });
}

function io(name: string, dims: (number | string)[], elemType: number = DataType.FLOAT) {
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

function encode(graph: Node, opset = 17): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'acme-risk-ai',
      producerVersion: '2.3.1',
      opsetImport: [{ domain: '', version: opset }],
      graph: onnx.GraphProto.create(graph as object),
    }),
  ).finish();
}

/** What to break in the logistic model. */
export interface Breakage {
  /** Name of the graph's input (default "x"). */
  inputName?: string;
  /** `nan`: sqrt of a negative; `above-one`: sigmoid + 1. */
  output?: 'nan' | 'above-one';
  /** Adds input column k to the risk: a probability on the developer's means, above 1 where column k is 1. */
  addColumn?: number;
  /** An initializer whose bytes are an external file at this path (the runtime would read it at load). */
  externalData?: string;
  /** Bytes of an unused initializer, to make a large file. */
  padBytes?: number;
}

/** risk = sigmoid(x·w + b), float32, Gemm with a [p, 1] weight; `broken` makes it one of the bad models. */
export function thirdPartyLogistic(weights: readonly number[], intercept: number, broken: Breakage = {}): Uint8Array {
  const p = weights.length;
  const input = broken.inputName ?? 'x';
  const nodes: object[] = [
    { opType: 'Gemm', input: [input, 'w', 'b'], output: ['z'], name: 'gemm' },
    { opType: 'Sigmoid', input: ['z'], output: [broken.output === undefined ? 'risk' : 's'], name: 'sigmoid' },
  ];
  const initializer = [floatTensor('w', [p, 1], [...weights]), floatTensor('b', [1], [intercept])];
  if (broken.output === 'nan') {
    nodes.push({ opType: 'Neg', input: ['s'], output: ['neg'], name: 'neg' });
    nodes.push({ opType: 'Sqrt', input: ['neg'], output: ['risk'], name: 'sqrt' });
  }
  if (broken.output === 'above-one') {
    initializer.push(floatTensor('one', [1], [1]));
    nodes.push({ opType: 'Add', input: ['s', 'one'], output: ['risk'], name: 'plus_one' });
  }
  if (broken.addColumn !== undefined) {
    const pick = weights.map((_, j) => (j === broken.addColumn ? 1 : 0));
    initializer.push(floatTensor('pick', [p, 1], pick), floatTensor('zero', [1], [0]));
    nodes[1] = { ...nodes[1], output: ['s'] };
    nodes.push({ opType: 'Gemm', input: [input, 'pick', 'zero'], output: ['col'], name: 'column' });
    nodes.push({ opType: 'Add', input: ['s', 'col'], output: ['risk'], name: 'plus_column' });
  }
  if (broken.externalData !== undefined) {
    initializer[1] = onnx.TensorProto.create({
      name: 'b',
      dims: [1],
      dataType: DataType.FLOAT,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: broken.externalData },
        { key: 'length', value: '4' },
      ],
    });
  }
  if (broken.padBytes !== undefined) {
    initializer.push(floatTensor('padding', [broken.padBytes / 4], new Array(broken.padBytes / 4).fill(0.5)));
  }
  return encode({
    name: 'acme_logistic',
    node: nodes,
    initializer,
    input: [io(input, ['N', p])],
    output: [io('risk', ['N', 1])],
  });
}

/**
 * A model that takes the same input and runs for a long time: a [n, n] matrix of ones multiplied by itself
 * `rounds` times, then summed into the output (ORT cannot skip it: the output depends on it).
 */
export function slowModel(p: number, n = 1200, rounds = 400): Uint8Array {
  const nodes: object[] = [{ opType: 'ConstantOfShape', input: ['shape'], output: ['m0'], name: 'ones' }];
  for (let k = 0; k < rounds; k++) {
    nodes.push({ opType: 'MatMul', input: [`m${k}`, 'scale'], output: [`m${k + 1}`], name: `mm${k}` });
  }
  nodes.push({ opType: 'ReduceMean', input: [`m${rounds}`], output: ['avg'], name: 'avg' });
  nodes.push({ opType: 'ReduceSum', input: ['x', 'axes'], output: ['rowsum'], name: 'rowsum' });
  nodes.push({ opType: 'Mul', input: ['rowsum', 'avg'], output: ['z'], name: 'mix' });
  nodes.push({ opType: 'Sigmoid', input: ['z'], output: ['risk'], name: 'sigmoid' });
  return encode({
    name: 'slow',
    node: nodes,
    initializer: [
      onnx.TensorProto.create({ name: 'shape', dims: [2], dataType: DataType.INT64, int64Data: [n, n] }),
      floatTensor('scale', [n, n], new Array(n * n).fill(1 / n)),
      onnx.TensorProto.create({ name: 'axes', dims: [1], dataType: DataType.INT64, int64Data: [1] }),
    ],
    input: [io('x', ['N', p])],
    output: [io('risk', ['N', 1])],
  });
}
