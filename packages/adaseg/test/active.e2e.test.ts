// `adaseg run` end to end on the synthetic pair with a tiny U-Net: 2 rounds, random and entropy,
// 2 seeds, warm-up and every baseline; the report page parsed and checked against results.json;
// a run interrupted at several points (source training, between selection and annotation, mid
// round training, mid baseline) and resumed gives the same results; the human annotator's loop
// trains on answers given through the label store; config errors name their field.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, type DefaultTreeAdapterMap } from 'parse5';
import * as torch from '@adaseg/torch';
import { parseExperimentConfig } from '../src/experiment/config.js';
import { SELECTION_ERRORS_INFO_KEY } from '../src/active/selection-errors.js';
import { clearExperimentOutput, runExperiment, type LoopEvent } from '../src/experiment/loop.js';
import type { ExperimentResults } from '../src/report/results.js';
import { LabelStore } from '../src/labels/store.js';
import { readPngHeader } from '../src/data/png.js';
import { loadDataset } from '../src/data/formats/index.js';
import { inspectDataset } from '../src/data/inspect.js';
import { parseTrainConfig } from '../src/train/config.js';
import { cli } from './helpers/cli.js';

torch.setNumThreads(1);

type Node = DefaultTreeAdapterMap['node'];
type Element = DefaultTreeAdapterMap['element'];

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'adaseg-active-e2e-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const synthetic = (style: string, count: number, seed: number) => ({ format: 'synthetic', style, count, width: 32, height: 24, seed });

function experiment(output: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'synthetic e2e',
    output,
    seeds: [0, 1],
    model: { kind: 'unet', baseWidth: 4, depth: 2 },
    data: { source: synthetic('source', 6, 0), pool: synthetic('target', 5, 100), val: synthetic('target', 3, 500), batchSize: 2, workers: 0 },
    source: { train: { iterations: 6, optimizer: { kind: 'adam', lr: 0.01 }, logEvery: 2, checkpointEvery: 2 } },
    warmup: { train: { iterations: 2, optimizer: { kind: 'adam', lr: 0.001 }, checkpointEvery: 1 }, adapt: { method: 'advent-entropy', lambdaEnt: 0.01 } },
    active: { units: { kind: 'region', k: 1 }, budget: { kind: 'pixelPercent', total: 8, rounds: 2 }, strategies: ['random', 'entropy'] },
    rounds: {
      train: { iterations: 4, optimizer: { kind: 'adam', lr: 0.002 }, logEvery: 2, checkpointEvery: 2 },
      negativeLearning: { weight: 0.5 },
      labelPropagation: { superpixelSize: 12 },
    },
    report: { examples: 2 },
    ...extra,
  };
}

// ---------------------------------------------------------------- the HTML page

function children(n: Node): Node[] {
  return 'childNodes' in n ? (n.childNodes as Node[]) : [];
}
function* walk(n: Node): Generator<Element> {
  if ('tagName' in n) yield n as Element;
  for (const c of children(n)) yield* walk(c);
  if ('content' in n && n.content) yield* walk(n.content as unknown as Node);
}
const attr = (e: Element, name: string) => e.attrs.find((a) => a.name === name)?.value;
const text = (n: Node): string => ('value' in n && typeof n.value === 'string' && n.nodeName === '#text' ? n.value : children(n).map(text).join(''));

let results: ExperimentResults;
let output: string;

test('adaseg run: 2 rounds x (random, entropy) x 2 seeds with warm-up and baselines writes the store, results.json and report.html', async () => {
  const file = join(dir, 'experiment.json');
  writeFileSync(file, JSON.stringify(experiment('out')));
  const r = await cli(['run', '--config', file, '--json', '--no-progress']);
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out) as {
    output: string;
    stopped: boolean;
    files: { results: string; report: string; store: string };
    strategies: { strategy: string }[];
  };
  output = summary.output;
  assert.equal(output, join(dir, 'out'), 'output relative to the config file');
  assert.equal(summary.stopped, false);
  assert.deepEqual(
    summary.strategies.map((s) => s.strategy),
    ['random', 'entropy'],
  );
  for (const f of [
    'config.json',
    'labels.sqlite',
    'events.jsonl',
    'results.json',
    'report.html',
    'seed-0/source/checkpoints/checkpoints.json',
    'seed-1/warmup/config.json',
    'seed-0/entropy/round-2/evaluation.json',
    'seed-1/full/evaluation.json',
  ]) {
    assert.ok(existsSync(join(output, f)), f);
  }
  results = JSON.parse(readFileSync(summary.files.results, 'utf8')) as ExperimentResults;
  assert.equal(results.format, 'adaseg-active-results/1');
  assert.equal(results.pipelineIterations, 2 + 2 * 4);
  // What each training records is what it ran: a round its own iterations, the full baseline the whole pipeline's.
  const recorded = (f: string) => (JSON.parse(readFileSync(join(output, f), 'utf8')) as { train: { iterations: number } }).train.iterations;
  assert.equal(recorded('seed-0/entropy/round-2/config.json'), 4);
  assert.equal(recorded('seed-1/full/config.json'), results.pipelineIterations);
  assert.equal(results.strategies.length, 2);
  for (const s of results.strategies) {
    assert.deepEqual(s.seeds, [0, 1]);
    assert.equal(s.curve.length, 3, 'start + 2 rounds');
    assert.equal(s.curve[0].percent.mean, 0);
    assert.ok(s.curve[1].percent.mean > 3 && s.curve[1].percent.mean <= 4, `round 1 spends half the budget: ${s.curve[1].percent.mean}`);
    assert.ok(s.curve[2].percent.mean > 7 && s.curve[2].percent.mean <= 8, `never over the 8% budget: ${s.curve[2].percent.mean}`);
    assert.ok(s.final.mIoU.n === 2 && s.final.mIoU.mean > 0 && s.final.mIoU.mean <= 1);
    assert.equal(s.final.iou.length, 6);
    assert.ok(Number.isFinite(s.aubc.mean));
  }
  assert.equal(results.baselines.random, 'random');
  assert.equal(results.strategies[0].vsRandom, null);
  assert.ok(results.strategies[1].vsRandom !== null);
  for (const b of ['sourceOnly', 'udaOnly', 'full'] as const) assert.equal(results.baselines[b]?.mIoU.n, 2, b);
  // The classes the validation labels have (for the mIoU over them), as inspectDataset counts them.
  const val = await inspectDataset(await loadDataset(parseTrainConfig({ data: { train: synthetic('target', 3, 500) } }).data.train));
  assert.deepEqual(
    results.classesInVal,
    results.classNames.map((_, c) => (val.classPixels.find((x) => x.trainId === c)?.pixels ?? 0) > 0),
  );
  for (const s of results.strategies) assert.equal(s.final.mIoUInVal?.n, 2);
  // The start of every curve is the warm-up model (UDA-only).
  assert.equal(results.strategies[0].curve[0].mIoU.mean, results.baselines.udaOnly!.mIoU.mean);
  // The store holds every run's labels and provenance; exactly the selected units were revealed.
  const store = LabelStore.open(join(output, 'labels.sqlite'), { readonly: true });
  assert.deepEqual(
    store
      .runs()
      .map((x) => x.name)
      .sort(),
    ['entropy/seed-0', 'entropy/seed-1', 'random/seed-0', 'random/seed-1'],
  );
  const units = store.labelledUnits('entropy/seed-1');
  assert.ok(units.length > 0 && units.every((u) => u.annotator === 'simulated' && u.strategy === 'entropy' && (u.round === 1 || u.round === 2)));
  assert.ok(
    units.filter((u) => u.round === 2).every((u) => u.checkpoint!.includes(join('seed-1', 'entropy', 'round-1'))),
    "round 2 was scored by round 1's model",
  );
  const covered = store.run('entropy/seed-1').coveredPixels;
  assert.equal(
    covered,
    units.reduce((s, u) => s + u.pixels, 0),
  );
  // Rounds trained on their labels spread over superpixels (rounds.labelPropagation), the store unchanged.
  const runLog = readFileSync(join(output, 'run.log'), 'utf8');
  const spread = [...runLog.matchAll(/entropy\/seed-1 round (\d): label propagation over superpixels of ~12 px: (\d+) labelled pixels train as (\d+)/g)];
  assert.equal(spread.length, 2, runLog);
  for (const m of spread) assert.ok(Number(m[3]) > Number(m[2]), m[0]);
  // Each evaluated round records how many of its labelled pixels the choosing model had wrong.
  for (const round of store.rounds('entropy/seed-1')) {
    const errors = round.info[SELECTION_ERRORS_INFO_KEY] as { labelled: number; wrong: number };
    const labelledThisRound = [...store.selection('entropy/seed-1', round.round)].reduce((s, u) => s + u.pixels, 0);
    assert.ok(
      Number.isInteger(errors.labelled) && errors.labelled > 0 && errors.labelled <= labelledThisRound,
      `round ${round.round}: ${JSON.stringify(errors)}`,
    );
    assert.ok(Number.isInteger(errors.wrong) && errors.wrong >= 0 && errors.wrong <= errors.labelled);
  }
  store.close();
  // The human-readable summary.
  const plain = await cli(['run', '--config', file, '--no-progress']);
  assert.equal(plain.code, 0);
  assert.match(plain.out, /entropy +\d+\.\d+ +\d+\.\d+ ±/);
  assert.match(plain.out, /full +- +\d+\.\d+/);
});

test('report.html is self-contained and its plot and tables match results.json', () => {
  const html = readFileSync(join(output, 'report.html'), 'utf8');
  const doc = parse(html);
  const elements = [...walk(doc as unknown as Node)];
  // Self-contained: no external script, stylesheet or image.
  for (const e of elements) {
    for (const name of ['src', 'href']) {
      const v = attr(e, name);
      if (v !== undefined) assert.ok(v.startsWith('data:') || v.startsWith('#'), `<${e.tagName} ${name}="${v.slice(0, 40)}"> is not inline`);
    }
  }
  assert.ok(
    elements.some((e) => e.tagName === 'style'),
    'inline CSS',
  );

  const svg = elements.find((e) => e.tagName === 'svg' && attr(e, 'id') === 'budget-plot')!;
  assert.ok(svg, 'the budget plot');
  const inSvg = [...walk(svg as unknown as Node)];
  const g = {
    x0: Number(attr(svg, 'data-x0')),
    x1: Number(attr(svg, 'data-x1')),
    y0: Number(attr(svg, 'data-y0')),
    y1: Number(attr(svg, 'data-y1')),
    left: Number(attr(svg, 'data-left')),
    right: Number(attr(svg, 'data-right')),
    top: Number(attr(svg, 'data-top')),
    bottom: Number(attr(svg, 'data-bottom')),
  };
  const [, , width, height] = attr(svg, 'viewBox')!.split(' ').map(Number);
  const px = (x: number) => g.left + ((x - g.x0) / (g.x1 - g.x0)) * (width - g.left - g.right);
  const py = (y: number) => height - g.bottom - ((y - g.y0) / (g.y1 - g.y0)) * (height - g.top - g.bottom);
  for (const s of results.strategies) {
    const path = inSvg.find((e) => e.tagName === 'path' && attr(e, 'data-strategy') === s.strategy)!;
    assert.ok(path, `curve of ${s.strategy}`);
    const coords = [...attr(path, 'd')!.matchAll(/[ML]([\d.]+) ([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    assert.equal(coords.length, s.curve.length);
    const points = inSvg.filter((e) => e.tagName === 'circle' && attr(e, 'data-strategy') === s.strategy);
    assert.equal(points.length, s.curve.length);
    s.curve.forEach((p, i) => {
      assert.equal(Number(attr(points[i], 'data-x')), p.percent.mean);
      assert.equal(Number(attr(points[i], 'data-y')), p.mIoU.mean);
      assert.ok(
        Math.abs(Number(attr(points[i], 'cx')) - px(p.percent.mean)) < 0.01 && Math.abs(Number(attr(points[i], 'cy')) - py(p.mIoU.mean)) < 0.01,
        'point drawn where its value is',
      );
      assert.ok(Math.abs(coords[i][0] - px(p.percent.mean)) < 0.01 && Math.abs(coords[i][1] - py(p.mIoU.mean)) < 0.01, 'line through the points');
    });
    const band = inSvg.find((e) => e.tagName === 'polygon' && attr(e, 'data-strategy') === s.strategy);
    assert.ok(band, `band over seeds for ${s.strategy}`);
    assert.equal(attr(band!, 'points')!.trim().split(/\s+/).length, 2 * s.curve.length);
  }
  const baselines = inSvg.filter((e) => e.tagName === 'line' && attr(e, 'data-baseline') !== undefined);
  assert.deepEqual(Object.fromEntries(baselines.map((e) => [attr(e, 'data-baseline'), Number(attr(e, 'data-y'))])), {
    'full supervision': results.baselines.full!.mIoU.mean,
    'UDA only': results.baselines.udaOnly!.mIoU.mean,
    'source only': results.baselines.sourceOnly!.mIoU.mean,
  });

  // Tables: every strategy's final mIoU, labelled %, AUBC; per-class IoU.
  const row = (table: string, name: string) => {
    const t = elements.find((e) => e.tagName === 'table' && attr(e, 'id') === table)!;
    return [...walk(t as unknown as Node)].find((e) => e.tagName === 'tr' && attr(e, 'data-row') === name)!;
  };
  const values = (tr: Element) =>
    [...walk(tr as unknown as Node)]
      .filter((e) => e.tagName === 'td')
      .map((td) => (attr(td, 'data-value') === undefined ? null : Number(attr(td, 'data-value'))));
  for (const s of results.strategies) {
    const v = values(row('summary', s.strategy));
    assert.equal(v[0], s.final.percent.mean);
    assert.equal(v[1], s.final.mIoU.mean);
    assert.equal(v[2], s.ofFull);
    assert.equal(v[3], s.aubc.mean);
    const shown = text([...walk(row('summary', s.strategy) as unknown as Node)].filter((e) => e.tagName === 'td')[1] as unknown as Node);
    assert.equal(shown, `${(s.final.mIoU.mean * 100).toFixed(2)} ± ${(s.final.mIoU.std * 100).toFixed(2)}`);
    const classes = values(row('class-iou', s.strategy));
    assert.deepEqual(classes.slice(0, 6), s.final.iou);
    assert.equal(classes[6], s.final.mIoU.mean);
  }
  assert.equal(values(row('summary', 'full supervision'))[1], results.baselines.full!.mIoU.mean);

  // Example images with the selected regions drawn over them: real PNGs of the working size.
  const figures = elements.filter((e) => e.tagName === 'figure');
  assert.equal(figures.length, 4, '2 examples x 2 strategies');
  for (const f of figures) {
    const imgs = [...walk(f as unknown as Node)].filter((e) => e.tagName === 'img');
    assert.equal(imgs.length, 2);
    for (const img of imgs) {
      const src = attr(img, 'src')!;
      assert.ok(src.startsWith('data:image/png;base64,'));
      const header = readPngHeader(Buffer.from(src.slice('data:image/png;base64,'.length), 'base64'));
      assert.deepEqual([header.width, header.height], [32, 24]);
    }
  }
});

test('an experiment interrupted at several points and resumed gives the same results', async () => {
  const config = parseExperimentConfig(experiment(join(dir, 'resumed')), dir);
  // Stop: mid source training of seed 1, mid round training, right after a selection (before its
  // annotation), and mid full-supervision baseline.
  const stops: ((e: { event?: LoopEvent; where?: string; iteration?: number }) => boolean)[] = [
    ({ where, iteration }) => where === 'seed-1/source' && iteration === 3,
    ({ where, iteration }) => where === 'seed-1/random/round-2' && iteration === 1,
    ({ event }) => event?.kind === 'selected' && event.run === 'entropy/seed-1' && event.round === 2,
    ({ where, iteration }) => where === 'seed-1/full' && iteration === 5,
  ];
  let runs = 0;
  let result;
  for (;;) {
    const controller = new AbortController();
    const stop = stops[runs];
    runs++;
    torch.manualSeed(1234 + runs); // nothing may depend on the process's RNG
    result = await runExperiment(config, {
      signal: controller.signal,
      onEvent: (event) => stop?.({ event }) && controller.abort(),
      onIteration: (where, iteration) => stop?.({ where, iteration }) && controller.abort(),
    });
    if (!result.stopped) break;
    assert.ok(runs <= stops.length, 'stops only where asked');
  }
  assert.equal(runs, stops.length + 1, 'stopped at each point once');
  const resumed = JSON.parse(readFileSync(join(dir, 'resumed', 'results.json'), 'utf8')) as ExperimentResults;
  assert.deepEqual(resumed, { ...results, name: resumed.name });
  const a = LabelStore.open(join(output, 'labels.sqlite'), { readonly: true });
  const b = LabelStore.open(join(dir, 'resumed', 'labels.sqlite'), { readonly: true });
  for (const r of a.runs()) for (const im of a.images(r.name)) assert.deepEqual(b.mask(r.name, im.id).data, a.mask(r.name, im.id).data);
  a.close();
  b.close();
  const events = readFileSync(join(dir, 'resumed', 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as LoopEvent);
  assert.equal(events.filter((e) => e.kind === 'selected').length, 8, 'each round selected once, however often the run stopped');
});

test('human annotator: the loop waits for the queries to be answered through the label store, then trains on the answers', async () => {
  const out = join(dir, 'human');
  const config = parseExperimentConfig(
    experiment(out, {
      seeds: [3],
      warmup: undefined,
      baselines: [],
      active: { units: { kind: 'region', k: 2 }, budget: { kind: 'pixelPercent', total: 10, rounds: 2 }, strategies: ['entropy'] },
      annotator: { kind: 'human', pollSeconds: 0.02, minFraction: 1, unitsPerQuery: 4 },
      report: { examples: 1 },
    }),
    dir,
  );
  // A scripted studio: answers each leased query with the majority class of each region.
  let studio: LabelStore | undefined;
  let answered = 0;
  const timer = setInterval(() => {
    if (studio === undefined) {
      if (!existsSync(join(out, 'labels.sqlite'))) return;
      studio = LabelStore.open(join(out, 'labels.sqlite'));
    }
    for (;;) {
      const q = studio.lease('studio', { seconds: 10 });
      if (q === null) break;
      studio.answer(q.id, 'studio', { classes: q.units.map((u) => u.unit % 6) }, 1.5);
      answered++;
    }
  }, 10);
  try {
    const result = await runExperiment(config);
    assert.equal(result.stopped, false);
  } finally {
    clearInterval(timer);
    studio?.close();
  }
  assert.ok(answered > 0);
  const store = LabelStore.open(join(out, 'labels.sqlite'), { readonly: true });
  const units = store.labelledUnits('entropy/seed-3');
  assert.ok(units.length > 0 && units.every((u) => u.annotator === 'studio' && u.queryId !== null && u.seconds > 0));
  assert.deepEqual(
    store.rounds('entropy/seed-3').map((r) => r.phase),
    ['evaluated', 'evaluated'],
  );
  const q = store.queries({ run: 'entropy/seed-3', units: false });
  assert.ok(q.every((x) => x.status === 'answered' && x.kind === 'region-class'));
  // Region-class answers: every pixel of a region gets its class.
  const first = store.labelledUnits('entropy/seed-3')[0];
  const mask = store.mask('entropy/seed-3', first.imageId).data;
  assert.ok(Array.from(mask).filter((v) => v === first.unit % 6).length >= first.pixels);
  store.close();
});

test('adaseg run: help, usage errors (exit 2), config errors naming the field (exit 1), refusing to resume another experiment', async () => {
  const help = await cli(['run', '--help']);
  assert.equal(help.code, 0);
  for (const flag of ['--config FILE', '--output DIR', '--seeds LIST', '--no-resume', '--no-progress', '--json']) assert.ok(help.out.includes(flag), flag);
  assert.match((await cli(['--help'])).out, /\n  run +run an active learning experiment/);
  assert.equal((await cli(['run'])).code, 2);
  assert.equal((await cli(['run', '--config', 'x.yaml', '--seeds', 'a,b'])).code, 2);
  const missing = await cli(['run', '--config', join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /file not found/);

  const bad = (patch: (c: Record<string, any>) => void) => {
    const c = experiment('x') as Record<string, any>;
    patch(c);
    return () => parseExperimentConfig(c, dir);
  };
  assert.throws(
    bad((c) => (c.rounds.train.iterations = 0)),
    /config\.rounds\.train\.iterations must be an integer >= 1, got 0/,
  );
  assert.throws(
    bad((c) => (c.active.budget.total = 120)),
    /config\.active\.budget\.total must be <= 100, got 120/,
  );
  assert.throws(
    bad((c) => (c.active.strategies = ['entropy', 'nope'])),
    /config\.active\.strategies\[1\]\.strategy must be one of random, .*got "nope"/,
  );
  assert.throws(
    bad((c) => (c.active.strategies = ['bald'])),
    /config\.active\.strategies\[0\] \(bald \(T=10\)\) needs MC-dropout samples: give the model dropout/,
  );
  assert.throws(
    bad((c) => (c.active.strategies = ['aada'])),
    /needs a domain discriminator: use an adversarial warm-up/,
  );
  assert.throws(
    bad((c) => (c.active.strategies = [{ strategy: 'ripu', k: 2 }])),
    /ripu's k \(2\) must equal the units' k \(1\)/,
  );
  assert.throws(
    bad((c) => (c.active.units = { kind: 'hexagon' })),
    /config\.active\.units\.kind must be one of image, region, superpixel, pixel/,
  );
  assert.throws(
    bad((c) => delete c.rounds),
    /config\.rounds is required/,
  );
  assert.throws(
    bad((c) => (c.annotator = { kind: 'human', minFraction: 0 })),
    /config\.annotator\.minFraction must be > 0, got 0/,
  );
  assert.throws(
    bad((c) => (c.baselines = ['uda-only', 'oracle'])),
    /config\.baselines\[1\] must be one of source-only, uda-only, full, random/,
  );
  assert.throws(
    bad((c) => ((c.warmup = undefined), (c.baselines = ['uda-only']))),
    /'uda-only' is the warm-up's model/,
  );
  assert.throws(
    bad((c) => (c.source = { init: 'a', train: {} })),
    /config\.source: give either init/,
  );
  assert.throws(
    bad((c) => (c.data.pool = { format: 'synthetic', style: 'target' })),
    /config\.data\.pool: .*'count' must be a positive integer/,
  );
  assert.throws(
    bad((c) => (c.seeds = [1, 1])),
    /config\.seeds lists a seed twice/,
  );
  assert.throws(
    bad((c) => (c.rounds.adapt = { method: 'adaptsegnet', lambdaAdv: -1 })),
    /config\.rounds\.adapt\.lambdaAdv must be >= 0, got -1/,
  );
  assert.throws(
    bad((c) => (c.surprise = 1)),
    /config has an unknown key 'surprise'/,
  );
  // Fields other commands take but an experiment would silently ignore.
  assert.throws(
    bad((c) => (c.rounds.train.evalEvery = 10)),
    /config\.rounds\.train\.evalEvery does not apply to an experiment/,
  );
  assert.throws(
    bad((c) => (c.rounds.adapt = { method: 'advent-entropy', labelledTargetWeight: 2 })),
    /config\.rounds\.adapt\.labelledTargetWeight does not apply here: set rounds\.labelledTargetWeight/,
  );

  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'active:\n  units: { kind: region, k: 1 }\n');
  const r = await cli(['run', '--config', file]);
  assert.equal(r.code, 1);
  assert.match(r.err, /config\.data must be an object/);
  assert.ok(!r.err.includes('    at '), 'no stack trace');

  // The finished experiment's folder with other round settings: refused, naming what changed.
  const changed = join(dir, 'changed.json');
  writeFileSync(changed, JSON.stringify(experiment(output, { rounds: { train: { iterations: 5 } } })));
  const refused = await cli(['run', '--config', changed]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /holds an experiment with other rounds settings/);

  // --no-resume deletes what a run left (and nothing else).
  const folder = join(dir, 'to-clear');
  mkdirSync(join(folder, 'seed-0', 'source'), { recursive: true });
  for (const f of ['labels.sqlite', 'config.json', 'results.json', 'report.html', 'run.log', 'notes.txt']) writeFileSync(join(folder, f), 'x');
  clearExperimentOutput(folder);
  assert.deepEqual(readdirSync(folder), ['notes.txt']);
});
