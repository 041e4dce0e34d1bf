// CamVid as laid out by the SegNet tutorial: {split}/NAME.png images and {split}annot/NAME.png
// 8-bit labels, values 0..10 for the 11 classes and 11 for void.
import { join } from 'node:path';
import { CAMVID_CLASSES, CAMVID_MAPPING } from '../classes.js';
import type { DatasetDescription } from '../dataset.js';
import { finish, isDir, listImages, type LoadOptions, pairByStem } from './common.js';
import { COMMON, type CommonOptions, common, type DatasetFormatEntry, keys, oneOf, str } from './options.js';

/** SegNet's CamVid: train/ trainannot/ val/ valannot/ test/ testannot/; 11 classes, 11 = void. */
export type CamvidConfig = { format: 'camvid'; root: string; split: 'train' | 'val' | 'test' } & CommonOptions;

export async function loadCamvid(config: CamvidConfig, options: LoadOptions = {}): Promise<DatasetDescription> {
  const imagesDir = join(config.root, config.split);
  const labelsDir = join(config.root, `${config.split}annot`);
  const names = await listImages(imagesDir, `CamVid (SegNet layout) keeps ${config.split} images in ${config.split}/ and labels in ${config.split}annot/`);
  const samples = await pairByStem(names, imagesDir, labelsDir, config, options);
  return finish(
    { name: 'camvid', format: 'camvid', split: config.split, root: config.root, classes: CAMVID_CLASSES, mapping: CAMVID_MAPPING },
    samples,
    config,
    imagesDir,
  );
}

export const camvidFormat = {
  format: 'camvid',
  hasRoot: true,
  defaultSplit: 'train',
  parse(o): CamvidConfig {
    keys(o, COMMON);
    return { format: 'camvid', root: str(o, 'root'), split: oneOf(o, 'split', ['train', 'val', 'test'] as const), ...common(o) };
  },
  load: loadCamvid,
  detect: {
    rank: 3,
    layout: '{split}annot/',
    async matches(root) {
      for (const s of ['train', 'val', 'test']) if (await isDir(join(root, `${s}annot`))) return true;
      return false;
    },
  },
} satisfies DatasetFormatEntry<CamvidConfig>;
