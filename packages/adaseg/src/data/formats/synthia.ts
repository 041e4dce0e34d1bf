// SYNTHIA-RAND-CITYSCAPES: RGB/NNNNNNN.png with GT/LABELS/NNNNNNN.png, 16-bit PNGs whose first
// channel is the SYNTHIA class id (the second the instance), mapped by the standard SYNTHIA →
// Cityscapes table onto the 16-class (default) or 13-class protocol, or the 19 Cityscapes ids.
import { join } from 'node:path';
import { CITYSCAPES_CLASSES, cityscapesClasses, type CityscapesProtocol, projectMapping, SYNTHIA_MAPPING_19 } from '../classes.js';
import type { DatasetConfig } from '../config.js';
import type { DatasetDescription } from '../dataset.js';
import { existingFiles, finish, pairSamples, stem } from './common.js';
import { splitNames } from './gta5.js';

export function synthiaMapping(protocol: CityscapesProtocol) {
  return protocol === 19 ? SYNTHIA_MAPPING_19 : projectMapping(SYNTHIA_MAPPING_19, CITYSCAPES_CLASSES.names, cityscapesClasses(protocol).names);
}

export async function loadSynthia(config: Extract<DatasetConfig, { format: 'synthia' }>): Promise<DatasetDescription> {
  const imagesDir = join(config.root, 'RGB');
  const labelsDir = join(config.root, 'GT', 'LABELS');
  const { names, where } = await splitNames(config.root, imagesDir, config.split, 'SYNTHIA-RAND-CITYSCAPES keeps images in RGB/ and labels in GT/LABELS/');
  const samples = pairSamples(
    names.map((n) => ({ id: stem(n), image: join(imagesDir, n) })),
    (id) => join(labelsDir, `${id}.png`),
    await existingFiles(labelsDir),
    config,
  );
  const protocol = config.classes ?? 16;
  return finish(
    {
      name: `synthia-${protocol}`,
      format: 'synthia',
      split: config.split ?? 'all',
      root: config.root,
      classes: cityscapesClasses(protocol),
      mapping: synthiaMapping(protocol),
      encoding: { kind: 'value', channel: 0 },
    },
    samples,
    config,
    where,
  );
}
