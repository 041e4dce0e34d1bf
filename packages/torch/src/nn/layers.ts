// Layers with one options object each, PyTorch's defaults and PyTorch's initialisation.
import { argError } from '../errors.js';
import { empty, ones, zeros, tensor } from '../creation.js';
import * as F from '../functional.js';
import { noGrad } from '../autograd.js';
import { checkInt, checkTensor, checkValuesPerChannel, type Tensor } from '../tensor.js';
import * as init from './init.js';
import { Module } from './module.js';

type Pair = F.Pair;

function pairOf(v: Pair): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

function positive(op: string, name: string, v: number): number {
  checkInt(op, name, v);
  if (v <= 0) argError(op, `${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * PyTorch's default init of Conv2d, ConvTranspose2d and Linear: kaiming uniform with a = sqrt(5)
 * (uniform within 1/sqrt(fanIn)), and the bias uniform within 1/sqrt(fanIn).
 */
function resetWeightAndBias(weight: Tensor, bias: Tensor | null): void {
  init.kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias === null) return;
  const [fanIn] = init.calculateFanInAndFanOut(weight);
  if (fanIn > 0) init.uniform_(bias, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
}

export interface Conv2dOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: Pair;
  /** Default 1. */
  stride?: Pair;
  /** Default 0. */
  padding?: Pair;
  /** Default 1. */
  dilation?: Pair;
  /** Default 1. */
  groups?: number;
  /** Default true. */
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly options: Required<Conv2dOptions>;

  constructor(options: Conv2dOptions) {
    super();
    const o = { stride: 1, padding: 0, dilation: 1, groups: 1, bias: true, ...options };
    positive('Conv2d', 'inChannels', o.inChannels);
    positive('Conv2d', 'outChannels', o.outChannels);
    positive('Conv2d', 'groups', o.groups);
    if (o.inChannels % o.groups !== 0 || o.outChannels % o.groups !== 0) {
      argError('Conv2d', `inChannels (${o.inChannels}) and outChannels (${o.outChannels}) must be divisible by groups (${o.groups})`);
    }
    this.options = o;
    const [kh, kw] = pairOf(o.kernelSize);
    this.registerParameter(
      'weight',
      empty([o.outChannels, o.inChannels / o.groups, positive('Conv2d', 'kernelSize', kh), positive('Conv2d', 'kernelSize', kw)]),
    );
    this.registerParameter('bias', o.bias ? empty([o.outChannels]) : null);
    this.resetParameters();
  }

  get weight(): Tensor {
    return this.getParameter('weight')!;
  }
  get bias(): Tensor | null {
    return this.getParameter('bias');
  }

  resetParameters(): void {
    resetWeightAndBias(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    const o = this.options;
    return F.conv2d(x, this.weight, { bias: this.bias, stride: o.stride, padding: o.padding, dilation: o.dilation, groups: o.groups });
  }

  protected override extraRepr(): string {
    const o = this.options;
    return `${o.inChannels}, ${o.outChannels}, kernelSize=${JSON.stringify(o.kernelSize)}, stride=${JSON.stringify(o.stride)}, padding=${JSON.stringify(o.padding)}`;
  }
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Default 0. */
  outputPadding?: Pair;
}

export class ConvTranspose2d extends Module {
  readonly options: Required<ConvTranspose2dOptions>;

  constructor(options: ConvTranspose2dOptions) {
    super();
    const o = { stride: 1, padding: 0, dilation: 1, groups: 1, bias: true, outputPadding: 0, ...options };
    positive('ConvTranspose2d', 'inChannels', o.inChannels);
    positive('ConvTranspose2d', 'outChannels', o.outChannels);
    positive('ConvTranspose2d', 'groups', o.groups);
    if (o.inChannels % o.groups !== 0 || o.outChannels % o.groups !== 0) {
      argError('ConvTranspose2d', `inChannels (${o.inChannels}) and outChannels (${o.outChannels}) must be divisible by groups (${o.groups})`);
    }
    this.options = o;
    const [kh, kw] = pairOf(o.kernelSize);
    // PyTorch's transposed weight is [in, out / groups, kh, kw].
    this.registerParameter(
      'weight',
      empty([o.inChannels, o.outChannels / o.groups, positive('ConvTranspose2d', 'kernelSize', kh), positive('ConvTranspose2d', 'kernelSize', kw)]),
    );
    this.registerParameter('bias', o.bias ? empty([o.outChannels]) : null);
    this.resetParameters();
  }

  get weight(): Tensor {
    return this.getParameter('weight')!;
  }
  get bias(): Tensor | null {
    return this.getParameter('bias');
  }

  resetParameters(): void {
    resetWeightAndBias(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    const o = this.options;
    return F.convTranspose2d(x, this.weight, {
      bias: this.bias,
      stride: o.stride,
      padding: o.padding,
      outputPadding: o.outputPadding,
      dilation: o.dilation,
      groups: o.groups,
    });
  }
}

export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  /** Default true. */
  bias?: boolean;
}

export class Linear extends Module {
  readonly options: Required<LinearOptions>;

  constructor(options: LinearOptions) {
    super();
    const o = { bias: true, ...options };
    this.options = o;
    this.registerParameter('weight', empty([positive('Linear', 'outFeatures', o.outFeatures), positive('Linear', 'inFeatures', o.inFeatures)]));
    this.registerParameter('bias', o.bias ? empty([o.outFeatures]) : null);
    this.resetParameters();
  }

  get weight(): Tensor {
    return this.getParameter('weight')!;
  }
  get bias(): Tensor | null {
    return this.getParameter('bias');
  }

  resetParameters(): void {
    resetWeightAndBias(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    const y = x.matmul(this.weight.T);
    if (this.bias === null) return y;
    const out = y.add(this.bias);
    y.dispose();
    return out;
  }

  protected override extraRepr(): string {
    return `inFeatures=${this.options.inFeatures}, outFeatures=${this.options.outFeatures}, bias=${this.options.bias}`;
  }
}

export interface BatchNorm2dOptions {
  numFeatures: number;
  /** Default 1e-5. */
  eps?: number;
  /** Default 0.1; null for a cumulative moving average. */
  momentum?: number | null;
  /** Default true: learnable weight and bias. */
  affine?: boolean;
  /** Default true: keep running mean and variance. */
  trackRunningStats?: boolean;
}

/**
 * BatchNorm2d as PyTorch's. `freeze()` puts it in a frozen mode (as FrozenBatchNorm in
 * detection and segmentation code): running statistics are used even in training mode, are not
 * updated, and weight and bias are not trained. Useful with small batches.
 */
export class BatchNorm2d extends Module {
  readonly options: Required<BatchNorm2dOptions>;
  private frozen = false;

  constructor(options: BatchNorm2dOptions) {
    super();
    const o = { eps: 1e-5, momentum: 0.1 as number | null, affine: true, trackRunningStats: true, ...options };
    positive('BatchNorm2d', 'numFeatures', o.numFeatures);
    this.options = o;
    this.registerParameter('weight', o.affine ? empty([o.numFeatures]) : null);
    this.registerParameter('bias', o.affine ? empty([o.numFeatures]) : null);
    if (o.trackRunningStats) {
      this.registerBuffer('running_mean', zeros([o.numFeatures]));
      this.registerBuffer('running_var', ones([o.numFeatures]));
      this.registerBuffer('num_batches_tracked', tensor(0, { dtype: 'int64' }));
    } else {
      this.registerBuffer('running_mean', null);
      this.registerBuffer('running_var', null);
      this.registerBuffer('num_batches_tracked', null);
    }
    this.resetParameters();
  }

  get weight(): Tensor | null {
    return this.getParameter('weight');
  }
  get bias(): Tensor | null {
    return this.getParameter('bias');
  }
  get runningMean(): Tensor | null {
    return this.getBuffer('running_mean');
  }
  get runningVar(): Tensor | null {
    return this.getBuffer('running_var');
  }
  get isFrozen(): boolean {
    return this.frozen;
  }

  resetRunningStats(): void {
    if (!this.options.trackRunningStats) return;
    noGrad(() => {
      this.runningMean!.zero_();
      this.runningVar!.fill_(1);
      this.getBuffer('num_batches_tracked')!.zero_();
    });
  }

  resetParameters(): void {
    this.resetRunningStats();
    if (this.options.affine) {
      init.ones_(this.weight!);
      init.zeros_(this.bias!);
    }
  }

  /** Frozen mode: running statistics always, no statistic updates, no gradients for weight and bias. */
  freeze(frozen = true): this {
    if (frozen && !this.options.trackRunningStats) argError('BatchNorm2d.freeze', 'a frozen BatchNorm needs running statistics');
    this.frozen = frozen;
    for (const p of this.parameters(false)) p.requiresGrad_(!frozen);
    return this;
  }

  forward(x: Tensor): Tensor {
    checkTensor('BatchNorm2d', 'input', x);
    if (x.ndim !== 4) argError('BatchNorm2d', `expected 4-d input [N, C, H, W], got ${x.ndim}-d`);
    const o = this.options;
    const training = this.training && !this.frozen;
    let factor = o.momentum ?? 0;
    const useBatchStats = training || (this.runningMean === null && this.runningVar === null);
    // Before num_batches_tracked counts a batch that cannot be used.
    if (useBatchStats) checkValuesPerChannel('BatchNorm2d', x);
    if (training && o.trackRunningStats) {
      const tracked = this.getBuffer('num_batches_tracked')!;
      noGrad(() => tracked.add_(1));
      if (o.momentum === null) factor = 1 / (tracked.item() as number);
    }
    const track = !training || o.trackRunningStats;
    return F.batchNorm(x, track ? this.runningMean : null, track ? this.runningVar : null, {
      weight: this.weight,
      bias: this.bias,
      training: useBatchStats,
      momentum: factor,
      eps: o.eps,
    });
  }

  protected override extraRepr(): string {
    const o = this.options;
    return `${o.numFeatures}, eps=${o.eps}, momentum=${o.momentum}, affine=${o.affine}, trackRunningStats=${o.trackRunningStats}`;
  }
}

export interface GroupNormOptions {
  numGroups: number;
  numChannels: number;
  /** Default 1e-5. */
  eps?: number;
  /** Default true. */
  affine?: boolean;
}

export class GroupNorm extends Module {
  readonly options: Required<GroupNormOptions>;

  constructor(options: GroupNormOptions) {
    super();
    const o = { eps: 1e-5, affine: true, ...options };
    positive('GroupNorm', 'numGroups', o.numGroups);
    positive('GroupNorm', 'numChannels', o.numChannels);
    if (o.numChannels % o.numGroups !== 0) argError('GroupNorm', `numChannels (${o.numChannels}) must be divisible by numGroups (${o.numGroups})`);
    this.options = o;
    this.registerParameter('weight', o.affine ? ones([o.numChannels]) : null);
    this.registerParameter('bias', o.affine ? zeros([o.numChannels]) : null);
  }

  resetParameters(): void {
    if (!this.options.affine) return;
    init.ones_(this.getParameter('weight')!);
    init.zeros_(this.getParameter('bias')!);
  }

  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.options.numGroups, this.getParameter('weight'), this.getParameter('bias'), this.options.eps);
  }
}

export class ReLU extends Module {
  constructor(readonly options: { inplace?: boolean } = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.options.inplace ? x.relu_() : x.relu();
  }
}

export class LeakyReLU extends Module {
  readonly negativeSlope: number;
  constructor(options: { negativeSlope?: number } = {}) {
    super();
    this.negativeSlope = options.negativeSlope ?? 0.01;
  }
  forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
}

export interface DropoutOptions {
  /** Probability of zeroing an element (a channel for Dropout2d). Default 0.5. */
  p?: number;
}

/**
 * Dropout active in training mode. `mcDropout = true` keeps it active in eval mode too, for
 * Monte-Carlo dropout at inference (BALD and similar), without putting the rest of the model
 * (BatchNorm) in training mode.
 */
export class Dropout extends Module {
  readonly p: number;
  mcDropout = false;
  constructor(options: DropoutOptions = {}) {
    super();
    this.p = options.p ?? 0.5;
    if (!(this.p >= 0 && this.p <= 1)) argError('Dropout', `p must be in [0, 1], got ${this.p}`);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training || this.mcDropout);
  }
}

export class Dropout2d extends Module {
  readonly p: number;
  mcDropout = false;
  constructor(options: DropoutOptions = {}) {
    super();
    this.p = options.p ?? 0.5;
    if (!(this.p >= 0 && this.p <= 1)) argError('Dropout2d', `p must be in [0, 1], got ${this.p}`);
  }
  forward(x: Tensor): Tensor {
    return F.dropout2d(x, this.p, this.training || this.mcDropout);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: F.MaxPool2dOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.options);
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: F.AvgPool2dOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.options);
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

export class Upsample extends Module {
  constructor(readonly options: F.InterpolateOptions) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.interpolate(x, this.options);
  }
}

/** A module with a single-input forward, as Sequential chains. */
export interface Layer extends Module {
  forward(x: Tensor): Tensor;
}

/** Runs its modules in order, named '0', '1', ... as PyTorch's Sequential. Intermediates are freed. */
export class Sequential extends Module {
  private readonly layers: Layer[];

  constructor(...modules: Layer[]) {
    super();
    this.layers = modules;
    modules.forEach((m, i) => this.registerModule(String(i), m));
  }

  get length(): number {
    return this.layers.length;
  }

  at(index: number): Layer {
    const m = this.layers[index < 0 ? this.layers.length + index : index];
    if (m === undefined) argError('Sequential.at', `index ${index} out of range for ${this.layers.length} modules`);
    return m;
  }

  forward(x: Tensor): Tensor {
    let out = x;
    for (const m of this.layers) {
      const next = m.forward(out);
      if (out !== x && next !== out) out.dispose();
      out = next;
    }
    return out;
  }
}

export class ModuleList<M extends Module = Module> extends Module {
  private readonly items: M[] = [];

  constructor(modules: M[] = []) {
    super();
    for (const m of modules) this.append(m);
  }

  append(m: M): this {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return this;
  }

  get length(): number {
    return this.items.length;
  }

  at(index: number): M {
    const m = this.items[index < 0 ? this.items.length + index : index];
    if (m === undefined) argError('ModuleList.at', `index ${index} out of range for ${this.items.length} modules`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }

  forward(): never {
    return argError('ModuleList', 'a ModuleList has no forward; iterate over its modules');
  }
}

export class ModuleDict<M extends Module = Module> extends Module {
  private readonly items = new Map<string, M>();

  constructor(modules: Record<string, M> = {}) {
    super();
    for (const [k, m] of Object.entries(modules)) this.set(k, m);
  }

  set(key: string, m: M): this {
    this.registerModule(key, m);
    this.items.set(key, m);
    return this;
  }

  get(key: string): M {
    const m = this.items.get(key);
    if (m === undefined) argError('ModuleDict.get', `no module '${key}'`);
    return m;
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  entries(): [string, M][] {
    return [...this.items.entries()];
  }

  forward(): never {
    return argError('ModuleDict', 'a ModuleDict has no forward; look modules up by key');
  }
}
