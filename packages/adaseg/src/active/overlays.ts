// What the scoring model saw on each queried image, for the annotation studio's overlays: its
// predicted train ids (an 8-bit palette PNG, index = train id, as exportMasks writes label masks)
// and its uncertainty (an 8-bit gray PNG: the entropy of its probabilities divided by log C, times
// 255). The loop writes them for rounds that people answer (annotator: human), right after
// selecting, with the model that scored the pool and only for the selected images, one batch at
// a time: no probability map outlives its batch. The folder is recorded in the round's info
// (OVERLAYS_INFO_KEY, relative to the output folder) so the server finds it without knowing how
// the loop names its directories.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import * as torch from '@adaseg/torch';
import type { DatasetDescription } from '../data/dataset.js';
import { withoutLabel, withSamples } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { encodeIndexedPng } from '../data/png.js';
import { IMAGENET_NORMALIZE, type Normalize, type Transform } from '../data/transforms.js';
import type { SegmentationModel } from '../models/base.js';
import { writeFileAtomic } from '../util/atomic.js';
import { entropy } from './strategies/common.js';

export type OverlayKind = 'prediction' | 'uncertainty';

/** The key of a round's info that names its overlays folder (relative to the output folder). */
export const OVERLAYS_INFO_KEY = 'overlays';

/** The file of one overlay of a pool image: `<index>-<id, made safe>.<kind>.png`. */
export function overlayFileName(image: { index: number; id: string }, kind: OverlayKind): string {
  const safe = image.id.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  return `${image.index}-${safe}.${kind}.png`;
}

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


/** Writes an image's two overlay PNGs into `dir` (each through a temporary file and a rename). */
export async function writeOverlayFiles(dir: string, image: { index: number; id: string }, maps: OverlayMaps, palette: readonly (readonly [number, number, number])[]): Promise<string[]> {
  const { width, height } = maps;
  if (maps.prediction.length !== width * height || maps.uncertainty.length !== width * height) throw new RangeError(`overlays of '${image.id}': maps of ${maps.prediction.length} and ${maps.uncertainty.length} values for ${width}x${height}`);
  mkdirSync(dir, { recursive: true });
  const full: [number, number, number][] = Array.from({ length: 256 }, (_, i) => {
    const c = palette[i];
    return c === undefined ? [0, 0, 0] : [c[0], c[1], c[2]];
  });
  const prediction = join(dir, overlayFileName(image, 'prediction'));
  writeFileAtomic(prediction, encodeIndexedPng(width, height, maps.prediction, full));
  const uncertainty = join(dir, overlayFileName(image, 'uncertainty'));
  const gray = await sharp(Buffer.from(maps.uncertainty.buffer, maps.uncertainty.byteOffset, maps.uncertainty.byteLength), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
  writeFileAtomic(uncertainty, gray);
  return [prediction, uncertainty];
}

export interface PoolPredictionOptions {
  /** The pool's deterministic transforms (the resize to the working resolution), as when scoring. */
  transforms?: Transform[];
  normalize?: Normalize;
  batchSize?: number;
  workers?: number;
}

export interface QueryOverlayOptions extends PoolPredictionOptions {
  /** Where the PNGs go. */
  dir: string;
  /** RGB per class, for the prediction's palette. */
  palette: readonly (readonly [number, number, number])[];
}

/**
 * Runs `model` (eval mode, no dropout sampling) over the pool images `images` (indices into the
 * pool's samples, each once, in pool order) and yields each one's prediction and uncertainty maps
 * at the working resolution, one batch at a time. The labels are never read. The model's modes
 * are restored when the iteration ends (or is left early).
 */
export async function* predictPoolImages(model: SegmentationModel, pool: DatasetDescription, images: readonly number[], options: PoolPredictionOptions = {}): AsyncGenerator<{ index: number; maps: OverlayMaps }> {
  const unique = [...new Set(images)].sort((a, b) => a - b);
  if (unique.length === 0) return;
  for (const i of unique) if (pool.samples[i] === undefined) throw new RangeError(`predictPoolImages: the pool has no image ${i} (${pool.samples.length} images)`);
  const subset = withSamples(pool, unique.map((i) => withoutLabel(pool.samples[i])));
  const workers = options.workers ?? 0;
  const loader = new DataLoader(subset, { batchSize: options.batchSize ?? 4, workers, prefetch: workers === 0 ? 0 : 2, transforms: options.transforms ?? [], normalize: options.normalize ?? IMAGENET_NORMALIZE });
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

/**
 * Runs `model` over the pool images `images` and writes each one's prediction and uncertainty
 * PNGs (what the scoring model saw). Returns the files.
 */
export async function writeQueryOverlays(model: SegmentationModel, pool: DatasetDescription, images: readonly number[], options: QueryOverlayOptions): Promise<string[]> {
  const files: string[] = [];
  for await (const { index, maps } of predictPoolImages(model, pool, images, options)) {
    files.push(...(await writeOverlayFiles(options.dir, { index, id: pool.samples[index].id }, maps, options.palette)));
  }
  return files;
}
