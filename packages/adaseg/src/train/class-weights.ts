// Per-class weights of the segmentation cross-entropy. On street scenes a few classes (road, sky,
// building) own most pixels and thin ones (poles, signs, people) a percent each: with a plain mean,
// a small model at low resolution can ignore the thin ones and lose little loss. Median frequency
// balancing (SegNet's recipe on CamVid) weighs each class by median(freq) / freq(class); its square
// root keeps the order of the classes with half the spread (road 0.36 instead of 0.13 on CamVid's
// day split), so the large classes the shift breaks are not given up for the thin ones.
import type { DatasetDescription } from '../data/dataset.js';
import { numClasses } from '../data/dataset.js';
import { inspectDataset } from '../data/inspect.js';

/**
 * 'none' (a plain mean), 'medianFrequency' (from the training set's labels), its square root
 * 'sqrtMedianFrequency', or one weight per class.
 */
export type ClassWeightsConfig = 'none' | 'medianFrequency' | 'sqrtMedianFrequency' | number[];

/** Checks a config value; throws an Error saying what was expected (the caller names the field). */
export function parseClassWeights(raw: unknown): ClassWeightsConfig {
  if (raw === undefined || raw === 'none') return 'none';
  if (raw === 'medianFrequency' || raw === 'sqrtMedianFrequency') return raw;
  if (Array.isArray(raw) && raw.length > 0 && raw.every((w) => typeof w === 'number' && Number.isFinite(w) && w > 0)) return raw as number[];
  throw new Error(`expected 'none', 'medianFrequency', 'sqrtMedianFrequency' or a list of positive numbers (one per class), got ${JSON.stringify(raw)}`);
}

/**
 * Median frequency balancing from pixel counts per class: median / frequency, the median taken
 * over the classes that occur. A class with no pixel gets the largest weight of the others (it
 * is rarer than all of them; it may still occur in other data, e.g. labelled target regions).
 */
export function medianFrequencyWeights(pixels: readonly number[]): number[] {
  const present = pixels.filter((p) => p > 0);
  if (present.length === 0) throw new Error('medianFrequency class weights: the training labels have no labelled pixel');
  const sorted = [...present].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const weights = pixels.map((p) => (p > 0 ? median / p : 0));
  const largest = Math.max(...weights);
  return weights.map((w) => (w > 0 ? w : largest));
}

// An experiment trains many rounds on one source set: count its labels once.
const medianFrequencyCache = new WeakMap<DatasetDescription, number[]>();

/**
 * The weights a training run uses (null: a plain mean). 'medianFrequency' and its square root read
 * every label of `dataset` once (headers only for images); a list must have one weight per class
 * of `dataset`.
 */
export async function resolveClassWeights(config: ClassWeightsConfig, dataset: DatasetDescription, log?: (line: string) => void): Promise<number[] | null> {
  if (config === 'none') return null;
  const classes = numClasses(dataset);
  if (Array.isArray(config)) {
    if (config.length !== classes)
      throw new Error(`train.classWeights: ${config.length} weights given, but ${dataset.name} has ${classes} classes (${dataset.classes.names.join(', ')})`);
    return [...config];
  }
  const sqrt = config === 'sqrtMedianFrequency';
  const cached = medianFrequencyCache.get(dataset);
  const weights = cached ?? (await countMedianFrequency(dataset, classes));
  const used = sqrt ? weights.map(Math.sqrt) : [...weights];
  // Logged once per run, where the labels are counted.
  if (cached === undefined)
    log?.(
      `class weights (${sqrt ? 'square root of the median frequency' : 'median frequency'} over ${dataset.name}): ${dataset.classes.names.map((n, i) => `${n} ${used[i].toFixed(2)}`).join(', ')}`,
    );
  return used;
}

async function countMedianFrequency(dataset: DatasetDescription, classes: number): Promise<number[]> {
  const report = await inspectDataset(dataset, { decodeImages: false });
  if (report.problems.length > 0) throw new Error(`train.classWeights: cannot count the labels of ${dataset.name}: ${report.problems[0].message}`);
  const pixels = new Array<number>(classes).fill(0);
  for (const c of report.classPixels) if (c.trainId < classes) pixels[c.trainId] = c.pixels;
  const weights = medianFrequencyWeights(pixels);
  medianFrequencyCache.set(dataset, weights);
  return weights;
}
