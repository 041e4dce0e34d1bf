// The Markdown summary and `adaseg report`: numbers computed from a hand-made experiment.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildResults, type RawExperiment, type RawRun } from '../src/report/results.js';
import { LabelStore } from '../src/labels/store.js';
import { SELECTION_ERRORS_INFO_KEY } from '../src/active/selection-errors.js';
import { beatsRandom, labelComposition, markdownComposition, markdownSummary } from '../src/report/summary.js';
import { run } from '../src/cli/run.js';

function runOf(strategy: string, seed: number, mIoUs: number[]): RawRun {
  return {
    strategy,
    seed,
    rounds: mIoUs.map((mIoU, round) => ({
      round,
      coveredPixels: round * 10,
      labelledPixels: round * 9,
      units: round,
      percent: round,
      mIoU,
      iou: [mIoU, null],
    })),
  };
}

const evalOf = (mIoU: number) => ({ checkpoint: 'c', mIoU, pixelAccuracy: 0.9, iou: [mIoU, null], classNames: ['road', 'sky'] });

function experiment(): RawExperiment {
  return {
    name: 'hand-made',
    classNames: ['road', 'sky'],
    poolImages: 2,
    poolPixels: 1000,
    seeds: [0, 1],
    rounds: 2,
    budget: { kind: 'pixelPercent', total: 2, rounds: 2 } as RawExperiment['budget'],
    units: { kind: 'region', k: 1 } as RawExperiment['units'],
    strategies: ['random', 'ripu', 'entropy'],
    pipelineIterations: 300,
    runs: [
      runOf('random', 0, [0.3, 0.4, 0.5]),
      runOf('random', 1, [0.3, 0.42, 0.52]),
      runOf('ripu', 0, [0.3, 0.5, 0.6]),
      runOf('ripu', 1, [0.3, 0.52, 0.62]),
      runOf('entropy', 0, [0.3, 0.4, 0.45]),
      runOf('entropy', 1, [0.3, 0.44, 0.6]),
    ],
    baselines: [
      { seed: 0, sourceOnly: evalOf(0.2), udaOnly: evalOf(0.3), full: evalOf(0.7) },
      { seed: 1, sourceOnly: evalOf(0.22), udaOnly: evalOf(0.3), full: evalOf(0.72) },
    ],
    examples: [],
  };
}

test('beatsRandom compares the final mean margin with the larger seed spread', () => {
  const results = buildResults(experiment());
  const ripu = results.strategies.find((s) => s.strategy === 'ripu')!;
  const entropy = results.strategies.find((s) => s.strategy === 'entropy')!;
  const random = results.strategies.find((s) => s.strategy === 'random')!;
  const r = beatsRandom(results, ripu)!;
  assert.ok(Math.abs(r.margin - 0.1) < 1e-12);
  assert.ok(Math.abs(r.spread - Math.sqrt(0.0002)) < 1e-12);
  assert.equal(r.beats, true);
  // entropy: final 0.525 vs 0.51, spread sd(0.45, 0.6) = 0.106: not beyond the spread.
  assert.equal(beatsRandom(results, entropy)!.beats, false);
  assert.equal(beatsRandom(results, random), null);
});

test('markdownSummary tabulates the baselines, curves, shares of full and per-class IoU', () => {
  const md = markdownSummary(buildResults(experiment()));
  assert.match(md, /\| source only \| 21\.0 ± 1\.4 \| 20\.0, 22\.0 \|/);
  assert.match(md, /\| full supervision \(300 iterations\) \| 71\.0 ± 1\.4 \| 70\.0, 72\.0 \|/);
  assert.match(md, /\| ripu \| 30\.0 ± 0\.0 @ 0\.00% \| 51\.0 ± 1\.4 @ 1\.00% \| 61\.0 ± 1\.4 @ 2\.00% \|/);
  assert.match(md, /\| ripu \|.*\| \+10\.0 \(1\.4\) \*\*beats\*\* \|/);
  assert.match(md, /\| entropy \|.*\| \+1\.5 \(10\.6\) \|/);
  // 61 / 71 of full supervision after the last round.
  assert.match(md, /\| ripu \|.*\| 85\.9% \|/);
  assert.match(md, /\| road \| 51\.0 \| 61\.0 \| 52\.5 \| 21\.0 \| 30\.0 \| 71\.0 \|/);
  assert.match(md, /\| sky \| - \| - \| - \| - \| - \| - \|/);
});

test('markdownSummary adds the mIoU over the classes in val when one is missing there', () => {
  assert.ok(!markdownSummary(buildResults({ ...experiment(), classesInVal: [true, true] })).includes('classes in val'));
  // 'sky' has no pixel in val: road's IoU alone.
  const md = markdownSummary(buildResults({ ...experiment(), classesInVal: [true, false] }));
  assert.match(md, /\| baseline \| mIoU \| mIoU over the 1 classes in val \| per seed \|/);
  assert.match(md, /\| full supervision \(300 iterations\) \| 71\.0 ± 1\.4 \| 71\.0 ± 1\.4 \| 70\.0, 72\.0 \|/);
  assert.match(md, /\| ripu \|.*\| 85\.9% \| 61\.0 ± 1\.4 \| 85\.9% \|/);
  assert.match(md, /no pixel of sky/);
});

test('adaseg report prints the summary and writes the plot; errors name the missing file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-report-'));
  try {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    assert.equal(await run(['report', '--run', dir], io), 1);
    assert.match(err.join('\n'), /results\.json not found/);
    assert.equal(await run(['report'], io), 2);
    writeFileSync(join(dir, 'results.json'), JSON.stringify(buildResults(experiment())));
    const svg = join(dir, 'plot.svg');
    assert.equal(await run(['report', '--run', dir, '--svg', svg], io), 0);
    assert.match(out.join('\n'), /\| strategy \| start \| round 1 \| round 2 \|/);
    assert.match(readFileSync(svg, 'utf8'), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*id="budget-plot"/);
    out.length = 0;
    assert.equal(await run(['report', '--run', dir, '--json'], io), 0);
    assert.equal(JSON.parse(out.join('')).format, 'adaseg-active-results/1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('labelComposition reads void share, images touched and class mix per strategy from the store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-composition-'));
  const store = LabelStore.open(join(dir, 'labels.sqlite'));
  try {
    const images = [0, 1, 2].map((index) => ({ id: `im${index}`, index, width: 4, height: 2 }));
    const spec = (strategy: string, seed: number) => ({ strategy, seed, units: { kind: 'pixel' } as never, classNames: ['road', 'sky'], images });
    const provenance = { round: 1, strategy: 'x', checkpoint: null, annotator: 'simulated', seconds: 0 };
    const unit = (imageId: string, unit: number, pixels: number[], values: number[]) => ({
      imageId,
      unit,
      pixelIndices: Uint32Array.from(pixels),
      values: Uint8Array.from(values),
    });
    store.ensureRun('ripu-region-k-1/seed-0', spec('ripu', 0));
    store.ensureRun('ripu-region-k-1/seed-1', spec('ripu', 1));
    store.ensureRun('random/seed-0', spec('random', 0));
    // ripu seed 0: 4 pixels in im0 (one void = 255); seed 1: 2 pixels in im1 and 2 in im2.
    store.labelUnits('ripu-region-k-1/seed-0', [unit('im0', 0, [0, 1, 2, 3], [0, 1, 1, 255])], provenance);
    store.labelUnits('ripu-region-k-1/seed-1', [unit('im1', 0, [0, 1], [1, 1]), unit('im2', 0, [5, 6], [0, 1])], provenance);
    store.labelUnits('random/seed-0', [unit('im2', 0, [0], [0])], provenance);
    // What the loop records per evaluated round: ripu's choosing models had 2 of 3 and 1 of 4 wrong.
    for (const [run, errors] of [
      ['ripu-region-k-1/seed-0', { labelled: 3, wrong: 2 }],
      ['ripu-region-k-1/seed-1', { labelled: 4, wrong: 1 }],
    ] as const) {
      store.saveSelection(run, 1, [], { scoredWith: 'ckpt' });
      store.setPhase(run, 1, 'evaluated', { info: { mIoU: 0.5, [SELECTION_ERRORS_INFO_KEY]: errors } });
    }
    const rows = labelComposition(store, ['random', 'ripu-region-k-1', 'kmeans']);
    assert.deepEqual(
      rows.map((r) => r.strategy),
      ['random', 'ripu-region-k-1'],
    );
    const ripu = rows[1];
    assert.equal(ripu.runs, 2);
    assert.equal(ripu.coveredPixels, 4);
    assert.equal(ripu.voidShare, 1 / 8);
    assert.equal(ripu.imagesTouched, 1.5);
    assert.deepEqual(ripu.classShare, [2 / 7, 5 / 7]);
    assert.deepEqual(rows[0].classShare, [1, 0]);
    assert.equal(ripu.modelWrongShare, 3 / 7);
    assert.equal(rows[0].modelWrongShare, null, 'no round recorded it');
    const md = markdownComposition(rows, ['road', 'sky'], 3);
    assert.match(md, /\| ripu-region-k-1 \| 4 \| 12\.5% \| 42\.9% \| 1\.5 \| 28\.6 \| 71\.4 \|/);
    assert.match(md, /\| random \| 1 \| 0\.0% \| - \| 1\.0 \| 100\.0 \| 0\.0 \|/);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
