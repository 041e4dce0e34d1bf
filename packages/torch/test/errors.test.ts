// Bad calls: each must be a catchable error (TorchError from libtorch, TypeError from argument
// checks) whose message names the op and what was expected, must not leak tensor handles, and
// must leave the process alive: the last test runs normal ops after all of them.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../src/index.js';

const F = torch.functional;
type Tensor = torch.Tensor;
type ErrorClass = typeof torch.TorchError | TypeErrorConstructor;

const long = (data: torch.NestedArray<number>) => torch.tensor(data, { dtype: 'int64' });

/**
 * Runs fn inside tidy and asserts that it throws an instance of `cls` (a TypeError must not be a
 * TorchError and vice versa), that the message matches `message` and starts with the op that
 * the error carries in `.op`, and that no tensor handle or scope is left behind.
 */
function expectError(fn: () => unknown, cls: ErrorClass, message: RegExp, op?: string | RegExp): void {
  const before = torch.memory();
  let caught: unknown;
  try {
    torch.tidy(() => {
      fn();
    });
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected a ${cls.name} matching ${message}, but nothing was thrown`);
  assert.ok(caught instanceof cls, `expected a ${cls.name}, got ${(caught as Error)?.constructor?.name}: ${(caught as Error)?.message}`);
  if (cls === TypeError) assert.ok(!(caught instanceof torch.TorchError), 'an argument check should be a plain TypeError');
  const err = caught as Error & { op?: unknown };
  assert.match(err.message, message);
  assert.equal(typeof err.op, 'string', `the error should carry the op name, message: ${err.message}`);
  assert.ok(err.message.startsWith(`${err.op as string}: `), `the message should start with the op name '${String(err.op)}': ${err.message}`);
  if (op !== undefined) {
    if (typeof op === 'string') assert.equal(err.op, op);
    else assert.match(err.op as string, op);
  }
  const after = torch.memory();
  assert.equal(after.tensors, before.tensors, `the failed call leaked ${after.tensors - before.tensors} tensor handle(s)`);
  assert.equal(after.bytes, before.bytes, 'the failed call leaked tensor bytes');
  assert.equal(after.scopes, 0, 'a scope was left open');
}

const TorchError = torch.TorchError;
const startMemory = torch.memory();

describe('shapes and broadcasting', () => {
  test('mismatched broadcast shapes', () => {
    expectError(
      () => torch.ones([2, 3]).add(torch.ones([4, 3])),
      TorchError,
      /The size of tensor a \(2\) must match the size of tensor b \(4\) at non-singleton dimension 0/,
      'add.Tensor',
    );
    expectError(() => torch.ones([2, 3]).mul(torch.ones([3, 2])), TorchError, /must match the size of tensor b/, 'mul.Tensor');
    expectError(() => torch.where(torch.tensor([true, false]), torch.ones([3]), 0), TorchError, /must match the size/);
  });

  test('matmul inner-dimension mismatch', () => {
    expectError(() => torch.ones([2, 3]).matmul(torch.ones([2, 2])), TorchError, /shapes cannot be multiplied \(2x3 and 2x2\)/, 'matmul');
    expectError(() => torch.matmul(torch.ones([]), torch.ones([])), TorchError, /both arguments to matmul need to be at least 1D/, 'matmul');
  });

  test('reshape to an incompatible size', () => {
    expectError(() => torch.ones([2, 3]).reshape(4, 2), TorchError, /shape '\[4, 2\]' is invalid for input of size 6/, 'reshape');
    expectError(() => torch.ones([6]).reshape(-1, -1), TorchError, /only one dimension can be inferred/, 'reshape');
  });

  test('view on a non-contiguous tensor', () =>
    expectError(
      () => torch.ones([2, 3]).transpose(0, 1).view(6),
      TorchError,
      /view size is not compatible with input tensor's size and stride.*Use \.reshape/,
      'view',
    ));

  test('cat and stack of mismatched shapes', () => {
    expectError(
      () => torch.cat([torch.ones([2, 3]), torch.ones([2, 4])]),
      TorchError,
      /Sizes of tensors must match except in dimension 0\. Expected size 3 but got size 4 for tensor number 1/,
      'cat',
    );
    expectError(
      () => torch.stack([torch.ones([2]), torch.ones([3])]),
      TorchError,
      /stack expects each tensor to be equal size, but got \[2\] at entry 0 and \[3\] at entry 1/,
      'stack',
    );
    expectError(() => torch.cat([]), TypeError, /cat: expected a non-empty array of tensors/);
  });

  test('dim out of range', () => {
    expectError(() => torch.ones([2, 3]).sum(5), TorchError, /Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)/, 'sum.dim_IntList');
    expectError(() => torch.ones([2, 3]).softmax(2), TorchError, /Dimension out of range/, 'softmax.int');
    expectError(
      () => torch.ones([2, 3]).transpose(0, -3),
      TorchError,
      /Dimension out of range \(expected to be in range of \[-2, 1\], but got -3\)/,
      'transpose.int',
    );
    expectError(() => torch.ones([2]).size(3), TypeError, /size: dim 3 is out of range for a 1-d tensor/);
  });

  test('expand, permute, narrow and select out of bounds', () => {
    expectError(
      () => torch.ones([2, 3]).expand(4, 3),
      TorchError,
      /expanded size of the tensor \(4\) must match the existing size \(2\) at non-singleton dimension 0/,
      'expand',
    );
    expectError(() => torch.ones([2, 3]).permute(0, 0), TorchError, /duplicate dims are not allowed/, 'permute');
    expectError(() => torch.ones([3]).narrow(0, 2, 5), TorchError, /start \(2\) \+ length \(5\) exceeds dimension size \(3\)/, 'narrow');
    expectError(() => torch.ones([3]).select(0, 3), TorchError, /index 3 out of range for tensor of size \[3\] at dimension 0/, 'select.int');
  });

  test('split with size 0, chunk with 0, split sizes that do not add up', () => {
    expectError(() => torch.ones([4]).split(0), TypeError, /split: splitSize must be positive, got 0/);
    expectError(() => torch.ones([4]).chunk(0), TypeError, /chunk: chunks must be positive, got 0/);
    expectError(() => torch.ones([5]).split([2, 2]), TorchError, /split_sizes to sum exactly to 5/, 'split_with_sizes');
  });

  test('topk with k larger than the dimension', () => {
    expectError(() => torch.ones([2, 3]).topk(5), TypeError, /topk: k \(5\) must not exceed the size of dim -1 \(3\) of a tensor of shape \[2,3\]/);
    expectError(() => torch.ones([2, 3]).topk(3, 0), TypeError, /topk: k \(3\) must not exceed the size of dim 0 \(2\)/);
    expectError(() => torch.ones([3]).topk(-1), TypeError, /topk: k must be non-negative, got -1/);
  });
});

describe('creation', () => {
  test('negative sizes', () => {
    expectError(() => torch.zeros([-1, 2]), TypeError, /zeros: shape must not hold negative sizes, got \[-1,2\]/);
    expectError(() => torch.randn([2, -3]), TypeError, /randn: shape must not hold negative sizes/);
    expectError(() => torch.randperm(-1), TorchError, /Trying to create tensor with negative dimension -1/, 'randperm');
    expectError(() => torch.eye(-2), TorchError, /n must be greater or equal to 0, got -2/, 'eye');
  });

  test('non-integer sizes', () => {
    expectError(() => torch.zeros([1.5, 2]), TypeError, /zeros: shape\[0\] must be an integer, got 1\.5/);
    expectError(() => torch.ones([2, 3]).reshape(3, 2.5), TypeError, /reshape: dims\[1\] must be an integer, got 2\.5/);
    expectError(() => torch.zeros(3 as unknown as number[]), TypeError, /zeros: shape must be an array of integers, got 3/);
  });

  test('NaN and infinite sizes', () => {
    expectError(() => torch.zeros([NaN, 2]), TypeError, /zeros: shape\[0\] must be an integer, got NaN/);
    expectError(() => torch.ones([Infinity]), TypeError, /ones: shape\[0\] must be an integer, got Infinity/);
    expectError(() => torch.tensor([1, 2], { shape: [NaN] }), TypeError, /tensor: shape\[0\] must be an integer, got NaN/);
  });

  test('huge allocations throw instead of aborting', () => {
    expectError(() => torch.zeros([1e6, 1e6, 1e6]), TorchError, /can't allocate memory: you tried to allocate 4000000000000000000 bytes/, 'zeros');
    expectError(() => torch.zeros([1e10, 1e10]), TorchError, /Storage size calculation overflowed with sizes=\[10000000000, 10000000000\]/, 'zeros');
    expectError(() => torch.arange(1e13), TorchError, /can't allocate memory/);
  });

  test('unknown dtype', () => {
    expectError(() => torch.zeros([2], { dtype: 'float128' as torch.DType }), TypeError, /zeros: unknown dtype 'float128'/);
    expectError(() => torch.tensor([1], { dtype: 'complex64' as torch.DType }), TypeError, /tensor: unknown dtype 'complex64'/);
    expectError(
      () => torch.ones([2]).to('float128' as torch.DType),
      TypeError,
      /to: 'float128' is neither a dtype \(float32, .*\) nor a device \(cpu, cuda, cuda:N\)/,
    );
  });

  test('wrong data length for a shape', () => {
    expectError(() => torch.tensor([1, 2, 3], { shape: [2, 2] }), TypeError, /tensor: shape \[2,2\] needs 4 values, data has 3/);
    expectError(() => torch.tensor(new Float32Array(5), { shape: [2, 3] }), TypeError, /tensor: shape \[2,3\] needs 6 values, data has 5/);
  });

  test('ragged nested arrays and bad values', () => {
    expectError(() => torch.tensor([[1, 2], [3]]), TypeError, /tensor: nested arrays are ragged: length 1 at depth 1, expected 2/);
    expectError(() => torch.tensor([[1, 2], 3] as unknown as number[][]), TypeError, /tensor: nested arrays are ragged: a value at depth 1, expected depth 2/);
    expectError(() => torch.tensor(['a'] as unknown as number[]), TypeError, /tensor: values must be numbers or booleans, got string/);
    expectError(() => torch.tensor([1.5], { dtype: 'int64' }), TypeError, /tensor: value 1\.5 at index 0 is not an integer \(dtype int64\)/);
  });

  test('manualSeed with a negative or non-integer seed', () => {
    expectError(() => torch.manualSeed(-1), TypeError, /manualSeed: seed must be a non-negative integer, got -1/);
    expectError(() => torch.manualSeed(0.5), TypeError, /manualSeed: seed must be a non-negative integer, got 0\.5/);
    expectError(() => torch.manualSeed('7' as unknown as number), TypeError, /manualSeed: seed must be a non-negative integer, got the string '7'/);
  });

  test('other creation arguments: ranges, threads', () => {
    expectError(() => torch.arange(5, 0), TypeError, /arange: an empty or backwards range: start 5, end 0, step 1/);
    expectError(() => torch.randint(3, 3, [2]), TypeError, /randint: high \(3\) must be greater than low \(3\)/);
    expectError(() => torch.setNumThreads(0), TypeError, /setNumThreads: threads must be a positive integer, got 0/);
  });
});

describe('argument types', () => {
  test('a non-Tensor where a Tensor is expected', () => {
    expectError(() => torch.ones([2, 2]).matmul([1, 2] as unknown as Tensor), TypeError, /matmul: other must be a Tensor, got an array of length 2/);
    expectError(() => F.conv2d(torch.ones([1, 1, 3, 3]), 'w' as unknown as Tensor), TypeError, /conv2d: weight must be a Tensor, got the string 'w'/);
    expectError(() => torch.cat([torch.ones([1]), 5 as unknown as Tensor]), TypeError, /cat: tensors\[1\] must be a Tensor, got 5/);
    expectError(() => torch.ones([2]).add({} as unknown as Tensor), TypeError, /add: other must be a Tensor, a number or a boolean, got an object/);
    expectError(() => F.crossEntropy(torch.ones([2, 3]), null as unknown as Tensor), TypeError, /crossEntropy: target must be a Tensor, got null/);
  });

  test('a string where a number is expected', () => {
    expectError(() => torch.ones([2]).mul('2' as unknown as number), TypeError, /mul: other must be a Tensor, a number or a boolean, got the string '2'/);
    expectError(() => torch.ones([2]).softmax('0' as unknown as number), TypeError, /softmax: dim must be an integer, got the string '0'/);
    expectError(() => torch.zeros([2, '3' as unknown as number]), TypeError, /zeros: shape\[1\] must be an integer, got the string '3'/);
    expectError(
      () => torch.ones([2]).leakyRelu('0.1' as unknown as number),
      TypeError,
      /leaky_relu: argument 'negative_slope' of aten::leaky_relu must be a number/,
    );
    expectError(
      () => F.conv2d(torch.ones([1, 1, 4, 4]), torch.ones([1, 1, 2, 2]), { stride: '2' as unknown as number }),
      TypeError,
      /conv2d: stride must be an integer or a pair of integers/,
    );
  });

  test('a missing operand', () => {
    expectError(() => torch.ones([2]).sub(undefined as unknown as number), TypeError, /sub: other must be a Tensor, a number or a boolean, got undefined/);
    expectError(() => torch.callOp('add.Tensor', [torch.ones([1])]), TypeError, /add\.Tensor: missing argument 'other' of aten::add\.Tensor/);
    expectError(() => torch.callOp('neg', [torch.ones([1]), 1, 2]), TypeError, /neg: takes at most 1 arguments, got 3/);
    expectError(() => torch.callOp('no_such_op', []), TorchError, /aten::no_such_op: no operator with this schema name/);
  });

  test('a disposed tensor as an argument or receiver', () => {
    const dead = torch.ones([2]);
    dead.dispose();
    expectError(() => torch.ones([2]).add(dead), TorchError, /add\.Tensor: argument 'other' of aten::add\.Tensor is a disposed tensor/, 'add.Tensor');
    expectError(() => dead.exp(), TorchError, /exp: argument 'self' of aten::exp is a disposed tensor/, 'exp');
    expectError(() => torch.stack([torch.ones([2]), dead]), TorchError, /stack: argument 'tensors' of aten::stack\[1\] is a disposed tensor/, 'stack');
    expectError(() => dead.toTypedArray(), TorchError, /toTypedArray: the tensor is a disposed tensor/, 'toTypedArray');
    expectError(() => dead.item(), TorchError, /item: the tensor is a disposed tensor/, 'item');
    expectError(() => dead.tolist(), TorchError, /tolist: the tensor is a disposed tensor/, 'tolist');
  });

  test('scope functions given something else than they expect', () => {
    expectError(() => torch.keep(5 as unknown as Tensor), TypeError, /keep: expected a Tensor/);
    expectError(() => torch.tidy('fn' as unknown as () => void), TypeError, /tidy: expected a function/);
    expectError(() => torch.tidy((async () => undefined) as unknown as () => void), TypeError, /tidy: fn returned a Promise; use asyncScope/);
  });

  test('a float mask for maskedFill (libtorch 1.13 would silently fill nothing)', () => {
    expectError(() => torch.zeros([3]).maskedFill(torch.tensor([1, 0, 1]), 5), TypeError, /maskedFill: mask must be a bool tensor, got float32/);
    expectError(() => torch.zeros([3]).maskedFill_(torch.tensor([1, 0, 1]), 5), TypeError, /maskedFill_: mask must be a bool tensor, got float32/);
    expectError(
      () => torch.where(torch.ones([3]), torch.ones([3]), 0),
      TorchError,
      /where expected condition to be a boolean tensor, but got a tensor with dtype Float/,
    );
  });
});

describe('indexing', () => {
  test('indexSelect with an index out of range', () => {
    expectError(
      () => torch.ones([2, 3]).indexSelect(0, long([0, 5])),
      TorchError,
      /index 5 is out of range for dimension 0 with size 2 \(expected indices in \[0, 1\]\)/,
      'index_select',
    );
    expectError(() => torch.ones([2, 3]).indexSelect(1, long([-1])), TorchError, /index -1 is out of range for dimension 1 with size 3/, 'index_select');
    expectError(
      () => torch.ones([2, 3]).indexSelect(0, torch.tensor([0])),
      TorchError,
      /index_select\(\): Expected dtype int(32 or int)?64 for index/,
      'index_select',
    );
  });

  test('gather, scatter and index with an index out of range', () => {
    expectError(() => torch.ones([2, 3]).gather(1, long([[5]])), TorchError, /index 5 is out of bounds for dimension 1 with size 3/, 'gather');
    expectError(
      () => torch.zeros([3]).scatter(0, long([5]), torch.ones([1])),
      TorchError,
      /index 5 is out of bounds for dimension 0 with size 3/,
      'scatter.src',
    );
    expectError(() => torch.zeros([3]).scatterAdd(0, torch.tensor([1]), torch.ones([1])), TorchError, /Expected dtype int64 for index/, 'scatter_add');
    expectError(() => torch.ones([3]).index([long([4])]), TorchError, /index 4 is out of bounds for dimension 0 with size 3/, 'index.Tensor');
  });
});

describe('nn functions', () => {
  test('conv2d with the wrong channel count', () => {
    expectError(
      () => F.conv2d(torch.ones([1, 3, 5, 5]), torch.ones([4, 2, 3, 3])),
      TorchError,
      /weight of size \[4, 2, 3, 3\], expected input\[1, 3, 5, 5\] to have 2 channels, but got 3 channels instead/,
      'conv2d',
    );
    expectError(
      () => F.conv2d(torch.ones([1, 3, 5, 5]), torch.ones([4, 1, 3, 3]), { groups: 2 }),
      TorchError,
      /Given groups=2.*to have 2 channels, but got 3/,
      'conv2d',
    );
  });

  test('conv2d on a 2-d input', () =>
    expectError(
      () => F.conv2d(torch.ones([5, 5]), torch.ones([4, 3, 3, 3])),
      TorchError,
      /Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: \[5, 5\]/,
      'conv2d',
    ));

  test('conv2d and pooling arguments', () => {
    expectError(
      () => F.conv2d(torch.ones([1, 1, 2, 2]), torch.ones([1, 1, 3, 3])),
      TorchError,
      /Kernel size: \(3 x 3\)\. Kernel size can't be greater than actual input size/,
      'conv2d',
    );
    expectError(() => F.conv2d(torch.ones([1, 1, 4, 4]), torch.ones([1, 1, 2, 2]), { stride: 0 }), TypeError, /conv2d: stride must be positive, got \[0,0\]/);
    expectError(() => F.conv2d(torch.ones([1, 1, 4, 4]), torch.ones([1, 1, 2, 2]), { groups: 0 }), TypeError, /conv2d: groups must be positive, got 0/);
    expectError(() => F.maxPool2d(torch.ones([1, 1, 2, 2]), 5), TorchError, /Output size is too small/, 'max_pool2d');
    expectError(() => F.adaptiveAvgPool2d(torch.ones([1, 1, 2, 2]), 0), TypeError, /adaptiveAvgPool2d: outputSize must be positive, got \[0,0\]/);
    expectError(
      () => F.pad(torch.ones([1, 1, 2, 2]), [3, 3, 3, 3], 'reflect'),
      TorchError,
      /Padding size should be less than the corresponding input dimension/,
      'pad',
    );
    expectError(() => F.pad(torch.ones([1, 2]), [1, 1, 1]), TypeError, /pad: padding must have an even number of entries/);
  });

  test('interpolate without size or scaleFactor (and with both)', () => {
    const x = () => torch.ones([1, 1, 2, 2]);
    expectError(() => F.interpolate(x(), {}), TypeError, /interpolate: give exactly one of size and scaleFactor/);
    expectError(() => F.interpolate(x()), TypeError, /interpolate: give exactly one of size and scaleFactor/);
    expectError(() => F.interpolate(x(), { size: 4, scaleFactor: 2 }), TypeError, /interpolate: give exactly one of size and scaleFactor/);
    expectError(() => F.interpolate(x(), { size: 4, alignCorners: true }), TypeError, /interpolate: alignCorners only applies to mode 'bilinear'/);
    expectError(() => F.interpolate(torch.ones([2, 2]), { size: 4 }), TypeError, /interpolate: input must be 4-d \[N, C, H, W\], got 2-d/);
  });

  test('batchNorm with mismatched parameters', () => {
    expectError(
      () => F.batchNorm(torch.ones([2, 3, 2, 2]), null, null, { training: true, weight: torch.ones([4]) }),
      TorchError,
      /weight should contain 3 elements not 4/,
      'batch_norm',
    );
    expectError(() => F.batchNorm(torch.ones([2, 3, 2, 2]), null, null), TypeError, /batchNorm: running statistics are needed when not training/);
  });

  test('crossEntropy with a float target of the wrong shape, or an int32 target', () => {
    expectError(
      () => F.crossEntropy(torch.randn([2, 3]), torch.tensor([0, 1])),
      TypeError,
      /crossEntropy: target must hold int64 class indices of shape \[2\] or float32 class probabilities of the input's shape \[2,3\], got float32 of shape \[2\]/,
    );
    expectError(
      () => F.crossEntropy(torch.randn([2, 3]), torch.tensor([0, 1], { dtype: 'int32' })),
      TypeError,
      /crossEntropy: target class indices must be int64, got int32/,
    );
    expectError(
      () => F.nllLoss(torch.randn([2, 3]), torch.tensor([0, 1])),
      TypeError,
      /nllLoss: target must hold int64 class indices of shape \[2\], got float32/,
    );
  });

  test('crossEntropy with a class id out of range', () => {
    expectError(
      () => F.crossEntropy(torch.randn([2, 3]), long([7, 1])),
      TorchError,
      /Target 7 is out of bounds: the input has 3 classes, so targets must be in \[0, 2\] or equal ignoreIndex \(-100\)/,
      'cross_entropy_loss',
    );
    expectError(
      () =>
        F.crossEntropy(
          torch.randn([1, 3, 2, 2]),
          long([
            [
              [0, 1],
              [2, 255],
            ],
          ]),
        ),
      TorchError,
      /Target 255 is out of bounds: the input has 3 classes/,
      'cross_entropy_loss',
    );
    expectError(
      () => F.nllLoss(torch.randn([2, 3]), long([3, 0]), { ignoreIndex: 255 }),
      TorchError,
      /Target 3 is out of bounds: the input has 3 classes, so targets must be in \[0, 2\] or equal ignoreIndex \(255\)/,
      'nll_loss_nd',
    );
    expectError(
      () => F.crossEntropy(torch.randn([2, 3]), long([0, 1, 2])),
      TorchError,
      /Expected input batch_size \(2\) to match target batch_size \(3\)/,
      'cross_entropy_loss',
    );
  });

  test('loss options', () => {
    const x = () => torch.randn([2, 3]);
    expectError(() => F.crossEntropy(x(), long([0, 1]), { labelSmoothing: 2 }), TypeError, /crossEntropy: labelSmoothing must be in \[0, 1\], got 2/);
    expectError(
      () => F.crossEntropy(x(), long([0, 1]), { reduction: 'avg' as torch.Reduction }),
      TypeError,
      /crossEntropy: reduction must be 'none', 'mean' or 'sum', got 'avg'/,
    );
    expectError(
      () => F.crossEntropy(x(), long([0, 1]), { weight: torch.ones([4]) }),
      TorchError,
      /weight tensor should be defined either for all 3 classes or no classes/,
    );
    expectError(() => F.mseLoss(x(), torch.randn([3, 2])), TorchError, /The size of tensor a \(3\) must match the size of tensor b \(2\)/, 'mse_loss');
  });
});

describe('autograd', () => {
  test('an in-place op on a leaf that requires grad', () => {
    const w = torch.ones([2], { requiresGrad: true });
    expectError(() => w.add_(1), TorchError, /a leaf Variable that requires grad is being used in an in-place operation/, 'add_.Scalar');
    expectError(() => w.mul_(torch.ones([2])), TorchError, /a leaf Variable that requires grad is being used in an in-place operation/, 'mul_.Tensor');
    w.dispose();
  });

  test('backward on a non-scalar without a gradient', () => {
    const w = torch.ones([2], { requiresGrad: true });
    expectError(() => w.mul(2).backward(), TorchError, /grad can be implicitly created only for scalar outputs/, 'backward');
    expectError(
      () => w.mul(2).backward(torch.ones([3])),
      TorchError,
      /invalid gradient at index 0 - got \[3\] but expected shape compatible with \[2\]/,
      'backward',
    );
    w.dispose();
  });

  test('backward twice without retainGraph', () => {
    const w = torch.ones([2], { requiresGrad: true });
    expectError(
      () => {
        const loss = w.mul(w).sum();
        loss.backward();
        loss.backward();
      },
      TorchError,
      /Trying to backward through the graph a second time.*retain_graph=True/,
      'backward',
    );
    w.dispose();
  });

  test('gradients of tensors that do not require grad, and other autograd misuse', () => {
    expectError(() => torch.ones([2]).sum().backward(), TorchError, /element 0 of tensors does not require grad and does not have a grad_fn/, 'backward');
    expectError(
      () => {
        const x = torch.ones([2]);
        torch.autograd.grad(x.sum(), x);
      },
      TorchError,
      /does not require grad/,
      'autograd.grad',
    );
    expectError(
      () => torch.tensor([1], { dtype: 'int64' }).requiresGrad_(true),
      TorchError,
      /Only Tensors of floating point and complex dtype can require gradients/,
    );
    expectError(
      () => {
        const w = torch.ones([2], { requiresGrad: true });
        w.grad = torch.ones([3]);
      },
      TorchError,
      /gradient shape \[3\] does not match the tensor's shape \[2\]/,
      'setGrad',
    );
    expectError(
      () => {
        const w = torch.ones([2], { requiresGrad: true });
        w.grad = torch.ones([2], { dtype: 'float64' });
      },
      TypeError,
      /grad: the gradient must have the tensor's dtype float32, got float64/,
    );
    expectError(
      () => {
        const t = torch.inferenceMode(() => torch.ones([2]));
        t.mul(torch.ones([2], { requiresGrad: true }));
      },
      TorchError,
      /Inference tensors cannot be saved for backward/,
      'mul.Tensor',
    );
  });
});

describe('reading values', () => {
  test('item() on a multi-element tensor', () => {
    expectError(() => torch.ones([2, 3]).item(), TypeError, /item: only one-element tensors can become a number, this one has 6/);
    expectError(() => torch.ones([0]).item(), TypeError, /item: only one-element tensors can become a number, this one has 0/);
  });

  test('tolist() of a tensor too large for JS arrays throws instead of aborting V8', () =>
    expectError(
      () => torch.ones([1]).expand([2e8]).tolist(),
      TypeError,
      /tolist: the tensor has 200000000 elements, more than the 33554432 .* read it with toTypedArray\(\)/,
    ));
});

describe('after all the bad calls', () => {
  test('the process is alive, normal ops work and nothing leaked', () => {
    const result = torch.tidy(() => {
      const x = torch.arange(6).reshape(2, 3);
      const w = torch.ones([3, 2], { requiresGrad: true });
      const y = x.matmul(w).sum();
      y.backward();
      return { value: y.item(), grad: w.grad?.tolist() };
    });
    assert.equal(result.value, 30);
    assert.deepEqual(result.grad, [
      [3, 3],
      [5, 5],
      [7, 7],
    ]);
    const out = torch.tidy(() => F.conv2d(torch.ones([1, 1, 3, 3]), torch.ones([1, 1, 2, 2])).tolist());
    assert.deepEqual(out, [
      [
        [
          [4, 4],
          [4, 4],
        ],
      ],
    ]);
    assert.equal(torch.isGradEnabled(), true);
    assert.equal(torch.autograd.isInferenceMode(), false);
    const now = torch.memory();
    assert.equal(now.scopes, 0);
    // Tensors made outside expectError in this file were disposed by hand.
    assert.equal(now.tensors, startMemory.tensors);
    assert.equal(now.bytes, startMemory.bytes);
  });
});

test('a misspelt keyword argument is an error, not a silent default', () => {
  torch.tidy(() => {
    assert.throws(
      () => torch.callOp('sum.dim_IntList', [torch.ones([2, 2]), [0]], { keepdimm: true }),
      (e: unknown) =>
        e instanceof TypeError && /sum\.dim_IntList: unknown keyword argument 'keepdimm' \(valid: self, dim, keepdim, dtype\)/.test((e as Error).message),
    );
  });
});
