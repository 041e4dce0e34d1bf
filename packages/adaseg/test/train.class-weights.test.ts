// Per-class loss weights (train.classWeights): median frequency balancing on hand-made counts, the
// weighted masked cross-entropy against its formula, config checks with clear errors, and a
// training run that counts the labels, logs the weights and trains differently from a plain mean.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { parseExperimentConfig } from '../src/experiment/config.js';
import { maskedCrossEntropy } from '../src/train/losses.js';
import { loadDataset } from '../src/data/formats/index.js';
import { inspectDataset } from '../src/data/inspect.js';
import { medianFrequencyWeights, resolveClassWeights } from '../src/train/class-weights.js';
import { parseTrainConfig } from '../src/train/config.js';
import { trainSupervised } from '../src/train/supervised.js';

const synthetic = (count: number) => ({ format: 'synthetic', style: 'source', count, width: 40, height: 32, seed: 3 });

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'adaseg-class-weights-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('median frequency balancing', () => {
  test('median / frequency over the classes present; an absent class gets the largest weight', () => {
    // Present: 10, 20, 30 (median 20); class 3 never occurs.
    const w = medianFrequencyWeights([10, 30, 20, 0]);
    assert.deepEqual(
      w.map((x) => Number(x.toFixed(6))),
      [2, 0.666667, 1, 2],
    );
    // An even number of classes present: the mean of the two middle counts.
    assert.deepEqual(medianFrequencyWeights([10, 20, 30, 40]), [2.5, 1.25, 25 / 30, 0.625]);
    assert.throws(() => medianFrequencyWeights([0, 0]), /no labelled pixel/);
  });

  test('on a dataset: the counts of inspectDataset; a given list must have one weight per class', async () => {
    const ds = await loadDataset(parseTrainConfig({ data: { train: synthetic(6) } }).data.train);
    const report = await inspectDataset(ds);
    const lines: string[] = [];
    const w = await resolveClassWeights('medianFrequency', ds, (l) => lines.push(l));
    assert.deepEqual(w, medianFrequencyWeights(report.classPixels.map((c) => c.pixels)));
    assert.match(lines.join('\n'), /class weights \(median frequency over synthetic-source\): sky [\d.]+, road [\d.]+/);
    // Road and sky own most pixels: they weigh less than people.
    const names = ds.classes.names;
    assert.ok(w![names.indexOf('person')] > w![names.indexOf('road')]);
    // Its square root: the same order of classes, half the spread (in log terms); no second count.
    const quiet: string[] = [];
    const sqrt = await resolveClassWeights('sqrtMedianFrequency', ds, (l) => quiet.push(l));
    assert.deepEqual(sqrt, w!.map(Math.sqrt));
    assert.deepEqual(quiet, [], 'the counts are cached per dataset');
    assert.equal(await resolveClassWeights('none', ds), null);
    assert.deepEqual(await resolveClassWeights([1, 2, 3, 4, 5, 6], ds), [1, 2, 3, 4, 5, 6]);
    await assert.rejects(
      resolveClassWeights([1, 2], ds),
      /2 weights given, but synthetic-source has 6 classes \(sky, road, building, vehicle, person, vegetation\)/,
    );
  });
});

describe('weighted masked cross-entropy', () => {
  test('sum of w[y] x loss over labelled pixels / sum of their w[y]; 0 without labelled pixels', () => {
    const before = torch.memory().tensors;
    torch.tidy(() => {
      // 2 classes, 1x1x4 pixels; pixel 3 ignored.
      const logits = torch.tensor([[[[2, 0, 1, 5]], [[0, 1, 1, -5]]]]);
      const labels = torch.tensor([[[0, 1, 1, 255]]], { dtype: 'int64' });
      const weight = torch.tensor([1, 3]);
      const nll = (a: number, b: number, y: number) => Math.log(Math.exp(a) + Math.exp(b)) - (y === 0 ? a : b);
      const expected = (1 * nll(2, 0, 0) + 3 * nll(0, 1, 1) + 3 * nll(1, 1, 1)) / (1 + 3 + 3);
      assert.ok(Math.abs((maskedCrossEntropy(logits, labels, 255, weight).item() as number) - expected) < 1e-5);
      const plain = (nll(2, 0, 0) + nll(0, 1, 1) + nll(1, 1, 1)) / 3;
      assert.ok(Math.abs((maskedCrossEntropy(logits, labels).item() as number) - plain) < 1e-5);
      const none = torch.full([1, 1, 4], 255, { dtype: 'int64' });
      assert.equal(maskedCrossEntropy(logits, none, 255, weight).item(), 0);
    });
    assert.equal(torch.memory().tensors, before, 'no tensor left');
  });
});

describe('config', () => {
  test('train sections take none, medianFrequency or positive numbers; anything else is a clear error', () => {
    const train = (classWeights: unknown) => parseTrainConfig({ data: { train: synthetic(2) }, train: { iterations: 2, classWeights } }).train.classWeights;
    // Absent unless given: configs written before the option keep their fingerprint.
    assert.ok(!('classWeights' in parseTrainConfig({ data: { train: synthetic(2) } }).train));
    assert.equal(train('medianFrequency'), 'medianFrequency');
    assert.equal(train('sqrtMedianFrequency'), 'sqrtMedianFrequency');
    assert.equal(train('none'), undefined);
    assert.deepEqual(train([1, 0.5]), [1, 0.5]);
    assert.throws(
      () => train('balanced'),
      /config\.train\.classWeights expected 'none', 'medianFrequency', 'sqrtMedianFrequency' or a list of positive numbers \(one per class\), got "balanced"/,
    );
    assert.throws(() => train([1, 0]), /config\.train\.classWeights expected .* got \[1,0\]/);
    assert.throws(() => train([]), /config\.train\.classWeights/);
    // Experiments read the same train sections.
    const experiment = parseExperimentConfig({
      output: join(root, 'exp'),
      data: { source: synthetic(2), pool: { ...synthetic(2), style: 'target' }, val: { ...synthetic(2), style: 'target' } },
      source: { train: { iterations: 2, classWeights: 'medianFrequency' } },
      active: { units: { kind: 'region', k: 1 }, budget: { kind: 'pixelPercent', total: 1, rounds: 1 }, strategies: ['random'] },
      annotator: { kind: 'simulated' },
      rounds: { train: { iterations: 2, classWeights: [1, 1, 1, 1, 2, 1] } },
    });
    assert.equal(experiment.source.kind === 'train' && experiment.source.train.classWeights, 'medianFrequency');
    assert.deepEqual(experiment.rounds.train.classWeights, [1, 1, 1, 1, 2, 1]);
  });
});

describe('training with class weights', () => {
  test('adaseg train logs the weights and trains differently from the plain mean', async () => {
    const run = async (name: string, classWeights: unknown) => {
      const lines: string[] = [];
      await trainSupervised(
        parseTrainConfig({
          name,
          output: join(root, name),
          seed: 1,
          model: { kind: 'unet', baseWidth: 4, depth: 2 },
          data: { train: synthetic(4), batchSize: 2, workers: 0, transforms: [] },
          train: { iterations: 3, optimizer: { kind: 'sgd', lr: 0.05 }, checkpointEvery: 3, logEvery: 1, classWeights },
        }),
        { log: (l) => lines.push(l) },
      );
      const losses = readFileSync(join(root, name, 'train.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((r) => typeof r.loss === 'number')
        .map((r) => r.loss as number);
      return { lines, losses };
    };
    const plain = await run('plain', 'none');
    const weighted = await run('weighted', 'medianFrequency');
    assert.ok(!plain.lines.some((l) => l.includes('class weights')));
    assert.ok(
      weighted.lines.some((l) => /class weights \(median frequency/.test(l)),
      weighted.lines.join('\n'),
    );
    assert.equal(plain.losses.length, 3);
    assert.equal(weighted.losses.length, 3);
    for (const l of weighted.losses) assert.ok(Number.isFinite(l));
    assert.notDeepEqual(weighted.losses, plain.losses);
  });
});
