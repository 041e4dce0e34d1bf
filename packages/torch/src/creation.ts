// Tensor creation, with PyTorch's defaults: float32 for factories, the default CPU generator for
// random numbers (so a manualSeed gives the same numbers as torch.manual_seed).
import { call } from './dispatch.js';
import { argError, describe } from './errors.js';
import { type AnyTypedArray, type DType, dtypeOfTypedArray, isDType, typedArrayFrom } from './dtype.js';
import { native } from './native.js';
import { checkInt, checkShape, checkTensor, type Device, type NestedArray, type Scalar, Tensor } from './tensor.js';

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

function finish(t: Tensor, options: TensorOptions): Tensor {
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

function checkOptions(op: string, options: TensorOptions): void {
  if (options.dtype !== undefined && !isDType(options.dtype)) argError(op, `unknown dtype '${String(options.dtype)}'`);
}

function flatten(data: NestedArray<number | boolean>, shape: number[], out: (number | boolean)[], depth: number, op: string): void {
  if (!Array.isArray(data)) {
    if (typeof data !== 'number' && typeof data !== 'boolean') argError(op, `values must be numbers or booleans, got ${typeof data}`);
    if (depth !== shape.length) argError(op, `nested arrays are ragged: a value at depth ${depth}, expected depth ${shape.length}`);
    out.push(data);
    return;
  }
  if (depth === shape.length) argError(op, `nested arrays are ragged: an array at depth ${depth}`);
  if (data.length !== shape[depth]) argError(op, `nested arrays are ragged: length ${data.length} at depth ${depth}, expected ${shape[depth]}`);
  for (const item of data) flatten(item, shape, out, depth + 1, op);
}

function inferShape(data: NestedArray<number | boolean>): number[] {
  const shape: number[] = [];
  let cur: unknown = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

export interface FromDataOptions extends TensorOptions {
  /** Shape for flat data (typed arrays and flat arrays); nested arrays carry their own. */
  shape?: number[];
}

/**
 * A tensor copied from JS data: nested arrays, a flat array or a typed array (with `shape`).
 * dtype defaults to the typed array's type, bool for booleans, and float32 for numbers (JS has
 * no integer literals, so int64 must be asked for).
 */
export function tensor(data: NestedArray<number | boolean> | ArrayBufferView, options: FromDataOptions = {}): Tensor {
  const op = 'tensor';
  checkOptions(op, options);
  if (ArrayBuffer.isView(data)) {
    const inferred = dtypeOfTypedArray(data);
    const shape = checkShape(op, options.shape ?? [(data as unknown as ArrayLike<number>).length]);
    const dtype = options.dtype ?? inferred;
    if (dtype === undefined) argError(op, `cannot tell the dtype of a ${data.constructor.name}; pass options.dtype`);
    const numel = shape.reduce((a, b) => a * b, 1);
    const length = (data as unknown as ArrayLike<number>).length;
    if (numel !== length) argError(op, `shape [${shape}] needs ${numel} values, data has ${length}`);
    let bytes: ArrayBufferView;
    if (dtype !== inferred) bytes = typedArrayFrom(Array.from(data as unknown as ArrayLike<number>, Number), dtype, op);
    // libtorch copies from an ArrayBuffer only: a view of a SharedArrayBuffer is copied out first.
    else if (typeof SharedArrayBuffer !== 'undefined' && data.buffer instanceof SharedArrayBuffer) bytes = (data as AnyTypedArray).slice();
    else bytes = data;
    return finish(new Tensor(native.fromBuffer(bytes, shape, dtype, options.device)), options);
  }
  if (!Array.isArray(data) && typeof data !== 'number' && typeof data !== 'boolean') {
    argError(op, `data must be a number, a boolean, nested arrays or a typed array, got ${data === null ? 'null' : typeof data}`);
  }
  const nestedShape = inferShape(data);
  const flat: (number | boolean)[] = [];
  flatten(data, nestedShape, flat, 0, op);
  const shape = options.shape !== undefined ? checkShape(op, options.shape) : nestedShape;
  if (shape.reduce((a, b) => a * b, 1) !== flat.length)
    argError(op, `shape [${shape}] needs ${shape.reduce((a, b) => a * b, 1)} values, data has ${flat.length}`);
  const dtype = options.dtype ?? (flat.length > 0 && typeof flat[0] === 'boolean' ? 'bool' : 'float32');
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const f = tensor(data, { ...options, dtype: 'float32' });
    const converted = f.to(dtype);
    f.dispose();
    return converted;
  }
  return finish(new Tensor(native.fromBuffer(typedArrayFrom(flat, dtype, op), shape, dtype, options.device)), options);
}

/** A 0-d tensor holding one value. */
export function scalarTensor(value: Scalar, options: TensorOptions = {}): Tensor {
  return tensor(value, options);
}

function factory(op: string, name: string, args: unknown[], options: TensorOptions): Tensor {
  checkOptions(op, options);
  return finish(call(name, args, { dtype: options.dtype ?? null, device: options.device ?? null }), options);
}

export function zeros(shape: number[], options: TensorOptions = {}): Tensor {
  return factory('zeros', 'zeros', [checkShape('zeros', shape)], options);
}
export function ones(shape: number[], options: TensorOptions = {}): Tensor {
  return factory('ones', 'ones', [checkShape('ones', shape)], options);
}
export function empty(shape: number[], options: TensorOptions = {}): Tensor {
  return factory('empty', 'empty.memory_format', [checkShape('empty', shape)], options);
}
export function full(shape: number[], value: Scalar, options: TensorOptions = {}): Tensor {
  // PyTorch infers bool/int64/float32 from the fill value; JS numbers are all floats: float32.
  const dtype = options.dtype ?? (typeof value === 'boolean' ? 'bool' : 'float32');
  return factory('full', 'full', [checkShape('full', shape), value], { ...options, dtype });
}
export function eye(n: number, options: TensorOptions = {}): Tensor {
  return factory('eye', 'eye', [checkInt('eye', 'n', n)], options);
}

/** Values from start to end (exclusive) by step; `arange(5)` counts 0..4. Float32 unless dtype says. */
export function arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  for (const [name, v] of [
    ['start', start],
    ['end', end],
    ['step', step],
  ] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) argError('arange', `${name} must be a finite number, got ${v}`);
  }
  if (step === 0) argError('arange', 'step must be non-zero');
  if ((end - start) / step < 0) argError('arange', `an empty or backwards range: start ${start}, end ${end}, step ${step}`);
  return factory('arange', 'arange.start_step', [start, end, step], { ...options, dtype: options.dtype ?? 'float32' });
}

export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  checkInt('linspace', 'steps', steps);
  if (steps < 0) argError('linspace', `steps must be non-negative, got ${steps}`);
  return factory('linspace', 'linspace', [start, end, steps], options);
}

/** Uniform in [0, 1). */
export function rand(shape: number[], options: TensorOptions = {}): Tensor {
  return factory('rand', 'rand', [checkShape('rand', shape)], options);
}
/** Standard normal. */
export function randn(shape: number[], options: TensorOptions = {}): Tensor {
  return factory('randn', 'randn', [checkShape('randn', shape)], options);
}
/** Integers in [low, high), int64 by default as in PyTorch. */
export function randint(low: number, high: number, shape: number[], options: TensorOptions = {}): Tensor {
  checkInt('randint', 'low', low);
  checkInt('randint', 'high', high);
  if (high <= low) argError('randint', `high (${high}) must be greater than low (${low})`);
  return factory('randint', 'randint.low', [low, high, checkShape('randint', shape)], { ...options, dtype: options.dtype ?? 'int64' });
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, options: TensorOptions = {}): Tensor {
  checkInt('randperm', 'n', n);
  return factory('randperm', 'randperm', [n], { ...options, dtype: options.dtype ?? 'int64' });
}

function likeOptions(op: string, t: Tensor, options: TensorOptions): TensorOptions {
  checkTensor(op, 'input', t);
  return { dtype: options.dtype ?? t.dtype, device: options.device ?? (t.device as Device), requiresGrad: options.requiresGrad };
}

export function zerosLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return zeros(t.shape, likeOptions('zerosLike', t, options));
}
export function onesLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return ones(t.shape, likeOptions('onesLike', t, options));
}
export function emptyLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return empty(t.shape, likeOptions('emptyLike', t, options));
}
export function fullLike(t: Tensor, value: Scalar, options: TensorOptions = {}): Tensor {
  return full(t.shape, value, likeOptions('fullLike', t, options));
}
export function randLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return rand(t.shape, likeOptions('randLike', t, options));
}
export function randnLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return randn(t.shape, likeOptions('randnLike', t, options));
}
export function randintLike(t: Tensor, low: number, high: number, options: TensorOptions = {}): Tensor {
  return randint(low, high, t.shape, likeOptions('randintLike', t, options));
}

/** Seeds the default generators, as torch.manual_seed does: same seed, same numbers as PyTorch. */
export function manualSeed(seed: number): void {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0) argError('manualSeed', `seed must be a non-negative integer, got ${describe(seed)}`);
  native.manualSeed(seed);
}

/** The default CPU generator's state (torch.get_rng_state): a uint8 tensor to save with a checkpoint. */
export function getRngState(): Tensor {
  return new Tensor(native.getRngState());
}

/** Restores a state from getRngState, so random numbers continue exactly where they were. */
export function setRngState(state: Tensor): void {
  checkTensor('setRngState', 'state', state);
  native.setRngState(state.native);
}
