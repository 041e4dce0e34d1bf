// Every strategy on hand-made inputs whose right answer is known by hand: the uncertainty
// measures, BALD, random, unit averaging and exclusion of labelled pixels, the budgets and
// per-image shares of selection, k-means, core-set, BADGE, the hybrid, AADA, RIPU (both
// variants, with RIPU's suppression), MADA and the mix; then the config parser and createStrategy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '@adaseg/torch';
import {
  AadaStrategy,
  BadgeStrategy,
  BaldStrategy,
  BatchUnits,
  checkSelectionSetup,
  ClassBalancedStrategy,
  CoresetStrategy,
  createStrategy,
  HybridStrategy,
  KMeansStrategy,
  describeStrategy,
  MadaStrategy,
  MixStrategy,
  parseBudgetConfig,
  parseStrategyConfig,
  parseUnitConfig,
  RandomStrategy,
  RipuStrategy,
  seededRandom,
  selectTopScores,
  STRATEGY_KINDS,
  takeInOrder,
  UncertaintyStrategy,
  type BatchInputs,
  type SelectionContext,
  type UnitConfig,
  type UnitRecord,
} from '../src/active/index.js';
import { slug } from '../src/labels/store.js';
import { ConfigError } from '../src/util/config-reader.js';

torch.setNumThreads(1);

const PIXEL: UnitConfig = { kind: 'pixel' };
const REGION: UnitConfig = { kind: 'region', k: 1 };

/** Probabilities [N, C, H, W] from per-pixel vectors given image by image, row-major. */
function probs(pixels: number[][][], H: number, W: number): torch.Tensor {
  const N = pixels.length,
    C = pixels[0][0].length;
  const data = new Float32Array(N * C * H * W);
  pixels.forEach((img, n) => img.forEach((p, i) => p.forEach((v, c) => (data[(n * C + c) * H * W + i] = v))));
  return torch.tensor(data, { shape: [N, C, H, W] });
}

function batch(N: number, H: number, W: number, extra: Partial<BatchInputs> = {}, labelled?: number[][]): BatchInputs {
  const mask = new Uint8Array(N * H * W);
  labelled?.forEach((img, n) => img.forEach((p) => (mask[n * H * W + p] = 1)));
  return {
    images: Array.from({ length: N }, (_, i) => i),
    imageIds: Array.from({ length: N }, (_, i) => `img${i}`),
    labelled: torch.tidy(() => torch.tensor(mask, { shape: [N, H, W] }).bool()),
    seed: 7,
    keepPerImage: Infinity,
    ...extra,
  };
}

function ctx(budget: SelectionContext['budget'], ranking: SelectionContext['ranking'] = 'global', seed = 1): SelectionContext {
  return { budget, ranking, random: seededRandom(seed) };
}

function close(a: number | undefined, b: number, what = '', tol = 1e-5): void {
  assert.ok(a !== undefined && Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
}

const H3 = (ps: number[]) => -ps.reduce((s, p) => s + (p > 0 ? p * Math.log(p) : 0), 0);

test('least confidence, margin and entropy per pixel, by hand', () => {
  torch.tidy(() => {
    const p = probs(
      [
        [
          [1, 0, 0],
          [0.6, 0.3, 0.1],
          [1 / 3, 1 / 3, 1 / 3],
        ],
      ],
      1,
      3,
    );
    const inputs = batch(1, 1, 3, { probabilities: p });
    const scores = (s: UncertaintyStrategy) => s.scoreBatch(inputs, PIXEL).map((r) => r.score!);
    const lc = scores(new UncertaintyStrategy('leastConfidence'));
    [0, 0.4, 2 / 3].forEach((v, i) => close(lc[i], v, `lc ${i}`));
    const margin = scores(new UncertaintyStrategy('margin'));
    // 1 - (best - second): the smaller the margin, the higher the score.
    [0, 0.7, 1].forEach((v, i) => close(margin[i], v, `margin ${i}`));
    const ent = scores(new UncertaintyStrategy('entropy'));
    [0, H3([0.6, 0.3, 0.1]), Math.log(3)].forEach((v, i) => close(ent[i], v, `entropy ${i}`));
    const s = new UncertaintyStrategy('margin');
    assert.deepEqual(
      s.select(s.scoreBatch(inputs, PIXEL), ctx({ units: 2 })).map((r) => r.unit),
      [2, 1],
    );
  });
});

test('BALD: mutual information over MC samples, by hand', () => {
  torch.tidy(() => {
    // T = 2 passes, one image of 3 pixels, 2 classes.
    const t0 = probs(
      [
        [
          [1, 0],
          [0.5, 0.5],
          [0.9, 0.1],
        ],
      ],
      1,
      3,
    );
    const t1 = probs(
      [
        [
          [0, 1],
          [0.5, 0.5],
          [0.9, 0.1],
        ],
      ],
      1,
      3,
    );
    const s = new BaldStrategy(2);
    assert.deepEqual(s.needs, ['mcSamples']);
    assert.equal(s.settings.mcPasses, 2);
    const r = s.scoreBatch(batch(1, 1, 3, { mcSamples: torch.stack([t0, t1], 0) }), PIXEL);
    // Disagreeing confident passes: H(mean) - mean H = log 2 - 0; agreeing passes: 0, however uncertain.
    close(r[0].score, Math.log(2), 'disagreement');
    close(r[1].score, 0, 'agreeing uniform');
    close(r[2].score, 0, 'agreeing confident');
  });
});

test('units average over their unlabelled pixels only; fully labelled units are not candidates', () => {
  torch.tidy(() => {
    // 3 x 6 image: two 3x3 regions. Left region: entropy log 2 on its top row, 0 elsewhere.
    const pix: number[][] = [];
    for (let y = 0; y < 3; y++) for (let x = 0; x < 6; x++) pix.push(y === 0 && x < 3 ? [0.5, 0.5] : [1, 0]);
    const p = probs([pix], 3, 6);
    const s = new UncertaintyStrategy('entropy');
    let r = s.scoreBatch(batch(1, 3, 6, { probabilities: p }), REGION);
    assert.deepEqual(
      r.map((x) => [x.unit, x.pixels]),
      [
        [0, 9],
        [1, 9],
      ],
    );
    close(r[0].score, (3 * Math.log(2)) / 9, 'region mean');
    // Label the right region fully and the left region's bottom row: the right is gone, the left
    // costs 6 pixels and averages over them.
    r = s.scoreBatch(batch(1, 3, 6, { probabilities: p }, [[3, 4, 5, 9, 10, 11, 15, 16, 17, 12, 13, 14]]), REGION);
    assert.deepEqual(
      r.map((x) => [x.unit, x.pixels]),
      [[0, 6]],
    );
    close(r[0].score, (3 * Math.log(2)) / 6, 'mean over unlabelled');
    // Image units: one record per image.
    r = s.scoreBatch(batch(1, 3, 6, { probabilities: p }), { kind: 'image' });
    assert.equal(r.length, 1);
    close(r[0].score, (3 * Math.log(2)) / 18, 'image mean');
    // keepPerImage: only the best records of each image are made.
    r = s.scoreBatch(batch(1, 3, 6, { probabilities: p, keepPerImage: 2 }), PIXEL);
    assert.deepEqual(
      r.map((x) => x.unit),
      [0, 1],
    );
  });
});

test('random: reproducible from the seed, independent of batching, labelled units excluded', () => {
  torch.tidy(() => {
    const s = new RandomStrategy();
    assert.deepEqual(s.needs, []);
    const all = s.scoreBatch(batch(2, 3, 6), REGION);
    const again = s.scoreBatch(batch(2, 3, 6), REGION);
    assert.deepEqual(all, again);
    // The second image alone (as in another batch) gets the same scores.
    const alone = s.scoreBatch({ ...batch(1, 3, 6), images: [1], imageIds: ['img1'] }, REGION);
    assert.deepEqual(
      alone,
      all.filter((r) => r.image === 1),
    );
    const other = s.scoreBatch({ ...batch(2, 3, 6), seed: 8 }, REGION);
    assert.notDeepEqual(
      other.map((r) => r.score),
      all.map((r) => r.score),
    );
    assert.ok(all.every((r) => r.score! >= 0 && r.score! < 1));
    const labelled = s.scoreBatch(batch(2, 3, 6, {}, [[0, 1, 2, 6, 7, 8, 12, 13, 14], []]), REGION);
    assert.deepEqual(
      labelled.map((r) => `${r.image}:${r.unit}`),
      ['0:1', '1:0', '1:1'],
    );
    const chosen = s.select(all, ctx({ units: 2 }, 'perImage'));
    assert.deepEqual(chosen.map((r) => r.image).sort(), [0, 1], 'per image: one unit each');
  });
});

test('class-balanced random: the predicted class of each unit, budget moved to rare predicted classes, power 0 = random', () => {
  torch.tidy(() => {
    // One 10x10 image: the model predicts class 1 on the first 10 pixels, class 0 elsewhere.
    const H = 10,
      W = 10;
    const p = probs([Array.from({ length: H * W }, (_, i) => (i < 10 ? [0.3, 0.7] : [0.8, 0.2]))], H, W);
    const picksOfRare = (power: number, seed: number) => {
      const s = new ClassBalancedStrategy(power);
      const records = s.scoreBatch(batch(1, H, W, { probabilities: p, seed }), PIXEL);
      return s.select(records, ctx({ units: 10 })).filter((r) => r.unit < 10).length;
    };
    let balanced = 0,
      plain = 0;
    for (let seed = 0; seed < 40; seed++) {
      balanced += picksOfRare(1, seed);
      plain += picksOfRare(0, seed);
    }
    // Plain random: 10 picks x 10% = 1 expected; power 1 gives both classes equal weight in total.
    assert.ok(plain / 40 > 0.5 && plain / 40 < 1.6, `power 0: ${plain / 40} rare picks on average`);
    assert.ok(balanced / 40 > 3.5, `power 1: ${balanced / 40} rare picks on average`);
    // Power 0 chooses exactly what random chooses from the same seed.
    const random = new RandomStrategy(),
      flat = new ClassBalancedStrategy(0);
    const pick = (s: RandomStrategy | ClassBalancedStrategy) =>
      s.select(s.scoreBatch(batch(1, H, W, { probabilities: p, seed: 3 }), PIXEL), ctx({ units: 7 })).map((r) => r.unit);
    assert.deepEqual(pick(flat), pick(random));
    // Region units: the group is the majority predicted class over the unlabelled pixels.
    const q = probs([Array.from({ length: 9 }, (_, i) => (i < 4 ? [0.9, 0.1] : [0.1, 0.9]))], 3, 3);
    const s = new ClassBalancedStrategy();
    assert.deepEqual(
      s.scoreBatch(batch(1, 3, 3, { probabilities: q }), REGION).map((r) => r.group),
      [1],
    );
    assert.deepEqual(
      s.scoreBatch(batch(1, 3, 3, { probabilities: q }, [[4, 5, 6]]), REGION).map((r) => r.group),
      [0],
    );
    assert.throws(() => s.select([rec(0, 0, 9, 0.5)], ctx({ units: 1 })), /classBalanced: record of unit 0 of 'img0' has no predicted class/);
  });
});

function rec(image: number, unit: number, pixels: number, score?: number, embedding?: number[]): UnitRecord {
  return {
    image,
    imageId: `img${image}`,
    unit,
    pixels,
    ...(score !== undefined ? { score } : {}),
    ...(embedding ? { embedding: Float32Array.from(embedding) } : {}),
  };
}

test('selection: unit and pixel budgets (never over), global and per-image ranking with shares', () => {
  const records = [rec(0, 0, 9, 0.9), rec(0, 1, 6, 0.8), rec(0, 2, 9, 0.7), rec(1, 0, 9, 0.3), rec(1, 1, 4, 0.2), rec(2, 0, 9, 0.1)];
  const ids = (rs: { image: number; unit: number }[]) => rs.map((r) => `${r.image}:${r.unit}`);
  assert.deepEqual(ids(selectTopScores(records, ctx({ units: 3 }))), ['0:0', '0:1', '0:2']);
  // 20 pixels: 9 + 6 fit, the next 9 does not (5 left), a 4-pixel unit further down does.
  assert.deepEqual(ids(selectTopScores(records, ctx({ pixels: 20 }))), ['0:0', '0:1', '1:1']);
  // Per image: 3 units over 3 images, one each, best of each image.
  assert.deepEqual(ids(selectTopScores(records, ctx({ units: 3 }, 'perImage'))), ['0:0', '1:0', '2:0']);
  // 4 units over 3 images: the first image gets the remainder.
  assert.deepEqual(ids(selectTopScores(records, ctx({ units: 4 }, 'perImage'))), ['0:0', '0:1', '1:0', '2:0']);
  // Unused shares are filled globally: image 2 has one unit, its share of 2 leaves one over.
  assert.deepEqual(ids(selectTopScores(records, ctx({ units: 6 }, 'perImage'))).sort(), ['0:0', '0:1', '0:2', '1:0', '1:1', '2:0']);
  assert.deepEqual(takeInOrder(records, { pixels: 0 }), []);
  assert.throws(() => selectTopScores(records, ctx({ units: 1, pixels: 3 })), /exactly one of units and pixels/);
});

test('k-means: picks the unit nearest each centroid of well-separated clusters', () => {
  // Three clusters on a line around 0, 10 and 20; the middle member of each is nearest its centroid.
  const records = [-1, 0, 1, 9, 10, 11, 19, 20, 21].map((x, i) => rec(0, i, 9, undefined, [x, 0]));
  const s = new KMeansStrategy();
  for (const seed of [1, 2, 3]) {
    const chosen = s
      .select(records, ctx({ units: 3 }, 'global', seed))
      .map((r) => r.unit)
      .sort((a, b) => a - b);
    assert.deepEqual(chosen, [1, 4, 7], `seed ${seed}`);
  }
  // The embedding of a unit is its mean feature.
  torch.tidy(() => {
    const features = torch.arange(0, 18).float().reshape([1, 1, 3, 6]);
    const r = s.scoreBatch(batch(1, 3, 6, { features }), REGION);
    assert.deepEqual(
      r.map((x) => [...x.embedding!]),
      [[7], [10]],
    );
    assert.equal(r[0].score, undefined);
  });
});

test('core-set: k-center greedy from the labelled units, farthest first', () => {
  const records: UnitRecord[] = [0, 1, 2, 10, 11].map((x, i) => rec(0, i + 1, 1, undefined, [x]));
  records.push({ image: 0, imageId: 'img0', unit: 0, pixels: 0, reference: true, embedding: Float32Array.of(0) });
  const s = new CoresetStrategy();
  // Farthest from 0 is 11; then from {0, 11} the farthest is 2 (distance 2; 10 is 1 from 11).
  assert.deepEqual(
    s.select(records, ctx({ units: 2 })).map((r) => r.unit),
    [5, 3],
  );
  // Fully labelled units come back as references.
  torch.tidy(() => {
    const features = torch.arange(0, 18).float().reshape([1, 1, 3, 6]);
    const r = s.scoreBatch(batch(1, 3, 6, { features }, [[0, 1, 2, 6, 7, 8, 12, 13, 14]]), REGION);
    assert.deepEqual(
      r.map((x) => [x.unit, x.reference ?? false, x.pixels]),
      [
        [1, false, 9],
        [0, true, 0],
      ],
    );
  });
});

test('BADGE: largest gradient first, then k-means++ draws away from it', () => {
  const records = [rec(0, 0, 1, undefined, [0.1, 0]), rec(0, 1, 1, undefined, [5, 0]), rec(0, 2, 1, undefined, [5.01, 0]), rec(0, 3, 1, undefined, [0, -3])];
  const s = new BadgeStrategy();
  for (const seed of [1, 2, 3, 4]) {
    const chosen = s.select(records, ctx({ units: 2 }, 'global', seed)).map((r) => r.unit);
    // First the largest norm (unit 2); the near-duplicate unit 1 has almost no chance next.
    assert.equal(chosen[0], 2);
    assert.notEqual(chosen[1], 1, `seed ${seed}`);
  }
  torch.tidy(() => {
    const g = torch.tensor([
      [
        [3, 4],
        [0, 1],
      ],
    ]);
    const r = s.scoreBatch(batch(1, 1, 2, { gradientEmbedding: g }), PIXEL);
    assert.deepEqual(
      r.map((x) => x.score),
      [5, 1],
    );
  });
});

test('hybrid: diversity among the most uncertain candidates only', () => {
  // Units 0-3 are the most uncertain; 0, 1 share a feature, 2, 3 another; 4, 5 are certain.
  const records = [
    rec(0, 0, 1, 0.9, [0, 0]),
    rec(0, 1, 1, 0.85, [0.1, 0]),
    rec(0, 2, 1, 0.8, [10, 0]),
    rec(0, 3, 1, 0.75, [10.1, 0]),
    rec(0, 4, 1, 0.1, [50, 0]),
    rec(0, 5, 1, 0.05, [-50, 0]),
  ];
  const s = new HybridStrategy('entropy', 2);
  for (const seed of [1, 2, 3]) {
    const chosen = s
      .select(records, ctx({ units: 2 }, 'global', seed))
      .map((r) => r.unit)
      .sort();
    assert.equal(chosen.length, 2);
    assert.ok(
      chosen.every((u) => u <= 3),
      `only candidates: ${chosen}`,
    );
    assert.ok(chosen[0] <= 1 && chosen[1] >= 2, `one per cluster: ${chosen}`);
  }
  assert.deepEqual(s.needs, ['probabilities', 'features']);
});

test('AADA: importance weight t / (1 - t) times entropy', () => {
  torch.tidy(() => {
    const p = probs(
      [
        [
          [0.5, 0.5],
          [0.5, 0.5],
          [1, 0],
        ],
      ],
      1,
      3,
    );
    const t = torch.tensor([[[0.5, 0.8, 0.99]]]);
    const r = new AadaStrategy().scoreBatch(batch(1, 1, 3, { probabilities: p, targetness: t }), PIXEL);
    close(r[0].score, Math.log(2), 'looks half target: weight 1');
    close(r[1].score, 4 * Math.log(2), 'more target-like: weight 4', 1e-4);
    close(r[2].score, 0, 'certain: 0 whatever the weight');
  });
});

test('RIPU region: impurity of the predicted-class histogram x mean entropy, by hand', () => {
  torch.tidy(() => {
    // Left region: all class 0, confidently. Right region: 5 pixels predicted 0 (p = .7/.3) and
    // 4 predicted 1 (p = .2/.8).
    const pix: number[][] = [];
    let right = 0;
    for (let y = 0; y < 3; y++) for (let x = 0; x < 6; x++) pix.push(x < 3 ? [0.95, 0.05] : right++ < 5 ? [0.7, 0.3] : [0.2, 0.8]);
    const p = probs([pix], 3, 6);
    const r = new RipuStrategy('region', 1).scoreBatch(batch(1, 3, 6, { probabilities: p }), REGION);
    const ln2 = Math.log(2);
    const impurityLeft = 0;
    const impurityRight = H3([5 / 9, 4 / 9]) / ln2;
    const uncertaintyRight = (5 * H3([0.7, 0.3]) + 4 * H3([0.2, 0.8])) / 9 / ln2;
    close(r[0].score, impurityLeft, 'pure region');
    close(r[1].score, impurityRight * uncertaintyRight, 'mixed region');
  });
});

test("RIPU pixel: pixel entropy x impurity of its (2k+1)-square, and RIPU's suppression around chosen pixels", () => {
  torch.tidy(() => {
    // 3x3, all predicted 0 (p = .6/.4) except the centre, predicted 1 (p = .3/.7).
    const pix = Array.from({ length: 9 }, (_, i) => (i === 4 ? [0.3, 0.7] : [0.6, 0.4]));
    const s = new RipuStrategy('pixel', 1);
    const r = s.scoreBatch(batch(1, 3, 3, { probabilities: probs([pix], 3, 3) }), PIXEL);
    const ln2 = Math.log(2);
    close(r[4].score, (H3([0.3, 0.7]) / ln2) * (H3([8 / 9, 1 / 9]) / ln2), 'centre');
    // Corner (0, 0): its square holds 4 image pixels (zero padding), one of them the centre.
    close(r[0].score, (H3([0.6, 0.4]) / ln2) * (H3([3 / 4, 1 / 4]) / ln2), 'corner');
    close(r[1].score, (H3([0.6, 0.4]) / ln2) * (H3([5 / 6, 1 / 6]) / ln2), 'edge');
  });
  torch.tidy(() => {
    // A 1 x 7 row with scores falling left to right: with k = 1 the picks are 0, 2, 4 (each pick
    // blocks its neighbours), not 0, 1, 2.
    const s = new RipuStrategy('pixel', 1);
    const pix = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8].map((a) => [a, 1 - a]);
    const records = s.scoreBatch(batch(1, 1, 7, { probabilities: probs([pix], 1, 7) }), PIXEL);
    // All one class: impurity 0 everywhere; give them falling scores by hand instead.
    records.forEach((r, i) => (r.score = 1 - i / 10));
    assert.deepEqual(
      s.select(records, ctx({ units: 3 })).map((x) => x.unit),
      [0, 2, 4],
    );
    assert.deepEqual(
      new RipuStrategy('pixel', 0).select(records, ctx({ pixels: 3 })).map((x) => x.unit),
      [0, 1, 2],
    );
  });
});

test('RIPU on an engine-sized input: both variants equal a naive per-pixel reference (ties, labelled pixels, clipped edge regions)', () => {
  // 2 images of 8x10 (edge regions of 3x3 clipped to 2 rows / 1 column), 4 classes, random
  // probabilities with exact ties for the top class on a fifth of the pixels (the predicted
  // class is then the first of them, as argmax), and random labelled pixels.
  const N = 2,
    C = 4,
    Hh = 8,
    Ww = 10,
    k = 1;
  const random = seededRandom(11);
  const data = new Float32Array(N * C * Hh * Ww);
  const at = (n: number, c: number, i: number) => (n * C + c) * Hh * Ww + i;
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < Hh * Ww; i++) {
      const v = Array.from({ length: C }, () => random() + 0.01);
      if (random() < 0.2) {
        const top = v.indexOf(Math.max(...v));
        v[(top + 1 + Math.floor(random() * (C - 1))) % C] = v[top];
      }
      const sum = v.reduce((a, b) => a + b, 0);
      v.forEach((x, c) => (data[at(n, c, i)] = x / sum));
    }
  }
  const labelled = Array.from({ length: N }, () => Array.from({ length: Hh * Ww }, (_, i) => i).filter(() => random() < 0.25));
  // Make one whole region of image 1 labelled: no record for it.
  for (const i of [0, 1, 2, Ww, Ww + 1, Ww + 2, 2 * Ww, 2 * Ww + 1, 2 * Ww + 2]) if (!labelled[1].includes(i)) labelled[1].push(i);
  const pred = (n: number, i: number) => {
    let best = 0;
    for (let c = 1; c < C; c++) if (data[at(n, c, i)] > data[at(n, best, i)]) best = c;
    return best;
  };
  const ent = (n: number, i: number) => H3(Array.from({ length: C }, (_, c) => data[at(n, c, i)])) / Math.log(C);
  const impurity = (hist: number[]) => {
    const total = hist.reduce((a, b) => a + b, 0);
    return total === 0 ? 0 : H3(hist.map((h) => h / total)) / Math.log(C);
  };
  torch.tidy(() => {
    const p = torch.tensor(data, { shape: [N, C, Hh, Ww] });
    const inputs = batch(N, Hh, Ww, { probabilities: p }, labelled);
    // Region variant on 3x3 regions.
    const rows = Math.ceil(Hh / 3),
      cols = Math.ceil(Ww / 3);
    const expected: { image: number; unit: number; score: number }[] = [];
    for (let n = 0; n < N; n++) {
      for (let u = 0; u < rows * cols; u++) {
        const ry = Math.floor(u / cols),
          rx = u % cols;
        const hist = new Array<number>(C).fill(0);
        let count = 0,
          sumEnt = 0;
        for (let y = 3 * ry; y < Math.min(Hh, 3 * ry + 3); y++) {
          for (let x = 3 * rx; x < Math.min(Ww, 3 * rx + 3); x++) {
            const i = y * Ww + x;
            if (labelled[n].includes(i)) continue;
            count++;
            hist[pred(n, i)]++;
            sumEnt += ent(n, i);
          }
        }
        if (count > 0) expected.push({ image: n, unit: u, score: impurity(hist) * (sumEnt / count) });
      }
    }
    const region = new RipuStrategy('region', k).scoreBatch(inputs, REGION);
    assert.deepEqual(
      region.map((r) => [r.image, r.unit]),
      expected.map((e) => [e.image, e.unit]),
    );
    assert.ok(
      expected.some((e) => e.score > 0.05),
      'some regions are mixed',
    );
    region.forEach((r, j) => close(r.score, expected[j].score, `region ${r.image}/${r.unit}`));
    // Pixel variant: pixel entropy x impurity of the (2k+1)-square around it (all its pixels, the
    // image edge counting none), for the unlabelled pixels.
    const pixel = new RipuStrategy('pixel', k).scoreBatch(inputs, PIXEL);
    const expectedPixel: { image: number; unit: number; score: number }[] = [];
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < Hh * Ww; i++) {
        if (labelled[n].includes(i)) continue;
        const y0 = Math.floor(i / Ww),
          x0 = i % Ww;
        const hist = new Array<number>(C).fill(0);
        for (let y = Math.max(0, y0 - k); y <= Math.min(Hh - 1, y0 + k); y++)
          for (let x = Math.max(0, x0 - k); x <= Math.min(Ww - 1, x0 + k); x++) hist[pred(n, y * Ww + x)]++;
        expectedPixel.push({ image: n, unit: i, score: ent(n, i) * impurity(hist) });
      }
    }
    assert.deepEqual(
      pixel.map((r) => [r.image, r.unit]),
      expectedPixel.map((e) => [e.image, e.unit]),
    );
    pixel.forEach((r, j) => close(r.score, expectedPixel[j].score, `pixel ${r.image}/${r.unit}`));
    // The predicted classes are argmax's, ties included.
    assert.ok(p.max(1)[1].eq(p.argmax(1)).all().item());
    let ties = 0;
    for (let n = 0; n < N; n++)
      for (let i = 0; i < Hh * Ww; i++)
        if (Array.from({ length: C }, (_, c) => data[at(n, c, i)]).filter((v) => v === data[at(n, pred(n, i), i)]).length > 1) ties++;
    assert.ok(ties >= 10, `ties in the input: ${ties}`);
  });
});

test('MADA: mean squared distance of class-wise unit features to the nearest source anchor', () => {
  torch.tidy(() => {
    // Two images of 1x2 pixels, D = 1, C = 2. Image 0: class 0 everywhere, feature 1. Image 1:
    // class 1 everywhere, feature 3. Anchors: ([1], [0]) and ([0], [5]).
    const p = probs(
      [
        [
          [0.9, 0.1],
          [0.8, 0.2],
        ],
        [
          [0.1, 0.9],
          [0.3, 0.7],
        ],
      ],
      1,
      2,
    );
    const features = torch.tensor([[[[1, 1]]], [[[3, 3]]]]);
    const anchors = torch.tensor([
      [[1], [0]],
      [[0], [5]],
    ]);
    const r = new MadaStrategy(2).scoreBatch(batch(2, 1, 2, { probabilities: p, features, sourceAnchors: anchors }), { kind: 'image' });
    close(r[0].score, 0, 'on an anchor');
    // To anchor 1: ((0-0)^2 + (3-5)^2) / 2 = 2; to anchor 0: (1 + 9) / 2 = 5.
    close(r[1].score, 2, 'nearest anchor');
    const s = new MadaStrategy(2);
    assert.deepEqual(
      s.select(r, ctx({ units: 1 })).map((x) => x.image),
      [1],
    );
  });
});

test('BatchUnits keeps every per-pixel tensor inside the tidy that made it', () => {
  const before = torch.memory().tensors;
  const p = probs(
    [
      [
        [0.5, 0.5],
        [1, 0],
        [0.2, 0.8],
        [0.9, 0.1],
      ],
    ],
    2,
    2,
  );
  const inputs = batch(1, 2, 2, { probabilities: p });
  const live = torch.memory().tensors;
  for (const kind of STRATEGY_KINDS) {
    if (kind === 'mada' || kind === 'ripu') continue;
    const config =
      kind === 'mix'
        ? {
            strategy: kind,
            parts: [
              { share: 0.5, strategy: 'random' },
              { share: 0.5, strategy: 'entropy' },
            ],
          }
        : kind;
    const s = createStrategy(parseStrategyConfig(config));
    if (s.needs.some((n) => n !== 'probabilities')) continue;
    s.scoreBatch(inputs, { kind: 'image' });
  }
  torch.tidy(() => new BatchUnits(inputs, REGION).records({}));
  assert.equal(torch.memory().tensors, live);
  torch.dispose([p, inputs.labelled]);
  assert.equal(torch.memory().tensors, before);
});

test('mix: each part spends its share among the units the parts before it left, by its own selection', () => {
  torch.tidy(() => {
    // One 3x6 image, two 3x3 regions per row... here 1 row x 2 regions per image, 3 images: 6 regions.
    // Entropy by hand: region (image, unit) uncertain where p = [0.5, 0.5], certain where [1, 0].
    const unsure = [0.5, 0.5],
      sure = [1, 0];
    const img = (left: number[], right: number[]) => Array.from({ length: 18 }, (_, i) => (i % 6 < 3 ? left : right));
    const p = probs([img(sure, unsure), img(unsure, unsure), img(sure, sure)], 3, 6);
    const inputs = batch(3, 3, 6, { probabilities: p });
    const random = new RandomStrategy(),
      entropy = new UncertaintyStrategy('entropy');
    const mix = new MixStrategy([
      { share: 0.5, strategy: random },
      { share: 0.5, strategy: entropy },
    ]);
    assert.deepEqual(mix.needs, ['probabilities']);
    assert.equal(mix.name, 'mix(random 50% + entropy 50%)');
    const records = mix.scoreBatch(inputs, REGION);
    assert.equal(records.length, 6);
    assert.ok(records.every((r) => r.parts?.length === 2 && r.parts[0]?.score !== undefined && r.parts[1]?.score !== undefined && r.score === undefined));
    const ids = (rs: { image: number; unit: number }[]) => rs.map((r) => `${r.image}:${r.unit}`);
    // Random's first two alone, then entropy's best among the rest.
    const randomFirst = ids(random.select(random.scoreBatch(inputs, REGION), ctx({ units: 2 })));
    const chosen = ids(mix.select(records, ctx({ units: 4 })));
    assert.deepEqual(chosen.slice(0, 2), randomFirst);
    const unsureUnits = ['0:1', '1:0', '1:1'].filter((u) => !randomFirst.includes(u));
    assert.deepEqual(chosen.slice(2).sort(), unsureUnits.slice(0, 2).sort(), `entropy takes the uncertain regions random left (${chosen})`);
    assert.equal(new Set(chosen).size, 4);
    // Pixel budget of 40 (9-pixel regions): random gets floor(20) = 2 regions (18 px), entropy the
    // rest of the 40 (22 px): 2 regions. 36 px, never over.
    const byPixels = mix.select(records, ctx({ pixels: 40 }));
    assert.equal(byPixels.length, 4);
    assert.equal(
      byPixels.reduce((s, r) => s + r.pixels, 0),
      36,
    );
    // What a part cannot spend passes on: a 0.2 share of 3 units is 0, so entropy takes all 3.
    const small = new MixStrategy([
      { share: 0.2, strategy: random },
      { share: 0.8, strategy: entropy },
    ]);
    assert.deepEqual(ids(small.select(small.scoreBatch(inputs, REGION), ctx({ units: 3 }))).sort(), ['0:1', '1:0', '1:1']);
    // Labelled units are no candidate of any part.
    const labelled = mix.scoreBatch(batch(3, 3, 6, { probabilities: p }, [[3, 4, 5, 9, 10, 11, 15, 16, 17], [], []]), REGION);
    assert.deepEqual(ids(labelled), ['0:0', '1:0', '1:1', '2:0', '2:1']);
    assert.throws(() => mix.select([rec(0, 0, 9, 0.5)], ctx({ units: 1 })), /select needs the records this mix scored/);
  });
  assert.throws(() => new MixStrategy([{ share: 1, strategy: new RandomStrategy() }]), /at least two parts/);
  assert.throws(
    () =>
      new MixStrategy([
        { share: 0.5, strategy: new RandomStrategy() },
        { share: 0.4, strategy: new UncertaintyStrategy('entropy') },
      ]),
    /sum to 1, got 0.9/,
  );
  assert.throws(
    () =>
      new MixStrategy([
        { share: 0.5, strategy: new BaldStrategy(4) },
        { share: 0.5, strategy: new BaldStrategy(8) },
      ]),
    /different mcPasses \(4 and 8\)/,
  );
});

test('configs: defaults, shorthand, clear errors; createStrategy builds every kind', () => {
  assert.deepEqual(parseStrategyConfig('entropy'), { strategy: 'entropy' });
  assert.deepEqual(parseStrategyConfig({ strategy: 'ripu' }), { strategy: 'ripu', variant: 'region', k: 1 });
  assert.deepEqual(parseStrategyConfig({ strategy: 'hybrid' }), { strategy: 'hybrid', uncertainty: 'entropy', candidates: 5, iterations: 50 });
  assert.deepEqual(parseStrategyConfig({ strategy: 'bald' }), { strategy: 'bald', passes: 10 });
  assert.deepEqual(parseStrategyConfig('classBalanced'), { strategy: 'classBalanced', power: 1 });
  assert.equal(describeStrategy(parseStrategyConfig({ strategy: 'classBalanced', power: 0.5 })), 'class-balanced (power=0.5)');
  assert.throws(() => parseStrategyConfig({ strategy: 'classBalanced', power: -1 }), /strategy\.power must be >= 0/);
  assert.throws(
    () => parseStrategyConfig({ strategy: 'entropi' }),
    (e: Error) => e instanceof ConfigError && /strategy\.strategy must be one of random, classBalanced, leastConfidence/.test(e.message),
  );
  assert.throws(() => parseStrategyConfig({ strategy: 'entropy', k: 3 }), /unknown key 'k'/);
  assert.throws(() => parseStrategyConfig({ strategy: 'ripu', variant: 'floating' }), /strategy\.variant must be one of region, pixel/);
  assert.throws(() => parseStrategyConfig({ strategy: 'bald', passes: 1 }), /strategy\.passes must be an integer >= 2/);
  const needs: Record<string, string[]> = {};
  for (const kind of STRATEGY_KINDS.filter((k) => k !== 'mix')) needs[kind] = [...createStrategy(parseStrategyConfig(kind)).needs];
  assert.deepEqual(needs, {
    random: [],
    classBalanced: ['probabilities'],
    leastConfidence: ['probabilities'],
    margin: ['probabilities'],
    entropy: ['probabilities'],
    bald: ['mcSamples'],
    kmeans: ['features'],
    coreset: ['features'],
    badge: ['gradientEmbedding'],
    hybrid: ['probabilities', 'features'],
    aada: ['probabilities', 'targetness'],
    ripu: ['probabilities'],
    mada: ['probabilities', 'features', 'sourceAnchors'],
  });
  assert.deepEqual(parseUnitConfig({ kind: 'region' }), { kind: 'region', k: 1 });
  assert.deepEqual(parseUnitConfig('image'), { kind: 'image' });
  assert.deepEqual(parseUnitConfig({ kind: 'superpixel', size: 100 }), { kind: 'superpixel', size: 100, method: 'slic' });
  assert.throws(() => parseUnitConfig({ kind: 'superpixel' }), /units\.size must be a number/);
  assert.deepEqual(parseBudgetConfig({ kind: 'pixelPercent', total: 5 }), { kind: 'pixelPercent', total: 5, rounds: 5 });
  assert.throws(() => parseBudgetConfig({ kind: 'pixelPercent', total: 0 }), /budget\.total must be > 0/);
  assert.throws(() => checkSelectionSetup({ strategy: 'ripu', variant: 'pixel', k: 1 }, REGION), /use units \{ kind: pixel \}/);
  assert.throws(() => checkSelectionSetup({ strategy: 'ripu', variant: 'region', k: 2 }, REGION), /must equal the units' k/);
  assert.throws(() => checkSelectionSetup({ strategy: 'kmeans', iterations: 50 }, PIXEL), /one per pool pixel/);
  assert.throws(
    () => checkSelectionSetup({ strategy: 'entropy' }, REGION, { kind: 'images', total: 3, rounds: 1 }),
    (e: Error) => e instanceof ConfigError && /needs image units/.test(e.message),
  );
  checkSelectionSetup({ strategy: 'ripu', variant: 'region', k: 1 }, REGION, { kind: 'pixelPercent', total: 5, rounds: 5 });
  // A mix: parts as { share, strategy }, each part checked like a strategy of its own.
  const mix = parseStrategyConfig({
    strategy: 'mix',
    parts: [
      { share: 0.3, strategy: 'random' },
      { share: 0.7, strategy: { strategy: 'ripu' } },
    ],
  });
  assert.deepEqual(mix, {
    strategy: 'mix',
    parts: [
      { share: 0.3, strategy: { strategy: 'random' } },
      { share: 0.7, strategy: { strategy: 'ripu', variant: 'region', k: 1 } },
    ],
  });
  assert.equal(describeStrategy(mix), 'mix: random 30% + ripu-region (k=1) 70%');
  assert.equal(slug(describeStrategy(mix)), 'mix-random-30-ripu-region-k-1-70');
  assert.deepEqual(createStrategy(mix).needs, ['probabilities']);
  const mixOf = (parts: unknown) => () => parseStrategyConfig({ strategy: 'mix', parts });
  assert.throws(() => parseStrategyConfig('mix'), /strategy\.parts is required: a list of \{ share, strategy \}/);
  assert.throws(mixOf([{ share: 1, strategy: 'random' }]), /parts must list at least two parts/);
  assert.throws(
    mixOf([
      { share: 0.5, strategy: 'random' },
      { share: 0.6, strategy: 'entropy' },
    ]),
    /strategy\.parts shares must sum to 1, got 1.1/,
  );
  assert.throws(mixOf([{ share: 0.5, strategy: 'random' }, { share: 0.5 }]), /strategy\.parts\[1\]\.strategy is required/);
  assert.throws(
    mixOf([
      { share: 0.5, strategy: 'random' },
      { share: 0.5, strategy: 'entropi' },
    ]),
    /strategy\.parts\[1\]\.strategy\.strategy must be one of/,
  );
  assert.throws(
    mixOf([
      { share: 0, strategy: 'random' },
      { share: 1, strategy: 'entropy' },
    ]),
    /strategy\.parts\[0\]\.share must be > 0/,
  );
  assert.throws(
    mixOf([
      { share: 0.5, strategy: 'random', weight: 2 },
      { share: 0.5, strategy: 'entropy' },
    ]),
    /parts\[0\] has an unknown key 'weight'/,
  );
  assert.throws(
    mixOf([
      { share: 0.5, strategy: 'random' },
      { share: 0.5, strategy: 'random' },
    ]),
    /parts\[1\] repeats 'random'/,
  );
  assert.throws(
    mixOf([
      { share: 0.5, strategy: 'random' },
      {
        share: 0.5,
        strategy: {
          strategy: 'mix',
          parts: [
            { share: 0.5, strategy: 'random' },
            { share: 0.5, strategy: 'entropy' },
          ],
        },
      },
    ]),
    /cannot be a mix itself/,
  );
  assert.throws(
    mixOf([
      { share: 0.5, strategy: { strategy: 'bald', passes: 4 } },
      { share: 0.5, strategy: { strategy: 'bald', passes: 8 } },
    ]),
    (e: Error) => e instanceof ConfigError && /different mcPasses/.test(e.message),
  );
  assert.throws(
    () =>
      checkSelectionSetup(
        parseStrategyConfig({
          strategy: 'mix',
          parts: [
            { share: 0.5, strategy: 'random' },
            { share: 0.5, strategy: { strategy: 'ripu', k: 2 } },
          ],
        }),
        REGION,
        undefined,
        'active.strategies[0]',
      ),
    /active\.strategies\[0\]\.parts\[1\]: ripu region: .* must equal the units' k/,
  );
});
