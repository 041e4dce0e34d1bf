// npm run bench:baseline — the source-only baseline on camvid-day2dusk, ours and the PyTorch
// reference (bench/source_only_reference.py), same protocol, several seeds. Trains on day scenes
// (source_train), evaluates on day (source_val) and dusk (target_val). Resumable: our runs resume
// from their checkpoints, reference seeds already done are skipped.
//
//   npm run bench:baseline -- [--seeds 0,1,2] [--iterations 1000] [--threads 1] [--only ours|pytorch]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '@adaseg/torch';
import { loadTrainConfig } from '../src/train/config.js';
import { trainSupervised } from '../src/train/supervised.js';
import { writeJsonAtomic } from '../src/util/atomic.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');
const configFile = join(repo, 'configs', 'camvid-source-only.yaml');
const out = join(repo, 'runs', 'camvid-source-only');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

interface Row {
  engine: 'ours' | 'pytorch';
  seed: number;
  seconds: number;
  day: { mIoU: number; iou: (number | null)[] };
  dusk: { mIoU: number; iou: (number | null)[] };
}

const seeds = arg('seeds', '0,1,2').split(',').map(Number);
const iterations = Number(arg('iterations', '1000'));
const threads = Number(arg('threads', '1'));
const only = arg('only', '');
const config0 = loadTrainConfig(configFile);
const dataRoot = (config0.data.train as { root: string }).root;
if (!existsSync(dataRoot)) {
  console.log(`bench:baseline: ${dataRoot} not found; nothing to do`);
  process.exit(0);
}
torch.setNumThreads(threads);
mkdirSync(out, { recursive: true });
const rows: Row[] = [];

for (const seed of seeds) {
  if (only !== 'pytorch') {
    const config = loadTrainConfig(configFile, (c) => {
      c.seed = seed;
      c.output = join(out, `ours-seed${seed}`);
      c.train = { ...(c.train as object), iterations };
    });
    const resultFile = join(config.output, 'metrics.json');
    if (!existsSync(resultFile)) {
      console.error(`ours, seed ${seed}: training ${iterations} iterations (resumes if interrupted)`);
      await trainSupervised(config, { progress: true });
    }
    const m = JSON.parse(readFileSync(resultFile, 'utf8')) as {
      seconds: number;
      evaluations: Record<string, { mIoU: number; iou: Record<string, number | null> }>;
    };
    rows.push({
      engine: 'ours',
      seed,
      seconds: m.seconds,
      day: { mIoU: m.evaluations.day.mIoU, iou: Object.values(m.evaluations.day.iou) },
      dusk: { mIoU: m.evaluations.dusk.mIoU, iou: Object.values(m.evaluations.dusk.iou) },
    });
  }
  if (only !== 'ours') {
    const resultFile = join(out, `pytorch-seed${seed}.json`);
    if (!existsSync(resultFile)) {
      console.error(`PyTorch reference, seed ${seed}: training ${iterations} iterations`);
      const r = spawnSync(
        '/usr/bin/python3',
        [
          join(here, 'source_only_reference.py'),
          '--data',
          dataRoot,
          '--seed',
          String(seed),
          '--iterations',
          String(iterations),
          '--threads',
          String(threads),
          '--out',
          resultFile,
        ],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
      if (r.status !== 0) throw new Error(`the PyTorch reference failed (exit ${r.status})`);
    }
    const m = JSON.parse(readFileSync(resultFile, 'utf8')) as { trainSeconds: number; day: Row['day']; dusk: Row['dusk'] };
    rows.push({ engine: 'pytorch', seed, seconds: m.trainSeconds, day: m.day, dusk: m.dusk });
  }
}

const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
};
const pct = (v: number) => (v * 100).toFixed(1);
const summary: Record<string, unknown> = { iterations, threads, seeds, rows };
console.log(
  `\nsource-only on camvid-day2dusk, U-Net width 16 depth 4, 240x180, batch 4, Adam 1e-3 poly, ${iterations} iterations, seeds ${seeds.join(',')}, ${threads} thread(s)`,
);
console.log('| engine | day mIoU (source_val) | dusk mIoU (target_val) | drop | train time per seed |');
console.log('| --- | --- | --- | --- | --- |');
for (const engine of ['ours', 'pytorch'] as const) {
  const r = rows.filter((x) => x.engine === engine);
  if (r.length === 0) continue;
  const day = stats(r.map((x) => x.day.mIoU));
  const dusk = stats(r.map((x) => x.dusk.mIoU));
  const time = stats(r.map((x) => x.seconds));
  summary[engine] = { day, dusk, seconds: time };
  console.log(
    `| ${engine} | ${pct(day.mean)} ± ${pct(day.sd)} | ${pct(dusk.mean)} ± ${pct(dusk.sd)} | ${pct(day.mean - dusk.mean)} | ${(time.mean / 60).toFixed(1)} min |`,
  );
}
const classNames = config0.data.train.format === 'folder' ? (JSON.parse(readFileSync(join(dataRoot, 'meta.json'), 'utf8')).classes as string[]) : [];
console.log('\nper-class IoU (mean over seeds), dusk:');
console.log(`| class | ${['ours', 'pytorch'].filter((e) => rows.some((r) => r.engine === e)).join(' | ')} |`);
console.log(
  `| --- | ${['ours', 'pytorch']
    .filter((e) => rows.some((r) => r.engine === e))
    .map(() => '---')
    .join(' | ')} |`,
);
classNames.forEach((name, c) => {
  const cells = (['ours', 'pytorch'] as const)
    .filter((e) => rows.some((r) => r.engine === e))
    .map((e) => {
      const vals = rows
        .filter((r) => r.engine === e)
        .map((r) => r.dusk.iou[c])
        .filter((v): v is number => v !== null);
      return vals.length ? pct(stats(vals).mean) : '-';
    });
  console.log(`| ${name} | ${cells.join(' | ')} |`);
});
writeJsonAtomic(join(out, 'summary.json'), summary);
