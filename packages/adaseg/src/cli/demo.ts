// `adaseg demo`: the whole mission on the built-in synthetic domain pair, with no files and no
// flags: source training, AdaptSegNet warm-up, active rounds with RIPU and random side by side,
// evaluation after every round, results.json and report.html. It is `adaseg run` (the same parser
// and loop) on configs/synthetic-demo.yaml, the one definition of the demo's experiment, read at
// run time, so `adaseg run --config configs/synthetic-demo.yaml` reproduces the demo.
// `--quick` runs the same pipeline on a tiny config (a smoke test: its figures mean nothing).
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BaselineKind, ExperimentConfig } from '../experiment/config.js';
import type { ExperimentRunResult, LoopEvent } from '../experiment/loop.js';
import type { ExperimentResults } from '../report/results.js';
import type { BudgetConfig, StrategyConfig, UnitConfig } from '../active/types.js';
import type { AdaptMethodConfig } from '../adapt/config.js';
import type { DatasetConfig } from '../data/config.js';
import type { Transform } from '../data/transforms.js';
import type { ModelConfig } from '../models/config.js';
import type { TrainSection } from '../train/config.js';
import { readConfigFile } from '../util/config-reader.js';
import { resultsSummary, resultsTable } from './active.js';
import type { OptionSpec, Parsed } from './args.js';
import type { Command, Io } from './command.js';
import { outputGroup, threadsGroup } from './options.js';
import { noPositionals } from './parser.js';
import { interruptSignal } from './train.js';

/** A config section as written in a file: the parser fills in what is left out. */
type Given<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? Given<T[K]> : T[K] };
type TrainGiven = Given<TrainSection> & { iterations: number };
type SyntheticDataset = Extract<DatasetConfig, { format: 'synthetic' }>;

/** The demo's experiment config as `adaseg run` reads it from a file (typed; parsed by parseExperimentConfig). */
export interface DemoConfig {
  name: string;
  output: string;
  seeds: number[];
  model: ModelConfig;
  data: {
    source: SyntheticDataset;
    pool: SyntheticDataset;
    val: SyntheticDataset;
    batchSize: number;
    workers: number;
    transforms: Transform[];
    targetTransforms: Transform[];
    normalize: 'imagenet';
  };
  source: { train: TrainGiven };
  warmup: { train: TrainGiven; adapt: Given<AdaptMethodConfig> & { method: AdaptMethodConfig['method'] } };
  active: { units: UnitConfig; budget: BudgetConfig; ranking: 'global' | 'perImage'; strategies: StrategyConfig[] };
  annotator: { kind: 'simulated' };
  rounds: {
    train: TrainGiven;
    init: 'previous' | 'start';
    labelledTargetWeight: number;
    targetData: 'pool' | 'labelled';
    negativeLearning?: { weight: number; threshold: number };
  };
  baselines: BaselineKind[];
  eval: { batchSize: number };
  report: { examples: number };
}

/** Where the demo writes when no --output is given (relative to the current directory). */
export const DEMO_OUTPUT = 'adaseg-demo';
/** Where `--quick` writes when no --output is given (apart: its settings differ, so it could not resume the demo's). */
export const QUICK_DEMO_OUTPUT = 'adaseg-demo-quick';

/** The demo's experiment (from src/cli or dist/cli: the repository's configs/ folder). */
export const DEMO_CONFIG_FILE = fileURLToPath(new URL('../../../../configs/synthetic-demo.yaml', import.meta.url));

/**
 * The demo's experiment: configs/synthetic-demo.yaml, writing to `output` instead of the file's
 * runs/synthetic-demo. Why these sizes and settings, the measured time and figures: see the
 * comment block of that file.
 */
export function demoConfig(output = DEMO_OUTPUT): DemoConfig {
  return { ...(readConfigFile(DEMO_CONFIG_FILE) as DemoConfig), output };
}

/**
 * `--quick`: the demo's pipeline (units, budget, 3 rounds, strategies, baselines, report) on tiny
 * scenes (40x32: the smallest the discriminator takes), a tiny model, a handful of images and
 * iterations, one seed. A smoke test of the whole path in well under a minute; its figures mean
 * nothing.
 */
export function quickDemoConfig(output = QUICK_DEMO_OUTPUT): DemoConfig {
  const c = demoConfig(output);
  const tiny = (d: SyntheticDataset, count: number): SyntheticDataset => ({ ...d, count, width: 40, height: 32 });
  const few = (t: TrainGiven, iterations: number): TrainGiven => ({ ...t, iterations, checkpointEvery: iterations, logEvery: iterations });
  return {
    ...c,
    name: 'synthetic-demo-quick',
    seeds: [0],
    model: { kind: 'unet', baseWidth: 4, depth: 2 },
    data: { ...c.data, source: tiny(c.data.source, 6), pool: tiny(c.data.pool, 5), val: tiny(c.data.val, 3), batchSize: 2 },
    source: { train: few(c.source.train, 6) },
    warmup: { train: few(c.warmup.train, 2), adapt: { method: 'adaptsegnet', lambdaAdv: 0.001, discriminator: { ndf: 4 } } },
    rounds: { ...c.rounds, train: few(c.rounds.train, 3) },
    eval: { batchSize: 4 },
    report: { examples: 1 },
  };
}

export interface DemoRunOptions {
  /** Output folder (resolved against the current directory). */
  output: string;
  /** The config to run (default demoConfig()). */
  config?: DemoConfig;
  /** Delete what an earlier run left in the output folder first. */
  fresh?: boolean;
  signal?: AbortSignal;
  progress?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

/**
 * One step of the demo and its share of the work, in batch passes: an iteration of source training
 * is one (a source batch), of adaptation, a round or the full baseline two (a source and a target
 * batch).
 */
interface Step {
  key: string;
  label: string;
  passes: number;
}

function demoSteps(config: ExperimentConfig): Step[] {
  const steps: Step[] = [];
  const fullIterations = (config.warmup?.train.iterations ?? 0) + config.active.budget.rounds * config.rounds.train.iterations;
  config.seeds.forEach((seed, s) => {
    const ofSeeds = `seed ${seed} (${s + 1}/${config.seeds.length})`;
    if (config.source.kind === 'train')
      steps.push({ key: `source:${seed}`, label: `${ofSeeds}: source model trained`, passes: config.source.train.iterations });
    if (config.warmup)
      steps.push({ key: `warmup:${seed}`, label: `${ofSeeds}: ${config.warmup.adapt.method} warm-up done`, passes: 2 * config.warmup.train.iterations });
    for (const st of config.active.strategies) {
      for (let r = 1; r <= config.active.budget.rounds; r++) {
        steps.push({
          key: `evaluated:${seed}:${st.label}:${r}`,
          label: `${ofSeeds}: ${st.label} round ${r}/${config.active.budget.rounds} selected, labelled, trained, evaluated`,
          passes: 2 * config.rounds.train.iterations,
        });
      }
    }
    if (config.baselines.includes('full')) steps.push({ key: `full:${seed}`, label: `${ofSeeds}: fully supervised baseline done`, passes: 2 * fullIterations });
  });
  return steps;
}

function eventKey(e: LoopEvent): string {
  return 'run' in e ? `${e.kind}:${e.seed}:${e.strategy}:${e.round}` : `${e.kind}:${e.seed}`;
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** What the demo does, in a line (sizes and iterations from the parsed config). */
function plan(config: ExperimentConfig): string {
  const source = config.source.kind === 'train' ? `source training ${config.source.train.iterations} it` : 'a given source model';
  const warmup = config.warmup ? ` -> ${config.warmup.adapt.method} warm-up ${config.warmup.train.iterations} it` : '';
  const { budget } = config.active;
  const total = budget.kind === 'pixelPercent' ? `${budget.total}% of the pool's pixels` : `${budget.total} ${budget.kind}`;
  const strategies = config.active.strategies.map((s) => s.label).join(' and ');
  const full = config.baselines.includes('full') ? ' -> fully supervised baseline' : '';
  return `${config.seeds.length} seed(s) x [${source}${warmup} -> ${budget.rounds} rounds of ${strategies} (${total} in all, ${config.rounds.train.iterations} it per round)${full}]`;
}

/** Runs (or resumes) the demo: parses its config as `adaseg run` does and runs the same loop. */
export async function runDemo(options: DemoRunOptions): Promise<ExperimentRunResult> {
  const { parseExperimentConfig } = await import('../experiment/config.js');
  const { runExperiment, clearExperimentOutput } = await import('../experiment/loop.js');
  const output = resolve(options.output);
  const config = parseExperimentConfig({ ...(options.config ?? demoConfig()), output });
  if (options.fresh) clearExperimentOutput(output);
  const log = options.log ?? (() => {});
  const steps = demoSteps(config);
  const total = steps.reduce((s, x) => s + x.passes, 0);
  log(`plan: ${plan(config)}`);
  const started = performance.now();
  // Batch passes trained in this session: the rate that estimates what is left (a resumed demo
  // skips finished steps, which must not count as fast work).
  let trained = 0;
  return runExperiment(config, {
    signal: options.signal,
    progress: options.progress,
    log,
    onIteration: (where) => {
      trained += where.endsWith('/source') ? 1 : 2;
    },
    onEvent: (e) => {
      const at = steps.findIndex((s) => s.key === eventKey(e));
      if (at < 0) return;
      const done = steps.slice(0, at + 1).reduce((s, x) => s + x.passes, 0);
      const elapsed = (performance.now() - started) / 1000;
      const left = trained > 0 && done < total ? `, about ${clock((elapsed * (total - done)) / trained)} left` : '';
      log(`[demo ${clock(elapsed)}, step ${at + 1}/${steps.length}, ${Math.round((100 * done) / total)}% of the work${left}] ${steps[at].label}`);
    },
  });
}

/** Mean mIoU of strategy a against b after each round and the final difference, as one line ('a vs b, ...: round 1 74.0 vs 71.9, ...; final +3.3 points'). */
export function versusLine(results: ExperimentResults, a: string, b: string): string | null {
  const sa = results.strategies.find((s) => s.strategy === a);
  const sb = results.strategies.find((s) => s.strategy === b);
  if (sa === undefined || sb === undefined) return null;
  const pct = (v: number) => (v * 100).toFixed(1);
  const rounds = sa.curve
    .filter((p) => p.round > 0)
    .map((p) => {
      const q = sb.curve.find((x) => x.round === p.round);
      return q === undefined ? null : `round ${p.round} ${pct(p.mIoU.mean)} vs ${pct(q.mIoU.mean)}`;
    })
    .filter((x) => x !== null);
  const d = (sa.final.mIoU.mean - sb.final.mIoU.mean) * 100;
  return `${a} vs ${b}, target val mIoU (mean of ${results.seeds.length} seed(s)): ${rounds.join(', ')}; final ${d >= 0 ? '+' : ''}${d.toFixed(1)} points`;
}

/** The first executable `name` on PATH, or null. */
function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/** Opens a file with xdg-open when there is one; never throws (a message says what happened). */
export function openInBrowser(file: string, log: (line: string) => void): void {
  const opener = onPath('xdg-open');
  if (opener === null) {
    log('--open: xdg-open is not available here; open the report yourself (path below)');
    return;
  }
  try {
    const child = spawn(opener, [file], { detached: true, stdio: 'ignore' });
    child.on('error', (e) => log(`--open: ${opener} failed: ${e.message}`));
    child.unref();
    log(`--open: opening ${file} with ${opener}`);
  } catch (e) {
    log(`--open: ${opener} failed: ${(e as Error).message}`);
  }
}

const QUICK_NOTE =
  '--quick: a smoke test on tiny scenes with a few iterations; its figures are NOT meaningful (run `adaseg demo` without --quick for real results)';

const DEMO_OPTIONS: OptionSpec[] = [
  { ...outputGroup.options[0], description: `output folder (default ./${DEMO_OUTPUT}; with --quick ./${QUICK_DEMO_OUTPUT})` },
  {
    name: 'quick',
    type: 'boolean',
    description: 'smoke test: the same pipeline on tiny scenes, model and iterations, one seed (well under a minute; figures not meaningful)',
  },
  { name: 'open', type: 'boolean', description: 'open report.html with xdg-open when done (when xdg-open is available)' },
  ...threadsGroup.options,
  { name: 'no-resume', type: 'boolean', description: 'delete what an earlier demo left in the output folder and start over' },
  { name: 'no-progress', type: 'boolean', description: 'no progress bars (the per-step lines remain)' },
];

export const demoCommand: Command = {
  name: 'demo',
  summary:
    'the whole mission on the built-in synthetic domain pair, no files needed: source training, AdaptSegNet warm-up, 3 rounds of RIPU vs random, report.html',
  usage: [
    'adaseg demo [options]',
    '',
    'Runs the experiment of configs/synthetic-demo.yaml (the same as `adaseg run --config configs/synthetic-demo.yaml`,',
    'which writes to runs/synthetic-demo instead): per seed, source training on the synthetic source style, an AdaptSegNet',
    "warm-up on the unlabelled target style, then 3 rounds of RIPU and of random region selection (3% of the target pool's",
    'pixels in all, labels revealed by a simulated annotator), each round evaluated on the target val set; then the',
    'source-only, UDA-only and fully supervised baselines, results.json and report.html; 4 seeds. About 7 minutes on',
    '2 cores, with progress bars (rate, ETA) and a line per finished step. The last line printed is the path of report.html.',
    'Interrupt with Ctrl-C: a checkpoint is written and the same command resumes; run again when done, it only rewrites',
    'the report.',
  ].join('\n'),
  options: DEMO_OPTIONS,
  async run({ positionals, options }: Parsed, io: Io): Promise<number> {
    noPositionals(positionals, ' (the demo needs no files)');
    const quick = Boolean(options.quick);
    const output = resolve((options.output as string | undefined) ?? (quick ? QUICK_DEMO_OUTPUT : DEMO_OUTPUT));
    if (!io.json) {
      io.err(`adaseg demo: synthetic source -> target (dusk, textures, noise), writing to ${output}`);
      if (quick) io.err(QUICK_NOTE);
    }
    const interrupt = interruptSignal(io);
    try {
      const result = await runDemo({
        output,
        config: quick ? quickDemoConfig() : demoConfig(),
        fresh: Boolean(options['no-resume']),
        signal: interrupt.signal,
        progress: !options['no-progress'] && !io.json,
        log: (line) => io.err(line),
      });
      if (io.json) io.out(JSON.stringify({ quick, ...resultsSummary(result) }, null, 2));
      else if (result.stopped) io.out(`stopped; run the same command to resume (${result.output})`);
      else if (result.results) {
        io.out(resultsTable(result.results));
        const versus = versusLine(result.results, result.results.strategies[0].strategy, 'random');
        if (versus !== null) io.out(versus);
        if (quick) io.out(QUICK_NOTE);
        io.out(`done in ${result.seconds.toFixed(0)} s; the report:`);
        io.out(result.files!.report);
      }
      if (options.open && result.files) openInBrowser(result.files.report, (line) => io.err(line));
      return 0;
    } finally {
      interrupt.dispose();
    }
  },
};
