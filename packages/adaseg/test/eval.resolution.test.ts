// `adaseg eval` evaluates as the model was trained: at the working resolution recorded with the
// checkpoint's run (a model trained and evaluated at half size gives the run's own mIoU on the
// full-size images), says so, and takes --resolution WxH|native otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { cli } from './helpers/cli.js';

torch.setNumThreads(1);

// Trained and evaluated at 16x12 on 48x36 scenes (as `adaseg run` does with data.resolution).
const CONFIG = `
name: half-size
output: run
seed: 2
model: { kind: unet, baseWidth: 4, depth: 2 }
data:
  train: { format: synthetic, style: source, count: 6, width: 48, height: 36, seed: 0 }
  val: [ { name: target, dataset: { format: synthetic, style: target, count: 4, width: 48, height: 36, seed: 9 } } ]
  batchSize: 2
  workers: 0
  transforms: [ { kind: resize, width: 16, height: 12 } ]
  evalTransforms: [ { kind: resize, width: 16, height: 12 } ]
train: { iterations: 3, optimizer: { kind: adam, lr: 0.01 }, evalEvery: 3, checkpointEvery: 3 }
`;

test('eval uses the recorded working resolution by default and says so; --resolution overrides it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-eval-res-'));
  try {
    writeFileSync(join(dir, 'train.yaml'), CONFIG);
    const trained = await cli(['train', '--config', join(dir, 'train.yaml'), '--no-progress']);
    assert.equal(trained.code, 0, trained.err);
    const metrics = JSON.parse(readFileSync(join(dir, 'run', 'metrics.json'), 'utf8')) as { evaluations: { target: { mIoU: number } } };
    const dataset = ['synthetic', '--style', 'target', '--count', '4', '--size', '48x36', '--seed', '9'];

    const recorded = await cli(['eval', '--checkpoint', join(dir, 'run'), ...dataset, '--json']);
    assert.equal(recorded.code, 0, recorded.err);
    assert.match(recorded.err, /eval: at 16x12 \(the run's working resolution, recorded with the checkpoint\)/);
    const mIoU = (JSON.parse(recorded.out) as { mIoU: number }).mIoU;
    assert.ok(Math.abs(mIoU - metrics.evaluations.target.mIoU) < 1e-9, `the run's own mIoU (${mIoU} against ${metrics.evaluations.target.mIoU})`);

    const native = await cli(['eval', '--checkpoint', join(dir, 'run'), ...dataset, '--json', '--resolution', 'native']);
    assert.equal(native.code, 0, native.err);
    assert.match(native.err, /eval: at the images' own size \(--resolution\)/);

    const bad = await cli(['eval', '--checkpoint', join(dir, 'run'), ...dataset, '--resolution', '16']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--resolution must be WxH \(e\.g\. 120x90\) or native, got '16'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
