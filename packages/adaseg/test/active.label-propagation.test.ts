// Label propagation: a superpixel whose labelled pixels agree passes its class to its unknown
// pixels; disagreeing or unlabelled superpixels, labelled pixels and bought void pixels stay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { propagateLabels } from '../src/experiment/label-propagation.js';
import { parseExperimentConfig } from '../src/experiment/config.js';

const U = 255;

test("propagateLabels spreads a superpixel's single class over its unknown pixels, and nothing else", () => {
  // A 6x2 image in four superpixels of 3 pixels:
  //   0 0 0 1 1 1
  //   2 2 2 3 3 3
  const segmentation = { labels: Int32Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]), count: 4 };
  const mask = Uint8Array.from([
    4,
    U,
    U,
    /* sp 1: two classes */ 1,
    2,
    U,
    /* sp 2: nothing labelled */ U,
    U,
    U,
    /* sp 3: class 0 and a bought void pixel */ 0,
    U,
    U,
  ]);
  const covered = Uint8Array.from([1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0]);
  const out = propagateLabels(mask, segmentation, 5, covered);
  assert.deepEqual([...out], [4, 4, 4, 1, 2, U, U, U, U, 0, U, 0]);
  assert.deepEqual([...mask].slice(0, 3), [4, U, U], 'the input is not changed');
  // Without the covered mask the void pixel is taken as unknown too.
  assert.deepEqual([...propagateLabels(mask, segmentation, 5)].slice(9), [0, 0, 0]);
  // Values >= classes are not labels (255 and any other id past the classes).
  assert.deepEqual([...propagateLabels(Uint8Array.from([U, 7, U, U, U, U, U, U, U, U, U, U]), segmentation, 5)], [U, 7, U, U, U, U, U, U, U, U, U, U]);

  assert.throws(() => propagateLabels(mask.slice(1), segmentation, 5), /a mask of 11 pixels and a segmentation of 12/);
  assert.throws(() => propagateLabels(mask, segmentation, 5, covered.slice(2)), /a covered mask of 10/);
  assert.throws(() => propagateLabels(mask, { labels: segmentation.labels, count: 2 }, 5), /pixel 9 is in superpixel 3, outside 0\.\.1/);
  assert.throws(() => propagateLabels(mask, segmentation, 0), /classes must be an integer in \[1, 254\]/);
});

test('rounds.labelPropagation is parsed with defaults and checked; absent, the config has no such field', () => {
  const synthetic = (style: string, count: number) => ({ format: 'synthetic', style, count, width: 16, height: 12, seed: 1 });
  const base = (rounds: Record<string, unknown>) => ({
    name: 'lp',
    output: '/tmp/adaseg-lp-config',
    data: { source: synthetic('source', 2), pool: synthetic('target', 2), val: synthetic('target', 1) },
    source: { train: { iterations: 1 } },
    active: { units: { kind: 'region', k: 1 }, budget: { kind: 'pixelPercent', total: 2, rounds: 1 }, strategies: ['random'] },
    rounds: { train: { iterations: 1 }, ...rounds },
  });
  assert.deepEqual(parseExperimentConfig(base({ labelPropagation: {} }), '/tmp').rounds.labelPropagation, { superpixelSize: 30, compactness: 10 });
  assert.deepEqual(parseExperimentConfig(base({ labelPropagation: { superpixelSize: 60, compactness: 20 } }), '/tmp').rounds.labelPropagation, {
    superpixelSize: 60,
    compactness: 20,
  });
  assert.equal('labelPropagation' in parseExperimentConfig(base({}), '/tmp').rounds, false);
  assert.throws(
    () => parseExperimentConfig(base({ labelPropagation: { superpixelSize: 2 } }), '/tmp'),
    /config\.rounds\.labelPropagation\.superpixelSize must be an integer >= 4, got 2/,
  );
  assert.throws(() => parseExperimentConfig(base({ labelPropagation: { size: 30 } }), '/tmp'), /config\.rounds\.labelPropagation has an unknown key 'size'/);
});
