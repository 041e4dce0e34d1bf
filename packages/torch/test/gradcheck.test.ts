// Gradient checks: libtorch's analytic gradients (through autograd.grad and .backward) against
// central finite differences in float64, for every differentiable op family the API exposes.
// Plus grad-of-grad through createGraph, and the grad modes (noGrad, enableGrad, inferenceMode).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../src/index.js';

const F = torch.functional;
type Tensor = torch.Tensor;
const f64 = { dtype: 'float64' } as const;

// These inputs are far below libtorch's parallel grain size, so extra intra-op threads only add
// OpenMP synchronisation, which on a busy 2-core machine made this file 5-10x slower.
torch.setNumThreads(1);

interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Evaluate the finite differences with inputs that require grad (for fns that call autograd). */
  numericNeedsGrad?: boolean;
}

function asList(out: Tensor | Tensor[]): Tensor[] {
  return Array.isArray(out) ? out : [out];
}

/**
 * Checks d(sum_k <w_k, fn(inputs)_k>)/d(inputs) for fixed random weights w_k (a random
 * vector-Jacobian product, so every output element takes part) against central differences:
 * each element of each input is moved by ±eps and the projected output re-evaluated.
 * |analytic - numeric| <= atol + rtol * |numeric| must hold everywhere. The analytic gradient is
 * taken twice, by torch.autograd.grad and by loss.backward() into .grad, and both must agree.
 * Returns the largest absolute difference seen.
 */
function gradcheck(fn: (...inputs: Tensor[]) => Tensor | Tensor[], inputs: Tensor[], options: GradcheckOptions = {}): number {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, numericNeedsGrad = false } = options;
  return torch.tidy(() => {
    inputs.forEach((x, i) => assert.equal(x.dtype, 'float64', `gradcheck: input ${i} must be float64, got ${x.dtype}`));
    const leaves = inputs.map((x) => x.detach().clone().requiresGrad_(true));
    const outs = asList(fn(...leaves));
    assert.ok(outs.length > 0, 'gradcheck: fn returned no outputs');
    outs.forEach((o, k) => assert.equal(o.dtype, 'float64', `gradcheck: output ${k} must be float64, got ${o.dtype}`));
    const weights = outs.map((o) => torch.randn(o.shape, f64));
    const project = (ys: Tensor[]): Tensor => {
      assert.equal(ys.length, weights.length, 'gradcheck: fn returned a different number of outputs');
      return ys.map((y, k) => y.mul(weights[k]).sum()).reduce((a, b) => a.add(b));
    };
    const loss = project(outs);

    const viaGrad = torch.autograd.grad(loss, leaves, { retainGraph: true });
    loss.backward();
    const analytic = viaGrad.map((g, i) => {
      assert.ok(g !== null, `gradcheck: no gradient reached input ${i}`);
      assert.deepEqual(g.shape, inputs[i].shape, `gradcheck: gradient of input ${i} has the wrong shape`);
      const viaBackward = leaves[i].grad;
      assert.ok(viaBackward !== null, `gradcheck: backward() left input ${i} without .grad`);
      const a = g.toTypedArray() as Float64Array;
      const b = viaBackward.toTypedArray() as Float64Array;
      for (let j = 0; j < a.length; j++) {
        assert.ok(
          Math.abs(a[j] - b[j]) <= 1e-12 * (1 + Math.abs(a[j])),
          `gradcheck: autograd.grad and backward() differ at input ${i}[${j}]: ${a[j]} vs ${b[j]}`,
        );
      }
      return a;
    });

    const evaluate = (i: number, values: Float64Array): number =>
      torch.tidy(() => {
        const args = inputs.map((x, k) => {
          const t = k === i ? torch.tensor(values, { shape: x.shape, dtype: 'float64' }) : x.detach().clone();
          return numericNeedsGrad ? t.requiresGrad_(true) : t;
        });
        const run = () => project(asList(fn(...args))).item() as number;
        return numericNeedsGrad ? run() : torch.noGrad(run);
      });

    let worst = 0;
    const failures: string[] = [];
    inputs.forEach((x, i) => {
      const base = Float64Array.from(x.toTypedArray() as Float64Array);
      for (let j = 0; j < base.length; j++) {
        const plus = base.slice();
        plus[j] += eps;
        const minus = base.slice();
        minus[j] -= eps;
        const numeric = (evaluate(i, plus) - evaluate(i, minus)) / (2 * eps);
        const diff = Math.abs(analytic[i][j] - numeric);
        worst = Math.max(worst, diff);
        if (!(diff <= atol + rtol * Math.abs(numeric))) {
          failures.push(`input ${i} element ${j}: analytic ${analytic[i][j]}, numeric ${numeric}`);
        }
      }
    });
    assert.ok(failures.length === 0, `gradcheck failed at ${failures.length} element(s):\n  ${failures.slice(0, 8).join('\n  ')}`);
    return worst;
  });
}

// ---- inputs ----
const randn = (shape: number[]) => torch.randn(shape, f64);
/** Uniform in [lo, hi). */
const uniform = (shape: number[], lo: number, hi: number) =>
  torch
    .rand(shape, f64)
    .mul(hi - lo)
    .add(lo);
/** Magnitudes in [0.2, 1.2) with random signs: away from the kink at 0. */
const awayFromZero = (shape: number[]) => torch.tidy(() => uniform(shape, 0.2, 1.2).mul(torch.rand(shape, f64).lt(0.5).to('float64').mul(2).sub(1)));
const long = (data: torch.NestedArray<number>) => torch.tensor(data, { dtype: 'int64' });

/** Runs a check inside tidy with a fixed seed, asserting that it leaves no tensor behind. */
function check(name: string, body: () => void): void {
  test(name, () => {
    torch.manualSeed(0);
    const before = torch.memory().tensors;
    torch.tidy(body);
    assert.equal(torch.memory().tensors, before, `${name} leaked tensors`);
  });
}

describe('gradcheck helper', () => {
  check('passes on a correct gradient and reports a small error', () => {
    const worst = gradcheck((x) => x.mul(x).sum(), [randn([3])]);
    assert.ok(worst < 1e-7, `worst difference ${worst}`);
  });
  check('fails when the analytic gradient is wrong (detach hides a factor)', () => {
    // d/dx [x * stop_grad(x)] is x to autograd but 2x numerically.
    assert.throws(() => gradcheck((x) => x.mul(x.detach()), [awayFromZero([4])]), /gradcheck failed at 4 element/);
  });
  check('fails when an input does not reach the output', () => {
    assert.throws(() => gradcheck((x, _y) => x.exp(), [randn([2]), randn([2])]), /One of the differentiated Tensors appears to not have been used|no gradient/);
  });
  check('rejects float32 inputs', () => {
    assert.throws(() => gradcheck((x) => x.exp(), [torch.randn([2])]), /must be float64/);
  });
});

describe('pointwise arithmetic', () => {
  check('add (broadcast, alpha)', () => gradcheck((a, b) => a.add(b, 0.5), [randn([2, 3]), randn([3])]));
  check('add scalar', () => gradcheck((a) => a.add(2.5), [randn([2, 3])]));
  check('sub (broadcast, alpha)', () => gradcheck((a, b) => a.sub(b, 2), [randn([2, 1, 3]), randn([4, 1])]));
  check('mul', () => gradcheck((a, b) => a.mul(b), [randn([2, 3]), randn([2, 3])]));
  check('mul scalar', () => gradcheck((a) => a.mul(-1.5), [randn([4])]));
  check('div (denominator away from 0)', () => gradcheck((a, b) => a.div(b), [randn([2, 3]), awayFromZero([2, 3])]));
  check('div scalar', () => gradcheck((a) => a.div(3), [randn([4])]));
  check('pow scalar exponent', () => gradcheck((a) => a.pow(3), [randn([2, 3])]));
  check('pow fractional exponent of positives', () => gradcheck((a) => a.pow(1.5), [uniform([5], 0.5, 2)]));
  check('pow tensor exponent (base and exponent)', () => gradcheck((a, b) => a.pow(b), [uniform([2, 3], 0.5, 2), randn([2, 3])]));
  check('neg', () => gradcheck((a) => a.neg(), [randn([2, 3])]));
});

describe('unary math', () => {
  check('exp', () => gradcheck((x) => x.exp(), [randn([2, 3])]));
  check('log (positive inputs)', () => gradcheck((x) => x.log(), [uniform([2, 3], 0.5, 3)]));
  check('sqrt (positive inputs)', () => gradcheck((x) => x.sqrt(), [uniform([2, 3], 0.5, 3)]));
  check('abs (away from 0)', () => gradcheck((x) => x.abs(), [awayFromZero([2, 3])]));
  check('sigmoid', () => gradcheck((x) => x.sigmoid(), [randn([2, 3])]));
  check('tanh', () => gradcheck((x) => x.tanh(), [randn([2, 3])]));
  check('relu (away from 0)', () => gradcheck((x) => x.relu(), [awayFromZero([2, 3])]));
  check('leakyRelu (away from 0)', () => gradcheck((x) => x.leakyRelu(0.2), [awayFromZero([2, 3])]));
  check('clamp (inside the range)', () => gradcheck((x) => x.clamp(-2, 2), [uniform([2, 3], -1.5, 1.5)]));
  check('clamp (values on both sides of the bounds)', () => gradcheck((x) => x.clamp(-0.5, 0.5), [torch.tensor([-1.2, -0.3, 0.1, 0.4, 0.9, 2], f64)]));
});

describe('softmax', () => {
  check('softmax over dim 1', () => gradcheck((x) => x.softmax(1), [randn([2, 4])]));
  check('softmax over dim 0 of a 3-d tensor', () => gradcheck((x) => F.softmax(x, 0), [randn([3, 2, 2])]));
  check('logSoftmax over the last dim', () => gradcheck((x) => x.logSoftmax(-1), [randn([2, 4])]));
  check('logSoftmax over channels of [N, C, H, W]', () => gradcheck((x) => F.logSoftmax(x, 1), [randn([1, 3, 2, 2])]));
});

describe('matmul', () => {
  check('matrix x matrix', () => gradcheck((a, b) => a.matmul(b), [randn([2, 3]), randn([3, 4])]));
  check('batched x matrix (broadcast)', () => gradcheck((a, b) => torch.matmul(a, b), [randn([2, 2, 3]), randn([3, 2])]));
  check('matrix x vector', () => gradcheck((a, b) => a.matmul(b), [randn([3, 4]), randn([4])]));
  check('vector x vector', () => gradcheck((a, b) => a.matmul(b), [randn([4]), randn([4])]));
});

describe('reductions', () => {
  check('sum of all', () => gradcheck((x) => x.sum(), [randn([2, 3])]));
  check('sum over dims, keepdim', () => gradcheck((x) => x.sum([0, 2], true), [randn([2, 3, 2])]));
  check('mean of all', () => gradcheck((x) => x.mean(), [randn([2, 3])]));
  check('mean over dim', () => gradcheck((x) => x.mean(1), [randn([2, 3, 2])]));
  check('max with dim (values)', () => gradcheck((x) => x.max(1)[0], [randn([3, 4])]));
  check('max with dim, keepdim', () => gradcheck((x) => x.max(0, true)[0], [randn([3, 4])]));
  check('max of all', () => gradcheck((x) => x.max(), [randn([3, 4])]));
  check('min with dim (values)', () => gradcheck((x) => x.min(-1)[0], [randn([3, 4])]));
  check('min of all', () => gradcheck((x) => x.min(), [randn([3, 4])]));
});

describe('shape ops', () => {
  check('reshape', () => gradcheck((x) => x.reshape(3, 2, 2), [randn([2, 6])]));
  check('reshape with -1', () => gradcheck((x) => x.reshape([-1]), [randn([2, 3])]));
  check('permute', () => gradcheck((x) => x.permute(2, 0, 1), [randn([2, 3, 2])]));
  check('transpose', () => gradcheck((x) => x.transpose(0, 2), [randn([2, 3, 2])]));
  check('expand', () => gradcheck((x) => x.expand(2, 3, 4), [randn([3, 1])]));
  check('repeat', () => gradcheck((x) => x.repeat(2, 1, 3), [randn([2, 2])]));
  check('flip', () => gradcheck((x) => x.flip(0, 2), [randn([2, 2, 3])]));
  check('cat', () => gradcheck((a, b, c) => torch.cat([a, b, c], 1), [randn([2, 1]), randn([2, 3]), randn([2, 2])]));
  check('stack', () => gradcheck((a, b) => torch.stack([a, b], 1), [randn([2, 3]), randn([2, 3])]));
  check('split by size (all pieces)', () => gradcheck((x) => x.split(2, 1), [randn([2, 5])]));
  check('split by sizes (all pieces)', () => gradcheck((x) => x.split([1, 3], 0), [randn([4, 2])]));
  check('split, one piece used', () => gradcheck((x) => x.split(2)[1], [randn([5, 2])]));
  check('chunk', () => gradcheck((x) => x.chunk(3, 1), [randn([2, 6])]));
  check('narrow', () => gradcheck((x) => x.narrow(1, 1, 2), [randn([2, 4])]));
  check('slice with step', () => gradcheck((x) => x.slice(1, 1, null, 2), [randn([2, 6])]));
  check('slice with negative start', () => gradcheck((x) => x.slice(0, -2), [randn([4, 2])]));
  check('select', () => gradcheck((x) => x.select(1, 2), [randn([2, 3])]));
  check('squeeze/unsqueeze', () => gradcheck((x) => x.unsqueeze(0).squeeze(2), [randn([2, 1, 3])]));
  check('indexSelect (repeated indices accumulate)', () => gradcheck((x) => x.indexSelect(0, long([2, 0, 2])), [randn([3, 2])]));
  check('gather', () =>
    gradcheck(
      (x) =>
        x.gather(
          1,
          long([
            [0, 0, 2],
            [1, 2, 1],
          ]),
        ),
      [randn([2, 3])],
    ),
  );
  check('scatter (self and src)', () =>
    gradcheck(
      (x, src) =>
        x.scatter(
          1,
          long([
            [2, 0],
            [1, 2],
          ]),
          src,
        ),
      [randn([2, 3]), randn([2, 2])],
    ),
  );
  check('scatterAdd (duplicate targets)', () =>
    gradcheck(
      (x, src) =>
        x.scatterAdd(
          0,
          long([
            [0, 1, 0],
            [0, 1, 1],
          ]),
          src,
        ),
      [randn([2, 3]), randn([2, 3])],
    ),
  );
  check('pad constant', () => gradcheck((x) => F.pad(x, [1, 2, 0, 1], 'constant', 0.5), [randn([1, 2, 2, 3])]));
  check('pad reflect', () => gradcheck((x) => F.pad(x, [2, 1, 1, 2], 'reflect'), [randn([1, 2, 3, 4])]));
  check('pad replicate', () => gradcheck((x) => F.pad(x, [1, 1, 1, 0], 'replicate'), [randn([1, 1, 2, 3])]));
});

describe('where and maskedFill', () => {
  const cond = () =>
    torch.tensor([
      [true, false, true],
      [false, false, true],
    ]);
  check('where (both branches)', () => gradcheck((x, y) => torch.where(cond(), x, y), [randn([2, 3]), randn([2, 3])]));
  check('where (broadcast, scalar other)', () => gradcheck((x) => torch.where(cond(), x, 0.5), [randn([3])]));
  check('Tensor.where', () => gradcheck((x, y) => x.where(cond(), y), [randn([2, 3]), randn([1, 3])]));
  check('maskedFill', () => gradcheck((x) => x.maskedFill(cond(), -1), [randn([2, 3])]));
});

describe('conv2d', () => {
  check('plain, with bias', () => gradcheck((x, w, b) => F.conv2d(x, w, { bias: b }), [randn([1, 2, 4, 4]), randn([3, 2, 3, 3]), randn([3])]));
  check('stride 2, padding 1', () =>
    gradcheck((x, w, b) => F.conv2d(x, w, { bias: b, stride: 2, padding: 1 }), [randn([2, 2, 5, 5]), randn([2, 2, 3, 3]), randn([2])]),
  );
  check('dilation 2, asymmetric stride and padding', () =>
    gradcheck((x, w) => F.conv2d(x, w, { dilation: 2, stride: [1, 2], padding: [2, 1] }), [randn([1, 1, 5, 5]), randn([2, 1, 3, 3])]),
  );
  check('groups 2, with bias', () =>
    gradcheck((x, w, b) => F.conv2d(x, w, { bias: b, groups: 2, padding: 1 }), [randn([1, 4, 3, 3]), randn([4, 2, 3, 3]), randn([4])]),
  );
  check('depthwise 1x1 and 2x2 kernels', () => gradcheck((x, w) => F.conv2d(x, w, { groups: 2 }), [randn([1, 2, 3, 3]), randn([2, 1, 2, 2])]));
});

describe('convTranspose2d', () => {
  check('stride 2, with bias', () =>
    gradcheck((x, w, b) => F.convTranspose2d(x, w, { bias: b, stride: 2 }), [randn([1, 2, 3, 3]), randn([2, 3, 2, 2]), randn([3])]),
  );
  check('stride 2, padding 1, outputPadding 1', () =>
    gradcheck((x, w) => F.convTranspose2d(x, w, { stride: 2, padding: 1, outputPadding: 1 }), [randn([1, 2, 2, 3]), randn([2, 1, 3, 3])]),
  );
  check('groups 2, dilation 2', () => gradcheck((x, w) => F.convTranspose2d(x, w, { groups: 2, dilation: 2 }), [randn([1, 2, 2, 2]), randn([2, 1, 2, 2])]));
});

describe('pooling', () => {
  check('maxPool2d 2x2', () => gradcheck((x) => F.maxPool2d(x, 2), [randn([1, 2, 4, 4])]));
  check('maxPool2d 3x3, stride 2, padding 1', () => gradcheck((x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }), [randn([1, 1, 5, 5])]));
  check('maxPool2d ceilMode, dilation', () => gradcheck((x) => F.maxPool2d(x, 2, { stride: 2, ceilMode: true, dilation: [1, 2] }), [randn([1, 1, 5, 6])]));
  check('avgPool2d 2x2', () => gradcheck((x) => F.avgPool2d(x, 2), [randn([1, 2, 4, 4])]));
  check('avgPool2d padding, countIncludePad false', () =>
    gradcheck((x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }), [randn([1, 1, 5, 5])]),
  );
  check('avgPool2d ceilMode', () => gradcheck((x) => F.avgPool2d(x, [2, 3], { stride: 2, ceilMode: true }), [randn([1, 1, 5, 5])]));
  check('adaptiveAvgPool2d to 1x1', () => gradcheck((x) => F.adaptiveAvgPool2d(x, 1), [randn([2, 2, 3, 3])]));
  check('adaptiveAvgPool2d to a non-divisor size', () => gradcheck((x) => F.adaptiveAvgPool2d(x, [3, 2]), [randn([1, 2, 5, 5])]));
});

describe('interpolate', () => {
  check('bilinear, alignCorners false, by size', () =>
    gradcheck((x) => F.interpolate(x, { size: [5, 4], mode: 'bilinear', alignCorners: false }), [randn([1, 2, 3, 3])]),
  );
  check('bilinear, alignCorners true, by size', () =>
    gradcheck((x) => F.interpolate(x, { size: [5, 4], mode: 'bilinear', alignCorners: true }), [randn([1, 2, 3, 3])]),
  );
  check('bilinear, by scaleFactor, downsampling', () => gradcheck((x) => F.interpolate(x, { scaleFactor: 0.5, mode: 'bilinear' }), [randn([1, 1, 4, 6])]));
  check('nearest, by scaleFactor 2', () => gradcheck((x) => F.interpolate(x, { scaleFactor: 2 }), [randn([1, 2, 2, 3])]));
  check('nearest, by size (non-integer ratio)', () => gradcheck((x) => F.interpolate(x, { size: [5, 2], mode: 'nearest' }), [randn([1, 1, 3, 3])]));
});

describe('batchNorm (training)', () => {
  check('input, weight and bias', () =>
    gradcheck((x, w, b) => F.batchNorm(x, null, null, { training: true, weight: w, bias: b }), [randn([3, 2, 2, 2]), randn([2]), randn([2])]),
  );
  check('with running statistics being updated', () => {
    const runningMean = torch.zeros([2], f64);
    const runningVar = torch.ones([2], f64);
    gradcheck((x) => F.batchNorm(x, runningMean, runningVar, { training: true, momentum: 0.3 }), [randn([4, 2, 1, 2])]);
    assert.ok((runningMean.abs().sum().item() as number) > 0, 'running mean was not updated');
  });
  check('on [N, C] input', () => gradcheck((x) => F.batchNorm(x, null, null, { training: true, eps: 1e-3 }), [randn([4, 3])]));
});

describe('losses', () => {
  const target = () => long([2, 0, 1, 2]);
  check('crossEntropy', () => gradcheck((x) => F.crossEntropy(x, target()), [randn([4, 3])]));
  check('crossEntropy with class weights', () => gradcheck((x) => F.crossEntropy(x, target(), { weight: torch.tensor([0.2, 1, 3], f64) }), [randn([4, 3])]));
  check('crossEntropy with ignoreIndex', () => gradcheck((x) => F.crossEntropy(x, long([2, 255, 1, 255]), { ignoreIndex: 255 }), [randn([4, 3])]));
  check('crossEntropy with labelSmoothing', () => gradcheck((x) => F.crossEntropy(x, target(), { labelSmoothing: 0.1 }), [randn([4, 3])]));
  check('crossEntropy with weight, ignoreIndex and labelSmoothing, sum', () =>
    gradcheck(
      (x) => F.crossEntropy(x, long([2, -100, 1, 0]), { weight: torch.tensor([0.5, 2, 1], f64), labelSmoothing: 0.2, reduction: 'sum' }),
      [randn([4, 3])],
    ),
  );
  check('crossEntropy over [N, C, H, W] (segmentation), reduction none', () =>
    gradcheck(
      (x) =>
        F.crossEntropy(
          x,
          long([
            [
              [0, 2],
              [1, 255],
            ],
          ]),
          { ignoreIndex: 255, reduction: 'none' },
        ),
      [randn([1, 3, 2, 2])],
    ),
  );
  check('crossEntropy with class-probability targets', () =>
    gradcheck(
      (x) =>
        F.crossEntropy(
          x,
          torch.tensor(
            [
              [0.2, 0.3, 0.5],
              [1, 0, 0],
            ],
            f64,
          ),
        ),
      [randn([2, 3])],
    ),
  );
  check('nllLoss', () => gradcheck((x) => F.nllLoss(x, target()), [randn([4, 3])]));
  check('nllLoss with weight and ignoreIndex', () =>
    gradcheck((x) => F.nllLoss(x, long([2, 1, 1, 0]), { weight: torch.tensor([1, 2, 0.5], f64), ignoreIndex: 1 }), [randn([4, 3])]),
  );
  check('nllLoss over log-probabilities of [N, C, H, W]', () =>
    gradcheck(
      (x) =>
        F.nllLoss(
          x.logSoftmax(1),
          long([
            [
              [0, 2],
              [1, 1],
            ],
          ]),
        ),
      [randn([1, 3, 2, 2])],
    ),
  );
  check('binaryCrossEntropyWithLogits (input and target)', () =>
    gradcheck((x, t) => F.binaryCrossEntropyWithLogits(x, t), [randn([2, 3]), torch.rand([2, 3], f64)]),
  );
  check('binaryCrossEntropyWithLogits with weight and posWeight, sum', () =>
    gradcheck(
      (x) =>
        F.binaryCrossEntropyWithLogits(
          x,
          torch.tensor(
            [
              [0, 1, 1],
              [1, 0, 0],
            ],
            f64,
          ),
          {
            weight: torch.tensor([0.5, 1, 2], f64),
            posWeight: torch.tensor([3, 1, 0.5], f64),
            reduction: 'sum',
          },
        ),
      [randn([2, 3])],
    ),
  );
  check('mseLoss (input and target)', () => gradcheck((x, t) => F.mseLoss(x, t), [randn([2, 3]), randn([2, 3])]));
  check('mseLoss, reduction none', () => gradcheck((x, t) => F.mseLoss(x, t, { reduction: 'none' }), [randn([4]), randn([4])]));
  check('l1Loss (input away from target)', () => {
    const t = randn([2, 3]);
    gradcheck((x, y) => F.l1Loss(x, y), [t.add(awayFromZero([2, 3])), t]);
  });
  check('l1Loss, reduction sum', () => gradcheck((x) => F.l1Loss(x, torch.zeros([5], f64), { reduction: 'sum' }), [awayFromZero([5])]));
});

describe('composite', () => {
  check('a small conv net: conv, batchNorm, relu, pool, upsample, crossEntropy', () =>
    gradcheck(
      (x, w) => {
        const h = F.batchNorm(F.conv2d(x, w, { padding: 1 }), null, null, { training: true }).leakyRelu(0.1);
        const logits = F.interpolate(F.avgPool2d(h, 2), { size: [4, 4], mode: 'bilinear', alignCorners: false });
        return F.crossEntropy(
          logits,
          long([
            [
              [0, 1, 2, 0],
              [1, 1, 2, 2],
              [0, 0, 1, 255],
              [2, 1, 0, 0],
            ],
          ]),
          { ignoreIndex: 255 },
        );
      },
      [randn([1, 2, 4, 4]), randn([3, 2, 3, 3])],
    ),
  );
});

describe('higher-order gradients', () => {
  test('autograd.grad with createGraph: d/dx x^3 = 3x^2, d2/dx2 = 6x', () =>
    torch.tidy(() => {
      const x = torch.tensor([-1.5, 0.5, 2], { dtype: 'float64', requiresGrad: true });
      const [dx] = torch.autograd.grad(x.pow(3).sum(), x, { createGraph: true });
      assert.ok(dx !== null);
      assert.ok(dx.requiresGrad, 'first derivative should be part of a graph with createGraph');
      assert.deepEqual(dx.tolist(), [6.75, 0.75, 12]);
      const [ddx] = torch.autograd.grad(dx.sum(), x);
      assert.ok(ddx !== null);
      assert.deepEqual(ddx.tolist(), [-9, 3, 12]);
    }));

  test('without createGraph the first derivative carries no graph', () =>
    torch.tidy(() => {
      const x = torch.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
      const [dx] = torch.autograd.grad(x.pow(3).sum(), x);
      assert.ok(dx !== null);
      assert.equal(dx.requiresGrad, false);
      assert.equal(dx.gradFn, null);
      assert.throws(() => torch.autograd.grad(dx.sum(), x), /does not require grad/);
    }));

  test('backward with createGraph then grad of x.grad', () =>
    torch.tidy(() => {
      const x = torch.tensor([0.5, -2], { dtype: 'float64', requiresGrad: true });
      x.pow(3).sum().backward(undefined, { createGraph: true });
      const g = x.grad;
      assert.ok(g !== null && g.requiresGrad);
      assert.deepEqual(g.tolist(), [0.75, 12]);
      const [gg] = torch.autograd.grad(g.sum(), x);
      assert.deepEqual(gg?.tolist(), [3, -12]);
      x.grad = null;
    }));

  check('gradcheck of a gradient (grad of grad of sigmoid(x)*y)', () =>
    gradcheck(
      (x, y) => {
        const [dx] = torch.autograd.grad(x.sigmoid().mul(y).sum(), x, { createGraph: true });
        assert.ok(dx !== null);
        return dx;
      },
      [randn([3]), randn([3])],
      { numericNeedsGrad: true },
    ),
  );

  test('allowUnused gives null for an input that does not reach the output', () =>
    torch.tidy(() => {
      const x = torch.ones([2], { dtype: 'float64', requiresGrad: true });
      const y = torch.ones([2], { dtype: 'float64', requiresGrad: true });
      const [gx, gy] = torch.autograd.grad(x.mul(3).sum(), [x, y], { allowUnused: true });
      assert.deepEqual(gx?.tolist(), [3, 3]);
      assert.equal(gy, null);
    }));

  test('gradients accumulate across backward calls until cleared', () =>
    torch.tidy(() => {
      const x = torch.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
      x.mul(2).sum().backward();
      x.mul(3).sum().backward();
      assert.deepEqual(x.grad?.tolist(), [5, 5]);
      const loss = x.pow(2).sum();
      loss.backward(undefined, { retainGraph: true });
      loss.backward();
      assert.deepEqual(x.grad?.tolist(), [9, 13]);
      x.grad?.zero_();
      assert.deepEqual(x.grad?.tolist(), [0, 0]);
      x.grad = null;
      assert.equal(x.grad, null);
    }));

  test('backward with an explicit gradient for a non-scalar output', () =>
    torch.tidy(() => {
      const x = torch.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
      x.pow(2).backward(torch.tensor([1, 0.5, -1], f64));
      assert.deepEqual(x.grad?.tolist(), [2, 2, -6]);
    }));
});

describe('grad modes', () => {
  test('noGrad records no gradFn and restores the mode', () =>
    torch.tidy(() => {
      const x = torch.ones([2], { requiresGrad: true });
      assert.equal(torch.isGradEnabled(), true);
      const y = torch.noGrad(() => {
        assert.equal(torch.isGradEnabled(), false);
        return x.mul(2).add(1);
      });
      assert.equal(y.gradFn, null);
      assert.equal(y.requiresGrad, false);
      assert.equal(torch.isGradEnabled(), true);
      const z = x.mul(x);
      assert.equal(z.gradFn, 'MulBackward0');
      // The scalar overload (mul.Scalar) records its own node.
      assert.match(x.mul(2).gradFn ?? '', /^MulBackward\d$/);
      assert.equal(z.requiresGrad, true);
      assert.equal(z.isLeaf, false);
    }));

  test('noGrad restores the mode when fn throws', () => {
    assert.throws(
      () =>
        torch.noGrad(() => {
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal(torch.isGradEnabled(), true);
  });

  test('noGrad allows in-place updates of leaves that require grad (optimiser steps)', () =>
    torch.tidy(() => {
      const w = torch.ones([2], { requiresGrad: true });
      torch.noGrad(() => w.sub_(torch.tensor([0.5, 0.25])));
      assert.deepEqual(w.tolist(), [0.5, 0.75]);
      assert.equal(w.isLeaf, true);
      assert.equal(w.requiresGrad, true);
    }));

  test('enableGrad inside noGrad records again; nesting restores each level', () =>
    torch.tidy(() => {
      const x = torch.ones([2], { requiresGrad: true });
      torch.noGrad(() => {
        const y = torch.enableGrad(() => {
          assert.equal(torch.isGradEnabled(), true);
          return x.exp();
        });
        assert.equal(y.gradFn, 'ExpBackward0');
        assert.equal(torch.isGradEnabled(), false);
        assert.equal(x.exp().gradFn, null);
        torch.noGrad(() => assert.equal(torch.isGradEnabled(), false));
        assert.equal(torch.isGradEnabled(), false);
      });
      assert.equal(torch.isGradEnabled(), true);
    }));

  test('setGradEnabled switches recording off and on', () =>
    torch.tidy(() => {
      const x = torch.ones([2], { requiresGrad: true });
      torch.setGradEnabled(false);
      try {
        assert.equal(x.neg().gradFn, null);
      } finally {
        torch.setGradEnabled(true);
      }
      assert.equal(x.neg().gradFn, 'NegBackward0');
    }));

  test('inferenceMode: no graph, flag on only inside, and its tensors cannot join autograd later', () =>
    torch.tidy(() => {
      const x = torch.ones([2], { requiresGrad: true });
      assert.equal(torch.autograd.isInferenceMode(), false);
      const y = torch.inferenceMode(() => {
        assert.equal(torch.autograd.isInferenceMode(), true);
        assert.equal(torch.isGradEnabled(), false);
        return x.mul(3);
      });
      assert.equal(torch.autograd.isInferenceMode(), false);
      assert.equal(torch.isGradEnabled(), true);
      assert.equal(y.gradFn, null);
      assert.equal(y.requiresGrad, false);
      assert.deepEqual(y.tolist(), [3, 3]);
      const w = torch.ones([2], { requiresGrad: true });
      assert.throws(
        () => y.mul(w),
        (e: unknown) => e instanceof torch.TorchError && /Inference tensors cannot be saved for backward/.test(e.message),
      );
      // A clone made outside inference mode is a normal tensor again.
      const normal = y.clone();
      const loss = normal.mul(w).sum();
      loss.backward();
      assert.deepEqual(w.grad?.tolist(), [3, 3]);
    }));

  test('inferenceMode leaves the mode when fn throws, and rejects async functions', async () => {
    assert.throws(
      () =>
        torch.inferenceMode(() => {
          throw new Error('inner');
        }),
      /inner/,
    );
    assert.equal(torch.autograd.isInferenceMode(), false);
    assert.throws(
      () => torch.inferenceMode(async () => 1),
      (e: unknown) => e instanceof TypeError && /inferenceMode: fn must be synchronous/.test(e.message),
    );
    assert.equal(torch.autograd.isInferenceMode(), false);
  });

  test('detach cuts the graph; requiresGrad_ makes a new leaf', () =>
    torch.tidy(() => {
      const x = torch.ones([2], { requiresGrad: true });
      const d = x.mul(2).detach();
      assert.equal(d.requiresGrad, false);
      assert.equal(d.gradFn, null);
      assert.equal(d.isLeaf, true);
      d.requiresGrad_();
      d.mul(d).sum().backward();
      assert.deepEqual(d.grad?.tolist(), [4, 4]);
      assert.equal(x.grad, null);
    }));
});
