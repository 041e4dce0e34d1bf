// The one error family of adaseg: every failure adaseg itself reports is an AdasegError (or a
// subclass keeping its name for readers), with a stable `code` and, when known, the file, config
// field or op it concerns. The edges map codes, never class names: the CLI to exit codes
// (exitCodeOf), the studio's server to HTTP statuses (httpStatusOf), `--json` to errorInfo.

export type ErrorCode =
  // the command line itself: unknown option, missing value (exit code 2)
  | 'usage'
  // a config, meta.json or option value that does not check out
  | 'config'
  | 'bad-config'
  // a file, folder, run, image, query or user that does not exist
  | 'not-found'
  // a file that cannot be read or decoded (corrupt, truncated, not an image or safetensors)
  | 'unreadable'
  // a checkpoint that does not fit the model or run
  | 'checkpoint'
  // a tensor op of the engine refused its inputs
  | 'engine'
  // data errors
  | 'empty-split'
  | 'missing-label'
  | 'size-mismatch'
  | 'undeclared-values'
  | 'worker'
  // state conflicts: a lease held by another, an answered query, an existing run of other settings
  | 'conflict'
  // a well-formed request with invalid content (an answer with unknown classes)
  | 'invalid'
  // the label store does not match (another pool, another schema)
  | 'mismatch'
  // a store, loader or server used after close
  | 'closed'
  // the studio: a missing or unknown token, a role without the right
  | 'unauthorized'
  | 'forbidden'
  | 'too-large'
  // annotator accounts
  | 'user'
  // selection could not spend the budget as asked
  | 'selection'
  // a mask import refused (every problem listed, nothing written)
  | 'invalid-masks'
  // a conversion (e.g. of weights) that did not complete
  | 'conversion-failed'
  // the studio's own answers: a malformed request, a missing service, an unbuilt route, a server fault
  | 'bad-request'
  | 'unavailable'
  | 'not-implemented'
  | 'internal'
  // training met a NaN or infinite loss
  | 'non-finite'
  // anything else adaseg reports itself
  | 'error';

export interface ErrorDetails {
  /** The file or folder at fault. */
  file?: string;
  /** The config field at fault, dotted (`train.optimizer.lr`). */
  field?: string;
  /** The operation that failed (`loadWeights`, `lease`). */
  op?: string;
  cause?: unknown;
}

export interface ErrorInfo {
  code: string;
  message: string;
  file?: string;
  field?: string;
  op?: string;
  [key: string]: unknown;
}

export class AdasegError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly field?: string;
  readonly op?: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'AdasegError';
    this.code = code;
    if (details.file !== undefined) this.file = details.file;
    if (details.field !== undefined) this.field = details.field;
    if (details.op !== undefined) this.op = details.op;
  }

  toInfo(): ErrorInfo {
    return {
      code: this.code,
      message: this.message,
      ...(this.file !== undefined ? { file: this.file } : {}),
      ...(this.field !== undefined ? { field: this.field } : {}),
      ...(this.op !== undefined ? { op: this.op } : {}),
    };
  }
}

/**
 * Codes of errors from outside the family, by class name (the engine's). By name, not instanceof:
 * importing the engine here would load libtorch when the CLI starts, before sharp, and that load
 * order alone changes float results (a camvid run's losses from the 4th digit).
 */
const FOREIGN_CODES: Record<string, ErrorCode> = { TorchError: 'engine', SafetensorsError: 'unreadable' };

/**
 * What `--json` prints and logs record for any thrown value: an AdasegError's toInfo; for
 * anything else its own string `code` (Node's ENOENT...), else by class name ('engine' for the
 * engine's TorchError, 'unreadable' for a SafetensorsError), else 'error'; with its file, key and
 * op when it has them.
 */
export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof AdasegError) return err.toInfo();
  const e = err as { name?: unknown; message?: unknown; code?: unknown; file?: unknown; key?: unknown; op?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = typeof e?.code === 'string' ? e.code : (typeof e?.name === 'string' && FOREIGN_CODES[e.name]) || 'error';
  return {
    code,
    message,
    ...(typeof e?.file === 'string' ? { file: e.file } : {}),
    ...(typeof e?.key === 'string' ? { key: e.key } : {}),
    ...(typeof e?.op === 'string' ? { op: e.op } : {}),
  };
}

/** The CLI's exit code for a failure: 2 for usage errors, 1 for everything else. */
export function exitCodeOf(err: unknown): 1 | 2 {
  return err instanceof AdasegError && err.code === 'usage' ? 2 : 1;
}

export type HttpStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 500 | 501 | 503;

const HTTP_STATUS: Partial<Record<ErrorCode, HttpStatus>> = {
  usage: 400,
  config: 400,
  'bad-config': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  invalid: 422,
  'invalid-masks': 422,
  'bad-request': 400,
  closed: 503,
  unavailable: 503,
  'not-implemented': 501,
  internal: 500,
};

/** The HTTP status of an error code at the studio's edge (500 for what a client cannot cause). */
export function httpStatusOf(code: string): HttpStatus {
  return HTTP_STATUS[code as ErrorCode] ?? 500;
}
