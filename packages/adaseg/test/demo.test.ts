// `adaseg demo`: its config is configs/synthetic-demo.yaml's (so `adaseg run --config
// configs/synthetic-demo.yaml` reproduces it, and the two cannot drift apart); `--quick` runs the
// demo's whole path as a command (source, warm-up, 3 rounds of RIPU and random, baselines,
// results.json, report.html, the report's path last) and a second run resumes without training;
// `--open` opens the report with xdg-open when there is one and never fails when there is not.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fingerprint, loadExperimentConfig, parseExperimentConfig } from '../src/experiment/config.js';
import type { ExperimentResults } from '../src/report/results.js';
import { DEMO_OUTPUT, demoConfig, openInBrowser, QUICK_DEMO_OUTPUT, quickDemoConfig } from '../src/cli/demo.js';
import { run } from '../src/cli/run.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const yamlFile = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'configs', 'synthetic-demo.yaml');

function cli(args: string[], timeout = 120_000): { code: number | null; stdout: string; stderr: string; seconds: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'adaseg-demo-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the demo config', () => {
  test('configs/synthetic-demo.yaml is the demo: the same experiment, parsed by the same parser', () => {
    const fromYaml = loadExperimentConfig(yamlFile);
    const fromCode = parseExperimentConfig(demoConfig());
    // Only the output folder differs: runs/synthetic-demo beside the configs, ./adaseg-demo for the demo.
    assert.equal(fromYaml.output, join(dirname(yamlFile), '..', 'runs', 'synthetic-demo'));
    assert.equal(fromCode.output, join(process.cwd(), DEMO_OUTPUT));
    assert.deepEqual({ ...fromYaml, output: '' }, { ...fromCode, output: '' });
    assert.deepEqual(fingerprint(fromYaml), fingerprint(fromCode));
    // What the demo promises: AdaptSegNet warm-up, 3 rounds, RIPU beside random, on the synthetic pair.
    assert.equal(fromCode.warmup?.adapt.method, 'adaptsegnet');
    assert.equal(fromCode.active.budget.rounds, 3);
    assert.deepEqual(
      fromCode.active.strategies.map((s) => s.label),
      ['ripu-region (k=1)', 'random'],
    );
    for (const d of [fromCode.data.source, fromCode.data.pool, fromCode.data.val]) assert.equal(d.format, 'synthetic');
    assert.ok(fromCode.seeds.length >= 2, 'a mean over seeds');
  });

  test('--quick is the demo made tiny: the same pipeline, fewer images, pixels and iterations', () => {
    const demo = parseExperimentConfig(demoConfig());
    const quick = parseExperimentConfig(quickDemoConfig());
    assert.equal(quick.output, join(process.cwd(), QUICK_DEMO_OUTPUT));
    for (const key of ['active', 'annotator', 'baselines'] as const) assert.deepEqual(quick[key], demo[key], key);
    assert.deepEqual({ ...quick.rounds, train: null }, { ...demo.rounds, train: null });
    assert.equal(quick.warmup?.adapt.method, demo.warmup?.adapt.method);
    const pixels = (c: typeof demo) =>
      [c.data.source, c.data.pool, c.data.val].reduce((s, d) => s + d.count * (d as { width: number }).width * (d as { height: number }).height, 0);
    assert.ok(pixels(quick) * 10 < pixels(demo), 'at most a tenth of the pixels');
    const work = (c: typeof demo) =>
      c.seeds.length * ((c.source.kind === 'train' ? c.source.train.iterations : 0) + (c.warmup?.train.iterations ?? 0) + 3 * c.rounds.train.iterations);
    assert.ok(work(quick) * 20 < work(demo), 'at most a twentieth of the iterations');
  });
});

describe('adaseg demo as a command', () => {
  test('--quick --output DIR: the whole path, the report path last; a second run resumes without training', () => {
    const output = join(dir, 'quick');
    const first = cli(['demo', '--quick', '--output', output, '--threads', '1', '--no-progress']);
    assert.equal(first.code, 0, first.stderr);
    const lines = first.stdout.trim().split('\n');
    const report = lines.at(-1)!;
    assert.ok(isAbsolute(report), `last line is an absolute path: ${report}`);
    assert.equal(report, join(output, 'report.html'));
    assert.ok(existsSync(report), 'report.html');
    assert.match(readFileSync(report, 'utf8'), /<svg[^>]*id="budget-plot"/);
    // It says its figures mean nothing, on stderr at the start and beside the table.
    assert.match(first.stderr, /--quick: .*NOT meaningful/);
    assert.match(first.stdout, /--quick: .*NOT meaningful/);
    assert.match(
      first.stdout,
      /ripu-region \(k=1\) vs random, target val mIoU \(mean of 1 seed\(s\)\): round 1 [\d.]+ vs [\d.]+, round 2 [\d.]+ vs [\d.]+, round 3 [\d.]+ vs [\d.]+; final [+-][\d.]+ points/,
    );

    const results = JSON.parse(readFileSync(join(output, 'results.json'), 'utf8')) as ExperimentResults;
    assert.deepEqual(
      results.strategies.map((s) => s.strategy),
      ['ripu-region (k=1)', 'random'],
    );
    assert.equal(results.baselines.random, 'random');
    const budget = quickDemoConfig().active.budget.total;
    for (const s of results.strategies) {
      assert.deepEqual(s.seeds, [0]);
      assert.deepEqual(
        s.curve.map((p) => p.round),
        [0, 1, 2, 3],
        `${s.strategy}: the start model and 3 rounds`,
      );
      for (const [r, p] of s.curve.entries())
        assert.ok(p.percent.mean <= (budget * r) / 3 + 1e-9, `${s.strategy} round ${r}: within the cumulative budget (${p.percent.mean}%)`);
      assert.ok(s.curve[3].percent.mean > 0.8 * budget, `${s.strategy}: most of the ${budget}% spent (${s.curve[3].percent.mean}%)`);
      assert.ok(s.final.mIoU.mean >= 0 && s.final.mIoU.mean <= 1);
    }
    for (const b of ['sourceOnly', 'udaOnly', 'full'] as const) assert.equal(results.baselines[b]?.mIoU.n, 1, b);

    // Progress: the plan, then a line per finished step with the share of the work and what is left.
    assert.match(first.stderr, /plan: 1 seed\(s\) x \[source training \d+ it -> adaptsegnet warm-up \d+ it -> 3 rounds of ripu-region \(k=1\) and random/);
    const steps = first.stderr.split('\n').filter((l) => l.startsWith('[demo '));
    assert.equal(steps.length, 2 + 2 * 3 + 1, steps.join('\n'));
    steps.forEach((l, i) => assert.match(l, new RegExp(`step ${i + 1}/9, \\d+% of the work`), l));
    assert.match(steps[0], /about \d+m\d\ds left\] seed 0 \(1\/1\): source model trained/);
    assert.match(steps.at(-1)!, /step 9\/9, 100% of the work\] seed 0 \(1\/1\): fully supervised baseline done/);

    // The same command again: nothing trains again, the figures are the same, the path is last again.
    const again = cli(['demo', '--quick', '--output', output, '--threads', '1', '--no-progress']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim().split('\n').at(-1), report);
    assert.ok(!/source training \(|UDA warm-up \(|round \d: selected|fully supervised target baseline \(/.test(again.stderr), again.stderr);
    const resumed = JSON.parse(readFileSync(join(output, 'results.json'), 'utf8')) as ExperimentResults;
    assert.deepEqual(
      resumed.strategies.map((s) => s.curve.map((p) => p.mIoU.mean)),
      results.strategies.map((s) => s.curve.map((p) => p.mIoU.mean)),
    );
    assert.deepEqual(resumed.baselines, results.baselines);
    assert.ok(again.seconds < first.seconds, `the second run (${again.seconds.toFixed(1)} s) is quicker than the first (${first.seconds.toFixed(1)} s)`);
  });

  test('usage errors exit 2; --help names the options', async () => {
    let out = '',
      err = '';
    const io = { out: (t: string) => (out += `${t}\n`), err: (t: string) => (err += `${t}\n`) };
    assert.equal(await run(['demo', 'some-file.yaml'], io), 2);
    assert.match(err, /unexpected argument 'some-file.yaml' \(the demo needs no files\)/);
    assert.equal(await run(['demo', '--threads', '0'], io), 2);
    assert.equal(await run(['demo', '--output'], io), 2);
    assert.equal(await run(['demo', '--help'], io), 0);
    for (const option of ['--quick', '--output DIR', '--open', '--threads N', '--no-resume', '--no-progress'])
      assert.ok(out.includes(option), `help names ${option}`);
    assert.match(out, /report\.html/);
  });
});

describe('--open', () => {
  test('opens the report with xdg-open when it is on PATH, and only says so when it is not', async () => {
    const bin = join(dir, 'bin');
    const opened = join(dir, 'opened.txt');
    mkdirSync(bin);
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > ${JSON.stringify(opened)}\n`);
    chmodSync(join(bin, 'xdg-open'), 0o755);
    const path = process.env.PATH;
    const lines: string[] = [];
    try {
      process.env.PATH = bin;
      openInBrowser('/some/where/report.html', (l) => lines.push(l));
      for (let i = 0; i < 100 && !existsSync(opened); i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(readFileSync(opened, 'utf8'), '/some/where/report.html');
      assert.match(lines.join('\n'), /opening \/some\/where\/report\.html with .*xdg-open/);

      lines.length = 0;
      process.env.PATH = join(dir, 'nowhere');
      assert.doesNotThrow(() => openInBrowser('/some/where/report.html', (l) => lines.push(l)));
      assert.match(lines.join('\n'), /xdg-open is not available/);
    } finally {
      process.env.PATH = path;
    }
  });
});
