// Every training loss of adaseg, in one place: segmentation cross-entropy that stays finite on
// batches without a labelled pixel (main output plus weighted auxiliary outputs), ADVENT's weighted
// self-information and entropy, the GAN objectives of the output-space discriminators (AdaptSegNet,
// AdvEnt) and RIPU's negative learning. Supervised training, adaptation and active rounds all
// compute their objectives from these.
import * as torch from '@adaseg/torch';
import type { SegmentationOutput } from '../models/base.js';

type Tensor = torch.Tensor;
const F = torch.functional;

/** The discriminator's label for the source domain (AdaptSegNet, ADVENT). */
export const SOURCE_LABEL = 0;
/** The discriminator's label for the target domain. */
export const TARGET_LABEL = 1;

/** 'vanilla': binary cross-entropy on the logits; 'ls': least squares (LSGAN), as AdaptSegNet's --gan LS. */
export type GanObjective = 'vanilla' | 'ls';

/**
 * Cross-entropy over the labelled pixels (255 = ignore), averaged over them: the usual mean, but 0
 * (with a zero gradient) instead of NaN when a batch has no labelled pixel, as can happen with
 * partial labels, crops or pseudo-labels. With per-class weights [C] (positive), the weighted mean
 * as PyTorch's: sum of w[y] x loss over the labelled pixels / sum of their w[y].
 */
export function maskedCrossEntropy(logits: Tensor, labels: Tensor, ignoreIndex = 255, weight: Tensor | null = null): Tensor {
  return torch.tidy(() => {
    const count = labels.ne(ignoreIndex).sum().item() as number;
    if (weight !== null && count > 0) return F.crossEntropy(logits, labels, { ignoreIndex, reduction: 'mean', weight });
    const sum = F.crossEntropy(logits, labels, { ignoreIndex, reduction: 'sum' });
    return sum.div(Math.max(1, count));
  });
}

/**
 * ADVENT's weighted self-information map of class probabilities [N, C, H, W]:
 * I = -p log p / log C per class (the log base cancels), so that summed over C it is the entropy
 * normalised to [0, 1]. As ADVENT, p + 1e-30 inside the log keeps p = 0 finite.
 */
export function selfInformation(probs: Tensor): Tensor {
  checkMap('selfInformation', probs);
  const classes = probs.shape[1];
  return torch.tidy(() => probs.mul(probs.add(1e-30).log()).neg().div(Math.log(classes)));
}

/** The same map from logits, through log-softmax (exact where p underflows). */
export function selfInformationFromLogits(logits: Tensor): Tensor {
  checkMap('selfInformationFromLogits', logits);
  const classes = logits.shape[1];
  return torch.tidy(() => logits.softmax(1).mul(logits.logSoftmax(1)).neg().div(Math.log(classes)));
}

/**
 * ADVENT's entropy loss: the entropy of the per-pixel class distribution, normalised by log C,
 * averaged over all pixels of the batch (in [0, 1]). From logits [N, C, H, W].
 */
export function entropyLoss(logits: Tensor): Tensor {
  return torch.tidy(() => selfInformationFromLogits(logits).sum(1).mean());
}

/**
 * The GAN loss of discriminator outputs (logits) against a domain label, averaged over every
 * output position: BCE with logits, or the squared error for 'ls'.
 */
export function ganLoss(output: Tensor, label: number, objective: GanObjective = 'vanilla'): Tensor {
  return torch.tidy(() => {
    const target = torch.fullLike(output, label);
    return objective === 'ls' ? F.mseLoss(output, target) : F.binaryCrossEntropyWithLogits(output, target);
  });
}

function checkMap(op: string, t: Tensor): void {
  if (t === null || typeof t !== 'object' || (t as { isTensor?: unknown }).isTensor !== true || t.ndim !== 4) {
    throw new TypeError(`${op}: expected a [N, C, H, W] tensor${t && (t as Tensor).shape ? `, got shape [${(t as Tensor).shape.join(', ')}]` : ''}`);
  }
  if (t.shape[1] < 2) throw new RangeError(`${op}: needs at least 2 classes, got ${t.shape[1]}`);
}

/** A model's outputs by level: the main logits and the auxiliary ones (each [N, C, H, W]). */
export interface OutputLevels {
  main: Tensor;
  aux: Tensor[];
}

export interface LabelledBatch {
  /** [B, 3, H, W]. */
  images: Tensor;
  /** [B, H, W] int64, 255 = ignore. */
  labels: Tensor;
}

export function levelsOf(out: SegmentationOutput): OutputLevels {
  return { main: out.logits, aux: out.aux ?? [] };
}

/** The levels with their graphs cut (what auxiliary networks train on after the segmenter's backward). */
export function detachLevels(l: OutputLevels): OutputLevels {
  return { main: l.main.detach(), aux: l.aux.map((a) => a.detach()) };
}

/** Cross-entropy of the main output plus auxWeight times each auxiliary output's (per-class weighted when given). */
export function segmentationLoss(levels: OutputLevels, labels: Tensor, auxWeight: number, classWeight: Tensor | null = null): Tensor {
  return torch.tidy(() => {
    let loss = maskedCrossEntropy(levels.main, labels, 255, classWeight);
    if (auxWeight > 0) for (const aux of levels.aux) loss = loss.add(maskedCrossEntropy(aux, labels, 255, classWeight).mul(auxWeight));
    return loss;
  });
}

/**
 * RIPU's negative learning: classes whose predicted probability is below `threshold` are taken as
 * complementary labels ("this pixel is not c"); the loss is -log(1 - p_c) over them, averaged over
 * all such (pixel, class) pairs. `logits` [N, C, H, W].
 */
export function negativeLearningLoss(logits: Tensor, threshold: number): Tensor {
  return torch.tidy(() => {
    const p = logits.softmax(1);
    const mask = p.detach().lt(threshold).float();
    const count = mask.sum().item() as number;
    return p
      .neg()
      .add(1 + 1e-6)
      .log()
      .mul(mask)
      .sum()
      .neg()
      .div(Math.max(1, count));
  });
}
