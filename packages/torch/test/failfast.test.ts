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
