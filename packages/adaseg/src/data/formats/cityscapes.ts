// Cityscapes: leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png with
// gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png (8-bit label ids 0..33), mapped to
// the 19 train ids, or to the 16/13 classes of the SYNTHIA protocols.
import { join } from 'node:path';
import { CITYSCAPES_CLASSES, CITYSCAPES_MAPPING, cityscapesClasses, type CityscapesProtocol, projectMapping } from '../classes.js';
import type { DatasetDescription, Sample } from '../dataset.js';
import { existingFiles, finish, isDir, listDir, listImages, type LoadOptions, pairSamples } from './common.js';
import { COMMON, type CityscapesClasses, type CommonOptions, common, type DatasetFormatEntry, keys, oneOf, protocol, str } from './options.js';

const IMAGE_SUFFIX = '_leftImg8bit.png';
const LABEL_SUFFIX = '_gtFine_labelIds.png';

/** leftImg8bit/{split}/{city}/*_leftImg8bit.png, gtFine/{split}/{city}/*_gtFine_labelIds.png. */
export type CityscapesConfig = { format: 'cityscapes'; root: string; split: 'train' | 'val' | 'test'; classes?: CityscapesClasses } & CommonOptions;

/** The mapping of Cityscapes label ids (also GTA5's) for a protocol. */
export function cityscapesMapping(protocol: CityscapesProtocol) {
  return protocol === 19 ? CITYSCAPES_MAPPING : projectMapping(CITYSCAPES_MAPPING, CITYSCAPES_CLASSES.names, cityscapesClasses(protocol).names);
}

/** Name, classes and mapping of a dataset labelled with Cityscapes label ids (Cityscapes, GTA5) under a protocol. */
export function cityscapesIds<F extends 'cityscapes' | 'gta5'>(format: F, protocol: CityscapesProtocol) {
  return { name: protocol === 19 ? format : `${format}-${protocol}`, format, classes: cityscapesClasses(protocol), mapping: cityscapesMapping(protocol) };
}

export async function loadCityscapes(config: CityscapesConfig, options: LoadOptions = {}): Promise<DatasetDescription> {
  const imagesRoot = join(config.root, 'leftImg8bit', config.split);
  const labelsRoot = join(config.root, 'gtFine', config.split);
  const cities = [];
  for (const c of await listDir(imagesRoot, `Cityscapes keeps images in leftImg8bit/${config.split}/{city}/`)) {
    if (await isDir(join(imagesRoot, c))) cities.push(c);
  }
  const samples: Sample[] = [];
  for (const city of cities) {
    const names = await listImages(join(imagesRoot, city), 'a Cityscapes city folder', IMAGE_SUFFIX);
    const labelDir = join(labelsRoot, city);
    samples.push(
      ...pairSamples(
        names.map((n) => ({ id: n.slice(0, -IMAGE_SUFFIX.length), image: join(imagesRoot, city, n) })),
        (id) => join(labelDir, `${id}${LABEL_SUFFIX}`),
        await existingFiles(labelDir),
        config,
        options,
      ),
    );
  }
  const { name, format, classes, mapping } = cityscapesIds('cityscapes', config.classes ?? 19);
  return finish({ name, format, split: config.split, root: config.root, classes, mapping }, samples, config, imagesRoot);
}

export const cityscapesFormat = {
  format: 'cityscapes',
  hasRoot: true,
  defaultSplit: 'train',
  parse(o): CityscapesConfig {
    keys(o, [...COMMON, 'classes']);
    return {
      format: 'cityscapes',
      root: str(o, 'root'),
      split: oneOf(o, 'split', ['train', 'val', 'test'] as const),
      classes: protocol(o, 19),
      ...common(o),
    };
  },
  load: loadCityscapes,
  detect: { rank: 1, layout: 'leftImg8bit/', matches: (root) => isDir(join(root, 'leftImg8bit')) },
} satisfies DatasetFormatEntry<CityscapesConfig>;
