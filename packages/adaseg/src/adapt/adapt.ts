// adaptModel: unsupervised domain adaptation (and its use during active rounds, with labelled
// target data) from an AdaptConfig, on the shared training loop: progress, train.jsonl, periodic
// evaluation on the target validation sets, checkpoints holding the discriminators and their
// optimisers, and exact resume.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { type DatasetDescription, numClasses } from '../data/dataset.js';
import { loadDataset } from '../data/formats/index.js';
import { type Batch, DataLoader } from '../data/loader.js';
import { hashSeed } from '../data/rng.js';
import type { EvaluationResult } from '../eval/evaluate.js';
import type { SegmentationModel } from '../models/base.js';
import { buildModel, describeModel, type ModelConfig } from '../models/config.js';
import { formatLoadReport, loadWeights } from '../models/weights.js';
import { resolveClassWeights } from '../train/class-weights.js';
import { restoreModel } from '../train/restore.js';
import { evaluateAll, summarise, type TrainRunOptions } from '../train/supervised.js';
import { buildOptimizer, buildScheduler, type LoopResult, type LrScheduler, runTrainingLoop, writeJsonAtomic } from '../train/trainer.js';
import { type AdaptConfig, asTrainConfig } from './config.js';
import { type AdaptationMethod, adaptationStep, createAdaptationMethod, resolveLevels } from './methods.js';

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

export interface AdaptRunResult extends LoopResult {
  output: string;
  /** The config as run (model and levels resolved), also in output/config.json. */
  config: AdaptConfig;
  /** Final evaluation per validation set. */
  evaluations: Record<string, EvaluationResult>;
}

/** Several schedules stepped and checkpointed as one (the segmenter's first). */
export class SchedulerGroup implements LrScheduler {
  constructor(readonly schedulers: Record<string, LrScheduler>) {
    if (Object.keys(schedulers).length === 0) throw new Error('SchedulerGroup: no schedulers');
  }
  step(): void {
    for (const s of Object.values(this.schedulers)) s.step();
  }
  getLastLr(): number[] {
    return Object.values(this.schedulers)[0].getLastLr();
  }
  stateDict(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.schedulers).map(([k, s]) => [k, s.stateDict()]));
  }
  loadStateDict(sd: Record<string, unknown>): void {
    for (const [k, s] of Object.entries(this.schedulers)) {
      if (sd?.[k] === undefined) throw new Error(`the checkpoint holds no state for schedule '${k}'`);
      s.loadStateDict(sd[k]);
    }
  }
}

/** The starting segmenter: an in-memory model, the init run/checkpoint, or a fresh model (+ weights). */
function startingModel(config: AdaptConfig, classes: number, options: AdaptRunOptions, log: (line: string) => void): { model: SegmentationModel; owned: boolean } {
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
  if (config.weights !== undefined) log(formatLoadReport(loadWeights(model, config.weights)));
  return { model, owned: true };
}

async function nextBatch(stream: AsyncGenerator<Batch>, what: string): Promise<Batch> {
  const next = await stream.next();
  if (next.done) throw new Error(`the ${what} data stream ended`);
  return next.value;
}

export async function adaptModel(config: AdaptConfig, options: AdaptRunOptions = {}): Promise<AdaptRunResult> {
  const log = options.log ?? (() => {});
  const sourceSet = await loadDataset(config.data.source);
  const targetSet = await loadDataset(config.data.target);
  const labelledTargetSet = options.labelledTarget ?? (config.data.labelledTarget ? await loadDataset(config.data.labelledTarget) : undefined);
  const valSets = await Promise.all(config.data.val.map(async (v) => ({ name: v.name, dataset: await loadDataset(v.dataset) })));
  const classes = numClasses(sourceSet);
  const others: [string, DatasetDescription][] = [['target set', targetSet], ...valSets.map((v): [string, DatasetDescription] => [`validation set '${v.name}'`, v.dataset])];
  if (labelledTargetSet) others.push(['labelled target set', labelledTargetSet]);
  for (const [what, ds] of others) {
    if (numClasses(ds) !== classes) throw new Error(`the ${what} has ${numClasses(ds)} classes, the source set ${classes}`);
  }

  torch.manualSeed(config.seed);
  const { model, owned } = startingModel(config, classes, options, log);
  let method: AdaptationMethod | undefined;
  let optimizer: torch.optim.Optimizer<any> | undefined;
  let classWeight: torch.Tensor | null = null;
  const loaders: DataLoader[] = [];
  try {
    if (config.train.freezeBatchNorm !== 'none') model.freezeBatchNorm(config.train.freezeBatchNorm);
    const modelConfig = model.config as ModelConfig;
    const resolved: AdaptConfig = { ...config, model: modelConfig, adapt: { ...config.adapt, levels: resolveLevels(config.adapt, model) } };
    const trainLike = asTrainConfig(resolved, modelConfig);
    log(`adapt: ${resolved.adapt.method} (${resolved.adapt.levels}-level) on ${describeModel(model)}`);
    const loaderCommon = { batchSize: config.data.batchSize, workers: config.data.workers, normalize: config.data.normalize, cache: config.data.cache };
    method = createAdaptationMethod(resolved.adapt, {
      model,
      iterations: config.train.iterations,
      auxWeight: config.train.auxWeight,
      targetSet,
      targetLoader: { batchSize: config.eval.batchSize, workers: config.data.workers, normalize: config.data.normalize, transforms: config.data.evalTransforms },
      log,
    });
    optimizer = buildOptimizer(config.train.optimizer, model.parameterGroups(), config.train.headLrMultiplier);
    const scheduler = new SchedulerGroup({
      main: buildScheduler(optimizer, config.train.schedule, config.train.iterations, config.train.warmupIterations),
      ...method.schedulers,
    });
    const sourceLoader = new DataLoader(sourceSet, { ...loaderCommon, shuffle: true, seed: config.seed, transforms: config.data.transforms });
    loaders.push(sourceLoader);
    const targetLoader = new DataLoader(targetSet, { ...loaderCommon, shuffle: true, seed: hashSeed(config.seed, 1), transforms: config.data.targetTransforms });
    loaders.push(targetLoader);
    let labelledLoader: DataLoader | undefined;
    if (labelledTargetSet !== undefined) {
      labelledLoader = new DataLoader(labelledTargetSet, { ...loaderCommon, shuffle: true, seed: hashSeed(config.seed, 2), transforms: config.data.targetTransforms });
      loaders.push(labelledLoader);
    }
    mkdirSync(config.output, { recursive: true });
    writeJsonAtomic(join(config.output, 'config.json'), resolved);

    const m = method;
    const opt = optimizer;
    const weights = await resolveClassWeights(config.train.classWeights ?? 'none', sourceSet, log);
    if (weights !== null) classWeight = torch.tensor(weights);
    const stepOptions = { auxWeight: config.train.auxWeight, labelledTargetWeight: config.adapt.labelledTargetWeight, classWeight };
    let latest: { iteration: number; results: Record<string, EvaluationResult> } | undefined;
    const result = await runTrainingLoop(
      {
        iterations: config.train.iterations,
        outputDir: config.output,
        evalEvery: config.train.evalEvery,
        checkpointEvery: config.train.checkpointEvery,
        keepLast: config.train.keepLast,
        logEvery: config.train.logEvery,
        resume: options.resume ?? true,
        signal: options.signal,
        progress: options.progress,
        label: config.name,
        extra: { config: config.name, method: config.adapt.method },
        onIteration: options.onIteration,
      },
      { model, optimizer, scheduler, modules: method.modules, optimizers: method.optimizers },
      (start) => {
        const source = sourceLoader.batches(start);
        const target = targetLoader.batches(start);
        const labelled = labelledLoader?.batches(start);
        return async (iteration) => {
          const event = await m.prepare(iteration);
          if (event !== null) appendFileSync(join(config.output, 'train.jsonl'), `${JSON.stringify({ time: new Date().toISOString(), iteration, ...event })}\n`);
          const [s, t, l] = await Promise.all([nextBatch(source, 'source'), nextBatch(target, 'target'), labelled ? nextBatch(labelled, 'labelled target') : undefined]);
          try {
            model.train();
            opt.zeroGrad();
            const scalars = adaptationStep(model, m, { source: s, target: { images: t.images }, ...(l ? { labelledTarget: l } : {}) }, stepOptions);
            opt.step();
            return scalars;
          } finally {
            s.dispose();
            t.dispose();
            l?.dispose();
          }
        };
      },
      valSets.length === 0
        ? undefined
        : async (iteration) => {
            const results = await evaluateAll(model, valSets, trainLike);
            latest = { iteration, results };
            return { metric: results[valSets[0].name].mIoU, log: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, summarise(r)])) };
          },
    );
    let evaluations: Record<string, EvaluationResult> = {};
    if (valSets.length > 0 && !result.stopped) {
      evaluations = latest?.iteration === result.iteration ? latest.results : await evaluateAll(model, valSets, trainLike, options.progress);
    }
    if (!result.stopped) {
      writeJsonAtomic(join(config.output, 'metrics.json'), {
        name: config.name,
        seed: config.seed,
        method: config.adapt.method,
        iterations: result.iteration,
        seconds: result.seconds,
        evaluations: Object.fromEntries(Object.entries(evaluations).map(([k, r]) => [k, { ...summarise(r), images: r.images }])),
      });
    }
    return { ...result, output: config.output, config: resolved, evaluations };
  } finally {
    for (const l of loaders) await l.close();
    method?.dispose();
    optimizer?.dispose();
    classWeight?.dispose();
    if (owned) model.dispose();
  }
}
