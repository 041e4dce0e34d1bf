// Domain-aware strategies: AADA (discriminator importance weight x entropy), RIPU (region
// impurity x prediction uncertainty) and MADA (distance to source anchors).
import * as torch from '@adaseg/torch';
import type { ConfigReader } from '../../util/config-reader.js';
import type { BatchInputs, NeedSettings, SelectionContext, Strategy, UnitConfig, UnitRecord, UnitRef } from '../types.js';
import { BatchUnits, tidyRecords, entropy, entropyMap, need, predictedClass, predictedOneHot } from './common.js';
import type { StrategyEntry } from './registry.js';
import { byScore, selectTopScores, selectWith } from './select.js';

const F = torch.functional;
type Tensor = torch.Tensor;

/** Target-ness is clamped to [T_EPS, 1 - T_EPS] before the importance weight. */
export const T_EPS = 1e-6;

/**
 * AADA (Su et al., WACV 2020): s(x) = w(x) H(x) with the importance weight
 * w = (1 - D(x)) / D(x), D the discriminator's probability that x is SOURCE. Our discriminator
 * gives target-ness t = 1 - D (adapt/targetness), so w = t / (1 - t). Per pixel, averaged over
 * each unit's unlabelled pixels.
 */
export class AadaStrategy implements Strategy {
  readonly name = 'aada';
  readonly needs = ['probabilities', 'targetness'] as const;
  readonly settings: NeedSettings = {};

  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[] {
    return tidyRecords(() => {
      const b = new BatchUnits(inputs, units);
      const t = need(inputs, 'targetness', this.name).clamp(T_EPS, 1 - T_EPS);
      const w = t.div(t.neg().add(1));
      return b.records({ score: b.meanUnlabelled(w.mul(entropyMap(need(inputs, 'probabilities', this.name)))) });
    });
  }

  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    return selectTopScores(records, context);
  }
}

/**
 * Region impurity of predicted-class counts [N, C, U]: entropy of the class histogram / log C.
 * Classes absent from the unit count zero.
 */
function impurity(classCounts: Tensor, classes: number): Tensor {
  return torch.tidy(() => {
    const total = classCounts.sum(1, true).clamp(1);
    return entropy(classCounts.div(total), 1).div(Math.log(classes));
  });
}

/**
 * RIPU (Xie et al., CVPR 2022), with entropies normalised by log C as in its code:
 * - 'region': each unit is a region R; score = impurity(R) x uncertainty(R), impurity the entropy
 *   of the histogram of predicted classes over R, uncertainty the mean pixel entropy over R
 *   (both over R's unlabelled pixels). With region units of k this is RIPU's (2k+1)-square region
 *   score at the region's centre, on our fixed tiling instead of RIPU's floating regions.
 * - 'pixel': pixel units; score = entropy(pixel) x impurity of the (2k+1)-square around it
 *   (zero padding: the image edge counts no pixels), as RIPU's pixel-based selection. Selection
 *   then suppresses, as RIPU does, every pixel within the (2k+1)-square of a chosen pixel of the
 *   same image (one label per neighbourhood).
 */
export class RipuStrategy implements Strategy {
  readonly name: string;
  readonly needs = ['probabilities'] as const;
  readonly settings: NeedSettings = {};
  /** Image widths seen in phase 1 (pixel variant: the suppression needs pixel coordinates). */
  private readonly widths = new Map<number, number>();

  constructor(
    readonly variant: 'region' | 'pixel' = 'region',
    readonly k = 1,
  ) {
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`ripu: k must be an integer >= 0, got ${k}`);
    this.name = `ripu-${variant}`;
  }

  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[] {
    const p = need(inputs, 'probabilities', this.name);
    return tidyRecords(() => {
      const b = new BatchUnits(inputs, units);
      const C = p.shape[1];
      const ent = entropyMap(p).div(Math.log(C));
      // [N, C, H, W] float32 NCHW, 1 at each pixel's predicted class.
      const oneHot = predictedOneHot(p);
      if (this.variant === 'region') {
        if (units.kind === 'pixel') throw new Error("ripu 'region' needs region, superpixel or image units (use variant 'pixel' with pixel units)");
        const counts = b.sums(oneHot.mul(b.unlabelled));
        return b.records({ score: impurity(counts, C).mul(b.meanUnlabelled(ent)) });
      }
      if (units.kind !== 'pixel') throw new Error("ripu 'pixel' needs pixel units");
      for (const i of inputs.images) this.widths.set(i, b.W);
      const side = 2 * this.k + 1;
      const around = this.k === 0 ? oneHot : F.avgPool2d(oneHot, side, { stride: 1, padding: this.k, divisorOverride: 1 });
      const imp = impurity(around.reshape([b.N, C, b.H * b.W]), C).reshape([b.N, b.H, b.W]);
      return b.records({ score: b.meanUnlabelled(ent.mul(imp)) });
    });
  }

  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    if (this.variant === 'region' || this.k === 0) return selectTopScores(records, context);
    return selectWith(records, context, (rs, budget) => {
      const blocked = new Map<number, Set<number>>();
      const k = this.k;
      const self = this;
      function* suppressed(): Generator<UnitRecord> {
        for (const r of byScore(rs)) {
          const W = self.widths.get(r.image);
          if (W === undefined) throw new Error(`ripu: image ${r.image} was not scored by this strategy`);
          let set = blocked.get(r.image);
          if (set === undefined) blocked.set(r.image, (set = new Set()));
          if (set.has(r.unit)) continue;
          const x = r.unit % W,
            y = (r.unit - x) / W;
          for (let dy = -k; dy <= k; dy++) for (let dx = -k; dx <= k; dx++) if (x + dx >= 0 && x + dx < W && y + dy >= 0) set.add((y + dy) * W + x + dx);
          yield r;
        }
      }
      return takeIn(suppressed(), budget);
    });
  }
}

function takeIn(order: Iterable<UnitRecord>, budget: SelectionContext['budget']): UnitRef[] {
  // Pixel units all cost one pixel: the unit and pixel budgets take the same prefix.
  const n = budget.units ?? budget.pixels!;
  const out: UnitRef[] = [];
  if (n <= 0) return out;
  for (const r of order) {
    out.push({ image: r.image, imageId: r.imageId, unit: r.unit, pixels: r.pixels });
    if (out.length >= n) break;
  }
  return out;
}

/**
 * Class-wise mean features of each unit by predicted class: [N, U, C, D] (zeros where the unit
 * has no pixel of the class), from features [N, D, H, W] and probabilities [N, C, H, W].
 */
export function classwiseUnitFeatures(b: BatchUnits, features: Tensor, probabilities: Tensor): Tensor {
  return torch.tidy(() => {
    const C = probabilities.shape[1];
    const pred = predictedClass(probabilities, true);
    const perClass: Tensor[] = [];
    for (let c = 0; c < C; c++) {
      const mask = pred.eq(c).float();
      const count = b.sums(mask).clamp(1);
      perClass.push(b.sums(features.mul(mask)).div(count).permute(0, 2, 1));
    }
    return torch.stack(perClass, 2);
  });
}

/**
 * MADA (Ning et al., ICCV 2021): anchors are k-means centres of the source images' class-wise
 * mean features (the scorer's 'sourceAnchors' [K, C, D]); a target unit is described the same
 * way (class-wise mean features by predicted class, zeros for absent classes) and scored by its
 * mean squared distance to the NEAREST anchor; the units farthest from every anchor are chosen.
 * MADA works on whole images; other units use the same computation over the unit's pixels.
 */
export class MadaStrategy implements Strategy {
  readonly name = 'mada';
  readonly needs = ['probabilities', 'features', 'sourceAnchors'] as const;
  readonly settings: NeedSettings;

  constructor(anchors = 10) {
    if (!Number.isInteger(anchors) || anchors < 1) throw new RangeError(`mada: anchors must be a positive integer, got ${anchors}`);
    this.settings = { anchors };
  }

  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[] {
    return tidyRecords(() => {
      const b = new BatchUnits(inputs, units);
      const anchors = need(inputs, 'sourceAnchors', this.name);
      const v = classwiseUnitFeatures(b, need(inputs, 'features', this.name), need(inputs, 'probabilities', this.name));
      const [N, U, C, D] = v.shape;
      if (anchors.shape[1] !== C || anchors.shape[2] !== D)
        throw new RangeError(`mada: anchors [${anchors.shape}] do not match unit features [.., ${C}, ${D}]`);
      const flat = v.reshape([N * U, C * D]);
      const a = anchors.reshape([anchors.shape[0], C * D]);
      // Mean squared error to each anchor: (|v|^2 + |a|^2 - 2 v.a) / (C D).
      const d = flat
        .square()
        .sum(1, true)
        .add(a.square().sum(1).unsqueeze(0))
        .sub(flat.matmul(a.T).mul(2))
        .clamp(0)
        .div(C * D);
      return b.records({ score: d.min(1)[0].reshape([N, U]) });
    });
  }

  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    return selectTopScores(records, context);
  }
}

// ---------------------------------------------------------------- registry entries

/** AADA: importance weight t / (1 - t) (t = target-ness) times entropy. */
export interface AadaConfig {
  strategy: 'aada';
}

/** RIPU: region impurity x prediction uncertainty; 'region' or 'pixel' variant, k-square neighbourhood (k = 1). */
export interface RipuConfig {
  strategy: 'ripu';
  variant: 'region' | 'pixel';
  k: number;
}

/** MADA: distance to the nearest of `anchors` source anchors (10), largest first. */
export interface MadaConfig {
  strategy: 'mada';
  anchors: number;
}

export const aadaStrategy: StrategyEntry<AadaConfig> = {
  kind: 'aada',
  keys: [],
  parse: () => ({ strategy: 'aada' }),
  create: () => new AadaStrategy(),
};

export const ripuStrategy: StrategyEntry<RipuConfig> = {
  kind: 'ripu',
  keys: ['variant', 'k'],
  parse: (r: ConfigReader) => ({ strategy: 'ripu', variant: r.oneOf('variant', ['region', 'pixel'] as const, 'region'), k: r.integer('k', 1, 0) }),
  create: (c) => new RipuStrategy(c.variant, c.k),
  describe: (c) => `ripu-${c.variant} (k=${c.k})`,
  check(c, units, fail) {
    if (c.variant === 'pixel' && units.kind !== 'pixel') fail(`ripu's 'pixel' variant selects single pixels: use units { kind: pixel } (got ${units.kind})`);
    if (c.variant === 'region' && units.kind === 'pixel')
      fail("ripu's 'region' variant needs region (or superpixel, image) units; with pixel units use variant 'pixel'");
    if (c.variant === 'region' && units.kind === 'region' && c.k !== units.k)
      fail(`ripu region: the region is the unit, so ripu's k (${c.k}) must equal the units' k (${units.k})`);
  },
};

export const madaStrategy: StrategyEntry<MadaConfig> = {
  kind: 'mada',
  keys: ['anchors'],
  parse: (r: ConfigReader) => ({ strategy: 'mada', anchors: r.integer('anchors', 10, 1) }),
  create: (c) => new MadaStrategy(c.anchors),
  describe: (c) => `mada (${c.anchors} anchors)`,
};
