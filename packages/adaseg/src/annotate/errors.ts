// The one error type of the annotation server: an HTTP status, a stable code and a message meant
// for the client. Everything else thrown in a handler becomes a 500 with a generic message (the
// details go to the server's log, never to the client).
import { LabelStoreError } from '../labels/store.js';

export type HttpErrorCode =
  | 'bad-request'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'invalid'
  | 'too-large'
  | 'unavailable'
  | 'not-implemented'
  | 'internal';

export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 422 | 500 | 501 | 503,
    readonly code: HttpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  toJSON(): { error: { code: HttpErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The HTTP error a label store refusal stands for. */
export function fromStoreError(err: LabelStoreError): HttpError {
  switch (err.code) {
    case 'not-found':
      return new HttpError(404, 'not-found', err.message);
    case 'conflict':
      return new HttpError(409, 'conflict', err.message);
    case 'invalid':
      return new HttpError(422, 'invalid', err.message);
    case 'closed':
      return new HttpError(503, 'unavailable', 'the label store is closed');
    default:
      return new HttpError(500, 'internal', 'the label store does not match this server');
  }
}
