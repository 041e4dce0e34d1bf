import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { cli } from './helpers/cli.js';

const CONFIG = `
name: cli-test
output: run
seed: 1
model: { kind: unet, baseWidth: 4, depth: 2 }
data:
  train: { format: synthetic, style: source, count: 6, width: 32, height: 24, seed: 0 }
  val: [ { name: target, dataset: { format: synthetic, style: target, count: 4, width: 32, height: 24, seed: 9 } } ]
  batchSize: 2
  workers: 0
train: { iterations: 3, optimizer: { kind: adam, lr: 0.01 }, evalEvery: 3, checkpointEvery: 3 }
`;

test('adaseg train → eval → weights inspect, with --json and predictions written', async () => {
  torch.setNumThreads(1);
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-cli-'));
  try {
    writeFileSync(join(dir, 'train.yaml'), CONFIG);
    const trained = await cli(['train', '--config', join(dir, 'train.yaml'), '--json']);
    assert.equal(trained.code, 0, trained.err);
    const result = JSON.parse(trained.out) as { iteration: number; evaluations: { target: { mIoU: number } } };
    assert.equal(result.iteration, 3);
    assert.ok(result.evaluations.target.mIoU >= 0);
    const runDir = join(dir, 'run');
    const preds = join(dir, 'preds');
    const evaluated = await cli([
      'eval',
      '--checkpoint',
      runDir,
      'synthetic',
      '--style',
      'target',
      '--count',
      '4',
      '--size',
      '32x24',
      '--seed',
      '9',
      '--predictions',
      preds,
      '--json',
    ]);
    assert.equal(evaluated.code, 0, evaluated.err);
    const metrics = JSON.parse(evaluated.out) as { mIoU: number; images: number };
    assert.equal(metrics.images, 4);
    assert.ok(Math.abs(metrics.mIoU - result.evaluations.target.mIoU) < 1e-9, 'adaseg eval gives the training-time evaluation');
    assert.equal(readdirSync(preds).filter((f) => f.endsWith('.png')).length, 4);
    const ckpt = join(runDir, 'checkpoints', 'ckpt-0000003.safetensors');
    const listed = await cli(['weights', 'inspect', ckpt]);
    assert.equal(listed.code, 0);
    assert.match(listed.out, /model\.classifier\.weight  float32  \[6, 4, 1, 1\]/);
    // --weights: start a new run from these weights (model tensors only are read).
    const again = await cli([
      'train',
      '--config',
      join(dir, 'train.yaml'),
      '--output',
      join(dir, 'run2'),
      '--weights',
      ckpt,
      '--iterations',
      '1',
      '--no-progress',
    ]);
    assert.equal(again.code, 0, again.err);
    assert.match(again.err, /loaded/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('usage and config errors: exit 2 and 1, the field named, no stack', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-cli-'));
  try {
    assert.equal((await cli(['train'])).code, 2);
    assert.equal((await cli(['train', '--config'])).code, 2);
    writeFileSync(
      join(dir, 'bad.yaml'),
      'data: { train: { format: synthetic, style: source, count: 2, width: 8, height: 8 } }\ntrain: { optimizer: { kind: sgd, lr: 0 } }\n',
    );
    const bad = await cli(['train', '--config', join(dir, 'bad.yaml')]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /config\.train\.optimizer\.lr must be > 0/);
    assert.doesNotMatch(bad.err, /\n\s+at /);
    const missing = await cli(['train', '--config', join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /cannot read config .*nope\.yaml: file not found/);
    const noCkpt = await cli(['eval', '--checkpoint', join(dir, 'nothing'), 'synthetic']);
    assert.equal(noCkpt.code, 1);
    assert.match(noCkpt.err, /does not exist/);
    for (const args of [
      ['train', '--help'],
      ['eval', '--help'],
      ['weights', '--help'],
      ['weights', 'convert', '--help'],
    ])
      assert.equal((await cli(args)).code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const hasTorch = existsSync('/usr/bin/python3') && spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

test(
  'adaseg weights convert turns a PyTorch .pth into safetensors with PyTorch names',
  { skip: hasTorch ? false : 'needs /usr/bin/python3 with torch' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adaseg-cli-'));
    try {
      const pth = join(dir, 'model.pth');
      const r = spawnSync(
        '/usr/bin/python3',
        [
          '-c',
          `import torch; m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)); torch.save({'state_dict': m.state_dict()}, ${JSON.stringify(pth)})`,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      const out = join(dir, 'model.safetensors');
      const converted = await cli(['weights', 'convert', pth, out]);
      assert.equal(converted.code, 0, converted.err);
      const header = torch.readSafetensorsHeaderSync(out);
      assert.deepEqual(Object.keys(header.tensors).sort(), [
        '0.bias',
        '0.weight',
        '1.bias',
        '1.num_batches_tracked',
        '1.running_mean',
        '1.running_var',
        '1.weight',
      ]);
      assert.deepEqual(header.tensors['0.weight'].shape, [4, 3, 3, 3]);
      assert.ok(!readdirSync(dir).some((f) => f.includes('.tmp')));
      const failed = await cli(['weights', 'convert', join(dir, 'model.safetensors'), join(dir, 'x.safetensors')]);
      assert.equal(failed.code, 1);
      assert.match(failed.err, /conversion with .* failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
