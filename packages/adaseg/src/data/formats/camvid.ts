// CamVid as laid out by the SegNet tutorial: {split}/NAME.png images and {split}annot/NAME.png
// 8-bit labels, values 0..10 for the 11 classes and 11 for void.
import { join } from 'node:path';
import { CAMVID_CLASSES, CAMVID_MAPPING } from '../classes.js';
import type { DatasetConfig } from '../config.js';
import type { DatasetDescription } from '../dataset.js';
import { existingFiles, finish, listImages, pairSamples, stem } from './common.js';

export async function loadCamvid(config: Extract<DatasetConfig, { format: 'camvid' }>): Promise<DatasetDescription> {
  const imagesDir = join(config.root, config.split);
  const labelsDir = join(config.root, `${config.split}annot`);
  const names = await listImages(imagesDir, `CamVid (SegNet layout) keeps ${config.split} images in ${config.split}/ and labels in ${config.split}annot/`);
  const samples = pairSamples(
    names.map((n) => ({ id: stem(n), image: join(imagesDir, n) })),
    (id) => join(labelsDir, `${id}.png`),
    await existingFiles(labelsDir),
    config,
  );
  return finish(
    { name: 'camvid', format: 'camvid', split: config.split, root: config.root, classes: CAMVID_CLASSES, mapping: CAMVID_MAPPING, encoding: { kind: 'value', channel: 0 } },
    samples,
    config,
    imagesDir,
  );
}
