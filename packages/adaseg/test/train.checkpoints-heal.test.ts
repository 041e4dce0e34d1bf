// Checkpoints that heal (issue 26, items 3 and 7): a corrupt or missing checkpoints.json is rebuilt
// from the checkpoint files (the newest whole one wins), stale temp files of a killed write go at
// start, and a resumed run's train.jsonl holds each iteration once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { parseTrainConfig } from '../src/train/config.js';
import { trainSupervised } from '../src/train/supervised.js';
import { CheckpointManager, loadModelWeights, readCheckpointInfo, saveCheckpoint } from '../src/train/checkpoint.js';

function config(output: string) {
  return parseTrainConfig({
    name: 'heal-test',
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
    train: { iterations: 8, optimizer: { kind: 'sgd', lr: 0.05 }, warmupIterations: 2, evalEvery: 4, checkpointEvery: 4, logEvery: 1 },
  });
}

interface IndexFile {
  latest: string;
  best: { file: string; metric: number; iteration: number } | null;
  files: string[];
}

const indexOf = (run: string): IndexFile => JSON.parse(readFileSync(join(run, 'checkpoints', 'checkpoints.json'), 'utf8')) as IndexFile;

const records = (run: string): Record<string, any>[] =>
  readFileSync(join(run, 'train.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);

/** The per-iteration loss records, without their timing fields. */
const lossRecords = (run: string) =>
  records(run)
    .filter((r) => r.event === undefined && r.eval === undefined)
    .map((r) => ({ iteration: r.iteration, loss: r.loss, lr: r.lr }));

function assertSameWeights(a: string, b: string): void {
  torch.tidy(() => {
    const wa = loadModelWeights(join(a, 'checkpoints', indexOf(a).latest));
    const wb = loadModelWeights(join(b, 'checkpoints', indexOf(b).latest));
    for (const k of Object.keys(wa)) assert.equal(wa[k].sub(wb[k]).abs().max().item(), 0, `${k} differs`);
  });
}

async function quietly<T>(run: () => Promise<T>): Promise<T> {
  // The repairs are also process warnings (ADASEG_CHECKPOINT); keep the test output readable.
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', () => {});
  try {
    return await run();
  } finally {
    await new Promise<void>((resolve) => setImmediate(resolve));
    process.removeAllListeners('warning');
    for (const l of listeners) process.on('warning', l);
  }
}

test('checkpoints heal: a corrupt or missing index, a truncated checkpoint, stale temp files, replayed log lines', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'adaseg-heal-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  torch.setNumThreads(1);
  const straight = join(root, 'straight');
  const straightResult = await trainSupervised(config(straight));
  assert.equal(straightResult.iteration, 8);

  // A run stopped at 5: checkpoints at 4 (evaluated) and 5 (the stop's), then its index is lost.
  const stopped = join(root, 'stopped');
  const controller = new AbortController();
  const first = await trainSupervised(config(stopped), { signal: controller.signal, onIteration: (i) => i === 5 && controller.abort() });
  assert.equal(first.iteration, 5);
  assert.deepEqual(indexOf(stopped).files, ['ckpt-0000004.safetensors', 'ckpt-0000005.safetensors']);

  await t.test('a corrupt index resumes from the newest checkpoint, ends as an uninterrupted run, and warns', async () => {
    const run = join(root, 'corrupt');
    cpSync(stopped, run, { recursive: true });
    writeFileSync(join(run, 'checkpoints', 'checkpoints.json'), '{"latest": "ckpt-00');
    torch.manualSeed(12345);
    const resumed = await quietly(() => trainSupervised(config(run)));
    assert.equal(resumed.startIteration, 5, 'resumed from ckpt-0000005, not from 0');
    assert.equal(
      readCheckpointInfo(join(stopped, 'checkpoints', 'ckpt-0000004.safetensors')).metric,
      indexOf(stopped).best?.metric,
      'the checkpoint records its metric',
    );
    assert.equal(resumed.iteration, 8);
    assertSameWeights(straight, run);
    // The best was found again from the metric recorded in ckpt-0000004, so the run ends with the same best.
    assert.deepEqual(indexOf(run).best, indexOf(straight).best);
    const warnings = records(run).filter((r) => r.event === 'warning');
    assert.ok(
      warnings.some((w) =>
        /checkpoints\.json cannot be read .*rebuilt from the 2 checkpoint file\(s\) on disk: the latest is ckpt-0000005\.safetensors/.test(w.message),
      ),
      JSON.stringify(warnings),
    );
    assert.deepEqual(lossRecords(run), lossRecords(straight), 'one series, as the uninterrupted run logged it');
  });

  await t.test('a missing index with a truncated newest checkpoint resumes from the newest whole one', async () => {
    const run = join(root, 'missing');
    cpSync(stopped, run, { recursive: true });
    rmSync(join(run, 'checkpoints', 'checkpoints.json'));
    const newest = join(run, 'checkpoints', 'ckpt-0000005.safetensors');
    truncateSync(newest, Math.floor(statSync(newest).size / 2));
    torch.manualSeed(777);
    const resumed = await quietly(() => trainSupervised(config(run)));
    assert.equal(resumed.startIteration, 4, 'resumed from ckpt-0000004, the newest whole checkpoint');
    assertSameWeights(straight, run);
    assert.deepEqual(indexOf(run).best, indexOf(straight).best);
    const warnings = records(run)
      .filter((r) => r.event === 'warning')
      .map((r) => r.message as string);
    assert.ok(
      warnings.some((m) => /skipped unreadable checkpoint files: ckpt-0000005\.safetensors \(.*truncated/.test(m)),
      JSON.stringify(warnings),
    );
    assert.ok(
      warnings.some((m) => /checkpoints\.json is missing; rebuilt .*the latest is ckpt-0000004\.safetensors \(iteration 4\)/.test(m)),
      JSON.stringify(warnings),
    );
    assert.deepEqual(lossRecords(run), lossRecords(straight));
  });

  await t.test('stale temp files of a killed checkpoint write are removed at start, and nothing else', async () => {
    const run = join(root, 'temps');
    cpSync(stopped, run, { recursive: true });
    const dir = join(run, 'checkpoints');
    const dead = 2147483646; // no such process
    const stale = [
      `ckpt-0000008.safetensors.tmp-${dead}-0a1b2c3d4e5f`,
      `checkpoints.json.tmp-${dead}`,
      `ckpt-0000006.safetensors.tmp-${process.pid}-abcdef012345`,
    ];
    const others = [
      `ckpt-0000008.safetensors.tmp-${process.ppid}-0a1b2c3d4e5f`,
      'notes.tmp-1',
      `model.safetensors.tmp-${dead}-0a1b2c3d4e5f`,
      'ckpt-0000008.safetensors.bak',
    ];
    for (const f of [...stale, ...others]) writeFileSync(join(dir, f), 'x'.repeat(100));
    await quietly(() => trainSupervised(config(run)));
    const left = readdirSync(dir);
    for (const f of stale) assert.ok(!left.includes(f), `${f} was removed`);
    for (const f of others) assert.ok(left.includes(f), `${f} (not a stale checkpoint temp file) stays`);
    assert.ok(records(run).some((r) => r.event === 'warning' && /removed 3 temp file\(s\) left by an interrupted checkpoint write/.test(r.message)));
  });

  await t.test('a run that dies past its last checkpoint and is resumed logs each iteration once', async () => {
    const run = join(root, 'crashed');
    // Dies after iteration 7 without a checkpoint (as kill -9 would): 4 is the last one.
    await assert.rejects(
      trainSupervised(config(run), {
        onIteration: (i) => {
          if (i === 7) throw new Error('killed');
        },
      }),
      /killed/,
    );
    assert.deepEqual(
      lossRecords(run).map((r) => r.iteration),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.equal(indexOf(run).latest, 'ckpt-0000004.safetensors');
    const resumed = await trainSupervised(config(run));
    assert.equal(resumed.startIteration, 4);
    const iterations = lossRecords(run).map((r) => r.iteration);
    assert.deepEqual(iterations, [1, 2, 3, 4, 5, 6, 7, 8], 'no replayed iteration twice');
    assert.deepEqual(lossRecords(run), lossRecords(straight), 'the replayed iterations logged as an uninterrupted run logs them');
    const evals = records(run).filter((r) => r.eval !== undefined);
    assert.deepEqual(
      evals.map((r) => r.iteration),
      [4, 8],
    );
    const resumedRecords = records(run).filter((r) => r.event === 'resumed');
    assert.equal(resumedRecords.length, 1);
    assert.equal(resumedRecords[0].iteration, 4);
    assertSameWeights(straight, run);
  });

  await t.test('without the recorded log length (an older checkpoint) the records past its iteration go', async () => {
    const run = join(root, 'crashed-old');
    await assert.rejects(
      trainSupervised(config(run), {
        onIteration: (i) => {
          if (i === 6) throw new Error('killed');
        },
      }),
      /killed/,
    );
    // As a checkpoint written before train.jsonl's length was recorded.
    const path = join(run, 'checkpoints', 'ckpt-0000004.safetensors');
    const meta = JSON.parse(torch.readSafetensorsHeaderSync(path).metadata!.adaseg) as { extra: Record<string, unknown> };
    assert.equal(typeof meta.extra.trainLogBytes, 'number');
    delete meta.extra.trainLogBytes;
    const tensors = torch.loadSafetensorsSync(path);
    torch.saveSafetensorsSync(path, tensors, { adaseg: JSON.stringify(meta) });
    for (const x of Object.values(tensors)) x.dispose();
    const resumed = await trainSupervised(config(run));
    assert.equal(resumed.startIteration, 4);
    assert.deepEqual(lossRecords(run), lossRecords(straight));
    assertSameWeights(straight, run);
  });
});

test('CheckpointManager rebuilds a lost index: the newest whole file is the latest, the best from recorded metrics', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-heal-index-'));
  try {
    const model = new torch.nn.Linear({ inFeatures: 2, outFeatures: 2 });
    const warnings: string[] = [];
    const manager = new CheckpointManager(dir, { keepLast: 2, onWarning: (m) => warnings.push(m) });
    manager.save({ model }, { iteration: 10, extra: {} }, 0.5);
    manager.save({ model }, { iteration: 20, extra: {} }, 0.7);
    manager.save({ model }, { iteration: 30, extra: {} }, 0.6);
    manager.save({ model }, { iteration: 35, extra: {} }); // a stop: no metric
    assert.deepEqual(warnings, [], 'a fresh series warns of nothing');
    const before = JSON.parse(readFileSync(join(dir, 'checkpoints.json'), 'utf8')) as IndexFile;
    assert.deepEqual(before.files, ['ckpt-0000020.safetensors', 'ckpt-0000030.safetensors', 'ckpt-0000035.safetensors']);

    writeFileSync(join(dir, 'checkpoints.json'), '[1, 2]');
    const rebuilt = new CheckpointManager(dir, { keepLast: 2, onWarning: (m) => warnings.push(m) });
    assert.deepEqual(rebuilt.index(), before);
    assert.equal(rebuilt.latest(), join(dir, 'ckpt-0000035.safetensors'));
    assert.equal(rebuilt.best(), join(dir, 'ckpt-0000020.safetensors'));
    assert.equal(warnings.length, 1, 'told once, however often the index is read');
    assert.match(warnings[0], /checkpoints\.json is not a checkpoint index: not a JSON object; rebuilt from the 3 checkpoint file\(s\) on disk/);
    assert.match(warnings[0], /the best is ckpt-0000020\.safetensors \(metric 0\.7/);
    assert.equal(readFileSync(join(dir, 'checkpoints.json'), 'utf8'), '[1, 2]', 'reading does not write the index');

    // An index naming a latest file that is gone is rebuilt too.
    writeFileSync(join(dir, 'checkpoints.json'), JSON.stringify({ ...before, latest: 'ckpt-0000099.safetensors' }));
    assert.equal(new CheckpointManager(dir, { onWarning: () => {} }).latest(), join(dir, 'ckpt-0000035.safetensors'));

    // Checkpoints without a recorded metric (older ones): no best, and none older than the last N pruned.
    rmSync(dir, { recursive: true });
    mkdirSync(dir);
    for (const iteration of [1, 2, 3]) saveCheckpoint(join(dir, `ckpt-000000${iteration}.safetensors`), { model }, { iteration, extra: {} });
    const notes: string[] = [];
    const lost = new CheckpointManager(dir, { keepLast: 1, onWarning: (m) => notes.push(m) });
    assert.equal(lost.best(), null);
    assert.match(notes[0], /no checkpoint records its metric, so there is no best checkpoint/);
    lost.save({ model }, { iteration: 4, extra: {} });
    assert.ok(existsSync(join(dir, 'ckpt-0000001.safetensors')), 'an unranked older checkpoint is not pruned');
    assert.ok(existsSync(join(dir, 'ckpt-0000002.safetensors')), 'an unranked older checkpoint is not pruned');
    assert.ok(!existsSync(join(dir, 'ckpt-0000003.safetensors')), 'the last N at the rebuild are tracked and pruned as usual');
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
