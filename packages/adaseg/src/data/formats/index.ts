// Loading any supported dataset from its config, and telling a folder's format from its layout.
import { join } from 'node:path';
import { type DatasetConfig, parseDatasetConfig } from '../config.js';
import type { DatasetDescription } from '../dataset.js';
import { DataError } from '../errors.js';
import { syntheticDataset } from '../synthetic.js';
import { loadCamvid } from './camvid.js';
import { loadCityscapes } from './cityscapes.js';
import { isDir, isFile } from './common.js';
import { loadFolder } from './folder.js';
import { loadGta5 } from './gta5.js';
import { loadSynthia } from './synthia.js';

export { readFolderMeta, type FolderMeta } from './folder.js';
export { cityscapesMapping } from './cityscapes.js';
export { synthiaMapping } from './synthia.js';

/**
 * Reads a dataset's sample list from its config (checked first: a plain object from JSON works).
 * Lists files only; decoding, size and value checks happen when samples are loaded (or inspected).
 */
export async function loadDataset(config: DatasetConfig | unknown): Promise<DatasetDescription> {
  const c = parseDatasetConfig(config);
  if (c.format !== 'synthetic' && !(await isDir(c.root))) {
    throw new DataError('not-found', `dataset root ${c.root} is not a folder`, { file: c.root });
  }
  switch (c.format) {
    case 'folder':
      return loadFolder(c);
    case 'camvid':
      return loadCamvid(c);
    case 'cityscapes':
      return loadCityscapes(c);
    case 'gta5':
      return loadGta5(c);
    case 'synthia':
      return loadSynthia(c);
    case 'synthetic':
      return syntheticDataset(c);
  }
}

export type DetectedFormat = 'folder' | 'camvid' | 'cityscapes' | 'gta5' | 'synthia';

/** The format of a dataset folder from its layout, or null when it matches none. */
export async function detectFormat(root: string): Promise<DetectedFormat | null> {
  if (await isFile(join(root, 'meta.json'))) return 'folder';
  if (await isDir(join(root, 'leftImg8bit'))) return 'cityscapes';
  if ((await isDir(join(root, 'RGB'))) && (await isDir(join(root, 'GT', 'LABELS')))) return 'synthia';
  for (const s of ['train', 'val', 'test']) if (await isDir(join(root, `${s}annot`))) return 'camvid';
  if ((await isDir(join(root, 'images'))) && (await isDir(join(root, 'labels')))) return 'gta5';
  return null;
}
