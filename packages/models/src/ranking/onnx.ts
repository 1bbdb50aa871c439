// ranking.onnx: the same DLRM forward as the WGSL model in standard ONNX operators (opset 17),
// for onnxruntime-web (the runtime's no-WebGPU path) and any other serving stack. Written with
// protobufjs from the subset of onnx.proto it needs (field numbers as in onnx/onnx.proto, IR 8).
//
// Inputs:  `dense` float (batch, Nd) — the transformed dense features (absent when Nd = 0);
//          one int64 (batch, L_f) input per sparse feature, named by inputName(feature), holding
//          its indices (0 = PAD, 1 = OOV, …) exactly as the feature spec encodes them.
// Output:  `scores` float (batch, 3) = [pCtr, pCvr, log1p revenue]; tasks without a head give 0.
// Graph:   bottom Gemm+Relu → z0; per feature Gather (categorical) or the masked mean of the
//          Gathered non-PAD rows (multi-hot) → emb (batch, F, D); dot: MatMul(Z, Zᵀ) of
//          Z = [z0; emb], its lower triangle by one Gather over the flattened (F+1)² products;
//          cat: Reshape; then Concat with z0, top Gemm+Relu, one tower per task, Sigmoid on the
//          ctr and cvr outputs, Concat. With the wide term (RankingConfig.wide) each head's logit gains,
//          before its Sigmoid, dense · v + Σ_f (the feature's pooled rows of a (R_f, T) table) + bias.
import protobuf from 'protobufjs';
import {
  RANKING_TASKS,
  rankingLayerShapes,
  rankingParameters,
  tableBases,
  WIDE_WEIGHT,
  wideWidth,
  type RankingConfig,
} from './ranking.ts';
import { UsageError } from '@vireo/core';

const ONNX_PROTO = `
syntax = "proto3";
package onnx;
message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5;
    FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10;
  }
  string name = 1;
  string doc_string = 13;
  AttributeType type = 20;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
}
message ValueInfoProto { string name = 1; TypeProto type = 2; string doc_string = 3; }
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  string domain = 7;
  repeated AttributeProto attribute = 5;
  string doc_string = 6;
}
message StringStringEntryProto { string key = 1; string value = 2; }
message ModelProto {
  int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  string producer_name = 2;
  string producer_version = 3;
  string domain = 4;
  int64 model_version = 5;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}
message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}
message TensorProto {
  enum DataType {
    UNDEFINED = 0; FLOAT = 1; UINT8 = 2; INT8 = 3; UINT16 = 4; INT16 = 5; INT32 = 6; INT64 = 7; STRING = 8; BOOL = 9;
  }
  repeated int64 dims = 1;
  int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int64 int64_data = 7 [packed = true];
  string name = 8;
  bytes raw_data = 9;
  string doc_string = 12;
}
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } string denotation = 3; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
  string denotation = 6;
}
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
`;

const FLOAT = 1;
const INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, INTS: 7 } as const;
export const ONNX_OPSET = 17;
const IR_VERSION = 8;
/** Protobuf messages are limited to 2 GiB; larger tables would need ONNX external data. */
const MAX_MODEL_BYTES = 2 ** 31 - 1;

let modelType: protobuf.Type | null = null;
function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

/** The ONNX input name of a sparse feature: `context:c1` → `context_c1`. */
export function inputName(feature: string): string {
  return feature.replace(/[^A-Za-z0-9_]/g, '_');
}

type Attr = { name: string; type: number; i?: number; f?: number; ints?: number[] };
interface Node {
  op_type: string;
  input: string[];
  output: string[];
  name: string;
  attribute: Attr[];
}

/** A small graph builder: unique value names, nodes in order, initializers. */
class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: object[] = [];
  private n = 0;

  op(op: string, inputs: string[], attrs: Attr[] = [], hint = op.toLowerCase()): string {
    const out = `${hint}_${this.n++}`;
    this.nodes.push({ op_type: op, input: inputs, output: [out], name: out, attribute: attrs });
    return out;
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dims, data_type: FLOAT, raw_data: bytes.slice() });
    return name;
  }

  int64s(name: string, dims: number[], values: number[]): string {
    this.initializers.push({ name, dims, data_type: INT64, int64_data: values });
    return name;
  }
}

const ints = (name: string, values: number[]): Attr => ({ name, type: ATTR.INTS, ints: values });
const int = (name: string, value: number): Attr => ({ name, type: ATTR.INT, i: value });

/**
 * Builds ranking.onnx from a config and its weights.
 * @example writeFileSync('bundle/ranking.onnx', rankingOnnx(config, params, tables));
 */
export function rankingOnnx(c: RankingConfig, params: Float32Array, tables: Float32Array[]): Uint8Array {
  const g = new GraphBuilder();
  const D = c.embeddingDim;
  const F = c.sparseFeatures.length;
  const entries = new Map(rankingParameters(c).entries.map((e) => [e.name, e]));
  const weight = (name: string) => {
    const e = entries.get(name)!;
    return g.floats(name, e.shape, params.subarray(e.offset, e.offset + e.size));
  };
  const batch = { dim_param: 'batch' };
  const inputs: object[] = [];
  const tensorType = (elem: number, dims: object[]) => ({ tensor_type: { elem_type: elem, shape: { dim: dims } } });

  // A feature's rows of `table` pooled as the model's bags do, (batch, 1, width of the table).
  const pool = (f: RankingConfig['sparseFeatures'][number], table: string, tag: string): string => {
    const idx = inputName(f.name);
    const rows = g.op('Gather', [table, idx], [int('axis', 0)], `gather_${tag}${idx}`); // (batch, L, ·)
    if (f.width === 1) return rows;
    // mean of the non-PAD slots: Σ rows·mask / max(Σ mask, 1)
    const zero = g.int64s(`zero_${tag}${idx}`, [], [0]);
    const mask = g.op('Cast', [g.op('Not', [g.op('Equal', [idx, zero])])], [int('to', FLOAT)]); // (batch, L)
    const mask3 = g.op('Unsqueeze', [mask, g.int64s(`axes2_${tag}${idx}`, [1], [2])]); // (batch, L, 1)
    const axes1 = g.int64s(`axes1_${tag}${idx}`, [1], [1]);
    const sum = g.op('ReduceSum', [g.op('Mul', [rows, mask3]), axes1], [int('keepdims', 1)]); // (batch, 1, ·)
    const count = g.op('ReduceSum', [mask3, axes1], [int('keepdims', 1)]); // (batch, 1, 1)
    return g.op('Div', [sum, g.op('Max', [count, g.floats(`one_${tag}${idx}`, [], new Float32Array([1]))])]);
  };

  // Sparse inputs and their embeddings, (batch, 1, D) each.
  const pooled: string[] = [];
  c.sparseFeatures.forEach((f, k) => {
    inputs.push({
      name: inputName(f.name),
      type: tensorType(INT64, [batch, { dim_value: f.width }]),
      doc_string: `indices of ${f.name} (0 = PAD)`,
    });
    pooled.push(pool(f, g.floats(`embedding.${f.name}`, [f.rows, D], tables[k]), ''));
  });

  // Dense input (or a constant 1 per sample) through the bottom MLP.
  let x: string;
  if (c.denseFeatures.length > 0) {
    inputs.unshift({
      name: 'dense',
      type: tensorType(FLOAT, [batch, { dim_value: c.denseFeatures.length }]),
      doc_string: `transformed dense features: ${c.denseFeatures.join(', ')}`,
    });
    x = 'dense';
  } else {
    const first = inputName(c.sparseFeatures[0].name);
    const col = g.op('Slice', [
      first,
      g.int64s('slice_start', [1], [0]),
      g.int64s('slice_end', [1], [1]),
      g.int64s('slice_axis', [1], [1]),
    ]);
    x = g.op('Cast', [g.op('Equal', [col, col])], [int('to', FLOAT)]); // (batch, 1) of ones
  }
  // The wide term of every head, (batch, T); null without one.
  let wide: string | null = null;
  if (c.wide) {
    const T = c.heads.length;
    const Nd = c.denseFeatures.length;
    const Ww = wideWidth(c);
    const e = entries.get(WIDE_WEIGHT)!;
    const w = params.subarray(e.offset, e.offset + e.size); // (T, Ww)
    const columns = (from: number, n: number) => {
      const out = new Float32Array(n * T); // (n, T): the heads' weights side by side
      for (let r = 0; r < n; r++) for (let t = 0; t < T; t++) out[r * T + t] = w[t * Ww + from + r];
      return out;
    };
    const { bases } = tableBases(c);
    const parts = c.sparseFeatures.map((f, k) =>
      pool(f, g.floats(`wide.${f.name}`, [f.rows, T], columns(Nd + bases[k], f.rows)), 'wide_'),
    );
    const all = parts.length === 1 ? parts[0] : g.op('Concat', parts, [int('axis', 1)]); // (batch, F, T)
    wide = g.op('ReduceSum', [all, g.int64s('wide_axes', [1], [1])], [int('keepdims', 0)]); // (batch, T)
    wide = g.op('Add', [wide, g.floats('wide.bias', [T], columns(Ww - 1, 1))]);
    if (Nd > 0) wide = g.op('Add', [wide, g.op('MatMul', ['dense', g.floats('wide.dense', [Nd, T], columns(0, Nd))])]);
  }

  const shapes = rankingLayerShapes(c);
  let li = 0;
  const layer = (input: string, serving = true): string => {
    const s = shapes[li++];
    const y = g.op(
      'Gemm',
      [input, weight(`${s.name}.weight`), weight(`${s.name}.bias`)],
      [int('transB', 1)],
      `${s.name.replace(/\./g, '_')}`,
    );
    const act = serving ? s.serveAct : s.act;
    return act === 'relu' ? g.op('Relu', [y]) : act === 'sigmoid' ? g.op('Sigmoid', [y]) : y;
  };
  for (let i = 0; i < c.bottomMlp.length; i++) x = layer(x);
  const z0 = x; // (batch, D)

  const emb = F === 1 ? pooled[0] : g.op('Concat', pooled, [int('axis', 1)]); // (batch, F, D)
  let inter: string;
  if (c.interaction === 'dot') {
    // (batch, F+1, D)
    const Z = g.op('Concat', [g.op('Unsqueeze', [z0, g.int64s('axes_z0', [1], [1])]), emb], [int('axis', 1)]);
    const ZZ = g.op('MatMul', [Z, g.op('Transpose', [Z], [ints('perm', [0, 2, 1])])]); // (batch, F+1, F+1)
    const V = F + 1;
    const flat = g.op('Reshape', [ZZ, g.int64s('shape_pairs', [2], [0, V * V])]);
    const lower: number[] = [];
    for (let i = 1; i < V; i++) for (let j = 0; j < i; j++) lower.push(i * V + j);
    inter = g.op(
      'Concat',
      [z0, g.op('Gather', [flat, g.int64s('lower_triangle', [lower.length], lower)], [int('axis', 1)])],
      [int('axis', 1)],
    );
  } else {
    inter = g.op('Concat', [z0, g.op('Reshape', [emb, g.int64s('shape_cat', [2], [0, F * D])])], [int('axis', 1)]);
  }
  let h = inter;
  for (let i = 0; i < c.topMlp.length; i++) h = layer(h);
  const outs = new Map<string, string>();
  c.heads.forEach((task, head) => {
    let t = h;
    for (let i = 0; i < c.towerMlp.length; i++) t = layer(t);
    if (!wide) {
      outs.set(task, layer(t));
      return;
    }
    const serveAct = shapes[li].serveAct;
    const column = g.op('Slice', [
      wide,
      g.int64s(`wide_start_${task}`, [1], [head]),
      g.int64s(`wide_end_${task}`, [1], [head + 1]),
      g.int64s(`wide_axis_${task}`, [1], [1]),
    ]);
    const z = g.op('Add', [layer(t, false), column]);
    outs.set(task, serveAct === 'sigmoid' ? g.op('Sigmoid', [z]) : z);
  });
  const anyOut = outs.get(c.heads[0])!;
  let zeros: string | null = null;
  const columns = RANKING_TASKS.map(
    (task) => outs.get(task) ?? (zeros ??= g.op('Mul', [anyOut, g.floats('zero', [], new Float32Array([0]))])),
  );
  const scores = g.op('Concat', columns, [int('axis', 1)], 'scores_concat');
  g.nodes.push({ op_type: 'Identity', input: [scores], output: ['scores'], name: 'scores', attribute: [] });

  const model = {
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: 'vireo',
    producer_version: '0.1.0',
    doc_string: 'Vireo DLRM ranker: scores (batch, 3) = [pCtr, pCvr, log1p revenue]',
    graph: {
      name: 'vireo_ranking',
      node: g.nodes,
      initializer: g.initializers,
      input: inputs,
      output: [
        {
          name: 'scores',
          type: tensorType(FLOAT, [batch, { dim_value: 3 }]),
          doc_string: 'pCtr, pCvr (P(conversion | click)), log1p revenue of a conversion',
        },
      ],
    },
    metadata_props: [
      {
        key: 'vireo.inputs',
        value: JSON.stringify({
          dense: c.denseFeatures,
          sparse: Object.fromEntries(c.sparseFeatures.map((f) => [inputName(f.name), f.name])),
        }),
      },
      { key: 'vireo.outputs', value: JSON.stringify(['pCtr', 'pCvr', 'log1pRevenue']) },
    ],
  };
  let bytes = 0;
  for (const t of tables) bytes += t.byteLength;
  if (bytes + params.byteLength > MAX_MODEL_BYTES) {
    throw new UsageError(
      `the ranker's weights (${(bytes / 2 ** 30).toFixed(1)} GiB) ` +
        `exceed what one ONNX file holds (2 GiB); export with fewer hash buckets.`,
    );
  }
  const type = onnxModelType();
  const message = type.fromObject(model);
  return type.encode(message).finish();
}
