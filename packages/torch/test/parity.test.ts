// Op parity against PyTorch: test/fixtures/parity.json holds PyTorch's inputs, outputs and
// gradients (made by scripts/gen_parity_fixtures.py with Debian's PyTorch 1.13); each case is run
// through our API here and must agree. No Python is needed to run this test.
//
// Tolerance: |ours - torch| <= atol + RTOL * |torch| for float tensors (RTOL 1e-5, atol 1e-6),
// exact for ints and bools; no op needs more than 1e-5 relative (README "Parity tolerances").
// With the fixture's BLAS kernels and thread count (OPENBLAS_CORETYPE=Prescott OMP_NUM_THREADS=1)
// every value here is bit-identical to PyTorch's. Otherwise only summation order differs, in the
// BLAS-backed ops above all, whose rounding error scales with the summed terms rather than with
// the result; so matmul and the convolutions (outputs and gradients) get atol ATOL_BLAS = 5e-6 for
// near-zero results: with SkylakeX/Haswell kernels a conv2d gradient of 0.0166 is off by 4.8e-7
// (0.7x the plain atol), and other CPUs pick other kernels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/index.js';
import type { DType, Tensor } from '../src/index.js';

const F = torch.functional;
const RTOL = 1e-5;
const ATOL = 1e-6;
const ATOL_BLAS = 5e-6;
const BLAS_OPS = new Set(['matmul', 'Tensor.matmul', 'conv2d', 'convTranspose2d']);

// ---- fixture format ----------------------------------------------------------------------

type Value = number | string; // floats may be 'nan', 'inf', '-inf'

interface Encoded {
  shape: number[];
  dtype: DType;
  data?: Value[];
  strides?: number[];
  contiguous?: boolean;
}

interface EncodedInput extends Encoded {
  requiresGrad?: boolean;
}

type Output = { kind: 'tensors'; tensors: Encoded[] } | { kind: 'str'; value: string } | { kind: 'json'; value: unknown };

interface Case {
  id: string;
  op: string;
  inputs: EncodedInput[];
  kwargs: Record<string, unknown>;
  output: Output;
  shapeOnly?: boolean;
  weights?: (Encoded | null)[];
  grads?: (Encoded | null)[];
}

interface Fixture {
  meta: { torch: string; cases: number; ops: string[] };
  cases: Case[];
}

const here = dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(readFileSync(join(here, 'fixtures', 'parity.json'), 'utf8')) as Fixture;

function num(v: Value): number {
  if (typeof v === 'number') return v;
  if (v === 'nan') return NaN;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  throw new Error(`bad value in fixture: ${v}`);
}

/** The fixture's values as the typed array torch.tensor takes for that dtype. */
function typedData(e: Encoded): ArrayBufferView {
  const data = e.data ?? [];
  switch (e.dtype) {
    case 'float32':
      return Float32Array.from(data, num);
    case 'float64':
      return Float64Array.from(data, num);
    case 'int64':
      return BigInt64Array.from(data, (v) => BigInt(v));
    case 'int32':
      return Int32Array.from(data, num);
    case 'int16':
      return Int16Array.from(data, num);
    case 'int8':
      return Int8Array.from(data, num);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(data, num);
    default:
      throw new Error(`no fixture encoding for ${e.dtype}`);
  }
}

function decode(e: EncodedInput): Tensor {
  const t = torch.tensor(typedData(e), { shape: e.shape, dtype: e.dtype });
  if (e.requiresGrad) t.requiresGrad_(true);
  return t;
}

// ---- comparison --------------------------------------------------------------------------

function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

function compareTensor(what: string, actual: Tensor, expected: Encoded, shapeOnly = false, atol = ATOL): void {
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  if (expected.strides !== undefined) assert.deepEqual(actual.stride(), expected.strides, `${what}: strides`);
  if (expected.contiguous !== undefined) assert.equal(actual.isContiguous(), expected.contiguous, `${what}: contiguity`);
  if (shapeOnly) return;
  const got = actual.toTypedArray();
  const want = expected.data ?? [];
  assert.equal(got.length, want.length, `${what}: number of values`);
  const bad: string[] = [];
  let worst = 0;
  const f32 = expected.dtype === 'float32';
  for (let i = 0; i < want.length; i++) {
    const a = Number(got[i]);
    const b = f32 ? Math.fround(num(want[i])) : num(want[i]); // the float32 the digits stand for
    let ok: boolean;
    if (isFloat(expected.dtype)) {
      if (Number.isNaN(b)) ok = Number.isNaN(a);
      else if (!Number.isFinite(b)) ok = a === b;
      else {
        const err = Math.abs(a - b);
        ok = err <= atol + RTOL * Math.abs(b);
        worst = Math.max(worst, err / (atol + RTOL * Math.abs(b)));
      }
    } else {
      ok = a === b;
    }
    if (!ok && bad.length < 5) bad.push(`[${i}] ours ${a}, torch ${b}`);
    else if (!ok) bad.push('');
  }
  if (bad.length > 0) {
    assert.fail(`${what}: ${bad.length} of ${want.length} values differ (worst ${worst.toFixed(1)}x the tolerance): ${bad.filter(Boolean).join('; ')}`);
  }
}

// ---- op table: the same op names as OPS in scripts/gen_parity_fixtures.py ---------------------

type Kw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type OpFn = (x: Tensor[], k: Kw) => Tensor | Tensor[] | string | unknown;

/** The tensor op's second operand: input 1 if given, else the scalar kwarg `other`. */
const other = (x: Tensor[], k: Kw): Tensor | number => (x.length > 1 ? x[1] : k.other);

/** Seeds the default generator when the case says so (torch.manual_seed in the fixture). */
function seeded(k: Kw): void {
  if (k.seed !== undefined) torch.manualSeed(k.seed);
}

/** Runs an in-place op on a clone of x (so gradients reach x) and checks it returns the clone. */
function inPlace(x: Tensor, fn: (c: Tensor) => Tensor): Tensor {
  const c = x.clone();
  const r = fn(c);
  assert.ok(r === c, 'an in-place op must return the tensor it changed');
  return r;
}

const opts = (k: Kw): torch.TensorOptions => ({ dtype: k.dtype });

const OPS: Record<string, OpFn> = {
  // creation
  tensor: (_, k) => torch.tensor(k.data, opts(k)),
  zeros: (_, k) => torch.zeros(k.shape, opts(k)),
  ones: (_, k) => torch.ones(k.shape, opts(k)),
  empty: (_, k) => torch.empty(k.shape, opts(k)),
  full: (_, k) => torch.full(k.shape, k.value, opts(k)),
  arange: (_, k) => torch.arange(k.args[0], k.args[1], k.args[2] ?? 1, opts(k)),
  linspace: (_, k) => torch.linspace(k.start, k.end, k.steps, opts(k)),
  rand: (_, k) => (seeded(k), torch.rand(k.shape, opts(k))),
  randn: (_, k) => (seeded(k), torch.randn(k.shape, opts(k))),
  randint: (_, k) => (seeded(k), torch.randint(k.low, k.high, k.shape, opts(k))),
  zerosLike: (x, k) => torch.zerosLike(x[0], opts(k)),
  onesLike: (x, k) => torch.onesLike(x[0], opts(k)),
  emptyLike: (x, k) => torch.emptyLike(x[0], opts(k)),
  fullLike: (x, k) => torch.fullLike(x[0], k.value, opts(k)),
  randLike: (x, k) => (seeded(k), torch.randLike(x[0], opts(k))),
  randnLike: (x, k) => (seeded(k), torch.randnLike(x[0], opts(k))),
  randintLike: (x, k) => (seeded(k), torch.randintLike(x[0], k.low, k.high, opts(k))),
  // pointwise
  add: (x, k) => x[0].add(other(x, k), k.alpha),
  sub: (x, k) => x[0].sub(other(x, k), k.alpha),
  mul: (x, k) => x[0].mul(other(x, k)),
  div: (x, k) => x[0].div(other(x, k), k.roundingMode),
  neg: (x) => x[0].neg(),
  pow: (x, k) => x[0].pow(other(x, k)),
  exp: (x) => x[0].exp(),
  log: (x) => x[0].log(),
  sqrt: (x) => x[0].sqrt(),
  abs: (x) => x[0].abs(),
  clamp: (x, k) => x[0].clamp(k.min, k.max),
  sigmoid: (x) => x[0].sigmoid(),
  tanh: (x) => x[0].tanh(),
  relu: (x) => x[0].relu(),
  'F.relu': (x) => F.relu(x[0]),
  'F.sigmoid': (x) => F.sigmoid(x[0]),
  'F.tanh': (x) => F.tanh(x[0]),
  leakyRelu: (x, k) => F.leakyRelu(x[0], k.negativeSlope),
  softmax: (x, k) => x[0].softmax(k.dim, k.dtype),
  logSoftmax: (x, k) => x[0].logSoftmax(k.dim, k.dtype),
  'F.softmax': (x, k) => F.softmax(x[0], k.dim),
  'F.logSoftmax': (x, k) => F.logSoftmax(x[0], k.dim),
  matmul: (x) => torch.matmul(x[0], x[1]),
  'Tensor.matmul': (x) => x[0].matmul(x[1]),
  // reductions
  sum: (x, k) => x[0].sum(k.dim, k.keepdim, k.dtype),
  mean: (x, k) => x[0].mean(k.dim, k.keepdim, k.dtype),
  max: (x, k) => (k.dim === undefined ? x[0].max() : x[0].max(k.dim, k.keepdim)),
  min: (x, k) => (k.dim === undefined ? x[0].min() : x[0].min(k.dim, k.keepdim)),
  argmax: (x, k) => x[0].argmax(k.dim, k.keepdim),
  argmin: (x, k) => x[0].argmin(k.dim, k.keepdim),
  topk: (x, k) => x[0].topk(k.k, k.dim, k.largest, k.sorted),
  sort: (x, k) => x[0].sort(k.dim, k.descending, k.stable),
  cumsum: (x, k) => x[0].cumsum(k.dim, k.dtype),
  // comparison and logic
  eq: (x, k) => x[0].eq(other(x, k)),
  ne: (x, k) => x[0].ne(other(x, k)),
  lt: (x, k) => x[0].lt(other(x, k)),
  le: (x, k) => x[0].le(other(x, k)),
  gt: (x, k) => x[0].gt(other(x, k)),
  ge: (x, k) => x[0].ge(other(x, k)),
  logicalAnd: (x) => x[0].logicalAnd(x[1]),
  logicalOr: (x) => x[0].logicalOr(x[1]),
  logicalXor: (x) => x[0].logicalXor(x[1]),
  logicalNot: (x) => x[0].logicalNot(),
  where: (x, k) => torch.where(x[0], k.x, k.y),
  'Tensor.where': (x, k) => x[0].where(x[1], k.other),
  maskedFill: (x, k) => x[0].maskedFill(x[1], k.value),
  // shape and indexing
  reshape: (x, k) => x[0].reshape(k.shape),
  view: (x, k) => x[0].view(k.shape),
  permute: (x, k) => x[0].permute(k.dims),
  transpose: (x, k) => x[0].transpose(k.dim0, k.dim1),
  contiguous: (x, k) => x[0].transpose(k.dim0, k.dim1).contiguous(),
  squeeze: (x, k) => x[0].squeeze(k.dim),
  unsqueeze: (x, k) => x[0].unsqueeze(k.dim),
  expand: (x, k) => x[0].expand(k.shape),
  repeat: (x, k) => x[0].repeat(k.repeats),
  flip: (x, k) => x[0].flip(k.dims),
  cat: (x, k) => torch.cat(x, k.dim),
  stack: (x, k) => torch.stack(x, k.dim),
  split: (x, k) => x[0].split(k.splitSize, k.dim),
  chunk: (x, k) => x[0].chunk(k.chunks, k.dim),
  narrow: (x, k) => x[0].narrow(k.dim, k.start, k.length),
  slice: (x, k) => x[0].slice(k.dim, k.start, k.end, k.step),
  indexSelect: (x, k) => x[0].indexSelect(k.dim, x[1]),
  gather: (x, k) => x[0].gather(k.dim, x[1]),
  scatter: (x, k) => x[0].scatter(k.dim, x[1], x.length > 2 ? x[2] : k.value, k.reduce),
  scatterAdd: (x, k) => x[0].scatterAdd(k.dim, x[1], x[2]),
  oneHot: (x, k) => F.oneHot(x[0], k.numClasses),
  pad: (x, k) => F.pad(x[0], k.padding, k.mode, k.value),
  // nn.functional (kwargs are already the options objects, in our names)
  conv2d: (x, k) => F.conv2d(x[0], x[1], k),
  convTranspose2d: (x, k) => F.convTranspose2d(x[0], x[1], k),
  maxPool2d: (x, k) => F.maxPool2d(x[0], k.kernelSize, k),
  maxPool2dWithIndices: (x, k) => F.maxPool2dWithIndices(x[0], k.kernelSize, k),
  avgPool2d: (x, k) => F.avgPool2d(x[0], k.kernelSize, k),
  adaptiveAvgPool2d: (x, k) => F.adaptiveAvgPool2d(x[0], k.outputSize),
  interpolate: (x, k) => F.interpolate(x[0], k),
  batchNorm: (x, k) => {
    const rm: Tensor | null = k.runningMean ?? null;
    const rv: Tensor | null = k.runningVar ?? null;
    const out = F.batchNorm(x[0], rm, rv, k);
    // The running statistics are updated in place when training: compare them too.
    return [out, ...[rm, rv].filter((t): t is Tensor => t !== null)];
  },
  dropout: (x, k) => (seeded(k), F.dropout(x[0], k.p, k.training)),
  dropout2d: (x, k) => (seeded(k), F.dropout2d(x[0], k.p, k.training)),
  crossEntropy: (x, k) => F.crossEntropy(x[0], x[1], k),
  nllLoss: (x, k) => F.nllLoss(x[0], x[1], k),
  binaryCrossEntropyWithLogits: (x, k) => F.binaryCrossEntropyWithLogits(x[0], x[1], k),
  mseLoss: (x, k) => F.mseLoss(x[0], x[1], k),
  l1Loss: (x, k) => F.l1Loss(x[0], x[1], k),
  // in-place
  add_: (x, k) => inPlace(x[0], (c) => c.add_(other(x, k), k.alpha)),
  mul_: (x, k) => inPlace(x[0], (c) => c.mul_(other(x, k))),
  addcmul_: (x, k) => inPlace(x[0], (c) => c.addcmul_(x[1], x[2], k.value)),
  addcdiv_: (x, k) => inPlace(x[0], (c) => c.addcdiv_(x[1], x[2], k.value)),
  sqrt_: (x) => inPlace(x[0], (c) => c.sqrt_()),
  zero_: (x) => inPlace(x[0], (c) => c.zero_()),
  fill_: (x, k) => inPlace(x[0], (c) => c.fill_(k.value)),
  copy_: (x) => inPlace(x[0], (c) => c.copy_(x[1])),
  clamp_: (x, k) => inPlace(x[0], (c) => c.clamp_(k.min, k.max)),
  lerp_: (x, k) => inPlace(x[0], (c) => c.lerp_(x[1], x.length > 2 ? x[2] : k.weight)),
  maximum_: (x) => inPlace(x[0], (c) => c.maximum_(x[1])),
  // beyond the required list: the rest of the Tensor and functional API
  eye: (_, k) => torch.eye(k.n, opts(k)),
  randperm: (_, k) => (seeded(k), torch.randperm(k.n, opts(k))),
  uniform_: (x, k) => inPlace(x[0], (c) => (seeded(k), c.uniform_(k.from, k.to))),
  normal_: (x, k) => inPlace(x[0], (c) => (seeded(k), c.normal_(k.mean, k.std))),
  to: (x, k) => x[0].to(k.dtype),
  detach: (x) => x[0].detach(),
  rsqrt: (x) => x[0].rsqrt(),
  sign: (x) => x[0].sign(),
  floor: (x) => x[0].floor(),
  ceil: (x) => x[0].ceil(),
  round: (x) => x[0].round(),
  square: (x) => x[0].square(),
  reciprocal: (x) => x[0].reciprocal(),
  maximum: (x) => x[0].maximum(x[1]),
  minimum: (x) => x[0].minimum(x[1]),
  lerp: (x, k) => x[0].lerp(x[1], x.length > 2 ? x[2] : k.weight),
  var: (x, k) => x[0].var(k.dim, k.keepdim, k.unbiased),
  std: (x, k) => x[0].std(k.dim, k.keepdim, k.unbiased),
  argsort: (x, k) => x[0].argsort(k.dim, k.descending),
  all: (x) => x[0].all(),
  any: (x) => x[0].any(),
  isnan: (x) => x[0].isnan(),
  isfinite: (x) => x[0].isfinite(),
  flatten: (x, k) => x[0].flatten(k.startDim, k.endDim),
  select: (x, k) => x[0].select(k.dim, k.index),
  T: (x) => x[0].T,
  expandAs: (x) => x[0].expandAs(x[1]),
  maskedSelect: (x) => x[0].maskedSelect(x[1]),
  index: (x, k) => x[0].index((k.indices as (number | null)[]).map((i) => (i === null ? null : x[i]))),
  nonzero: (x) => x[0].nonzero(),
  unique: (x) => x[0].unique(true, true, true),
  'unique.values': (x) => x[0].unique()[0],
  groupNorm: (x, k) => F.groupNorm(x[0], k.numGroups, k.weight, k.bias, k.eps),
  sub_: (x, k) => inPlace(x[0], (c) => c.sub_(other(x, k), k.alpha)),
  div_: (x, k) => inPlace(x[0], (c) => c.div_(other(x, k))),
  neg_: (x) => inPlace(x[0], (c) => c.neg_()),
  relu_: (x) => inPlace(x[0], (c) => c.relu_()),
  maskedFill_: (x, k) => inPlace(x[0], (c) => c.maskedFill_(x[1], k.value)),
  scatter_: (x, k) => inPlace(x[0], (c) => c.scatter_(k.dim, x[1], x.length > 2 ? x[2] : k.value)),
  scatterAdd_: (x, k) => inPlace(x[0], (c) => c.scatterAdd_(k.dim, x[1], x[2])),
  indexPut_: (x, k) =>
    inPlace(x[0], (c) =>
      c.indexPut_(
        (k.indices as number[]).map((i) => x[i]),
        x[k.values],
        k.accumulate,
      ),
    ),
  // reading and printing
  tolist: (x) => x[0].tolist(),
  item: (x) => x[0].item(),
  str: (x) => x[0].toString(),
  'str.mul': (x) => x[0].mul(x[1]).toString(),
  'str.to': (x, k) => x[0].to(k.dtype).toString(),
};

// ---- running the cases ---------------------------------------------------------------------

function resolve(value: unknown, inputs: Tensor[]): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && '$input' in value) {
    return inputs[(value as { $input: number }).$input];
  }
  return value;
}

function flattenOutputs(result: unknown): Tensor[] {
  if (Array.isArray(result)) return result.flatMap(flattenOutputs);
  if (result !== null && typeof result === 'object' && (result as { isTensor?: boolean }).isTensor === true) return [result as Tensor];
  throw new Error(`op returned ${typeof result}, expected tensors`);
}

function runCase(c: Case): void {
  const fn = OPS[c.op];
  assert.ok(fn !== undefined, `no TS mapping for op '${c.op}'`);
  const inputs = c.inputs.map(decode);
  const kwargs: Kw = {};
  for (const [key, v] of Object.entries(c.kwargs)) kwargs[key] = resolve(v, inputs);
  const result = fn(inputs, kwargs);

  if (c.output.kind === 'str') {
    assert.equal(result, c.output.value);
    return;
  }
  if (c.output.kind === 'json') {
    assert.deepStrictEqual(result, c.output.value);
    return;
  }
  const outs = flattenOutputs(result);
  const expected = c.output.tensors;
  assert.equal(outs.length, expected.length, 'number of outputs');
  const atol = BLAS_OPS.has(c.op) ? ATOL_BLAS : ATOL;
  outs.forEach((t, i) => compareTensor(`output ${i}`, t, expected[i], c.shapeOnly, atol));

  if (c.grads === undefined || c.weights === undefined) return;
  let loss: Tensor | null = null;
  c.weights.forEach((w, i) => {
    if (w === null) return;
    const term = outs[i].mul(decode(w)).sum();
    loss = loss === null ? term : loss.add(term);
  });
  assert.ok(loss !== null, 'a differentiable case needs a weighted output');
  (loss as Tensor).backward();
  c.grads.forEach((g, i) => {
    if (g === null) return;
    const grad = inputs[i].grad;
    assert.ok(grad !== null, `input ${i} got no gradient`);
    compareTensor(`grad of input ${i}`, grad, g, false, atol);
  });
}

test('parity fixture covers every op in the TS table', () => {
  const fixtureOps = new Set(fixture.cases.map((c) => c.op));
  assert.deepEqual(
    [...fixtureOps].filter((op) => !(op in OPS)),
    [],
    'fixture ops with no TS mapping',
  );
  assert.deepEqual(
    Object.keys(OPS).filter((op) => !fixtureOps.has(op)),
    [],
    'TS ops with no fixture case',
  );
});

for (const c of fixture.cases) {
  test(`${c.op}: ${c.id}`, () => {
    const before = torch.memory().tensors;
    torch.tidy(() => runCase(c));
    assert.equal(torch.memory().tensors, before, 'tensors leaked');
  });
}
