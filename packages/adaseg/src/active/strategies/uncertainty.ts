// Random and the classic uncertainty strategies. A unit's score is the mean of a per-pixel score
// over its unlabelled pixels; the highest scores are chosen (globally or per image).
import { hashSeed, hashString } from '../../data/rng.js';
import * as torch from '@adaseg/torch';
import type { BatchInputs, NeedSettings, SelectionContext, Strategy, UncertaintyMeasure, UnitConfig, UnitRecord, UnitRef } from '../types.js';
import { baldMap, BatchUnits, tidyRecords, need, recordsFromPixelScores, uncertaintyMap } from './common.js';
import { selectTopScores } from './select.js';

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
      const scores = new Float32Array(b.N * b.U);
      inputs.imageIds.forEach((id, i) => {
        const h = hashString(id);
        for (let u = 0; u < b.U; u++) scores[i * b.U + u] = hashSeed(inputs.seed, h, u) / 4294967296;
      });
      return b.records({ score: torch.tensor(scores, { shape: [b.N, b.U] }) });
    });
  }

  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    return selectTopScores(records, context);
  }
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
