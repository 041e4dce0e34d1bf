// Supervised training from a TrainConfig: the source-only baseline of adaseg.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { maskedCrossEntropy } from '../adapt/losses.js';
import { numClasses, type DatasetDescription } from '../data/dataset.js';
import { loadDataset } from '../data/formats/index.js';
import { DataLoader, type Batch } from '../data/loader.js';
import { evaluate, type EvaluationResult } from '../eval/evaluate.js';
import type { SegmentationModel } from '../models/base.js';
import { buildModel } from '../models/config.js';
import { formatLoadReport, loadWeights } from '../models/weights.js';
import { resolveClassWeights } from './class-weights.js';
import type { TrainConfig } from './config.js';
import { buildOptimizer, buildScheduler, type LoopResult, runTrainingLoop, writeJsonAtomic } from './trainer.js';

export interface TrainRunOptions {
  /** Continue from the latest checkpoint of config.output (default true). */
  resume?: boolean;
  signal?: AbortSignal;
  progress?: boolean;
  /** Where human-readable notes go (weights report, evaluation tables). */
  log?: (line: string) => void;
  onIteration?: (iteration: number) => void;
}

export interface TrainRunResult extends LoopResult {
  output: string;
  /** Final evaluation per validation set. */
  evaluations: Record<string, EvaluationResult>;
}

/** Builds the model for a config and dataset (seeded, weights loaded, BN frozen). */
export function prepareModel(config: TrainConfig, classes: number, log: (line: string) => void = () => {}): SegmentationModel {
  torch.manualSeed(config.seed);
  const model = buildModel(config.model, classes);
  if (config.weights !== undefined) {
    const report = loadWeights(model, config.weights);
    log(formatLoadReport(report));
  }
  if (config.train.freezeBatchNorm !== 'none') model.freezeBatchNorm(config.train.freezeBatchNorm);
  return model;
}

/**
 * Cross-entropy on the main output plus weighted auxiliary outputs, ignoring 255; a batch with no
 * labelled pixel (possible with partial labels) gives 0, not NaN.
 */
export function segmentationLoss(model: SegmentationModel, images: torch.Tensor, labels: torch.Tensor, auxWeight: number, classWeight: torch.Tensor | null = null): torch.Tensor {
  const out = model.forward(images);
  let loss = maskedCrossEntropy(out.logits, labels, 255, classWeight);
  for (const aux of out.aux ?? []) {
    if (auxWeight > 0) loss = loss.add(maskedCrossEntropy(aux, labels, 255, classWeight).mul(auxWeight));
  }
  return loss;
}

export async function evaluateAll(
  model: SegmentationModel,
  sets: { name: string; dataset: DatasetDescription }[],
  config: TrainConfig,
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

export function summarise(result: EvaluationResult): Record<string, unknown> {
  return {
    mIoU: result.mIoU,
    pixelAccuracy: result.pixelAccuracy,
    iou: Object.fromEntries(result.classNames.map((n, i) => [n, result.iou[i]])),
  };
}

export async function trainSupervised(config: TrainConfig, options: TrainRunOptions = {}): Promise<TrainRunResult> {
  const log = options.log ?? (() => {});
  const trainSet = await loadDataset(config.data.train);
  const valSets = await Promise.all(config.data.val.map(async (v) => ({ name: v.name, dataset: await loadDataset(v.dataset) })));
  const classes = numClasses(trainSet);
  for (const v of valSets) {
    if (numClasses(v.dataset) !== classes) throw new Error(`validation set '${v.name}' has ${numClasses(v.dataset)} classes, the training set ${classes}`);
  }
  const weights = await resolveClassWeights(config.train.classWeights ?? 'none', trainSet, log);
  const model = prepareModel(config, classes, log);
  const classWeight = weights === null ? null : torch.tensor(weights);
  const optimizer = buildOptimizer(config.train.optimizer, model.parameterGroups(), config.train.headLrMultiplier);
  const scheduler = buildScheduler(optimizer, config.train.schedule, config.train.iterations, config.train.warmupIterations);
  const loader = new DataLoader(trainSet, {
    batchSize: config.data.batchSize,
    shuffle: true,
    seed: config.seed,
    workers: config.data.workers,
    transforms: config.data.transforms,
    normalize: config.data.normalize,
    cache: config.data.cache,
  });
  mkdirSync(config.output, { recursive: true });
  writeJsonAtomic(join(config.output, 'config.json'), config);
  const accumulation = config.train.gradAccumulation;
  let latest: { iteration: number; results: Record<string, EvaluationResult> } | undefined;
  try {
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
        extra: { config: config.name },
        onIteration: options.onIteration,
      },
      { model, optimizer, scheduler },
      (start) => {
        const stream = loader.batches(start * accumulation);
        return async () => {
          model.train();
          optimizer.zeroGrad();
          let total = 0;
          for (let k = 0; k < accumulation; k++) {
            const next = await stream.next();
            if (next.done) throw new Error('the training data stream ended');
            const batch: Batch = next.value;
            try {
              total += torch.tidy(() => {
                const loss = segmentationLoss(model, batch.images, batch.labels, config.train.auxWeight, classWeight);
                (accumulation > 1 ? loss.div(accumulation) : loss).backward();
                return loss.item() as number;
              });
            } finally {
              batch.dispose();
            }
          }
          optimizer.step();
          return { loss: total / accumulation };
        };
      },
      valSets.length === 0
        ? undefined
        : async (iteration) => {
            const results = await evaluateAll(model, valSets, config);
            latest = { iteration, results };
            return { metric: results[valSets[0].name].mIoU, log: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, summarise(r)])) };
          },
    );
    let evaluations: Record<string, EvaluationResult> = {};
    if (valSets.length > 0 && !result.stopped) {
      evaluations = latest?.iteration === result.iteration ? latest.results : await evaluateAll(model, valSets, config, options.progress);
    }
    if (!result.stopped) {
      writeJsonAtomic(join(config.output, 'metrics.json'), {
        name: config.name,
        seed: config.seed,
        iterations: result.iteration,
        seconds: result.seconds,
        evaluations: Object.fromEntries(Object.entries(evaluations).map(([k, r]) => [k, { ...summarise(r), images: r.images }])),
      });
    }
    return { ...result, output: config.output, evaluations };
  } finally {
    await loader.close();
    optimizer.dispose();
    model.dispose();
    classWeight?.dispose();
  }
}

