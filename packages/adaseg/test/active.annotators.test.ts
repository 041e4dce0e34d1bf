// Annotators: the simulated one reveals exactly the selected units (the store's mask equals the
// ground truth masked by the selected units' pixels, and nothing reaches training beyond it); the
// human one writes queries, waits for answers (through the store, as the annotation studio will)
// and resumes across restarts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { HumanAnnotator, poolGroundTruth, queriesFor, SimulatedAnnotator } from '../src/experiment/annotators.js';
import { labelledTargetSet, toNativeMask } from '../src/experiment/round-training.js';
import { LabelStore, type UnitPixels } from '../src/labels/store.js';
import type { UnitConfig } from '../src/active/types.js';
import { poolImageRgb, unitLayout } from '../src/active/units.js';
import { withoutLabel, withSamples } from '../src/data/dataset.js';
import { loadDataset } from '../src/data/formats/index.js';
import { DataLoader } from '../src/data/loader.js';
import { Rng } from '../src/data/rng.js';
import type { Transform } from '../src/data/transforms.js';

torch.setNumThreads(1);

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'adaseg-annotators-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

// Native 40x30 scenes, worked on at 20x15 (a resize first, as the loop does).
const NATIVE = { width: 40, height: 30 };
const WORK = { width: 20, height: 15 };
const RESIZE: Transform[] = [{ kind: 'resize', width: WORK.width, height: WORK.height }];

async function pool() {
  return loadDataset({ format: 'synthetic', style: 'target', count: 4, width: NATIVE.width, height: NATIVE.height, seed: 3 });
}

function openRun(name: string, units: UnitConfig, images: { id: string }[]): LabelStore {
  const store = LabelStore.open(join(dir, `${name}.sqlite`));
  store.ensureRun('s/seed-0', {
    strategy: 's',
    seed: 0,
    units,
    classNames: ['sky', 'road', 'building', 'vehicle', 'person', 'vegetation'],
    images: images.map((s, i) => ({ id: s.id, index: i, ...WORK })),
  });
  return store;
}

/** Random distinct units of each image, with their pixels. */
async function pick(units: UnitConfig, ds: Awaited<ReturnType<typeof pool>>, perImage: number, seed: number): Promise<UnitPixels[]> {
  const rng = new Rng(seed);
  const out: UnitPixels[] = [];
  for (let i = 0; i < ds.samples.length; i++) {
    const layout = unitLayout(units, WORK, await poolImageRgb(ds, i, RESIZE));
    const chosen = rng.shuffle(Array.from({ length: layout.count }, (_, k) => k)).slice(0, perImage);
    for (const u of chosen) out.push({ image: i, imageId: ds.samples[i].id, unit: u, pixels: layout.pixels(u).length, pixelIndices: layout.pixels(u) });
  }
  return out;
}

for (const units of [{ kind: 'region', k: 1 }, { kind: 'superpixel', size: 20 }, { kind: 'pixel' }, { kind: 'image' }] as UnitConfig[]) {
  test(`simulated annotator (${units.kind} units): the store's mask is the ground truth on exactly the selected pixels`, async () => {
    const ds = await pool();
    const store = openRun(`sim-${units.kind}`, units, ds.samples);
    const gt = poolGroundTruth(ds, RESIZE);
    const selection = (await pick(units, ds, units.kind === 'image' ? 1 : 7, 11)).filter((u) => units.kind !== 'image' || u.image % 2 === 0);
    store.saveSelection('s/seed-0', 1, selection, { scoredWith: '/m.safetensors' });
    const result = await new SimulatedAnnotator(gt).annotate(store, {
      run: 's/seed-0',
      round: 1,
      strategy: 's',
      checkpoint: '/m.safetensors',
      units,
      selection: store.selection('s/seed-0', 1),
    });
    assert.equal(result.stopped, false);
    assert.equal(result.units, selection.length);
    assert.equal(store.round('s/seed-0', 1)!.phase, 'annotated');
    let revealed = 0;
    for (let i = 0; i < ds.samples.length; i++) {
      const truth = await gt(i, ds.samples[i].id);
      const selected = new Uint8Array(WORK.width * WORK.height);
      for (const u of selection.filter((x) => x.image === i)) for (const p of u.pixelIndices) selected[p] = 1;
      const expected = truth.map((v, p) => (selected[p] ? v : 255));
      const mask = store.mask('s/seed-0', ds.samples[i].id).data;
      assert.deepEqual(Array.from(mask), Array.from(expected), `image ${i}: no pixel beyond the selected units`);
      revealed += selected.reduce((a, b) => a + b, 0);
    }
    assert.equal(store.run('s/seed-0').coveredPixels, revealed);
    // Annotating the same round again (a restarted loop) changes nothing.
    await new SimulatedAnnotator(async () => new Uint8Array(WORK.width * WORK.height).fill(0)).annotate(store, {
      run: 's/seed-0',
      round: 1,
      strategy: 's',
      checkpoint: null,
      units,
      selection: store.selection('s/seed-0', 1),
    });
    assert.equal(store.labelledUnits('s/seed-0').filter((u) => u.annotator === 'simulated').length, selection.length);
    store.close();
  });
}

test('the labelled target the round trains on is exactly the store mask at the working resolution (native-size masks round-trip through the resize)', async () => {
  const ds = await pool();
  const units: UnitConfig = { kind: 'region', k: 0 };
  const store = openRun('native', units, ds.samples);
  const selection = await pick(units, ds, 40, 5);
  store.saveSelection('s/seed-0', 1, selection, { scoredWith: null });
  await new SimulatedAnnotator(poolGroundTruth(ds, RESIZE)).annotate(store, {
    run: 's/seed-0',
    round: 1,
    strategy: 's',
    checkpoint: null,
    units,
    selection: store.selection('s/seed-0', 1),
  });
  const unlabelled = withSamples(ds, ds.samples.map(withoutLabel));
  const labelled = labelledTargetSet(
    unlabelled,
    store.labelledMasks('s/seed-0'),
    ds.samples.map(() => NATIVE),
  );
  const loader = new DataLoader(labelled, { batchSize: 1, workers: 0, transforms: RESIZE });
  try {
    for await (const batch of loader.epoch(0)) {
      const got = Array.from(batch.labels.toTypedArray() as BigInt64Array, Number);
      assert.deepEqual(got, Array.from(store.mask('s/seed-0', batch.ids[0]).data));
      batch.dispose();
    }
  } finally {
    await loader.close();
  }
  // Odd ratios too: every working pixel lands on the native pixel that nearest resize samples.
  for (const [w, h, W, H] of [
    [23, 17, 50, 37],
    [120, 90, 240, 180],
    [7, 5, 9, 8],
  ]) {
    const data = Uint8Array.from({ length: w * h }, (_, i) => i % 7);
    const native = toNativeMask({ width: w, height: h, data }, { width: W, height: H });
    const { resizeLabel } = await import('../src/data/transforms.js');
    assert.deepEqual(Array.from(resizeLabel(native, w, h).data), Array.from(data), `${w}x${h} from ${W}x${H}`);
    assert.equal(native.data.filter((v) => v !== 255).length, data.filter((v) => v !== 255).length, 'no pixel is duplicated');
  }
  store.close();
});

test('human annotator: writes queries, waits for answers, resumes after a restart, closes the round at minFraction', async () => {
  const ds = await pool();
  const units: UnitConfig = { kind: 'region', k: 1 };
  const file = join(dir, 'human.sqlite');
  let store = openRun('human', units, ds.samples);
  const selection = await pick(units, ds, 3, 2);
  store.saveSelection('s/seed-0', 1, selection, { scoredWith: '/m.safetensors' });
  assert.equal(queriesFor(selection, 'region-class', 2).length, 8, 'per image, chunks of 2 units');
  const annotator = new HumanAnnotator({ minFraction: 0.75, pollSeconds: 0.01, queryKind: 'auto', unitsPerQuery: 2 });
  const request = () => ({ run: 's/seed-0', round: 1, strategy: 's', checkpoint: '/m.safetensors', units, selection: store.selection('s/seed-0', 1) });

  // First process: two answers arrive, then it is stopped.
  const controller = new AbortController();
  const waiting = annotator.annotate(store, request(), { signal: controller.signal });
  const studio = LabelStore.open(file); // the annotation studio: another connection to the same file
  const answerNext = (who: string) => {
    const q = studio.lease(who, { seconds: 30, run: 's/seed-0', round: 1 })!;
    studio.answer(q.id, who, { classes: q.units.map((_, i) => i % 6) }, 4);
    return q;
  };
  await new Promise((r) => setTimeout(r, 30));
  const ids = studio.queries({ run: 's/seed-0', round: 1 }).map((q) => q.id);
  assert.equal(ids.length, 8);
  answerNext('ann');
  answerNext('bob');
  controller.abort();
  const first = await waiting;
  assert.equal(first.stopped, true);
  assert.equal(store.round('s/seed-0', 1)!.phase, 'querying');
  store.close();

  // Restart: the same queries (not new ones); it waits until 6 of 8 are answered.
  store = LabelStore.open(file);
  const second = annotator.annotate(store, request());
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(
    studio.queries({ run: 's/seed-0', round: 1 }).map((q) => q.id),
    ids,
  );
  for (let i = 0; i < 4; i++) answerNext(i % 2 ? 'ann' : 'cid');
  const result = await second;
  assert.equal(result.stopped, false);
  assert.deepEqual(result.queries, { total: 8, answered: 6, open: 0, leased: 0, cancelled: 2 });
  assert.equal(store.round('s/seed-0', 1)!.phase, 'annotated');
  const provenance = store.labelledUnits('s/seed-0');
  const answeredUnits = studio.queries({ run: 's/seed-0', round: 1, status: 'answered' }).reduce((n, q) => n + q.units.length, 0);
  assert.equal(provenance.length, answeredUnits);
  assert.ok(provenance.every((p) => p.queryId !== null && ['ann', 'bob', 'cid'].includes(p.annotator) && p.checkpoint === '/m.safetensors'));
  assert.throws(() => studio.answer(studio.queries({ run: 's/seed-0', round: 1, status: 'cancelled' })[0].id, 'ann', { classes: [0] }), /cancelled/);
  studio.close();
  store.close();
});
