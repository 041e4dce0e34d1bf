// The generic folder layout (as /work/shared/datasets/camvid-day2dusk): images/NAME, labels/STEM.png
// (8-bit, value = class index), {split}.txt lists of image names, and meta.json describing classes.
import { readFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { type ClassList, defaultPalette, type LabelMapping, type RGB, UNLABELLED_RAW } from '../classes.js';
import type { DatasetDescription } from '../dataset.js';
import { DataError } from '../errors.js';
import { finish, IMAGE_EXTENSIONS, isFile, listImages, type LoadOptions, pairByStem, readList, uniqueListed } from './common.js';
import { COMMON, type CommonOptions, common, type DatasetFormatEntry, keys, str } from './options.js';

/** images/, labels/, {split}.txt lists, meta.json (class names, palette, void value). */
export type FolderConfig = { format: 'folder'; root: string; split?: string } & CommonOptions;

/** meta.json of a folder dataset, checked. */
export interface FolderMeta {
  name: string;
  classes: ClassList;
  mapping: LabelMapping;
  /** Split name → expected count, when meta.json lists them. */
  splits: Record<string, number>;
  /** The image size meta.json declares, if any. */
  size?: { width: number; height: number };
}

function bad(file: string, message: string): never {
  throw new DataError('bad-config', `${file}: ${message}`, { file });
}

/**
 * Reads and checks meta.json. Fields: classes (names, required), palette ([r,g,b] per class),
 * void (raw value or values meaning ignore), label_map ({ "raw": trainId } when raw values are not
 * class indices), splits ({ name: count }), name, width, height.
 */
export async function readFolderMeta(root: string): Promise<FolderMeta> {
  const file = join(root, 'meta.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DataError('not-found', `no meta.json in ${root} (a folder dataset needs meta.json with its class names)`, { file, cause: err });
  }
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    bad(file, `not valid JSON (${(err as Error).message})`);
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) bad(file, 'expected a JSON object');
  const names = m.classes;
  if (!Array.isArray(names) || names.length === 0 || names.length > 255 || !names.every((n) => typeof n === 'string' && n.length > 0)) {
    bad(file, `'classes' must be a list of 1..255 class names, got ${JSON.stringify(names)}`);
  }
  if (new Set(names).size !== names.length) bad(file, `'classes' has duplicate names`);
  let palette: RGB[];
  if (m.palette === undefined) palette = defaultPalette(names.length);
  else {
    const p = m.palette;
    const ok =
      Array.isArray(p) &&
      p.length === names.length &&
      p.every((c) => Array.isArray(c) && c.length === 3 && c.every((v) => Number.isInteger(v) && v >= 0 && v <= 255));
    if (!ok) bad(file, `'palette' must hold one [r, g, b] (0..255) per class (${names.length})`);
    palette = (p as number[][]).map((c) => [c[0], c[1], c[2]] as const);
  }
  const voids = m.void === undefined ? [] : Array.isArray(m.void) ? m.void : [m.void];
  if (!voids.every((v) => Number.isInteger(v) && v >= 0 && v <= 65535))
    bad(file, `'void' must be a raw value (or a list of them), got ${JSON.stringify(m.void)}`);
  let toTrain: [number, number][];
  if (m.label_map === undefined) toTrain = names.map((_, i) => [i, i]);
  else {
    const lm = m.label_map;
    if (lm === null || typeof lm !== 'object' || Array.isArray(lm)) bad(file, `'label_map' must be an object { "raw": trainId }`);
    toTrain = Object.entries(lm as Record<string, unknown>).map(([k, v]) => {
      const raw = Number(k);
      if (!Number.isInteger(raw) || raw < 0 || raw > 65535) bad(file, `'label_map' key ${JSON.stringify(k)} is not a raw value 0..65535`);
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= names.length)
        bad(file, `'label_map' maps ${k} to ${JSON.stringify(v)}, not a class index 0..${names.length - 1}`);
      return [raw, v as number];
    });
  }
  for (const v of voids as number[]) if (toTrain.some(([raw]) => raw === v)) bad(file, `void value ${v} is also a class`);
  const splits: Record<string, number> = {};
  if (m.splits !== undefined) {
    if (m.splits === null || typeof m.splits !== 'object' || Array.isArray(m.splits)) bad(file, `'splits' must be an object { name: count }`);
    for (const [k, v] of Object.entries(m.splits as Record<string, unknown>)) {
      if (!Number.isInteger(v) || (v as number) < 0) bad(file, `'splits.${k}' must be a count, got ${JSON.stringify(v)}`);
      splits[k] = v as number;
    }
  }
  const size = Number.isInteger(m.width) && Number.isInteger(m.height) ? { width: m.width as number, height: m.height as number } : undefined;
  return {
    name: typeof m.name === 'string' && m.name.length > 0 ? m.name : basename(resolve(root)),
    classes: { names: names as string[], palette },
    mapping: { toTrain, ignore: [...new Set([...(voids as number[]), UNLABELLED_RAW])].sort((a, b) => a - b) },
    splits,
    ...(size ? { size } : {}),
  };
}

export async function loadFolder(config: FolderConfig, options: LoadOptions = {}): Promise<DatasetDescription> {
  const root = config.root;
  const meta = await readFolderMeta(root);
  const imagesDir = join(root, 'images');
  const labelsDir = join(root, 'labels');
  const available = await listImages(imagesDir, 'a folder dataset keeps its images in images/');
  let names: string[];
  let where = imagesDir;
  if (config.split === undefined || config.split === 'all') names = available;
  else {
    const list = join(root, `${config.split}.txt`);
    if (!(await isFile(list))) {
      const known = Object.keys(meta.splits);
      throw new DataError('not-found', `no split list ${list}${known.length ? ` (meta.json lists splits: ${known.join(', ')})` : ''}`, { file: list });
    }
    where = list;
    const have = new Set(available);
    names = (await readList(list)).map((entry) => {
      const name = basename(entry);
      if (have.has(name)) return name;
      if (extname(name) === '') {
        const found = IMAGE_EXTENSIONS.map((e) => name + e).find((n) => have.has(n));
        if (found) return found;
      }
      throw new DataError('not-found', `split list ${list} names ${entry}, which is not in ${imagesDir}`, { file: list });
    });
    uniqueListed(names, list);
  }
  const samples = await pairByStem(names, imagesDir, labelsDir, config, options);
  return finish(
    { name: meta.name, format: 'folder', split: config.split ?? 'all', root, classes: meta.classes, mapping: meta.mapping },
    samples,
    config,
    where,
  );
}

export const folderFormat = {
  format: 'folder',
  hasRoot: true,
  parse(o): FolderConfig {
    keys(o, COMMON);
    const split = str(o, 'split', true);
    return { format: 'folder', root: str(o, 'root'), ...(split !== undefined ? { split } : {}), ...common(o) };
  },
  load: loadFolder,
  detect: { rank: 0, layout: 'meta.json', matches: (root) => isFile(join(root, 'meta.json')) },
} satisfies DatasetFormatEntry<FolderConfig>;
