// `adaseg train` and `adaseg eval`. The engine is imported lazily, so `adaseg --help` and the data
// commands start without loading libtorch.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TrainRunOptions, TrainRunResult } from '../train/supervised.js';
import type { Transform } from '../data/transforms.js';
import type { ConfigOverrides } from '../util/config-reader.js';
import { type OptionSpec, type Parsed, UsageError } from './args.js';
import { CliError, type Command, type Io, mustExist } from './command.js';
import { DATASET_OPTIONS, datasetConfigFromArgs } from './data.js';
import { outputGroup, seedGroup, threadsGroup } from './options.js';
import { noPositionals } from './parser.js';

export const TRAIN_OPTIONS: OptionSpec[] = [
  { name: 'config', type: 'string', value: 'FILE', required: true, description: 'training config (YAML or JSON); see configs/ and the README' },
  ...outputGroup.options,
  { name: 'iterations', type: 'integer', value: 'N', description: 'training iterations (overrides the config)' },
  ...seedGroup.options,
  { name: 'weights', type: 'string', value: 'FILE', description: 'initial weights, safetensors with PyTorch names (see adaseg weights convert)' },
  { name: 'allow-partial', type: 'boolean', description: 'train on from initial weights that match under half of the model tensors' },
  ...threadsGroup.options,
  { name: 'no-resume', type: 'boolean', description: 'start over even if the run directory has checkpoints' },
  { name: 'no-progress', type: 'boolean', description: 'no progress bar' },
  { name: 'skip-preflight', type: 'boolean', description: 'do not read every image and label before training (they are checked as they load)' },
];

/** Ctrl-C once: finish the iteration, write a checkpoint and stop (resume later); twice: exit now. */
export function interruptSignal(io: Io): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    io.err('\nstopping after this iteration (a checkpoint will be written; run the same command to resume). Ctrl-C again to quit now.');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onSigint) };
}

/** A missing config file is a 'not-found' failure (exit 1), found before the engine is loaded. */
export function configMustExist(file: string): void {
  if (!existsSync(file)) throw new CliError('not-found', `cannot read config ${file}: file not found`, file);
}

/** What `adaseg train` and `adaseg adapt` differ in: their config and their run. */
export interface ConfiguredRun<Config, Result extends TrainRunResult> {
  loadConfig(file: string, overrides: ConfigOverrides): Config;
  run(config: Config, options: TrainRunOptions): Promise<Result>;
  /** Named in the summary of a run (adapt: its method). */
  method?(result: Result): string;
}

/**
 * Runs `adaseg train` or `adaseg adapt`: the flags of TRAIN_OPTIONS (adapt: with another help text
 * for --config) over the config file, Ctrl-C to checkpoint and stop, then the final evaluations.
 * `load` imports the engine, so that it is loaded only when the command runs.
 */
export async function runConfiguredTraining<Config, Result extends TrainRunResult>(
  { positionals, options }: Parsed,
  io: Io,
  load: () => Promise<ConfiguredRun<Config, Result>>,
): Promise<number> {
  noPositionals(positionals);
  configMustExist(resolve(options.config as string));
  const engine = await load();
  const { formatMetrics } = await import('../eval/evaluate.js');
  const config = engine.loadConfig(resolve(options.config as string), (c) => {
    if (options.output !== undefined) c.output = resolve(options.output as string);
    if (options.seed !== undefined) c.seed = options.seed;
    if (options.weights !== undefined) c.weights = resolve(options.weights as string);
    if (options.iterations !== undefined) c.train = { ...((c.train as object) ?? {}), iterations: options.iterations };
  });
  const interrupt = interruptSignal(io);
  try {
    const result = await engine.run(config, {
      resume: !options['no-resume'],
      allowPartialWeights: options['allow-partial'] === true,
      skipPreflight: options['skip-preflight'] === true,
      signal: interrupt.signal,
      progress: !options['no-progress'] && !io.json,
      log: (line) => io.err(line),
    });
    const method = engine.method?.(result);
    if (io.json) {
      const evaluations = Object.fromEntries(
        Object.entries(result.evaluations).map(([k, r]) => [k, { mIoU: r.mIoU, pixelAccuracy: r.pixelAccuracy, iou: r.iou, classNames: r.classNames }]),
      );
      io.out(
        JSON.stringify(
          {
            output: result.output,
            ...(method === undefined ? {} : { method }),
            iteration: result.iteration,
            stopped: result.stopped,
            seconds: result.seconds,
            evaluations,
          },
          null,
          2,
        ),
      );
    } else {
      for (const [name, r] of Object.entries(result.evaluations)) io.out(formatMetrics(r, `${name}:`));
      io.out(
        result.stopped
          ? `stopped at iteration ${result.iteration}; run the same command to resume (${result.output})`
          : `done: ${method === undefined ? '' : `${method}, `}${result.iteration} iterations in ${result.seconds.toFixed(0)} s; run directory ${result.output}`,
      );
    }
    return 0;
  } finally {
    interrupt.dispose();
  }
}

const train: Command = {
  name: 'train',
  summary: 'train a segmentation model (source-only baseline); resumes from the run directory',
  usage: 'adaseg train --config FILE [options]\n\nInterrupt with Ctrl-C: a checkpoint is written and the same command resumes exactly.',
  options: TRAIN_OPTIONS,
  run: (args, io) =>
    runConfiguredTraining(args, io, async () => {
      const { loadTrainConfig } = await import('../train/config.js');
      const { trainSupervised } = await import('../train/supervised.js');
      return { loadConfig: loadTrainConfig, run: trainSupervised };
    }),
};

const EVAL_OPTIONS: OptionSpec[] = [
  {
    name: 'checkpoint',
    type: 'string',
    value: 'FILE',
    required: true,
    description: 'a checkpoint (or weights file) from adaseg train, or a run directory (its best checkpoint)',
  },
  { name: 'model', type: 'string', value: 'JSON', description: 'model config when the checkpoint has no run directory beside it, e.g. \'{"kind":"unet"}\'' },
  ...DATASET_OPTIONS,
  { name: 'flip', type: 'boolean', description: 'flip test-time augmentation' },
  { name: 'predictions', type: 'string', value: 'DIR', description: 'write predictions as palette PNGs here' },
  { name: 'batch-size', type: 'integer', value: 'N', description: 'images per batch (default 4)' },
  {
    name: 'resolution',
    type: 'string',
    value: 'WxH|native',
    description: "evaluate at WxH, or at the images' own size (native); default: the working resolution recorded with the checkpoint's run",
  },
  ...threadsGroup.options,
];

/** --resolution as eval transforms: WxH a resize, native none, absent undefined. */
function resolutionTransforms(value: string | undefined): Transform[] | undefined {
  if (value === undefined) return undefined;
  if (value === 'native') return [];
  const m = /^(\d+)x(\d+)$/.exec(value);
  if (m === null || Number(m[1]) < 1 || Number(m[2]) < 1) throw new UsageError(`--resolution must be WxH (e.g. 120x90) or native, got '${value}'`);
  return [{ kind: 'resize', width: Number(m[1]), height: Number(m[2]) }];
}

function describeTransforms(transforms: Transform[]): string {
  const resize = transforms.find((t) => t.kind === 'resize') as { width: number; height: number } | undefined;
  return resize ? `${resize.width}x${resize.height}` : "the images' own size";
}

/** --model is checked as a flag (a usage error naming it), before any data or weights are read. */
async function checkModelOption(json: string): Promise<void> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new UsageError(`--model must be a model config in JSON, e.g. '{"kind":"unet"}', got '${json}' (${(err as Error).message})`);
  }
  const { resolveModelConfig } = await import('../models/config.js');
  try {
    resolveModelConfig(value);
  } catch (err) {
    throw new UsageError(`--model: ${(err as Error).message}`);
  }
}

const evalCommand: Command = {
  name: 'eval',
  summary: 'evaluate a checkpoint on a dataset: per-class IoU, mIoU, pixel accuracy',
  usage: 'adaseg eval --checkpoint FILE|RUN_DIR <dataset> [options]\n\n<dataset> as for `adaseg data inspect`.',
  options: EVAL_OPTIONS,
  async run({ positionals, options }: Parsed, io: Io): Promise<number> {
    if (positionals.length > 1) throw new UsageError(`one dataset at a time, got: ${positionals.join(' ')}`);
    if (options.model !== undefined) await checkModelOption(options.model as string);
    const asked = resolutionTransforms(options.resolution as string | undefined);
    const datasetConfig = await datasetConfigFromArgs(positionals[0], options, (line) => io.err(line));
    const checkpointPath = resolve(options.checkpoint as string);
    mustExist(checkpointPath, 'checkpoint');
    const { loadDataset } = await import('../data/formats/index.js');
    const { numClasses } = await import('../data/dataset.js');
    const { evaluate, formatMetrics } = await import('../eval/evaluate.js');
    const { restoreModel } = await import('../train/restore.js');
    const dataset = await loadDataset(datasetConfig);
    const { model, checkpoint, normalize, evalTransforms } = restoreModel(checkpointPath, numClasses(dataset), options.model as string | undefined);
    try {
      // As the model was trained and evaluated, unless told otherwise; said, either way.
      const transforms = asked ?? evalTransforms ?? [];
      const why =
        asked !== undefined
          ? '--resolution'
          : evalTransforms !== undefined
            ? "the run's working resolution, recorded with the checkpoint"
            : 'no resolution is recorded with the checkpoint';
      io.err(`eval: at ${describeTransforms(transforms)} (${why})`);
      const result = await evaluate(model, dataset, {
        transforms,
        flip: Boolean(options.flip),
        batchSize: (options['batch-size'] as number | undefined) ?? 4,
        ...(normalize ? { normalize } : {}),
        ...(options.predictions ? { predictionsDir: resolve(options.predictions as string) } : {}),
        progress: !io.json,
      });
      if (io.json) io.out(JSON.stringify({ checkpoint, dataset: dataset.name, split: dataset.split, ...result }, null, 2));
      else io.out(formatMetrics(result, `${dataset.name} (${dataset.split}) with ${checkpoint}:`));
      return 0;
    } finally {
      model.dispose();
    }
  },
};

export const trainCommands: Command[] = [train, evalCommand];
