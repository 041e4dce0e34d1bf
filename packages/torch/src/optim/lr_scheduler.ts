// Learning-rate schedules, after PyTorch 1.13's torch/optim/lr_scheduler.py.
//
// Each schedule is a closed form: the lr at iteration t is a function of t and the group's base lr
// (`initial_lr`, the lr the group had when the first schedule was attached). step() advances t and
// writes every group's lr. PyTorch's schedulers instead update the current lr recursively
// (lr_t = lr_{t-1} * ratio); both give the same values (to ~1e-16 relative, checked against
// PyTorch in test/optim.test.ts), but ours ignores changes made to a group's lr by anything other
// than the schedule, where PyTorch's would compound them. Schedules compose with SequentialLR
// (and its shorthand withWarmup), which hands each stage its own count from the stage's start.
//
// Usage, as in PyTorch: optimizer.step() then scheduler.step(), once per iteration (or epoch).
import { Optimizer, optionError, type JsonValue, type OptimizerOptions } from './optimizer.js';

/** A schedule's state: its position, base lrs and settings, as PyTorch's state_dict names them. */
export type SchedulerStateDict = { last_epoch: number; base_lrs: number[]; _last_lr: number[] } & Record<string, JsonValue>;

type AnyOptimizer = Optimizer<OptimizerOptions>;

function checkNumber(op: string, name: string, value: unknown, test: (v: number) => boolean, want: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !test(value)) optionError(op, `${name} must be ${want}, got ${String(value)}`);
  return value as number;
}
const positiveInt = (op: string, name: string, v: unknown) => checkNumber(op, name, v, (x) => Number.isInteger(x) && x > 0, 'a positive integer');
const nonNegativeInt = (op: string, name: string, v: unknown) => checkNumber(op, name, v, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
const finite = (op: string, name: string, v: unknown) => checkNumber(op, name, v, () => true, 'a finite number');
const unitInterval = (op: string, name: string, v: unknown) => checkNumber(op, name, v, (x) => x >= 0 && x <= 1, 'in [0, 1]');

/** Index of the first element greater than x in a sorted array (Python's bisect_right). */
function bisectRight(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < sorted[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface SchedulerOptions {
  /**
   * The index of the last iteration, to start a schedule part-way (default -1: a fresh start).
   * Resuming this way needs each group's initialLr; loadStateDict is the simpler way to resume.
   */
  lastEpoch?: number;
}

export abstract class LRScheduler {
  readonly optimizer: AnyOptimizer;
  /** Each group's base lr, the schedule's value at t = 0 before any factor. */
  baseLrs: number[];
  /** The current iteration: 0 after construction, +1 per step(). */
  lastEpoch: number;
  protected lastLrs: number[] = [];
  protected readonly name: string;

  protected constructor(name: string, optimizer: AnyOptimizer, options: SchedulerOptions = {}) {
    this.name = name;
    if (!(optimizer instanceof Optimizer)) optionError(name, `expected an Optimizer, got ${optimizer === null ? 'null' : typeof optimizer}`);
    this.optimizer = optimizer;
    const lastEpoch = options.lastEpoch ?? -1;
    if (lastEpoch !== -1) nonNegativeInt(name, 'lastEpoch', lastEpoch);
    optimizer.paramGroups.forEach((group, i) => {
      if (group.initialLr === undefined) {
        if (lastEpoch !== -1) optionError(name, `param group ${i} has no initialLr, needed to resume a schedule at lastEpoch ${lastEpoch}`);
        group.initialLr = group.lr;
      }
    });
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /** The lr of group `groupIndex` (base lr `baseLr`) at iteration `epoch`: the closed form. */
  abstract lrAt(epoch: number, baseLr: number, groupIndex: number): number;

  /** The schedule's settings for stateDict, under PyTorch's names. */
  protected abstract config(): Record<string, JsonValue>;
  /** Restores settings saved by config() (already known to be present). */
  protected abstract loadConfig(config: Record<string, unknown>): void;

  /** Subclasses call this last in their constructors: moves to iteration 0 and sets the lrs. */
  protected initialStep(): void {
    this.step();
  }

  /** Advances one iteration and sets every group's lr. */
  step(): void {
    this.lastEpoch += 1;
    this.apply();
  }

  protected apply(): void {
    const lrs = this.baseLrs.map((base, i) => this.lrAt(this.lastEpoch, base, i));
    const groups = this.optimizer.paramGroups;
    lrs.forEach((lr, i) => {
      if (i < groups.length) groups[i].lr = lr;
    });
    this.lastLrs = lrs;
  }

  /** The lrs set by the last step (one per group), as PyTorch's get_last_lr. */
  getLastLr(): number[] {
    return [...this.lastLrs];
  }

  /** The schedule's position and settings (JSON-serialisable), to resume exactly with loadStateDict. */
  stateDict(): SchedulerStateDict {
    return { ...this.config(), last_epoch: this.lastEpoch, base_lrs: [...this.baseLrs], _last_lr: [...this.lastLrs] };
  }

  /**
   * Restores a state from stateDict. Like PyTorch, it does not write the optimizer's lrs (load the
   * optimizer's own state dict for those); the next step() continues the schedule exactly.
   */
  loadStateDict(sd: SchedulerStateDict): void {
    const op = `${this.name}.loadStateDict`;
    if (sd === null || typeof sd !== 'object') optionError(op, 'expected a state dict object');
    const lastEpoch = sd.last_epoch;
    if (typeof lastEpoch !== 'number' || !Number.isInteger(lastEpoch) || lastEpoch < -1)
      optionError(op, `last_epoch must be an integer >= -1, got ${String(lastEpoch)}`);
    for (const key of ['base_lrs', '_last_lr'] as const) {
      const v = sd[key];
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) optionError(op, `${key} must be an array of numbers`);
    }
    if (sd.base_lrs.length !== this.baseLrs.length)
      optionError(op, `the state has ${sd.base_lrs.length} base lrs, this schedule ${this.baseLrs.length} param groups`);
    const config = this.config();
    for (const key of Object.keys(config)) if (!(key in sd)) optionError(op, `the state has no '${key}'`);
    this.loadConfig(sd);
    this.lastEpoch = lastEpoch;
    this.baseLrs = [...sd.base_lrs];
    this.lastLrs = [...sd._last_lr];
  }
}

// ---- schedules ----

export interface PolynomialLROptions extends SchedulerOptions {
  /** Iterations over which the lr decays to minLr (default 5, as PyTorch). */
  totalIters?: number;
  /** The polynomial's power (default 1; 0.9 is the segmentation classic). */
  power?: number;
  /** The lr at and after totalIters (default 0). Not in PyTorch 1.13; see below. */
  minLr?: number;
}

/**
 * Polynomial decay ("poly"), as PyTorch's PolynomialLR:
 *   lr = base * (1 - min(t, totalIters) / totalIters) ^ power
 * With minLr (mmsegmentation's PolyLR; PyTorch 1.13 has no floor):
 *   lr = (base - minLr) * (1 - min(t, totalIters) / totalIters) ^ power + minLr
 */
export class PolynomialLR extends LRScheduler {
  totalIters: number;
  power: number;
  minLr: number;

  constructor(optimizer: AnyOptimizer, options: PolynomialLROptions = {}) {
    super('PolynomialLR', optimizer, options);
    this.totalIters = positiveInt(this.name, 'totalIters', options.totalIters ?? 5);
    this.power = checkNumber(this.name, 'power', options.power ?? 1, (x) => x >= 0, 'a finite number >= 0');
    this.minLr = checkNumber(this.name, 'minLr', options.minLr ?? 0, (x) => x >= 0, 'a finite number >= 0');
    this.initialStep();
  }

  lrAt(epoch: number, baseLr: number): number {
    const coeff = (1 - Math.min(this.totalIters, epoch) / this.totalIters) ** this.power;
    return this.minLr === 0 ? baseLr * coeff : (baseLr - this.minLr) * coeff + this.minLr;
  }

  protected config(): Record<string, JsonValue> {
    return { total_iters: this.totalIters, power: this.power, min_lr: this.minLr };
  }
  protected loadConfig(c: Record<string, unknown>): void {
    this.totalIters = positiveInt(this.name, 'total_iters', c.total_iters);
    this.power = finite(this.name, 'power', c.power);
    this.minLr = finite(this.name, 'min_lr', c.min_lr);
  }
}

/** Shorthand for PolynomialLR: `new PolyLR(opt, {totalIters: 40000, power: 0.9})`. */
export { PolynomialLR as PolyLR };

export interface StepLROptions extends SchedulerOptions {
  /** Period of decay, in iterations. */
  stepSize: number;
  /** Factor per period (default 0.1). */
  gamma?: number;
}

/** lr = base * gamma ^ floor(t / stepSize), as PyTorch's StepLR. */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;

  constructor(optimizer: AnyOptimizer, options: StepLROptions) {
    super('StepLR', optimizer, options);
    this.stepSize = positiveInt(this.name, 'stepSize', options?.stepSize);
    this.gamma = finite(this.name, 'gamma', options.gamma ?? 0.1);
    this.initialStep();
  }

  lrAt(epoch: number, baseLr: number): number {
    return baseLr * this.gamma ** Math.floor(epoch / this.stepSize);
  }

  protected config(): Record<string, JsonValue> {
    return { step_size: this.stepSize, gamma: this.gamma };
  }
  protected loadConfig(c: Record<string, unknown>): void {
    this.stepSize = positiveInt(this.name, 'step_size', c.step_size);
    this.gamma = finite(this.name, 'gamma', c.gamma);
  }
}

export interface MultiStepLROptions extends SchedulerOptions {
  /** Iterations at which the lr is multiplied by gamma (a milestone given twice counts twice). */
  milestones: number[];
  /** Factor per milestone (default 0.1). */
  gamma?: number;
}

/** lr = base * gamma ^ (number of milestones <= t), as PyTorch's MultiStepLR. */
export class MultiStepLR extends LRScheduler {
  milestones: number[];
  gamma: number;

  constructor(optimizer: AnyOptimizer, options: MultiStepLROptions) {
    super('MultiStepLR', optimizer, options);
    this.milestones = MultiStepLR.checkMilestones(this.name, options?.milestones);
    this.gamma = finite(this.name, 'gamma', options.gamma ?? 0.1);
    this.initialStep();
  }

  private static checkMilestones(op: string, milestones: unknown): number[] {
    if (!Array.isArray(milestones)) optionError(op, `milestones must be an array of non-negative integers, got ${String(milestones)}`);
    (milestones as unknown[]).forEach((m, i) => nonNegativeInt(op, `milestones[${i}]`, m));
    return [...(milestones as number[])].sort((a, b) => a - b);
  }

  lrAt(epoch: number, baseLr: number): number {
    return baseLr * this.gamma ** bisectRight(this.milestones, epoch);
  }

  protected config(): Record<string, JsonValue> {
    return { milestones: [...this.milestones], gamma: this.gamma };
  }
  protected loadConfig(c: Record<string, unknown>): void {
    this.milestones = MultiStepLR.checkMilestones(this.name, c.milestones);
    this.gamma = finite(this.name, 'gamma', c.gamma);
  }
}

export interface CosineAnnealingLROptions extends SchedulerOptions {
  /** Half-period: the lr reaches etaMin at t = tMax (and, as PyTorch, climbs back after it). */
  tMax: number;
  /** The lowest lr (default 0). */
  etaMin?: number;
}

/** lr = etaMin + (base - etaMin) * (1 + cos(pi * t / tMax)) / 2, PyTorch's CosineAnnealingLR. */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;

  constructor(optimizer: AnyOptimizer, options: CosineAnnealingLROptions) {
    super('CosineAnnealingLR', optimizer, options);
    this.tMax = positiveInt(this.name, 'tMax', options?.tMax);
    this.etaMin = finite(this.name, 'etaMin', options.etaMin ?? 0);
    this.initialStep();
  }

  lrAt(epoch: number, baseLr: number): number {
    return this.etaMin + ((baseLr - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }

  protected config(): Record<string, JsonValue> {
    return { T_max: this.tMax, eta_min: this.etaMin };
  }
  protected loadConfig(c: Record<string, unknown>): void {
    this.tMax = positiveInt(this.name, 'T_max', c.T_max);
    this.etaMin = finite(this.name, 'eta_min', c.eta_min);
  }
}

export interface LinearLROptions extends SchedulerOptions {
  /** Factor at t = 0, in [0, 1] (default 1/3). */
  startFactor?: number;
  /** Factor from t = totalIters on, in [0, 1] (default 1). */
  endFactor?: number;
  /** Iterations to go from startFactor to endFactor (default 5). */
  totalIters?: number;
}

/**
 * Linear change of a factor (a linear warm-up with the defaults), as PyTorch's LinearLR:
 *   lr = base * (start + (end - start) * min(t, totalIters) / totalIters)
 */
export class LinearLR extends LRScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;

  constructor(optimizer: AnyOptimizer, options: LinearLROptions = {}) {
    super('LinearLR', optimizer, options);
    this.startFactor = unitInterval(this.name, 'startFactor', options.startFactor ?? 1 / 3);
    this.endFactor = unitInterval(this.name, 'endFactor', options.endFactor ?? 1);
    this.totalIters = positiveInt(this.name, 'totalIters', options.totalIters ?? 5);
    this.initialStep();
  }

  lrAt(epoch: number, baseLr: number): number {
    return baseLr * (this.startFactor + ((this.endFactor - this.startFactor) * Math.min(this.totalIters, epoch)) / this.totalIters);
  }

  protected config(): Record<string, JsonValue> {
    return { start_factor: this.startFactor, end_factor: this.endFactor, total_iters: this.totalIters };
  }
  protected loadConfig(c: Record<string, unknown>): void {
    this.startFactor = unitInterval(this.name, 'start_factor', c.start_factor);
    this.endFactor = unitInterval(this.name, 'end_factor', c.end_factor);
    this.totalIters = positiveInt(this.name, 'total_iters', c.total_iters);
  }
}

export interface ConstantLROptions extends SchedulerOptions {
  /** Factor until totalIters, in [0, 1] (default 1/3). */
  factor?: number;
  /** Iterations at the reduced lr (default 5). */
  totalIters?: number;
}

/** lr = base * factor for t < totalIters, then base; PyTorch's ConstantLR. */
export class ConstantLR extends LRScheduler {
  factor: number;
  totalIters: number;

  constructor(optimizer: AnyOptimizer, options: ConstantLROptions = {}) {
    super('ConstantLR', optimizer, options);
    this.factor = unitInterval(this.name, 'factor', options.factor ?? 1 / 3);
    this.totalIters = nonNegativeInt(this.name, 'totalIters', options.totalIters ?? 5);
    this.initialStep();
  }

  lrAt(epoch: number, baseLr: number): number {
    return epoch >= this.totalIters ? baseLr : baseLr * this.factor;
  }

  protected config(): Record<string, JsonValue> {
    return { factor: this.factor, total_iters: this.totalIters };
  }
  protected loadConfig(c: Record<string, unknown>): void {
    this.factor = unitInterval(this.name, 'factor', c.factor);
    this.totalIters = nonNegativeInt(this.name, 'total_iters', c.total_iters);
  }
}

export interface ExponentialLROptions extends SchedulerOptions {
  /** Factor per iteration. */
  gamma: number;
}

/** lr = base * gamma ^ t, PyTorch's ExponentialLR. */
export class ExponentialLR extends LRScheduler {
  gamma: number;

  constructor(optimizer: AnyOptimizer, options: ExponentialLROptions) {
    super('ExponentialLR', optimizer, options);
    this.gamma = finite(this.name, 'gamma', options?.gamma);
    this.initialStep();
  }

  lrAt(epoch: number, baseLr: number): number {
    return baseLr * this.gamma ** epoch;
  }

  protected config(): Record<string, JsonValue> {
    return { gamma: this.gamma };
  }
  protected loadConfig(c: Record<string, unknown>): void {
    this.gamma = finite(this.name, 'gamma', c.gamma);
  }
}

/** lr = base * lrLambda(t), PyTorch's LambdaLR: one function, or one per group. Functions are not saved by stateDict. */
export class LambdaLR extends LRScheduler {
  readonly lrLambdas: ((epoch: number) => number)[];

  constructor(optimizer: AnyOptimizer, lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[], options: SchedulerOptions = {}) {
    super('LambdaLR', optimizer, options);
    const n = optimizer.paramGroups.length;
    if (Array.isArray(lrLambda)) {
      if (lrLambda.length !== n) optionError(this.name, `Expected ${n} lr_lambdas, but got ${lrLambda.length}`);
      this.lrLambdas = [...lrLambda];
    } else {
      this.lrLambdas = new Array<(epoch: number) => number>(n).fill(lrLambda);
    }
    for (const f of this.lrLambdas) if (typeof f !== 'function') optionError(this.name, 'lrLambda must be a function or an array of functions');
    this.initialStep();
  }

  lrAt(epoch: number, baseLr: number, groupIndex: number): number {
    return baseLr * this.lrLambdas[groupIndex](epoch);
  }

  protected config(): Record<string, JsonValue> {
    return {};
  }
  protected loadConfig(): void {}
}

/**
 * Schedules one after another, as PyTorch's SequentialLR: schedulers[i] runs from milestones[i-1]
 * (0 for the first) to milestones[i], counting its own iterations from 0 at its start. The
 * schedulers must belong to the same optimizer and should not be stepped on their own.
 */
export class SequentialLR extends LRScheduler {
  readonly schedulers: LRScheduler[];
  milestones: number[];

  constructor(optimizer: AnyOptimizer, schedulers: LRScheduler[], milestones: number[], options: SchedulerOptions = {}) {
    super('SequentialLR', optimizer, options);
    if (!Array.isArray(schedulers) || schedulers.length === 0) optionError(this.name, 'schedulers must be a non-empty array');
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) optionError(this.name, `schedulers[${i}] is not a schedule`);
      if (s.optimizer !== optimizer) {
        optionError(
          this.name,
          `Sequential Schedulers expects all schedulers to belong to the same optimizer, but got schedulers at index ${i} to be different than the optimizer passed in.`,
        );
      }
    });
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1) {
      optionError(
        this.name,
        `Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers ${schedulers.length} and the number of milestones to be equal to ${Array.isArray(milestones) ? milestones.length : String(milestones)}`,
      );
    }
    this.schedulers = [...schedulers];
    this.milestones = SequentialLR.checkMilestones(this.name, milestones);
    this.initialStep();
  }

  private static checkMilestones(op: string, milestones: unknown[]): number[] {
    milestones.forEach((m, i) => nonNegativeInt(op, `milestones[${i}]`, m));
    for (let i = 1; i < milestones.length; i++) {
      if ((milestones[i] as number) < (milestones[i - 1] as number)) optionError(op, `milestones must be in increasing order, got [${milestones.join(', ')}]`);
    }
    return [...(milestones as number[])];
  }

  /** The stage running at iteration `epoch`, and the iteration within that stage. */
  stageAt(epoch: number): { index: number; epoch: number } {
    const index = bisectRight(this.milestones, epoch);
    return { index, epoch: index === 0 ? epoch : epoch - this.milestones[index - 1] };
  }

  lrAt(epoch: number, _baseLr: number, groupIndex: number): number {
    const stage = this.stageAt(epoch);
    const s = this.schedulers[stage.index];
    return s.lrAt(stage.epoch, s.baseLrs[groupIndex], groupIndex);
  }

  protected override apply(): void {
    super.apply();
    // Keep the running stage's own position and last lrs current, as PyTorch does.
    const stage = this.stageAt(this.lastEpoch);
    const s = this.schedulers[stage.index];
    s.lastEpoch = stage.epoch;
    (s as SequentialLR).lastLrs = [...this.lastLrs];
  }

  protected config(): Record<string, JsonValue> {
    return { _milestones: [...this.milestones], _schedulers: this.schedulers.map((s) => s.stateDict()) };
  }
  protected loadConfig(c: Record<string, unknown>): void {
    const saved = c._schedulers;
    if (!Array.isArray(saved) || saved.length !== this.schedulers.length) {
      optionError(`${this.name}.loadStateDict`, `_schedulers must hold ${this.schedulers.length} state dicts`);
    }
    if (!Array.isArray(c._milestones) || c._milestones.length !== this.milestones.length) {
      optionError(`${this.name}.loadStateDict`, `_milestones must hold ${this.milestones.length} milestones`);
    }
    const milestones = SequentialLR.checkMilestones(this.name, c._milestones);
    saved.forEach((sd, i) => this.schedulers[i].loadStateDict(sd as SchedulerStateDict));
    this.milestones = milestones;
  }
}

export interface WarmupOptions {
  /** Iterations of linear warm-up before the schedule starts. */
  warmupIters: number;
  /** Factor of the base lr at the first iteration, in [0, 1] (default 1/3, LinearLR's). */
  startFactor?: number;
}

/**
 * A linear warm-up in front of a schedule: SequentialLR([LinearLR(startFactor -> 1 over
 * warmupIters), schedule], [warmupIters]). The schedule counts from 0 when the warm-up ends, so a
 * poly schedule over a run of N iterations should be given totalIters N - warmupIters.
 * With warmupIters 0 the schedule is returned as it is.
 */
export function withWarmup(schedule: LRScheduler, options: WarmupOptions): LRScheduler {
  const op = 'withWarmup';
  if (!(schedule instanceof LRScheduler)) optionError(op, 'schedule must be a schedule (an LRScheduler)');
  const warmupIters = nonNegativeInt(op, 'warmupIters', options?.warmupIters);
  if (warmupIters === 0) return schedule;
  const warmup = new LinearLR(schedule.optimizer, { startFactor: options.startFactor ?? 1 / 3, endFactor: 1, totalIters: warmupIters });
  return new SequentialLR(schedule.optimizer, [warmup, schedule], [warmupIters]);
}
