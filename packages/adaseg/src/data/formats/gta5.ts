// GTA5 (Playing for Data): images/NNNNN.png with labels/NNNNN.png, 8-bit palette PNGs whose index
// is the Cityscapes label id (read as the index, never the colour), mapped like Cityscapes.
import { join } from 'node:path';
import { cityscapesClasses } from '../classes.js';
import type { DatasetConfig } from '../config.js';
import type { DatasetDescription } from '../dataset.js';
import { DataError } from '../errors.js';
import { cityscapesMapping } from './cityscapes.js';
import { existingFiles, finish, IMAGE_EXTENSIONS, isFile, listImages, pairSamples, readList, stem } from './common.js';

/** Image names of a split: every image, or those of {root}/{split}.txt (names or stems). */
export async function splitNames(root: string, imagesDir: string, split: string | undefined, expected: string): Promise<{ names: string[]; where: string }> {
  const available = await listImages(imagesDir, expected);
  if (split === undefined || split === 'all') return { names: available, where: imagesDir };
  const list = join(root, `${split}.txt`);
  if (!(await isFile(list))) throw new DataError('not-found', `no split list ${list} (use split 'all' for every image)`, { file: list });
  const have = new Set(available);
  const byStem = new Map(available.map((n) => [stem(n), n]));
  const names = (await readList(list)).map((entry) => {
    const name = entry.split('/').pop()!;
    const found = have.has(name) ? name : (byStem.get(name) ?? byStem.get(stem(name)));
    if (found === undefined || !IMAGE_EXTENSIONS.some((e) => found.toLowerCase().endsWith(e))) {
      throw new DataError('not-found', `split list ${list} names ${entry}, which is not in ${imagesDir}`, { file: list });
    }
    return found;
  });
  return { names, where: list };
}

export async function loadGta5(config: Extract<DatasetConfig, { format: 'gta5' }>): Promise<DatasetDescription> {
  const imagesDir = join(config.root, 'images');
  const labelsDir = join(config.root, 'labels');
  const { names, where } = await splitNames(config.root, imagesDir, config.split, 'GTA5 keeps images in images/ and labels in labels/');
  const samples = pairSamples(
    names.map((n) => ({ id: stem(n), image: join(imagesDir, n) })),
    (id) => join(labelsDir, `${id}.png`),
    await existingFiles(labelsDir),
    config,
  );
  const protocol = config.classes ?? 19;
  return finish(
    {
      name: protocol === 19 ? 'gta5' : `gta5-${protocol}`,
      format: 'gta5',
      split: config.split ?? 'all',
      root: config.root,
      classes: cityscapesClasses(protocol),
      mapping: cityscapesMapping(protocol),
      encoding: { kind: 'value', channel: 0 },
    },
    samples,
    config,
    where,
  );
}

