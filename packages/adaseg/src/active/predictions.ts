// What a model predicts over pool images, per pixel and as bytes: its predicted train id and its
// uncertainty (the entropy of its probabilities divided by log C, times 255). The studio's overlays
// (report/overlays.ts) are these maps as PNGs; selection-errors.ts compares the predictions with
// the bought labels. One batch at a time: no probability map outlives its batch.
import * as torch from '@adaseg/torch';
import type { DatasetDescription } from '../data/dataset.js';
import { withoutLabel, withSamples } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { IMAGENET_NORMALIZE, type Normalize, type Transform } from '../data/transforms.js';
import type { SegmentationModel } from '../models/base.js';
import { entropy } from './strategies/common.js';

export interface OverlayMaps {
  width: number;
  height: number;
  /** Predicted train id per pixel (row-major). */
  prediction: Uint8Array;
  /** Normalised entropy per pixel, 0 (certain) .. 255 (uniform over the classes). */
  uncertainty: Uint8Array;
}

/** Per image of probabilities [N, C, H, W]: the argmax and the normalised entropy as bytes. */
export function overlayMaps(probabilities: torch.Tensor): OverlayMaps[] {
  const [N, C, H, W] = probabilities.shape;
  if (C > 256) throw new RangeError(`overlayMaps: ${C} classes do not fit an 8-bit prediction map`);
  const { prediction, uncertainty } = torch.tidy(() => {
    const ids = probabilities.argmax(1).to('uint8').contiguous().toTypedArray() as Uint8Array;
    // One class: nothing to be uncertain about (log 1 = 0).
    const scale = C > 1 ? 255 / Math.log(C) : 0;
    const u = entropy(probabilities, 1).mul(scale).round().clamp(0, 255).to('uint8').contiguous().toTypedArray() as Uint8Array;
    return { prediction: ids, uncertainty: u };
  });
  const plane = H * W;
  return Array.from({ length: N }, (_, i) => ({
    width: W,
    height: H,
    prediction: prediction.slice(i * plane, (i + 1) * plane),
    uncertainty: uncertainty.slice(i * plane, (i + 1) * plane),
  }));
}

export interface PoolPredictionOptions {
  /** The pool's deterministic transforms (the resize to the working resolution), as when scoring. */
  transforms?: Transform[];
  normalize?: Normalize;
  batchSize?: number;
  workers?: number;
}

/**
 * Runs `model` (eval mode, no dropout sampling) over the pool images `images` (indices into the
 * pool's samples, each once, in pool order) and yields each one's prediction and uncertainty maps
 * at the working resolution, one batch at a time. The labels are never read. The model's modes
 * are restored when the iteration ends (or is left early).
 */
export async function* predictPoolImages(
  model: SegmentationModel,
  pool: DatasetDescription,
  images: readonly number[],
  options: PoolPredictionOptions = {},
): AsyncGenerator<{ index: number; maps: OverlayMaps }> {
  const unique = [...new Set(images)].sort((a, b) => a - b);
  if (unique.length === 0) return;
  for (const i of unique)
    if (pool.samples[i] === undefined) throw new RangeError(`predictPoolImages: the pool has no image ${i} (${pool.samples.length} images)`);
  const subset = withSamples(
    pool,
    unique.map((i) => withoutLabel(pool.samples[i])),
  );
  const workers = options.workers ?? 0;
  const loader = new DataLoader(subset, {
    batchSize: options.batchSize ?? 4,
    workers,
    prefetch: workers === 0 ? 0 : 2,
    transforms: options.transforms ?? [],
    normalize: options.normalize ?? IMAGENET_NORMALIZE,
  });
  const wasTraining = model.training;
  const wasMc = model.mcDropout;
  const hasDropout = model.dropoutLayers().length > 0;
  model.eval();
  if (hasDropout) model.setMcDropout(false);
  try {
    for await (const batch of loader.epoch(0)) {
      let maps: OverlayMaps[];
      try {
        maps = torch.inferenceMode(() => torch.tidy(() => overlayMaps(model.forward(batch.images).logits.softmax(1))));
      } finally {
        batch.dispose();
      }
      for (let i = 0; i < maps.length; i++) yield { index: unique[batch.indices[i]], maps: maps[i] };
    }
  } finally {
    await loader.close();
    if (hasDropout) model.setMcDropout(wasMc);
    model.train(wasTraining);
  }
}
