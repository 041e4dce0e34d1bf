import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { CheckpointError, CheckpointManager, loadCheckpoint, loadModelWeights, readCheckpointInfo, saveCheckpoint } from '../src/train/checkpoint.js';

const { nn } = torch;

function tinyModel(): torch.nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1 }),
    new nn.BatchNorm2d({ numFeatures: 4 }),
    new nn.ReLU(),
    new nn.Conv2d({ inChannels: 4, outChannels: 2, kernelSize: 1 }),
  );
}

function trainSteps(model: torch.nn.Sequential, opt: torch.optim.SGD, sched: torch.optim.lrScheduler.LRScheduler, steps: number): void {
  for (let i = 0; i < steps; i++) {
    torch.tidy(() => {
      opt.zeroGrad();
      const x = torch.randn([2, 3, 8, 8]);
      const y = torch.randint(0, 2, [2, 8, 8]);
      torch.functional.crossEntropy(model.forward(x), y).backward();
      opt.step();
      sched.step();
    });
  }
}

function setup(): { model: torch.nn.Sequential; opt: torch.optim.SGD; sched: torch.optim.lrScheduler.LRScheduler } {
  const model = tinyModel();
  const opt = new torch.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  const sched = new torch.optim.lrScheduler.PolynomialLR(opt, { totalIters: 20, power: 0.9 });
  return { model, opt, sched };
}

test('a run interrupted at 6 steps and resumed from its checkpoint ends bitwise equal to an uninterrupted run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-ckpt-'));
  try {
    torch.manualSeed(1);
    const straight = setup();
    trainSteps(straight.model, straight.opt, straight.sched, 12);

    torch.manualSeed(1);
    const first = setup();
    trainSteps(first.model, first.opt, first.sched, 6);
    const path = join(dir, 'ckpt.safetensors');
    saveCheckpoint(path, { model: first.model, optimizer: first.opt, scheduler: first.sched }, { iteration: 6, extra: { note: 'half way' } });
    first.model.dispose();
    first.opt.dispose();
    torch.manualSeed(999); // a different stream: the checkpoint must restore the RNG

    const resumed = setup();
    const info = loadCheckpoint(path, { model: resumed.model, optimizer: resumed.opt, scheduler: resumed.sched });
    assert.equal(info.iteration, 6);
    assert.deepEqual(info.extra, { note: 'half way' });
    assert.deepEqual(readCheckpointInfo(path).iteration, 6);
    trainSteps(resumed.model, resumed.opt, resumed.sched, 6);

    torch.tidy(() => {
      const a = straight.model.stateDict();
      const b = resumed.model.stateDict();
      for (const k of Object.keys(a)) assert.equal(a[k].sub(b[k]).abs().max().item(), 0, `${k} differs after resuming`);
    });
    assert.deepEqual(resumed.sched.getLastLr(), straight.sched.getLastLr());
    for (const r of [straight, resumed]) {
      r.model.dispose();
      r.opt.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadModelWeights reads the model part of a checkpoint by PyTorch name; bad files give CheckpointError', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-ckpt-'));
  try {
    const model = tinyModel();
    const path = join(dir, 'c.safetensors');
    saveCheckpoint(path, { model }, { iteration: 0, extra: {} });
    torch.tidy(() => {
      const weights = loadModelWeights(path);
      assert.deepEqual(Object.keys(weights).sort(), Object.keys(model.stateDict()).sort());
    });
    const plain = join(dir, 'plain.safetensors');
    torch.tidy(() => torch.saveSafetensorsSync(plain, model.stateDict()));
    assert.throws(
      () => loadCheckpoint(plain, { model }),
      (e: unknown) => e instanceof CheckpointError && /not an adaseg checkpoint/.test((e as Error).message),
    );
    assert.throws(() => loadCheckpoint(join(dir, 'missing.safetensors'), { model }), /file not found/);
    const other = new nn.Sequential(new nn.Conv2d({ inChannels: 3, outChannels: 5, kernelSize: 3 }));
    assert.throws(
      () => loadCheckpoint(path, { model: other }),
      (e: unknown) => e instanceof CheckpointError && /size mismatch/.test((e as Error).message),
    );
    const corrupt = join(dir, 'corrupt.safetensors');
    writeFileSync(corrupt, Buffer.from('garbage that is not a checkpoint'));
    assert.throws(() => loadCheckpoint(corrupt, { model }));
    model.dispose();
    other.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CheckpointManager keeps the last N and the best, and names the latest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-ckpt-'));
  try {
    const model = tinyModel();
    const manager = new CheckpointManager(dir, { keepLast: 2 });
    const metrics = [0.1, 0.5, 0.3, 0.2, 0.4];
    metrics.forEach((m, i) => manager.save({ model }, { iteration: (i + 1) * 10, extra: {} }, m));
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.safetensors'))
      .sort();
    assert.deepEqual(files, ['ckpt-0000020.safetensors', 'ckpt-0000040.safetensors', 'ckpt-0000050.safetensors']);
    assert.equal(manager.latest(), join(dir, 'ckpt-0000050.safetensors'));
    assert.equal(manager.best(), join(dir, 'ckpt-0000020.safetensors'));
    assert.ok(!readdirSync(dir).some((f) => f.includes('.tmp')), 'no temp files left');
    assert.ok(existsSync(join(dir, 'checkpoints.json')));
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
