// `adaseg demo`: the whole mission on the built-in synthetic domain pair, with no files and no
// flags: source training, AdaptSegNet warm-up, active rounds with RIPU and random side by side,
// evaluation after every round, results.json and report.html. It is `adaseg run` on a config built
// here (the same parser and loop); configs/synthetic-demo.yaml holds the same config (a test keeps
// them equal), so `adaseg run --config configs/synthetic-demo.yaml` reproduces the demo.
import { resolve } from 'node:path';
import type { BaselineKind, ExperimentConfig } from '../active/experiment.js';
import type { ExperimentRunResult, LoopEvent } from '../active/loop.js';
import type { BudgetConfig, StrategyConfig, UnitConfig } from '../active/types.js';
import type { AdaptMethodConfig } from '../adapt/config.js';
import type { DatasetConfig } from '../data/config.js';
import type { Transform } from '../data/transforms.js';
import type { ModelConfig } from '../models/config.js';
import type { TrainSection } from '../train/config.js';
import { resultsSummary, resultsTable } from './active.js';
import { parseArgs, type OptionSpec, UsageError } from './args.js';
import type { Command, Io } from './command.js';
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
  data: { source: SyntheticDataset; pool: SyntheticDataset; val: SyntheticDataset; batchSize: number; workers: number; transforms: Transform[]; normalize: 'imagenet' };
  source: { train: TrainGiven };
  warmup: { train: TrainGiven; adapt: Given<AdaptMethodConfig> & { method: AdaptMethodConfig['method'] } };
  active: { units: UnitConfig; budget: BudgetConfig; ranking: 'global' | 'perImage'; strategies: StrategyConfig[] };
  annotator: { kind: 'simulated' };
  rounds: { train: TrainGiven; init: 'previous' | 'start'; labelledTargetWeight: number; targetData: 'pool' | 'labelled'; negativeLearning?: { weight: number; threshold: number } };
  baselines: BaselineKind[];
  eval: { batchSize: number };
  report: { examples: number };
}

/** Where the demo writes when no --output is given (relative to the current directory). */
export const DEMO_OUTPUT = 'adaseg-demo';

const synthetic = (style: 'source' | 'target', count: number, seed: number): SyntheticDataset => ({ format: 'synthetic', style, count, width: 64, height: 48, seed });

/**
 * The demo's experiment. Sizes and iterations: see the comment block in
 * configs/synthetic-demo.yaml (the same settings, with the measured time and figures).
 */
export function demoConfig(output = DEMO_OUTPUT): DemoConfig {
  return {
    name: 'synthetic-demo',
    output,
    seeds: [0, 1],
    model: { kind: 'unet', baseWidth: 8, depth: 3 },
    data: {
      source: synthetic('source', 48, 0),
      pool: synthetic('target', 24, 100),
      val: synthetic('target', 16, 500),
      batchSize: 4,
      workers: 0,
      transforms: [{ kind: 'hflip' }],
      normalize: 'imagenet',
    },
    source: { train: { iterations: 300, optimizer: { kind: 'adam', lr: 0.003 }, schedule: { kind: 'poly', power: 0.9 }, checkpointEvery: 100, logEvery: 50 } },
    warmup: {
      train: { iterations: 100, optimizer: { kind: 'adam', lr: 0.0005 }, checkpointEvery: 50, logEvery: 50 },
      adapt: { method: 'adaptsegnet', lambdaAdv: 0.001, discriminator: { ndf: 16 } },
    },
    active: {
      units: { kind: 'region', k: 1 },
      budget: { kind: 'pixelPercent', total: 5, rounds: 3 },
      ranking: 'global',
      strategies: [{ strategy: 'ripu', variant: 'region', k: 1 }],
    },
    annotator: { kind: 'simulated' },
    rounds: {
      train: { iterations: 40, optimizer: { kind: 'adam', lr: 0.0005 }, schedule: { kind: 'poly', power: 0.9 }, checkpointEvery: 20, logEvery: 20 },
      init: 'previous',
      labelledTargetWeight: 1,
      targetData: 'pool',
      negativeLearning: { weight: 1, threshold: 0.05 },
    },
    baselines: ['source-only', 'uda-only', 'random', 'full'],
    eval: { batchSize: 8 },
    report: { examples: 3 },
  };
}

export interface DemoRunOptions {
  /** Output folder (resolved against the current directory). */
  output: string;
  /** The config to run (default demoConfig()); tests pass a smaller one. */
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
    if (config.source.kind === 'train') steps.push({ key: `source:${seed}`, label: `${ofSeeds}: source model trained`, passes: config.source.train.iterations });
    if (config.warmup) steps.push({ key: `warmup:${seed}`, label: `${ofSeeds}: ${config.warmup.adapt.method} warm-up done`, passes: 2 * config.warmup.train.iterations });
    for (const st of config.active.strategies) {
      for (let r = 1; r <= config.active.budget.rounds; r++) {
        steps.push({ key: `evaluated:${seed}:${st.label}:${r}`, label: `${ofSeeds}: ${st.label} round ${r}/${config.active.budget.rounds} selected, labelled, trained, evaluated`, passes: 2 * config.rounds.train.iterations });
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

/** Runs (or resumes) the demo: parses its config as `adaseg run` does and runs the same loop. */
export async function runDemo(options: DemoRunOptions): Promise<ExperimentRunResult> {
  const { parseExperimentConfig } = await import('../active/experiment.js');
  const { runExperiment, clearExperimentOutput } = await import('../active/loop.js');
  const output = resolve(options.output);
  const config = parseExperimentConfig({ ...(options.config ?? demoConfig()), output });
  if (options.fresh) clearExperimentOutput(output);
  const log = options.log ?? (() => {});
  const steps = demoSteps(config);
  const total = steps.reduce((s, x) => s + x.passes, 0);
  const started = performance.now();
  return runExperiment(config, {
    signal: options.signal,
    progress: options.progress,
    log,
    onEvent: (e) => {
      const at = steps.findIndex((s) => s.key === eventKey(e));
      if (at < 0) return;
      const done = steps.slice(0, at + 1).reduce((s, x) => s + x.passes, 0);
      log(`[demo ${clock((performance.now() - started) / 1000)}, step ${at + 1}/${steps.length}, ${Math.round((100 * done) / total)}% of the work] ${steps[at].label}`);
    },
  });
}

const DEMO_OPTIONS: OptionSpec[] = [
  { name: 'output', type: 'string', value: 'DIR', description: `output folder (default ./${DEMO_OUTPUT})` },
  { name: 'threads', type: 'integer', value: 'N', description: "intra-op threads of the engine (default: libtorch's, usually the cores)" },
  { name: 'no-resume', type: 'boolean', description: 'delete what an earlier demo left in the output folder and start over' },
  { name: 'no-progress', type: 'boolean', description: 'no progress bars' },
];

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the whole mission on the built-in synthetic domain pair, no files needed: source training, AdaptSegNet warm-up, 3 rounds of RIPU vs random, report.html',
  usage:
    'adaseg demo [options]\n\nRuns configs/synthetic-demo.yaml\'s experiment (the same as `adaseg run --config configs/synthetic-demo.yaml`) and prints\nthe path of report.html. Interrupt with Ctrl-C: a checkpoint is written and the same command resumes.',
  options: DEMO_OPTIONS,
  async run(argv: string[], io: Io): Promise<number> {
    const { positionals, options } = parseArgs(argv, [...DEMO_OPTIONS, ...io.globalOptions]);
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (the demo needs no files)`);
    if (options.threads !== undefined && (options.threads as number) < 1) throw new UsageError('--threads must be >= 1');
    if (options.threads !== undefined) {
      const torch = await import('@adaseg/torch');
      torch.setNumThreads(options.threads as number);
    }
    const output = resolve((options.output as string | undefined) ?? DEMO_OUTPUT);
    if (!io.json) io.err(`adaseg demo: synthetic source -> target (dusk, textures, noise), writing to ${output}`);
    const interrupt = interruptSignal(io);
    try {
      const result = await runDemo({ output, fresh: Boolean(options['no-resume']), signal: interrupt.signal, progress: !options['no-progress'] && !io.json, log: (line) => io.err(line) });
      if (io.json) io.out(JSON.stringify(resultsSummary(result), null, 2));
      else if (result.stopped) io.out(`stopped; run the same command to resume (${result.output})`);
      else if (result.results) {
        io.out(resultsTable(result.results));
        io.out(`done in ${result.seconds.toFixed(0)} s; open the report in a browser:`);
        io.out(result.files!.report);
      }
      return 0;
    } finally {
      interrupt.dispose();
    }
  },
};
