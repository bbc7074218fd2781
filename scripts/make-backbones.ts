// Writes the ONNX backbones under models/ (and a test model without a float output) from TypeScript with
// onnx-proto, weights drawn from a seeded generator (Kaiming-uniform, like torch.nn's default init), so
// the committed files can be rebuilt bit for bit: `npx tsx scripts/make-backbones.ts`.
//   models/mlp_encoder.onnx   features [N, 6] → Gemm 6→32, Relu, Gemm 32→32, Relu → embedding [N, 32]
//                             (tabular rows: the penguins' 3 standardized measurements + island one-hot)
//   models/conv_encoder.onnx  image [N, 1, 28, 28] → Conv 8@3×3/2, Relu, Conv 16@3×3/2, Relu,
//                             GlobalAveragePool, Flatten → embedding [N, 16]
//   test/fixtures/onnx/int_output.onnx  features [N, 6] → ArgMax → label int64 [N] (no float output)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { mulberry32 as rng } from '../src/core/random';

const root = join(__dirname, '..');

/** A float32 initializer with values uniform in ±1/sqrt(fanIn) (torch.nn.Linear / Conv2d's default). */
function weight(name: string, dims: number[], fanIn: number, next: () => number): onnx.ITensorProto {
  const n = dims.reduce((a, b) => a * b, 1);
  const bound = 1 / Math.sqrt(fanIn);
  const data = Float32Array.from({ length: n }, () => (next() * 2 - 1) * bound);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer) };
}

const ints = (name: string, values: number[]): onnx.IAttributeProto => ({
  name,
  type: onnx.AttributeProto.AttributeType.INTS,
  ints: values,
});
const int = (name: string, value: number): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });

function valueInfo(name: string, elemType: number, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function save(file: string, graph: onnx.IGraphProto, doc: string): void {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'fuseloss scripts/make-backbones.ts',
    producerVersion: '1',
    docString: doc,
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  writeFileSync(join(root, file), bytes);
  console.log(`wrote ${file} (${bytes.length} bytes)`);
}

const F = onnx.TensorProto.DataType.FLOAT;

// ---- MLP encoder for tabular rows
{
  const next = rng(2026);
  save(
    'models/mlp_encoder.onnx',
    {
      name: 'mlp_encoder',
      node: [
        { opType: 'Gemm', input: ['features', 'w1', 'b1'], output: ['h1'], attribute: [int('transB', 1)] },
        { opType: 'Relu', input: ['h1'], output: ['a1'] },
        { opType: 'Gemm', input: ['a1', 'w2', 'b2'], output: ['h2'], attribute: [int('transB', 1)] },
        { opType: 'Relu', input: ['h2'], output: ['embedding'] },
      ],
      initializer: [
        weight('w1', [32, 6], 6, next),
        weight('b1', [32], 6, next),
        weight('w2', [32, 32], 32, next),
        weight('b2', [32], 32, next),
      ],
      input: [valueInfo('features', F, ['batch', 6])],
      output: [valueInfo('embedding', F, ['batch', 32])],
    },
    'A frozen MLP encoder for tabular rows: [batch, 6] → [batch, 32], seeded weights.',
  );
}

// ---- small conv encoder for 28×28 grey images
{
  const next = rng(1989);
  save(
    'models/conv_encoder.onnx',
    {
      name: 'conv_encoder',
      node: [
        {
          opType: 'Conv',
          input: ['image', 'k1', 'c1'],
          output: ['h1'],
          attribute: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])],
        },
        { opType: 'Relu', input: ['h1'], output: ['a1'] },
        {
          opType: 'Conv',
          input: ['a1', 'k2', 'c2'],
          output: ['h2'],
          attribute: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])],
        },
        { opType: 'Relu', input: ['h2'], output: ['a2'] },
        { opType: 'GlobalAveragePool', input: ['a2'], output: ['pooled'] },
        { opType: 'Flatten', input: ['pooled'], output: ['embedding'], attribute: [int('axis', 1)] },
      ],
      initializer: [
        weight('k1', [8, 1, 3, 3], 9, next),
        weight('c1', [8], 9, next),
        weight('k2', [16, 8, 3, 3], 72, next),
        weight('c2', [16], 72, next),
      ],
      input: [valueInfo('image', F, ['batch', 1, 28, 28])],
      output: [valueInfo('embedding', F, ['batch', 16])],
    },
    'A frozen conv encoder for 28×28 grey images: [batch, 1, 28, 28] → [batch, 16], seeded weights.',
  );
}

// ---- a model with no float output (for the backbone wrapper's errors)
save(
  'test/fixtures/onnx/int_output.onnx',
  {
    name: 'int_output',
    node: [{ opType: 'ArgMax', input: ['features'], output: ['label'], attribute: [int('axis', 1), int('keepdims', 0)] }],
    input: [valueInfo('features', F, ['batch', 6])],
    output: [valueInfo('label', onnx.TensorProto.DataType.INT64, ['batch'])],
  },
  'ArgMax over features: an int64 output only.',
);
