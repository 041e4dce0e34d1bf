/** An error raised by libtorch or by argument checks in front of it, naming the op. */
export class TorchError extends Error {
  readonly op: string;

  constructor(message: string, op: string) {
    super(`${op}: ${message}`);
    this.name = 'TorchError';
    this.op = op;
  }
}

/** Throws a TypeError naming the op, for a bad argument caught before the native call. */
export function argError(op: string, message: string): never {
  const err = new TypeError(`${op}: ${message}`) as TypeError & { op: string };
  err.op = op;
  throw err;
}

/** A value as an error message should show it: strings quoted, with the type when it misleads. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `the string '${value}'`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'object') return (value as { isTensor?: unknown }).isTensor === true ? 'a Tensor' : 'an object';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n (a bigint)`;
  return String(value);
}
