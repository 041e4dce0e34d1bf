// Tensor: a PyTorch-shaped handle over one at::Tensor. Methods map to ATen operators by schema
// name (see dispatch.ts); TypeScript checks what libtorch would report less clearly.
import { inspect } from 'node:util';
import { call } from './dispatch.js';
import { argError, describe, TorchError } from './errors.js';
import { type AnyTypedArray, type DType, isDType, typedArrayView } from './dtype.js';
import { formatTensor } from './format.js';
import { native, type NativeTensor } from './native.js';
import { track } from './scope.js';

export type Scalar = number | boolean;
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type MemoryFormat = 'contiguous' | 'channels_last' | 'preserve';
export type NestedArray<T> = T | NestedArray<T>[];

export interface ToOptions {
  dtype?: DType;
  device?: Device;
  memoryFormat?: MemoryFormat;
  copy?: boolean;
}

export function checkInt(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) argError(op, `${name} must be an integer, got ${describe(value)}`);
  return value as number;
}

export function checkIntList(op: string, name: string, value: unknown): number[] {
  if (!Array.isArray(value)) argError(op, `${name} must be an array of integers, got ${describe(value)}`);
  for (const [i, v] of (value as unknown[]).entries()) checkInt(op, `${name}[${i}]`, v);
  return value as number[];
}

export function checkShape(op: string, shape: unknown): number[] {
  checkIntList(op, 'shape', shape);
  for (const d of shape as number[]) if (d < 0) argError(op, `shape must not hold negative sizes, got [${String(shape)}]`);
  return shape as number[];
}

/** A boolean mask: libtorch 1.13 silently ignores a float mask in masked_fill. */
function checkMask(op: string, mask: unknown): Tensor {
  checkTensor(op, 'mask', mask);
  const dtype = (mask as Tensor).dtype;
  if (dtype !== 'bool') argError(op, `mask must be a bool tensor, got ${dtype} (compare, or convert with .bool())`);
  return mask as Tensor;
}

export function checkTensor(op: string, name: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) argError(op, `${name} must be a Tensor, got ${describe(value)}`);
  return value as Tensor;
}

/**
 * Batch statistics need more than one value per channel (N * H * W > 1): with one, the variance is
 * 0 / 0, the output ~0 and the running variance NaN. PyTorch's F.batch_norm refuses it the same way.
 */
export function checkValuesPerChannel(op: string, input: Tensor): void {
  const shape = input.shape;
  if (shape.length < 2) return;
  let values = shape[0];
  for (let i = 2; i < shape.length; i++) values *= shape[i];
  if (values === 1) argError(op, `expected more than 1 value per channel when training, got input size [${shape.join(', ')}]`);
}

function leafOnly(t: Tensor, flag: boolean): string {
  const detach = flag ? '' : " If you want to use a computed tensor in a subgraph that doesn't require differentiation use t.detach().";
  return `you can only change requiresGrad flags of leaf tensors, this one was computed by ${t.gradFn}.${detach}`;
}

/** Shape of `dims` given either as one array or as separate integers (PyTorch accepts both). */
function dimsArg(op: string, dims: (number | number[])[]): number[] {
  const flat = dims.length === 1 && Array.isArray(dims[0]) ? (dims[0] as number[]) : (dims as number[]);
  return checkIntList(op, 'dims', flat);
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'number' || typeof v === 'boolean';
}

/** For arguments that may be a Tensor or a number: true for a number or boolean, else checks for a Tensor. */
function scalarOperand(op: string, name: string, v: unknown): v is Scalar {
  if (isScalar(v)) return true;
  if (!(v instanceof Tensor)) argError(op, `${name} must be a Tensor, a number or a boolean, got ${describe(v)}`);
  return false;
}

/** Largest tensor tolist() turns into JS arrays; beyond it V8 can abort the process (heap or array size). */
const TOLIST_MAX_ELEMENTS = 2 ** 25;

export class Tensor {
  /** Marks tensors for structural checks without importing this class. */
  readonly isTensor = true;
  readonly native: NativeTensor;

  /** Tensors are made by torch functions; this wraps a native handle and joins the current scope. */
  constructor(handle: NativeTensor) {
    this.native = handle;
    track(this);
  }

  // ---- metadata ----
  get shape(): number[] {
    return this.native.shape();
  }
  get ndim(): number {
    return this.native.shape().length;
  }
  get dtype(): DType {
    return this.native.dtype() as DType;
  }
  get device(): string {
    return this.native.device();
  }
  get isCuda(): boolean {
    return this.device.startsWith('cuda');
  }
  numel(): number {
    return this.native.numel();
  }
  size(dim?: number): number | number[] {
    const shape = this.shape;
    if (dim === undefined) return shape;
    checkInt('size', 'dim', dim);
    const d = dim < 0 ? dim + shape.length : dim;
    if (d < 0 || d >= shape.length) argError('size', `dim ${dim} is out of range for a ${shape.length}-d tensor`);
    return shape[d];
  }
  stride(): number[] {
    return this.native.strides();
  }
  isContiguous(memoryFormat: MemoryFormat = 'contiguous'): boolean {
    return this.native.isContiguous(memoryFormat);
  }
  get isDisposed(): boolean {
    return this.native.isDisposed();
  }
  /** Throws the TorchError that a disposed tensor gives, naming the op the caller asked for. */
  private checkLive(op: string): void {
    if (this.native.isDisposed()) throw new TorchError('the tensor is a disposed tensor', op);
  }
  /** Frees the native tensor now. Idempotent. */
  dispose(): void {
    this.native.dispose();
  }

  // ---- autograd ----
  get requiresGrad(): boolean {
    return this.native.requiresGrad();
  }
  set requiresGrad(flag: boolean) {
    // As PyTorch's setter: a computed tensor's flag follows its graph and cannot be changed.
    if (!this.native.isLeaf()) argError('requiresGrad', leafOnly(this, flag));
    this.native.setRequiresGrad(flag);
  }
  requiresGrad_(flag = true): this {
    // As PyTorch's requires_grad_: turning it off on a computed tensor would be silently ignored.
    if (!flag && !this.native.isLeaf()) argError('requiresGrad_', leafOnly(this, flag));
    this.native.setRequiresGrad(flag);
    return this;
  }
  /** The accumulated gradient (a new handle on each read, joining the current scope), or null. */
  get grad(): Tensor | null {
    const g = this.native.grad();
    return g === null ? null : new Tensor(g);
  }
  set grad(value: Tensor | null) {
    if (value !== null) {
      checkTensor('grad', 'the gradient', value);
      // PyTorch refuses this too; libtorch's setter would keep a grad that backward cannot fill.
      if (value.dtype !== this.dtype) argError('grad', `the gradient must have the tensor's dtype ${this.dtype}, got ${value.dtype}`);
    }
    this.native.setGrad(value === null ? null : value.native);
  }
  get isLeaf(): boolean {
    return this.native.isLeaf();
  }
  /** Name of the autograd node that made this tensor, as Python shows it (e.g. 'MulBackward0'). */
  get gradFn(): string | null {
    const name = this.native.gradFnName();
    if (name === null) return null;
    return name.includes('::') ? name.slice(name.lastIndexOf('::') + 2) : name;
  }
  backward(gradient?: Tensor, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    if (gradient !== undefined) checkTensor('backward', 'gradient', gradient);
    native.backward([this.native], [gradient === undefined ? null : gradient.native], options.retainGraph ?? false, options.createGraph ?? false);
  }
  detach(): Tensor {
    return call('detach', [this]);
  }
  detach_(): this {
    return call('detach_', [this]);
  }

  // ---- reading ----
  /** A copy of the values as the typed array of this dtype (BigInt64Array for int64, Uint8Array for bool). */
  toTypedArray(): AnyTypedArray {
    return typedArrayView(this.native.toBuffer(), this.dtype);
  }
  /** Same as toTypedArray (tfjs's name). */
  dataSync(): AnyTypedArray {
    return this.toTypedArray();
  }
  item(): number | boolean {
    this.checkLive('item');
    if (this.numel() !== 1) argError('item', `only one-element tensors can become a number, this one has ${this.numel()}`);
    return this.native.item();
  }
  /** Nested arrays of numbers (booleans for bool tensors), like Python's tolist. */
  tolist(): NestedArray<number | boolean> {
    this.checkLive('tolist');
    if (this.dtype === 'float16' || this.dtype === 'bfloat16') {
      // Their typed arrays hold raw 16-bit patterns: read the values through float32.
      const wide = this.float();
      const list = wide.tolist();
      wide.dispose();
      return list;
    }
    const numel = this.numel();
    if (numel > TOLIST_MAX_ELEMENTS) {
      argError(
        'tolist',
        `the tensor has ${numel} elements, more than the ${TOLIST_MAX_ELEMENTS} that nested JS arrays can hold safely; read it with toTypedArray()`,
      );
    }
    const flat = this.toTypedArray();
    const dtype = this.dtype;
    const read = (i: number): number | boolean => (dtype === 'bool' ? flat[i] !== 0 : typeof flat[i] === 'bigint' ? Number(flat[i]) : (flat[i] as number));
    const shape = this.shape;
    if (shape.length === 0) return read(0);
    let offset = 0;
    const build = (d: number): NestedArray<number | boolean> => {
      const out: NestedArray<number | boolean>[] = [];
      for (let i = 0; i < shape[d]; i++) out.push(d === shape.length - 1 ? read(offset++) : build(d + 1));
      return out;
    };
    return build(0);
  }
  toString(): string {
    if (this.isDisposed) return 'tensor(<disposed>)';
    return formatTensor(this);
  }
  [inspect.custom](): string {
    return this.toString();
  }

  // ---- conversion ----
  to(target: DType | Device | ToOptions): Tensor {
    if (typeof target === 'string' && !isDType(target) && !/^(cpu|cuda(:\d+)?)$/.test(target)) {
      argError(
        'to',
        `'${target}' is neither a dtype (float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool) nor a device (cpu, cuda, cuda:N)`,
      );
    }
    const opts: ToOptions = typeof target === 'string' ? (isDType(target) ? { dtype: target } : { device: target as Device }) : target;
    return call('to.dtype_layout', [this], {
      dtype: opts.dtype ?? this.dtype,
      device: opts.device ?? this.device,
      copy: opts.copy ?? false,
      memory_format: opts.memoryFormat,
    });
  }
  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }
  cuda(index = 0): Tensor {
    return this.to({ device: `cuda:${index}` });
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }
  int(): Tensor {
    return this.to('int32');
  }
  bool(): Tensor {
    return this.to('bool');
  }
  clone(memoryFormat?: MemoryFormat): Tensor {
    return call('clone', [this], { memory_format: memoryFormat });
  }
  contiguous(memoryFormat: MemoryFormat = 'contiguous'): Tensor {
    return call('contiguous', [this], { memory_format: memoryFormat });
  }

  // ---- pointwise arithmetic ----
  add(other: Tensor | Scalar, alpha: Scalar = 1): Tensor {
    return scalarOperand('add', 'other', other) ? call('add.Scalar', [this, other, alpha]) : call('add.Tensor', [this, other, alpha]);
  }
  sub(other: Tensor | Scalar, alpha: Scalar = 1): Tensor {
    return scalarOperand('sub', 'other', other) ? call('sub.Scalar', [this, other, alpha]) : call('sub.Tensor', [this, other, alpha]);
  }
  mul(other: Tensor | Scalar): Tensor {
    return scalarOperand('mul', 'other', other) ? call('mul.Scalar', [this, other]) : call('mul.Tensor', [this, other]);
  }
  /** True division; roundingMode 'trunc' or 'floor' as in PyTorch. */
  div(other: Tensor | Scalar, roundingMode?: 'trunc' | 'floor'): Tensor {
    scalarOperand('div', 'other', other);
    if (roundingMode !== undefined) {
      return isScalar(other) ? call('div.Scalar_mode', [this, other, roundingMode]) : call('div.Tensor_mode', [this, other, roundingMode]);
    }
    return isScalar(other) ? call('div.Scalar', [this, other]) : call('div.Tensor', [this, other]);
  }
  neg(): Tensor {
    return call('neg', [this]);
  }
  pow(exponent: Tensor | Scalar): Tensor {
    return scalarOperand('pow', 'exponent', exponent) ? call('pow.Tensor_Scalar', [this, exponent]) : call('pow.Tensor_Tensor', [this, exponent]);
  }
  exp(): Tensor {
    return call('exp', [this]);
  }
  log(): Tensor {
    return call('log', [this]);
  }
  sqrt(): Tensor {
    return call('sqrt', [this]);
  }
  rsqrt(): Tensor {
    return call('rsqrt', [this]);
  }
  abs(): Tensor {
    return call('abs', [this]);
  }
  sign(): Tensor {
    return call('sign', [this]);
  }
  floor(): Tensor {
    return call('floor', [this]);
  }
  ceil(): Tensor {
    return call('ceil', [this]);
  }
  round(): Tensor {
    return call('round', [this]);
  }
  square(): Tensor {
    return call('square', [this]);
  }
  reciprocal(): Tensor {
    return call('reciprocal', [this]);
  }
  clamp(min?: Scalar | Tensor | null, max?: Scalar | Tensor | null): Tensor {
    if (min instanceof Tensor || max instanceof Tensor) return call('clamp.Tensor', [this, min ?? null, max ?? null]);
    if ((min === undefined || min === null) && (max === undefined || max === null)) {
      argError('clamp', 'at least one of min and max must be given');
    }
    return call('clamp', [this, min ?? null, max ?? null]);
  }
  sigmoid(): Tensor {
    return call('sigmoid', [this]);
  }
  tanh(): Tensor {
    return call('tanh', [this]);
  }
  relu(): Tensor {
    return call('relu', [this]);
  }
  leakyRelu(negativeSlope = 0.01): Tensor {
    return call('leaky_relu', [this, negativeSlope]);
  }
  softmax(dim: number, dtype?: DType): Tensor {
    checkInt('softmax', 'dim', dim);
    return call('softmax.int', [this, dim, dtype ?? null]);
  }
  logSoftmax(dim: number, dtype?: DType): Tensor {
    checkInt('logSoftmax', 'dim', dim);
    return call('log_softmax.int', [this, dim, dtype ?? null]);
  }
  maximum(other: Tensor): Tensor {
    return call('maximum', [this, other]);
  }
  minimum(other: Tensor): Tensor {
    return call('minimum', [this, other]);
  }
  matmul(other: Tensor): Tensor {
    return call('matmul', [this, checkTensor('matmul', 'other', other)]);
  }
  lerp(end: Tensor, weight: Tensor | Scalar): Tensor {
    return isScalar(weight) ? call('lerp.Scalar', [this, end, weight]) : call('lerp.Tensor', [this, end, weight]);
  }

  // ---- in-place (for optimisers and initialisers) ----
  add_(other: Tensor | Scalar, alpha: Scalar = 1): this {
    return isScalar(other) ? call('add_.Scalar', [this, other, alpha]) : call('add_.Tensor', [this, other, alpha]);
  }
  sub_(other: Tensor | Scalar, alpha: Scalar = 1): this {
    return isScalar(other) ? call('sub_.Scalar', [this, other, alpha]) : call('sub_.Tensor', [this, other, alpha]);
  }
  mul_(other: Tensor | Scalar): this {
    return isScalar(other) ? call('mul_.Scalar', [this, other]) : call('mul_.Tensor', [this, other]);
  }
  div_(other: Tensor | Scalar): this {
    return isScalar(other) ? call('div_.Scalar', [this, other]) : call('div_.Tensor', [this, other]);
  }
  addcmul_(tensor1: Tensor, tensor2: Tensor, value: Scalar = 1): this {
    return call('addcmul_', [this, tensor1, tensor2, value]);
  }
  addcdiv_(tensor1: Tensor, tensor2: Tensor, value: Scalar = 1): this {
    return call('addcdiv_', [this, tensor1, tensor2, value]);
  }
  lerp_(end: Tensor, weight: Tensor | Scalar): this {
    return isScalar(weight) ? call('lerp_.Scalar', [this, end, weight]) : call('lerp_.Tensor', [this, end, weight]);
  }
  sqrt_(): this {
    return call('sqrt_', [this]);
  }
  neg_(): this {
    return call('neg_', [this]);
  }
  relu_(): this {
    return call('relu_', [this]);
  }
  clamp_(min?: Scalar | null, max?: Scalar | null): this {
    return call('clamp_', [this, min ?? null, max ?? null]);
  }
  maximum_(other: Tensor): this {
    return call('maximum.out', [this, other], { out: this });
  }
  zero_(): this {
    return call('zero_', [this]);
  }
  fill_(value: Scalar): this {
    return call('fill_.Scalar', [this, value]);
  }
  copy_(src: Tensor): this {
    return call('copy_', [this, checkTensor('copy_', 'src', src)]);
  }
  uniform_(from = 0, to = 1): this {
    return call('uniform_', [this, from, to]);
  }
  normal_(mean = 0, std = 1): this {
    return call('normal_', [this, mean, std]);
  }
  maskedFill_(mask: Tensor, value: Scalar | Tensor): this {
    checkMask('maskedFill_', mask);
    return scalarOperand('maskedFill_', 'value', value) ? call('masked_fill_.Scalar', [this, mask, value]) : call('masked_fill_.Tensor', [this, mask, value]);
  }

  // ---- comparisons and logic ----
  eq(other: Tensor | Scalar): Tensor {
    return scalarOperand('eq', 'other', other) ? call('eq.Scalar', [this, other]) : call('eq.Tensor', [this, other]);
  }
  ne(other: Tensor | Scalar): Tensor {
    return scalarOperand('ne', 'other', other) ? call('ne.Scalar', [this, other]) : call('ne.Tensor', [this, other]);
  }
  lt(other: Tensor | Scalar): Tensor {
    return scalarOperand('lt', 'other', other) ? call('lt.Scalar', [this, other]) : call('lt.Tensor', [this, other]);
  }
  le(other: Tensor | Scalar): Tensor {
    return scalarOperand('le', 'other', other) ? call('le.Scalar', [this, other]) : call('le.Tensor', [this, other]);
  }
  gt(other: Tensor | Scalar): Tensor {
    return scalarOperand('gt', 'other', other) ? call('gt.Scalar', [this, other]) : call('gt.Tensor', [this, other]);
  }
  ge(other: Tensor | Scalar): Tensor {
    return scalarOperand('ge', 'other', other) ? call('ge.Scalar', [this, other]) : call('ge.Tensor', [this, other]);
  }
  logicalAnd(other: Tensor): Tensor {
    return call('logical_and', [this, other]);
  }
  logicalOr(other: Tensor): Tensor {
    return call('logical_or', [this, other]);
  }
  logicalXor(other: Tensor): Tensor {
    return call('logical_xor', [this, other]);
  }
  logicalNot(): Tensor {
    return call('logical_not', [this]);
  }
  isnan(): Tensor {
    return call('isnan', [this]);
  }
  isfinite(): Tensor {
    return call('isfinite', [this]);
  }
  /** Elements of this where condition holds, else other (PyTorch's Tensor.where). */
  where(condition: Tensor, other: Tensor | Scalar): Tensor {
    return where(condition, this, other);
  }
  maskedFill(mask: Tensor, value: Scalar | Tensor): Tensor {
    checkMask('maskedFill', mask);
    return scalarOperand('maskedFill', 'value', value) ? call('masked_fill.Scalar', [this, mask, value]) : call('masked_fill.Tensor', [this, mask, value]);
  }

  // ---- reductions ----
  sum(dim?: number | number[], keepdim = false, dtype?: DType): Tensor {
    if (dim === undefined) return call('sum', [this], { dtype });
    return call('sum.dim_IntList', [this, typeof dim === 'number' ? [dim] : dim, keepdim], { dtype });
  }
  mean(dim?: number | number[], keepdim = false, dtype?: DType): Tensor {
    if (dim === undefined) return call('mean', [this], { dtype });
    return call('mean.dim', [this, typeof dim === 'number' ? [dim] : dim, keepdim], { dtype });
  }
  /** Population or sample variance (correction 1 by default, as PyTorch). */
  var(dim?: number | number[], keepdim = false, unbiased = true): Tensor {
    return call('var.dim', [this, dim === undefined ? null : typeof dim === 'number' ? [dim] : dim, unbiased, keepdim]);
  }
  std(dim?: number | number[], keepdim = false, unbiased = true): Tensor {
    return call('std.dim', [this, dim === undefined ? null : typeof dim === 'number' ? [dim] : dim, unbiased, keepdim]);
  }
  /** Without dim: the maximum value. With dim: [values, indices]. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): [Tensor, Tensor];
  max(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    if (dim === undefined) return call('max', [this]);
    return call('max.dim', [this, checkInt('max', 'dim', dim), keepdim]);
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): [Tensor, Tensor];
  min(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    if (dim === undefined) return call('min', [this]);
    return call('min.dim', [this, checkInt('min', 'dim', dim), keepdim]);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return call('argmax', [this, dim ?? null, keepdim]);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return call('argmin', [this, dim ?? null, keepdim]);
  }
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    checkInt('topk', 'k', k);
    if (k < 0) argError('topk', `k must be non-negative, got ${k}`);
    checkInt('topk', 'dim', dim);
    const shape = this.shape;
    const size = shape.length === 0 ? 1 : shape[dim < 0 ? dim + shape.length : dim];
    // (A dim out of range is left to libtorch, which names the valid range.)
    if (size !== undefined && k > size) argError('topk', `k (${k}) must not exceed the size of dim ${dim} (${size}) of a tensor of shape [${shape}]`);
    return call('topk', [this, k, dim, largest, sorted]);
  }
  sort(dim = -1, descending = false, stable = false): [Tensor, Tensor] {
    return call('sort.stable', [this], { stable, dim, descending });
  }
  argsort(dim = -1, descending = false): Tensor {
    return call('argsort', [this, dim, descending]);
  }
  cumsum(dim: number, dtype?: DType): Tensor {
    return call('cumsum', [this, checkInt('cumsum', 'dim', dim)], { dtype });
  }
  all(): Tensor {
    return call('all', [this]);
  }
  any(): Tensor {
    return call('any', [this]);
  }

  // ---- shape and indexing ----
  reshape(...shape: (number | number[])[]): Tensor {
    return call('reshape', [this, dimsArg('reshape', shape)]);
  }
  view(...shape: (number | number[])[]): Tensor {
    return call('view', [this, dimsArg('view', shape)]);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return call('flatten.using_ints', [this, startDim, endDim]);
  }
  permute(...dims: (number | number[])[]): Tensor {
    return call('permute', [this, dimsArg('permute', dims)]);
  }
  transpose(dim0: number, dim1: number): Tensor {
    return call('transpose.int', [this, checkInt('transpose', 'dim0', dim0), checkInt('transpose', 'dim1', dim1)]);
  }
  get T(): Tensor {
    return call('numpy_T', [this]);
  }
  squeeze(dim?: number): Tensor {
    return dim === undefined ? call('squeeze', [this]) : call('squeeze.dim', [this, checkInt('squeeze', 'dim', dim)]);
  }
  unsqueeze(dim: number): Tensor {
    return call('unsqueeze', [this, checkInt('unsqueeze', 'dim', dim)]);
  }
  expand(...shape: (number | number[])[]): Tensor {
    return call('expand', [this, dimsArg('expand', shape)]);
  }
  expandAs(other: Tensor): Tensor {
    return this.expand(other.shape);
  }
  repeat(...repeats: (number | number[])[]): Tensor {
    return call('repeat', [this, dimsArg('repeat', repeats)]);
  }
  flip(...dims: (number | number[])[]): Tensor {
    return call('flip', [this, dimsArg('flip', dims)]);
  }
  /** Pieces of size `splitSize` (the last may be smaller), or of the given sizes, along dim. */
  split(splitSize: number | number[], dim = 0): Tensor[] {
    if (Array.isArray(splitSize)) return call('split_with_sizes', [this, checkIntList('split', 'sizes', splitSize), dim]);
    checkInt('split', 'splitSize', splitSize);
    if (splitSize <= 0) argError('split', `splitSize must be positive, got ${splitSize}`);
    return call('split.Tensor', [this, splitSize, dim]);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    checkInt('chunk', 'chunks', chunks);
    if (chunks <= 0) argError('chunk', `chunks must be positive, got ${chunks}`);
    return call('chunk', [this, chunks, dim]);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return call('narrow', [this, checkInt('narrow', 'dim', dim), checkInt('narrow', 'start', start), checkInt('narrow', 'length', length)]);
  }
  /** Python's t[start:end:step] along dim (end null = to the end). */
  slice(dim: number, start: number | null = 0, end: number | null = null, step = 1): Tensor {
    checkInt('slice', 'step', step);
    if (step <= 0) argError('slice', `step must be positive, got ${step}`);
    return call('slice.Tensor', [this, dim, start, end, step]);
  }
  /** Python's t[i] along dim 0 (or the given dim): removes that dimension. */
  select(dim: number, index: number): Tensor {
    return call('select.int', [this, checkInt('select', 'dim', dim), checkInt('select', 'index', index)]);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    try {
      return call('index_select', [this, checkInt('indexSelect', 'dim', dim), checkTensor('indexSelect', 'index', index)]);
    } catch (err) {
      // libtorch says only 'index out of range in self' (or 'INDICES element is out of DATA
      // bounds'): name the index and the valid range.
      if (err instanceof TorchError && /index out of range|out of DATA bounds/.test(err.message) && index.numel() > 0) {
        const size = this.size(dim) as number;
        const [lo, hi] = [index.min(), index.max()];
        const bad = (lo.item() as number) < 0 ? lo.item() : hi.item();
        lo.dispose();
        hi.dispose();
        throw new TorchError(`index ${bad} is out of range for dimension ${dim} with size ${size} (expected indices in [0, ${size - 1}])`, err.op);
      }
      throw err;
    }
  }
  /** Python's t[mask] for a boolean mask: a 1-d tensor of the selected values. */
  maskedSelect(mask: Tensor): Tensor {
    return call('masked_select', [this, checkTensor('maskedSelect', 'mask', mask)]);
  }
  gather(dim: number, index: Tensor): Tensor {
    return call('gather', [this, checkInt('gather', 'dim', dim), checkTensor('gather', 'index', index)]);
  }
  scatter(dim: number, index: Tensor, src: Tensor | Scalar, reduce?: 'add' | 'multiply'): Tensor {
    checkTensor('scatter', 'index', index);
    if (isScalar(src)) {
      return reduce === undefined ? call('scatter.value', [this, dim, index, src]) : call('scatter.value_reduce', [this, dim, index, src, reduce]);
    }
    return reduce === undefined ? call('scatter.src', [this, dim, index, src]) : call('scatter.reduce', [this, dim, index, src, reduce]);
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return call('scatter_add', [this, checkInt('scatterAdd', 'dim', dim), checkTensor('scatterAdd', 'index', index), checkTensor('scatterAdd', 'src', src)]);
  }
  scatter_(dim: number, index: Tensor, src: Tensor | Scalar): this {
    return isScalar(src) ? call('scatter_.value', [this, dim, index, src]) : call('scatter_.src', [this, dim, index, src]);
  }
  scatterAdd_(dim: number, index: Tensor, src: Tensor): this {
    return call('scatter_add_', [this, dim, index, src]);
  }
  /** Indexes dims with integer tensors (null keeps a dim whole), like Python's t[idx0, idx1]. */
  index(indices: (Tensor | null)[]): Tensor {
    return call('index.Tensor', [this, indices]);
  }
  indexPut_(indices: (Tensor | null)[], values: Tensor, accumulate = false): this {
    return call('index_put_', [this, indices, values, accumulate]);
  }
  nonzero(): Tensor {
    return call('nonzero', [this]);
  }
  unique(sorted = true, returnInverse = false, returnCounts = false): [Tensor, Tensor, Tensor] {
    return call('_unique2', [this, sorted, returnInverse, returnCounts]);
  }
}

/** Elements of x where condition holds, else y (scalars allowed on either side). */
export function where(condition: Tensor, x: Tensor | Scalar, y: Tensor | Scalar): Tensor {
  checkTensor('where', 'condition', condition);
  if (isScalar(x) && isScalar(y)) {
    // With no tensor to take a dtype from, numbers are floats (float32), as in full(): JS has
    // no int literals, and an integer-valued number alone would otherwise make int64.
    const float = (v: Scalar) => (typeof v === 'number' ? { float: v } : v);
    return call('where.Scalar', [condition, float(x), float(y)]);
  }
  if (isScalar(x)) return call('where.ScalarSelf', [condition, x, y]);
  if (isScalar(y)) return call('where.ScalarOther', [condition, x, y]);
  return call('where.self', [condition, x, y]);
}
