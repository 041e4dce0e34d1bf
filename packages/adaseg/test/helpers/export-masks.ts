// A flat export of a run's label masks for the store's tests: every image's partial mask as an
// 8-bit palette PNG (index = train id, 255 = unknown, drawn black) named after the image, plus
// `labels.json` with the provenance of every labelled unit. (The export users get is
// `adaseg labels export`, src/labels/mask-files.ts.)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeIndexedPng } from '../../src/data/png.js';
import { IGNORE, type LabelStore } from '../../src/labels/store.js';

export function exportMasks(store: LabelStore, run: string, dir: string): { files: string[] } {
  const info = store.run(run);
  mkdirSync(dir, { recursive: true });
  const palette: [number, number, number][] = Array.from({ length: 256 }, (_, i) => info.palette[i] ?? [0, 0, 0]);
  const files: string[] = [];
  for (const image of store.images(run)) {
    const file = join(dir, `${image.id.replace(/[\\/]/g, '_')}.png`);
    writeFileSync(file, encodeIndexedPng(image.width, image.height, store.mask(run, image.id).data, palette));
    files.push(file);
  }
  writeFileSync(
    join(dir, 'labels.json'),
    `${JSON.stringify({ run: info.name, strategy: info.strategy, seed: info.seed, units: info.units, classNames: info.classNames, ignore: IGNORE, labelled: store.labelledUnits(run) }, null, 2)}\n`,
  );
  return { files };
}
