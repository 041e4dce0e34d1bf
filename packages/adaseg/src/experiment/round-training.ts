// One round's training (and the fully supervised baseline's): on the shared training loop, so it
// checkpoints and resumes exactly. Per iteration: a source batch (cross-entropy); a labelled
// target batch (the partial masks bought so far: cross-entropy over the labelled pixels only,
// weighted); and, when configured, an unlabelled target batch with the UDA method's loss and
// RIPU's negative-learning loss, through adapt's adaptationStep.
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import type { AdaptMethodConfig } from '../adapt/config.js';
import { type AdaptationMethod, createAdaptationMethod, type LabelledBatch, levelsOf, type OutputLevels, segmentationLoss, type TargetLossResult } from '../adapt/methods.js';
import { SchedulerGroup } from '../adapt/adapt.js';
import type { DatasetDescription, LabelMask, Sample } from '../data/dataset.js';
import { withMask } from '../data/dataset.js';
import { type Batch, DataLoader } from '../data/loader.js';
import { hashSeed } from '../data/rng.js';
import { evaluate, type EvaluationResult } from '../eval/evaluate.js';
import type { SegmentationModel } from '../models/base.js';
import { resolveClassWeights } from '../train/class-weights.js';
import { buildOptimizer, buildScheduler, type LoopResult, runTrainingLoop, writeJsonAtomic } from '../train/trainer.js';
import type { ExperimentConfig, NegativeLearningConfig } from './config.js';
import { resizeTransforms } from './config.js';

type Tensor = torch.Tensor;

/**
 * RIPU's negative learning: classes whose predicted probability is below `threshold` are taken as
 * complementary labels ("this pixel is not c"); the loss is -log(1 - p_c) over them, averaged over
 * all such (pixel, class) pairs. `logits` [N, C, H, W].
 */
export function negativeLearningLoss(logits: Tensor, threshold: number): Tensor {
  return torch.tidy(() => {
    const p = logits.softmax(1);
    const mask = p.detach().lt(threshold).float();
    const count = mask.sum().item() as number;
    return p.neg().add(1 + 1e-6).log().mul(mask).sum().neg().div(Math.max(1, count));
  });
}

/**
 * The round's objective on unlabelled target batches as one AdaptationMethod: the UDA method's
 * (when there is one) plus negative learning (when configured).
 */
export class RoundMethod implements AdaptationMethod {
  readonly kind: AdaptationMethod['kind'];
  readonly modules: Record<string, torch.nn.Module>;
  readonly optimizers: Record<string, torch.optim.Optimizer<any>>;
  readonly schedulers: AdaptationMethod['schedulers'];

  constructor(
    private readonly inner: AdaptationMethod | undefined,
    private readonly negative: NegativeLearningConfig | undefined,
  ) {
    this.kind = inner?.kind ?? ('none' as AdaptationMethod['kind']);
    this.modules = inner?.modules ?? {};
    this.optimizers = inner?.optimizers ?? {};
    this.schedulers = inner?.schedulers ?? {};
  }

  prepare(iteration: number): Promise<Record<string, unknown> | null> {
    return this.inner?.prepare(iteration) ?? Promise.resolve(null);
  }

  targetLoss(target: OutputLevels, images: Tensor): TargetLossResult {
    const result: TargetLossResult = this.inner?.targetLoss(target, images) ?? { loss: null, scalars: {} };
    if (this.negative === undefined || this.negative.weight === 0) return result;
    const nl = negativeLearningLoss(target.main, this.negative.threshold);
    result.scalars.negative = nl.item() as number;
    const term = nl.mul(this.negative.weight);
    return { loss: result.loss === null ? term : result.loss.add(term), scalars: result.scalars };
  }

  updateAuxiliary(source: OutputLevels, target: OutputLevels): Record<string, number> {
    return this.inner?.updateAuxiliary(source, target) ?? {};
  }

  dispose(): void {
    this.inner?.dispose();
  }
}

export interface RoundTraining {
  config: ExperimentConfig;
  /** Run directory of this training (checkpoints, train.jsonl, config.json). */
  output: string;
  iterations: number;
  /** Seeds the method's networks and the data order. */
  seed: number;
  /** Trained in place (the caller's). */
  model: SegmentationModel;
  source: DatasetDescription;
  /**
   * The target batches: pool images with their labels as known so far (partial masks, 255 where
   * unknown; or every label for the supervised baseline). Cross-entropy runs on the labelled
   * pixels; the UDA and negative-learning losses on the whole images.
   */
  target: DatasetDescription;
  /** For self-training's thresholds: the unlabelled pool. */
  unlabelledTarget: DatasetDescription;
  signal?: AbortSignal;
  progress?: boolean;
  label?: string;
  log?: (line: string) => void;
  onIteration?: (iteration: number) => void;
}

async function nextBatch(stream: AsyncGenerator<Batch>, what: string): Promise<Batch> {
  const next = await stream.next();
  if (next.done) throw new Error(`the ${what} data stream ended`);
  return next.value;
}

function detached(l: OutputLevels): OutputLevels {
  return { main: l.main.detach(), aux: l.aux.map((a) => a.detach()) };
}

/**
 * One round iteration up to (not including) the optimiser step, in adaptationStep's phase order
 * but with a single target forward (as RIPU): (1) source batch, cross-entropy, backward; (2)
 * target batch: weighted cross-entropy on its labelled pixels + the method's target loss (UDA,
 * negative learning) on the same output, backward; (3) the method's auxiliary networks update
 * from the detached predictions.
 */
export function roundStep(model: SegmentationModel, method: AdaptationMethod, source: LabelledBatch, target: LabelledBatch, options: { auxWeight: number; labelledTargetWeight: number; classWeight?: Tensor | null }): Record<string, number> {
  const scalars: Record<string, number> = {};
  const classWeight = options.classWeight ?? null;
  const src = torch.tidy(() => {
    const levels = levelsOf(model.forward(source.images));
    const loss = segmentationLoss(levels, source.labels, options.auxWeight, classWeight);
    loss.backward();
    scalars.seg = loss.item() as number;
    return detached(levels);
  });
  try {
    const tgt = torch.tidy(() => {
      const levels = levelsOf(model.forward(target.images));
      let loss: Tensor | null = null;
      if (options.labelledTargetWeight > 0) {
        const ce = segmentationLoss(levels, target.labels, options.auxWeight, classWeight);
        scalars.segTarget = ce.item() as number;
        loss = ce.mul(options.labelledTargetWeight);
      }
      const result = method.targetLoss(levels, target.images);
      Object.assign(scalars, result.scalars);
      if (result.loss !== null) loss = loss === null ? result.loss : loss.add(result.loss);
      if (loss !== null) loss.backward();
      return detached(levels);
    });
    try {
      Object.assign(scalars, method.updateAuxiliary(src, tgt));
    } finally {
      torch.dispose(tgt);
    }
  } finally {
    torch.dispose(src);
  }
  return scalars;
}

/** Trains one round (resuming from the output's latest checkpoint when there is one). */
export async function trainRound(setup: RoundTraining): Promise<LoopResult> {
  const { config, model } = setup;
  const rounds = config.rounds;
  const train = rounds.train;
  const resize = resizeTransforms(config);
  const data = config.data;
  if (train.freezeBatchNorm !== 'none') model.freezeBatchNorm(train.freezeBatchNorm);
  // Weights from the source labels (the target's are unknown): for both labelled losses.
  const weights = await resolveClassWeights(train.classWeights ?? 'none', setup.source, setup.log);
  torch.manualSeed(setup.seed);
  const evalLoader = { batchSize: config.eval.batchSize, workers: data.workers, normalize: data.normalize, transforms: resize };
  const inner = rounds.adapt === undefined
    ? undefined
    : createAdaptationMethod(rounds.adapt, { model, iterations: setup.iterations, auxWeight: train.auxWeight, targetSet: setup.unlabelledTarget, targetLoader: evalLoader, log: setup.log });
  const method = new RoundMethod(inner, rounds.negativeLearning);
  const optimizer = buildOptimizer(train.optimizer, model.parameterGroups(), train.headLrMultiplier);
  const scheduler = new SchedulerGroup({ main: buildScheduler(optimizer, train.schedule, setup.iterations, train.warmupIterations), ...method.schedulers });
  const common = { batchSize: data.batchSize, workers: data.workers, normalize: data.normalize, cache: data.cache };
  const loaders: DataLoader[] = [];
  const classWeight = weights === null ? null : torch.tensor(weights);
  try {
    const sourceLoader = new DataLoader(setup.source, { ...common, shuffle: true, seed: hashSeed(setup.seed, 1), transforms: [...resize, ...data.transforms] });
    loaders.push(sourceLoader);
    const targetLoader = new DataLoader(setup.target, { ...common, shuffle: true, seed: hashSeed(setup.seed, 2), transforms: [...resize, ...data.targetTransforms] });
    loaders.push(targetLoader);
    // What restoreModel / restoreDiscriminators read beside the checkpoints.
    // The iterations recorded are the ones this training runs (the full baseline runs the whole pipeline's).
    writeJsonAtomic(join(setup.output, 'config.json'), { name: setup.label ?? 'round', model: model.config, data: { normalize: data.normalize }, train: { ...train, iterations: setup.iterations }, ...(rounds.adapt ? { adapt: rounds.adapt as AdaptMethodConfig } : {}) });
    const stepOptions = { auxWeight: train.auxWeight, labelledTargetWeight: rounds.labelledTargetWeight, classWeight };
    return await runTrainingLoop(
      {
        iterations: setup.iterations,
        outputDir: setup.output,
        evalEvery: setup.iterations + 1,
        checkpointEvery: train.checkpointEvery,
        keepLast: train.keepLast,
        logEvery: train.logEvery,
        resume: true,
        signal: setup.signal,
        progress: setup.progress,
        label: setup.label,
        extra: { label: setup.label ?? 'round' },
        onIteration: setup.onIteration,
      },
      { model, optimizer, scheduler, modules: method.modules, optimizers: method.optimizers },
      (start) => {
        const source = sourceLoader.batches(start);
        const target = targetLoader.batches(start);
        return async (iteration) => {
          await method.prepare(iteration);
          const [s, t] = await Promise.all([nextBatch(source, 'source'), nextBatch(target, 'target')]);
          try {
            model.train();
            optimizer.zeroGrad();
            const scalars = roundStep(model, method, s, t, stepOptions);
            optimizer.step();
            return scalars;
          } finally {
            s.dispose();
            t.dispose();
          }
        };
      },
    );
  } finally {
    for (const loader of loaders) await loader.close();
    method.dispose();
    optimizer.dispose();
    classWeight?.dispose();
  }
}

/** Evaluates a model on the target validation set at the working resolution. */
export function evaluateOnTarget(model: SegmentationModel, val: DatasetDescription, config: ExperimentConfig, progress = false): Promise<EvaluationResult> {
  return evaluate(model, val, {
    flip: config.eval.flip,
    batchSize: config.eval.batchSize,
    workers: config.data.workers,
    normalize: config.data.normalize,
    transforms: resizeTransforms(config),
    progress,
    label: 'eval target val',
  });
}

/**
 * A mask at the working resolution put into an image of its native size so that the working
 * resolution's nearest-neighbour resize (the first transform) gives it back exactly: each working
 * pixel goes to the one native pixel that resize samples; every other native pixel is unknown.
 */
export function toNativeMask(mask: LabelMask, native: { width: number; height: number }): LabelMask {
  if (mask.width === native.width && mask.height === native.height) return mask;
  const out = new Uint8Array(native.width * native.height).fill(255);
  const xs = new Int32Array(mask.width);
  for (let x = 0; x < mask.width; x++) xs[x] = Math.min(native.width - 1, Math.floor(((x + 0.5) * native.width) / mask.width));
  for (let y = 0; y < mask.height; y++) {
    const sy = Math.min(native.height - 1, Math.floor(((y + 0.5) * native.height) / mask.height));
    for (let x = 0; x < mask.width; x++) out[sy * native.width + xs[x]] = mask.data[y * mask.width + x];
  }
  return { width: native.width, height: native.height, data: out };
}

/**
 * Pool samples with their partial masks (native size), for the target loader: every pool image
 * ('pool': unlabelled ones have no label) or only those with labels ('labelled').
 */
export function labelledTargetSet(
  pool: DatasetDescription,
  masks: Map<string, { index: number; width: number; height: number; data: Uint8Array }>,
  nativeSizes: { width: number; height: number }[],
  which: 'pool' | 'labelled' = 'labelled',
): DatasetDescription {
  const byIndex = new Map<number, Sample>();
  for (const [id, m] of masks) {
    const sample = pool.samples[m.index];
    if (sample === undefined || sample.id !== id) throw new Error(`label store: image '${id}' is not pool image ${m.index} (the pool changed?)`);
    byIndex.set(m.index, withMask(sample, toNativeMask({ width: m.width, height: m.height, data: m.data }, nativeSizes[m.index])));
  }
  const samples = which === 'pool' ? pool.samples.map((s, i) => byIndex.get(i) ?? s) : [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s);
  return { ...pool, split: `${pool.split}-${which === 'pool' ? 'partial' : 'labelled'}`, samples };
}

