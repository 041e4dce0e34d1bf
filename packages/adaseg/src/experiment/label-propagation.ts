// Training-time label propagation: a bought region's class spread over the superpixels it
// touches. A 3x3 region is far smaller than the object it lies on, and SLIC superpixels follow
// colour edges, so the unlabelled rest of a superpixel whose labelled pixels all carry one class
// is very likely that class: on camvid-day2dusk's dusk pool (120x90, 1% of the pixels bought as
// random 3x3 regions), superpixels of about 30 pixels turn each labelled pixel into 6 training
// pixels, 92% of them right (the adapted model's own predictions are about 50% right there).
// Yet rounds trained on them scored lower there (BENCHMARKS.md): the thin classes, where a few
// labels matter most, spread wrongly (pole 43% right). Hence off by default.
//
// The propagated pixels are training targets only: the label store keeps exactly what the
// annotator gave, the budget counts only bought pixels, and the propagation is recomputed from
// the store's masks before every round's training.
import type { Segmentation } from '../data/slic.js';

export interface LabelPropagationConfig {
  /** SLIC superpixels of about this many pixels at the working resolution (30). */
  superpixelSize: number;
  /** SLIC compactness (10): higher follows colour edges less, giving rounder superpixels. */
  compactness: number;
}

/**
 * Returns a copy of `mask` (class ids < `classes`, 255 = unknown) where every unknown pixel of a
 * superpixel gets that superpixel's class when all the superpixel's labelled pixels share one
 * class. Superpixels without labels, or whose labels disagree (a region across an edge SLIC
 * missed), stay unknown. Labelled pixels never change, nor do bought pixels the annotator left
 * without a class (void: `covered` 1 and `mask` 255).
 */
export function propagateLabels(mask: Uint8Array, segmentation: Segmentation, classes: number, covered?: Uint8Array): Uint8Array {
  const { labels, count } = segmentation;
  if (labels.length !== mask.length) throw new RangeError(`propagateLabels: a mask of ${mask.length} pixels and a segmentation of ${labels.length}`);
  if (covered !== undefined && covered.length !== mask.length)
    throw new RangeError(`propagateLabels: a mask of ${mask.length} pixels and a covered mask of ${covered.length}`);
  if (!(Number.isInteger(classes) && classes >= 1 && classes < 255))
    throw new RangeError(`propagateLabels: classes must be an integer in [1, 254], got ${classes}`);
  const NONE = -1;
  const MIXED = -2;
  const classOf = new Int16Array(count).fill(NONE);
  for (let p = 0; p < mask.length; p++) {
    const v = mask[p];
    if (v >= classes) continue;
    const s = labels[p];
    if (s < 0 || s >= count) throw new RangeError(`propagateLabels: pixel ${p} is in superpixel ${s}, outside 0..${count - 1}`);
    const c = classOf[s];
    if (c === NONE) classOf[s] = v;
    else if (c !== v) classOf[s] = MIXED;
  }
  const out = mask.slice();
  for (let p = 0; p < out.length; p++) {
    if (out[p] < classes || (covered !== undefined && covered[p] !== 0)) continue;
    const c = classOf[labels[p]];
    if (c >= 0) out[p] = c;
  }
  return out;
}
