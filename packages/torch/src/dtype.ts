import { argError } from './errors.js';

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
export const DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'int32'
        ? Int32Array
        : D extends 'int16'
          ? Int16Array
          : D extends 'int8'
            ? Int8Array
            : D extends 'float16' | 'bfloat16'
              ? Uint16Array
              : Uint8Array;

export type AnyTypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint16Array | Uint8Array;

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

export function isFloating(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

/** A view of the given bytes as the typed array that holds `dtype` (float16 as raw uint16 bits). */
export function typedArrayView(buffer: ArrayBuffer, dtype: DType): AnyTypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer);
    case 'float64':
      return new Float64Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'int16':
      return new Int16Array(buffer);
    case 'int8':
      return new Int8Array(buffer);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buffer);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer);
  }
}

/** The dtype a typed array holds when no dtype is given. */
export function dtypeOfTypedArray(data: ArrayBufferView): DType | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return 'uint8';
  return undefined;
}

/** The integers each integer dtype holds, [lowest, highest + 1), as PyTorch checks them ("... without overflow"). */
const INT_RANGES = {
  int64: [-(2 ** 63), 2 ** 63],
  int32: [-(2 ** 31), 2 ** 31],
  int16: [-(2 ** 15), 2 ** 15],
  int8: [-(2 ** 7), 2 ** 7],
  uint8: [0, 2 ** 8],
} as const;

function badInt(op: string, dtype: keyof typeof INT_RANGES, v: number, raw: unknown, i: number): never {
  if (!Number.isInteger(v)) argError(op, `value ${raw} at index ${i} is not an integer (dtype ${dtype})`);
  const [lo, end] = INT_RANGES[dtype];
  const range = dtype === 'int64' ? '[-2^63, 2^63 - 1]' : `[${lo}, ${end - 1}]`;
  argError(op, `value ${raw} at index ${i} cannot be converted to dtype ${dtype} without overflow (range ${range})`);
}

/** Converts plain numbers to the typed array of `dtype`, checking what cannot be represented. */
export function typedArrayFrom(values: ArrayLike<number | boolean>, dtype: DType, op: string): AnyTypedArray {
  const n = values.length;
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values as ArrayLike<number>, Number);
    case 'float64':
      return Float64Array.from(values as ArrayLike<number>, Number);
    case 'int64': {
      const out = new BigInt64Array(n);
      const lo = INT_RANGES.int64[0];
      const end = INT_RANGES.int64[1];
      for (let i = 0; i < n; i++) {
        const v = Number(values[i]);
        if (!(v >= lo && v < end && Number.isInteger(v))) badInt(op, dtype, v, values[i], i);
        out[i] = BigInt(v);
      }
      return out;
    }
    case 'int32':
    case 'int16':
    case 'int8':
    case 'uint8': {
      const out = dtype === 'int32' ? new Int32Array(n) : dtype === 'int16' ? new Int16Array(n) : dtype === 'int8' ? new Int8Array(n) : new Uint8Array(n);
      const lo: number = INT_RANGES[dtype][0];
      const end: number = INT_RANGES[dtype][1];
      for (let i = 0; i < n; i++) {
        const v = Number(values[i]);
        if (!(v >= lo && v < end && Number.isInteger(v))) badInt(op, dtype, v, values[i], i);
        out[i] = v;
      }
      return out;
    }
    case 'bool': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = values[i] ? 1 : 0;
      return out;
    }
    case 'float16':
    case 'bfloat16':
      argError(op, `create ${dtype} tensors from float32 data and convert with .to('${dtype}')`);
  }
}
