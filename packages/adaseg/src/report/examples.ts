// The report's example images: for the pool images of a run with the most selected pixels, the
// image with its selected units drawn over it (one colour per round, unit edges opaque) and its
// partial label mask in the dataset's class colours, both as PNG data: URIs for report.html.
import { IGNORE_INDEX } from '../data/classes.js';
import sharp from 'sharp';
import { type ImageSize, poolImageRgb } from '../active/units.js';
import type { DatasetDescription } from '../data/dataset.js';
import type { Transform } from '../data/transforms.js';
import type { LabelStore } from '../labels/store.js';
import type { ExampleImage } from './results.js';

/** RGB PNG as a data: URI. */
async function pngUri(width: number, height: number, rgb: Uint8Array): Promise<string> {
  const png = await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

const ROUND_COLOURS: [number, number, number][] = [
  [255, 64, 64],
  [255, 170, 0],
  [60, 200, 60],
  [0, 170, 255],
  [200, 80, 255],
  [255, 255, 0],
  [0, 255, 200],
  [255, 120, 180],
];

export interface ExampleOptions {
  /** The store's run, and the strategy label and seed the examples are shown under. */
  run: string;
  strategy: string;
  seed: number;
  /** How many images (those with the most selected pixels). */
  count: number;
  /** The pool, its working size per image and the transforms that give it (the resize). */
  pool: DatasetDescription;
  working: readonly ImageSize[];
  transforms: Transform[];
}

/** Example pool images of a run: the image with its selected units drawn over it (colour = round), and its partial mask. */
export async function exampleImages(store: LabelStore, options: ExampleOptions): Promise<ExampleImage[]> {
  const { run, count } = options;
  if (count === 0) return [];
  // Per selected pixel: its round and (for outlines) its unit.
  const selected = new Map<number, { round: Int16Array; unit: Int32Array }>();
  for (const r of store.rounds(run)) {
    for (const u of store.selection(run, r.round)) {
      const size = options.working[u.image];
      let maps = selected.get(u.image);
      if (maps === undefined) {
        maps = { round: new Int16Array(size.width * size.height).fill(-1), unit: new Int32Array(size.width * size.height).fill(-1) };
        selected.set(u.image, maps);
      }
      for (const p of u.pixelIndices) {
        maps.round[p] = r.round;
        maps.unit[p] = u.unit;
      }
    }
  }
  const images = store
    .images(run)
    .filter((im) => selected.has(im.index))
    .map((im) => ({ im, covered: selected.get(im.index)!.round.reduce((s, v) => s + (v >= 0 ? 1 : 0), 0) }))
    .sort((a, b) => b.covered - a.covered || a.im.index - b.im.index)
    .slice(0, count);
  const out: ExampleImage[] = [];
  const palette = options.pool.classes.palette;
  for (const { im, covered } of images) {
    const rgb = await poolImageRgb(options.pool, im.index, options.transforms);
    const { width, height } = rgb;
    const { round, unit } = selected.get(im.index)!;
    const overlay = new Uint8Array(rgb.data);
    for (let p = 0; p < width * height; p++) {
      const r = round[p];
      if (r < 0) continue;
      const c = ROUND_COLOURS[(r - 1) % ROUND_COLOURS.length];
      const x = p % width,
        y = (p - x) / width;
      const u = unit[p];
      const edge =
        x === 0 || y === 0 || x === width - 1 || y === height - 1 || unit[p - 1] !== u || unit[p + 1] !== u || unit[p - width] !== u || unit[p + width] !== u;
      const a = edge ? 1 : 0.45;
      for (let k = 0; k < 3; k++) overlay[p * 3 + k] = Math.round(overlay[p * 3 + k] * (1 - a) + c[k] * a);
    }
    const mask = store.mask(run, im.id);
    const maskRgb = new Uint8Array(width * height * 3);
    for (let p = 0; p < width * height; p++) {
      const v = mask.data[p];
      const c = v === IGNORE_INDEX ? (round[p] >= 0 ? [0, 0, 0] : [230, 230, 230]) : (palette[v] ?? [0, 0, 0]);
      maskRgb.set(c, p * 3);
    }
    out.push({
      strategy: options.strategy,
      seed: options.seed,
      imageId: im.id,
      width,
      height,
      coveredPixels: covered,
      rounds: [...new Set(Array.from(round).filter((v) => v >= 0))].sort((a, b) => a - b),
      image: await pngUri(width, height, overlay),
      mask: await pngUri(width, height, maskRgb),
    });
  }
  return out;
}
