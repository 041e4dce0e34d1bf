// The scorer: it hands a strategy exactly its declared needs (and never runs the model for a
// strategy that needs nothing), restores the model's modes, excludes labelled pixels, keeps no
// per-pixel tensor between batches, and its BADGE gradient embeddings equal autograd's gradient
// of the classifier weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '@adaseg/torch';
import {
  BatchUnits,
  computeSourceAnchors,
  createStrategy,
  gradientEmbeddings,
  parseStrategyConfig,
  poolImageRgb,
  scorePool,
  unitLayout,
  unitSums,
  type BatchInputs,
  type Need,
  type Strategy,
  type UnitConfig,
  type UnitRecord,
} from '../src/active/index.js';
import { FCDiscriminator } from '../src/adapt/discriminator.js';
import { DataLoader, syntheticDataset } from '../src/data/index.js';
import { buildModel } from '../src/models/config.js';
import type { SegmentationModel } from '../src/models/base.js';

torch.setNumThreads(1);
const F = torch.functional;

function tinyUNet(dropout = 0): SegmentationModel {
  torch.manualSeed(0);
  return buildModel({ kind: 'unet', baseWidth: 4, depth: 2, dropout }, 6);
}

const pool = (count: number, width = 32, height = 24) => syntheticDataset({ style: 'target', count, width, height, seed: 11 });

/** A strategy that records what it was given and returns one record per image. */
class Probe implements Strategy {
  readonly name = 'probe';
  readonly seen: { keys: string[]; shapes: Record<string, number[]>; tensors: number; bytes: number }[] = [];
  constructor(
    readonly needs: readonly Need[],
    readonly settings = {},
  ) {}
  scoreBatch(inputs: BatchInputs, _units: UnitConfig): UnitRecord[] {
    const m = torch.memory();
    const shapes: Record<string, number[]> = {};
    for (const [k, v] of Object.entries(inputs)) if (v instanceof torch.Tensor) shapes[k] = v.shape;
    this.seen.push({ keys: Object.keys(shapes).sort(), shapes, tensors: m.tensors, bytes: m.bytes });
    return inputs.images.map((image, i) => ({ image, imageId: inputs.imageIds[i], unit: 0, pixels: 1, score: 0 }));
  }
  select(): never {
    throw new Error('not used');
  }
}

test('entropy over region units: the records are the per-region mean entropy of the model, all images, in pool order', async () => {
  const model = tinyUNet();
  const ds = pool(6);
  const records = await scorePool(model, ds, createStrategy({ strategy: 'entropy' }), { units: { kind: 'region', k: 1 }, batchSize: 4 });
  assert.equal(records.length, 6 * 8 * 11);
  assert.deepEqual([...new Set(records.map((r) => r.image))], [0, 1, 2, 3, 4, 5]);
  // Recompute image 5 by hand: softmax, entropy, 3x3 sums / pixels.
  const loader = new DataLoader(ds, { batchSize: 6, workers: 0 });
  for await (const b of loader.epoch(0)) {
    torch.tidy(() => {
      model.eval();
      const p = torch.inferenceMode(() => model.forward(b.images.narrow(0, 5, 1)).logits.softmax(1));
      const ent = p.mul(p.clamp(1e-12).log()).sum(1, true).neg();
      const mean = unitSums(ent, { kind: 'region', k: 1 })
        .div(unitSums(torch.onesLike(ent), { kind: 'region', k: 1 }))
        .toTypedArray() as Float32Array;
      const mine = records.filter((r) => r.image === 5);
      mine.forEach((r) => assert.ok(Math.abs(r.score! - mean[r.unit]) < 1e-5, `unit ${r.unit}: ${r.score} vs ${mean[r.unit]}`));
      assert.deepEqual(
        mine.map((r) => r.pixels),
        [...unitLayout({ kind: 'region', k: 1 }, { width: 32, height: 24 }).pixelCounts()],
      );
    });
    b.dispose();
  }
  await loader.close();
  model.dispose();
});

test('the scorer computes exactly the declared needs, with their shapes, and restores train/MC-dropout modes', async () => {
  const model = tinyUNet(0.3);
  model.train();
  const ds = pool(3, 48, 32);
  const source = syntheticDataset({ style: 'source', count: 3, width: 48, height: 32, seed: 2 });
  const discriminator = new FCDiscriminator({ inChannels: 6, ndf: 4 });
  const only = new Probe(['probabilities']);
  await scorePool(model, ds, only, { units: { kind: 'image' }, batchSize: 2 });
  assert.deepEqual(
    only.seen.map((s) => s.keys),
    [
      ['labelled', 'probabilities'],
      ['labelled', 'probabilities'],
    ],
  );
  const all = new Probe(['probabilities', 'mcSamples', 'features', 'targetness', 'sourceAnchors', 'gradientEmbedding'], { mcPasses: 3, anchors: 2 });
  await scorePool(model, ds, all, { units: { kind: 'region', k: 2 }, batchSize: 2, discriminator, source });
  assert.deepEqual(all.seen[0].shapes, {
    labelled: [2, 32, 48],
    probabilities: [2, 6, 32, 48],
    mcSamples: [3, 2, 6, 32, 48],
    features: [2, 4, 32, 48],
    targetness: [2, 32, 48],
    sourceAnchors: [2, 6, 4],
    gradientEmbedding: [2, 7 * 10, 6 * 4],
  });
  assert.equal(model.training, true, 'training mode restored');
  assert.equal(model.mcDropout, false, 'MC dropout restored');
  model.eval().setMcDropout(true);
  await scorePool(model, ds, new Probe(['mcSamples']), { units: { kind: 'image' } });
  assert.equal(model.mcDropout, true, 'a model left in MC dropout stays so');
  assert.equal(model.training, false);
  await assert.rejects(
    scorePool(tinyUNet(0), ds, createStrategy({ strategy: 'bald', passes: 4 }), { units: { kind: 'image' } }),
    /no dropout layer with p > 0/,
  );
  await assert.rejects(scorePool(model, ds, createStrategy({ strategy: 'aada' }), { units: { kind: 'image' } }), /pass options\.discriminator/);
  await assert.rejects(scorePool(model, ds, createStrategy({ strategy: 'mada', anchors: 2 }), { units: { kind: 'image' } }), /pass options\.source/);
  model.dispose();
});

test('random needs nothing: the model is never run', async () => {
  const model = tinyUNet();
  let calls = 0;
  const forward = model.forward.bind(model);
  model.forward = (x, o) => {
    calls++;
    return forward(x, o);
  };
  const records = await scorePool(model, pool(3), createStrategy({ strategy: 'random' }), { units: { kind: 'region', k: 3 }, seed: 5 });
  assert.equal(calls, 0);
  assert.equal(records.length, 3 * 4 * 5);
  model.dispose();
});

test('labelled pixels are excluded: fully labelled units vanish, partly labelled ones cost what is left', async () => {
  const model = tinyUNet();
  const W = 32,
    H = 24;
  const layout = unitLayout({ kind: 'region', k: 1 }, { width: W, height: H });
  const masks = new Map<number, Uint8Array>([
    [0, new Uint8Array(W * H).fill(1)],
    [1, layout.mask([0, 1])],
  ]);
  masks.get(1)![layout.pixels(2)[0]] = 1;
  const records = await scorePool(model, pool(3), createStrategy({ strategy: 'margin' }), { units: { kind: 'region', k: 1 }, labelled: (i) => masks.get(i) });
  assert.equal(records.filter((r) => r.image === 0).length, 0);
  const one = records.filter((r) => r.image === 1);
  assert.equal(one.length, layout.count - 2);
  assert.equal(one[0].unit, 2);
  assert.equal(one[0].pixels, 8);
  assert.equal(records.filter((r) => r.image === 2).length, layout.count);
  await assert.rejects(
    scorePool(model, pool(1), createStrategy({ strategy: 'margin' }), { units: { kind: 'image' }, labelled: () => new Uint8Array(5) }),
    /has 5 values, but the pool image is 32x24/,
  );
  // The pool's ground truth is never read: label files that do not exist do not matter.
  const ds = pool(2);
  const hidden = { ...ds, samples: ds.samples.map((s) => ({ ...s, label: { kind: 'file' as const, path: '/nonexistent/label.png' } })) };
  assert.equal((await scorePool(model, hidden, createStrategy({ strategy: 'entropy' }), { units: { kind: 'image' } })).length, 2);
  model.dispose();
});

test('bounded memory: no per-pixel tensor outlives its batch, and pixel units keep only the best records', async () => {
  const model = tinyUNet();
  const ds = pool(16, 64, 48);
  const probe = new Probe(['probabilities', 'features']);
  const before = torch.memory();
  await scorePool(model, ds, probe, { units: { kind: 'pixel' }, batchSize: 2 });
  // Every batch starts from the same live tensors and bytes: nothing accumulates across batches.
  assert.equal(probe.seen.length, 8);
  assert.ok(
    probe.seen.every((s) => s.tensors === probe.seen[0].tensors && s.bytes === probe.seen[0].bytes),
    JSON.stringify(probe.seen.map((s) => [s.tensors, s.bytes])),
  );
  // What is alive during a batch is far less than the pool's probability maps would be.
  const poolMaps = 16 * 6 * 64 * 48 * 4;
  const modelBytes = model
    .parameters()
    .concat(model.buffers())
    .reduce((s, t) => s + t.numel() * 4, 0);
  assert.ok(probe.seen[0].bytes - before.bytes < poolMaps, `${probe.seen[0].bytes - before.bytes} live bytes during a batch vs ${poolMaps} for all maps`);
  assert.ok(modelBytes > 0);
  assert.deepEqual(torch.memory().tensors, before.tensors, 'nothing left after scoring');
  const records = await scorePool(model, ds, createStrategy({ strategy: 'entropy' }), { units: { kind: 'pixel' }, batchSize: 4, keepPerImage: 50 });
  assert.equal(records.length, 16 * 50);
  assert.equal(torch.memory().tensors, before.tensors);
  model.dispose();
});

test('a mix through the scorer: each part gets its needs from one pass and keeps its own best records per image', async () => {
  const model = tinyUNet();
  const ds = pool(4, 32, 24);
  const before = torch.memory().tensors;
  const mix = createStrategy(
    parseStrategyConfig({
      strategy: 'mix',
      parts: [
        { share: 0.5, strategy: 'random' },
        { share: 0.5, strategy: 'entropy' },
      ],
    }),
  );
  const pixel: UnitConfig = { kind: 'pixel' };
  const records = await scorePool(model, ds, mix, { units: pixel, batchSize: 2, keepPerImage: 20, seed: 3 });
  const alone = async (kind: string) =>
    scorePool(model, ds, createStrategy(parseStrategyConfig(kind)), { units: pixel, batchSize: 4, keepPerImage: 20, seed: 3 });
  const [random, entropy] = [await alone('random'), await alone('entropy')];
  const key = (r: UnitRecord) => `${r.image}:${r.unit}`;
  // Each part kept exactly the records it keeps alone (its 20 best per image), whatever the batching.
  for (const [i, own] of [random, entropy].entries()) {
    const fromMix = records.flatMap((r) => (r.parts![i] ? [r.parts![i]!] : []));
    assert.deepEqual(fromMix.map(key).sort(), own.map(key).sort(), `part ${i}`);
    const score = new Map(own.map((r) => [key(r), r.score]));
    for (const r of fromMix) assert.ok(Math.abs(r.score! - score.get(key(r))!) < 1e-6);
  }
  assert.ok(records.length <= 4 * 40 && records.length >= 4 * 20);
  const chosen = mix.select(records, { budget: { pixels: 10 }, random: () => 0.5, ranking: 'global' });
  assert.equal(chosen.length, 10);
  assert.equal(new Set(chosen.map(key)).size, 10);
  assert.equal(torch.memory().tensors, before);
  model.dispose();
});

test('BADGE embeddings equal autograd: d CE(argmax) / d classifier weight, averaged over the unit', () => {
  const model = tinyUNet();
  model.eval();
  torch.manualSeed(4);
  const x = torch.randn([1, 3, 20, 28]);
  const [H, W] = [20, 28];
  const grad = torch.tidy(() => {
    const logits = model.forward(x).logits;
    const pred = logits.argmax(1);
    const loss = F.crossEntropy(logits, pred, { reduction: 'sum' }).div(H * W);
    const [g] = torch.autograd.grad(loss, [(model as unknown as { classifier: torch.nn.Conv2d }).classifier.weight]);
    return g!.reshape([-1]);
  });
  const ours = torch.inferenceMode(() =>
    torch.tidy(() => {
      const out = model.forward(x);
      const inputs: BatchInputs = { images: [0], imageIds: ['a'], labelled: torch.zeros([1, H, W], { dtype: 'bool' }), seed: 0, keepPerImage: Infinity };
      return gradientEmbeddings(new BatchUnits(inputs, { kind: 'image' }), out.logits.softmax(1), out.features)
        .reshape([-1])
        .clone();
    }),
  );
  const diff = torch.tidy(() => ours.sub(grad).abs().max().item() as number);
  const scale = torch.tidy(() => grad.abs().max().item() as number);
  assert.ok(diff <= 1e-5 * Math.max(1, scale), `max difference ${diff} (scale ${scale})`);
  torch.dispose([x, grad, ours]);
  model.dispose();
});

test('SLIC superpixel units through the scorer match the annotator-side layout of poolImageRgb', async () => {
  const model = tinyUNet();
  const ds = pool(2, 40, 30);
  const units: UnitConfig = { kind: 'superpixel', size: 30 };
  const records = await scorePool(model, ds, createStrategy({ strategy: 'entropy' }), { units });
  for (const image of [0, 1]) {
    const layout = unitLayout(units, { width: 40, height: 30 }, await poolImageRgb(ds, image));
    const mine = records.filter((r) => r.image === image);
    assert.equal(mine.length, layout.count);
    const counts = layout.pixelCounts();
    mine.forEach((r) => assert.equal(r.pixels, counts[r.unit]));
  }
  model.dispose();
});

test('MADA anchors: k-means of class-wise source features; the pool is then scored against them', async () => {
  const model = tinyUNet();
  const source = syntheticDataset({ style: 'source', count: 5, width: 32, height: 24, seed: 3 });
  const anchors = await computeSourceAnchors(model, source, { anchors: 3, minPixels: 1, seed: 1 });
  assert.deepEqual(anchors.shape, [3, 6, 4]);
  const again = await computeSourceAnchors(model, source, { anchors: 3, minPixels: 1, seed: 1 });
  assert.equal(
    torch.tidy(() => anchors.sub(again).abs().max().item()),
    0,
    'deterministic',
  );
  torch.dispose([anchors, again]);
  const strategy = createStrategy(parseStrategyConfig({ strategy: 'mada', anchors: 3 }));
  const records = await scorePool(model, pool(4), strategy, { units: { kind: 'image' }, source });
  assert.equal(records.length, 4);
  assert.ok(records.every((r) => r.score! >= 0));
  assert.equal(strategy.select(records, { budget: { units: 2 }, random: () => 0.5, ranking: 'global' }).length, 2);
  model.dispose();
});
