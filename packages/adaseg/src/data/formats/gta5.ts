// GTA5 (Playing for Data): images/NNNNN.png with labels/NNNNN.png, 8-bit palette PNGs whose index
// is the Cityscapes label id (read as the index, never the colour), mapped like Cityscapes.
import { join } from 'node:path';
import type { DatasetDescription } from '../dataset.js';
import { cityscapesIds } from './cityscapes.js';
import { isDir, loadFlatFolders } from './common.js';
import { type CityscapesClasses, type CommonOptions, type DatasetFormatEntry, parseSplitListConfig } from './options.js';

/** images/*.png, labels/*.png (palette PNG, index = Cityscapes label id); split = a {split}.txt list. */
export type Gta5Config = { format: 'gta5'; root: string; split?: string; classes?: CityscapesClasses } & CommonOptions;

export async function loadGta5(config: Gta5Config): Promise<DatasetDescription> {
  const layout = { images: ['images'], labels: ['labels'], expected: 'GTA5 keeps images in images/ and labels in labels/' };
  return loadFlatFolders(config, layout, cityscapesIds('gta5', config.classes ?? 19));
}

export const gta5Format = {
  format: 'gta5',
  hasRoot: true,
  parse: (o): Gta5Config => parseSplitListConfig(o, 'gta5', 19),
  load: loadGta5,
  detect: { rank: 4, layout: 'images/+labels/', matches: async (root) => (await isDir(join(root, 'images'))) && (await isDir(join(root, 'labels'))) },
} satisfies DatasetFormatEntry<Gta5Config>;
