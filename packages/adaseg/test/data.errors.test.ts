// Bad data gives clear errors naming the file, from the main thread and from worker threads alike;
// inspect collects every problem instead of stopping at the first.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DataError, DataLoader, inspectDataset, loadDataset, parseDatasetConfig, syntheticDataset, withSamples } from '../src/data/index.js';
import { makeTinyFolder, noiseImage, writeGray, writeRgb } from './helpers/data-fixtures.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'adaseg-bad-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Asserts a DataError with this code whose message (and .file) names `file`. */
async function rejectsNaming(p: Promise<unknown>, code: string, file: string): Promise<DataError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.includes(file), `message should name ${file}: ${err.message}`);
    assert.equal(err.file, file);
    return err;
  }
  assert.fail(`expected a ${code} error`);
}

async function firstBatch(root: string, workers: number, extra: Record<string, unknown> = {}): Promise<void> {
  const ds = await loadDataset({ format: 'folder', root, ...extra });
  const loader = new DataLoader(ds, { batchSize: 1, workers });
  try {
    for await (const b of loader.epoch()) b.dispose();
  } finally {
    await loader.close();
  }
}

describe('bad data', () => {
  test('missing label for an image names the image and the expected label', async () => {
    const root = await makeTinyFolder(dir, 'missing');
    await writeRgb(join(root, 'images', 'b.png'), noiseImage(3));
    const err = await rejectsNaming(loadDataset({ format: 'folder', root }), 'missing-label', join(root, 'images', 'b.png'));
    assert.ok(err.message.includes(join(root, 'labels', 'b.png')));
    // Unless labels are optional: then b is an unlabelled sample.
    const ds = await loadDataset({ format: 'folder', root, labels: 'optional' });
    assert.deepEqual(
      ds.samples.map((s) => s.label.kind),
      ['file', 'none'],
    );
  });

  test('size mismatch between image and label (main thread and worker)', async () => {
    const root = await makeTinyFolder(dir, 'mismatch', { labelSize: [8, 6] });
    const label = join(root, 'labels', 'a.png');
    const e1 = await rejectsNaming(firstBatch(root, 0), 'size-mismatch', label);
    assert.match(e1.message, /8x6.*16x12/);
    await rejectsNaming(firstBatch(root, 1), 'size-mismatch', label);
  });

  test('corrupt or unreadable PNGs', async () => {
    const root = await makeTinyFolder(dir, 'corrupt');
    const image = join(root, 'images', 'a.png');
    const bytes = await readFile(image);
    await writeFile(image, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await rejectsNaming(firstBatch(root, 0), 'unreadable', image);

    const root2 = await makeTinyFolder(dir, 'corrupt-label');
    const label = join(root2, 'labels', 'a.png');
    const lb = await readFile(label);
    await writeFile(label, lb.subarray(0, lb.length - 20)); // cut into the data and IEND
    await rejectsNaming(firstBatch(root2, 0), 'unreadable', label);
    await writeFile(label, 'not a png at all');
    await rejectsNaming(firstBatch(root2, 0), 'unreadable', label);
  });

  test('undeclared label values: an error by default, reported and ignored under warn', async () => {
    const root = await makeTinyFolder(dir, 'undeclared', { labelValues: [0, 1, 2, 3, 7, 42] });
    const label = join(root, 'labels', 'a.png');
    const err = await rejectsNaming(firstBatch(root, 0), 'undeclared-values', label);
    assert.deepEqual(err.values, [7, 42]);
    assert.match(err.message, /7, 42/);
    // From a worker thread too.
    const werr = await rejectsNaming(firstBatch(root, 1), 'undeclared-values', label);
    assert.deepEqual(werr.values, [7, 42]);

    const ds = await loadDataset({ format: 'folder', root, onUndeclared: 'warn' });
    const seen: string[] = [];
    const loader = new DataLoader(ds, { batchSize: 1, workers: 0, onProblem: (p) => seen.push(p.file!) });
    for await (const b of loader.epoch()) {
      const labels = Array.from(b.labels.toTypedArray() as BigInt64Array, Number);
      assert.ok(
        labels.every((v) => v <= 2 || v === 255),
        'undeclared values become ignore',
      );
      assert.ok(labels.includes(255));
      b.dispose();
    }
    for await (const b of loader.epoch()) b.dispose();
    assert.deepEqual(seen, [label], 'reported once per file');
    assert.deepEqual(loader.problems[0].values, [7, 42]);
    await loader.close();
  });

  test('empty split', async () => {
    const root = await makeTinyFolder(dir, 'empty');
    await writeFile(join(root, 'nothing.txt'), '\n# no images\n');
    await rejectsNaming(loadDataset({ format: 'folder', root, split: 'nothing' }), 'empty-split', join(root, 'nothing.txt'));
    const camvid = join(dir, 'camvid-empty');
    await mkdir(join(camvid, 'train'), { recursive: true });
    await mkdir(join(camvid, 'trainannot'), { recursive: true });
    await rejectsNaming(loadDataset({ format: 'camvid', root: camvid, split: 'train' }), 'empty-split', join(camvid, 'train'));
  });

  test('missing folders, split lists and entries are not-found errors', async () => {
    const root = await makeTinyFolder(dir, 'lists');
    await rejectsNaming(loadDataset({ format: 'folder', root, split: 'nope' }), 'not-found', join(root, 'nope.txt'));
    await writeFile(join(root, 'bad.txt'), 'a.png\nzzz.png\n');
    await rejectsNaming(loadDataset({ format: 'folder', root, split: 'bad' }), 'not-found', join(root, 'bad.txt'));
    await rejectsNaming(loadDataset({ format: 'cityscapes', root, split: 'val' }), 'not-found', join(root, 'leftImg8bit', 'val'));
    await rejectsNaming(loadDataset({ format: 'gta5', root: join(dir, 'absent') }), 'not-found', join(dir, 'absent'));
  });

  test('bad meta.json', async () => {
    const root = await makeTinyFolder(dir, 'badmeta');
    const meta = join(root, 'meta.json');
    await writeFile(meta, '{ not json');
    await rejectsNaming(loadDataset({ format: 'folder', root }), 'bad-config', meta);
    await writeFile(meta, JSON.stringify({ classes: ['a', 'b'], palette: [[1, 2, 3]] }));
    const err = await rejectsNaming(loadDataset({ format: 'folder', root }), 'bad-config', meta);
    assert.match(err.message, /palette/);
  });

  test('configs are checked when loaded', () => {
    const bad = (v: unknown, pattern: RegExp) =>
      assert.throws(
        () => parseDatasetConfig(v),
        (e: unknown) => e instanceof DataError && e.code === 'bad-config' && pattern.test(e.message),
      );
    bad({ format: 'pascal', root: '/x' }, /'format' must be one of/);
    bad({ format: 'camvid', split: 'train' }, /'root'/);
    bad({ format: 'camvid', root: '/x', split: 'training' }, /'split' must be one of "train", "val", "test"/);
    bad({ format: 'cityscapes', root: '/x', split: 'val', classes: 17 }, /'classes'/);
    bad({ format: 'gta5', root: '/x', colour: true }, /unknown key 'colour'/);
    bad({ format: 'synthetic', style: 'source', count: 0, width: 8, height: 8 }, /'count'/);
    bad('cityscapes', /expected an object/);
    assert.deepEqual(parseDatasetConfig({ format: 'synthia', root: '/x' }), {
      format: 'synthia',
      root: '/x',
      classes: 16,
      labels: 'required',
      onUndeclared: 'error',
    });
  });

  test('a bad sample among good ones fails its batch; the loader stays usable and closes', async () => {
    const root = await makeTinyFolder(dir, 'mixed');
    await writeRgb(join(root, 'images', 'b.png'), noiseImage(5));
    await writeGray(join(root, 'labels', 'b.png'), new Array(16 * 12).fill(9));
    const ds = await loadDataset({ format: 'folder', root });
    const loader = new DataLoader(ds, { batchSize: 1, workers: 0 });
    const ids: string[] = [];
    await assert.rejects(
      async () => {
        for await (const b of loader.epoch()) {
          ids.push(b.ids[0]);
          b.dispose();
        }
      },
      (e: unknown) => e instanceof DataError && e.code === 'undeclared-values' && e.file === join(root, 'labels', 'b.png'),
    );
    assert.deepEqual(ids, ['a']);
    await loader.close();
    await assert.rejects(async () => {
      for await (const b of loader.epoch()) b.dispose();
    }, /closed/);
  });

  test('inspect reports every problem with its file instead of throwing', async () => {
    const root = await makeTinyFolder(dir, 'inspect', { labelValues: [0, 1, 9] });
    await writeRgb(join(root, 'images', 'b.png'), noiseImage(5));
    await writeGray(join(root, 'labels', 'b.png'), new Array(8 * 6).fill(0), 8, 6);
    await writeRgb(join(root, 'images', 'c.png'), noiseImage(6));
    await writeFile(join(root, 'labels', 'c.png'), 'garbage');
    const report = await inspectDataset(await loadDataset({ format: 'folder', root }));
    assert.deepEqual(
      report.problems.map((p) => [p.code, p.file]),
      [
        ['undeclared-values', join(root, 'labels', 'a.png')],
        ['size-mismatch', join(root, 'labels', 'b.png')],
        ['unreadable', join(root, 'labels', 'c.png')],
      ],
    );
    const nine = report.labelValues.find((v) => v.value === 9);
    assert.equal(nine?.declared, false);
    assert.equal(nine?.mapsTo, 'ignore');
  });

  test('unexpected failures inside a worker reach the consumer naming the sample', async () => {
    const bad = {
      id: 'broken',
      image: { kind: 'synthetic' as const, scene: { seed: 1, width: 0, height: 4, style: 'source' as const } },
      label: { kind: 'synthetic' as const },
    };
    const ds = withSamples(syntheticDataset({ style: 'source', count: 1, width: 8, height: 4 }), [bad]);
    const loader = new DataLoader(ds, { batchSize: 1, workers: 1 });
    await assert.rejects(
      async () => {
        for await (const b of loader.epoch()) b.dispose();
      },
      (e: unknown) =>
        e instanceof DataError && e.code === 'worker' && /sample 'broken'.*synthetic source scene seed 1 \(0x4\).*size must be positive/s.test(e.message),
    );
    await loader.close();
  });
});
