// `adaseg adapt`: unsupervised domain adaptation from a config, with the flags, progress, logs,
// checkpoints and resume of `adaseg train`. The engine is imported lazily, as for train.
import type { OptionSpec } from './args.js';
import type { Command } from './command.js';
import { runConfiguredTraining, TRAIN_OPTIONS } from './train.js';

const ADAPT_OPTIONS: OptionSpec[] = TRAIN_OPTIONS.map((o) =>
  o.name === 'config'
    ? {
        ...o,
        description:
          "adaptation config (YAML or JSON): source and target data, init run, adapt.method ('adaptsegnet', 'advent-entropy', 'advent-adversarial', 'self-training'); see the README",
      }
    : o,
);

export const adaptCommand: Command = {
  name: 'adapt',
  summary: 'adapt a model to an unlabelled target domain (AdaptSegNet, ADVENT, self-training); resumes from the run directory',
  usage:
    'adaseg adapt --config FILE [options]\n\nInterrupt with Ctrl-C: a checkpoint (with the discriminators) is written and the same command resumes exactly.',
  options: ADAPT_OPTIONS,
  run: (args, io) =>
    runConfiguredTraining(args, io, async () => {
      const { loadAdaptConfig } = await import('../adapt/config.js');
      const { adaptModel } = await import('../adapt/adapt.js');
      return { loadConfig: loadAdaptConfig, run: adaptModel, method: (result) => result.config.adapt.method };
    }),
};
