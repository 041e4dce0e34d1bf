// Initial weights that must fit: `--weights` matching no tensor of the model is a usage error
// (exit 2) naming the nearest names, not a silent start from scratch; an adaseg checkpoint's
// `model.` names are recognised and stripped; under half of the tensors needs --allow-partial.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { cli } from './helpers/cli.js';
import { buildModel } from '../src/models/config.js';

torch.setNumThreads(1);

const MODEL = { kind: 'unet', baseWidth: 4, depth: 2 } as const;
const CONFIG = `
name: weights-fit
output: run
model: { kind: unet, baseWidth: 4, depth: 2 }
data:
  train: { format: synthetic, style: source, count: 4, width: 32, height: 24, seed: 0 }
  batchSize: 2
  workers: 0
train: { iterations: 1, optimizer: { kind: sgd, lr: 0.01 }, checkpointEvery: 1 }
`;

/** The model's state dict saved with its names changed by `rename` (null: left out). */
function save(file: string, rename: (name: string, index: number) => string | null): void {
  const model = buildModel(MODEL, 6);
  torch.tidy(() => {
    const out: Record<string, torch.Tensor> = {};
    Object.entries(model.stateDict()).forEach(([k, t], i) => {
      const name = rename(k, i);
      if (name !== null) out[name] = t.contiguous();
    });
    torch.saveSafetensorsSync(file, out);
  });
  model.dispose();
}

test('weights matching no tensor: exit 2, the nearest names, nothing trained', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-weights-fit-'));
  try {
    writeFileSync(join(dir, 'train.yaml'), CONFIG);
    save(join(dir, 'renamed.safetensors'), (k) => `net.${k.replace(/\./g, '_')}.x`);
    const r = await cli(['train', '--config', join(dir, 'train.yaml'), '--weights', join(dir, 'renamed.safetensors'), '--no-progress']);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /none of its \d+ tensors matches the model's \d+ names, so training would start from scratch; nearest names: '/);
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an adaseg checkpoint's model. names are stripped, with a line saying so", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-weights-fit-'));
  try {
    writeFileSync(join(dir, 'train.yaml'), CONFIG);
    save(join(dir, 'ckpt.safetensors'), (k) => `model.${k}`);
    const r = await cli(['train', '--config', join(dir, 'train.yaml'), '--weights', join(dir, 'ckpt.safetensors'), '--no-progress']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /is an adaseg checkpoint: its 'model\.' prefix was stripped/);
    assert.match(r.err, /loaded \d+ tensors .*\(exact match\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('under half of the tensors: refused unless --allow-partial', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-weights-fit-'));
  try {
    writeFileSync(join(dir, 'train.yaml'), CONFIG);
    save(join(dir, 'few.safetensors'), (k, i) => (i < 3 ? k : null));
    const refused = await cli(['train', '--config', join(dir, 'train.yaml'), '--weights', join(dir, 'few.safetensors'), '--no-progress']);
    assert.equal(refused.code, 2, refused.err);
    assert.match(refused.err, /only 3 of the model's \d+ tensors match; pass --allow-partial/);
    const allowed = await cli([
      'train',
      '--config',
      join(dir, 'train.yaml'),
      '--weights',
      join(dir, 'few.safetensors'),
      '--allow-partial',
      '--output',
      join(dir, 'run-partial'),
      '--no-progress',
    ]);
    assert.equal(allowed.code, 0, allowed.err);
    assert.match(allowed.err, /loaded 3 tensors/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
