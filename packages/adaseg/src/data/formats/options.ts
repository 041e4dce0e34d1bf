// What a dataset format's registry entry is, the options every file-based format shares, and the
// typed readers the entries parse their config section with (errors are bad-config DataErrors
// naming the key).
import type { DatasetDescription } from '../dataset.js';
import { DataError } from '../errors.js';

export type LabelPolicy =
  /** Every image must have its label file (default): a missing one is an error naming the image. */
  | 'required'
  /** Images without a label file become unlabelled samples. */
  | 'optional'
  /** Do not read labels at all (an unlabelled target set). */
  | 'none';

export interface CommonOptions {
  labels?: LabelPolicy;
  /** Label values never declared by the format: 'error' (default) or 'warn' (reported, then ignored). */
  onUndeclared?: 'error' | 'warn';
  /** Keep only the first N samples (in sorted order). */
  limit?: number;
}

/** How a dataset is listed, besides its config. */
export interface LoadOptions {
  /**
   * Called for each image without its label file when labels are required (the sample is kept,
   * unlabelled, so that every such image is found: `data inspect`); without it the first throws.
   */
  onMissingLabel?: (err: DataError) => void;
}

export type CityscapesClasses = 19 | 16 | 13;

/** A dataset format: how its config section is read, its samples listed, its folder recognised. */
export interface DatasetFormatEntry<C extends { format: string }> {
  /** The config's `format` value. */
  readonly format: C['format'];
  /** Whether the config names a `root` folder (checked to exist before `load`). */
  readonly hasRoot: boolean;
  /** The split `adaseg data` takes when none is given (formats whose split is required). */
  readonly defaultSplit?: string;
  /** Reads the config section (a plain object with this `format`) and fills in defaults. */
  parse(o: Obj): C;
  /** Lists the samples (files only; decoding and checks happen when samples are loaded). */
  load(config: C, options?: LoadOptions): Promise<DatasetDescription> | DatasetDescription;
  /**
   * Recognises a folder of this format by its layout (detectFormat): layouts are tried in
   * ascending `rank`, the most specific first.
   */
  readonly detect?: {
    rank: number;
    /** The layout in words, as detection reports it ('leftImg8bit/'). */
    layout: string;
    /** Whether the folder has this layout; may throw a DataError for a folder that looks like it but must not be guessed. */
    matches(root: string): Promise<boolean>;
  };
}

export type Obj = Record<string, unknown>;

export function fail(message: string): never {
  throw new DataError('bad-config', `dataset config: ${message}`);
}

export function str(o: Obj, key: string, optional: true): string | undefined;
export function str(o: Obj, key: string, optional?: false): string;
export function str(o: Obj, key: string, optional = false): string | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v.length === 0) fail(`'${key}' must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

export function oneOf<T extends string | number>(o: Obj, key: string, values: readonly T[], fallback?: T): T {
  const v = o[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (!values.includes(v as T)) fail(`'${key}' must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

export function posInt(o: Obj, key: string, optional = false): number | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(`'${key}' must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

export function keys(o: Obj, allowed: string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) fail(`unknown key '${k}' for format '${String(o.format)}' (allowed: ${allowed.join(', ')})`);
  }
}

/** The keys of every file-based format: format, root, split and the CommonOptions. */
export const COMMON = ['format', 'root', 'split', 'labels', 'onUndeclared', 'limit'];

export function common(o: Obj): CommonOptions {
  const out: CommonOptions = {
    labels: oneOf(o, 'labels', ['required', 'optional', 'none'] as const, 'required'),
    onUndeclared: oneOf(o, 'onUndeclared', ['error', 'warn'] as const, 'error'),
  };
  const limit = posInt(o, 'limit', true);
  if (limit !== undefined) out.limit = limit;
  return out;
}

/** The Cityscapes-class protocol of GTA5, SYNTHIA and Cityscapes configs ('classes'). */
export function protocol(o: Obj, fallback: CityscapesClasses): CityscapesClasses {
  return oneOf(o, 'classes', [19, 16, 13] as const, fallback);
}

/**
 * The config of a format with a flat image folder, optional {split}.txt lists and a
 * Cityscapes-class protocol (GTA5, SYNTHIA).
 */
export function parseSplitListConfig<F extends string>(
  o: Obj,
  format: F,
  fallback: CityscapesClasses,
): { format: F; root: string; split?: string; classes: CityscapesClasses } & CommonOptions {
  keys(o, [...COMMON, 'classes']);
  const split = str(o, 'split', true);
  return { format, root: str(o, 'root'), ...(split !== undefined ? { split } : {}), classes: protocol(o, fallback), ...common(o) };
}
