// Random (plain and class-balanced) and the classic uncertainty strategies. A unit's score is the
// mean of a per-pixel score over its unlabelled pixels; the highest scores are chosen (globally or
// per image); class-balanced random reweighs its draws at selection.
import { hashSeed, hashString } from '../../data/rng.js';
import * as torch from '@adaseg/torch';
import type { ConfigReader } from '../../util/config-reader.js';
import type { BatchInputs, NeedSettings, SelectionContext, Strategy, UncertaintyMeasure, UnitConfig, UnitRecord, UnitRef } from '../types.js';
import { baldMap, BatchUnits, tidyRecords, need, predictedClass, predictedOneHot, recordsFromPixelScores, uncertaintyMap } from './common.js';
import type { StrategyEntry } from './registry.js';
import { selectTopScores, selectWith, takeInOrder } from './select.js';

/** Uniform scores in (0, 1) per unit of a batch, from hash(seed, image id, unit): [N, U]. */
function hashedUniform(inputs: BatchInputs, units: number): torch.Tensor {
  const scores = new Float32Array(inputs.imageIds.length * units);
  inputs.imageIds.forEach((id, i) => {
    const h = hashString(id);
    for (let u = 0; u < units; u++) scores[i * units + u] = (hashSeed(inputs.seed, h, u) + 0.5) / 4294967296;
  });
  return torch.tensor(scores, { shape: [inputs.imageIds.length, units] });
}

/**
 * Random: every candidate unit gets a uniform score from hash(seed, image id, unit), so the
 * choice is reproducible from the round's seed, independent of batching and of the model (which
 * the scorer does not even run: no needs).
 */
export class RandomStrategy implements Strategy {
  readonly name = 'random';
  readonly needs = [] as const;
  readonly settings: NeedSettings = {};

  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[] {
    return tidyRecords(() => {
      const b = new BatchUnits(inputs, units);
      return b.records({ score: hashedUniform(inputs, b.U) });
    });
  }

  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    return selectTopScores(records, context);
  }
}

/**
 * Class-balanced random: weighted random sampling without replacement (Efraimidis & Spirakis
 * 2006: the largest u^(1/w) win), a unit's weight w being the pool share of its predicted class
 * (the majority over its unlabelled pixels) to the power -`power`. Plain random buys each class in
 * proportion to its area, so on street scenes pole, sign and pedestrian get a few dozen pixels of a
 * 1% budget; this moves budget to what the model predicts rarely. The predicted class is often
 * wrong under domain shift, which is why the sampling stays random within each class rather than
 * trusting the model's uncertainty. The shares come from the round's candidate records, so they
 * are the pool's (per-image ranking still weighs by the pool's shares).
 */
export class ClassBalancedStrategy implements Strategy {
  readonly name = 'classBalanced';
  readonly needs = ['probabilities'] as const;
  readonly settings: NeedSettings = {};

  constructor(readonly power = 1) {
    if (!(Number.isFinite(power) && power >= 0)) throw new RangeError(`classBalanced: power must be a number >= 0, got ${power}`);
  }

  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[] {
    return tidyRecords(() => {
      const b = new BatchUnits(inputs, units);
      const votes = b.meanUnlabelled(predictedOneHot(need(inputs, 'probabilities', this.name)));
      return b.records({ score: hashedUniform(inputs, b.U), group: predictedClass(votes) });
    });
  }

  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    const counts = new Map<number, number>();
    let n = 0;
    for (const r of records) {
      if (r.reference) continue;
      if (r.group === undefined || r.score === undefined)
        throw new Error(`classBalanced: record of unit ${r.unit} of '${r.imageId}' has no predicted class or draw (not scored by this strategy)`);
      counts.set(r.group, (counts.get(r.group) ?? 0) + 1);
      n++;
    }
    // log(u) / w orders as u^(1/w); the keys live beside the records, which keep their draws.
    const keys = new Map<UnitRecord, number>();
    for (const r of records) if (!r.reference) keys.set(r, Math.log(r.score!) * Math.pow(counts.get(r.group!)! / n, this.power));
    return selectWith(records, context, (rs, budget) => takeInOrder(byKey(rs, keys), budget));
  }
}

/** The records with a key, largest first (ties in pool order, as byScore). */
function byKey(records: readonly UnitRecord[], keys: Map<UnitRecord, number>): UnitRecord[] {
  return records.filter((r) => keys.has(r)).sort((a, b) => keys.get(b)! - keys.get(a)! || a.image - b.image || a.unit - b.unit);
}

/** Least confidence, margin or entropy of the softmax, averaged per unit. */
export class UncertaintyStrategy implements Strategy {
  readonly needs = ['probabilities'] as const;
  readonly settings: NeedSettings = {};
  readonly name: string;

  constructor(readonly measure: UncertaintyMeasure) {
    this.name = measure;
  }

  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[] {
    return recordsFromPixelScores(inputs, units, (x) => uncertaintyMap(this.measure, need(x, 'probabilities', this.name)));
  }

  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    return selectTopScores(records, context);
  }
}

/**
 * MC-dropout BALD (Gal, Islam & Ghahramani 2017): mutual information between the prediction and
 * the model's weights, H(mean_t p_t) - mean_t H(p_t), over T dropout passes, averaged per unit.
 */
export class BaldStrategy implements Strategy {
  readonly name = 'bald';
  readonly needs = ['mcSamples'] as const;
  readonly settings: NeedSettings;

  constructor(passes = 10) {
    if (!Number.isInteger(passes) || passes < 2) throw new RangeError(`bald: passes must be an integer >= 2, got ${passes}`);
    this.settings = { mcPasses: passes };
  }

  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[] {
    return recordsFromPixelScores(inputs, units, (x) => baldMap(need(x, 'mcSamples', this.name)));
  }

  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    return selectTopScores(records, context);
  }
}

// ---------------------------------------------------------------- registry entries

export interface RandomConfig {
  strategy: 'random';
}

/**
 * Random, with each unit drawn with weight (the pool share of its predicted class)^-power, so
 * the classes the model predicts rarely get more of the budget than their area (power 1: the
 * same number of units expected per predicted class; 0: plain random).
 */
export interface ClassBalancedConfig {
  strategy: 'classBalanced';
  power: number;
}

/**
 * leastConfidence: 1 - max probability; margin: best minus second-best probability (the smallest
 * margins are chosen); entropy.
 */
export interface UncertaintyConfig<M extends UncertaintyMeasure = UncertaintyMeasure> {
  strategy: M;
}

/** MC-dropout BALD: mutual information between prediction and weights over `passes` passes (10). */
export interface BaldConfig {
  strategy: 'bald';
  passes: number;
}

export const randomStrategy: StrategyEntry<RandomConfig> = {
  kind: 'random',
  keys: [],
  parse: () => ({ strategy: 'random' }),
  create: () => new RandomStrategy(),
};

export const classBalancedStrategy: StrategyEntry<ClassBalancedConfig> = {
  kind: 'classBalanced',
  keys: ['power'],
  parse: (r: ConfigReader) => ({ strategy: 'classBalanced', power: r.number('power', 1, { min: 0 }) }),
  create: (c) => new ClassBalancedStrategy(c.power),
  describe: (c) => `class-balanced (power=${c.power})`,
};

function uncertaintyEntry<M extends UncertaintyMeasure>(measure: M): StrategyEntry<UncertaintyConfig<M>> {
  return { kind: measure, keys: [], parse: () => ({ strategy: measure }), create: (c) => new UncertaintyStrategy(c.strategy) };
}

export const leastConfidenceStrategy = uncertaintyEntry('leastConfidence');
export const marginStrategy = uncertaintyEntry('margin');
export const entropyStrategy = uncertaintyEntry('entropy');

export const baldStrategy: StrategyEntry<BaldConfig> = {
  kind: 'bald',
  keys: ['passes'],
  parse: (r: ConfigReader) => ({ strategy: 'bald', passes: r.integer('passes', 10, 2) }),
  create: (c) => new BaldStrategy(c.passes),
  describe: (c) => `bald (T=${c.passes})`,
};
