// Seeded augmentation: geometry keeps image and label aligned (bilinear images, nearest labels,
// ignore padding), colour changes images only, the same seed gives the same result.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  applyTransforms,
  cropPair,
  DataError,
  IMAGENET_NORMALIZE,
  parseNormalize,
  parseTransforms,
  type Pair,
  resizeImage,
  resizeLabel,
  Rng,
  toCHW,
  type Transform,
} from '../src/data/index.js';

/** A pair whose label encodes the pixel position, so alignment can be checked after any geometry. */
function gridPair(width: number, height: number): Pair {
  const image = new Uint8Array(width * height * 3);
  const label = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      label[i] = (x < width / 2 ? 0 : 1) + (y < height / 2 ? 0 : 2); // quadrants 0..3
      image.set([label[i] * 60, 10, 200 - label[i] * 40], i * 3); // colour tells the quadrant
    }
  }
  return { image: { width, height, data: image }, label: { width, height, data: label } };
}

function quadrantOfColour(r: number): number {
  return Math.round(r / 60);
}

describe('transforms', () => {
  test('resize: bilinear image (exact on constant areas), nearest label (no new values)', () => {
    const p = gridPair(8, 6);
    const img = resizeImage(p.image, 16, 12);
    const lab = resizeLabel(p.label!, 16, 12);
    assert.equal(img.data.length, 16 * 12 * 3);
    assert.ok(lab.data.every((v) => v <= 3));
    assert.equal(lab.data[0], 0);
    assert.equal(lab.data[16 * 12 - 1], 3);
    // Upsampling by 2 with nearest: each label pixel becomes a 2x2 block.
    for (let y = 0; y < 12; y++) for (let x = 0; x < 16; x++) assert.equal(lab.data[y * 16 + x], p.label!.data[(y >> 1) * 8 + (x >> 1)]);
    // Bilinear: a corner pixel far from the boundary keeps its colour; the boundary blends.
    assert.deepEqual([...img.data.subarray(0, 3)], [0, 10, 200]);
    const mid = img.data[(0 * 16 + 7) * 3];
    const mid2 = img.data[(0 * 16 + 8) * 3];
    assert.ok(mid > 0 && mid < 60 && mid2 > 0 && mid2 < 60, `blend at the boundary: ${mid}, ${mid2}`);
    // Downsampling to a half keeps values in range and labels within the set.
    const small = resizeLabel(p.label!, 3, 2);
    assert.ok(small.data.every((v) => v <= 3));
  });

  test('random crop pads labels with ignore and images with black', () => {
    const p = gridPair(6, 4);
    const out = applyTransforms(p, [{ kind: 'randomCrop', width: 10, height: 8 }], new Rng(1));
    assert.equal(out.image.width, 10);
    assert.equal(out.label!.height, 8);
    let ignore = 0;
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 10; x++) {
        const inside = x < 6 && y < 4;
        const v = out.label!.data[y * 10 + x];
        if (inside) assert.equal(v, p.label!.data[y * 6 + x]);
        else {
          assert.equal(v, 255);
          assert.deepEqual([...out.image.data.subarray((y * 10 + x) * 3, (y * 10 + x) * 3 + 3)], [0, 0, 0]);
          ignore++;
        }
      }
    }
    assert.equal(ignore, 80 - 24);
  });

  test('geometry keeps image and label aligned; same seed, same result', () => {
    const t: Transform[] = [
      { kind: 'randomScale', min: 0.5, max: 2 },
      { kind: 'randomCrop', width: 20, height: 14 },
      { kind: 'hflip', p: 0.5 },
    ];
    const p = gridPair(32, 24);
    let flips = 0;
    let checked = 0;
    for (let seed = 0; seed < 20; seed++) {
      const a = applyTransforms(p, t, new Rng(seed));
      const b = applyTransforms(p, t, new Rng(seed));
      assert.deepEqual(a, b);
      assert.equal(a.image.width, 20);
      assert.equal(a.image.height, 14);
      // Away from quadrant boundaries (where bilinear blends), the colour tells the label.
      for (let i = 0; i < 20 * 14; i++) {
        const l = a.label!.data[i];
        if (l === 255) continue;
        const x = i % 20,
          y = Math.floor(i / 20);
        const same = [
          [x - 1, y],
          [x + 1, y],
          [x, y - 1],
          [x, y + 1],
          [x - 2, y],
          [x + 2, y],
          [x, y - 2],
          [x, y + 2],
        ].every(([u, v]) => u >= 0 && v >= 0 && u < 20 && v < 14 && a.label!.data[v * 20 + u] === l);
        if (same) {
          assert.equal(quadrantOfColour(a.image.data[i * 3]), l, `seed ${seed} pixel ${x},${y}`);
          checked++;
        }
      }
      // Flipped results put quadrant 1 (right) on the left.
      if (a.label!.data[0] === 1 || a.label!.data[0] === 3) flips++;
    }
    assert.ok(flips > 2 && flips < 18, `about half flipped: ${flips}/20`);
    assert.ok(checked > 20 * 100, `checked ${checked} pixels`);
  });

  test('scale then crop is fused without changing a pixel', () => {
    const p = gridPair(30, 20);
    for (let seed = 0; seed < 12; seed++) {
      const fused = applyTransforms(
        p,
        [
          { kind: 'randomScale', min: 0.4, max: 2.5 },
          { kind: 'randomCrop', width: 24, height: 16 },
        ],
        new Rng(seed),
      );
      const r = new Rng(seed);
      const s = r.uniform(0.4, 2.5);
      const w = Math.max(1, Math.round(30 * s)),
        h = Math.max(1, Math.round(20 * s));
      const big = { image: resizeImage(p.image, w, h), label: resizeLabel(p.label!, w, h) };
      const x = w > 24 ? r.int(w - 24 + 1) : 0;
      const y = h > 16 ? r.int(h - 16 + 1) : 0;
      const ref = cropPair(big, x, y, 24, 16);
      assert.deepEqual(fused.image.data, ref.image.data, `image, seed ${seed}`);
      assert.deepEqual(fused.label!.data, ref.label!.data, `label, seed ${seed}`);
    }
  });

  test('hflip mirrors image and label exactly', () => {
    const p = gridPair(4, 2);
    const out = applyTransforms(p, [{ kind: 'hflip', p: 1 }], new Rng(0));
    assert.deepEqual([...out.label!.data], [1, 1, 0, 0, 3, 3, 2, 2]);
    assert.deepEqual([...out.image.data.subarray(0, 3)], [...p.image.data.subarray(9, 12)]);
  });

  test('colour jitter changes the image, never the label; seeded', () => {
    const p = gridPair(16, 12);
    const t: Transform[] = [{ kind: 'colorJitter', brightness: 0.5, contrast: 0.5, saturation: 0.5, hue: 0.2 }];
    const a = applyTransforms(p, t, new Rng(3));
    assert.notDeepEqual(a.image.data, p.image.data);
    assert.equal(a.label, p.label);
    assert.deepEqual(applyTransforms(p, t, new Rng(3)).image.data, a.image.data);
    assert.notDeepEqual(applyTransforms(p, t, new Rng(4)).image.data, a.image.data);
    // Zero jitter is the identity (hue 0 included).
    const id = applyTransforms(p, [{ kind: 'colorJitter' }], new Rng(3));
    assert.deepEqual(id.image.data, p.image.data);
  });

  test('normalisation: (v / 255 - mean) / std into CHW', () => {
    const img = { width: 2, height: 1, data: Uint8Array.from([255, 0, 128, 0, 255, 64]) };
    const out = toCHW(img, IMAGENET_NORMALIZE);
    const m = IMAGENET_NORMALIZE.mean,
      s = IMAGENET_NORMALIZE.std;
    const expect = [(1 - m[0]) / s[0], (0 - m[0]) / s[0], (0 - m[1]) / s[1], (1 - m[1]) / s[1], (128 / 255 - m[2]) / s[2], (64 / 255 - m[2]) / s[2]];
    expect.forEach((v, i) => assert.ok(Math.abs(out[i] - v) < 1e-5, `${i}: ${out[i]} vs ${v}`));
    assert.deepEqual(
      [...toCHW(img, parseNormalize('none'))].map((v) => Math.round(v * 255)),
      [255, 0, 0, 255, 128, 64],
    );
  });

  test('transform configs are checked', () => {
    assert.deepEqual(parseTransforms([{ kind: 'hflip' }, { kind: 'randomCrop', width: 4, height: 3 }]), [
      { kind: 'hflip', p: 0.5 },
      { kind: 'randomCrop', width: 4, height: 3 },
    ]);
    const bad = (v: unknown, re: RegExp) =>
      assert.throws(
        () => parseTransforms(v),
        (e: unknown) => e instanceof DataError && e.code === 'bad-config' && re.test(e.message),
      );
    bad([{ kind: 'rotate' }], /transforms\[0\]: unknown kind "rotate"/);
    bad([{ kind: 'randomCrop', width: 0, height: 3 }], /'width' must be >= 1/);
    bad([{ kind: 'randomScale', min: 2, max: 1 }], /'max' must be >= 2/);
    bad([{ kind: 'hflip', prob: 1 }], /unknown key 'prob'/);
    bad({ kind: 'hflip' }, /expected an array/);
    assert.throws(() => parseNormalize({ mean: [0, 0], std: [1, 1, 1] }), /'mean' must be three numbers/);
  });
});
