// The training loop shared by supervised training, adaptation and active rounds: iteration-based,
// with schedules, progress, a JSONL log, periodic evaluation, checkpoints that resume exactly
// (model, optimisers, schedule, RNG, data position), and a graceful stop on an AbortSignal.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { ProgressBar } from '../util/progress.js';
import { CheckpointManager, type CheckpointParts, loadCheckpoint, type Schedulable } from './checkpoint.js';
import type { OptimizerConfig, ScheduleConfig } from './config.js';

export interface LrScheduler extends Schedulable {
  step(): void;
  getLastLr(): number[];
}

export interface LoopParts extends CheckpointParts {
  scheduler?: LrScheduler;
}

/** One training iteration: pulls its data, runs forward/backward and the optimiser steps; returns scalars to log. */
export type StepFn = (iteration: number) => Promise<Record<string, number>>;

/** Evaluates; returns the metric that picks the best checkpoint (higher is better) and what to log. */
export type EvalFn = (iteration: number) => Promise<{ metric: number; log: Record<string, unknown> }>;

export interface LoopOptions {
  iterations: number;
  outputDir: string;
  evalEvery: number;
  checkpointEvery: number;
  keepLast: number;
  logEvery: number;
  /** Continue from the latest checkpoint in outputDir when there is one. Default true. */
  resume?: boolean;
  /** Stops at the next iteration boundary, after writing a checkpoint. */
  signal?: AbortSignal;
  progress?: boolean;
  label?: string;
  /** Saved in every checkpoint (config and the like). */
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

/**
 * Restores the latest checkpoint (if resuming), then calls `makeStep(startIteration)` so the caller
 * can position its data streams, and runs the loop.
 */
export async function runTrainingLoop(
  options: LoopOptions,
  parts: LoopParts,
  makeStep: (startIteration: number) => StepFn | Promise<StepFn>,
  evaluate?: EvalFn,
): Promise<LoopResult> {
  const started = performance.now();
  mkdirSync(options.outputDir, { recursive: true });
  const checkpoints = new CheckpointManager(join(options.outputDir, 'checkpoints'), { keepLast: options.keepLast });
  let start = 0;
  const latest = options.resume === false ? null : checkpoints.latest();
  if (latest !== null) start = loadCheckpoint(latest, parts).iteration;
  const logFile = join(options.outputDir, 'train.jsonl');
  const log = (record: Record<string, unknown>) => appendFileSync(logFile, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  if (latest !== null) log({ event: 'resumed', iteration: start, checkpoint: latest });
  const step = await makeStep(start);
  const bar = new ProgressBar({ total: options.iterations, label: options.label ?? 'train', start, enabled: options.progress ?? false });
  const sums: Record<string, number> = {};
  let count = 0;
  let lastEval: Record<string, unknown> | undefined;
  let stopped = false;
  let iteration = start;
  const save = (metric?: number) => {
    checkpoints.save(parts, { iteration, extra: options.extra ?? {} }, metric);
  };
  while (iteration < options.iterations) {
    // Let timers and signal handlers run (Ctrl-C): with in-thread data loading an iteration may
    // await only already-settled promises and never yield to the event loop otherwise.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (options.signal?.aborted) {
      stopped = true;
      save();
      log({ event: 'stopped', iteration });
      break;
    }
    const scalars = await step(iteration);
    parts.scheduler?.step();
    iteration++;
    for (const [k, v] of Object.entries(scalars)) sums[k] = (sums[k] ?? 0) + v;
    count++;
    const lr = parts.optimizer?.paramGroups[0]?.lr;
    bar.update(iteration, { ...scalars, ...(lr !== undefined ? { lr } : {}) });
    if (iteration % options.logEvery === 0 || iteration === options.iterations) {
      const means = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / count]));
      log({ iteration, ...means, lr, itPerSecond: bar.rate });
      for (const k of Object.keys(sums)) delete sums[k];
      count = 0;
    }
    let metric: number | undefined;
    const last = iteration === options.iterations;
    if (evaluate && (iteration % options.evalEvery === 0 || last)) {
      const result = await evaluate(iteration);
      metric = result.metric;
      lastEval = result.log;
      log({ iteration, eval: result.log });
    }
    if (iteration % options.checkpointEvery === 0 || last) save(metric);
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
export function buildOptimizer(config: OptimizerConfig, groups: { backbone: torch.Tensor[]; head: torch.Tensor[] }, headLrMultiplier: number): torch.optim.Optimizer<any> {
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

/** Writes JSON atomically (temp file, then rename): util/atomic.ts's, kept here for its importers. */
export { writeJsonAtomic } from '../util/atomic.js';
