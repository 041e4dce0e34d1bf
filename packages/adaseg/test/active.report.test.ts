// Results and report on hand-made numbers: mean and spread over seeds, area under the budget
// curve, labels saved versus random, the page's plot coordinates and escaping; RIPU's negative
// learning loss on a hand-made distribution.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'parse5';
import * as torch from '@adaseg/torch';
import { areaUnderCurve, buildResults, classesMissingInVal, firstReach, mIoUOver, type RawExperiment, stat } from '../src/report/results.js';
import { budgetPlot, renderReport, ticks } from '../src/report/html.js';
import { negativeLearningLoss } from '../src/experiment/round-training.js';

torch.setNumThreads(1);

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

test('stat, area under the budget curve and first reach, by hand', () => {
  const s = stat([0.5, 0.7]);
  close(s.mean, 0.6);
  close(s.std, Math.sqrt(0.02));
  assert.deepEqual([s.min, s.max, s.n], [0.5, 0.7, 2]);
  assert.equal(stat([0.4]).std, 0);
  // (0, 0.4) (1, 0.6) (3, 0.6): area 0.5 + 1.2 = 1.7 over a range of 3.
  close(areaUnderCurve([0, 1, 3], [0.4, 0.6, 0.6]), 1.7 / 3);
  close(areaUnderCurve([0], [0.3]), 0.3);
  close(firstReach([0, 1, 3], [0.4, 0.6, 0.7], 0.5)!, 0.5);
  close(firstReach([0, 1, 3], [0.4, 0.6, 0.7], 0.65)!, 2);
  assert.equal(firstReach([0, 1], [0.4, 0.5], 0.6), null);
  assert.equal(firstReach([0, 1], [0.7, 0.5], 0.6), 0);
  assert.deepEqual(ticks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
});

function raw(): RawExperiment {
  const curve = (m: number[], p = [0, 1, 2]) =>
    m.map((mIoU, round) => ({
      round,
      coveredPixels: p[round] * 10,
      labelledPixels: p[round] * 9,
      units: round * 3,
      percent: p[round],
      mIoU,
      iou: [mIoU, null, round === 0 ? null : 0.5],
    }));
  const evalOf = (mIoU: number) => ({ checkpoint: 'x', mIoU, pixelAccuracy: 0.9, iou: [mIoU, null, 0.1], classNames: ['a', 'b', 'c'] });
  return {
    name: 'hand <made> & "quoted"',
    classNames: ['a', 'b', 'c'],
    poolImages: 2,
    poolPixels: 1000,
    seeds: [0, 1],
    rounds: 2,
    budget: { kind: 'pixelPercent', total: 2, rounds: 2 },
    units: { kind: 'region', k: 1 },
    strategies: ['random', 'entropy <x>'],
    pipelineIterations: 20,
    runs: [
      { strategy: 'random', seed: 0, rounds: curve([0.3, 0.4, 0.5]) },
      { strategy: 'random', seed: 1, rounds: curve([0.3, 0.4, 0.5]) },
      { strategy: 'entropy <x>', seed: 0, rounds: curve([0.3, 0.5, 0.6]) },
      { strategy: 'entropy <x>', seed: 1, rounds: curve([0.3, 0.6, 0.6]) },
    ],
    baselines: [
      { seed: 0, sourceOnly: evalOf(0.2), full: evalOf(0.8) },
      { seed: 1, sourceOnly: evalOf(0.22), full: evalOf(0.6) },
    ],
    examples: [],
  };
}

test('buildResults: curves over seeds, per-class IoU, AUBC, share of full supervision, labels saved vs random', () => {
  const r = buildResults(raw());
  const [random, entropy] = r.strategies;
  assert.equal(r.baselines.random, 'random');
  assert.equal(r.baselines.udaOnly, undefined);
  close(r.baselines.full!.mIoU.mean, 0.7);
  close(entropy.curve[1].mIoU.mean, 0.55);
  close(entropy.curve[1].mIoU.std, Math.sqrt(0.005));
  close(entropy.final.mIoU.mean, 0.6);
  assert.deepEqual(entropy.final.iou, [0.6, null, 0.5]);
  close(random.aubc.mean, (0.35 + 0.45) / 2);
  close(entropy.aubc.mean, ((0.4 + 0.55) / 2 + (0.45 + 0.6) / 2) / 2);
  close(entropy.ofFull!, 0.6 / 0.7);
  assert.equal(random.vsRandom, null);
  // Random ends at 0.5 with 2%; entropy's mean curve (0.3, 0.55, 0.6) reaches 0.5 at 0.8%.
  assert.equal(entropy.vsRandom!.target, 0.5);
  close(entropy.vsRandom!.percentNeeded!, 0.8);
  close(entropy.vsRandom!.saved!, 0.6);
  assert.equal(r.baselines.sourceOnly!.perSeed.length, 2);
});

test('the mIoU over the classes in the validation labels: curves, finals, baselines, share of full', () => {
  // Class 'b' has no pixel in val: left out for every model; class 'c' counts even where it is 0.
  close(mIoUOver([0.6, 0, 0.2], [true, false, true]), 0.4);
  close(mIoUOver([0.6, null, null], [true, false, true]), 0.3);
  assert.throws(() => mIoUOver([0.5], [false]), /no class is marked/);
  const plain = buildResults(raw());
  assert.equal(plain.classesInVal, undefined, 'not counted: no second mIoU');
  assert.equal(plain.strategies[0].final.mIoUInVal, undefined);
  assert.deepEqual(classesMissingInVal(plain), []);
  const r = buildResults({ ...raw(), classesInVal: [true, false, true] });
  assert.deepEqual(r.classesInVal, [true, false, true]);
  assert.deepEqual(classesMissingInVal(r), ['b']);
  const entropy = r.strategies[1];
  // Round 1: seed 0 (0.5 + 0.5) / 2, seed 1 (0.6 + 0.5) / 2. Round 0: class c is null -> 0.
  close(entropy.curve[1].mIoUInVal!.mean, (0.5 + 0.55) / 2);
  close(entropy.curve[0].mIoUInVal!.mean, 0.15);
  close(entropy.final.mIoUInVal!.mean, (0.6 + 0.5) / 2);
  // Full: (0.8 + 0.1) / 2 and (0.6 + 0.1) / 2.
  close(r.baselines.full!.mIoUInVal!.mean, 0.4);
  close(entropy.ofFullInVal!, 0.55 / 0.4);
  close(r.baselines.sourceOnly!.mIoUInVal!.mean, (0.15 + 0.16) / 2);
  // The standard mIoU is untouched.
  close(entropy.final.mIoU.mean, 0.6);
  // Every class in val: the same columns as without the count.
  const all = buildResults({ ...raw(), classesInVal: [true, true, true] });
  assert.deepEqual(classesMissingInVal(all), []);
  assert.ok(!renderReport(all, []).includes('classes in val'));
  const html = renderReport(r, []);
  assert.match(html, /final mIoU % over the 2 classes in val/);
  assert.match(html, /id="classes-missing-in-val">The validation labels have no pixel of <b>b<\/b>/);
  assert.match(html, /<td class="num" data-value="0.55">55.00 ± 7.07<\/td>/);
});

test('the report page: escaped names, points where their values are, numbers in cells', () => {
  const results = buildResults(raw());
  const html = renderReport(results, []);
  assert.ok(!html.includes('entropy <x>'), 'names are escaped');
  assert.ok(html.includes('entropy &lt;x&gt;'));
  assert.ok(html.includes('hand &lt;made&gt; &amp; &quot;quoted&quot;'));
  const doc = parse(html);
  assert.ok(doc.childNodes.length > 0);
  const svg = budgetPlot(results);
  const circles = [...svg.matchAll(/<circle[^>]*data-strategy="([^"]+)"[^>]*data-x="([^"]+)" data-y="([^"]+)" cx="([^"]+)" cy="([^"]+)"/g)];
  assert.equal(circles.length, 6);
  // Higher mIoU is drawn higher (smaller y), more labels further right.
  const entropy = circles.filter((c) => c[1] === 'entropy &lt;x&gt;').map((c) => ({ x: Number(c[2]), y: Number(c[3]), cx: Number(c[4]), cy: Number(c[5]) }));
  assert.ok(entropy[1].cy < entropy[0].cy && entropy[1].cx > entropy[0].cx);
  assert.ok(svg.includes('data-baseline="full supervision" data-y="0.7"'));
  close(Number(/data-baseline="source only" data-y="([^"]+)"/.exec(svg)![1]), 0.21);
  assert.match(html, /<td class="num strong" data-value="0.6">60.00 ± 0.00<\/td>/);
  assert.match(html, /labels saved vs random/);
  assert.match(html, /No strategy beats random|Beating random/);
});

test("RIPU's negative learning: -log(1 - p) over the classes below the threshold, averaged over them", () => {
  torch.tidy(() => {
    // One pixel, probabilities softmax([log 0.9, log 0.08, log 0.02]) = [0.9, 0.08, 0.02].
    const logits = torch.tensor([Math.log(0.9), Math.log(0.08), Math.log(0.02)], { shape: [1, 3, 1, 1] });
    close(negativeLearningLoss(logits, 0.05).item() as number, -Math.log(1 - 0.02 + 1e-6), 1e-5);
    close(negativeLearningLoss(logits, 0.1).item() as number, (-Math.log(1 - 0.08 + 1e-6) - Math.log(1 - 0.02 + 1e-6)) / 2, 1e-5);
    close(negativeLearningLoss(logits, 0.01).item() as number, 0); // no complementary label: 0, not NaN
    const x = torch.tensor([Math.log(0.9), Math.log(0.08), Math.log(0.02)], { shape: [1, 3, 1, 1] }).requiresGrad_(true);
    negativeLearningLoss(x, 0.05).backward();
    const g = x.grad!.toTypedArray() as Float32Array;
    assert.ok(g[2] > 0, "gradient descent lowers the complementary class's logit");
  });
});
