// The dataset format registry: every format as one entry { format, parse, load, detect } exported
// by its file. The config union DatasetConfig is derived from the entries; parsing, loading and
// telling a folder's format from its layout are generic over them. Adding a format: its file
// (config type, loader, entry), one line here.
import type { DatasetDescription } from '../dataset.js';
import { DataError } from '../errors.js';
import { camvidFormat } from './camvid.js';
import { cityscapesFormat } from './cityscapes.js';
import { isDir } from './common.js';
import { folderFormat } from './folder.js';
import { gta5Format } from './gta5.js';
import { type DatasetFormatEntry, fail, type LoadOptions, type Obj, oneOf } from './options.js';
import { syntheticFormat } from './synthetic.js';
import { synthiaFormat } from './synthia.js';

export { readFolderMeta, type FolderMeta, type FolderConfig } from './folder.js';
export { cityscapesMapping, type CityscapesConfig } from './cityscapes.js';
export { synthiaMapping, type SynthiaConfig } from './synthia.js';
export type { CamvidConfig } from './camvid.js';
export type { Gta5Config } from './gta5.js';
export type { SyntheticConfig } from './synthetic.js';
export type { CityscapesClasses, CommonOptions, DatasetFormatEntry, LabelPolicy, LoadOptions } from './options.js';

/** Every dataset format, in the order error messages list them. */
export const FORMATS = [folderFormat, camvidFormat, cityscapesFormat, gta5Format, synthiaFormat, syntheticFormat] as const;

/** Dataset configs: a discriminated union on `format` (one member per registry entry). */
export type DatasetConfig = ReturnType<(typeof FORMATS)[number]['parse']>;
export type DatasetConfigFormat = DatasetConfig['format'];
export const DATASET_FORMATS: readonly DatasetConfigFormat[] = FORMATS.map((f) => f.format);

/** The entries as generic code sees them (each is typed by its own config: this is the one cast). */
const ENTRIES = FORMATS as readonly DatasetFormatEntry<{ format: string }>[] as readonly DatasetFormatEntry<DatasetConfig>[];

/** The registry entry of a format (a bad-config DataError naming the known ones for any other). */
export function formatEntry(format: string): DatasetFormatEntry<DatasetConfig> {
  const entry = ENTRIES.find((f) => f.format === format);
  if (entry === undefined) fail(`'format' must be one of ${DATASET_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
  return entry;
}

/** Checks a config given as plain data and returns it typed; throws a bad-config DataError. */
export function parseDatasetConfig(value: unknown): DatasetConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`expected an object with a 'format', got ${JSON.stringify(value)}`);
  const o = value as Obj;
  return formatEntry(oneOf(o, 'format', DATASET_FORMATS)).parse(o);
}

/**
 * Reads a dataset's sample list from its config (checked first: a plain object from JSON works).
 * Lists files only; decoding, size and value checks happen when samples are loaded (or inspected).
 * `options.onMissingLabel` collects images without their label instead of throwing at the first.
 */
export async function loadDataset(config: DatasetConfig | unknown, options: LoadOptions = {}): Promise<DatasetDescription> {
  const c = parseDatasetConfig(config);
  const entry = formatEntry(c.format);
  if (entry.hasRoot && !(await isDir((c as { root: string }).root))) {
    const root = (c as { root: string }).root;
    throw new DataError('not-found', `dataset root ${root} is not a folder`, { file: root });
  }
  return entry.load(c, options);
}

/** The formats recognised from a folder's layout, most specific first. */
const DETECTABLE = ENTRIES.flatMap((f) => (f.detect ? [{ format: f.format, ...f.detect }] : [])).sort((a, b) => a.rank - b.rank);

export type DetectedFormat = Extract<(typeof FORMATS)[number], { detect: object }>['format'];

/**
 * The format of a dataset folder and the layout it was recognised by ('leftImg8bit/'), or null when
 * it matches none. Refuses to guess: a folder that looks like a format but is not known to be
 * one (images/ + labels/ whose labels are not GTA5's palette PNGs) is a DataError asking for meta.json.
 */
export async function detectDatasetFormat(root: string): Promise<{ format: DetectedFormat; layout: string } | null> {
  for (const d of DETECTABLE) if (await d.matches(root)) return { format: d.format as DetectedFormat, layout: d.layout };
  return null;
}

/** The format of a dataset folder from its layout, or null when it matches none (see detectDatasetFormat). */
export async function detectFormat(root: string): Promise<DetectedFormat | null> {
  return (await detectDatasetFormat(root))?.format ?? null;
}

/** The layouts detectFormat recognises, most specific first: 'meta.json, leftImg8bit/, ...'. */
export function detectableLayouts(): string[] {
  return DETECTABLE.map((d) => d.layout);
}
