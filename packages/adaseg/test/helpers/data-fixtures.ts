// Test fixtures for the data area, written into a temp dir by test code: each dataset format in its
// real layout with its real label encoding (8-bit gray ids, palette PNG indices, 16-bit channels),
// plus the train-id masks the loader must produce, computed from hand-written reference tables.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { CITYSCAPES_LABEL_IDS, encodeIndexedPng, Rng } from '../../src/data/index.js';

export const W = 16;
export const H = 12;

// ---- reference tables, written out by hand (not taken from src) ----

/** Cityscapes label id → train id (cityscapesScripts labels.py); everything else → 255. */
export const REF_CITYSCAPES_19: Record<number, number> = {
  7: 0,
  8: 1,
  11: 2,
  12: 3,
  13: 4,
  17: 5,
  19: 6,
  20: 7,
  21: 8,
  22: 9,
  23: 10,
  24: 11,
  25: 12,
  26: 13,
  27: 14,
  28: 15,
  31: 16,
  32: 17,
  33: 18,
};
/** Cityscapes label id → the 16-class SYNTHIA protocol (no terrain, truck, train). */
export const REF_CITYSCAPES_16: Record<number, number> = {
  7: 0,
  8: 1,
  11: 2,
  12: 3,
  13: 4,
  17: 5,
  19: 6,
  20: 7,
  21: 8,
  23: 9,
  24: 10,
  25: 11,
  26: 12,
  28: 13,
  32: 14,
  33: 15,
};
/** SYNTHIA id → 16 classes (road, sidewalk, building, wall, fence, pole, light, sign, vegetation, sky, person, rider, car, bus, motorcycle, bicycle). */
export const REF_SYNTHIA_16: Record<number, number> = {
  3: 0,
  4: 1,
  2: 2,
  21: 3,
  5: 4,
  7: 5,
  15: 6,
  9: 7,
  6: 8,
  1: 9,
  10: 10,
  17: 11,
  8: 12,
  19: 13,
  12: 14,
  11: 15,
};
/** SYNTHIA id → 13 classes (road, sidewalk, building, light, sign, vegetation, sky, person, rider, car, bus, motorcycle, bicycle). */
export const REF_SYNTHIA_13: Record<number, number> = {
  3: 0,
  4: 1,
  2: 2,
  15: 3,
  9: 4,
  6: 5,
  1: 6,
  10: 7,
  17: 8,
  8: 9,
  19: 10,
  12: 11,
  11: 12,
};

export function expectMask(raw: ArrayLike<number>, table: Record<number, number>): Uint8Array {
  return Uint8Array.from(Array.from(raw, (v) => table[v] ?? 255));
}

/** Raw label values cycling through `values`, shuffled by seed: every value appears. */
export function rawLabel(values: readonly number[], seed: number, n = W * H): number[] {
  const rng = new Rng(seed);
  const out = Array.from({ length: n }, (_, i) => values[i % values.length]);
  return rng.shuffle(out);
}

export function noiseImage(seed: number, width = W, height = H): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: width * height * 3 }, () => rng.int(256));
}

export async function writeRgb(path: string, data: Uint8Array, width = W, height = H): Promise<void> {
  await sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toFile(path);
}

/** An 8-bit single-channel (grayscale) PNG, as CamVid, Cityscapes and folder labels are stored. */
export async function writeGray(path: string, values: ArrayLike<number>, width = W, height = H): Promise<void> {
  await sharp(Uint8Array.from(values), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(path);
}

/** A 16-bit RGB PNG as SYNTHIA's GT/LABELS: R = class id, G = instance id, B = 0. */
export async function writeSynthiaLabel(path: string, classes: ArrayLike<number>, width = W, height = H): Promise<void> {
  const data = new Uint16Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    data[i * 3] = classes[i];
    data[i * 3 + 1] = classes[i] === 8 || classes[i] === 10 ? 1000 + (i % 7) : 0;
  }
  await sharp(data, { raw: { width, height, channels: 3 } })
    .toColourspace('rgb16')
    .png()
    .toFile(path);
}

/** An 8-bit palette PNG as GTA5's labels: index = Cityscapes label id, colour = its colour. */
export async function writeGtaLabel(path: string, ids: ArrayLike<number>, width = W, height = H): Promise<void> {
  const palette = CITYSCAPES_LABEL_IDS.map((l) => l.color);
  await writeFile(path, encodeIndexedPng(width, height, Uint8Array.from(ids), palette));
}

export interface FixtureSample {
  id: string;
  image: Uint8Array;
  /** Expected train ids. */
  expected: Uint8Array;
}

export interface Fixtures {
  dir: string;
  folder: { root: string; train: FixtureSample[]; val: FixtureSample[] };
  camvid: { root: string; train: FixtureSample[]; val: FixtureSample[] };
  cityscapes: { root: string; train: FixtureSample[]; expected16: Map<string, Uint8Array> };
  gta5: { root: string; all: FixtureSample[]; expected16: Map<string, Uint8Array> };
  synthia: { root: string; all: FixtureSample[]; expected13: Map<string, Uint8Array> };
  cleanup(): Promise<void>;
}

const CITYSCAPES_IDS = Array.from({ length: 34 }, (_, i) => i).concat([255]);
const SYNTHIA_IDS = Array.from({ length: 23 }, (_, i) => i);

export async function makeFixtures(): Promise<Fixtures> {
  const dir = await mkdtemp(join(tmpdir(), 'adaseg-data-'));
  let seed = 1;

  // Generic folder, as camvid-day2dusk: meta.json, images/, labels/, split lists.
  const folderRoot = join(dir, 'folder');
  await mkdir(join(folderRoot, 'images'), { recursive: true });
  await mkdir(join(folderRoot, 'labels'), { recursive: true });
  const classes = ['sky', 'building', 'pole', 'road', 'pavement', 'tree', 'sign_symbol', 'fence', 'car', 'pedestrian', 'bicyclist'];
  await writeFile(
    join(folderRoot, 'meta.json'),
    JSON.stringify({
      name: 'fixture-folder',
      width: W,
      height: H,
      classes,
      palette: classes.map((_, i) => [i * 20, 255 - i * 20, 100]),
      void: 11,
      splits: { source_train: 2, target_val: 1 },
    }),
  );
  const folderRef = Object.fromEntries(classes.map((_, i) => [i, i]));
  const folder = { root: folderRoot, train: [] as FixtureSample[], val: [] as FixtureSample[] };
  for (const [split, names] of [
    ['source_train', ['day_001', 'day_002']],
    ['target_val', ['dusk_001']],
  ] as const) {
    for (const name of names) {
      const image = noiseImage(seed++);
      const raw = rawLabel([...classes.keys(), 11, 255], seed++);
      await writeRgb(join(folderRoot, 'images', `${name}.png`), image);
      await writeGray(join(folderRoot, 'labels', `${name}.png`), raw);
      (split === 'source_train' ? folder.train : folder.val).push({ id: name, image, expected: expectMask(raw, folderRef) });
    }
    await writeFile(join(folderRoot, `${split}.txt`), names.map((n) => `${n}.png`).join('\n') + '\n');
  }

  // CamVid, SegNet layout.
  const camvidRoot = join(dir, 'camvid');
  const camvid = { root: camvidRoot, train: [] as FixtureSample[], val: [] as FixtureSample[] };
  for (const split of ['train', 'val'] as const) {
    await mkdir(join(camvidRoot, split), { recursive: true });
    await mkdir(join(camvidRoot, `${split}annot`), { recursive: true });
    for (const name of split === 'train' ? ['0001TP_006690', '0006R0_f00930'] : ['0016E5_07959']) {
      const image = noiseImage(seed++);
      const raw = rawLabel(
        Array.from({ length: 12 }, (_, i) => i),
        seed++,
      );
      await writeRgb(join(camvidRoot, split, `${name}.png`), image);
      await writeGray(join(camvidRoot, `${split}annot`, `${name}.png`), raw);
      camvid[split].push({ id: name, image, expected: expectMask(raw, folderRef) });
    }
  }

  // Cityscapes.
  const csRoot = join(dir, 'cityscapes');
  const cityscapes = { root: csRoot, train: [] as FixtureSample[], expected16: new Map<string, Uint8Array>() };
  for (const [city, frames] of [
    ['aachen', ['000000_000019', '000001_000019']],
    ['bremen', ['000000_000019']],
  ] as const) {
    await mkdir(join(csRoot, 'leftImg8bit', 'train', city), { recursive: true });
    await mkdir(join(csRoot, 'gtFine', 'train', city), { recursive: true });
    for (const f of frames) {
      const id = `${city}_${f}`;
      const image = noiseImage(seed++);
      const raw = rawLabel(CITYSCAPES_IDS, seed++);
      await writeRgb(join(csRoot, 'leftImg8bit', 'train', city, `${id}_leftImg8bit.png`), image);
      await writeGray(join(csRoot, 'gtFine', 'train', city, `${id}_gtFine_labelIds.png`), raw);
      // The other files of a real gtFine folder, which must be ignored.
      await writeGray(join(csRoot, 'gtFine', 'train', city, `${id}_gtFine_instanceIds.png`), raw);
      cityscapes.train.push({ id, image, expected: expectMask(raw, REF_CITYSCAPES_19) });
      cityscapes.expected16.set(id, expectMask(raw, REF_CITYSCAPES_16));
    }
  }

  // GTA5.
  const gtaRoot = join(dir, 'gta5');
  await mkdir(join(gtaRoot, 'images'), { recursive: true });
  await mkdir(join(gtaRoot, 'labels'), { recursive: true });
  const gta5 = { root: gtaRoot, all: [] as FixtureSample[], expected16: new Map<string, Uint8Array>() };
  for (const name of ['00001', '00002', '00003']) {
    const image = noiseImage(seed++);
    const raw = rawLabel(
      CITYSCAPES_IDS.filter((v) => v !== 255),
      seed++,
    );
    await writeRgb(join(gtaRoot, 'images', `${name}.png`), image);
    await writeGtaLabel(join(gtaRoot, 'labels', `${name}.png`), raw);
    gta5.all.push({ id: name, image, expected: expectMask(raw, REF_CITYSCAPES_19) });
    gta5.expected16.set(name, expectMask(raw, REF_CITYSCAPES_16));
  }
  await writeFile(join(gtaRoot, 'train.txt'), '00001.png\n00003.png\n');

  // SYNTHIA-RAND-CITYSCAPES.
  const synRoot = join(dir, 'synthia');
  await mkdir(join(synRoot, 'RGB'), { recursive: true });
  await mkdir(join(synRoot, 'GT', 'LABELS'), { recursive: true });
  const synthia = { root: synRoot, all: [] as FixtureSample[], expected13: new Map<string, Uint8Array>() };
  for (const name of ['0000000', '0000001']) {
    const image = noiseImage(seed++);
    const raw = rawLabel(SYNTHIA_IDS, seed++);
    await writeRgb(join(synRoot, 'RGB', `${name}.png`), image);
    await writeSynthiaLabel(join(synRoot, 'GT', 'LABELS', `${name}.png`), raw);
    synthia.all.push({ id: name, image, expected: expectMask(raw, REF_SYNTHIA_16) });
    synthia.expected13.set(name, expectMask(raw, REF_SYNTHIA_13));
  }

  return { dir, folder, camvid, cityscapes, gta5, synthia, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A folder dataset with one image and one label, for bad-data cases; returns its root. */
export async function makeTinyFolder(
  dir: string,
  name: string,
  options: { labelSize?: [number, number]; labelValues?: number[]; classes?: number } = {},
): Promise<string> {
  const root = join(dir, name);
  await mkdir(join(root, 'images'), { recursive: true });
  await mkdir(join(root, 'labels'), { recursive: true });
  const k = options.classes ?? 3;
  await writeFile(join(root, 'meta.json'), JSON.stringify({ classes: Array.from({ length: k }, (_, i) => `c${i}`), void: k }));
  await writeRgb(join(root, 'images', 'a.png'), noiseImage(7));
  const [lw, lh] = options.labelSize ?? [W, H];
  await writeGray(join(root, 'labels', 'a.png'), rawLabel(options.labelValues ?? [0, 1, 2, k], 8, lw * lh), lw, lh);
  return root;
}

export const CAMVID_DAY2DUSK = new URL('../../../../../shared/datasets/camvid-day2dusk', import.meta.url).pathname;

/**
 * A CamVid-style folder without meta.json (issue 26): images/ and labels/ as GTA5 has them, but the
 * labels are plain 8-bit gray PNGs of class values 0..10 and 255 (11 classes); returns its root.
 */
export async function makeUndescribedFolder(dir: string, name: string): Promise<string> {
  const root = join(dir, name);
  await mkdir(join(root, 'images'), { recursive: true });
  await mkdir(join(root, 'labels'), { recursive: true });
  for (const [i, stem] of ['0001TP_006690', '0006R0_f00930'].entries()) {
    await writeRgb(join(root, 'images', `${stem}.png`), noiseImage(20 + i));
    await writeGray(join(root, 'labels', `${stem}.png`), rawLabel([...Array.from({ length: 11 }, (_, v) => v), 255], 30 + i));
  }
  return root;
}
