// Bad images are found before training, not hours in: a truncated image among many stops
// `adaseg train` before iteration 1, with every problem listed; --skip-preflight trains anyway
// (and then meets the image when it loads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { cli } from './helpers/cli.js';
import { makeTinyFolder, noiseImage, rawLabel, writeGray, writeRgb } from './helpers/data-fixtures.js';

torch.setNumThreads(1);

test('a truncated image among many: reported before iteration 1, with the others; --skip-preflight trains into it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-preflight-'));
  try {
    const root = await makeTinyFolder(dir, 'data');
    for (let i = 0; i < 40; i++) {
      await writeRgb(join(root, 'images', `s${i}.png`), noiseImage(100 + i));
      await writeGray(join(root, 'labels', `s${i}.png`), rawLabel([0, 1, 2], 200 + i));
    }
    const whole = readFileSync(join(root, 'images', 's31.png'));
    writeFileSync(join(root, 'images', 's31.png'), whole.subarray(0, Math.floor(whole.length / 2)));
    writeFileSync(
      join(dir, 'train.yaml'),
      `output: run\ndata: { train: { format: folder, root: ${root} }, batchSize: 2, workers: 0, transforms: [] }\n` +
        'model: { kind: unet, baseWidth: 4, depth: 2 }\ntrain: { iterations: 30, optimizer: { kind: sgd, lr: 0.01 }, checkpointEvery: 5, logEvery: 1 }\n',
    );

    const refused = await cli(['train', '--config', join(dir, 'train.yaml'), '--no-progress']);
    assert.equal(refused.code, 1, refused.err);
    assert.match(
      refused.err,
      /^adaseg train: error: pre-flight: 1 problem\(s\) in the data, found before training by reading 41 images in [\d.]+ s .*\n\s+data\.train: .*s31\.png/,
    );
    assert.ok(!existsSync(join(dir, 'run', 'checkpoints')), 'nothing trained');

    const skipped = await cli(['train', '--config', join(dir, 'train.yaml'), '--skip-preflight', '--no-progress']);
    assert.equal(skipped.code, 1, 'the image still fails when it loads');
    assert.doesNotMatch(skipped.err, /pre-flight/);
    assert.match(skipped.err, /s31\.png/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
