// The scorer: runs the model over the pool in batches and hands each strategy exactly what it
// declared it needs, keeping only the strategy's small per-unit records. It never looks at which
// strategy it has, only at `strategy.needs` and `strategy.settings`.
//
// Per batch (eval mode, inference mode, every tensor freed before the next batch):
//   probabilities      softmax of the logits
//   mcSamples          T more forward passes with MC dropout on (model.setMcDropout(true); the
//                      previous setting is restored afterwards), stacked [T, N, C, H, W]
//   features           decoder features, bilinearly resized to the image size
//   targetness         adapt/targetness of the given discriminator on the probabilities
//   gradientEmbedding  per unit, the mean over its pixels of (p - onehot(argmax p)) ⊗ f: the
//                      gradient of the cross-entropy against the predicted class with respect to
//                      the weights of a 1x1 classifier on the features. Exact for U-Net, FCN and
//                      DeepLabV3 (1x1 classifiers; 1x1 convolution and bilinear resizing commute,
//                      so resized features give the full-resolution gradient); for DeepLabV2
//                      (3x3 dilated classifier) it is the gradient of a 1x1 probe on its features.
//   sourceAnchors      once per call, before the pool: MADA anchors from options.source
// Pool images are loaded at the pool's resolution with its deterministic transforms, never with
// their labels; labelled pixels (options.labelled) are excluded from every unit.
import * as torch from '@adaseg/torch';
import { targetness } from '../adapt/discriminator.js';
import type { DatasetDescription } from '../data/dataset.js';
import { numClasses, withoutLabel, withSamples } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { IMAGENET_NORMALIZE, type Normalize, type Transform } from '../data/transforms.js';
import { upsampleTo, type SegmentationModel } from '../models/base.js';
import { BatchUnits, predictedClass } from './strategies/common.js';
import { kmeans, pruneRecords } from './strategies/select.js';
import { seededRandom } from './budget.js';
import { checkPoolTransforms, checkUnitConfig, denormalizeRgb, needsImage, superpixels } from './units.js';
import type { BatchInputs, Need, ScoreOptions, Strategy, UnitConfig, UnitRecord } from './types.js';

type Tensor = torch.Tensor;

const NEEDS: readonly Need[] = ['probabilities', 'mcSamples', 'features', 'targetness', 'sourceAnchors', 'gradientEmbedding'];

/** Scored records kept per image for pixel units when options.keepPerImage is not given. */
export const DEFAULT_PIXEL_RECORDS = 4096;

/**
 * Per-unit gradient embeddings [N, U, C*D] (see the file comment) from probabilities [N, C, H, W]
 * and features [N, D, H, W] at the same size.
 */
export function gradientEmbeddings(units: BatchUnits, probabilities: Tensor, features: Tensor): Tensor {
  return torch.tidy(() => {
    const C = probabilities.shape[1];
    const pred = predictedClass(probabilities, true);
    const rows: Tensor[] = [];
    for (let c = 0; c < C; c++) {
      const g = probabilities.narrow(1, c, 1).sub(pred.eq(c).float());
      rows.push(units.meanAll(features.mul(g)).permute(0, 2, 1));
    }
    const e = torch.stack(rows, 2);
    return e.reshape([e.shape[0], e.shape[1], C * features.shape[1]]);
  });
}

export interface AnchorOptions {
  /** Anchors (k-means centres), default 10 (fewer when the source has fewer images). */
  anchors?: number;
  /** A class's mean feature in an image is used from this many pixels on (default 10). */
  minPixels?: number;
  seed?: number;
  batchSize?: number;
  workers?: number;
  transforms?: Transform[];
  normalize?: Normalize;
}

/**
 * MADA's anchors: per source image, the mean decoder feature of each class over the pixels whose
 * label and prediction are both that class (zeros when fewer than minPixels); these C x D
 * "objective vectors" are clustered with seeded k-means; the centres are the anchors [K, C, D].
 */
export async function computeSourceAnchors(model: SegmentationModel, source: DatasetDescription, options: AnchorOptions = {}): Promise<Tensor> {
  const minPixels = options.minPixels ?? 10;
  const C = model.numClasses;
  if (numClasses(source) !== C) throw new Error(`computeSourceAnchors: the model predicts ${C} classes but ${source.name} has ${numClasses(source)}`);
  const workers = options.workers ?? 0;
  const loader = new DataLoader(source, {
    batchSize: options.batchSize ?? 4,
    workers,
    prefetch: workers === 0 ? 0 : 2,
    transforms: options.transforms ?? [],
    normalize: options.normalize ?? IMAGENET_NORMALIZE,
  });
  const vectors: Float32Array[] = [];
  let D = 0;
  const wasTraining = model.training;
  model.eval();
  try {
    for await (const batch of loader.epoch(0)) {
      try {
        const v = torch.inferenceMode(() =>
          torch.tidy(() => {
            const out = model.forward(batch.images);
            const [N, , H, W] = out.logits.shape;
            const f = upsampleTo(out.features, H, W);
            D = f.shape[1];
            const flat = f.reshape([N, D, H * W]);
            const pred = predictedClass(out.logits);
            const rows: Tensor[] = [];
            for (let c = 0; c < C; c++) {
              const mask = batch.labels
                .eq(c)
                .logicalAnd(pred.eq(c))
                .float()
                .reshape([N, H * W, 1]);
              const count = mask.sum(1);
              const mean = flat.matmul(mask).squeeze(2).div(count.clamp(1));
              rows.push(mean.mul(count.ge(minPixels).float()));
            }
            return torch.stack(rows, 1).contiguous().toTypedArray() as Float32Array;
          }),
        );
        const n = batch.ids.length;
        for (let i = 0; i < n; i++) vectors.push(v.slice(i * C * D, (i + 1) * C * D));
      } finally {
        batch.dispose();
      }
    }
  } finally {
    await loader.close();
    model.train(wasTraining);
  }
  const K = Math.min(options.anchors ?? 10, vectors.length);
  const data = new Float32Array(vectors.length * C * D);
  vectors.forEach((v, i) => data.set(v, i * C * D));
  return torch.tidy(() => {
    const X = torch.tensor(data, { shape: [vectors.length, C * D] });
    const result = kmeans(X, K, seededRandom(options.seed ?? 0, 0xa7c4), 100);
    const anchors = result.centroids.reshape([K, C, D]).clone();
    result.centroids.dispose();
    return anchors;
  });
}

function checkNeeds(strategy: Strategy): Set<Need> {
  const needs = new Set<Need>();
  for (const n of strategy.needs) {
    if (!NEEDS.includes(n)) throw new Error(`scorePool: strategy ${strategy.name} needs '${String(n)}', which the scorer does not know (${NEEDS.join(', ')})`);
    needs.add(n);
  }
  return needs;
}

/** The labelled mask of a batch [N, H, W] (bool) from the lookup. */
function labelledMask(options: ScoreOptions, indices: number[], ids: string[], H: number, W: number): Tensor {
  const plane = H * W;
  const data = new Uint8Array(indices.length * plane);
  indices.forEach((index, i) => {
    const m = options.labelled?.(index, ids[i]);
    if (m === null || m === undefined) return;
    if (m.length !== plane)
      throw new RangeError(`scorePool: the labelled mask of '${ids[i]}' has ${m.length} values, but the pool image is ${W}x${H} (${plane})`);
    const out = data.subarray(i * plane, (i + 1) * plane);
    for (let p = 0; p < plane; p++) out[p] = m[p] !== 0 ? 1 : 0;
  });
  return torch.tidy(() => torch.tensor(data, { shape: [indices.length, H, W] }).bool());
}

/**
 * Scores every candidate unit of the pool for a strategy: what the loop calls once per round,
 * before strategy.select. Returns the strategy's records (all images, pool order).
 */
export async function scorePool(model: SegmentationModel, pool: DatasetDescription, strategy: Strategy, options: ScoreOptions): Promise<UnitRecord[]> {
  const units: UnitConfig = options.units;
  checkUnitConfig(units);
  const transforms = options.transforms ?? [];
  checkPoolTransforms(transforms);
  const needs = checkNeeds(strategy);
  const normalize = options.normalize ?? IMAGENET_NORMALIZE;
  const seed = options.seed ?? 0;
  const keepPerImage = options.keepPerImage ?? (units.kind === 'pixel' ? DEFAULT_PIXEL_RECORDS : Infinity);
  if (!(keepPerImage >= 1)) throw new RangeError(`scorePool: keepPerImage must be >= 1, got ${keepPerImage}`);
  if (needs.has('targetness') && options.discriminator === undefined)
    throw new Error(`scorePool: strategy ${strategy.name} needs 'targetness': pass options.discriminator (e.g. restoreDiscriminators(run).main)`);
  if (needs.has('sourceAnchors') && options.source === undefined)
    throw new Error(`scorePool: strategy ${strategy.name} needs 'sourceAnchors': pass options.source (the labelled source data)`);
  if (model.numClasses !== numClasses(pool))
    throw new Error(`scorePool: the model predicts ${model.numClasses} classes but ${pool.name} has ${numClasses(pool)}`);
  const passes = strategy.settings.mcPasses ?? 10;
  if (needs.has('mcSamples') && !(Number.isInteger(passes) && passes >= 1))
    throw new RangeError(`scorePool: mcPasses must be a positive integer, got ${passes}`);
  // One deterministic forward pass serves all of these (MC samples are separate passes).
  const needsForward = (['probabilities', 'features', 'targetness', 'gradientEmbedding'] as const).some((n) => needs.has(n));
  const wasTraining = model.training;
  const wasMc = model.mcDropout;
  const hasDropout = model.dropoutLayers().length > 0;
  let anchors: Tensor | null = null;
  const workers = options.workers ?? 0;
  // Without workers, no prefetch: decoding the next batch on the main thread while the model runs
  // would take cores from the engine's threads (a 2-core machine then slows down overall).
  // The pool's labels are never read (selection must not see ground truth; it also saves decoding).
  const unlabelledPool = withSamples(
    pool,
    pool.samples.map((s) => (s.label.kind === 'none' ? s : withoutLabel(s))),
  );
  const loader = new DataLoader(unlabelledPool, { batchSize: options.batchSize ?? 4, workers, prefetch: workers === 0 ? 0 : 2, transforms, normalize });
  const records: UnitRecord[] = [];
  let done = 0;
  model.eval();
  try {
    if (needs.has('mcSamples')) {
      // Fail before any work when the model has no dropout to sample with.
      model.setMcDropout(true);
      model.setMcDropout(wasMc);
    }
    if (needs.has('sourceAnchors')) {
      anchors = torch.keep(
        await computeSourceAnchors(model, options.source!, {
          anchors: strategy.settings.anchors,
          minPixels: strategy.settings.anchorMinPixels,
          seed,
          batchSize: options.batchSize,
          workers: options.workers,
          transforms,
          normalize,
        }),
      );
      model.eval();
    }
    for await (const batch of loader.epoch(0)) {
      try {
        const [N, , H, W] = batch.images.shape;
        let segments: { labels: Int32Array; count: number }[] | null = null;
        if (units.kind === 'superpixel') {
          const rgb = needsImage(units) ? denormalizeRgb(batch.images, normalize) : null;
          segments = Array.from({ length: N }, (_, i) => superpixels(units, { width: W, height: H }, rgb?.[i]));
        }
        let batchRecords: UnitRecord[] = [];
        // (The tidy returns nothing: records hold no tensors, so it need not search them.)
        torch.inferenceMode(() =>
          torch.tidy(() => {
            const inputs: BatchInputs = {
              images: batch.indices,
              imageIds: batch.ids,
              labelled: labelledMask(options, batch.indices, batch.ids, H, W),
              seed,
              keepPerImage,
            };
            if (segments !== null) {
              const flat = new Int32Array(N * H * W);
              segments.forEach((s, i) => flat.set(s.labels, i * H * W));
              inputs.segments = torch.tensor(flat, { shape: [N, H, W] }).long();
              inputs.segmentCounts = segments.map((s) => s.count);
            }
            if (needsForward) {
              const out = model.forward(batch.images);
              const probs = out.logits.softmax(1);
              const features = needs.has('features') || needs.has('gradientEmbedding') ? upsampleTo(out.features, H, W) : null;
              if (needs.has('probabilities')) inputs.probabilities = probs;
              if (needs.has('features')) inputs.features = features!;
              if (needs.has('targetness')) inputs.targetness = targetness(options.discriminator!, probs);
              if (needs.has('gradientEmbedding')) inputs.gradientEmbedding = gradientEmbeddings(new BatchUnits(inputs, units), probs, features!);
            }
            if (needs.has('mcSamples')) {
              model.setMcDropout(true);
              try {
                const samples: Tensor[] = [];
                for (let t = 0; t < passes; t++) samples.push(model.forward(batch.images).logits.softmax(1));
                inputs.mcSamples = torch.stack(samples, 0);
              } finally {
                model.setMcDropout(wasMc);
              }
            }
            if (anchors !== null) inputs.sourceAnchors = anchors;
            batchRecords = strategy.scoreBatch(inputs, units);
          }),
        );
        for (const r of pruneRecords(batchRecords, keepPerImage)) records.push(r);
      } finally {
        batch.dispose();
      }
      done += batch.ids.length;
      options.onProgress?.(done, pool.samples.length);
    }
  } finally {
    await loader.close();
    anchors?.dispose();
    if (hasDropout) model.setMcDropout(wasMc);
    model.train(wasTraining);
  }
  return records;
}
