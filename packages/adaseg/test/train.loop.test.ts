import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { parseTrainConfig } from '../src/train/config.js';
import { trainSupervised } from '../src/train/supervised.js';
import { loadModelWeights } from '../src/train/checkpoint.js';
import { ConfigError } from '../src/util/config-reader.js';

function config(output: string, iterations: number) {
  return parseTrainConfig({
    name: 'loop-test',
    output,
    seed: 3,
    model: { kind: 'unet', baseWidth: 4, depth: 2, dropout: 0.1 },
    data: {
      train: { format: 'synthetic', style: 'source', count: 12, width: 32, height: 24, seed: 0 },
      val: [{ name: 'target', dataset: { format: 'synthetic', style: 'target', count: 4, width: 32, height: 24, seed: 50 } }],
      batchSize: 2,
      workers: 0,
      transforms: [{ kind: 'hflip' }, { kind: 'colorJitter', brightness: 0.2 }],
    },
    train: { iterations, optimizer: { kind: 'sgd', lr: 0.05 }, warmupIterations: 2, evalEvery: 4, checkpointEvery: 4, logEvery: 2 },
  });
}

function weights(dir: string): Record<string, torch.Tensor> {
  const index = JSON.parse(readFileSync(join(dir, 'checkpoints', 'checkpoints.json'), 'utf8')) as { latest: string };
  return loadModelWeights(join(dir, 'checkpoints', index.latest));
}

test('training stopped by a signal and resumed ends with the weights of an uninterrupted run', async () => {
  const root = mkdtempSync(join(tmpdir(), 'adaseg-loop-'));
  try {
    torch.setNumThreads(1);
    const straight = await trainSupervised(config(join(root, 'straight'), 8));
    assert.equal(straight.iteration, 8);
    assert.ok(existsSync(join(root, 'straight', 'metrics.json')));

    const controller = new AbortController();
    const resumedConfig = config(join(root, 'resumed'), 8);
    // Stop after iteration 5, between checkpoints: the loop writes one at 5 and returns.
    const first = await trainSupervised(resumedConfig, { signal: controller.signal, onIteration: (i) => i === 5 && controller.abort() });
    assert.equal(first.stopped, true);
    assert.equal(first.iteration, 5);
    assert.ok(!existsSync(join(root, 'resumed', 'metrics.json')), 'a stopped run writes no final metrics');
    torch.manualSeed(12345); // resuming must not depend on the process's RNG
    const second = await trainSupervised(resumedConfig);
    assert.equal(second.startIteration, 5);
    assert.equal(second.iteration, 8);
    assert.ok(Math.abs(second.evaluations.target.mIoU - straight.evaluations.target.mIoU) < 1e-12);
    torch.tidy(() => {
      const a = weights(join(root, 'straight'));
      const b = weights(join(root, 'resumed'));
      for (const k of Object.keys(a)) assert.equal(a[k].sub(b[k]).abs().max().item(), 0, `${k} differs`);
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('config errors name the field', () => {
  assert.throws(
    () =>
      parseTrainConfig({
        data: { train: { format: 'synthetic', style: 'source', count: 2, width: 8, height: 8 } },
        train: { optimizer: { kind: 'sgd', lr: -1 } },
      }),
    (e: unknown) => e instanceof ConfigError && /config\.train\.optimizer\.lr must be > 0, got -1/.test((e as Error).message),
  );
  assert.throws(
    () => parseTrainConfig({ data: { train: { format: 'synthetic', style: 'source', count: 2, width: 8, height: 8 } }, train: { iteratons: 5 } }),
    /config\.train has an unknown key 'iteratons'/,
  );
  assert.throws(() => parseTrainConfig({ data: { train: { format: 'nope' } } }), /config\.data\.train: .*format/);
  assert.throws(
    () => parseTrainConfig({ model: { kind: 'unet', depth: 99 }, data: { train: { format: 'synthetic', style: 'source', count: 2, width: 8, height: 8 } } }),
    /config\.model: .*depth/,
  );
});
