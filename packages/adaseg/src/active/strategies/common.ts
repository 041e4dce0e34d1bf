// What every strategy's phase 1 shares: per-pixel uncertainty maps, per-unit means over a batch
// (on the engine, through units.ts), and turning per-unit tensors into the small UnitRecords that
// outlive the batch.
import * as torch from '@adaseg/torch';
import { ConfigError, type ConfigReader } from '../../util/config-reader.js';
import { batchUnitCount, unitSums } from '../units.js';
import type { BatchInputs, UnitConfig, UnitRecord, UncertaintyMeasure } from '../types.js';

type Tensor = torch.Tensor;

/** Probabilities below this count as this in logarithms (0 log 0 = 0). */
export const LOG_EPS = 1e-12;

/** Shannon entropy (nats) over `dim`: -sum p log p. */
export function entropy(p: Tensor, dim = 1): Tensor {
  return torch.tidy(() => p.mul(p.clamp(LOG_EPS).log()).sum(dim).neg());
}

/** 1 - max_c p  [N, H, W] of probabilities [N, C, H, W]. */
export function leastConfidenceMap(p: Tensor): Tensor {
  return torch.tidy(() => p.max(1)[0].neg().add(1));
}

/** 1 - (p_best - p_second)  [N, H, W]: higher = smaller margin = more uncertain. */
export function marginMap(p: Tensor): Tensor {
  return torch.tidy(() => {
    const [top] = p.topk(2, 1);
    return top.select(1, 0).sub(top.select(1, 1)).neg().add(1);
  });
}

/**
 * The predicted class of probabilities (or logits) [N, C, H, W] over dim 1: [N, H, W] int64, or
 * [N, 1, H, W] with keepdim. The same indices as argmax(1) (the first on ties, NaN counting as the
 * largest), taken from max(1): libtorch's argmax reduces over the channel dimension of an NCHW map
 * about six times slower than max does (40 ms against 6 ms on 4 x 11 x 180 x 240, 2 threads).
 */
export function predictedClass(p: Tensor, keepdim = false): Tensor {
  return torch.tidy(() => p.max(1, keepdim)[1]);
}

/**
 * One-hot of the predicted class of probabilities [N, C, H, W]: [N, C, H, W] float32, contiguous
 * NCHW (a comparison with the class indices, so no int64 [N, H, W, C] one-hot and no permuted
 * copy on the way).
 */
export function predictedOneHot(p: Tensor): Tensor {
  return torch.tidy(() => {
    const C = p.shape[1];
    return torch.arange(C, undefined, 1, { dtype: 'int64' }).reshape([1, C, 1, 1]).eq(predictedClass(p, true)).float();
  });
}

export function entropyMap(p: Tensor): Tensor {
  return entropy(p, 1);
}

/** BALD per pixel from MC samples [T, N, C, H, W]: H(mean_t p_t) - mean_t H(p_t)  [N, H, W]. */
export function baldMap(samples: Tensor): Tensor {
  return torch.tidy(() => entropy(samples.mean(0), 1).sub(entropy(samples, 2).mean(0)).clamp(0));
}

/** The measures of the uncertainty and hybrid strategies. */
export const UNCERTAINTY_MEASURES: readonly UncertaintyMeasure[] = ['leastConfidence', 'margin', 'entropy'];

export function uncertaintyMap(measure: UncertaintyMeasure, p: Tensor): Tensor {
  switch (measure) {
    case 'leastConfidence':
      return leastConfidenceMap(p);
    case 'margin':
      return marginMap(p);
    case 'entropy':
      return entropyMap(p);
  }
}

export function need<K extends keyof BatchInputs>(inputs: BatchInputs, key: K, strategy: string): NonNullable<BatchInputs[K]> {
  const v = inputs[key];
  if (v === undefined || v === null) throw new Error(`strategy ${strategy}: the scorer did not provide '${String(key)}'`);
  return v as NonNullable<BatchInputs[K]>;
}

/**
 * The units of one batch: per-unit sums and means of per-pixel maps, and the records. Create it
 * inside a torch.tidy (it holds tensors); the records it makes are plain JS and survive.
 */
export class BatchUnits {
  readonly N: number;
  readonly H: number;
  readonly W: number;
  /** Units per image (the largest, for superpixels). */
  readonly U: number;
  /** [N, 1, H, W] float: 1 where not labelled. */
  readonly unlabelled: Tensor;
  /** [N, U] unlabelled pixels per unit. */
  readonly counts: Tensor;
  private totalCounts: Tensor | null = null;

  constructor(
    readonly inputs: BatchInputs,
    readonly units: UnitConfig,
  ) {
    const [N, H, W] = inputs.labelled.shape;
    this.N = N;
    this.H = H;
    this.W = W;
    this.U = batchUnitCount(units, { width: W, height: H }, inputs.segmentCounts);
    this.unlabelled = inputs.labelled.logicalNot().float().unsqueeze(1);
    this.counts = this.sums(this.unlabelled).squeeze(1);
  }

  /** Sums over each unit of a map [N, K, H, W] → [N, K, U]. */
  sums(map: Tensor): Tensor {
    return unitSums(map, this.units, this.inputs.segments, this.U);
  }

  /** [N, U] pixels per unit (labelled or not). */
  total(): Tensor {
    if (this.totalCounts === null) this.totalCounts = this.sums(torch.ones([this.N, 1, this.H, this.W])).squeeze(1);
    return this.totalCounts;
  }

  /** Mean of a per-pixel map [N, H, W] (or [N, K, H, W]) over each unit's unlabelled pixels: [N, U] (or [N, K, U]). */
  meanUnlabelled(map: Tensor): Tensor {
    const m4 = map.ndim === 3 ? map.unsqueeze(1) : map;
    const mean = this.sums(m4.mul(this.unlabelled)).div(this.counts.clamp(1).unsqueeze(1));
    return map.ndim === 3 ? mean.squeeze(1) : mean;
  }

  /** Mean of a per-pixel map [N, K, H, W] over all pixels of each unit: [N, K, U]. */
  meanAll(map: Tensor): Tensor {
    return this.sums(map).div(this.total().clamp(1).unsqueeze(1));
  }

  /**
   * Records of the candidate units (at least one unlabelled pixel): `score` [N, U] and/or
   * `embedding` [N, U, E] per unit. With scores, only the inputs.keepPerImage best of each image
   * are made. `references` adds, for core-set, the fully labelled units as reference records.
   */
  records(values: { score?: Tensor; embedding?: Tensor; group?: Tensor; references?: boolean }): UnitRecord[] {
    const { N, U } = this;
    const counts = this.counts.toTypedArray() as Float32Array;
    const score = values.score ? (values.score.float().contiguous().toTypedArray() as Float32Array) : null;
    const E = values.embedding ? values.embedding.shape[2] : 0;
    const emb = values.embedding ? (values.embedding.float().contiguous().toTypedArray() as Float32Array) : null;
    const total = values.references ? (this.total().toTypedArray() as Float32Array) : null;
    const group = values.group ? (values.group.to('int32').contiguous().toTypedArray() as Int32Array) : null;
    if (group !== null && group.length !== N * U) throw new RangeError(`records: groups have ${group.length} values for ${N} images x ${U} units`);
    if (score !== null && score.length !== N * U) throw new RangeError(`records: scores have ${score.length} values for ${N} images x ${U} units`);
    if (emb !== null && (values.embedding!.shape[0] !== N || values.embedding!.shape[1] !== U))
      throw new RangeError(`records: embeddings [${values.embedding!.shape}] do not match [${N}, ${U}, E]`);
    const keep = this.inputs.keepPerImage;
    const out: UnitRecord[] = [];
    const make = (i: number, image: number, imageId: string, u: number) => {
      const at = i * U + u;
      const r: UnitRecord = { image, imageId, unit: u, pixels: counts[at] };
      if (score !== null) r.score = score[at];
      if (emb !== null) r.embedding = emb.slice(at * E, (at + 1) * E);
      if (group !== null) r.group = group[at];
      out.push(r);
    };
    for (let i = 0; i < N; i++) {
      const image = this.inputs.images[i],
        imageId = this.inputs.imageIds[i];
      const base = i * U;
      let candidates = 0;
      for (let u = 0; u < U; u++) if (counts[base + u] > 0) candidates++;
      if (score !== null && candidates > keep) {
        const chosen: number[] = [];
        for (let u = 0; u < U; u++) if (counts[base + u] > 0) chosen.push(u);
        chosen.sort((a, b) => score[base + b] - score[base + a] || a - b);
        chosen.length = Math.max(0, keep);
        chosen.sort((a, b) => a - b);
        for (const u of chosen) make(i, image, imageId, u);
      } else {
        for (let u = 0; u < U; u++) if (counts[base + u] > 0) make(i, image, imageId, u);
      }
      if (total !== null && emb !== null) {
        for (let u = 0; u < U; u++) {
          if (counts[base + u] === 0 && total[base + u] > 0)
            out.push({ image, imageId, unit: u, pixels: 0, reference: true, embedding: emb.slice((base + u) * E, (base + u + 1) * E) });
        }
      }
    }
    return out;
  }
}

/**
 * Runs fn in a torch.tidy and returns its records. (Records hold no tensors: returning them
 * through the tidy's return value would only make it walk every record looking for some.)
 */
export function tidyRecords(fn: () => UnitRecord[]): UnitRecord[] {
  let out: UnitRecord[] = [];
  torch.tidy(() => {
    out = fn();
  });
  return out;
}

/** Scored records of a per-pixel score map [N, H, W], averaged over each unit's unlabelled pixels. */
export function recordsFromPixelScores(inputs: BatchInputs, units: UnitConfig, scoreMap: (inputs: BatchInputs) => Tensor): UnitRecord[] {
  return tidyRecords(() => {
    const b = new BatchUnits(inputs, units);
    return b.records({ score: b.meanUnlabelled(scoreMap(inputs)) });
  });
}

/** Runs fn, turning an error other than a ConfigError into one naming the reader's config. */
export function rethrow(r: ConfigReader, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${r.path}: ${(e as Error).message}`);
  }
}
