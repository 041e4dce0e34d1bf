// The dataset description shared by every format: what the classes are, how label files become
// train ids, and the list of samples. Formats build one; the loader, inspect and the rest of adaseg
// only read it. Plain data throughout, so it can be sent to worker threads as it is.
import { type ClassList, IGNORE_INDEX, type LabelMapping } from './classes.js';
import { DataError } from './errors.js';
import type { DatasetConfigFormat } from './formats/index.js';

/** The format of a dataset: one of the format registry's (formats/index.ts). */
export type DatasetFormat = DatasetConfigFormat;

export type SyntheticStyle = 'source' | 'target';

/** One procedurally drawn scene: the same seed gives the same scene (and labels) in both styles. */
export interface SyntheticScene {
  seed: number;
  width: number;
  height: number;
  style: SyntheticStyle;
}

export type ImageSource = { kind: 'file'; path: string } | { kind: 'synthetic'; scene: SyntheticScene };

/** Train ids per pixel (row-major), IGNORE_INDEX where unknown: a partial label. */
export interface LabelMask {
  width: number;
  height: number;
  data: Uint8Array;
}

export type LabelSource =
  /** No label: every pixel is ignore (an unlabelled target image). */
  | { kind: 'none' }
  /** A label file of the dataset's encoding; raw values go through the dataset's mapping. */
  | { kind: 'file'; path: string }
  /** Train ids given in memory (e.g. regions revealed by an annotator); 255 = unknown. */
  | { kind: 'mask'; mask: LabelMask }
  /** The exact labels of a synthetic scene. */
  | { kind: 'synthetic' };

export interface Sample {
  /** Unique within the dataset (usually the file stem). */
  id: string;
  image: ImageSource;
  label: LabelSource;
}

/** How a label file stores raw ids: the value of one channel (gray, palette index, 16-bit channel). */
export interface LabelEncoding {
  kind: 'value';
  channel: number;
}

export type UndeclaredPolicy = 'error' | 'warn';

export interface DatasetDescription {
  name: string;
  format: DatasetFormat;
  split: string;
  /** The folder it was read from (null for generated data). */
  root: string | null;
  classes: ClassList;
  ignoreIndex: typeof IGNORE_INDEX;
  mapping: LabelMapping;
  encoding: LabelEncoding;
  /** What to do with label values never declared: 'error' (default) stops; 'warn' reports and ignores them. */
  onUndeclared: UndeclaredPolicy;
  samples: Sample[];
}

export function numClasses(ds: DatasetDescription): number {
  return ds.classes.names.length;
}

/** The same dataset with other samples (a subset, a pool, samples with partial labels). */
export function withSamples(ds: DatasetDescription, samples: Sample[], split = ds.split): DatasetDescription {
  return { ...ds, split, samples };
}

/** A sample whose label is the given partial mask (train ids; 255 = unknown). */
export function withMask(sample: Sample, mask: LabelMask): Sample {
  if (mask.data.length !== mask.width * mask.height) {
    throw new DataError('size-mismatch', `mask for sample '${sample.id}' has ${mask.data.length} values for ${mask.width}x${mask.height}`);
  }
  return { ...sample, label: { kind: 'mask', mask } };
}

/** A sample with its label removed (e.g. for an unlabelled target pool). */
export function withoutLabel(sample: Sample): Sample {
  return { ...sample, label: { kind: 'none' } };
}

export function labelPath(sample: Sample): string | null {
  return sample.label.kind === 'file' ? sample.label.path : null;
}

export function imagePath(sample: Sample): string | null {
  return sample.image.kind === 'file' ? sample.image.path : null;
}

/** Where a sample comes from, for messages: its image file, or its synthetic scene. */
export function describeSample(sample: Sample): string {
  if (sample.image.kind === 'file') return sample.image.path;
  const s = sample.image.scene;
  return `synthetic ${s.style} scene seed ${s.seed} (${s.width}x${s.height})`;
}
