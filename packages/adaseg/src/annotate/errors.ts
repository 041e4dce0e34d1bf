// The one error type of the annotation server: an AdasegError whose code is meant for the client
// and gives the HTTP status (httpStatusOf). Everything else thrown in a handler becomes a 500 with
// a generic message (the details go to the server's log, never to the client).
import { LabelStoreError } from '../labels/store.js';
import { AdasegError, type HttpStatus, httpStatusOf } from '../errors.js';

export type HttpErrorCode =
  'bad-request' | 'unauthorized' | 'forbidden' | 'not-found' | 'conflict' | 'invalid' | 'too-large' | 'unavailable' | 'not-implemented' | 'internal';

export class HttpError extends AdasegError {
  declare readonly code: HttpErrorCode;

  constructor(code: HttpErrorCode, message: string) {
    super(code, message);
    this.name = 'HttpError';
  }

  /** The status of the code (400 bad-request, 401 unauthorized, ... 503 unavailable). */
  get status(): HttpStatus {
    return httpStatusOf(this.code);
  }

  toJSON(): { error: { code: HttpErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/**
 * The HTTP error a label store refusal stands for: its own code and message where the client
 * caused it (not-found, conflict, invalid); a closed store is 'unavailable' and a store that does
 * not match the server 'internal', with messages that leave out the server's files.
 */
export function fromStoreError(err: LabelStoreError): HttpError {
  if (err.code === 'closed') return new HttpError('unavailable', 'the label store is closed');
  if (httpStatusOf(err.code) >= 500) return new HttpError('internal', 'the label store does not match this server');
  return new HttpError(err.code as HttpErrorCode, err.message);
}
