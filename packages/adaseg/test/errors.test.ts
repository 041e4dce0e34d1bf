// The one error family: every error class of adaseg is an AdasegError with a stable code (its name
// kept), errorInfo gives the codes `--json` prints, and the studio's statuses come from the codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TorchError } from '@adaseg/torch';
import { AdasegError, errorInfo, exitCodeOf, httpStatusOf } from '../src/errors.js';
import { DataError } from '../src/data/errors.js';
import { PngError } from '../src/data/png.js';
import { ConfigError } from '../src/util/config-reader.js';
import { ModelConfigError } from '../src/models/config.js';
import { CheckpointError } from '../src/train/checkpoint.js';
import { LabelStoreError } from '../src/labels/store.js';
import { MaskImportError } from '../src/labels/mask-files.js';
import { UserError } from '../src/annotate/users.js';
import { fromStoreError, HttpError } from '../src/annotate/errors.js';
import { CliError } from '../src/cli/command.js';
import { UsageError } from '../src/cli/args.js';

test('every error class is an AdasegError with its name and a stable code; errorInfo gives what --json prints', () => {
  const cases: [AdasegError, string, string, Record<string, unknown>][] = [
    [new DataError('missing-label', 'no label', { file: '/a.png' }), 'DataError', 'missing-label', { file: '/a.png' }],
    [new PngError('bad'), 'PngError', 'unreadable', {}],
    [new ConfigError('config.x must be a number'), 'ConfigError', 'config', {}],
    [new ModelConfigError('bad depth', 'depth'), 'ModelConfigError', 'config', { key: 'depth' }],
    [new CheckpointError('/c.safetensors', 'size mismatch'), 'CheckpointError', 'checkpoint', { file: '/c.safetensors' }],
    [new LabelStoreError('conflict', 'leased'), 'LabelStoreError', 'conflict', {}],
    [
      new MaskImportError('/m', [{ code: 'no-masks', file: '.', message: 'none' }]),
      'MaskImportError',
      'invalid-masks',
      { problems: [{ code: 'no-masks', file: '.', message: 'none' }] },
    ],
    [new UserError('exists'), 'UserError', 'user', {}],
    [new HttpError('forbidden', 'no'), 'HttpError', 'forbidden', {}],
    [new CliError('not-found', 'missing', '/x'), 'CliError', 'not-found', { file: '/x' }],
    [new UsageError('unknown option'), 'UsageError', 'usage', {}],
  ];
  for (const [err, name, code, extra] of cases) {
    assert.ok(err instanceof AdasegError && err instanceof Error, name);
    assert.equal(err.name, name);
    assert.equal(err.code, code, name);
    const info = errorInfo(err);
    assert.equal(info.code, code, name);
    assert.equal(info.message, err.message, name);
    for (const [k, v] of Object.entries(extra)) assert.deepEqual(info[k], v, `${name}.${k}`);
    assert.equal(exitCodeOf(err), name === 'UsageError' ? 2 : 1, name);
  }
  assert.deepEqual(errorInfo(new TorchError('bad shape', 'matmul')), { code: 'engine', message: 'matmul: bad shape', op: 'matmul' });
  assert.deepEqual(errorInfo(Object.assign(new Error('gone'), { code: 'ENOENT' })), { code: 'ENOENT', message: 'gone' });
  assert.deepEqual(errorInfo('plain'), { code: 'error', message: 'plain' });
});

test("the studio's statuses come from the codes; store refusals keep their statuses and bodies", () => {
  assert.equal(new HttpError('bad-request', 'x').status, 400);
  assert.equal(new HttpError('unavailable', 'x').status, 503);
  assert.equal(httpStatusOf('no-such-code'), 500);
  const statuses = (code: LabelStoreError['code']) => {
    const e = fromStoreError(new LabelStoreError(code, `store says ${code}`));
    return [e.status, e.toJSON().error.code, e.toJSON().error.message];
  };
  assert.deepEqual(statuses('not-found'), [404, 'not-found', 'store says not-found']);
  assert.deepEqual(statuses('conflict'), [409, 'conflict', 'store says conflict']);
  assert.deepEqual(statuses('invalid'), [422, 'invalid', 'store says invalid']);
  assert.deepEqual(statuses('closed'), [503, 'unavailable', 'the label store is closed']);
  assert.deepEqual(statuses('mismatch'), [500, 'internal', 'the label store does not match this server']);
});
