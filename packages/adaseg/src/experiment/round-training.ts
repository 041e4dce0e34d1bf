// One round's training (and the fully supervised baseline's), as an objective of the Trainer, so
// it checkpoints and resumes exactly. Per iteration: a source batch (cross-entropy); a target
// batch (the partial masks bought so far: cross-entropy over the labelled pixels only, weighted)
// with, when configured, the UDA method's loss and RIPU's negative-learning loss on the same
// forward: adapt's adaptationStep with the target's labels.
import * as torch from '@adaseg/torch';
import type { AdaptMethodConfig } from '../adapt/config.js';
import { AdaptationObjective, type AdaptationMethod, createAdaptationMethod, type OutputLevels, type TargetLossResult } from '../adapt/methods.js';
import type { DatasetDescription, LabelMask, Sample } from '../data/dataset.js';
import { IGNORE_INDEX } from '../data/classes.js';
import { withMask } from '../data/dataset.js';
import { hashSeed } from '../data/rng.js';
import { evaluate, type EvaluationResult } from '../eval/evaluate.js';
import type { SegmentationModel } from '../models/base.js';
import { resolveClassWeights } from '../train/class-weights.js';
import { negativeLearningLoss } from '../train/losses.js';
import { type LoopResult, type StepContext, train } from '../train/trainer.js';
import type { ExperimentConfig, NegativeLearningConfig } from './config.js';
import { resizeTransforms } from './config.js';

type Tensor = torch.Tensor;

export { negativeLearningLoss };

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

  updateAuxiliary(source: OutputLevels, target: OutputLevels, ctx?: StepContext): Record<string, number> {
    return this.inner?.updateAuxiliary(source, target, ctx) ?? {};
  }

  checkpointInfo(): Record<string, unknown> {
    return this.inner?.checkpointInfo?.() ?? {};
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

/** Trains one round (resuming from the output's latest checkpoint when there is one). */
export async function trainRound(setup: RoundTraining): Promise<LoopResult> {
  const { config, model } = setup;
  const rounds = config.rounds;
  const roundTrain = rounds.train;
  const resize = resizeTransforms(config);
  const data = config.data;
  if (roundTrain.freezeBatchNorm !== 'none') model.freezeBatchNorm(roundTrain.freezeBatchNorm);
  // Weights from the source labels (the target's are unknown): for both labelled losses.
  const weights = await resolveClassWeights(roundTrain.classWeights ?? 'none', setup.source, setup.log);
  torch.manualSeed(setup.seed);
  const evalLoader = { batchSize: config.eval.batchSize, workers: data.workers, normalize: data.normalize, transforms: resize };
  const inner =
    rounds.adapt === undefined
      ? undefined
      : createAdaptationMethod(rounds.adapt, {
          model,
          iterations: setup.iterations,
          auxWeight: roundTrain.auxWeight,
          targetSet: setup.unlabelledTarget,
          targetLoader: evalLoader,
          log: setup.log,
        });
  const objective = new AdaptationObjective(model, new RoundMethod(inner, rounds.negativeLearning), {
    auxWeight: roundTrain.auxWeight,
    labelledTargetWeight: rounds.labelledTargetWeight,
    classWeight: weights === null ? null : torch.tensor(weights),
    targetLabels: true,
  });
  const common = { batchSize: data.batchSize, workers: data.workers, normalize: data.normalize, cache: data.cache };
  return await train({
    model,
    objective,
    // The iterations recorded are the ones this training runs (the full baseline runs the whole pipeline's).
    train: { ...roundTrain, iterations: setup.iterations, evalEvery: setup.iterations + 1 },
    streams: {
      source: { dataset: setup.source, loader: { ...common, shuffle: true, seed: hashSeed(setup.seed, 1), transforms: [...resize, ...data.transforms] } },
      target: { dataset: setup.target, loader: { ...common, shuffle: true, seed: hashSeed(setup.seed, 2), transforms: [...resize, ...data.targetTransforms] } },
    },
    output: setup.output,
    // The run's manifest: what restoreModel reads beside the checkpoints (model, normalisation), and the round's settings.
    runConfig: {
      name: setup.label ?? 'round',
      model: model.config,
      data: { normalize: data.normalize, evalTransforms: resize },
      train: { ...roundTrain, iterations: setup.iterations },
      ...(rounds.adapt ? { adapt: rounds.adapt as AdaptMethodConfig } : {}),
    },
    resume: true,
    signal: setup.signal,
    progress: setup.progress,
    label: setup.label,
    extra: { label: setup.label ?? 'round' },
    onIteration: setup.onIteration,
  });
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
  const out = new Uint8Array(native.width * native.height).fill(IGNORE_INDEX);
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
