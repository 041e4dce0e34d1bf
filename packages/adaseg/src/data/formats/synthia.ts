// SYNTHIA-RAND-CITYSCAPES: RGB/NNNNNNN.png with GT/LABELS/NNNNNNN.png, 16-bit PNGs whose first
// channel is the SYNTHIA class id (the second the instance), mapped by the standard SYNTHIA →
// Cityscapes table onto the 16-class (default) or 13-class protocol, or the 19 Cityscapes ids.
import { join } from 'node:path';
import { CITYSCAPES_CLASSES, cityscapesClasses, type CityscapesProtocol, projectMapping, SYNTHIA_MAPPING_19 } from '../classes.js';
import type { DatasetDescription } from '../dataset.js';
import { isDir, type LoadOptions, loadFlatFolders } from './common.js';
import { type CityscapesClasses, type CommonOptions, type DatasetFormatEntry, parseSplitListConfig } from './options.js';

/** SYNTHIA-RAND-CITYSCAPES: RGB/*.png, GT/LABELS/*.png (16-bit, first channel = class id). */
export type SynthiaConfig = { format: 'synthia'; root: string; split?: string; classes?: CityscapesClasses } & CommonOptions;

export function synthiaMapping(protocol: CityscapesProtocol) {
  return protocol === 19 ? SYNTHIA_MAPPING_19 : projectMapping(SYNTHIA_MAPPING_19, CITYSCAPES_CLASSES.names, cityscapesClasses(protocol).names);
}

export async function loadSynthia(config: SynthiaConfig, options: LoadOptions = {}): Promise<DatasetDescription> {
  const protocol = config.classes ?? 16;
  const layout = { images: ['RGB'], labels: ['GT', 'LABELS'], expected: 'SYNTHIA-RAND-CITYSCAPES keeps images in RGB/ and labels in GT/LABELS/' };
  return loadFlatFolders(
    config,
    layout,
    {
      name: `synthia-${protocol}`,
      format: 'synthia',
      classes: cityscapesClasses(protocol),
      mapping: synthiaMapping(protocol),
    },
    options,
  );
}

export const synthiaFormat = {
  format: 'synthia',
  hasRoot: true,
  parse: (o): SynthiaConfig => parseSplitListConfig(o, 'synthia', 16),
  load: loadSynthia,
  detect: { rank: 2, layout: 'RGB/+GT/LABELS/', matches: async (root) => (await isDir(join(root, 'RGB'))) && (await isDir(join(root, 'GT', 'LABELS'))) },
} satisfies DatasetFormatEntry<SynthiaConfig>;
