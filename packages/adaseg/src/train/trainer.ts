// The Trainer: the one training loop of adaseg. Supervised training, every adaptation method and
// active rounds are *objectives* (the networks they train beside the model and a loss over their
// batches); the Trainer owns the step around them: data streams, zero_grad, backward (the one
// place), the optimiser steps (the one place), schedules, logging, periodic evaluation,
// checkpoints that resume exactly (model, optimisers, schedule, RNG, data position) and a graceful
// stop on an AbortSignal. A device, mixed precision, clipping or a gradient all-reduce goes here once.
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import type { DatasetDescription } from '../data/dataset.js';
import { type Batch, DataLoader, type LoaderOptions } from '../data/loader.js';
import type { EvaluationResult } from '../eval/evaluate.js';
import type { SegmentationModel } from '../models/base.js';
import { AdasegError } from '../errors.js';
import { ensureOutputFolder, removeStaleTempFiles, writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { ProgressBar } from '../util/progress.js';
import { CheckpointManager, loadCheckpoint, type Schedulable } from './checkpoint.js';
import type { OptimizerConfig, ScheduleConfig, TrainSection } from './config.js';

type Tensor = torch.Tensor;
type Optimizer = torch.optim.Optimizer<any>;

export interface LrScheduler extends Schedulable {
  step(): void;
  getLastLr(): number[];
}

/**
 * How an objective's losses reach the parameters. Objectives never call backward() or step an
 * optimiser themselves: they hand their losses to the Trainer through this.
 */
export interface StepContext {
  /** Backpropagates a loss of the segmenter's objective (divided over accumulated micro-batches). */
  backward(loss: Tensor): void;
  /**
   * One update of a network trained beside the segmenter (a discriminator): zeroes its gradients,
   * backpropagates the loss `compute` builds (inside a tidy scope) and steps its optimiser; returns
   * the loss value.
   */
  updateAuxiliary(optimizer: Optimizer, compute: () => Tensor): number;
}

/** Backpropagation and optimiser steps: the only calls of backward() and step() in training. */
function backpropagate(loss: Tensor): void {
  loss.backward();
}

function stepOptimizer(optimizer: Optimizer): void {
  optimizer.step();
}

function updateAuxiliary(optimizer: Optimizer, compute: () => Tensor): number {
  optimizer.zeroGrad();
  const value = torch.tidy(() => {
    const loss = compute();
    backpropagate(loss);
    return loss.item() as number;
  });
  // A non-finite loss leaves the network as it was; the Trainer's guard sees the value.
  if (Number.isFinite(value)) stepOptimizer(optimizer);
  else optimizer.zeroGrad();
  return value;
}

/** The step context of one optimiser step over `accumulation` micro-batches. */
function stepContext(accumulation: number): StepContext {
  return {
    backward: (loss) => backpropagate(accumulation > 1 ? loss.div(accumulation) : loss),
    updateAuxiliary,
  };
}

/** The context of a single, unaccumulated step: for objectives driven outside the Trainer (tests, benchmarks). */
export const PLAIN_STEP: StepContext = stepContext(1);

/**
 * What a Trainer trains: the segmenter's loss over one batch of each of its streams, and the
 * networks, optimisers and schedules it keeps beside the segmenter (checkpointed with it).
 */
export interface Objective<B extends Record<string, Batch> = Record<string, Batch>> {
  /** Networks trained or kept beside the segmenter, checkpointed as `modules.<name>`. */
  readonly modules: Record<string, torch.nn.Module>;
  /** Their optimisers, checkpointed as `optim.<name>`. */
  readonly optimizers: Record<string, Optimizer>;
  /**
   * Their learning-rate schedules, stepped with the segmenter's and checkpointed beside it under
   * their names; undefined: the segmenter's schedule alone, checkpointed as it is.
   */
  readonly schedulers?: Record<string, LrScheduler>;
  /** Before an iteration's batches are drawn (e.g. refreshing pseudo-labels): an event to log, or null. */
  prepare(iteration: number): Promise<Record<string, unknown> | null>;
  /** One (micro-)batch of every stream: losses go through ctx; returns the scalars to log. */
  step(batches: B, ctx: StepContext): Record<string, number>;
  /**
   * What every checkpoint records about the modules (JSON), so that they can be rebuilt from the
   * checkpoint alone (a discriminator's input and objective).
   */
  checkpointInfo?(): Record<string, unknown>;
  dispose(): void;
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

/** A stream of batches: a dataset and how to load it (shuffled, seeded). */
export interface StreamSpec {
  dataset: DatasetDescription;
  loader: LoaderOptions;
}

export interface Validation {
  /** The set whose mIoU picks the best checkpoint. */
  primary: string;
  /** Evaluates every validation set, by name. */
  evaluate(progress: boolean): Promise<Record<string, EvaluationResult>>;
}

export type TrainerSchedule = Pick<
  TrainSection,
  | 'iterations'
  | 'optimizer'
  | 'schedule'
  | 'warmupIterations'
  | 'headLrMultiplier'
  | 'gradAccumulation'
  | 'evalEvery'
  | 'checkpointEvery'
  | 'keepLast'
  | 'logEvery'
  | 'nanPolicy'
>;

export interface TrainingSpec<B extends Record<string, Batch>> {
  /** Trained in place; stays the caller's. */
  model: SegmentationModel;
  /** Owned by the Trainer from here on (disposed at the end). */
  objective: Objective<B>;
  train: TrainerSchedule;
  /** One batch of each stream per micro-batch; names as the objective reads them. */
  streams: { [K in keyof B]: StreamSpec };
  /** Run directory: checkpoints, train.jsonl, config.json, metrics.json. */
  output: string;
  /** Written as output/config.json before training (what restoreModel reads beside the checkpoints). */
  runConfig: unknown;
  validation?: Validation;
  /** When given, metrics.json gets these fields, then iterations, seconds and the final evaluations. */
  metrics?: Record<string, unknown>;
  /** Continue from the latest checkpoint in output when there is one. Default true. */
  resume?: boolean;
  /** Stops at the next iteration boundary, after writing a checkpoint. */
  signal?: AbortSignal;
  progress?: boolean;
  label?: string;
  /** Saved in every checkpoint (config name and the like). */
  extra?: Record<string, unknown>;
  /** Called after each iteration (and its evaluation/checkpoint) with the iterations done. */
  onIteration?: (iteration: number) => void;
}

export interface LoopResult {
  startIteration: number;
  /** Iterations done when the loop ended (less than asked when stopped by the signal). */
  iteration: number;
  stopped: boolean;
  seconds: number;
  lastEval?: Record<string, unknown>;
  bestMetric?: number;
}

export interface TrainingResult extends LoopResult {
  output: string;
  /** Final evaluation per validation set (empty without validation or when stopped). */
  evaluations: Record<string, EvaluationResult>;
}

/** mIoU, pixel accuracy and per-class IoU of an evaluation, as logged. */
export function summarise(result: EvaluationResult): Record<string, unknown> {
  return {
    mIoU: result.mIoU,
    pixelAccuracy: result.pixelAccuracy,
    iou: Object.fromEntries(result.classNames.map((n, i) => [n, result.iou[i]])),
  };
}

async function nextBatch(stream: AsyncGenerator<Batch>, what: string): Promise<Batch> {
  const next = await stream.next();
  if (next.done) throw new Error(`the ${what} data stream ended`);
  return next.value;
}

/**
 * Trains `spec.model` on `spec.objective`: restores the latest checkpoint (when resuming), then per
 * iteration prepares the objective, draws one batch of each stream per micro-batch, zeroes the
 * gradients, lets the objective compute its losses (backpropagated here), steps the optimiser and
 * the schedules, logs, evaluates and checkpoints; at the end evaluates once more (unless the last
 * periodic evaluation was at the last iteration) and writes metrics.json.
 */
export async function train<B extends Record<string, Batch>>(spec: TrainingSpec<B>): Promise<TrainingResult> {
  const { model, objective, train: schedule } = spec;
  const loaders: DataLoader[] = [];
  let optimizer: Optimizer | undefined;
  try {
    optimizer = buildOptimizer(schedule.optimizer, model.parameterGroups(), schedule.headLrMultiplier);
    const main = buildScheduler(optimizer, schedule.schedule, schedule.iterations, schedule.warmupIterations);
    const scheduler: LrScheduler = objective.schedulers === undefined ? main : new SchedulerGroup({ main, ...objective.schedulers });
    const streams = Object.entries(spec.streams as Record<string, StreamSpec>).map(([name, s]) => {
      const loader = new DataLoader(s.dataset, s.loader);
      loaders.push(loader);
      return { name, loader };
    });
    ensureOutputFolder(spec.output);
    writeJsonAtomic(join(spec.output, 'config.json'), spec.runConfig);
    const accumulation = schedule.gradAccumulation;
    const ctx = stepContext(accumulation);
    const opt = optimizer;
    let latest: { iteration: number; results: Record<string, EvaluationResult> } | undefined;
    const validation = spec.validation;
    let skipped = 0;
    const result = await runLoop(
      spec,
      { model, optimizer: opt, scheduler, modules: objective.modules, optimizers: objective.optimizers },
      (start, log) => {
        const positioned = streams.map((s) => ({ name: s.name, batches: s.loader.batches(start * accumulation) }));
        return async (iteration) => {
          const event = await objective.prepare(iteration);
          if (event !== null) log({ iteration, ...event });
          const sums: Record<string, number> = {};
          for (let k = 0; k < accumulation; k++) {
            const drawn = await Promise.all(positioned.map((s) => nextBatch(s.batches, s.name)));
            try {
              if (k === 0) {
                model.train();
                opt.zeroGrad();
              }
              const batches = Object.fromEntries(positioned.map((s, i) => [s.name, drawn[i]])) as B;
              for (const [key, v] of Object.entries(objective.step(batches, ctx))) sums[key] = (sums[key] ?? 0) + v;
            } finally {
              for (const b of drawn) b.dispose();
            }
          }
          const bad = Object.entries(sums).find(([, v]) => !Number.isFinite(v));
          if (bad !== undefined) {
            if (schedule.nanPolicy !== 'skip') {
              throw new AdasegError(
                'non-finite',
                `${spec.label ?? 'training'}: the loss term '${bad[0]}' is ${bad[1]} at iteration ${iteration + 1}; stopped before the optimiser step, so the checkpoints hold the last good weights (train.nanPolicy: skip drops such steps instead)`,
                { op: 'train' },
              );
            }
            opt.zeroGrad();
            skipped++;
            log({ iteration: iteration + 1, event: 'non-finite-skipped', term: bad[0], skipped });
            return {};
          }
          stepOptimizer(opt);
          return accumulation === 1 ? sums : Object.fromEntries(Object.entries(sums).map(([key, v]) => [key, v / accumulation]));
        };
      },
      validation === undefined
        ? undefined
        : async (iteration) => {
            const results = await validation.evaluate(false);
            latest = { iteration, results };
            return { metric: results[validation.primary].mIoU, log: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, summarise(r)])) };
          },
    );
    let evaluations: Record<string, EvaluationResult> = {};
    if (validation !== undefined && !result.stopped) {
      evaluations = latest?.iteration === result.iteration ? latest.results : await validation.evaluate(spec.progress ?? false);
    }
    if (spec.metrics !== undefined && !result.stopped) {
      writeJsonAtomic(join(spec.output, 'metrics.json'), {
        ...spec.metrics,
        iterations: result.iteration,
        seconds: result.seconds,
        evaluations: Object.fromEntries(Object.entries(evaluations).map(([k, r]) => [k, { ...summarise(r), images: r.images }])),
      });
    }
    return { ...result, output: spec.output, evaluations };
  } finally {
    for (const l of loaders) await l.close();
    objective.dispose();
    optimizer?.dispose();
  }
}

/** One training iteration: returns scalars to log. */
type StepFn = (iteration: number) => Promise<Record<string, number>>;

/** Evaluates; returns the metric that picks the best checkpoint (higher is better) and what to log. */
type EvalFn = (iteration: number) => Promise<{ metric: number; log: Record<string, unknown> }>;

interface LoopParts {
  model: torch.nn.Module;
  optimizer: Optimizer;
  scheduler: LrScheduler;
  modules: Record<string, torch.nn.Module>;
  optimizers: Record<string, Optimizer>;
}

/** The checkpoint's `extra` key for the length of train.jsonl when the checkpoint was written. */
const LOG_BYTES = 'trainLogBytes';

/**
 * Makes train.jsonl end where the checkpoint the run resumes from was written, so that the
 * iterations replayed since (after a kill) are not logged twice. The file is truncated (rewritten
 * atomically) rather than left for readers to deduplicate by iteration: every reader (report,
 * scripts/compare_runs.py, a user's pandas) then sees one series, as an uninterrupted run writes
 * it, plus the `resumed` record, and needs no rule for which of two copies counts. Checkpoints
 * record the file's length (`trainLogBytes`), so the cut is exact, events logged after the
 * checkpoint at its own iteration included (a pseudo-label refresh logs `iteration: n` before
 * iteration n+1); for a checkpoint without it (older runs), or a file shorter than recorded (edited
 * since), the records with an iteration greater than the checkpoint's go, and lines cut short by
 * the kill. Without a checkpoint the run starts at 0, and the records of the attempt that wrote
 * none go.
 */
function rewindLog(logFile: string, iteration: number, recordedBytes: unknown): void {
  if (!existsSync(logFile)) return;
  const size = statSync(logFile).size;
  const exact = typeof recordedBytes === 'number' && Number.isInteger(recordedBytes) && recordedBytes >= 0 && recordedBytes <= size;
  // The usual resume: the log ends where the checkpoint was written; nothing to read.
  if (exact && recordedBytes === size) return;
  const bytes = readFileSync(logFile);
  if (exact) {
    writeFileAtomic(logFile, bytes.subarray(0, recordedBytes));
    return;
  }
  const lines = bytes
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
  const kept = lines.filter((line) => {
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      return !(typeof record.iteration === 'number' && record.iteration > iteration);
    } catch {
      return false; // cut short by the kill
    }
  });
  if (kept.length < lines.length) writeFileAtomic(logFile, kept.map((line) => `${line}\n`).join(''));
}

/**
 * Restores the latest checkpoint (if resuming), then calls `makeStep(startIteration)` so the data
 * streams start where the run stopped, and runs the iterations.
 */
async function runLoop(
  options: TrainingSpec<any>,
  parts: LoopParts,
  makeStep: (startIteration: number, log: (record: Record<string, unknown>) => void) => StepFn,
  evaluate?: EvalFn,
): Promise<LoopResult> {
  const started = performance.now();
  const iterations = options.train.iterations;
  const logFile = join(options.output, 'train.jsonl');
  // What the checkpoints repaired or skipped is told as a process warning and, once train.jsonl is
  // settled below, as a record there.
  let logReady = false;
  const pending: string[] = [];
  const log = (record: Record<string, unknown>) => appendFileSync(logFile, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  const warn = (message: string) => {
    process.emitWarning(message, { code: 'ADASEG_CHECKPOINT' });
    if (logReady) log({ event: 'warning', message });
    else pending.push(message);
  };
  const checkpoints = new CheckpointManager(join(options.output, 'checkpoints'), { keepLast: options.train.keepLast, onWarning: warn });
  checkpoints.removeStaleTempFiles();
  const removedLogTemps = removeStaleTempFiles(options.output, (target) => target === 'train.jsonl');
  if (removedLogTemps.length > 0) warn(`${options.output}: removed temp file(s) left by an interrupted rewrite of train.jsonl: ${removedLogTemps.join(', ')}`);
  let start = 0;
  const resume = options.resume !== false;
  const latest = resume ? checkpoints.latest() : null;
  let logBytes: unknown = 0;
  if (latest !== null) {
    const info = loadCheckpoint(latest, parts);
    start = info.iteration;
    logBytes = info.extra[LOG_BYTES];
  }
  if (resume) rewindLog(logFile, start, logBytes);
  logReady = true;
  for (const message of pending) log({ event: 'warning', message });
  if (latest !== null) log({ event: 'resumed', iteration: start, checkpoint: latest });
  const step = makeStep(start, log);
  const bar = new ProgressBar({ total: iterations, label: options.label ?? 'train', start, enabled: options.progress ?? false });
  const sums: Record<string, number> = {};
  let count = 0;
  let lastEval: Record<string, unknown> | undefined;
  let stopped = false;
  let iteration = start;
  const save = (metric?: number) => {
    const extra = { ...options.extra, ...options.objective.checkpointInfo?.(), [LOG_BYTES]: existsSync(logFile) ? statSync(logFile).size : 0 };
    checkpoints.save(parts, { iteration, extra }, metric);
  };
  while (iteration < iterations) {
    // Let timers and signal handlers run (Ctrl-C): with in-thread data loading an iteration may
    // await only already-settled promises and never yield to the event loop otherwise.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (options.signal?.aborted) {
      stopped = true;
      // Logged before the checkpoint, so that the checkpoint's train.jsonl length includes it.
      log({ event: 'stopped', iteration });
      save();
      break;
    }
    const scalars = await step(iteration);
    parts.scheduler.step();
    iteration++;
    for (const [k, v] of Object.entries(scalars)) sums[k] = (sums[k] ?? 0) + v;
    // A step skipped for a non-finite loss (nanPolicy: skip) returns nothing: it is not averaged in.
    if (Object.keys(scalars).length > 0) count++;
    const lr = parts.optimizer.paramGroups[0]?.lr;
    bar.update(iteration, { ...scalars, ...(lr !== undefined ? { lr } : {}) });
    if (iteration % options.train.logEvery === 0 || iteration === iterations) {
      const means = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / count]));
      log({ iteration, ...means, lr, itPerSecond: bar.rate });
      for (const k of Object.keys(sums)) delete sums[k];
      count = 0;
    }
    let metric: number | undefined;
    const last = iteration === iterations;
    if (evaluate && (iteration % options.train.evalEvery === 0 || last)) {
      const result = await evaluate(iteration);
      metric = result.metric;
      lastEval = result.log;
      log({ iteration, eval: result.log });
    }
    if (iteration % options.train.checkpointEvery === 0 || last) save(metric);
    options.onIteration?.(iteration);
  }
  bar.finish();
  const best = checkpoints.index().best;
  return {
    startIteration: start,
    iteration,
    stopped,
    seconds: (performance.now() - started) / 1000,
    ...(lastEval ? { lastEval } : {}),
    ...(best ? { bestMetric: best.metric } : {}),
  };
}

/** Parameter groups at the base LR (backbone) and `headLrMultiplier` times it (the rest). */
export function buildOptimizer(
  config: OptimizerConfig,
  groups: { backbone: torch.Tensor[]; head: torch.Tensor[] },
  headLrMultiplier: number,
): torch.optim.Optimizer<any> {
  const trainable = (ps: torch.Tensor[]) => ps.filter((p) => p.requiresGrad);
  const paramGroups = [
    { params: trainable(groups.backbone), lr: config.lr },
    { params: trainable(groups.head), lr: config.lr * headLrMultiplier },
  ].filter((g) => g.params.length > 0);
  if (paramGroups.length === 0) throw new Error('buildOptimizer: the model has no trainable parameters');
  if (config.kind === 'sgd') {
    return new torch.optim.SGD(paramGroups, { lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay, nesterov: config.nesterov });
  }
  const Cls = config.kind === 'adam' ? torch.optim.Adam : torch.optim.AdamW;
  return new Cls(paramGroups, { lr: config.lr, betas: config.betas, weightDecay: config.weightDecay });
}

/** The LR schedule over `iterations`, after an optional linear warm-up. */
export function buildScheduler(optimizer: torch.optim.Optimizer<any>, schedule: ScheduleConfig, iterations: number, warmupIterations: number): LrScheduler {
  const S = torch.optim.lrScheduler;
  const main = iterations - warmupIterations;
  let scheduler: torch.optim.lrScheduler.LRScheduler;
  switch (schedule.kind) {
    case 'poly':
      scheduler = new S.PolynomialLR(optimizer, { totalIters: main, power: schedule.power, minLr: schedule.minLr });
      break;
    case 'step':
      scheduler = new S.StepLR(optimizer, { stepSize: schedule.stepSize, gamma: schedule.gamma });
      break;
    case 'cosine':
      scheduler = new S.CosineAnnealingLR(optimizer, { tMax: main, etaMin: schedule.minLr });
      break;
    case 'constant':
      scheduler = new S.ConstantLR(optimizer, { factor: 1, totalIters: 0 });
      break;
  }
  return warmupIterations > 0 ? S.withWarmup(scheduler, { warmupIters: warmupIterations, startFactor: 0.1 }) : scheduler;
}
