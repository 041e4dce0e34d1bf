// Confidence-thresholded, class-balanced pseudo-labels (after CBST): a frozen teacher (a snapshot
// of the segmenter) predicts the target images; a pixel predicted as class c with confidence p is
// kept when p >= t_c, where t_c is the confidence above which the most confident `portion` of the
// target pixels predicted as c lie (measured over the whole target set), capped at `maxThreshold`
// so confident pixels of easy classes are always kept. Other pixels are 255 (ignore).
//
// The teacher labels each augmented target batch as it comes, so pseudo-labels follow any
// augmentation exactly; the thresholds and the teacher are refreshed together (every K iterations,
// or once from the starting model), and both are checkpointed (module `pseudo`), so a resumed run
// labels exactly as the interrupted one would have.
import * as torch from '@adaseg/torch';
import type { DatasetDescription } from '../data/dataset.js';
import { DataLoader, type LoaderOptions } from '../data/loader.js';
import type { SegmentationModel } from '../models/base.js';
import { buildModel, type ModelConfig } from '../models/config.js';

type Tensor = torch.Tensor;

/** Confidence histogram bins per class: thresholds are exact to 1 / BINS. */
export const CONFIDENCE_BINS = 1000;

export interface ThresholdOptions {
  /** Fraction of each class's predicted pixels to keep, in (0, 1] (default 0.5). */
  portion: number;
  /** Upper bound of every threshold, in (0, 1] (default 0.9). */
  maxThreshold: number;
}

/**
 * Adds the confidences of class probabilities [N, C, H, W] to a histogram [C * bins] (row c: the
 * pixels whose arg-max is c, binned by their max probability).
 */
export function accumulateConfidences(histogram: Float64Array, probs: Tensor, bins = CONFIDENCE_BINS): void {
  const classes = probs.shape[1];
  if (histogram.length !== classes * bins) throw new RangeError(`accumulateConfidences: histogram has ${histogram.length} bins, expected ${classes} x ${bins}`);
  const counts = torch.tidy(() => {
    const [conf, pred] = probs.max(1);
    const bin = conf
      .mul(bins)
      .floor()
      .clamp(0, bins - 1)
      .long();
    const index = pred.mul(bins).add(bin).flatten();
    return torch
      .zeros([classes * bins], { dtype: 'float64' })
      .scatterAdd(0, index, torch.ones([index.shape[0]], { dtype: 'float64' }))
      .toTypedArray() as Float64Array;
  });
  for (let i = 0; i < counts.length; i++) histogram[i] += counts[i];
}

/** Per-class thresholds from a confidence histogram (see the file comment). */
export function thresholdsFromHistogram(histogram: Float64Array, classes: number, options: ThresholdOptions, bins = CONFIDENCE_BINS): number[] {
  const out: number[] = [];
  for (let c = 0; c < classes; c++) {
    const row = histogram.subarray(c * bins, (c + 1) * bins);
    let total = 0;
    for (const v of row) total += v;
    let threshold = options.maxThreshold;
    if (total > 0) {
      const want = options.portion * total;
      let cumulative = 0;
      for (let b = bins - 1; b >= 0; b--) {
        cumulative += row[b];
        if (cumulative >= want) {
          threshold = b / bins;
          break;
        }
      }
    }
    out.push(Math.min(threshold, options.maxThreshold));
  }
  return out;
}

/** Pseudo-labels [N, H, W] (int64, 255 = ignore) of class probabilities under per-class thresholds [C]. */
export function pseudoLabelsFrom(probs: Tensor, thresholds: Tensor): Tensor {
  return torch.tidy(() => {
    const [conf, pred] = probs.max(1);
    const t = thresholds.indexSelect(0, pred.flatten()).view(pred.shape);
    return pred.maskedFill(conf.lt(t), 255);
  });
}

/** The teacher and its thresholds, as one module (checkpointed as `modules.pseudo`). */
export class PseudoLabeler extends torch.nn.Module {
  readonly teacher: SegmentationModel;
  readonly numClasses: number;

  constructor(
    model: SegmentationModel,
    readonly options: ThresholdOptions,
  ) {
    super();
    this.numClasses = model.numClasses;
    this.teacher = this.registerModule('teacher', buildModel(model.config as ModelConfig, model.numClasses));
    this.teacher.requiresGrad_(false).eval();
    this.registerBuffer('thresholds', torch.ones([model.numClasses]));
  }

  get thresholds(): number[] {
    return torch.tidy(() => [...(this.getBuffer('thresholds')!.toTypedArray() as Float32Array)]);
  }

  /** Copies the model into the teacher and measures the thresholds over the target set. */
  async refresh(model: SegmentationModel, target: DatasetDescription, loader: Omit<LoaderOptions, 'shuffle' | 'seed'>): Promise<number[]> {
    torch.tidy(() => {
      this.teacher.loadStateDict(model.stateDict());
    });
    this.teacher.eval();
    const histogram = new Float64Array(this.numClasses * CONFIDENCE_BINS);
    const data = new DataLoader(target, { ...loader, shuffle: false });
    try {
      for await (const batch of data.epoch(0)) {
        try {
          torch.inferenceMode(() =>
            torch.tidy(() => {
              accumulateConfidences(histogram, this.teacher.forward(batch.images).logits.softmax(1));
            }),
          );
        } finally {
          batch.dispose();
        }
      }
    } finally {
      await data.close();
    }
    const thresholds = thresholdsFromHistogram(histogram, this.numClasses, this.options);
    torch.tidy(() => {
      torch.noGrad(() => this.getBuffer('thresholds')!.copy_(torch.tensor(thresholds)));
    });
    return thresholds;
  }

  /** Pseudo-labels [N, H, W] of a batch of target images (no gradient). */
  labels(images: Tensor): Tensor {
    return torch.noGrad(() => torch.tidy(() => pseudoLabelsFrom(this.teacher.forward(images).logits.softmax(1), this.getBuffer('thresholds')!)));
  }

  forward(images: Tensor): Tensor {
    return this.labels(images);
  }
}
