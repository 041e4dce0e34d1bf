// Segmentation metrics from a confusion matrix accumulated over a whole set (not averaged per
// image): per-class IoU, mIoU over the classes present, pixel accuracy.
import * as torch from '@adaseg/torch';
import { IGNORE_INDEX } from '../data/classes.js';

export interface SegmentationMetrics {
  /** IoU per class; null where the class is absent from both labels and predictions. */
  iou: (number | null)[];
  /** Mean IoU over the classes with a non-null IoU. */
  mIoU: number;
  /** Correct labelled pixels / labelled pixels. */
  pixelAccuracy: number;
  /** Recall per class (correct / labelled as that class); null where the class has no pixel. */
  classAccuracy: (number | null)[];
  /** Labelled pixels per class. */
  support: number[];
  pixels: number;
}

export class ConfusionMatrix {
  /** counts[label * C + prediction] */
  readonly counts: Float64Array;

  constructor(
    readonly numClasses: number,
    readonly ignoreIndex: number = IGNORE_INDEX,
  ) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`ConfusionMatrix: numClasses must be a positive integer, got ${numClasses}`);
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /**
   * Adds predictions [N, H, W] (or logits [N, C, H, W]) against labels [N, H, W]. Label values
   * other than 0..C-1 and the ignore index are an error naming them.
   */
  update(prediction: torch.Tensor, label: torch.Tensor): void {
    const C = this.numClasses;
    torch.tidy(() => {
      const pred = prediction.ndim === label.ndim + 1 ? prediction.argmax(1) : prediction;
      if (pred.shape.join() !== label.shape.join()) {
        throw new RangeError(`ConfusionMatrix.update: prediction shape [${pred.shape}] does not match label shape [${label.shape}]`);
      }
      const l = label.long();
      const valid = l.ne(this.ignoreIndex);
      const bad = valid.logicalAnd(l.lt(0).logicalOr(l.ge(C)));
      if (bad.any().item()) {
        const values = [...new Set(Array.from(l.maskedSelect(bad).toTypedArray() as BigInt64Array, Number))].slice(0, 10);
        throw new RangeError(
          `ConfusionMatrix.update: label values ${values.join(', ')} are neither classes 0..${C - 1} nor the ignore index ${this.ignoreIndex}`,
        );
      }
      const index = l.maskedSelect(valid).mul(C).add(pred.long().maskedSelect(valid));
      const counts = torch.callOp('bincount', [index, null, C * C]).toTypedArray() as BigInt64Array;
      for (let i = 0; i < counts.length; i++) this.counts[i] += Number(counts[i]);
    });
  }

  merge(other: ConfusionMatrix): void {
    if (other.numClasses !== this.numClasses) throw new RangeError('ConfusionMatrix.merge: different class counts');
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
  }

  reset(): void {
    this.counts.fill(0);
  }

  metrics(): SegmentationMetrics {
    const C = this.numClasses;
    const iou: (number | null)[] = [];
    const classAccuracy: (number | null)[] = [];
    const support: number[] = [];
    let correct = 0;
    let total = 0;
    for (let c = 0; c < C; c++) {
      let row = 0;
      let col = 0;
      for (let k = 0; k < C; k++) {
        row += this.counts[c * C + k];
        col += this.counts[k * C + c];
      }
      const tp = this.counts[c * C + c];
      const union = row + col - tp;
      iou.push(union > 0 ? tp / union : null);
      classAccuracy.push(row > 0 ? tp / row : null);
      support.push(row);
      correct += tp;
      total += row;
    }
    const present = iou.filter((v): v is number => v !== null);
    return {
      iou,
      mIoU: present.length > 0 ? present.reduce((a, b) => a + b, 0) / present.length : 0,
      pixelAccuracy: total > 0 ? correct / total : 0,
      classAccuracy,
      support,
      pixels: total,
    };
  }
}
