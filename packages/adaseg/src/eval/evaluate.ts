// Evaluation of a segmentation model over a whole dataset: one confusion matrix, optional flip
// test-time augmentation, optional palette PNGs of the predictions.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import type { DatasetDescription } from '../data/dataset.js';
import { numClasses } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { encodeIndexedPng } from '../data/png.js';
import type { Normalize, Transform } from '../data/transforms.js';
import type { SegmentationModel } from '../models/base.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ProgressBar } from '../util/progress.js';
import { ConfusionMatrix, type SegmentationMetrics } from './metrics.js';

export interface EvaluateOptions {
  /** Average class probabilities with those of the mirrored image. Default false. */
  flip?: boolean;
  batchSize?: number;
  workers?: number;
  normalize?: Normalize;
  transforms?: Transform[];
  /** Write each prediction as a palette PNG named after its sample here. */
  predictionsDir?: string;
  progress?: boolean;
  label?: string;
}

export interface EvaluationResult extends SegmentationMetrics {
  classNames: string[];
  images: number;
  seconds: number;
}

/** Class probabilities [N, C, H, W] of a batch, in inference mode (flip-averaged when asked). */
export function predictProbabilities(model: SegmentationModel, images: torch.Tensor, flip = false): torch.Tensor {
  return torch.inferenceMode(() =>
    torch.tidy(() => {
      const probs = model.forward(images).logits.softmax(1);
      if (!flip) return probs;
      const mirrored = model.forward(images.flip(3)).logits.softmax(1).flip(3);
      return probs.add(mirrored).mul(0.5);
    }),
  );
}

export async function evaluate(model: SegmentationModel, dataset: DatasetDescription, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const started = performance.now();
  const classes = numClasses(dataset);
  if (model.numClasses !== classes) {
    throw new Error(`evaluate: the model predicts ${model.numClasses} classes but ${dataset.name} has ${classes}`);
  }
  const cm = new ConfusionMatrix(classes, dataset.ignoreIndex);
  const loader = new DataLoader(dataset, {
    batchSize: options.batchSize ?? 4,
    workers: options.workers ?? 2,
    transforms: options.transforms ?? [],
    ...(options.normalize ? { normalize: options.normalize } : {}),
  });
  const bar = new ProgressBar({
    total: dataset.samples.length,
    label: options.label ?? `eval ${dataset.name}`,
    unit: 'img',
    enabled: options.progress ?? false,
  });
  if (options.predictionsDir) mkdirSync(options.predictionsDir, { recursive: true });
  const wasTraining = model.training;
  model.eval();
  let images = 0;
  try {
    for await (const batch of loader.epoch(0)) {
      try {
        const pred = torch.tidy(() => {
          const p = predictProbabilities(model, batch.images, options.flip ?? false).argmax(1);
          cm.update(p, batch.labels);
          return p;
        });
        if (options.predictionsDir) writePredictions(options.predictionsDir, pred, batch.ids, dataset.classes.palette);
        pred.dispose();
      } finally {
        batch.dispose();
      }
      images += batch.ids.length;
      bar.update(images);
    }
  } finally {
    await loader.close();
    model.train(wasTraining);
  }
  bar.finish();
  return { ...cm.metrics(), classNames: [...dataset.classes.names], images, seconds: (performance.now() - started) / 1000 };
}

function writePredictions(dir: string, pred: torch.Tensor, ids: string[], palette: readonly (readonly [number, number, number])[]): void {
  const [n, h, w] = pred.shape;
  const all = torch.tidy(() => pred.to('uint8').toTypedArray() as Uint8Array);
  for (let i = 0; i < n; i++) {
    const png = encodeIndexedPng(w, h, all.subarray(i * h * w, (i + 1) * h * w), palette);
    const file = join(dir, `${ids[i].replace(/[\\/]/g, '_')}.png`);
    writeFileAtomic(file, png);
  }
}

/** A fixed-width table of per-class IoU for terminals and logs. */
export function formatMetrics(result: EvaluationResult, title = ''): string {
  const lines = title ? [title] : [];
  const width = Math.max(...result.classNames.map((n) => n.length), 5);
  for (const [i, name] of result.classNames.entries()) {
    const iou = result.iou[i];
    lines.push(`  ${name.padEnd(width)}  ${iou === null ? '   -  ' : (iou * 100).toFixed(2).padStart(6)}`);
  }
  lines.push(
    `  ${'mIoU'.padEnd(width)}  ${(result.mIoU * 100).toFixed(2).padStart(6)}   pixel acc ${(result.pixelAccuracy * 100).toFixed(2)}  (${result.images} images, ${result.seconds.toFixed(1)} s)`,
  );
  return lines.join('\n');
}
