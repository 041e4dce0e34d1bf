// npm run bench:uda — issue 6's comparison: every unsupervised adaptation method against source-only
// on camvid-day2dusk (dusk target_val), several seeds, from the same source checkpoints.
//
// The source models are those of configs/camvid-active.yaml (runs/camvid-active/seed-N/source, with
// their target_val evaluation in seed-N/source-evaluation.json), so the adaptation runs here and the
// active loop's UDA warm-up start from the same model; run `adaseg run --config
// configs/camvid-active.yaml` first (its source stage is enough). Each method runs with the settings
// of configs/camvid-uda.yaml; only `adapt.method` (and its λ) changes. AdaptSegNet with exactly these
// settings is the active run's warm-up (seed-N/warmup, the report's UDA-only line), so its row is read
// from there rather than trained twice; `--methods adaptsegnet` trains it here too. Resumable:
// finished runs are read back, interrupted ones resume from their checkpoints.
//
//   npm run bench:uda -- [--seeds 0,1,2] [--methods adaptsegnet,advent-entropy,...] [--iterations N] [--threads N] [--json]
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '@adaseg/torch';
import { adaptModel } from '../src/adapt/adapt.js';
import { ADAPT_METHODS, type AdaptMethodKind, loadAdaptConfig } from '../src/adapt/config.js';
import { writeJsonAtomic } from '../src/util/atomic.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');
const configFile = join(repo, 'configs', 'camvid-uda.yaml');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** Each method's own settings beyond the shared config (the literature's defaults). */
const METHOD_SETTINGS: Record<AdaptMethodKind, Record<string, unknown>> = {
  adaptsegnet: { method: 'adaptsegnet', lambdaAdv: 0.001, discriminator: { ndf: 32 } },
  'advent-adversarial': { method: 'advent-adversarial', lambdaAdv: 0.001, discriminator: { ndf: 32 } },
  'advent-entropy': { method: 'advent-entropy', lambdaEnt: 0.001 },
  'self-training': { method: 'self-training', portion: 0.5, maxThreshold: 0.9, lambdaPseudo: 1 },
};

const seeds = arg('seeds', '0,1,2').split(',').map(Number);
const methodsArg = arg('methods', '');
const methods = (methodsArg === '' ? ADAPT_METHODS.filter((m) => m !== 'adaptsegnet') : methodsArg.split(',')) as AdaptMethodKind[];
// The warm-up's row stands for AdaptSegNet unless it is trained here.
const warmupRow = !methods.includes('adaptsegnet');
for (const m of methods) if (!ADAPT_METHODS.includes(m)) throw new Error(`bench:uda: unknown method '${m}'; expected one of ${ADAPT_METHODS.join(', ')}`);
const iterationsArg = arg('iterations', '');
const threads = Number(arg('threads', String(torch.getNumThreads())));
const json = process.argv.includes('--json');
const sourceRoot = join(repo, 'runs', 'camvid-active');
const out = join(repo, 'runs', 'camvid-uda');
torch.setNumThreads(threads);
mkdirSync(out, { recursive: true });

interface Score {
  mIoU: number;
  iou: (number | null)[];
}
interface Row {
  method: AdaptMethodKind | 'source-only';
  seed: number;
  seconds: number;
  score: Score;
}
const rows: Row[] = [];
let classNames: string[] = [];

for (const seed of seeds) {
  const sourceDir = join(sourceRoot, `seed-${seed}`);
  const sourceEvalFile = join(sourceDir, 'source-evaluation.json');
  if (!existsSync(sourceEvalFile)) {
    console.error(
      `bench:uda: ${sourceEvalFile} not found: run \`adaseg run --config configs/camvid-active.yaml\` until seed ${seed}'s source model is trained and evaluated`,
    );
    process.exit(1);
  }
  const sourceEval = JSON.parse(readFileSync(sourceEvalFile, 'utf8')) as { mIoU: number; iou: (number | null)[]; classNames: string[] };
  classNames = sourceEval.classNames;
  rows.push({ method: 'source-only', seed, seconds: 0, score: { mIoU: sourceEval.mIoU, iou: sourceEval.iou } });
  if (warmupRow) {
    const warmEvalFile = join(sourceDir, 'warmup-evaluation.json');
    if (!existsSync(warmEvalFile)) {
      console.error(`bench:uda: ${warmEvalFile} not found: the active run has not finished seed ${seed}'s warm-up (or pass --methods including adaptsegnet)`);
      process.exit(1);
    }
    const warm = JSON.parse(readFileSync(warmEvalFile, 'utf8')) as { mIoU: number; iou: (number | null)[] };
    const warmMetrics = JSON.parse(readFileSync(join(sourceDir, 'warmup', 'metrics.json'), 'utf8')) as { seconds: number };
    rows.push({ method: 'adaptsegnet', seed, seconds: warmMetrics.seconds, score: { mIoU: warm.mIoU, iou: warm.iou } });
  }
  for (const method of methods) {
    const config = loadAdaptConfig(configFile, (c) => {
      c.seed = seed;
      c.output = join(out, `${method}-seed${seed}`);
      c.init = join(sourceDir, 'source');
      c.adapt = METHOD_SETTINGS[method];
      if (iterationsArg !== '') c.train = { ...(c.train as object), iterations: Number(iterationsArg) };
    });
    const metricsFile = join(config.output, 'metrics.json');
    if (!existsSync(metricsFile)) {
      console.error(`seed ${seed}, ${method}: ${config.train.iterations} iterations in ${config.output} (resumes if interrupted)`);
      await adaptModel(config, { resume: true, progress: !json });
    }
    const m = JSON.parse(readFileSync(metricsFile, 'utf8')) as {
      seconds: number;
      evaluations: Record<string, { mIoU: number; iou: Record<string, number | null> }>;
    };
    const ev = m.evaluations.target_val;
    rows.push({ method, seed, seconds: m.seconds, score: { mIoU: ev.mIoU, iou: Object.values(ev.iou) } });
  }
}

const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
};
const pct = (v: number) => (v * 100).toFixed(1);
const order: Row['method'][] = ['source-only', ...(warmupRow ? ['adaptsegnet' as const] : []), ...methods];
const base = stats(rows.filter((r) => r.method === 'source-only').map((r) => r.score.mIoU));
const summary: Record<string, unknown> = { seeds, threads, rows, methods: {} };
const lines: string[] = [];
lines.push(
  `UDA on camvid-day2dusk (day -> dusk), target_val mIoU, U-Net width 16 at 120x90, seeds ${seeds.join(',')}, ${threads} thread(s)${warmupRow ? "; adaptsegnet = the active run's warm-up (same settings)" : ''}`,
);
lines.push(
  '| method | target_val mIoU (mean ± sd) | per seed | gain over source-only (per-seed differences) | beats source-only by more than the spread | time per run |',
);
lines.push('| --- | --- | --- | --- | --- | --- |');
for (const method of order) {
  const r = rows.filter((x) => x.method === method);
  const s = stats(r.map((x) => x.score.mIoU));
  // Paired by seed: each method starts from that seed's source model.
  const gains = r.map((x) => x.score.mIoU - rows.find((y) => y.method === 'source-only' && y.seed === x.seed)!.score.mIoU);
  const g = stats(gains);
  const spread = Math.max(s.sd, base.sd);
  const beats = method !== 'source-only' && s.mean - base.mean > spread;
  (summary.methods as Record<string, unknown>)[method] = { mIoU: s, gain: g, beatsSourceOnlyBeyondSpread: beats, seconds: stats(r.map((x) => x.seconds)) };
  lines.push(
    `| ${method} | ${pct(s.mean)} ± ${pct(s.sd)} | ${r.map((x) => pct(x.score.mIoU)).join(', ')} | ${method === 'source-only' ? '-' : `${g.mean >= 0 ? '+' : ''}${pct(g.mean)} (${gains.map((v) => `${v >= 0 ? '+' : ''}${pct(v)}`).join(', ')})`} | ${method === 'source-only' ? '-' : beats ? 'yes' : 'no'} | ${method === 'source-only' ? '-' : `${(stats(r.map((x) => x.seconds)).mean / 60).toFixed(1)} min`} |`,
  );
}
lines.push('', 'per-class IoU on target_val (mean over seeds):');
lines.push(`| class | ${order.join(' | ')} |`);
lines.push(`| --- | ${order.map(() => '---').join(' | ')} |`);
classNames.forEach((name, c) => {
  const cells = order.map((method) => {
    const vals = rows
      .filter((r) => r.method === method)
      .map((r) => r.score.iou[c])
      .filter((v): v is number => v !== null);
    return vals.length ? pct(stats(vals).mean) : '-';
  });
  lines.push(`| ${name} | ${cells.join(' | ')} |`);
});
writeJsonAtomic(join(out, 'summary.json'), summary);
if (json) console.log(JSON.stringify(summary));
else console.log(`\n${lines.join('\n')}`);
