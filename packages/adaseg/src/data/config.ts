// Dataset configs: a discriminated union on `format`, checked when loaded (configs come from JSON,
// CLI flags and code alike). Each format reads its real on-disk layout; see formats/.
import { DataError } from './errors.js';

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

export type CityscapesClasses = 19 | 16 | 13;

export type DatasetConfig =
  /** images/, labels/, {split}.txt lists, meta.json (class names, palette, void value). */
  | ({ format: 'folder'; root: string; split?: string } & CommonOptions)
  /** SegNet's CamVid: train/ trainannot/ val/ valannot/ test/ testannot/; 11 classes, 11 = void. */
  | ({ format: 'camvid'; root: string; split: 'train' | 'val' | 'test' } & CommonOptions)
  /** leftImg8bit/{split}/{city}/*_leftImg8bit.png, gtFine/{split}/{city}/*_gtFine_labelIds.png. */
  | ({ format: 'cityscapes'; root: string; split: 'train' | 'val' | 'test'; classes?: CityscapesClasses } & CommonOptions)
  /** images/*.png, labels/*.png (palette PNG, index = Cityscapes label id); split = a {split}.txt list. */
  | ({ format: 'gta5'; root: string; split?: string; classes?: CityscapesClasses } & CommonOptions)
  /** SYNTHIA-RAND-CITYSCAPES: RGB/*.png, GT/LABELS/*.png (16-bit, first channel = class id). */
  | ({ format: 'synthia'; root: string; split?: string; classes?: CityscapesClasses } & CommonOptions)
  /** The built-in synthetic domain pair, drawn on the fly. */
  | { format: 'synthetic'; style: 'source' | 'target'; count: number; width: number; height: number; seed?: number };

export type DatasetConfigFormat = DatasetConfig['format'];
export const DATASET_FORMATS: readonly DatasetConfigFormat[] = ['folder', 'camvid', 'cityscapes', 'gta5', 'synthia', 'synthetic'];

function fail(message: string): never {
  throw new DataError('bad-config', `dataset config: ${message}`);
}

type Obj = Record<string, unknown>;

function str(o: Obj, key: string, optional: true): string | undefined;
function str(o: Obj, key: string, optional?: false): string;
function str(o: Obj, key: string, optional = false): string | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v.length === 0) fail(`'${key}' must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string | number>(o: Obj, key: string, values: readonly T[], fallback?: T): T {
  const v = o[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (!values.includes(v as T)) fail(`'${key}' must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function posInt(o: Obj, key: string, optional = false): number | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(`'${key}' must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function keys(o: Obj, allowed: string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) fail(`unknown key '${k}' for format '${String(o.format)}' (allowed: ${allowed.join(', ')})`);
  }
}

const COMMON = ['format', 'root', 'split', 'labels', 'onUndeclared', 'limit'];

function common(o: Obj): CommonOptions {
  const out: CommonOptions = {
    labels: oneOf(o, 'labels', ['required', 'optional', 'none'] as const, 'required'),
    onUndeclared: oneOf(o, 'onUndeclared', ['error', 'warn'] as const, 'error'),
  };
  const limit = posInt(o, 'limit', true);
  if (limit !== undefined) out.limit = limit;
  return out;
}

/** Checks a config given as plain data and returns it typed; throws a bad-config DataError. */
export function parseDatasetConfig(value: unknown): DatasetConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`expected an object with a 'format', got ${JSON.stringify(value)}`);
  const o = value as Obj;
  const format = oneOf(o, 'format', DATASET_FORMATS);
  switch (format) {
    case 'folder': {
      keys(o, COMMON);
      const split = str(o, 'split', true);
      return { format, root: str(o, 'root'), ...(split !== undefined ? { split } : {}), ...common(o) };
    }
    case 'camvid':
      keys(o, COMMON);
      return { format, root: str(o, 'root'), split: oneOf(o, 'split', ['train', 'val', 'test'] as const), ...common(o) };
    case 'cityscapes':
      keys(o, [...COMMON, 'classes']);
      return {
        format,
        root: str(o, 'root'),
        split: oneOf(o, 'split', ['train', 'val', 'test'] as const),
        classes: oneOf(o, 'classes', [19, 16, 13] as const, 19),
        ...common(o),
      };
    case 'gta5':
    case 'synthia': {
      keys(o, [...COMMON, 'classes']);
      const split = str(o, 'split', true);
      return {
        format,
        root: str(o, 'root'),
        ...(split !== undefined ? { split } : {}),
        classes: oneOf(o, 'classes', [19, 16, 13] as const, format === 'gta5' ? 19 : 16),
        ...common(o),
      };
    }
    case 'synthetic': {
      keys(o, ['format', 'style', 'count', 'width', 'height', 'seed']);
      const seed = o.seed;
      if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0)) fail(`'seed' must be a non-negative integer, got ${JSON.stringify(seed)}`);
      return {
        format,
        style: oneOf(o, 'style', ['source', 'target'] as const),
        count: posInt(o, 'count')!,
        width: posInt(o, 'width')!,
        height: posInt(o, 'height')!,
        ...(seed !== undefined ? { seed: seed as number } : {}),
      };
    }
  }
}
