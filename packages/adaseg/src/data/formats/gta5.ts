// GTA5 (Playing for Data): images/NNNNN.png with labels/NNNNN.png, 8-bit palette PNGs whose index
// is the Cityscapes label id (read as the index, never the colour), mapped like Cityscapes.
import { open, readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { DatasetDescription } from '../dataset.js';
import { DataError } from '../errors.js';
import { PngError, readPngHeader } from '../png.js';
import { cityscapesIds } from './cityscapes.js';
import { isDir, type LoadOptions, loadFlatFolders } from './common.js';
import { type CityscapesClasses, type CommonOptions, type DatasetFormatEntry, parseSplitListConfig } from './options.js';

/** images/*.png, labels/*.png (palette PNG, index = Cityscapes label id); split = a {split}.txt list. */
export type Gta5Config = { format: 'gta5'; root: string; split?: string; classes?: CityscapesClasses } & CommonOptions;

export async function loadGta5(config: Gta5Config, options: LoadOptions = {}): Promise<DatasetDescription> {
  const layout = { images: ['images'], labels: ['labels'], expected: 'GTA5 keeps images in images/ and labels in labels/' };
  return loadFlatFolders(config, layout, cityscapesIds('gta5', config.classes ?? 19), options);
}

/** Label files whose PNG header detection reads (the first ones in sorted order). */
const LABELS_CHECKED = 3;
const COLOR_TYPES: Record<number, string> = { 0: 'gray', 2: 'RGB', 3: 'palette', 4: 'gray+alpha', 6: 'RGBA' };

/** The first 33 bytes of a file (a PNG's signature and IHDR), or what could be read. */
async function head(path: string): Promise<Uint8Array> {
  const f = await open(path, 'r');
  try {
    const buf = new Uint8Array(33);
    const { bytesRead } = await f.read(buf, 0, 33, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await f.close();
  }
}

/**
 * Whether a folder is GTA5: images/ and labels/, and the first label files are palette PNGs (as
 * GTA5 stores Cityscapes label ids). images/ + labels/ with other labels (gray class values, as a
 * folder dataset without its meta.json) is refused: guessing GTA5 there would read them as
 * Cityscapes ids, so the error asks for the meta.json that says what the values mean.
 */
export async function matchesGta5(root: string): Promise<boolean> {
  if (!(await isDir(join(root, 'images'))) || !(await isDir(join(root, 'labels')))) return false;
  const labelsDir = join(root, 'labels');
  const pngs = (await readdir(labelsDir)).filter((n) => extname(n).toLowerCase() === '.png').sort();
  let palette = 0;
  let why = `labels/ holds no PNG label files`;
  for (const name of pngs.slice(0, LABELS_CHECKED)) {
    const file = join(labelsDir, name);
    let colorType: number;
    let bitDepth: number;
    try {
      ({ colorType, bitDepth } = readPngHeader(await head(file)));
    } catch (err) {
      if (!(err instanceof PngError)) throw err;
      why = `labels/${name} is not a readable PNG (${err.message})`;
      continue;
    }
    if (colorType !== 3) {
      why = `labels/${name} is not a palette PNG (it is ${COLOR_TYPES[colorType]}, ${bitDepth}-bit)`;
      palette = 0;
      break;
    }
    palette++;
  }
  if (palette > 0) return true;
  const meta = join(root, 'meta.json');
  throw new DataError(
    'not-found',
    `cannot tell the format of ${root}: it has images/ and labels/ as GTA5 does, but ${why} (GTA5 labels are palette PNGs ` +
      `whose index is the Cityscapes label id). For your own dataset, add ${meta} with "classes" (the class names in train-id ` +
      `order: label value i is class i) and, when needed, "void" (raw values meaning no class; 255 always is), "palette" and ` +
      `"label_map" (see "Bring your own data" in the README); for GTA5 itself, give the format (--format gta5)`,
    { file: meta },
  );
}

export const gta5Format = {
  format: 'gta5',
  hasRoot: true,
  parse: (o): Gta5Config => parseSplitListConfig(o, 'gta5', 19),
  load: loadGta5,
  detect: { rank: 4, layout: 'images/ + labels/ with palette labels', matches: matchesGta5 },
} satisfies DatasetFormatEntry<Gta5Config>;
