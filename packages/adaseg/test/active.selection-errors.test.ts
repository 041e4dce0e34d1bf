// selectionErrors: of a round's labelled pixels, those the choosing model predicted wrongly.
// A stand-in model predicts class 1 on the left half of every image and class 0 on the right, so
// the expected counts follow from the labels alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '@adaseg/torch';
import { selectionErrors } from '../src/active/selection-errors.js';
import type { UnitPixels } from '../src/labels/store.js';
import { numClasses } from '../src/data/dataset.js';
import { loadDataset } from '../src/data/formats/index.js';
import type { SegmentationModel } from '../src/models/base.js';

const W = 8;
const H = 4;

function halfAndHalf(classes: number): { model: SegmentationModel; modes: () => { training: boolean; forwards: number } } {
  let training = true;
  let forwards = 0;
  const stub = {
    get training() {
      return training;
    },
    mcDropout: false,
    dropoutLayers: () => [],
    setMcDropout: () => undefined,
    eval: () => {
      training = false;
    },
    train: (mode = true) => {
      training = mode;
    },
    forward: (images: torch.Tensor) => {
      forwards++;
      const [n, , h, w] = images.shape;
      const data = new Float32Array(n * classes * h * w);
      for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[((i * classes + (x < w / 2 ? 1 : 0)) * h + y) * w + x] = 5;
      return { logits: torch.tensor(data, { shape: [n, classes, h, w] }) };
    },
  };
  return { model: stub as unknown as SegmentationModel, modes: () => ({ training, forwards }) };
}

test("selectionErrors counts, over the round's units, the labelled pixels and those the choosing model had wrong", async () => {
  const pool = await loadDataset({ format: 'synthetic', style: 'target', count: 3, width: W, height: H, seed: 5 });
  const classes = numClasses(pool);
  const { model, modes } = halfAndHalf(classes);
  const at = (x: number, y: number) => y * W + x;
  const mask = () => ({ width: W, height: H, data: new Uint8Array(W * H).fill(255) });
  const masks = new Map([0, 1, 2].map((i) => [pool.samples[i].id, mask()]));
  const m0 = masks.get(pool.samples[0].id)!.data;
  const m2 = masks.get(pool.samples[2].id)!.data;
  // Image 0: left pixels labelled 1 (right) and 2 (wrong); a right pixel labelled 0 (right), one void.
  m0[at(0, 0)] = 1;
  m0[at(1, 0)] = 2;
  m0[at(6, 1)] = 0;
  m0[at(7, 1)] = classes; // void: not a label
  // Image 2: right pixels labelled 1 and 3 (both wrong); one left pixel of another round, labelled 2.
  m2[at(5, 3)] = 1;
  m2[at(6, 3)] = 3;
  m2[at(0, 3)] = 2;
  const unit = (image: number, pixels: number[]): UnitPixels => ({
    image,
    imageId: pool.samples[image].id,
    unit: pixels[0],
    pixels: pixels.length,
    pixelIndices: Uint32Array.from(pixels),
  });
  const units = [unit(0, [at(0, 0), at(1, 0)]), unit(0, [at(6, 1), at(7, 1), at(5, 1)]), unit(2, [at(5, 3), at(6, 3)])];
  const before = torch.memory().numTensors;
  const result = await selectionErrors(model, pool, units, masks, classes, { batchSize: 2 });
  assert.deepEqual(result, { labelled: 5, wrong: 3 });
  assert.equal(modes().forwards, 1, 'images 0 and 2 in one batch of 2; image 1 (no unit) not run');
  assert.equal(modes().training, true, 'the model is back in training mode');
  assert.equal(torch.memory().numTensors, before, 'no tensor leaks');

  assert.deepEqual(await selectionErrors(model, pool, [], masks, classes), { labelled: 0, wrong: 0 });
  // Units whose pixels are all void leave their image without a mask (the store lists only images
  // with a labelled pixel): they count nothing. (A camvid run met this: a round bought only void in an image.)
  const withoutImage2 = new Map(masks);
  withoutImage2.delete(pool.samples[2].id);
  assert.deepEqual(await selectionErrors(model, pool, units, withoutImage2, classes), { labelled: 3, wrong: 1 });
  masks.set(pool.samples[2].id, { width: 4, height: 2, data: new Uint8Array(8) });
  await assert.rejects(selectionErrors(model, pool, units, masks, classes), /labels of '.*' are 4x2 but the model's prediction is 8x4/);
});
