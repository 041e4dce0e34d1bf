// `adaseg adapt`: help, usage errors, config errors naming the field, and a tiny run (in-process).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { cli } from './helpers/cli.js';

torch.setNumThreads(1);

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'adaseg-adapt-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const synthetic = (style: string, count: number, seed: number) => ({ format: 'synthetic', style, count, width: 40, height: 32, seed });

test('adaseg adapt --help lists the flags of adaseg train; adaseg --help lists adapt', async () => {
  const r = await cli(['adapt', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--config FILE', '--output DIR', '--iterations N', '--seed N', '--no-resume', '--no-progress', '--json'])
    assert.ok(r.out.includes(flag), `help mentions ${flag}`);
  assert.match(r.out, /adaptsegnet/);
  const root = await cli(['--help']);
  assert.match(root.out, /\n  adapt +adapt a model/);
});

test('adaseg adapt: usage errors exit 2, config errors exit 1 naming the field', async () => {
  const missing = await cli(['adapt']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /--config FILE is required/);
  assert.equal((await cli(['adapt', '--config', 'x', '--bogus'])).code, 2);
  const notFound = await cli(['adapt', '--config', join(dir, 'nope.yaml')]);
  assert.equal(notFound.code, 1);
  assert.match(notFound.err, /file not found/);

  const bad = join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    `data:\n  source: { format: synthetic, style: source, count: 2, width: 40, height: 32 }\n  target: { format: synthetic, style: target, count: 2, width: 40, height: 32 }\nadapt:\n  method: adaptsegnet\n  lambdaAdv: -1\n`,
  );
  const r = await cli(['adapt', '--config', bad]);
  assert.equal(r.code, 1);
  assert.match(r.err, /config\.adapt\.lambdaAdv must be >= 0, got -1/);
  assert.ok(!r.err.includes('    at '), 'no stack trace without --verbose');
  writeFileSync(bad, JSON.stringify({ data: { source: synthetic('source', 2, 0) }, adapt: { method: 'advent-entropy' } }));
  assert.match((await cli(['adapt', '--config', bad])).err, /config\.data\.target is required/);
});

test('adaseg adapt --config runs, writes the run directory and reports JSON', async () => {
  const file = join(dir, 'adapt.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'cli',
      output: 'run',
      model: { kind: 'unet', baseWidth: 4, depth: 2 },
      data: {
        source: synthetic('source', 4, 0),
        target: synthetic('target', 4, 9),
        val: [{ name: 'target_val', dataset: synthetic('target', 2, 99) }],
        batchSize: 2,
        workers: 0,
      },
      train: { iterations: 50, optimizer: { kind: 'sgd', lr: 0.01 } },
      adapt: { method: 'advent-adversarial', discriminator: { ndf: 4 } },
    }),
  );
  const r = await cli(['adapt', '--config', file, '--iterations', '2', '--json']);
  assert.equal(r.code, 0, r.err);
  const report = JSON.parse(r.out) as { output: string; method: string; iteration: number; evaluations: Record<string, { mIoU: number }> };
  assert.equal(report.output, join(dir, 'run'), 'output relative to the config file');
  assert.equal(report.method, 'advent-adversarial');
  assert.equal(report.iteration, 2);
  assert.ok(Number.isFinite(report.evaluations.target_val.mIoU));
  for (const f of ['config.json', 'train.jsonl', 'metrics.json', 'checkpoints/checkpoints.json']) assert.ok(existsSync(join(dir, 'run', f)), f);
});
