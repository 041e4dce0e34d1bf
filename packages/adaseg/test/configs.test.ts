// Every config shipped in configs/ (the folder is listed, so a new file is checked as soon as it is
// added) must stay valid as the config formats evolve. Parsing is checked for all of them (no
// dataset is read), so this runs without the shared datasets, and every model they name is built
// and run on a tiny input. The configs for datasets that are not here (GTA5, SYNTHIA, Cityscapes)
// are also checked against tiny fixtures laid out where they point, in each format's real layout
// (the configs' roots, splits and class protocols must be what the loaders read; the formats'
// decoding itself is data.formats.test.ts's), and against the literature's settings they claim
// (RIPU, Xie et al. CVPR 2022: DeepLabV2 ResNet-101, SGD 2.5e-4, 5 rounds up to 2.2%, ...).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parseExperimentConfig } from '../src/experiment/config.js';
import { parseAdaptConfig } from '../src/adapt/config.js';
import { parseTrainConfig } from '../src/train/config.js';
import type { DatasetConfig } from '../src/data/config.js';
import { CITYSCAPES_LABEL_IDS, IMAGENET_NORMALIZE, loadDataset, numClasses, Pipeline, type Transform } from '../src/data/index.js';
import * as torch from '@adaseg/torch';
import { buildModel, resolveModelConfig } from '../src/models/config.js';
import { noiseImage, rawLabel, writeGray, writeGtaLabel, writeRgb, writeSynthiaLabel } from './helpers/data-fixtures.js';
import { FIXTURES } from './helpers/models.js';

torch.setNumThreads(1);

const configs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'configs');
const files = readdirSync(configs).filter((f) => f.endsWith('.yaml') || f.endsWith('.json'));

type Kind = 'experiment' | 'adapt' | 'train';
/** The command a config is for follows from its sections. */
function kindOf(value: Record<string, unknown>): Kind {
  return 'active' in value || 'rounds' in value ? 'experiment' : 'adapt' in value ? 'adapt' : 'train';
}

function parseConfig(value: Record<string, unknown>, baseDir: string) {
  const kind = kindOf(value);
  return kind === 'experiment' ? parseExperimentConfig(value, baseDir) : kind === 'adapt' ? parseAdaptConfig(value, baseDir) : parseTrainConfig(value, baseDir);
}

test('configs/ holds the shipped configs', () => {
  for (const f of [
    'camvid-source-only.yaml',
    'camvid-uda.yaml',
    'camvid-active.yaml',
    'synthetic-active.yaml',
    'gta5-source.yaml',
    'gta5-cityscapes.yaml',
    'synthia-source.yaml',
    'synthia-cityscapes.yaml',
  ]) {
    assert.ok(files.includes(f), f);
  }
});

for (const file of files) {
  test(`configs/${file} is a valid config (parsing throws, naming the field, when it is not)`, () => {
    parseConfig(parse(readFileSync(join(configs, file), 'utf8')) as Record<string, unknown>, configs);
  });
}

// ---------------------------------------------------------------- datasets that are not here

const ABSENT_FORMATS = ['gta5', 'synthia', 'cityscapes'];
const FRAMES = 2;

/** Every dataset a parsed config reads, with the transforms its images go through first (the working size). */
function datasetsOf(value: Record<string, unknown>, baseDir: string): { where: string; dataset: DatasetConfig; transforms: Transform[] }[] {
  const kind = kindOf(value);
  if (kind === 'experiment') {
    const c = parseExperimentConfig(value, baseDir);
    const resize: Transform[] = c.data.resolution ? [{ kind: 'resize', ...c.data.resolution }] : [];
    return [
      { where: 'data.source', dataset: c.data.source, transforms: [...resize, ...c.data.transforms] },
      { where: 'data.pool', dataset: c.data.pool, transforms: resize },
      { where: 'data.val', dataset: c.data.val, transforms: resize },
    ];
  }
  const c = kind === 'adapt' ? parseAdaptConfig(value, baseDir) : parseTrainConfig(value, baseDir);
  const train = 'source' in c.data ? (c.data as { source: DatasetConfig }).source : (c.data as { train: DatasetConfig }).train;
  return [
    { where: 'data.train', dataset: train, transforms: c.data.transforms },
    ...c.data.val.map((v, i) => ({ where: `data.val[${i}]`, dataset: v.dataset, transforms: c.data.evalTransforms })),
  ];
}

/** A tiny dataset in the format's real layout at the dataset's root and split. */
async function writeFixture(d: DatasetConfig, seed: number): Promise<void> {
  const root = (d as { root: string }).root;
  const cityscapesIds = CITYSCAPES_LABEL_IDS.map((l) => l.id).filter((id) => id >= 0);
  for (let i = 0; i < FRAMES; i++) {
    const image = noiseImage(seed + i);
    if (d.format === 'gta5') {
      mkdirSync(join(root, 'images'), { recursive: true });
      mkdirSync(join(root, 'labels'), { recursive: true });
      await writeRgb(join(root, 'images', `0000${i + 1}.png`), image);
      await writeGtaLabel(join(root, 'labels', `0000${i + 1}.png`), rawLabel(cityscapesIds, seed + i));
    } else if (d.format === 'synthia') {
      mkdirSync(join(root, 'RGB'), { recursive: true });
      mkdirSync(join(root, 'GT', 'LABELS'), { recursive: true });
      await writeRgb(join(root, 'RGB', `000000${i}.png`), image);
      await writeSynthiaLabel(
        join(root, 'GT', 'LABELS', `000000${i}.png`),
        rawLabel(
          Array.from({ length: 23 }, (_, v) => v),
          seed + i,
        ),
      );
    } else if (d.format === 'cityscapes') {
      const images = join(root, 'leftImg8bit', d.split, 'aachen');
      const labels = join(root, 'gtFine', d.split, 'aachen');
      mkdirSync(images, { recursive: true });
      mkdirSync(labels, { recursive: true });
      await writeRgb(join(images, `aachen_00000${i}_000019_leftImg8bit.png`), image);
      await writeGray(join(labels, `aachen_00000${i}_000019_gtFine_labelIds.png`), rawLabel([...cityscapesIds, 255], seed + i));
    }
  }
}

const absent = files.filter((file) => {
  const text = readFileSync(join(configs, file), 'utf8');
  return ABSENT_FORMATS.some((f) => new RegExp(`format:\\s*${f}\\b`).test(text));
});

test(`the configs for datasets that are not here (${absent.join(', ')}) read fixtures laid out where they point`, async () => {
  assert.ok(absent.length >= 4, 'gta5-source, gta5-cityscapes, synthia-source, synthia-cityscapes at least');
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-configs-'));
  try {
    // The configs' relative paths resolve from their folder: a copy of it beside an empty data/ tree.
    const copy = join(dir, 'configs');
    cpSync(configs, copy, { recursive: true });
    let seed = 1;
    const written = new Set<string>();
    for (const file of absent) {
      const value = parse(readFileSync(join(copy, file), 'utf8')) as Record<string, unknown>;
      const datasets = datasetsOf(value, copy);
      const classes = new Set<number>();
      for (const { where, dataset, transforms } of datasets) {
        assert.ok(ABSENT_FORMATS.includes(dataset.format), `${file} ${where}: ${dataset.format}`);
        const root = (dataset as { root: string }).root;
        // Where the configs' comments say the datasets go: data/<format> at the repository root.
        assert.equal(relative(dir, root), join('data', dataset.format), `${file} ${where}`);
        const key = `${dataset.format}:${root}:${(dataset as { split?: string }).split ?? ''}`;
        if (!written.has(key)) {
          await writeFixture(dataset, seed);
          seed += FRAMES;
          written.add(key);
        }
        const ds = await loadDataset(dataset);
        assert.equal(ds.samples.length, FRAMES, `${file} ${where}`);
        const expected = (dataset as { classes?: number }).classes;
        assert.ok(expected !== undefined, `${file} ${where} names its class protocol`);
        assert.equal(numClasses(ds), expected, `${file} ${where}`);
        classes.add(numClasses(ds));
        // Decoded through the config's working-size transforms, without undeclared label values.
        const pipeline = new Pipeline({
          numClasses: numClasses(ds),
          mapping: ds.mapping,
          encoding: ds.encoding,
          onUndeclared: 'error',
          transforms,
          normalize: IMAGENET_NORMALIZE,
        });
        const out = pipeline.augment(await pipeline.decode(ds.samples[0]), 0);
        const size = transforms.find((t) => t.kind === 'resize') as { width: number; height: number } | undefined;
        assert.ok(size !== undefined, `${file} ${where} resizes to the literature's size`);
        assert.deepEqual([out.width, out.height], [size.width, size.height], `${file} ${where}`);
        assert.ok(
          out.label!.every((v) => v < expected! || v === 255),
          `${file} ${where}: train ids`,
        );
      }
      assert.equal(classes.size, 1, `${file}: every dataset on one class list`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- every model, built and run

test('every model of the configs builds and runs on a tiny input (1x3x65x65)', () => {
  const models = new Map<string, unknown>();
  for (const file of files) {
    const value = parse(readFileSync(join(configs, file), 'utf8')) as Record<string, unknown>;
    const model = parseConfig(value, configs).model;
    models.set(JSON.stringify(resolveModelConfig(model)), model);
  }
  for (const [key, config] of models) {
    const model = buildModel(config as Parameters<typeof buildModel>[0], 19);
    try {
      model.eval();
      torch.noGrad(() =>
        torch.tidy(() => {
          const out = model.forward(torch.rand([1, 3, 65, 65]));
          assert.deepEqual(out.logits.shape, [1, 19, 65, 65], key);
          assert.ok(Number.isFinite(out.logits.sum().item()), key);
        }),
      );
    } finally {
      model.dispose();
    }
  }
});

// ---------------------------------------------------------------- the literature's settings

interface Fixture {
  models: Record<string, { keys: Record<string, number[]> }>;
}

/** The configs whose source domain is GTA5 or SYNTHIA: the RIPU protocol's. */
const literature = files
  .map((file) => ({ file, value: parse(readFileSync(join(configs, file), 'utf8')) as Record<string, unknown> }))
  .filter(({ value }) => {
    const data = value.data as Record<string, { format?: string }>;
    const source = data.source ?? data.train;
    return source?.format === 'gta5' || source?.format === 'synthia';
  });
const CLASSES: Record<string, number> = { gta5: 19, synthia: 16 };
const RIPU_SGD = { kind: 'sgd', lr: 2.5e-4, momentum: 0.9, weightDecay: 5e-4, nesterov: false };

test(`the GTA5/SYNTHIA configs (${literature.map((l) => l.file).join(', ')}) have the literature's settings`, () => {
  const sources = literature.filter((l) => kindOf(l.value) === 'train').map((l) => ({ file: l.file, c: parseTrainConfig(l.value, configs) }));
  const experiments = literature.filter((l) => kindOf(l.value) === 'experiment').map((l) => ({ file: l.file, c: parseExperimentConfig(l.value, configs) }));
  assert.deepEqual(sources.map((s) => s.file).sort(), ['gta5-source.yaml', 'synthia-source.yaml']);
  assert.deepEqual(experiments.map((e) => e.file).sort(), ['gta5-cityscapes.yaml', 'synthia-cityscapes.yaml']);
  const deeplabv2 = { kind: 'deeplabv2', backbone: 'resnet101', multiLevel: false, rates: [6, 12, 18, 24] };

  for (const { file, c } of sources) {
    const model = resolveModelConfig(c.model) as unknown as Record<string, unknown>;
    assert.deepEqual({ kind: model.kind, backbone: model.backbone, multiLevel: model.multiLevel, rates: model.rates }, deeplabv2, file);
    const format = c.data.train.format;
    const classes = CLASSES[format];
    for (const d of [c.data.train, ...c.data.val.map((v) => v.dataset)])
      assert.equal((d as { classes?: number }).classes, classes, `${file}: ${d.format} on ${classes} classes`);
    assert.ok(
      c.data.val.every((v) => v.dataset.format === 'cityscapes' && (v.dataset as { split: string }).split === 'val'),
      `${file}: evaluated on Cityscapes val`,
    );
    assert.ok(c.weights?.endsWith('.safetensors'), `${file}: ImageNet weights (adaseg weights convert)`);
    assert.deepEqual(c.data.transforms, [{ kind: 'resize', width: 1280, height: 720 }], `${file}: source at 1280x720, no flip`);
    assert.deepEqual(c.data.evalTransforms, [{ kind: 'resize', width: 1280, height: 640 }], `${file}: Cityscapes at 1280x640`);
    assert.equal(c.data.batchSize, 2, file);
    assert.deepEqual(c.train.optimizer, RIPU_SGD, file);
    assert.deepEqual(c.train.schedule, { kind: 'poly', power: 0.9, minLr: 0 }, file);
    assert.equal(c.train.headLrMultiplier, 10, file);
    assert.equal(c.train.freezeBatchNorm, 'all', file);
    assert.equal(c.train.iterations, 10000, `${file}: RIPU's first selection comes after 10,000 iterations`);
    assert.equal(c.eval.flip, true, `${file}: RIPU's test averages with the flipped image`);
  }

  for (const { file, c } of experiments) {
    const model = resolveModelConfig(c.model) as unknown as Record<string, unknown>;
    assert.deepEqual({ kind: model.kind, backbone: model.backbone, multiLevel: model.multiLevel, rates: model.rates }, deeplabv2, file);
    const format = c.data.source.format;
    const classes = CLASSES[format];
    for (const d of [c.data.source, c.data.pool, c.data.val])
      assert.equal((d as { classes?: number }).classes, classes, `${file}: ${d.format} on ${classes} classes`);
    assert.deepEqual(
      [c.data.pool.format, (c.data.pool as { split: string }).split, c.data.val.format, (c.data.val as { split: string }).split],
      ['cityscapes', 'train', 'cityscapes', 'val'],
      file,
    );
    assert.deepEqual(c.data.resolution, { width: 1280, height: 640 }, file);
    assert.deepEqual(c.data.transforms, [], `${file}: no augmentation`);
    assert.equal(c.data.batchSize, 2, file);
    assert.deepEqual(c.active.units, { kind: 'region', k: 1 }, `${file}: 3x3 regions`);
    assert.deepEqual(c.active.budget, { kind: 'pixelPercent', total: 2.2, rounds: 5 }, `${file}: 5 rounds up to 2.2%`);
    assert.equal(c.active.ranking, 'perImage', file);
    assert.ok(
      c.active.strategies.some((s) => s.label === 'ripu-region (k=1)'),
      `${file}: RIPU region, k=1`,
    );
    assert.equal(c.annotator.kind, 'simulated', file);
    assert.deepEqual(c.rounds.train.optimizer, RIPU_SGD, file);
    assert.equal(c.rounds.train.headLrMultiplier, 10, file);
    assert.equal(c.rounds.train.freezeBatchNorm, 'all', file);
    assert.deepEqual(c.rounds.negativeLearning, { weight: 1, threshold: 0.05 }, `${file}: RIPU's negative learning`);
    assert.equal(c.rounds.labelledTargetWeight, 1, file);
    assert.equal(c.eval.flip, true, file);
    // The source model is a shipped source config's run: the same model, source and classes, its
    // last checkpoint; with it, 40,000 iterations in all, as RIPU's.
    assert.equal(c.source.kind, 'init', file);
    const init = (c.source as { path: string }).path;
    const source = sources.find((s) => init.startsWith(`${s.c.output}/`));
    assert.ok(source !== undefined, `${file}: source.init ${init} is in the output of a shipped source config`);
    assert.deepEqual(resolveModelConfig(source.c.model), resolveModelConfig(c.model), `${file}: the model of ${source.file}`);
    assert.deepEqual(source.c.data.train, c.data.source, `${file}: the source data of ${source.file}`);
    assert.equal(
      init,
      join(source.c.output, 'checkpoints', `ckpt-${String(source.c.train.iterations).padStart(7, '0')}.safetensors`),
      `${file}: the last checkpoint of ${source.file}`,
    );
    assert.equal(source.c.train.iterations + c.active.budget.rounds * c.rounds.train.iterations, 40000, file);
  }
});

test("DeepLabV2 ResNet-101 takes torchvision's ImageNet ResNet-101 weights: every key but fc.*, same shapes", () => {
  const fixture = JSON.parse(readFileSync(join(FIXTURES, 'model_keys.json'), 'utf8')) as Fixture;
  const imagenet = Object.entries(fixture.models.resnet101.keys);
  const model = buildModel({ kind: 'deeplabv2', backbone: 'resnet101', multiLevel: false }, 19);
  try {
    const ours = torch.tidy(() => new Map(Object.entries(model.stateDict()).map(([k, t]) => [k, t.shape])));
    const unused = imagenet.filter(([k]) => !ours.has(k)).map(([k]) => k);
    assert.deepEqual(unused, ['fc.weight', 'fc.bias']);
    const wrong = imagenet.filter(([k, shape]) => ours.has(k) && JSON.stringify(ours.get(k)) !== JSON.stringify(shape)).map(([k]) => k);
    assert.deepEqual(wrong, []);
    // What the file does not hold is the classifier: layer6, the ASPP head (trained from scratch).
    const missing = [...ours.keys()].filter((k) => !imagenet.some(([i]) => i === k));
    assert.ok(missing.length > 0 && missing.every((k) => k.startsWith('layer6.')), missing.join(', '));
  } finally {
    model.dispose();
  }
});
