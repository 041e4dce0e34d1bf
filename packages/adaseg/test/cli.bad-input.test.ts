// Issue 26's smaller bad inputs, each a clear message naming the thing (never a raw EEXIST or
// ENOENT, never "got null" for a NaN).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers/cli.js';

const DATA = 'data: { train: { format: synthetic, style: source, count: 2, width: 32, height: 24 }, workers: 0 }\n';

test('bad inputs to adaseg train: NaN named as NaN, an output that is a file, a missing weights file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-bad-input-'));
  try {
    writeFileSync(join(dir, 'nan.yaml'), `${DATA}train: { iterations: 1, optimizer: { kind: sgd, lr: .nan } }\n`);
    const nan = await cli(['train', '--config', join(dir, 'nan.yaml'), '--no-progress']);
    assert.equal(nan.code, 1);
    assert.match(nan.err, /config\.train\.optimizer\.lr must be a number, got NaN/);

    mkdirSync(join(dir, 'taken'));
    writeFileSync(join(dir, 'taken', 'file'), 'not a folder');
    writeFileSync(join(dir, 'out.yaml'), `output: ${join(dir, 'taken', 'file')}\n${DATA}train: { iterations: 1 }\n`);
    const out = await cli(['train', '--config', join(dir, 'out.yaml'), '--no-progress']);
    assert.equal(out.code, 1);
    assert.match(out.err, /output .*taken\/file is a file, not a folder/);
    assert.doesNotMatch(out.err, /EEXIST/);

    writeFileSync(join(dir, 'w.yaml'), `output: ${join(dir, 'run')}\nweights: ${join(dir, 'absent.safetensors')}\n${DATA}train: { iterations: 1 }\n`);
    const weights = await cli(['train', '--config', join(dir, 'w.yaml'), '--no-progress']);
    assert.equal(weights.code, 1);
    assert.match(weights.err, /weights .*absent\.safetensors do not exist/);
    assert.doesNotMatch(weights.err, /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
