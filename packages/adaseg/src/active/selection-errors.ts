// How many of a round's bought labels corrected the model that chose them: of the labelled
// (non-void) pixels of the round's units, the share where that model predicted another class.
// A diagnostic of selection, not a score any strategy sees: it needs the labels, so it is
// measured once the round is annotated. An uncertainty strategy may buy mostly errors and still
// lose to random when its errors are all of one kind; the class mix (report/summary.ts) shows that
// part.
import type { DatasetDescription } from '../data/dataset.js';
import type { SegmentationModel } from '../models/base.js';
import { type PoolPredictionOptions, predictPoolImages } from './predictions.js';
import type { UnitRef } from './types.js';

/** A selected unit with the pixels (row-major indices in the image's mask) it covers. */
type UnitPixels = UnitRef & { pixelIndices: Uint32Array };

/** The key of a round's info (label store) under which the loop records its SelectionErrors. */
export const SELECTION_ERRORS_INFO_KEY = 'selectionErrors';

export interface SelectionErrors {
  /** Pixels of the round's units that carry a class (void and unknown left out). */
  labelled: number;
  /** Of which the choosing model predicted another class. */
  wrong: number;
}

/**
 * Counts, over `units` (one round's selection, pixel indices at the working resolution), the
 * labelled pixels and those `model` got wrong. `masks` are the run's label masks by image id, at
 * the same resolution; values >= `classes` (void, 255 = unknown) are not labels.
 */
export async function selectionErrors(
  model: SegmentationModel,
  pool: DatasetDescription,
  units: readonly UnitPixels[],
  /** Only images with a labelled pixel have one (LabelStore.labelledMasks). */
  masks: ReadonlyMap<string, { width: number; height: number; data: Uint8Array }>,
  classes: number,
  options: PoolPredictionOptions = {},
): Promise<SelectionErrors> {
  const byImage = new Map<number, UnitPixels[]>();
  for (const u of units) {
    const list = byImage.get(u.image);
    if (list === undefined) byImage.set(u.image, [u]);
    else list.push(u);
  }
  let labelled = 0;
  let wrong = 0;
  for await (const { index, maps } of predictPoolImages(model, pool, [...byImage.keys()], options)) {
    const id = pool.samples[index].id;
    const mask = masks.get(id);
    // An image whose bought pixels are all void has no label mask: nothing of it counts.
    if (mask === undefined) continue;
    if (mask.width !== maps.width || mask.height !== maps.height) {
      throw new RangeError(
        `selectionErrors: labels of '${id}' are ${mask.width}x${mask.height} but the model's prediction is ${maps.width}x${maps.height} (use the pool's working resolution)`,
      );
    }
    for (const u of byImage.get(index)!) {
      for (const p of u.pixelIndices) {
        const label = mask.data[p];
        if (label >= classes) continue;
        labelled++;
        if (maps.prediction[p] !== label) wrong++;
      }
    }
  }
  return { labelled, wrong };
}
