// A NaN or infinite loss never trains silently: the Trainer stops naming the iteration and the loss
// term before the optimiser step (the checkpoints keep the last good weights), or with
// `train.nanPolicy: skip` drops that step and says so; weights files holding NaN are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { loadDataset } from '../src/data/formats/index.js';
import type { Batch } from '../src/data/loader.js';
import { AdasegError } from '../src/errors.js';
import type { SegmentationModel } from '../src/models/base.js';
import { buildModel } from '../src/models/config.js';
import { loadWeights } from '../src/models/weights.js';
import { loadModelWeights } from '../src/train/checkpoint.js';
import { parseTrainConfig } from '../src/train/config.js';
import { levelsOf, segmentationLoss } from '../src/train/losses.js';
import { type Objective, type StepContext, train } from '../src/train/trainer.js';

torch.setNumThreads(1);

/** Cross-entropy, multiplied by NaN from the `poisonAt`-th step on (1-based). */
class PoisonedObjective implements Objective<{ train: Batch }> {
  readonly modules = {};
  readonly optimizers = {};
  steps = 0;
  constructor(
    private readonly model: SegmentationModel,
    private readonly poisonAt: number,
  ) {}
  async prepare(): Promise<null> {
    return null;
  }
  step(batches: { train: Batch }, ctx: StepContext): Record<string, number> {
    this.steps++;
    return torch.tidy(() => {
      let loss = segmentationLoss(levelsOf(this.model.forward(batches.train.images)), batches.train.labels, 0);
      if (this.steps >= this.poisonAt) loss = loss.mul(Number.NaN);
      ctx.backward(loss);
      return { loss: loss.item() as number };
    });
  }
  dispose(): void {}
}

function setup(output: string, nanPolicy?: 'skip') {
  return parseTrainConfig({
    name: 'nan-test',
    output,
    model: { kind: 'unet', baseWidth: 4, depth: 2 },
    data: { train: { format: 'synthetic', style: 'source', count: 8, width: 32, height: 24, seed: 0 }, batchSize: 2, workers: 0, transforms: [] },
    train: { iterations: 5, optimizer: { kind: 'sgd', lr: 0.01 }, checkpointEvery: 1, logEvery: 1, ...(nanPolicy ? { nanPolicy } : {}) },
  });
}

async function run(output: string, poisonAt: number, nanPolicy?: 'skip') {
  const config = setup(output, nanPolicy);
  torch.manualSeed(0);
  const model = buildModel(config.model, 6);
  const dataset = await loadDataset(config.data.train);
  try {
    return await train({
      model,
      objective: new PoisonedObjective(model, poisonAt),
      train: config.train,
      streams: { train: { dataset, loader: { batchSize: 2, shuffle: true, seed: 0, workers: 0, transforms: [] } } },
      output,
      runConfig: config,
    });
  } finally {
    model.dispose();
  }
}

test('a NaN loss stops the run naming the iteration and the term; the checkpoints keep the last good weights', async () => {
  const root = mkdtempSync(join(tmpdir(), 'adaseg-nan-'));
  try {
    await assert.rejects(run(root, 3), (e: unknown) => {
      assert.ok(e instanceof AdasegError);
      assert.equal(e.code, 'non-finite');
      assert.match(e.message, /the loss term 'loss' is NaN at iteration 3/);
      return true;
    });
    const index = JSON.parse(readFileSync(join(root, 'checkpoints', 'checkpoints.json'), 'utf8')) as { latest: string };
    assert.match(index.latest, /0000002/, 'the last checkpoint is the last good iteration');
    torch.tidy(() => {
      for (const [k, t] of Object.entries(loadModelWeights(join(root, 'checkpoints', index.latest)))) {
        if (t.dtype === 'float32') assert.ok(t.isfinite().all().item(), `${k} is finite`);
      }
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("nanPolicy 'skip': the poisoned steps change no parameter and are logged; the run ends", async () => {
  const root = mkdtempSync(join(tmpdir(), 'adaseg-nan-skip-'));
  try {
    const result = await run(root, 4, 'skip');
    assert.equal(result.iteration, 5);
    const events = readFileSync(join(root, 'train.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event?: string; iteration?: number; skipped?: number });
    assert.deepEqual(
      events.filter((e) => e.event === 'non-finite-skipped').map((e) => [e.iteration, e.skipped]),
      [
        [4, 1],
        [5, 2],
      ],
    );
    torch.tidy(() => {
      const last = loadModelWeights(join(root, 'checkpoints', 'ckpt-0000005.safetensors'));
      const good = loadModelWeights(join(root, 'checkpoints', 'ckpt-0000004.safetensors'));
      for (const [k, t] of Object.entries(last)) {
        if (t.dtype !== 'float32') continue;
        assert.ok(t.isfinite().all().item(), `${k} is finite`);
        // Parameters stay; BatchNorm's running statistics follow the forward passes, as in PyTorch.
        if (!k.includes('running_')) assert.equal(t.sub(good[k]).abs().max().item(), 0, `${k} unchanged by a skipped step`);
      }
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('nanPolicy is error (left out) or skip; anything else names the field', () => {
  assert.equal(setup('/tmp/x').train.nanPolicy, undefined);
  assert.equal(setup('/tmp/x', 'skip').train.nanPolicy, 'skip');
  assert.throws(
    () => parseTrainConfig({ data: { train: { format: 'synthetic', style: 'source', count: 2, width: 32, height: 24 } }, train: { nanPolicy: 'ignore' } }),
    /config\.train\.nanPolicy must be one of error, skip/,
  );
});

test('weights holding NaN are refused, naming the tensor', () => {
  const root = mkdtempSync(join(tmpdir(), 'adaseg-nan-weights-'));
  try {
    const model = buildModel({ kind: 'unet', baseWidth: 4, depth: 2 }, 6);
    const file = join(root, 'w.safetensors');
    torch.tidy(() => {
      const sd = model.stateDict();
      const name = Object.keys(sd).find((k) => sd[k].dtype === 'float32')!;
      torch.saveSafetensorsSync(file, { ...sd, [name]: torch.fullLike(sd[name], Number.NaN) });
      assert.throws(
        () => loadWeights(model, file),
        (e: unknown) => e instanceof AdasegError && e.code === 'non-finite' && e.message.includes(name),
      );
    });
    assert.ok(existsSync(file));
    model.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
