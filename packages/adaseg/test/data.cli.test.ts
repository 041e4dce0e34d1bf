// `adaseg data inspect`, run as a command on fixtures (and in-process for the cheap cases):
// output, --json, --help everywhere, exit codes 0/1/2, no stack traces without --verbose.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { run } from '../src/cli/run.js';
import type { InspectReport } from '../src/data/index.js';
import {
  CAMVID_DAY2DUSK,
  type Fixtures,
  makeFixtures,
  makeTinyFolder,
  makeUndescribedFolder,
  noiseImage,
  writeGray,
  writeRgb,
} from './helpers/data-fixtures.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function inProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '',
    err = '';
  const code = await run(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

let fx: Fixtures;
let dir: string;
before(async () => {
  fx = await makeFixtures();
  dir = await mkdtemp(join(tmpdir(), 'adaseg-cli-'));
});
after(async () => {
  await fx.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('adaseg data inspect', () => {
  test('as a command on a folder fixture: --json report, exit 0', () => {
    const r = cli(['data', 'inspect', fx.folder.root, '--split', 'source_train', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as InspectReport;
    assert.equal(report.dataset.format, 'folder');
    assert.equal(report.counts.samples, 2);
    assert.deepEqual(report.imageSizes, [{ width: 16, height: 12, count: 2 }]);
    assert.equal(report.classPixels.length, 11);
    assert.deepEqual(
      report.labelValues.map((v) => v.value),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255],
    );
    assert.equal(report.labelValues.find((v) => v.value === 11)?.mapsTo, 'ignore');
    assert.deepEqual(report.problems, []);
    const total = report.classPixels.reduce((a, c) => a + c.pixels, 0) + report.ignorePixels;
    assert.equal(total, 2 * 16 * 12);
  });

  test('as a command on bad data: problems listed with files, exit 1', async () => {
    const root = await makeTinyFolder(dir, 'bad', { labelValues: [0, 1, 77] });
    const r = cli(['data', 'inspect', root]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /problems {2}1:/);
    assert.match(r.stdout, /\[undeclared-values\] label .*labels\/a\.png holds values the dataset does not declare: 77/);
    assert.match(r.stdout, /77 → ignore .*UNDECLARED/);
  });

  test('every format by --format/--root or detection, and synthetic', async () => {
    for (const [args, samples] of [
      [['--format', 'cityscapes', '--root', fx.cityscapes.root, '--classes', '16'], 3],
      [[fx.camvid.root, '--split', 'val'], 1],
      [[fx.gta5.root, '--split', 'train'], 2],
      [[fx.synthia.root, '--classes', '13'], 2],
      [['synthetic', '--style', 'target', '--count', '3', '--size', '20x10'], 3],
    ] as const) {
      const r = await inProcess(['data', 'inspect', ...args, '--json']);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      assert.equal((JSON.parse(r.out) as InspectReport).counts.samples, samples);
    }
    const text = await inProcess(['data', 'inspect', fx.synthia.root]);
    assert.match(text.out, /dataset {3}synthia-16 \(synthia, split all\)/);
    assert.match(text.out, /problems {2}none/);
  });

  test('prints the detected format; images/ + labels/ is GTA5 only with palette labels, else an error asking for meta.json (issue 26)', async () => {
    // (a) GTA5's palette labels: detected as gta5, and said so (stdout in text, stderr beside --json).
    const gta = await inProcess(['data', 'inspect', fx.gta5.root, '--split', 'train']);
    assert.equal(gta.code, 0, gta.err);
    assert.match(gta.out, /^format: gta5 \(detected: images\/ \+ labels\/ with palette labels\)$/m);
    const json = await inProcess(['data', 'inspect', fx.gta5.root, '--split', 'train', '--json']);
    assert.equal((JSON.parse(json.out) as InspectReport).dataset.format, 'gta5');
    assert.match(json.err, /format: gta5 \(detected: /);
    assert.match((await inProcess(['data', 'inspect', fx.folder.root, '--split', 'source_train'])).out, /^format: folder \(detected: meta\.json\)$/m);
    assert.doesNotMatch((await inProcess(['data', 'inspect', '--format', 'gta5', '--root', fx.gta5.root])).out, /detected/);
    // (b) A CamVid-style folder: 11 classes as plain 8-bit values, no meta.json: refused, not 19 Cityscapes classes.
    const root = await makeUndescribedFolder(dir, 'camvid-style');
    const r = await inProcess(['data', 'inspect', root]);
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.out, /problems {2}none|gta5/);
    assert.match(
      r.err,
      /cannot tell the format of .*camvid-style: it has images\/ and labels\/ as GTA5 does, but labels\/0001TP_006690\.png is not a palette PNG/,
    );
    assert.match(r.err, /add .*camvid-style\/meta\.json with "classes"/);
    assert.match(r.err, /"Bring your own data" in the README/);
    assert.doesNotMatch(r.err, /\n\s+at /);
    // Given its meta.json, the same folder is a folder dataset with its 11 classes.
    const names = ['sky', 'building', 'pole', 'road', 'pavement', 'tree', 'sign', 'fence', 'car', 'pedestrian', 'bicyclist'];
    await writeFile(join(root, 'meta.json'), JSON.stringify({ classes: names }));
    const ok = await inProcess(['data', 'inspect', root, '--json']);
    assert.equal(ok.code, 0, ok.err);
    assert.equal((JSON.parse(ok.out) as InspectReport).classPixels.length, 11);
  });

  test('inspect reports every problem, not the first: two missing labels and a corrupt image (issue 26)', async () => {
    const root = await makeTinyFolder(dir, 'many-problems');
    for (const name of ['b', 'c', 'd']) await writeRgb(join(root, 'images', `${name}.png`), noiseImage(40));
    await writeGray(join(root, 'labels', 'd.png'), new Array(16 * 12).fill(0));
    // d.png: a truncated image (its label is fine); b.png and c.png: no label.
    const whole = await readFile(join(root, 'images', 'd.png'));
    await writeFile(join(root, 'images', 'd.png'), whole.subarray(0, Math.floor(whole.length / 2)));
    for (const json of [false, true]) {
      const r = await inProcess(['data', 'inspect', root, ...(json ? ['--json'] : [])]);
      assert.equal(r.code, 1, r.err);
      if (json) {
        const report = JSON.parse(r.out) as InspectReport;
        assert.deepEqual(
          report.problems.map((p) => [p.code, p.file]),
          [
            ['missing-label', join(root, 'images', 'b.png')],
            ['missing-label', join(root, 'images', 'c.png')],
            ['unreadable', join(root, 'images', 'd.png')],
          ],
        );
        assert.equal(report.counts.samples, 4);
      } else {
        assert.match(r.out, /problems {2}3:/);
        assert.match(r.out, /\[missing-label\] image .*b\.png has no label: expected .*labels\/b\.png/);
        assert.match(r.out, /\[missing-label\] image .*c\.png has no label: expected .*labels\/c\.png/);
        assert.match(r.out, /\[unreadable\] .*images\/d\.png/);
      }
    }
  });

  test('--help on every command; usage errors exit 2; failures exit 1 without a stack unless --verbose', async () => {
    for (const args of [['--help'], ['data', '--help'], ['data', 'inspect', '--help'], ['data', 'inspect', '-h']]) {
      const r = await inProcess(args);
      assert.equal(r.code, 0);
      assert.match(r.out, /Usage: adaseg/);
    }
    assert.equal((await inProcess([])).code, 2);
    assert.equal((await inProcess(['data'])).code, 2);
    const unknown = await inProcess(['trian']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown command 'trian'/);
    assert.equal((await inProcess(['data', 'inspect', fx.folder.root, '--bogus'])).code, 2);
    assert.equal((await inProcess(['data', 'inspect', '--format', 'pascal', '--root', dir])).code, 2);
    assert.equal((await inProcess(['data', 'inspect', 'synthetic', '--size', 'big'])).code, 2);
    const missing = await inProcess(['data', 'inspect', join(dir, 'nowhere')]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /does not exist/);
    assert.doesNotMatch(missing.err, /\n\s+at /);
    const verbose = await inProcess(['data', 'inspect', join(dir, 'nowhere'), '--verbose']);
    assert.match(verbose.err, /\n\s+at /);
    const json = await inProcess(['data', 'inspect', fx.folder.root, '--split', 'nope', '--json']);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.out).error.code, 'not-found');
    assert.equal((await inProcess(['--version'])).out.trim(), '0.1.0');
  });

  test('on camvid-day2dusk (skipped when absent)', { skip: !existsSync(CAMVID_DAY2DUSK) && 'no dataset' }, async () => {
    const r = await inProcess(['data', 'inspect', CAMVID_DAY2DUSK, '--split', 'target_val', '--json']);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as InspectReport;
    assert.equal(report.counts.samples, 16);
    assert.deepEqual(report.imageSizes, [{ width: 240, height: 180, count: 16 }]);
    assert.ok(report.labelValues.every((v) => v.declared && v.value <= 11));
  });

  test(
    'compiled: dist CLI and dist loader workers run without tsx (skipped when not built)',
    { skip: !existsSync(join(DIST, 'cli', 'main.js')) && 'dist not built (npm run build)' },
    () => {
      const r = spawnSync(process.execPath, [join(DIST, 'cli', 'main.js'), 'data', 'inspect', 'synthetic', '--count', '2', '--size', '16x8', '--json'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).counts.samples, 2);
      const script = `
      const { data, torch } = await import(${JSON.stringify(`file://${join(DIST, 'index.js')}`)});
      const loader = new data.DataLoader(data.syntheticDataset({ style: 'target', count: 4, width: 16, height: 8 }), { batchSize: 2, workers: 1, cache: true });
      let n = 0;
      for (let e = 0; e < 2; e++) for await (const b of loader.epoch()) { n += b.ids.length; b.dispose(); }
      await loader.close();
      console.log(n, torch.memory().tensors);`;
      const w = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(w.status, 0, w.stderr);
      assert.equal(w.stdout.trim(), '8 0');
    },
  );
});
