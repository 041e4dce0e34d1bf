// Issue 26 (fail fast and loud), engine items: calls that used to return garbage or be silently
// ignored now throw an error naming the op and what was wrong, as PyTorch does.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../src/index.js';

const { nn } = torch;
const F = torch.functional;

function allFinite(t: torch.Tensor): boolean {
  return (t.flatten().tolist() as number[]).every((v) => Number.isFinite(v));
}

describe('BatchNorm with one value per channel in training mode (item 9)', () => {
  test('training BatchNorm2d on [1, C, 1, 1] throws naming the input size, and counts no batch', () => {
    const bn = new nn.BatchNorm2d({ numFeatures: 3 });
    torch.tidy(() => {
      assert.throws(
        () => bn.train().forward(torch.randn([1, 3, 1, 1])),
        (err: Error) =>
          err instanceof TypeError && /^BatchNorm2d: expected more than 1 value per channel when training, got input size \[1, 3, 1, 1\]$/.test(err.message),
      );
      assert.equal(bn.getBuffer('num_batches_tracked')!.item(), 0);
      assert.ok(allFinite(bn.runningVar!));
      assert.deepEqual(bn.runningVar!.tolist(), [1, 1, 1]);
    });
    bn.dispose();
  });

  test('[2, C, 1, 1] in training mode and [1, C, 1, 1] in eval mode still work; running_var stays finite', () => {
    const bn = new nn.BatchNorm2d({ numFeatures: 3 });
    torch.tidy(() => {
      const y = bn.train().forward(
        torch.tensor([
          [[[1]], [[2]], [[3]]],
          [[[3]], [[6]], [[9]]],
        ]),
      );
      assert.deepEqual(y.shape, [2, 3, 1, 1]);
      assert.ok(allFinite(y));
      assert.ok(allFinite(bn.runningVar!));
      assert.equal(bn.getBuffer('num_batches_tracked')!.item(), 1);
      const e = torch.noGrad(() => bn.eval().forward(torch.randn([1, 3, 1, 1])));
      assert.deepEqual(e.shape, [1, 3, 1, 1]);
      assert.ok(allFinite(e));
    });
    bn.dispose();
  });

  test('a frozen BatchNorm2d (running statistics) accepts one value per channel in training mode', () => {
    const bn = new nn.BatchNorm2d({ numFeatures: 2 }).freeze();
    torch.tidy(() => assert.ok(allFinite(bn.train().forward(torch.randn([1, 2, 1, 1])))));
    bn.dispose();
  });

  test('eval BatchNorm2d without running statistics uses batch statistics, so it refuses too', () => {
    const bn = new nn.BatchNorm2d({ numFeatures: 2, trackRunningStats: false });
    torch.tidy(() => assert.throws(() => bn.eval().forward(torch.randn([1, 2, 1, 1])), /BatchNorm2d: expected more than 1 value per channel/));
    bn.dispose();
  });

  test('F.batchNorm refuses it in training mode only', () => {
    torch.tidy(() => {
      const mean = torch.zeros([4]);
      const variance = torch.ones([4]);
      assert.throws(
        () => F.batchNorm(torch.randn([1, 4]), mean, variance, { training: true }),
        /^TypeError: batchNorm: expected more than 1 value per channel when training, got input size \[1, 4\]$/,
      );
      assert.throws(() => F.batchNorm(torch.randn([1, 4, 1, 1]), null, null, { training: true }), /got input size \[1, 4, 1, 1\]/);
      assert.ok(allFinite(variance));
      assert.ok(allFinite(F.batchNorm(torch.randn([1, 4, 1, 1]), mean, variance, { training: false })));
      assert.ok(allFinite(F.batchNorm(torch.randn([1, 4, 2, 1]), mean, variance, { training: true })));
      assert.ok(allFinite(variance));
    });
  });
});

describe('integer dtypes refuse values they cannot hold (item 11)', () => {
  const cases: [number[], torch.DType, RegExp][] = [
    [[1e30], 'int32', /^tensor: value 1e\+30 at index 0 cannot be converted to dtype int32 without overflow \(range \[-2147483648, 2147483647\]\)$/],
    [[300], 'uint8', /^tensor: value 300 at index 0 cannot be converted to dtype uint8 without overflow \(range \[0, 255\]\)$/],
    [[2 ** 70], 'int64', /^tensor: value 1\.1805916207174113e\+21 at index 0 cannot be converted to dtype int64 without overflow/],
    [[0, 2 ** 63], 'int64', /value 9223372036854776000 at index 1 cannot be converted to dtype int64/],
    [[-1], 'uint8', /value -1 at index 0 cannot be converted to dtype uint8/],
    [[128], 'int8', /value 128 at index 0 cannot be converted to dtype int8 without overflow \(range \[-128, 127\]\)/],
    [[-32769], 'int16', /value -32769 at index 0 cannot be converted to dtype int16/],
  ];
  for (const [data, dtype, message] of cases) {
    test(`tensor([${data}], ${dtype}) throws`, () => {
      const before = torch.memory().tensors;
      assert.throws(
        () => torch.tensor(data, { dtype }),
        (err: Error) => err instanceof TypeError && message.test(err.message),
      );
      assert.equal(torch.memory().tensors, before);
    });
  }

  test('the edges of each range are kept exactly', () => {
    torch.tidy(() => {
      assert.deepEqual(torch.tensor([0, 255], { dtype: 'uint8' }).tolist(), [0, 255]);
      assert.deepEqual(torch.tensor([-128, 127], { dtype: 'int8' }).tolist(), [-128, 127]);
      assert.deepEqual(torch.tensor([-32768, 32767], { dtype: 'int16' }).tolist(), [-32768, 32767]);
      assert.deepEqual(torch.tensor([-(2 ** 31), 2 ** 31 - 1], { dtype: 'int32' }).tolist(), [-(2 ** 31), 2 ** 31 - 1]);
      assert.deepEqual(torch.tensor([-(2 ** 63), 2 ** 53], { dtype: 'int64' }).tolist(), [-(2 ** 63), 2 ** 53]);
    });
  });

  test('a typed array converted to another dtype is range-checked too; of the same dtype it is taken as is', () => {
    assert.throws(() => torch.tensor(new Float32Array([1, 256]), { dtype: 'uint8' }), /tensor: value 256 at index 1 cannot be converted to dtype uint8/);
    assert.throws(() => torch.tensor(new Int32Array([70000]), { dtype: 'int16' }), /value 70000 at index 0 cannot be converted to dtype int16/);
    torch.tidy(() => {
      assert.deepEqual(torch.tensor(new Int32Array([-5, 2 ** 31 - 1])).tolist(), [-5, 2 ** 31 - 1]);
      assert.deepEqual(torch.tensor(new Float32Array([1, 255]), { dtype: 'uint8' }).tolist(), [1, 255]);
    });
  });
});

describe('requiresGrad on a computed tensor (item 11)', () => {
  test("requiresGrad_(false) on a non-leaf throws with PyTorch's advice", () => {
    torch.tidy(() => {
      const a = torch.ones([2], { requiresGrad: true });
      const b = a.mul(2);
      assert.throws(
        () => b.requiresGrad_(false),
        (err: Error) =>
          err instanceof TypeError &&
          /^requiresGrad_: you can only change requiresGrad flags of leaf tensors, this one was computed by MulBackward\d\. .*use t\.detach\(\)\.$/.test(
            err.message,
          ),
      );
      assert.equal(b.requiresGrad, true);
      assert.throws(() => {
        b.requiresGrad = false;
      }, /^TypeError: requiresGrad: you can only change requiresGrad flags of leaf tensors/);
      // Turning it on where it already is stays allowed, as torch's requires_grad_(True).
      assert.equal(b.requiresGrad_(true).requiresGrad, true);
      // Leaves (and the detached copy PyTorch's message points to) still change freely.
      assert.equal(a.requiresGrad_(false).requiresGrad, false);
      const d = b.detach();
      assert.equal(d.requiresGrad_(true).requiresGrad, true);
      d.requiresGrad = false;
      assert.equal(d.requiresGrad, false);
    });
  });
});

describe('typed arrays on a SharedArrayBuffer (item 11)', () => {
  test('are copied, not refused with "Invalid argument"', () => {
    const shared = new Float32Array(new SharedArrayBuffer(4 * 6));
    shared.set([1, 2, 3, 4, 5, 6]);
    torch.tidy(() => {
      const t = torch.tensor(shared, { shape: [2, 3] });
      assert.deepEqual(t.tolist(), [
        [1, 2, 3],
        [4, 5, 6],
      ]);
      shared[0] = 100;
      assert.equal(t.tolist()[0][0], 1, 'the tensor holds its own copy');
      const sub = new Int16Array(new SharedArrayBuffer(2 * 4), 2, 2);
      sub.set([7, -8]);
      assert.deepEqual(torch.tensor(sub).tolist(), [7, -8]);
      assert.deepEqual(torch.tensor(sub, { dtype: 'int64' }).tolist(), [7, -8]);
    });
  });
});
