import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '@adaseg/torch';
import { ConfusionMatrix } from '../src/eval/metrics.js';

test('IoU, mIoU and pixel accuracy from a hand-counted confusion matrix', () => {
  torch.tidy(() => {
    const cm = new ConfusionMatrix(3);
    // labels:      0 0 1 1 2 255
    // predictions: 0 1 1 1 0 2
    cm.update(torch.tensor([[0, 1, 1, 1, 0, 2]], { dtype: 'int64' }), torch.tensor([[0, 0, 1, 1, 2, 255]], { dtype: 'int64' }));
    const m = cm.metrics();
    // class 0: tp 1, fn 1, fp 1 -> 1/3; class 1: tp 2, fp 1 -> 2/3; class 2: tp 0, fn 1 -> 0
    assert.deepEqual(
      m.iou.map((v) => (v === null ? null : Number(v.toFixed(6)))),
      [0.333333, 0.666667, 0],
    );
    assert.ok(Math.abs(m.mIoU - 1 / 3) < 1e-12);
    assert.equal(m.pixelAccuracy, 3 / 5);
    assert.deepEqual(m.support, [2, 2, 1]);
    assert.equal(m.pixels, 5);
  });
});

test('accumulates over batches and accepts logits; absent classes are left out of mIoU', () => {
  torch.tidy(() => {
    const cm = new ConfusionMatrix(4);
    const logits = torch.zeros([1, 4, 1, 2]);
    logits.select(1, 1).fill_(1); // predicts class 1 everywhere
    cm.update(logits, torch.tensor([[[1, 1]]], { dtype: 'int64' }));
    cm.update(torch.tensor([[[0, 0]]], { dtype: 'int64' }), torch.tensor([[[0, 0]]], { dtype: 'int64' }));
    const m = cm.metrics();
    assert.deepEqual(m.iou, [1, 1, null, null]);
    assert.equal(m.mIoU, 1);
  });
});

test('labels outside the classes and the ignore index are an error naming the values', () => {
  torch.tidy(() => {
    const cm = new ConfusionMatrix(3);
    assert.throws(
      () => cm.update(torch.tensor([[0, 0]], { dtype: 'int64' }), torch.tensor([[7, 3]], { dtype: 'int64' })),
      /label values 7, 3 are neither classes 0\.\.2 nor the ignore index 255/,
    );
    assert.throws(() => cm.update(torch.tensor([[0]], { dtype: 'int64' }), torch.tensor([[0, 1]], { dtype: 'int64' })), /does not match label shape/);
    assert.equal(cm.metrics().pixels, 0, 'a failed update adds nothing');
  });
});
