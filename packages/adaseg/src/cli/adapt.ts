// `adaseg adapt`: unsupervised domain adaptation from a config, with the flags, progress, logs,
// checkpoints and resume of `adaseg train`. The engine is imported lazily, as for train.
import { resolve } from 'node:path';
import { parseArgs, type OptionSpec, UsageError } from './args.js';
import type { Command, Io } from './command.js';
import { interruptSignal, TRAIN_OPTIONS } from './train.js';

const ADAPT_OPTIONS: OptionSpec[] = TRAIN_OPTIONS.map((o) =>
  o.name === 'config' ? { ...o, description: "adaptation config (YAML or JSON): source and target data, init run, adapt.method ('adaptsegnet', 'advent-entropy', 'advent-adversarial', 'self-training'); see the README" } : o,
);

export const adaptCommand: Command = {
  name: 'adapt',
  summary: 'adapt a model to an unlabelled target domain (AdaptSegNet, ADVENT, self-training); resumes from the run directory',
  usage: 'adaseg adapt --config FILE [options]\n\nInterrupt with Ctrl-C: a checkpoint (with the discriminators) is written and the same command resumes exactly.',
  options: ADAPT_OPTIONS,
  async run(argv: string[], io: Io): Promise<number> {
    const { positionals, options } = parseArgs(argv, [...ADAPT_OPTIONS, ...io.globalOptions]);
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (options.config === undefined) throw new UsageError('--config FILE is required');
    const { loadAdaptConfig } = await import('../adapt/config.js');
    const { adaptModel } = await import('../adapt/adapt.js');
    const { formatMetrics } = await import('../eval/evaluate.js');
    const config = loadAdaptConfig(resolve(options.config as string), (c) => {
      if (options.output !== undefined) c.output = resolve(options.output as string);
      if (options.seed !== undefined) c.seed = options.seed;
      if (options.weights !== undefined) c.weights = resolve(options.weights as string);
      if (options.iterations !== undefined) c.train = { ...((c.train as object) ?? {}), iterations: options.iterations };
    });
    const interrupt = interruptSignal(io);
    try {
      const result = await adaptModel(config, {
        resume: !options['no-resume'],
        signal: interrupt.signal,
        progress: !options['no-progress'] && !io.json,
        log: (line) => io.err(line),
      });
      if (io.json) {
        io.out(
          JSON.stringify(
            {
              output: result.output,
              method: result.config.adapt.method,
              iteration: result.iteration,
              stopped: result.stopped,
              seconds: result.seconds,
              evaluations: Object.fromEntries(Object.entries(result.evaluations).map(([k, r]) => [k, { mIoU: r.mIoU, pixelAccuracy: r.pixelAccuracy, iou: r.iou, classNames: r.classNames }])),
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
            : `done: ${result.config.adapt.method}, ${result.iteration} iterations in ${result.seconds.toFixed(0)} s; run directory ${result.output}`,
        );
      }
      return 0;
    } finally {
      interrupt.dispose();
    }
  },
};
