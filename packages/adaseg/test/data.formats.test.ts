// Every format read from a fixture in its real layout and label encoding: train ids must equal the
// masks computed from hand-written reference tables; images must come back as written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import {
  CAMVID_CLASSES,
  cityscapesClasses,
  DataError,
  type DatasetDescription,
  detectDatasetFormat,
  detectFormat,
  IMAGENET_NORMALIZE,
  loadDataset,
  Pipeline,
  SYNTHIA_13,
  SYNTHIA_16,
} from '../src/data/index.js';
import { type FixtureSample, type Fixtures, H, makeFixtures, makeUndescribedFolder, W } from './helpers/data-fixtures.js';

let fx: Fixtures;
before(async () => {
  fx = await makeFixtures();
});
after(async () => {
  await fx.cleanup();
});

function pipeline(ds: DatasetDescription): Pipeline {
  return new Pipeline({
    numClasses: ds.classes.names.length,
    mapping: ds.mapping,
    encoding: ds.encoding,
    onUndeclared: ds.onUndeclared,
    transforms: [],
    normalize: IMAGENET_NORMALIZE,
  });
}

/** Decodes every sample and compares image bytes and train ids with the fixture. */
async function checkAll(ds: DatasetDescription, expected: FixtureSample[], masks?: Map<string, Uint8Array>): Promise<void> {
  assert.deepEqual(
    ds.samples.map((s) => s.id),
    expected.map((e) => e.id),
  );
  const p = pipeline(ds);
  for (const [i, s] of ds.samples.entries()) {
    const d = await p.decode(s);
    assert.equal(d.image.width, W);
    assert.equal(d.image.height, H);
    assert.deepEqual(d.image.data, expected[i].image, `image of ${s.id}`);
    assert.ok(d.label !== null);
    assert.deepEqual(d.label.data, masks?.get(s.id) ?? expected[i].expected, `train ids of ${s.id}`);
  }
}

describe('formats', () => {
  test('generic folder: meta.json, split lists, void and 255 become ignore', async () => {
    const ds = await loadDataset({ format: 'folder', root: fx.folder.root, split: 'source_train' });
    assert.equal(ds.name, 'fixture-folder');
    assert.equal(ds.classes.names.length, 11);
    assert.deepEqual(ds.classes.palette[1], [20, 235, 100]);
    await checkAll(ds, fx.folder.train);
    const val = await loadDataset({ format: 'folder', root: fx.folder.root, split: 'target_val' });
    await checkAll(val, fx.folder.val);
    const all = await loadDataset({ format: 'folder', root: fx.folder.root });
    assert.equal(all.samples.length, 3);
  });

  test('CamVid (SegNet layout): 11 classes, 11 = void', async () => {
    const ds = await loadDataset({ format: 'camvid', root: fx.camvid.root, split: 'train' });
    assert.deepEqual(ds.classes, CAMVID_CLASSES);
    await checkAll(ds, fx.camvid.train);
    await checkAll(await loadDataset({ format: 'camvid', root: fx.camvid.root, split: 'val' }), fx.camvid.val);
  });

  test('Cityscapes: label ids → the 19 train ids, and the 16-class protocol', async () => {
    const ds = await loadDataset({ format: 'cityscapes', root: fx.cityscapes.root, split: 'train' });
    assert.equal(ds.classes.names.length, 19);
    await checkAll(ds, fx.cityscapes.train);
    const ds16 = await loadDataset({ format: 'cityscapes', root: fx.cityscapes.root, split: 'train', classes: 16 });
    assert.deepEqual(ds16.classes.names, SYNTHIA_16);
    await checkAll(ds16, fx.cityscapes.train, fx.cityscapes.expected16);
  });

  test('GTA5: palette PNG indices (not colours) → the same 19 train ids; split lists', async () => {
    const meta = await sharp(fx.gta5.all[0] && `${fx.gta5.root}/labels/00001.png`).metadata();
    assert.equal(meta.isPalette, true, 'the fixture label is a real palette PNG');
    const ds = await loadDataset({ format: 'gta5', root: fx.gta5.root });
    assert.deepEqual(ds.classes, cityscapesClasses(19));
    await checkAll(ds, fx.gta5.all);
    const train = await loadDataset({ format: 'gta5', root: fx.gta5.root, split: 'train' });
    assert.deepEqual(
      train.samples.map((s) => s.id),
      ['00001', '00003'],
    );
    const ds16 = await loadDataset({ format: 'gta5', root: fx.gta5.root, classes: 16 });
    await checkAll(ds16, fx.gta5.all, fx.gta5.expected16);
  });

  test('SYNTHIA-RAND-CITYSCAPES: 16-bit labels, first channel; 16- and 13-class protocols', async () => {
    const meta = await sharp(`${fx.synthia.root}/GT/LABELS/0000000.png`).metadata();
    assert.equal(meta.depth, 'ushort', 'the fixture label is a real 16-bit PNG');
    const ds = await loadDataset({ format: 'synthia', root: fx.synthia.root });
    assert.deepEqual(ds.classes.names, SYNTHIA_16);
    await checkAll(ds, fx.synthia.all);
    const ds13 = await loadDataset({ format: 'synthia', root: fx.synthia.root, classes: 13 });
    assert.deepEqual(ds13.classes.names, SYNTHIA_13);
    await checkAll(ds13, fx.synthia.all, fx.synthia.expected13);
  });

  test('source and target with different raw ids share one class list', async () => {
    const source = await loadDataset({ format: 'synthia', root: fx.synthia.root, classes: 16 });
    const target = await loadDataset({ format: 'cityscapes', root: fx.cityscapes.root, split: 'train', classes: 16 });
    assert.deepEqual(source.classes, target.classes);
    // SYNTHIA's car is raw 8, Cityscapes' car is raw 26: both are train id 12 ('car').
    const car = source.classes.names.indexOf('car');
    assert.ok(source.mapping.toTrain.some(([raw, t]) => raw === 8 && t === car));
    assert.ok(target.mapping.toTrain.some(([raw, t]) => raw === 26 && t === car));
  });

  test('format detection from the layout', async () => {
    assert.equal(await detectFormat(fx.folder.root), 'folder');
    assert.equal(await detectFormat(fx.camvid.root), 'camvid');
    assert.equal(await detectFormat(fx.cityscapes.root), 'cityscapes');
    assert.equal(await detectFormat(fx.gta5.root), 'gta5');
    assert.equal(await detectFormat(fx.synthia.root), 'synthia');
    assert.equal(await detectFormat(fx.dir), null);
  });

  test('detection does not guess GTA5: palette labels are GTA5, gray ones without meta.json an error asking for it (issue 26)', async () => {
    // (a) images/ + labels/ with palette PNG labels: GTA5, saying by what.
    assert.deepEqual(await detectDatasetFormat(fx.gta5.root), { format: 'gta5', layout: 'images/ + labels/ with palette labels' });
    // (b) a CamVid-style folder (plain 8-bit labels 0..10 and 255, no meta.json): not taken for GTA5.
    const root = await makeUndescribedFolder(fx.dir, 'camvid-style');
    for (const detect of [detectFormat, detectDatasetFormat]) {
      await assert.rejects(detect(root), (e: unknown) => {
        assert.ok(e instanceof DataError, String(e));
        assert.equal(e.code, 'not-found');
        assert.equal(e.file, `${root}/meta.json`);
        assert.match(e.message, /cannot tell the format of .*camvid-style/);
        assert.match(e.message, /labels\/0001TP_006690\.png is not a palette PNG \(it is gray, 8-bit\)/);
        assert.match(e.message, /add .*meta\.json with "classes"/);
        assert.match(e.message, /Bring your own data/);
        return true;
      });
    }
  });

  test('labels: optional and none give unlabelled samples; limit keeps the first N', async () => {
    const none = await loadDataset({ format: 'camvid', root: fx.camvid.root, split: 'train', labels: 'none' });
    assert.ok(none.samples.every((s) => s.label.kind === 'none'));
    const limited = await loadDataset({ format: 'gta5', root: fx.gta5.root, limit: 2 });
    assert.deepEqual(
      limited.samples.map((s) => s.id),
      ['00001', '00002'],
    );
  });
});
