// End-to-end adaptation on the synthetic domain pair with a tiny U-Net, through the config API:
// every method from a source-only run, with labelled target data, exact resume of an adversarial
// run (model, discriminator, its Adam, schedules, RNG), and the discriminator restored for
// selection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { adaptModel, parseAdaptConfig, restoreDiscriminators, targetness, type AdaptConfig } from '../src/adapt/index.js';
import { loadDataset } from '../src/data/formats/index.js';
import { withMask, withSamples } from '../src/data/dataset.js';
import { parseTrainConfig } from '../src/train/config.js';
import { trainSupervised } from '../src/train/supervised.js';
import { restoreModel } from '../src/train/restore.js';

torch.setNumThreads(1);

const W = 48;
const H = 32;
const synthetic = (style: 'source' | 'target', count: number, seed: number) => ({ format: 'synthetic', style, count, width: W, height: H, seed });
const MODEL = { kind: 'unet', baseWidth: 4, depth: 2 };

let root: string;
let sourceRun: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'adaseg-adapt-'));
  sourceRun = join(root, 'source-only');
  await trainSupervised(
    parseTrainConfig({
      name: 'source-only',
      output: sourceRun,
      seed: 1,
      model: MODEL,
      data: { train: synthetic('source', 8, 0), batchSize: 2, workers: 0 },
      train: { iterations: 4, optimizer: { kind: 'sgd', lr: 0.05 }, evalEvery: 4, checkpointEvery: 4, logEvery: 2 },
    }),
  );
});

after(() => rmSync(root, { recursive: true, force: true }));

function config(name: string, adapt: Record<string, unknown>, extra: { iterations?: number; data?: Record<string, unknown> } = {}): AdaptConfig {
  const iterations = extra.iterations ?? 4;
  return parseAdaptConfig({
    name,
    output: join(root, name),
    seed: 7,
    init: sourceRun,
    data: {
      source: synthetic('source', 8, 0),
      target: synthetic('target', 8, 100),
      val: [{ name: 'target_val', dataset: synthetic('target', 4, 500) }],
      batchSize: 2,
      workers: 0,
      transforms: [{ kind: 'hflip' }],
      ...extra.data,
    },
    train: { iterations, optimizer: { kind: 'sgd', lr: 0.01 }, evalEvery: 2, checkpointEvery: 2, logEvery: 1 },
    eval: { batchSize: 4 },
    adapt,
  });
}

function logLines(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'train.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function latestCheckpoint(dir: string): string {
  const index = JSON.parse(readFileSync(join(dir, 'checkpoints', 'checkpoints.json'), 'utf8')) as { latest: string };
  return join(dir, 'checkpoints', index.latest);
}

/** Largest difference between the model weights of two runs' final checkpoints. */
function modelChange(a: string, b: string): number {
  return torch.tidy(() => {
    const x = restoreModel(a, 6).model;
    const y = restoreModel(b, 6).model;
    const sa = x.stateDict();
    const sb = y.stateDict();
    let m = 0;
    for (const k of Object.keys(sa)) if (sa[k].dtype === 'float32') m = Math.max(m, sa[k].sub(sb[k]).abs().max().item() as number);
    x.dispose();
    y.dispose();
    return m;
  });
}

const METHODS: [string, Record<string, unknown>, string[], string][] = [
  ['adaptsegnet', { method: 'adaptsegnet', discriminator: { ndf: 8 } }, ['seg', 'adv', 'd'], 'modules.d_main.conv1.weight'],
  [
    'advent-adversarial',
    { method: 'advent-adversarial', gan: 'ls', lambdaAdv: 0.01, discriminator: { ndf: 8 } },
    ['seg', 'adv', 'd'],
    'modules.d_main.classifier.weight',
  ],
  ['advent-entropy', { method: 'advent-entropy', lambdaEnt: 0.01 }, ['seg', 'ent'], ''],
  ['self-training', { method: 'self-training', regenerateEvery: 2, portion: 0.6 }, ['seg', 'pseudo', 'pseudoCoverage'], 'modules.pseudo.thresholds'],
];

for (const [method, adapt, scalars, key] of METHODS) {
  test(`${method}: a short run from the source-only checkpoint logs, evaluates, checkpoints and changes the model`, async () => {
    const cfg = config(method, adapt);
    const result = await adaptModel(cfg);
    assert.equal(result.iteration, 4);
    assert.equal(result.stopped, false);
    assert.equal(result.config.adapt.levels, 'single');
    assert.deepEqual(result.config.model, restoreModel(sourceRun, 6).model.config);
    const mIoU = result.evaluations.target_val.mIoU;
    assert.ok(mIoU >= 0 && mIoU <= 1);
    const metrics = JSON.parse(readFileSync(join(cfg.output, 'metrics.json'), 'utf8')) as { method: string };
    assert.equal(metrics.method, method);
    const lines = logLines(cfg.output).filter((l) => typeof l.iteration === 'number' && l.eval === undefined && l.event === undefined);
    assert.equal(lines.length, 4);
    for (const s of scalars)
      assert.ok(
        lines.every((l) => Number.isFinite(l[s] as number)),
        `${s} logged every iteration`,
      );
    assert.ok(
      logLines(cfg.output).some((l) => l.eval !== undefined),
      'evaluated on the target val set',
    );
    if (method === 'self-training') {
      const events = logLines(cfg.output).filter((l) => l.event === 'pseudo-labels');
      assert.deepEqual(
        events.map((e) => e.iteration),
        [0, 2],
        'pseudo-labels made at the start and every 2 iterations',
      );
      assert.ok(events.every((e) => (e.thresholds as number[]).length === 6 && (e.thresholds as number[]).every((t) => t >= 0 && t <= 0.9)));
    }
    const header = torch.readSafetensorsHeaderSync(latestCheckpoint(cfg.output));
    if (key) assert.ok(key in header.tensors, `checkpoint holds ${key}`);
    assert.ok(modelChange(sourceRun, cfg.output) > 0, 'the segmenter was trained');
  });
}

test('labelled target data (active rounds) adds its loss every iteration; partial masks are fine', async () => {
  const target = await loadDataset(synthetic('target', 8, 100) as never);
  // Two images with a mask revealing only the top rows (255 elsewhere), as bought regions would.
  const mask = new Uint8Array(W * H).fill(255);
  mask.fill(1, 0, W * 4);
  const labelled = withSamples(
    target,
    target.samples.slice(0, 2).map((s) => withMask(s, { width: W, height: H, data: mask })),
  );
  const cfg = config('with-labels', { method: 'advent-entropy' }, { iterations: 2 });
  const result = await adaptModel(cfg, { labelledTarget: labelled });
  assert.equal(result.iteration, 2);
  const lines = logLines(cfg.output).filter((l) => typeof l.iteration === 'number' && l.eval === undefined && l.event === undefined);
  assert.ok(lines.every((l) => Number.isFinite(l.segTarget as number)));
});

/** Runs `adapt` straight for 5 iterations and stopped after 3 then resumed; returns the straight run's directory. */
async function checkResume(name: string, adapt: Record<string, unknown>, expectKeys: string[]): Promise<string> {
  const straight = await adaptModel(config(`${name}-straight`, adapt, { iterations: 5 }));
  assert.equal(straight.iteration, 5);
  const cfg = config(`${name}-split`, adapt, { iterations: 5 });
  const controller = new AbortController();
  const first = await adaptModel(cfg, { signal: controller.signal, onIteration: (i) => i === 3 && controller.abort() });
  assert.equal(first.stopped, true);
  assert.equal(first.iteration, 3);
  torch.manualSeed(4242); // resuming must not depend on the process's RNG
  const second = await adaptModel(cfg);
  assert.equal(second.startIteration, 3);
  assert.equal(second.iteration, 5);
  assert.equal(second.evaluations.target_val.mIoU, straight.evaluations.target_val.mIoU);
  torch.tidy(() => {
    const a = torch.loadSafetensorsSync(latestCheckpoint(straight.output));
    const b = torch.loadSafetensorsSync(latestCheckpoint(second.output));
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
    const keys = Object.keys(a);
    for (const prefix of expectKeys)
      assert.ok(
        keys.some((k) => k.startsWith(prefix)),
        `${prefix}* is checkpointed`,
      );
    for (const k of keys) assert.equal(a[k].sub(b[k]).abs().max().item(), 0, `${k} differs after resuming`);
  });
  return straight.output;
}

test('an adversarial run stopped mid-way and resumed ends identical to a straight run (model, discriminator, its optimiser, RNG)', async () => {
  const straight = await checkResume('resume-adv', { method: 'adaptsegnet', discriminator: { ndf: 8 } }, [
    'model.',
    'modules.d_main.',
    'optim.d_main.',
    'optim.main.',
    'rng_state',
  ]);

  // The discriminator of the run, for selection: targetness maps of the target predictions.
  const { main, aux, checkpoint } = restoreDiscriminators(straight);
  assert.equal(aux, undefined);
  assert.ok(checkpoint.endsWith('.safetensors'));
  torch.tidy(() => {
    const t = targetness(main, torch.rand([2, 6, H, W]).softmax(1));
    assert.deepEqual(t.shape, [2, H, W]);
  });
  main.dispose();
  assert.ok(existsSync(join(straight, 'config.json')));

  // The checkpoint alone is enough: it records the discriminators' input and objective.
  const alone = mkdtempSync(join(tmpdir(), 'adaseg-d-alone-'));
  try {
    const copy = join(alone, 'ckpt.safetensors');
    copyFileSync(checkpoint, copy);
    const restored = restoreDiscriminators(copy);
    assert.equal(restored.main.input, 'probabilities');
    assert.equal(restored.main.objective, 'vanilla');
    restored.main.dispose();
  } finally {
    rmSync(alone, { recursive: true, force: true });
  }
});

test('self-training resumed between pseudo-label refreshes ends identical (teacher and thresholds checkpointed)', async () => {
  await checkResume('resume-st', { method: 'self-training', regenerateEvery: 2 }, ['modules.pseudo.teacher.', 'modules.pseudo.thresholds']);
});

test('adapt config: source/target are required, names are reported with their field, target labels are not read', () => {
  const base = { data: { source: synthetic('source', 2, 0), target: { format: 'camvid', root: '/x', split: 'train' } }, adapt: { method: 'advent-entropy' } };
  const parsed = parseAdaptConfig(base, '/tmp');
  assert.equal((parsed.data.target as { labels?: string }).labels, 'none');
  assert.equal(parsed.name, 'adapt');
  assert.equal(parsed.output, '/tmp/runs/adapt');
  assert.equal(parsed.model?.kind, 'unet');
  assert.equal(parseAdaptConfig({ ...base, init: 'runs/src' }, '/tmp').model, undefined, 'the model comes from the init run');
  assert.throws(
    () => parseAdaptConfig({ data: { source: synthetic('source', 2, 0) }, adapt: { method: 'advent-entropy' } }),
    /config\.data\.target is required/,
  );
  assert.throws(() => parseAdaptConfig({ ...base, data: { ...base.data, source: { format: 'nope' } } }), /config\.data\.source: .*format/);
  assert.throws(() => parseAdaptConfig({ ...base, data: { ...base.data, train: synthetic('source', 2, 0) } }), /config\.data has an unknown key 'train'/);
  assert.throws(() => parseAdaptConfig({ ...base, train: { optimizer: { kind: 'sgd', lr: -1 } } }), /config\.train\.optimizer\.lr must be > 0/);
  assert.throws(() => parseAdaptConfig({ ...base, train: { gradAccumulation: 2 } }), /config\.train\.gradAccumulation must be 1/);
  assert.throws(() => parseAdaptConfig({ ...base, adapt: undefined }), /config\.adapt must be an object/);
  assert.throws(() => parseAdaptConfig({ ...base, adapt: { method: 'adaptsegnet', gan: 'wgan' } }), /config\.adapt\.gan must be one of vanilla, ls/);
});
