// Diversity strategies (k-means, core-set, BADGE) and the hybrid (uncertainty, then diversity).
// Phase 1 keeps one small embedding per candidate unit; phase 2 clusters them on the engine.
import * as torch from '@adaseg/torch';
import type { ConfigReader } from '../../util/config-reader.js';
import type { BatchInputs, NeedSettings, SelectionContext, Strategy, UncertaintyMeasure, UnitConfig, UnitRecord, UnitRef } from '../types.js';
import { BatchUnits, tidyRecords, need, uncertaintyMap, UNCERTAINTY_MEASURES } from './common.js';
import type { StrategyEntry } from './registry.js';
import { byScore, embeddingMatrix, kcenterOrder, kmeansppOrder, pickByKMeans, recordsInOrder, selectWith, takeInOrder, unitsFor } from './select.js';

/** Unit embeddings: the mean decoder feature over each unit's pixels, [N, U, D]. */
function meanFeatures(b: BatchUnits, features: torch.Tensor): torch.Tensor {
  return b.meanAll(features).permute(0, 2, 1);
}

/**
 * k-means on decoder features: units are embedded by their mean feature; k-means (seeded
 * k-means++ start, Lloyd iterations) with k = the units the budget stands for; the unit nearest
 * each centroid is chosen (then the next nearest, while a pixel budget lasts).
 */
export class KMeansStrategy implements Strategy {
  readonly name = 'kmeans';
  readonly needs = ['features'] as const;
  readonly settings: NeedSettings = {};

  constructor(readonly iterations = 50) {}

  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[] {
    return tidyRecords(() => {
      const b = new BatchUnits(inputs, units);
      return b.records({ embedding: meanFeatures(b, need(inputs, 'features', this.name)) });
    });
  }

  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    return selectWith(records, context, (rs, budget) => pickByKMeans(rs, budget, context.random, this.iterations));
  }
}

/**
 * Core-set (Sener & Savarese, ICLR 2018), k-center greedy on mean decoder features: each pick is
 * the unit farthest from every centre; the centres start as the already fully labelled units of
 * the pool (reference records), or one random unit when nothing is labelled yet.
 */
export class CoresetStrategy implements Strategy {
  readonly name = 'coreset';
  readonly needs = ['features'] as const;
  readonly settings: NeedSettings = {};

  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[] {
    return tidyRecords(() => {
      const b = new BatchUnits(inputs, units);
      return b.records({ embedding: meanFeatures(b, need(inputs, 'features', this.name)), references: true });
    });
  }

  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    return selectWith(records, context, (rs, budget) => {
      const candidates = rs.filter((r) => !r.reference);
      const refs = rs.filter((r) => r.reference);
      if (candidates.length === 0) return [];
      return torch.tidy(() => {
        const X = embeddingMatrix(candidates, this.name);
        const R = refs.length > 0 ? embeddingMatrix(refs, this.name) : undefined;
        return takeInOrder(recordsInOrder(kcenterOrder(X, context.random, R), candidates), budget);
      });
    });
  }
}

/**
 * BADGE (Ash et al., ICLR 2020): each unit's gradient embedding (the scorer's
 * 'gradientEmbedding': d CE(pred class) / d classifier weights, averaged over the unit), then
 * k-means++ seeding: the largest gradient first, then draws proportional to the squared distance
 * to the nearest chosen embedding. The record's score is the embedding's norm (so a scorer that
 * keeps only the best records per image keeps the largest gradients).
 */
export class BadgeStrategy implements Strategy {
  readonly name = 'badge';
  readonly needs = ['gradientEmbedding'] as const;
  readonly settings: NeedSettings = {};

  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[] {
    return tidyRecords(() => {
      const b = new BatchUnits(inputs, units);
      const g = need(inputs, 'gradientEmbedding', this.name);
      return b.records({ embedding: g, score: g.square().sum(2).sqrt() });
    });
  }

  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    return selectWith(records, context, (rs, budget) => {
      const candidates = rs.filter((r) => !r.reference);
      if (candidates.length === 0) return [];
      return torch.tidy(() =>
        takeInOrder(recordsInOrder(kmeansppOrder(embeddingMatrix(candidates, this.name), context.random, 'maxNorm'), candidates), budget),
      );
    });
  }
}

/**
 * Hybrid: the `candidates` x (units the budget stands for) most uncertain units, then k-means on
 * their mean features among them (the units nearest the centroids), as in "diverse mini-batch
 * active learning" (Zhdanov 2019).
 */
export class HybridStrategy implements Strategy {
  readonly name: string;
  readonly needs = ['probabilities', 'features'] as const;
  readonly settings: NeedSettings = {};

  constructor(
    readonly uncertainty: UncertaintyMeasure = 'entropy',
    readonly candidates = 5,
    readonly iterations = 50,
  ) {
    if (!(candidates >= 1)) throw new RangeError(`hybrid: candidates must be >= 1, got ${candidates}`);
    this.name = `hybrid-${uncertainty}`;
  }

  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[] {
    return tidyRecords(() => {
      const b = new BatchUnits(inputs, units);
      const score = b.meanUnlabelled(uncertaintyMap(this.uncertainty, need(inputs, 'probabilities', this.name)));
      return b.records({ score, embedding: meanFeatures(b, need(inputs, 'features', this.name)) });
    });
  }

  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    return selectWith(records, context, (rs, budget) => {
      const ranked = byScore(rs);
      const m = Math.min(ranked.length, Math.ceil(this.candidates * unitsFor(budget, ranked)));
      return pickByKMeans(ranked.slice(0, m), budget, context.random, this.iterations);
    });
  }
}

// ---------------------------------------------------------------- registry entries

/** k-means (seeded k-means++) of unit mean features; picks the units nearest the centroids. */
export interface KMeansConfig {
  strategy: 'kmeans';
  iterations: number;
}

/** Core-set k-center greedy on unit mean features (labelled pixels' features as initial centres). */
export interface CoresetConfig {
  strategy: 'coreset';
}

/** BADGE: k-means++ seeding on gradient embeddings. */
export interface BadgeConfig {
  strategy: 'badge';
}

/** The `candidates` x budget most uncertain units, then k-means among them. */
export interface HybridConfig {
  strategy: 'hybrid';
  uncertainty: UncertaintyMeasure;
  candidates: number;
  iterations: number;
}

/** Pure diversity keeps every candidate's embedding: with pixel units, one per pool pixel. */
function refusePixelUnits(config: { strategy: string }, units: UnitConfig, fail: (message: string) => never): void {
  if (units.kind === 'pixel')
    fail(
      `${config.strategy} keeps one feature vector per unit and never drops any: with pixel units that is one per pool pixel; use region, superpixel or image units`,
    );
}

export const kmeansStrategy: StrategyEntry<KMeansConfig> = {
  kind: 'kmeans',
  keys: ['iterations'],
  parse: (r: ConfigReader) => ({ strategy: 'kmeans', iterations: r.integer('iterations', 50, 1) }),
  create: (c) => new KMeansStrategy(c.iterations),
  check: refusePixelUnits,
};

export const coresetStrategy: StrategyEntry<CoresetConfig> = {
  kind: 'coreset',
  keys: [],
  parse: () => ({ strategy: 'coreset' }),
  create: () => new CoresetStrategy(),
  check: refusePixelUnits,
};

export const badgeStrategy: StrategyEntry<BadgeConfig> = {
  kind: 'badge',
  keys: [],
  parse: () => ({ strategy: 'badge' }),
  create: () => new BadgeStrategy(),
};

export const hybridStrategy: StrategyEntry<HybridConfig> = {
  kind: 'hybrid',
  keys: ['uncertainty', 'candidates', 'iterations'],
  parse: (r: ConfigReader) => ({
    strategy: 'hybrid',
    uncertainty: r.oneOf('uncertainty', UNCERTAINTY_MEASURES, 'entropy'),
    candidates: r.number('candidates', 5, { min: 1 }),
    iterations: r.integer('iterations', 50, 1),
  }),
  create: (c) => new HybridStrategy(c.uncertainty, c.candidates, c.iterations),
  describe: (c) => `hybrid-${c.uncertainty} (x${c.candidates})`,
};
