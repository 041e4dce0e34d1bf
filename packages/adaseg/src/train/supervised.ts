// Supervised training from a TrainConfig (the source-only baseline of adaseg): the segmentation
// cross-entropy as an objective of the Trainer.
import * as torch from '@adaseg/torch';
import { numClasses, type DatasetDescription } from '../data/dataset.js';
import { loadDataset } from '../data/formats/index.js';
import type { Batch } from '../data/loader.js';
import { preflightDatasets } from '../data/inspect.js';
import { evaluate, type EvaluationResult } from '../eval/evaluate.js';
import type { SegmentationModel } from '../models/base.js';
import { buildModel } from '../models/config.js';
import { loadInitialWeights } from '../models/weights.js';
import { resolveClassWeights } from './class-weights.js';
import type { TrainConfig } from './config.js';
import { levelsOf, segmentationLoss } from './losses.js';
import { type Objective, type StepContext, train, type TrainingResult, type Validation } from './trainer.js';

export interface TrainRunOptions {
  /** Continue from the latest checkpoint of config.output (default true). */
  resume?: boolean;
  signal?: AbortSignal;
  progress?: boolean;
  /** Where human-readable notes go (weights report, evaluation tables). */
  log?: (line: string) => void;
  onIteration?: (iteration: number) => void;
  /** Train on from initial weights matching under half of the model's tensors (--allow-partial). */
  allowPartialWeights?: boolean;
  /** Skip reading every image and label before training (--skip-preflight; an experiment does its own). */
  skipPreflight?: boolean;
}

export type TrainRunResult = TrainingResult;

/** Builds the model for a config and dataset (seeded, weights loaded, BN frozen). */
export function prepareModel(config: TrainConfig, classes: number, log: (line: string) => void = () => {}, allowPartialWeights = false): SegmentationModel {
  torch.manualSeed(config.seed);
  const model = buildModel(config.model, classes);
  if (config.weights !== undefined) {
    try {
      loadInitialWeights(model, config.weights, { allowPartial: allowPartialWeights, log });
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  if (config.train.freezeBatchNorm !== 'none') model.freezeBatchNorm(config.train.freezeBatchNorm);
  return model;
}

export async function evaluateAll(
  model: SegmentationModel,
  sets: { name: string; dataset: DatasetDescription }[],
  config: Pick<TrainConfig, 'eval' | 'data'>,
  progress = false,
): Promise<Record<string, EvaluationResult>> {
  const out: Record<string, EvaluationResult> = {};
  for (const { name, dataset } of sets) {
    out[name] = await evaluate(model, dataset, {
      flip: config.eval.flip,
      batchSize: config.eval.batchSize,
      workers: config.data.workers,
      normalize: config.data.normalize,
      transforms: config.data.evalTransforms,
      progress,
      label: `eval ${name}`,
    });
  }
  return out;
}

/** The validation of a run's sets with its evaluation settings (undefined without sets). */
export function validationOf(
  model: SegmentationModel,
  sets: { name: string; dataset: DatasetDescription }[],
  config: Pick<TrainConfig, 'eval' | 'data'>,
): Validation | undefined {
  if (sets.length === 0) return undefined;
  return { primary: sets[0].name, evaluate: (progress) => evaluateAll(model, sets, config, progress) };
}

/**
 * Cross-entropy on the main output plus weighted auxiliary outputs, ignoring 255 (per-class
 * weighted when given); a batch with no labelled pixel gives 0, not NaN.
 */
export class SupervisedObjective implements Objective<{ train: Batch }> {
  readonly modules = {};
  readonly optimizers = {};

  constructor(
    private readonly model: SegmentationModel,
    private readonly auxWeight: number,
    private readonly classWeight: torch.Tensor | null,
  ) {}

  async prepare(): Promise<null> {
    return null;
  }

  step(batches: { train: Batch }, ctx: StepContext): Record<string, number> {
    const { images, labels } = batches.train;
    return torch.tidy(() => {
      const loss = segmentationLoss(levelsOf(this.model.forward(images)), labels, this.auxWeight, this.classWeight);
      ctx.backward(loss);
      return { loss: loss.item() as number };
    });
  }

  dispose(): void {
    this.classWeight?.dispose();
  }
}

export async function trainSupervised(config: TrainConfig, options: TrainRunOptions = {}): Promise<TrainRunResult> {
  const log = options.log ?? (() => {});
  const trainSet = await loadDataset(config.data.train);
  const valSets = await Promise.all(config.data.val.map(async (v) => ({ name: v.name, dataset: await loadDataset(v.dataset) })));
  const classes = numClasses(trainSet);
  for (const v of valSets) {
    if (numClasses(v.dataset) !== classes) throw new Error(`validation set '${v.name}' has ${numClasses(v.dataset)} classes, the training set ${classes}`);
  }
  if (!options.skipPreflight)
    await preflightDatasets([{ what: 'data.train', dataset: trainSet }, ...valSets.map((v) => ({ what: `data.val '${v.name}'`, dataset: v.dataset }))], {
      log,
    });
  const weights = await resolveClassWeights(config.train.classWeights ?? 'none', trainSet, log);
  const model = prepareModel(config, classes, log, options.allowPartialWeights);
  try {
    return await train({
      model,
      objective: new SupervisedObjective(model, config.train.auxWeight, weights === null ? null : torch.tensor(weights)),
      train: config.train,
      streams: {
        train: {
          dataset: trainSet,
          loader: {
            batchSize: config.data.batchSize,
            shuffle: true,
            seed: config.seed,
            workers: config.data.workers,
            transforms: config.data.transforms,
            normalize: config.data.normalize,
            cache: config.data.cache,
          },
        },
      },
      output: config.output,
      runConfig: config,
      validation: validationOf(model, valSets, config),
      metrics: { name: config.name, seed: config.seed },
      resume: options.resume ?? true,
      signal: options.signal,
      progress: options.progress,
      label: config.name,
      extra: { config: config.name },
      onIteration: options.onIteration,
    });
  } finally {
    model.dispose();
  }
}
