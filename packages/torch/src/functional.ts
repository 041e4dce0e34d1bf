// torch.nn.functional: the layers' maths as functions, with PyTorch's argument names and defaults.
import { call } from './dispatch.js';
import { argError, TorchError } from './errors.js';
import { isFloating } from './dtype.js';
import { checkInt, checkTensor, checkValuesPerChannel, type Tensor } from './tensor.js';

export type Pair = number | [number, number];
export type Reduction = 'none' | 'mean' | 'sum';

const REDUCTIONS: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

function reduction(op: string, r: Reduction | undefined): number {
  const value = REDUCTIONS[r ?? 'mean'];
  if (value === undefined) argError(op, `reduction must be 'none', 'mean' or 'sum', got '${String(r)}'`);
  return value;
}

function pair(op: string, name: string, v: Pair): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2) argError(op, `${name} must be an integer or a pair of integers`);
  checkInt(op, name, p[0]);
  checkInt(op, name, p[1]);
  return p;
}

function positivePair(op: string, name: string, v: Pair): [number, number] {
  const p = pair(op, name, v);
  if (p[0] <= 0 || p[1] <= 0) argError(op, `${name} must be positive, got [${p}]`);
  return p;
}

function nonNegativePair(op: string, name: string, v: Pair): [number, number] {
  const p = pair(op, name, v);
  if (p[0] < 0 || p[1] < 0) argError(op, `${name} must be non-negative, got [${p}]`);
  return p;
}

function checkP(op: string, p: number): void {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) argError(op, `p must be a probability in [0, 1], got ${p}`);
}

export interface Conv2dOptions {
  bias?: Tensor | null;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

export function conv2d(input: Tensor, weight: Tensor, options: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  checkTensor(op, 'input', input);
  checkTensor(op, 'weight', weight);
  const groups = checkInt(op, 'groups', options.groups ?? 1);
  if (groups <= 0) argError(op, `groups must be positive, got ${groups}`);
  return call('conv2d', [
    input,
    weight,
    options.bias ?? null,
    positivePair(op, 'stride', options.stride ?? 1),
    nonNegativePair(op, 'padding', options.padding ?? 0),
    positivePair(op, 'dilation', options.dilation ?? 1),
    groups,
  ]);
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}

export function convTranspose2d(input: Tensor, weight: Tensor, options: ConvTranspose2dOptions = {}): Tensor {
  const op = 'convTranspose2d';
  checkTensor(op, 'input', input);
  checkTensor(op, 'weight', weight);
  const groups = checkInt(op, 'groups', options.groups ?? 1);
  if (groups <= 0) argError(op, `groups must be positive, got ${groups}`);
  return call('conv_transpose2d.input', [
    input,
    weight,
    options.bias ?? null,
    positivePair(op, 'stride', options.stride ?? 1),
    nonNegativePair(op, 'padding', options.padding ?? 0),
    nonNegativePair(op, 'outputPadding', options.outputPadding ?? 0),
    groups,
    positivePair(op, 'dilation', options.dilation ?? 1),
  ]);
}

export interface MaxPool2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

export function maxPool2d(input: Tensor, kernelSize: Pair, options: MaxPool2dOptions = {}): Tensor {
  const op = 'maxPool2d';
  checkTensor(op, 'input', input);
  return call('max_pool2d', [
    input,
    positivePair(op, 'kernelSize', kernelSize),
    options.stride === undefined ? [] : positivePair(op, 'stride', options.stride),
    nonNegativePair(op, 'padding', options.padding ?? 0),
    positivePair(op, 'dilation', options.dilation ?? 1),
    options.ceilMode ?? false,
  ]);
}

/** Max pooling that also returns the flat indices of the maxima. */
export function maxPool2dWithIndices(input: Tensor, kernelSize: Pair, options: MaxPool2dOptions = {}): [Tensor, Tensor] {
  const op = 'maxPool2d';
  checkTensor(op, 'input', input);
  return call('max_pool2d_with_indices', [
    input,
    positivePair(op, 'kernelSize', kernelSize),
    options.stride === undefined ? [] : positivePair(op, 'stride', options.stride),
    nonNegativePair(op, 'padding', options.padding ?? 0),
    positivePair(op, 'dilation', options.dilation ?? 1),
    options.ceilMode ?? false,
  ]);
}

export interface AvgPool2dOptions {
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number;
}

export function avgPool2d(input: Tensor, kernelSize: Pair, options: AvgPool2dOptions = {}): Tensor {
  const op = 'avgPool2d';
  checkTensor(op, 'input', input);
  return call('avg_pool2d', [
    input,
    positivePair(op, 'kernelSize', kernelSize),
    options.stride === undefined ? [] : positivePair(op, 'stride', options.stride),
    nonNegativePair(op, 'padding', options.padding ?? 0),
    options.ceilMode ?? false,
    options.countIncludePad ?? true,
    options.divisorOverride ?? null,
  ]);
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  checkTensor('adaptiveAvgPool2d', 'input', input);
  return call('adaptive_avg_pool2d', [input, positivePair('adaptiveAvgPool2d', 'outputSize', outputSize)]);
}

export interface InterpolateOptions {
  size?: Pair;
  scaleFactor?: number | [number, number];
  mode?: 'nearest' | 'bilinear';
  alignCorners?: boolean;
}

/** Resizes [N,C,H,W] by size or scale factor, as F.interpolate (nearest or bilinear). */
export function interpolate(input: Tensor, options: InterpolateOptions = {}): Tensor {
  const op = 'interpolate';
  checkTensor(op, 'input', input);
  const mode = options.mode ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'bilinear') argError(op, `mode must be 'nearest' or 'bilinear', got '${String(mode)}'`);
  if ((options.size === undefined) === (options.scaleFactor === undefined)) argError(op, 'give exactly one of size and scaleFactor');
  if (mode === 'nearest' && options.alignCorners !== undefined) argError(op, "alignCorners only applies to mode 'bilinear'");
  if (input.ndim !== 4) argError(op, `input must be 4-d [N, C, H, W], got ${input.ndim}-d`);
  const size = options.size === undefined ? null : positivePair(op, 'size', options.size);
  let scales: number[] | null = null;
  if (options.scaleFactor !== undefined) {
    const s = typeof options.scaleFactor === 'number' ? [options.scaleFactor, options.scaleFactor] : options.scaleFactor;
    if (s.length !== 2 || !s.every((v) => typeof v === 'number' && v > 0 && Number.isFinite(v))) argError(op, 'scaleFactor must be positive');
    scales = s;
  }
  if (mode === 'nearest') return call('upsample_nearest2d.vec', [input, size, scales]);
  return call('upsample_bilinear2d.vec', [input, size, options.alignCorners ?? false, scales]);
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** F.batch_norm: normalises over [N, H, W] per channel; updates running stats when training. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  const op = 'batchNorm';
  checkTensor(op, 'input', input);
  const training = options.training ?? false;
  if (!training && (runningMean === null || runningVar === null)) argError(op, 'running statistics are needed when not training');
  if (training) checkValuesPerChannel(op, input);
  return call('batch_norm', [
    input,
    options.weight ?? null,
    options.bias ?? null,
    runningMean,
    runningVar,
    training,
    options.momentum ?? 0.1,
    options.eps ?? 1e-5,
    true,
  ]);
}

export function groupNorm(input: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  checkInt('groupNorm', 'numGroups', numGroups);
  return call('group_norm', [input, numGroups, weight, bias, eps, true]);
}

export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  checkP('dropout', p);
  return call('dropout', [checkTensor('dropout', 'input', input), p, training]);
}

/** Zeroes whole channels of [N, C, H, W] with probability p (F.dropout2d). */
export function dropout2d(input: Tensor, p = 0.5, training = true): Tensor {
  checkP('dropout2d', p);
  return call('feature_dropout', [checkTensor('dropout2d', 'input', input), p, training]);
}

export function relu(input: Tensor): Tensor {
  return input.relu();
}
export function leakyRelu(input: Tensor, negativeSlope = 0.01): Tensor {
  return input.leakyRelu(negativeSlope);
}
export function sigmoid(input: Tensor): Tensor {
  return input.sigmoid();
}
export function tanh(input: Tensor): Tensor {
  return input.tanh();
}
export function softmax(input: Tensor, dim: number): Tensor {
  return input.softmax(dim);
}
export function logSoftmax(input: Tensor, dim: number): Tensor {
  return input.logSoftmax(dim);
}

export interface CrossEntropyOptions {
  weight?: Tensor | null;
  ignoreIndex?: number;
  reduction?: Reduction;
  labelSmoothing?: number;
}

/** Cross-entropy between logits [N, C, ...] and class indices [N, ...] (or class probabilities). */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  checkTensor(op, 'input', input);
  checkTensor(op, 'target', target);
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) argError(op, `labelSmoothing must be in [0, 1], got ${smoothing}`);
  checkTarget(op, input, target, true);
  const ignoreIndex = checkInt(op, 'ignoreIndex', options.ignoreIndex ?? -100);
  return explainTargetRange(input, ignoreIndex, () =>
    call('cross_entropy_loss', [input, target, options.weight ?? null, reduction(op, options.reduction), ignoreIndex, smoothing]),
  );
}

/** Class-index targets must be int64; crossEntropy also takes float probabilities shaped like input. */
function checkTarget(op: string, input: Tensor, target: Tensor, probabilities: boolean): void {
  if (isFloating(target.dtype)) {
    const same = target.ndim === input.ndim && target.shape.every((d, i) => d === input.shape[i]);
    if (probabilities && same) return;
    argError(
      op,
      `target must hold int64 class indices of shape [${input.ndim > 1 ? [input.shape[0], ...input.shape.slice(2)] : []}]` +
        (probabilities ? ` or ${target.dtype} class probabilities of the input's shape [${input.shape}]` : '') +
        `, got ${target.dtype} of shape [${target.shape}] (convert indices with .long())`,
    );
  }
  if (target.dtype !== 'int64') argError(op, `target class indices must be int64, got ${target.dtype} (convert with .long())`);
}

/** libtorch reports 'Target 7 is out of bounds.': add the number of classes and the ignore index. */
function explainTargetRange(input: Tensor, ignoreIndex: number, fn: () => Tensor): Tensor {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TorchError && /Target -?\d+ is out of bounds/.test(err.message)) {
      const classes = input.ndim > 1 ? input.shape[1] : input.shape[0];
      const detail = err.message.slice(err.op.length + 2).replace(/\.$/, '');
      throw new TorchError(
        `${detail}: the input has ${classes} classes, so targets must be in [0, ${classes - 1}] or equal ignoreIndex (${ignoreIndex})`,
        err.op,
      );
    }
    throw err;
  }
}

export interface NllLossOptions {
  weight?: Tensor | null;
  ignoreIndex?: number;
  reduction?: Reduction;
}

export function nllLoss(input: Tensor, target: Tensor, options: NllLossOptions = {}): Tensor {
  const op = 'nllLoss';
  checkTensor(op, 'input', input);
  checkTensor(op, 'target', target);
  checkTarget(op, input, target, false);
  const ignoreIndex = checkInt(op, 'ignoreIndex', options.ignoreIndex ?? -100);
  return explainTargetRange(input, ignoreIndex, () =>
    call('nll_loss_nd', [input, target, options.weight ?? null, reduction(op, options.reduction), ignoreIndex]),
  );
}

export interface BceWithLogitsOptions {
  weight?: Tensor | null;
  posWeight?: Tensor | null;
  reduction?: Reduction;
}

export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, options: BceWithLogitsOptions = {}): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  checkTensor(op, 'input', input);
  checkTensor(op, 'target', target);
  return call('binary_cross_entropy_with_logits', [input, target, options.weight ?? null, options.posWeight ?? null, reduction(op, options.reduction)]);
}

export function mseLoss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  checkTensor('mseLoss', 'input', input);
  checkTensor('mseLoss', 'target', target);
  return call('mse_loss', [input, target, reduction('mseLoss', options.reduction)]);
}

export function l1Loss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  checkTensor('l1Loss', 'input', input);
  checkTensor('l1Loss', 'target', target);
  return call('l1_loss', [input, target, reduction('l1Loss', options.reduction)]);
}

/** One-hot encoding of int64 class indices; numClasses -1 infers it from the largest index. */
export function oneHot(input: Tensor, numClasses = -1): Tensor {
  checkInt('oneHot', 'numClasses', numClasses);
  if (numClasses === 0 || numClasses < -1) argError('oneHot', `numClasses must be positive (or -1 to infer), got ${numClasses}`);
  return call('one_hot', [checkTensor('oneHot', 'input', input), numClasses]);
}

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

/** F.pad: pad lists (left, right, top, bottom, ...) from the last dimension backwards. */
export function pad(input: Tensor, padding: number[], mode: PadMode = 'constant', value = 0): Tensor {
  const op = 'pad';
  checkTensor(op, 'input', input);
  if (!Array.isArray(padding) || padding.length % 2 !== 0) argError(op, 'padding must have an even number of entries');
  for (const p of padding) checkInt(op, 'padding', p);
  if (padding.length / 2 > input.ndim) argError(op, `padding covers ${padding.length / 2} dims, input has ${input.ndim}`);
  if (!['constant', 'reflect', 'replicate', 'circular'].includes(mode)) argError(op, `unknown mode '${mode}'`);
  return call('pad', [input, padding, mode, mode === 'constant' ? value : null]);
}

/** Tensor-joining and matrix functions of the torch namespace. */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) argError('cat', 'expected a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor('cat', `tensors[${i}]`, t));
  return call('cat', [tensors, checkInt('cat', 'dim', dim)]);
}

export function stack(tensors: Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) argError('stack', 'expected a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor('stack', `tensors[${i}]`, t));
  return call('stack', [tensors, checkInt('stack', 'dim', dim)]);
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return checkTensor('matmul', 'input', a).matmul(b);
}
