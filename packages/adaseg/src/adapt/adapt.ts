// adaptModel: unsupervised domain adaptation (and its use during active rounds, with labelled
// target data) from an AdaptConfig: the method as an objective of the Trainer (progress,
// train.jsonl, periodic evaluation on the target validation sets, checkpoints holding the
// discriminators and their optimisers, exact resume).
import * as torch from '@adaseg/torch';
import { type DatasetDescription, numClasses } from '../data/dataset.js';
import { loadDataset } from '../data/formats/index.js';
import { preflightDatasets } from '../data/inspect.js';
import { hashSeed } from '../data/rng.js';
import type { SegmentationModel } from '../models/base.js';
import { buildModel, describeModel, type ModelConfig } from '../models/config.js';
import { loadInitialWeights } from '../models/weights.js';
import { resolveClassWeights } from '../train/class-weights.js';
import { restoreModel } from '../train/restore.js';
import { type TrainRunOptions, validationOf } from '../train/supervised.js';
import { train, type TrainingResult } from '../train/trainer.js';
import { type AdaptConfig, asTrainConfig } from './config.js';
import { AdaptationObjective, createAdaptationMethod, resolveLevels } from './methods.js';

export interface AdaptRunOptions extends TrainRunOptions {
  /**
   * Labelled target data (e.g. the regions bought so far in an active round; mask labels with 255
   * for unknown pixels), instead of config.data.labelledTarget.
   */
  labelledTarget?: DatasetDescription;
  /**
   * Start from this model instead of config.init / weights: it is trained in place and stays the
   * caller's (not disposed). Its config replaces config.model.
   */
  model?: SegmentationModel;
}

export interface AdaptRunResult extends TrainingResult {
  /** The config as run (model and levels resolved), also in output/config.json. */
  config: AdaptConfig;
}

/** The starting segmenter: an in-memory model, the init run/checkpoint, or a fresh model (+ weights). */
function startingModel(
  config: AdaptConfig,
  classes: number,
  options: AdaptRunOptions,
  log: (line: string) => void,
): { model: SegmentationModel; owned: boolean } {
  if (options.model !== undefined) {
    if (options.model.numClasses !== classes) throw new Error(`adapt: the given model predicts ${options.model.numClasses} classes, the data has ${classes}`);
    return { model: options.model, owned: false };
  }
  if (config.init !== undefined) {
    const restored = restoreModel(config.init, classes, config.model === undefined ? undefined : JSON.stringify(config.model));
    log(`adapt: starting from ${restored.checkpoint}`);
    const normalize = config.data.normalize;
    if (restored.normalize !== undefined && JSON.stringify(restored.normalize) !== JSON.stringify(normalize)) {
      log(`adapt: warning: the init run normalised images with ${JSON.stringify(restored.normalize)}, this config with ${JSON.stringify(normalize)}`);
    }
    return { model: restored.model, owned: true };
  }
  const model = buildModel(config.model, classes);
  if (config.weights !== undefined) {
    try {
      loadInitialWeights(model, config.weights, { allowPartial: options.allowPartialWeights, log });
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  return { model, owned: true };
}

export async function adaptModel(config: AdaptConfig, options: AdaptRunOptions = {}): Promise<AdaptRunResult> {
  const log = options.log ?? (() => {});
  const sourceSet = await loadDataset(config.data.source);
  const targetSet = await loadDataset(config.data.target);
  const labelledTargetSet = options.labelledTarget ?? (config.data.labelledTarget ? await loadDataset(config.data.labelledTarget) : undefined);
  const valSets = await Promise.all(config.data.val.map(async (v) => ({ name: v.name, dataset: await loadDataset(v.dataset) })));
  const classes = numClasses(sourceSet);
  const others: [string, DatasetDescription][] = [
    ['target set', targetSet],
    ...valSets.map((v): [string, DatasetDescription] => [`validation set '${v.name}'`, v.dataset]),
  ];
  if (labelledTargetSet) others.push(['labelled target set', labelledTargetSet]);
  for (const [what, ds] of others) {
    if (numClasses(ds) !== classes) throw new Error(`the ${what} has ${numClasses(ds)} classes, the source set ${classes}`);
  }

  if (!options.skipPreflight) {
    await preflightDatasets(
      [
        { what: 'data.source', dataset: sourceSet },
        { what: 'data.target', dataset: targetSet },
        ...(labelledTargetSet !== undefined && options.labelledTarget === undefined ? [{ what: 'data.labelledTarget', dataset: labelledTargetSet }] : []),
        ...valSets.map((v) => ({ what: `data.val '${v.name}'`, dataset: v.dataset })),
      ],
      { log },
    );
  }
  torch.manualSeed(config.seed);
  const { model, owned } = startingModel(config, classes, options, log);
  try {
    if (config.train.freezeBatchNorm !== 'none') model.freezeBatchNorm(config.train.freezeBatchNorm);
    const modelConfig = model.config as ModelConfig;
    const resolved: AdaptConfig = { ...config, model: modelConfig, adapt: { ...config.adapt, levels: resolveLevels(config.adapt, model) } };
    const trainLike = asTrainConfig(resolved, modelConfig);
    log(`adapt: ${resolved.adapt.method} (${resolved.adapt.levels}-level) on ${describeModel(model)}`);
    const method = createAdaptationMethod(resolved.adapt, {
      model,
      iterations: config.train.iterations,
      auxWeight: config.train.auxWeight,
      targetSet,
      targetLoader: {
        batchSize: config.eval.batchSize,
        workers: config.data.workers,
        normalize: config.data.normalize,
        transforms: config.data.evalTransforms,
      },
      log,
    });
    let weights: number[] | null;
    try {
      weights = await resolveClassWeights(config.train.classWeights ?? 'none', sourceSet, log);
    } catch (e) {
      method.dispose();
      throw e;
    }
    const objective = new AdaptationObjective(model, method, {
      auxWeight: config.train.auxWeight,
      labelledTargetWeight: config.adapt.labelledTargetWeight,
      classWeight: weights === null ? null : torch.tensor(weights),
      targetLabels: false,
    });
    const loaderCommon = { batchSize: config.data.batchSize, workers: config.data.workers, normalize: config.data.normalize, cache: config.data.cache };
    const result = await train({
      model,
      objective,
      train: config.train,
      streams: {
        source: { dataset: sourceSet, loader: { ...loaderCommon, shuffle: true, seed: config.seed, transforms: config.data.transforms } },
        target: { dataset: targetSet, loader: { ...loaderCommon, shuffle: true, seed: hashSeed(config.seed, 1), transforms: config.data.targetTransforms } },
        ...(labelledTargetSet !== undefined
          ? {
              labelledTarget: {
                dataset: labelledTargetSet,
                loader: { ...loaderCommon, shuffle: true, seed: hashSeed(config.seed, 2), transforms: config.data.targetTransforms },
              },
            }
          : {}),
      },
      output: config.output,
      runConfig: resolved,
      validation: validationOf(model, valSets, trainLike),
      metrics: { name: config.name, seed: config.seed, method: config.adapt.method },
      resume: options.resume ?? true,
      signal: options.signal,
      progress: options.progress,
      label: config.name,
      extra: { config: config.name, method: config.adapt.method },
      onIteration: options.onIteration,
    });
    return { ...result, config: resolved };
  } finally {
    if (owned) model.dispose();
  }
}
