// A split list that names an image twice is refused (it would count twice in every epoch and
// metric), naming the list, the image and both entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from '../src/data/errors.js';
import { loadDataset } from '../src/data/formats/index.js';
import { makeTinyFolder, noiseImage, writeRgb } from './helpers/data-fixtures.js';

test('a split list naming an image twice (by stem and by name) is a clear error; each once loads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-split-lists-'));
  try {
    const root = await makeTinyFolder(dir, 'data');
    await writeRgb(join(root, 'images', 'b.png'), noiseImage(3));
    writeFileSync(join(root, 'twice.txt'), 'a\nb.png\na.png\n');
    await assert.rejects(loadDataset({ format: 'folder', root, split: 'twice' }), (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.equal(e.code, 'bad-config');
      assert.match(e.message, /split list .*twice\.txt names image a\.png twice \(entries 1 and 3\)/);
      return true;
    });
    writeFileSync(join(root, 'once.txt'), 'a\n');
    const ds = await loadDataset({ format: 'folder', root, split: 'once' });
    assert.equal(ds.samples.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
