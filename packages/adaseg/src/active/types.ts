// The contract of the active-learning area. A strategy is a pure scorer (after baal): it declares
// what it needs, the scorer computes exactly that per batch of pool images, and the loop never
// branches on which strategy it has. Scoring is two-phase so memory stays bounded however large
// the pool: (1) per batch, each candidate unit gets a score and/or a small embedding; (2) once the
// pool is scored, `select` picks units within the budget from those per-unit records only.
//
// What the loop calls, per round (all exported from src/active/index.ts):
//   const strategy = createStrategy(parseStrategyConfig(reader));          // once, at config load
//   checkSelectionSetup(strategyConfig, units, budget);                     // once, at config load
//   const pool = await poolSize(poolDataset, transforms);                   // once
//   const budget = roundBudget(budgetConfig, { round, pool, spent });       // round = 1..rounds
//   const records = await scorePool(model, poolDataset, strategy, { units, labelled, seed, ... });
//   const chosen = strategy.select(records, { budget, random: seededRandom(seed), ranking });
//   for (const u of chosen) annotate(unitLayout(units, size, rgb?).pixels(u.unit));
import type * as torch from '@adaseg/torch';
import type { DatasetDescription } from '../data/dataset.js';
import type { Normalize, Transform } from '../data/transforms.js';
import type { FCDiscriminator } from '../adapt/discriminator.js';

/** What a strategy can ask the scorer for, per batch of pool images. */
export type Need =
  /** Softmax probabilities [N, C, H, W] of the current model (eval mode). */
  | 'probabilities'
  /** T MC-dropout passes (T = settings.mcPasses): probabilities [T, N, C, H, W]. */
  | 'mcSamples'
  /** Decoder features [N, D, H, W] (SegmentationOutput.features, bilinearly resized to H x W). */
  | 'features'
  /** The discriminator's target-ness [N, H, W] in [0, 1] (adapt/targetness; 1 = looks like target). */
  | 'targetness'
  /**
   * MADA anchors [K, C, D] (K = settings.anchors): k-means of the source images' class-wise mean
   * decoder features (pixels whose label and prediction are class c), computed once per scorePool.
   */
  | 'sourceAnchors'
  /**
   * BADGE: per unit, the gradient of the cross-entropy against the predicted class with respect to
   * the classifier's weights, averaged over the unit's pixels: [N, U, C*D] (see scorer.ts).
   */
  | 'gradientEmbedding';

/** Extra parameters of the needs (read by the scorer; it never looks at the strategy's kind). */
export interface NeedSettings {
  /** MC-dropout passes for 'mcSamples' (default 10). */
  mcPasses?: number;
  /** Number of anchors for 'sourceAnchors' (default 10). */
  anchors?: number;
  /** Source pixels of a class in an image below which its mean feature is not used (default 10). */
  anchorMinPixels?: number;
}

/**
 * How the pool is cut into selectable units. Unit indices (UnitRef.unit) per kind:
 * image 0; region r * cols + c (cols = ceil(W / (2k+1))); superpixel its label (raster order of
 * first appearance); pixel y * W + x. units.ts maps a unit to its pixels (unitLayout / unitMask).
 */
export type UnitConfig =
  | { kind: 'image' }
  /** Non-overlapping (2k+1)x(2k+1) squares tiling the image from the top-left (edge squares clipped). */
  | { kind: 'region'; k: number }
  /**
   * Superpixels of about `size` pixels: SLIC (ours, deterministic, computed from the 8-bit RGB
   * image at the pool's resolution; compactness default 10) or 'grid': rectangles of about
   * `size` pixels (needs no image).
   */
  | { kind: 'superpixel'; size: number; compactness?: number; method?: 'slic' | 'grid' }
  | { kind: 'pixel' };

/**
 * A budget for the whole run, spread over `rounds` equal shares (see budget.ts for rounding:
 * the cumulative target after round r is floor(total * r / rounds); each round spends the target
 * minus what was spent, so leftovers carry over and the run total is exact).
 */
export type BudgetConfig =
  /** Whole images (image units only). */
  | { kind: 'images'; total: number; rounds: number }
  /** Units of the configured kind (regions, superpixels or pixels; not image units). */
  | { kind: 'regions'; total: number; rounds: number }
  /** A percentage of all target pool pixels (void included: every selected pixel counts). */
  | { kind: 'pixelPercent'; total: number; rounds: number };

/** One selectable unit of one pool image. */
export interface UnitRef {
  /** Index of the image in the pool's sample list, and its id. */
  image: number;
  imageId: string;
  /** Unit index within the image (its meaning depends on UnitConfig; image units are 0). */
  unit: number;
  /**
   * Pixels labelling the unit adds: those of the unit not labelled yet (what it costs against a
   * pixel budget; void pixels count).
   */
  pixels: number;
}

/** What phase 1 keeps per candidate unit: small, so thousands of images fit. */
export interface UnitRecord extends UnitRef {
  /** Higher = more worth labelling (absent for pure diversity strategies). */
  score?: number;
  /** A small vector for diversity strategies (pooled features, gradient embedding...). */
  embedding?: Float32Array;
  /**
   * Not selectable: a fully labelled unit and its embedding (core-set starts its centres from
   * them). `pixels` is 0. Never returned by select.
   */
  reference?: true;
  /** A category the strategy balances its picks over (class-balanced random: the unit's predicted class). */
  group?: number;
  /**
   * A mix's record: the record each part strategy made of this unit (undefined where a part kept
   * none), indexed like the mix's parts. The mix's select hands each part its own records.
   */
  parts?: (UnitRecord | undefined)[];
}

/** What the scorer hands a strategy for one batch. Only the declared needs are filled. */
export interface BatchInputs {
  /** Pool indices and ids of the images in this batch. */
  images: number[];
  imageIds: string[];
  /** [N, H, W] bool mask of pixels already labelled (selected before, void included). */
  labelled: torch.Tensor;
  /** [N, H, W] int64 superpixel label of each pixel (superpixel units only). */
  segments?: torch.Tensor;
  /** Number of superpixels of each image (superpixel units only). */
  segmentCounts?: number[];
  /** The round's seed (strategies with randomness in phase 1 derive from it). */
  seed: number;
  /**
   * At most this many records per image will be kept (the highest scores; records without a
   * score and references are always kept). Strategies may drop the rest early. Infinity = all.
   */
  keepPerImage: number;
  probabilities?: torch.Tensor;
  mcSamples?: torch.Tensor;
  features?: torch.Tensor;
  targetness?: torch.Tensor;
  sourceAnchors?: torch.Tensor;
  gradientEmbedding?: torch.Tensor;
}

export interface SelectionContext {
  /**
   * What to choose this round: a number of units, or a number of pixels (roundBudget gives one of
   * them). With pixels, units are taken in the strategy's order while they fit: never more.
   */
  budget: { units?: number; pixels?: number };
  /** Seeded random numbers in [0, 1) for this round and strategy (seededRandom(seed)). */
  random: () => number;
  /**
   * Rank units per image (each image with candidates gets an equal share, remainders to the
   * lowest pool indices, unused shares filled globally) or across the whole pool. Image units are
   * always ranked globally.
   */
  ranking: 'global' | 'perImage';
}

export interface Strategy {
  readonly name: string;
  readonly needs: readonly Need[];
  readonly settings: NeedSettings;
  /** Phase 1: records for the candidate units of a batch (units already labelled are left out). */
  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[];
  /** Phase 2: the units to label this round, within the budget. */
  select(records: UnitRecord[], context: SelectionContext): UnitRef[];
}

/** Uncertainty measures of the uncertainty and hybrid strategies. */
export type UncertaintyMeasure = 'leastConfidence' | 'margin' | 'entropy';

/**
 * Strategy configs: a discriminated union on `strategy`, derived from the strategy registry
 * (strategies/registry.ts: one entry per kind, its options documented beside it).
 */
export type { StrategyConfig, StrategyKind } from './strategies/registry.js';
export type { MixPart } from './strategies/mix.js';

/**
 * Which pool pixels are already labelled (selected in an earlier round, void included): a
 * row-major 0/1 mask at the pool's resolution, or null/undefined when nothing is.
 */
export type LabelledLookup = (image: number, imageId: string) => Uint8Array | null | undefined;

/** Options of scorePool (scorer.ts). */
export interface ScoreOptions {
  units: UnitConfig;
  /** Already-labelled pixels, excluded from every unit (units left with none are not candidates). */
  labelled?: LabelledLookup;
  /** The round's seed (default 0). */
  seed?: number;
  /** Keep at most this many scored records per image (default: all; pixel units: 4096). */
  keepPerImage?: number;
  /** Pool images per batch (default 4). */
  batchSize?: number;
  /** Loader worker threads (default 0: the pool is small next to the model's work). */
  workers?: number;
  /** The pool's deterministic transforms (e.g. a resize): what the labels are also made at. */
  transforms?: Transform[];
  /** Normalisation of the loader (default ImageNet), also used to recover RGB for SLIC. */
  normalize?: Normalize;
  /** The discriminator, for 'targetness'. */
  discriminator?: FCDiscriminator;
  /** Labelled source data, for 'sourceAnchors'. */
  source?: DatasetDescription;
  /** Called after each batch with images scored so far. */
  onProgress?: (done: number, total: number) => void;
}
