// npm run bench:active — issue 7's comparison against the plain PyTorch protocol the issue quotes:
// bench/active_reference.py (same U-Net, data, 120x90, 3x3 regions or --units pixel, 5 rounds of
// 1%, fine-tuning on source + labelled pixels only; random, entropy and RIPU; full supervision for
// as many iterations as the rounds) run per seed here, beside an adaseg experiment's results.json
// (`adaseg run --config configs/camvid-active-tuned.yaml` writes runs/camvid-active-tuned).
// Prints, per budget, each engine's mIoU (mean ± std over seeds), its share of its own full
// supervision, and the ratio ours / PyTorch; also the mIoU over the classes target_val's ground
// truth holds (a class absent from it scores 0 or nothing depending on one stray pixel); and
// adaseg's strategies that have no PyTorch counterpart against the plain protocol's random.
// Resumable: reference seeds keep every finished strategy.
//
//   npm run bench:active -- [--seeds 0,1,2] [--ours runs/camvid-active-tuned] [--threads 1]
//                           [--out runs/camvid-active-reference] [--round-lr 5e-4]
//                           [--units region|pixel] [--round-iterations 100] [--strategies random,entropy,ripu]
// With --units pixel the reference buys single pixels (random and entropy; RIPU needs regions):
// give it its own --out, and the adaseg run of the same units and round iterations as --ours
// (configs/camvid-active-pixels.yaml: --units pixel --round-iterations 200).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ExperimentResults, mIoUOver, stat } from '../src/report/results.js';
import { describeStrategy } from '../src/active/strategies/config.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');
const dataRoot = resolve(repo, '..', 'shared', 'datasets', 'camvid-day2dusk');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

interface Evaluation {
  mIoU: number;
  iou: (number | null)[];
}
interface ReferenceResult {
  seed: number;
  classesInTruth: boolean[];
  source: Evaluation;
  full: Evaluation;
  strategies: Record<string, Evaluation[]>;
}

const seeds = arg('seeds', '0,1,2').split(',').map(Number);
const oursDir = resolve(repo, arg('ours', 'runs/camvid-active-tuned'));
const out = resolve(repo, arg('out', 'runs/camvid-active-reference'));
const threads = arg('threads', '1');
const roundLr = arg('round-lr', '5e-4');
const units = arg('units', 'region');
if (units !== 'region' && units !== 'pixel') throw new Error(`--units: expected region or pixel, got ${units}`);
const roundIterations = arg('round-iterations', '100');
const strategies = arg('strategies', units === 'region' ? 'random,entropy,ripu' : 'random,entropy').split(',');
if (!existsSync(dataRoot)) {
  console.log(`bench:active: ${dataRoot} not found; nothing to do`);
  process.exit(0);
}

const reference: ReferenceResult[] = [];
for (const seed of seeds) {
  const file = join(out, `seed-${seed}.json`);
  const done =
    existsSync(file) &&
    (() => {
      const r = JSON.parse(readFileSync(file, 'utf8')) as Partial<ReferenceResult>;
      return r.classesInTruth !== undefined && strategies.every((s) => r.strategies?.[s] !== undefined);
    })();
  if (!done) {
    console.error(`PyTorch reference, seed ${seed} (resumes if interrupted)`);
    const r = spawnSync(
      '/usr/bin/python3',
      [
        join(here, 'active_reference.py'),
        '--data',
        dataRoot,
        '--seed',
        String(seed),
        '--out',
        out,
        '--threads',
        threads,
        '--round-lr',
        roundLr,
        '--units',
        units,
        '--round-iterations',
        roundIterations,
        '--strategies',
        strategies.join(','),
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (r.status !== 0) throw new Error(`the PyTorch reference failed on seed ${seed} (exit ${r.status})`);
  }
  reference.push(JSON.parse(readFileSync(file, 'utf8')) as ReferenceResult);
}
const inTruth = reference[0].classesInTruth;

const pct = (v: number) => (100 * v).toFixed(1);
const cell = (xs: number[]) => {
  const s = stat(xs);
  return s.n === 0 ? '-' : `${pct(s.mean)} ± ${pct(s.std)}`;
};

// Ours: per-seed, per-round evaluations from the experiment's results.json; full from each seed's evaluation.json.
const oursFile = join(oursDir, 'results.json');
const ours = existsSync(oursFile) ? (JSON.parse(readFileSync(oursFile, 'utf8')) as ExperimentResults) : null;
if (ours === null) console.error(`no ${oursFile}: run \`npx adaseg run --config configs/camvid-active-tuned.yaml\` for our side; printing the reference only`);
// The reference's strategies under the labels adaseg's results carry.
const strategyOf: Record<string, string> = { random: 'random', entropy: 'entropy', ripu: describeStrategy({ strategy: 'ripu', variant: 'region', k: 1 }) };
const oursRounds = (label: string, round: number): Evaluation[] =>
  ours === null
    ? []
    : ours.runs
        .filter((r) => r.strategy === label && seeds.includes(r.seed))
        .map((r) => r.rounds.find((x) => x.round === round))
        .filter((x): x is NonNullable<typeof x> => x !== undefined);
const referenceRounds = (name: string, round: number): Evaluation[] =>
  reference.map((r) => r.strategies[name]?.[round - 1]).filter((x): x is Evaluation => x !== undefined);
const oursFull: Evaluation[] = seeds
  .map((s) => join(oursDir, `seed-${s}`, 'full', 'evaluation.json'))
  .filter(existsSync)
  .map((f) => JSON.parse(readFileSync(f, 'utf8')) as Evaluation);
const refFull = reference.map((r) => r.full);
const oursSource: Evaluation[] = seeds
  .map((s) => join(oursDir, `seed-${s}`, 'source-evaluation.json'))
  .filter(existsSync)
  .map((f) => JSON.parse(readFileSync(f, 'utf8')) as Evaluation);

for (const [metric, value] of [
  ['mIoU', (e: Evaluation) => e.mIoU],
  ['mIoU over the classes in target_val', (e: Evaluation) => mIoUOver(e.iou, inTruth)],
] as const) {
  const fullOurs = stat(oursFull.map(value)).mean;
  const fullRef = stat(refFull.map(value)).mean;
  // Our mean as a share of our own full supervision, and ours / PyTorch ('-' without our runs).
  const oursShare = (o: number[]) => (o.length && oursFull.length ? `${((100 * stat(o).mean) / fullOurs).toFixed(0)}%` : '-');
  const ratio = (o: number[], p: number[]) => (o.length ? (stat(o).mean / stat(p).mean).toFixed(2) : '-');
  console.log(
    `\n${metric} on target_val, seeds ${seeds.join(',')}: adaseg (${ours?.name ?? 'missing'}) and the plain PyTorch protocol (bench/active_reference.py)`,
  );
  console.log('| strategy | % pixels | adaseg | of its full | PyTorch | of its full | adaseg / PyTorch |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const name of strategies) {
    for (let round = 1; round <= 5; round++) {
      const o = oursRounds(strategyOf[name], round).map(value);
      const p = referenceRounds(name, round).map(value);
      console.log(`| ${name} | ${round} | ${cell(o)} | ${oursShare(o)} | ${cell(p)} | ${((100 * stat(p).mean) / fullRef).toFixed(0)}% | ${ratio(o, p)} |`);
    }
  }
  console.log(
    `| full supervision | 100 | ${cell(oursFull.map(value))} | | ${cell(refFull.map(value))} | | ${oursFull.length ? (fullOurs / fullRef).toFixed(2) : '-'} |`,
  );
  console.log(`| source only | 0 | ${cell(oursSource.map(value))} | | ${cell(reference.map((r) => value(r.source)))} | | |`);
  // adaseg's other strategies (k-means, the mixes...) against the plain protocol's random, its best.
  const others = [...new Set(ours?.runs.map((r) => r.strategy) ?? [])].filter((label) => !strategies.some((name) => strategyOf[name] === label));
  if (others.length === 0) continue;
  console.log(`\n${metric}: adaseg's other strategies against the plain protocol's random`);
  console.log('| strategy | % pixels | adaseg | of its full | PyTorch random | adaseg / PyTorch random |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const label of others) {
    for (let round = 1; round <= 5; round++) {
      const o = oursRounds(label, round).map(value);
      const p = referenceRounds('random', round).map(value);
      console.log(`| ${label} | ${round} | ${cell(o)} | ${oursShare(o)} | ${cell(p)} | ${ratio(o, p)} |`);
    }
  }
}
