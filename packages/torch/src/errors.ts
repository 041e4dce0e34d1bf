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
