// Selection units and budgets: the region tiling and its clipped edges, per-unit sums on the
// engine against plain loops, SLIC (boundaries, determinism, connectivity, raster order), the
// exact RGB round trip from a normalised batch, and budget shares, rounding and carry-over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '@adaseg/torch';
import {
  checkBudget,
  cumulativeBudget,
  denormalizeRgb,
  poolImageRgb,
  poolSize,
  roundBudget,
  totalBudget,
  unitLayout,
  unitMask,
  unitSums,
  type BudgetConfig,
  type UnitConfig,
} from '../src/active/index.js';
import { DataLoader, enforceConnectivity, gridSegments, slic, syntheticDataset } from '../src/data/index.js';
import type { RgbImage } from '../src/data/decode.js';

torch.setNumThreads(1);

test('region units tile the image with (2k+1)-squares from the top-left, edges clipped', () => {
  const layout = unitLayout({ kind: 'region', k: 1 }, { width: 5, height: 4 });
  assert.equal(layout.count, 4);
  assert.deepEqual([...layout.pixelCounts()], [9, 6, 3, 2]);
  assert.deepEqual([...layout.pixels(0)], [0, 1, 2, 5, 6, 7, 10, 11, 12]);
  assert.deepEqual([...layout.pixels(1)], [3, 4, 8, 9, 13, 14]);
  assert.deepEqual([...layout.pixels(3)], [18, 19]);
  // Every pixel is in exactly one unit, the one unitOf names.
  const seen = new Uint8Array(20);
  for (let u = 0; u < layout.count; u++)
    for (const p of layout.pixels(u)) {
      seen[p]++;
      assert.equal(layout.unitOf(p), u);
    }
  assert.ok(seen.every((v) => v === 1));
  assert.deepEqual([...unitMask({ kind: 'region', k: 1 }, { width: 5, height: 4 }, 3)], [...new Array(18).fill(0), 1, 1]);
  assert.throws(() => layout.pixels(4), /out of range/);
  // k = 0 regions are pixels; image units are one unit of every pixel.
  assert.equal(unitLayout({ kind: 'region', k: 0 }, { width: 5, height: 4 }).count, 20);
  assert.equal(unitLayout({ kind: 'image' }, { width: 5, height: 4 }).pixels(0).length, 20);
  assert.deepEqual([...unitLayout({ kind: 'pixel' }, { width: 5, height: 4 }).pixels(7)], [7]);
});

test('unitSums on the engine equals per-unit loops for every unit kind', () => {
  const [N, K, H, W] = [2, 3, 7, 8];
  torch.manualSeed(3);
  const map = torch.rand([N, K, H, W]);
  const values = map.toTypedArray() as Float32Array;
  const seg = gridSegments({ width: W, height: H }, 6);
  const segTensor = torch
    .tensor(
      Int32Array.from({ length: N * H * W }, (_, i) => seg.labels[i % (H * W)]),
      { shape: [N, H, W] },
    )
    .long();
  const configs: UnitConfig[] = [
    { kind: 'image' },
    { kind: 'region', k: 1 },
    { kind: 'region', k: 2 },
    { kind: 'pixel' },
    { kind: 'superpixel', size: 6, method: 'grid' },
  ];
  for (const units of configs) {
    const layout = unitLayout(units, { width: W, height: H }, units.kind === 'superpixel' ? seg : undefined);
    const sums = unitSums(map, units, segTensor, layout.count);
    assert.deepEqual(sums.shape, [N, K, layout.count], units.kind);
    const got = sums.toTypedArray() as Float32Array;
    for (let n = 0; n < N; n++)
      for (let k = 0; k < K; k++)
        for (let u = 0; u < layout.count; u++) {
          let want = 0;
          for (const p of layout.pixels(u)) want += values[(n * K + k) * H * W + p];
          assert.ok(
            Math.abs(got[(n * K + k) * layout.count + u] - want) < 1e-4,
            `${JSON.stringify(units)} n${n} k${k} u${u}: ${got[(n * K + k) * layout.count + u]} vs ${want}`,
          );
        }
    sums.dispose();
  }
  torch.dispose([map, segTensor]);
});

/** Four flat quadrants of different colours with a little deterministic noise. */
function quadrants(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const colours = [
    [200, 30, 30],
    [30, 200, 30],
    [30, 30, 200],
    [220, 220, 40],
  ];
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const q = (y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1);
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = colours[q][c] + ((x * 7 + y * 13 + c * 5) % 9);
    }
  return { width, height, data };
}

test('SLIC: superpixels follow colour edges, are connected, deterministic and numbered in raster order', () => {
  const img = quadrants(48, 36);
  const a = slic(img, { size: 36 });
  const b = slic(img, { size: 36 });
  assert.deepEqual(a, b, 'deterministic');
  assert.ok(a.count >= 30 && a.count <= 70, `about 48*36/36 = 48 superpixels, got ${a.count}`);
  const quadrant = (p: number) => (Math.floor(p / 48) < 18 ? 0 : 2) + (p % 48 < 24 ? 0 : 1);
  const home = new Map<number, number>();
  let next = 0;
  for (let p = 0; p < a.labels.length; p++) {
    const l = a.labels[p];
    if (!home.has(l)) {
      assert.equal(l, next++, 'labels appear in raster order');
      home.set(l, quadrant(p));
    }
    assert.equal(home.get(l), quadrant(p), `superpixel ${l} crosses a colour edge at pixel ${p}`);
  }
  // Connected: relabelling components with no merging changes nothing.
  assert.deepEqual(enforceConnectivity(a.labels, 48, 36, 1), a);
  // The layout of a superpixel config gives the same units as slic().
  const layout = unitLayout({ kind: 'superpixel', size: 36 }, { width: 48, height: 36 }, img);
  assert.equal(layout.count, a.count);
  assert.deepEqual(
    [...layout.pixels(5)],
    [...a.labels.keys()].filter((p) => a.labels[p] === 5),
  );
  assert.throws(() => unitLayout({ kind: 'superpixel', size: 36 }, { width: 48, height: 36 }), /need the image/);
  const grid = gridSegments({ width: 48, height: 36 }, 36);
  assert.equal(grid.count, 48);
  assert.ok(grid.labels.every((l, p) => l === Math.floor(Math.floor(p / 48) / 6) * 8 + Math.floor((p % 48) / 6)));
});

test('the RGB recovered from a normalised batch is exactly the pool image (same superpixels for scorer and annotator)', async () => {
  const pool = syntheticDataset({ style: 'target', count: 2, width: 40, height: 30, seed: 4 });
  const transforms = [{ kind: 'resize' as const, width: 32, height: 24 }];
  const loader = new DataLoader(pool, { batchSize: 2, workers: 0, transforms });
  for await (const batch of loader.epoch(0)) {
    const rgb = denormalizeRgb(batch.images, { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    for (let i = 0; i < 2; i++) {
      const direct = await poolImageRgb(pool, i, transforms);
      assert.equal(direct.width, 32);
      assert.deepEqual(rgb[i].data, direct.data);
    }
    batch.dispose();
  }
  await loader.close();
  await assert.rejects(poolImageRgb(pool, 0, [{ kind: 'hflip' }]), /deterministic/);
});

test('budgets: equal shares over rounds, floor rounding of the cumulative target, carry-over, exact total', () => {
  const pool = { images: 46, pixels: 46 * 240 * 180 };
  const pct: BudgetConfig = { kind: 'pixelPercent', total: 5, rounds: 5 };
  assert.deepEqual(totalBudget(pct, pool), { pixels: 99360 });
  for (let r = 1; r <= 5; r++) assert.deepEqual(cumulativeBudget(pct, r, pool), { pixels: 19872 * r });
  const regions: BudgetConfig = { kind: 'regions', total: 10, rounds: 3 };
  let spent = { units: 0, pixels: 0 };
  const per: number[] = [];
  for (let round = 1; round <= 3; round++) {
    const b = roundBudget(regions, { round, pool, spent });
    per.push(b.units!);
    spent = { units: spent.units + b.units!, pixels: 0 };
  }
  assert.deepEqual(per, [3, 3, 4]);
  // A round that could not spend its share passes it on.
  assert.deepEqual(roundBudget(pct, { round: 2, pool, spent: { units: 0, pixels: 19000 } }), { pixels: 2 * 19872 - 19000 });
  assert.deepEqual(roundBudget({ kind: 'images', total: 100, rounds: 2 }, { round: 2, pool }), { units: 46 });
  assert.throws(() => roundBudget(pct, { round: 6, pool }), /round must be in 1\.\.5/);
  assert.throws(() => checkBudget({ kind: 'images', total: 3, rounds: 1 }, { kind: 'region', k: 1 }), /needs image units/);
  assert.throws(() => checkBudget({ kind: 'regions', total: 3, rounds: 1 }, { kind: 'image' }), /image units/);
  assert.throws(() => checkBudget({ kind: 'pixelPercent', total: 120, rounds: 1 }, { kind: 'image' }), /<= 100/);
});

test('poolSize: images and pixels at the scored resolution', async () => {
  const ds = syntheticDataset({ style: 'target', count: 3, width: 40, height: 30 });
  assert.deepEqual(await poolSize(ds), { images: 3, pixels: 3 * 1200 });
  assert.deepEqual(await poolSize(ds, [{ kind: 'resize', width: 20, height: 10 }]), { images: 3, pixels: 600 });
  await assert.rejects(poolSize(ds, [{ kind: 'randomCrop', width: 20, height: 10 }]), /deterministic/);
});
