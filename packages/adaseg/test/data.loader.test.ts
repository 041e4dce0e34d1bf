// The DataLoader: batch layout and dtypes, per-epoch shuffling, infinite iteration, determinism
// across worker counts, the cache, partial and missing labels, and no leaked tensors.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import * as torch from '@adaseg/torch';
import {
  type Batch,
  DataError,
  DataLoader,
  loadDataset,
  renderScene,
  syntheticDataset,
  type Transform,
  withMask,
  withoutLabel,
  withSamples,
} from '../src/data/index.js';
import { CAMVID_DAY2DUSK, type Fixtures, H, makeFixtures, W } from './helpers/data-fixtures.js';

let fx: Fixtures;
before(async () => {
  fx = await makeFixtures();
});
after(async () => {
  await fx.cleanup();
});

const labelsOf = (b: Batch) => Array.from(b.labels.toTypedArray() as BigInt64Array, Number);

async function collect(it: AsyncIterable<Batch>, limit = Infinity): Promise<{ ids: string[][]; images: number[][]; labels: number[][]; epochs: number[] }> {
  const out = { ids: [] as string[][], images: [] as number[][], labels: [] as number[][], epochs: [] as number[] };
  for await (const b of it) {
    out.ids.push(b.ids);
    out.images.push(Array.from(b.images.toTypedArray() as Float32Array));
    out.labels.push(labelsOf(b));
    out.epochs.push(b.epoch);
    b.dispose();
    if (out.ids.length >= limit) break;
  }
  return out;
}

describe('DataLoader', () => {
  test('batches: [B,3,H,W] float32 and [B,H,W] int64 holding the right train ids', async () => {
    const ds = await loadDataset({ format: 'cityscapes', root: fx.cityscapes.root, split: 'train' });
    const loader = new DataLoader(ds, { batchSize: 2, workers: 0, normalize: { mean: [0, 0, 0], std: [1, 1, 1] } });
    assert.equal(loader.length, 2);
    const batches: Batch[] = [];
    for await (const b of loader) batches.push(b);
    assert.deepEqual(batches[0].images.shape, [2, 3, H, W]);
    assert.equal(batches[0].images.dtype, 'float32');
    assert.deepEqual(batches[0].labels.shape, [2, H, W]);
    assert.equal(batches[0].labels.dtype, 'int64');
    assert.deepEqual(batches[1].images.shape, [1, 3, H, W], 'last batch kept without dropLast');
    const all = batches.flatMap((b) => b.ids);
    assert.deepEqual(
      all,
      fx.cityscapes.train.map((s) => s.id),
    );
    const labels = batches.flatMap((b) => {
      const l = labelsOf(b);
      return Array.from({ length: b.ids.length }, (_, j) => l.slice(j * W * H, (j + 1) * W * H));
    });
    labels.forEach((l, j) => assert.deepEqual(l, [...fx.cityscapes.train[j].expected]));
    // Image channel 0 of sample 0 is the red plane of the written image, / 255.
    const img = Array.from(batches[0].images.toTypedArray() as Float32Array).slice(0, W * H);
    const red = Array.from({ length: W * H }, (_, i) => fx.cityscapes.train[0].image[i * 3] / 255);
    img.forEach((v, i) => assert.ok(Math.abs(v - red[i]) < 1e-6));
    for (const b of batches) b.dispose();
    await loader.close();
  });

  test('shuffles per epoch, each epoch a permutation; same seed same order', async () => {
    const ds = syntheticDataset({ style: 'source', count: 12, width: 8, height: 6 });
    const mk = (seed: number) => new DataLoader(ds, { batchSize: 4, shuffle: true, seed, workers: 0 });
    const a = mk(5);
    const e0 = (await collect(a.epoch())).ids.flat();
    const e1 = (await collect(a.epoch())).ids.flat();
    assert.notDeepEqual(e0, e1);
    assert.deepEqual(
      [...e0].sort(),
      ds.samples.map((s) => s.id),
    );
    assert.deepEqual(
      [...e1].sort(),
      ds.samples.map((s) => s.id),
    );
    assert.deepEqual((await collect(mk(5).epoch(0))).ids.flat(), e0);
    assert.notDeepEqual((await collect(mk(6).epoch(0))).ids.flat(), e0);
    const plain = new DataLoader(ds, { batchSize: 5, workers: 0 });
    assert.deepEqual(
      (await collect(plain.epoch())).ids.flat(),
      ds.samples.map((s) => s.id),
    );
  });

  test('an infinite iterator runs epoch after epoch', async () => {
    const ds = syntheticDataset({ style: 'target', count: 5, width: 8, height: 6 });
    const loader = new DataLoader(ds, { batchSize: 2, dropLast: true, shuffle: true, workers: 0 });
    assert.equal(loader.length, 2);
    const got = await collect(loader.batches(), 7);
    assert.deepEqual(got.epochs, [0, 0, 1, 1, 2, 2, 3]);
    assert.ok(got.ids.every((b) => b.length === 2));
  });

  test('workers and cache give the same batches as the main thread; errors nowhere', async () => {
    const ds = syntheticDataset({ style: 'target', count: 6, width: 40, height: 30, seed: 9 });
    const transforms: Transform[] = [
      { kind: 'randomScale', min: 0.75, max: 1.5 },
      { kind: 'randomCrop', width: 32, height: 24 },
      { kind: 'hflip' },
      { kind: 'colorJitter', brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.05 },
    ];
    const options = { batchSize: 3, shuffle: true, seed: 11, transforms };
    const inline = new DataLoader(ds, { ...options, workers: 0 });
    const threaded = new DataLoader(ds, { ...options, workers: 2, prefetch: 1, cache: true });
    try {
      for (let e = 0; e < 2; e++) {
        const a = await collect(inline.epoch());
        const b = await collect(threaded.epoch());
        assert.deepEqual(b.ids, a.ids);
        assert.deepEqual(b.labels, a.labels);
        assert.deepEqual(b.images, a.images);
        if (e === 0) assert.ok(threaded.cachedBytes >= 6 * 40 * 30 * 4, `cache filled: ${threaded.cachedBytes}`);
      }
      // Augmentation differs between epochs (new seeds), so the cache holds pre-augmentation data.
      const e2 = await collect(threaded.epoch(0));
      const e3 = await collect(threaded.epoch(1));
      assert.notDeepEqual(e2.images, e3.images);
    } finally {
      await inline.close();
      await threaded.close();
    }
  });

  test('no tensors leak: disposed batches, and batches inside asyncScope', async () => {
    const ds = syntheticDataset({ style: 'source', count: 8, width: 16, height: 12 });
    const loader = new DataLoader(ds, { batchSize: 4, shuffle: true, workers: 0, prefetch: 2 });
    const base = torch.memory().tensors;
    const baseBytes = torch.memory().bytes;
    for (let e = 0; e < 2; e++) for await (const b of loader.epoch()) b.dispose();
    assert.equal(torch.memory().tensors, base);
    const it = loader.batches();
    for (let i = 0; i < 3; i++) {
      await torch.asyncScope(async () => {
        const { value } = await it.next();
        assert.ok(value!.images.sum().item() !== 0);
      });
    }
    await it.return(undefined);
    assert.equal(torch.memory().tensors, base);
    assert.equal(torch.memory().bytes, baseBytes);
    await loader.close();
  });

  test('partial labels and unlabelled samples are first-class', async () => {
    const ds = syntheticDataset({ style: 'source', count: 3, width: 8, height: 6 });
    const truth = renderScene(ds.samples[0].image.kind === 'synthetic' ? ds.samples[0].image.scene : assert.fail()).label;
    const mask = new Uint8Array(48).fill(255);
    for (let i = 0; i < 48; i += 5) mask[i] = truth[i];
    const samples = [withMask(ds.samples[0], { width: 8, height: 6, data: mask }), withoutLabel(ds.samples[1]), ds.samples[2]];
    const loader = new DataLoader(withSamples(ds, samples), { batchSize: 3, workers: 0 });
    const [b] = (await collect(loader.epoch())).labels;
    assert.deepEqual(b.slice(0, 48), [...mask]);
    assert.ok(b.slice(48, 96).every((v) => v === 255));
    const batch = (await loader.epoch().next()).value!;
    assert.deepEqual(batch.labelled, [true, false, true]);
    batch.dispose();
    assert.throws(() => withMask(ds.samples[0], { width: 8, height: 6, data: new Uint8Array(3) }), DataError);
  });

  test('mixed sizes in a batch, bad options, empty datasets are clear errors', async () => {
    const a = syntheticDataset({ style: 'source', count: 1, width: 8, height: 6 });
    const b = syntheticDataset({ style: 'source', count: 1, width: 10, height: 6 });
    const mixed = withSamples(a, [...a.samples, { ...b.samples[0], id: 'other' }]);
    const loader = new DataLoader(mixed, { batchSize: 2, workers: 0 });
    await assert.rejects(
      collect(loader.epoch()),
      (e: unknown) => e instanceof DataError && e.code === 'size-mismatch' && /8x6.*10x6.*resize or crop/.test(e.message),
    );
    // With a crop, the same data batches fine.
    const cropped = new DataLoader(mixed, { batchSize: 2, workers: 0, transforms: [{ kind: 'randomCrop', width: 8, height: 6 }] });
    assert.equal((await collect(cropped.epoch())).ids.length, 1);
    assert.throws(() => new DataLoader(a, { batchSize: 0 }), /batchSize must be an integer >= 1/);
    assert.throws(() => new DataLoader(a, { batchSize: 2, workers: -1 }), /workers/);
    assert.throws(() => new DataLoader(a, { batchSize: 2, transforms: [{ kind: 'spin' } as unknown as Transform] }), /unknown kind/);
    assert.throws(
      () => new DataLoader(withSamples(a, []), { batchSize: 1 }),
      (e: unknown) => e instanceof DataError && e.code === 'empty-split',
    );
    assert.throws(() => new DataLoader(a, { batchSize: 2, dropLast: true }), /no full batch/);
  });

  test(
    'camvid-day2dusk through worker threads (skipped when the dataset is absent)',
    { skip: !existsSync(CAMVID_DAY2DUSK) && 'no ../shared/datasets/camvid-day2dusk' },
    async () => {
      const ds = await loadDataset({ format: 'folder', root: CAMVID_DAY2DUSK, split: 'target_val', limit: 4 });
      const loader = new DataLoader(ds, {
        batchSize: 4,
        workers: 1,
        shuffle: true,
        transforms: [
          { kind: 'randomScale', min: 0.5, max: 1 },
          { kind: 'randomCrop', width: 120, height: 90 },
          { kind: 'hflip' },
          { kind: 'colorJitter', brightness: 0.4 },
        ],
      });
      const [batch] = (await collect(loader.epoch())).labels;
      assert.equal(batch.length, 4 * 120 * 90);
      assert.ok(batch.every((v) => v <= 10 || v === 255));
      assert.ok(new Set(batch).size > 4, 'several classes');
      await loader.close();
    },
  );
});
