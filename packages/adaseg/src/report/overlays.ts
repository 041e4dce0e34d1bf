// What the scoring model saw on each queried image, for the annotation studio's overlays: its
// predicted train ids (an 8-bit palette PNG, index = train id, as labels/mask-files.ts writes
// colour masks) and its uncertainty (an 8-bit gray PNG: the entropy of its probabilities divided
// by log C, times 255), the maps of active/predictions.ts. The loop writes them for rounds that
// people answer (annotator: human), right after selecting, with the model that scored the pool and
// only for the selected images, one batch at a time: no probability map outlives its batch. The
// folder is recorded in the round's info (OVERLAYS_INFO_KEY, relative to the output folder) so the
// server finds it without knowing how the loop names its directories.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../util/atomic.js';
import { type OverlayMaps, type PoolPredictionOptions, predictPoolImages } from '../active/predictions.js';
import type { DatasetDescription } from '../data/dataset.js';
import { encodeIndexedPng } from '../data/png.js';
import type { SegmentationModel } from '../models/base.js';

export type OverlayKind = 'prediction' | 'uncertainty';

/** The key of a round's info that names its overlays folder (relative to the output folder). */
export const OVERLAYS_INFO_KEY = 'overlays';

/** The file of one overlay of a pool image: `<index>-<id, made safe>.<kind>.png`. */
export function overlayFileName(image: { index: number; id: string }, kind: OverlayKind): string {
  const safe = image.id.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  return `${image.index}-${safe}.${kind}.png`;
}

/** Writes an image's two overlay PNGs into `dir` (each through a temporary file and a rename). */
export async function writeOverlayFiles(
  dir: string,
  image: { index: number; id: string },
  maps: OverlayMaps,
  palette: readonly (readonly [number, number, number])[],
): Promise<string[]> {
  const { width, height } = maps;
  if (maps.prediction.length !== width * height || maps.uncertainty.length !== width * height)
    throw new RangeError(`overlays of '${image.id}': maps of ${maps.prediction.length} and ${maps.uncertainty.length} values for ${width}x${height}`);
  mkdirSync(dir, { recursive: true });
  const full: [number, number, number][] = Array.from({ length: 256 }, (_, i) => {
    const c = palette[i];
    return c === undefined ? [0, 0, 0] : [c[0], c[1], c[2]];
  });
  const prediction = join(dir, overlayFileName(image, 'prediction'));
  writeFileAtomic(prediction, encodeIndexedPng(width, height, maps.prediction, full));
  const uncertainty = join(dir, overlayFileName(image, 'uncertainty'));
  const gray = await sharp(Buffer.from(maps.uncertainty.buffer, maps.uncertainty.byteOffset, maps.uncertainty.byteLength), {
    raw: { width, height, channels: 1 },
  })
    .toColourspace('b-w')
    .png()
    .toBuffer();
  writeFileAtomic(uncertainty, gray);
  return [prediction, uncertainty];
}

export interface QueryOverlayOptions extends PoolPredictionOptions {
  /** Where the PNGs go. */
  dir: string;
  /** RGB per class, for the prediction's palette. */
  palette: readonly (readonly [number, number, number])[];
}

/**
 * Runs `model` over the pool images `images` and writes each one's prediction and uncertainty
 * PNGs (what the scoring model saw). Returns the files.
 */
export async function writeQueryOverlays(
  model: SegmentationModel,
  pool: DatasetDescription,
  images: readonly number[],
  options: QueryOverlayOptions,
): Promise<string[]> {
  const files: string[] = [];
  for await (const { index, maps } of predictPoolImages(model, pool, images, options)) {
    files.push(...(await writeOverlayFiles(options.dir, { index, id: pool.samples[index].id }, maps, options.palette)));
  }
  return files;
}
