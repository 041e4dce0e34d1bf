// Errors of the data area: each names the file at fault (when there is one) and carries a code, so
// callers and the CLI can tell a missing label from a corrupt PNG without parsing messages.
import { AdasegError, type ErrorInfo } from '../errors.js';

export type DataErrorCode =
  | 'bad-config' // a config or meta.json that does not check out
  | 'not-found' // a root, folder or list file that does not exist
  | 'empty-split' // a split with no samples
  | 'missing-label' // an image without its label file
  | 'size-mismatch' // image and label of different sizes, or a batch of mixed sizes
  | 'unreadable' // a file that cannot be read or decoded (corrupt, truncated, not an image)
  | 'undeclared-values' // label values the dataset never declared
  | 'closed' // the loader was closed while work was pending
  | 'worker'; // a worker thread died

export interface DataErrorInfo extends ErrorInfo {
  code: DataErrorCode;
  message: string;
  file?: string;
  values?: number[];
}

export class DataError extends AdasegError {
  declare readonly code: DataErrorCode;
  /** The offending raw values (undeclared-values). */
  readonly values?: number[];

  constructor(code: DataErrorCode, message: string, details: { file?: string; values?: number[]; cause?: unknown } = {}) {
    super(code, message, { file: details.file, cause: details.cause });
    this.name = 'DataError';
    if (details.values !== undefined) this.values = details.values;
  }

  override toInfo(): DataErrorInfo {
    return { code: this.code, message: this.message, file: this.file, values: this.values };
  }

  static fromInfo(info: DataErrorInfo): DataError {
    return new DataError(info.code, info.message, { file: info.file, values: info.values });
  }
}

/** Formats a list of numbers for messages, shortened past `max`. */
export function listValues(values: readonly number[], max = 12): string {
  const shown = values.slice(0, max).join(', ');
  return values.length > max ? `${shown}, ... (${values.length} values)` : shown;
}
