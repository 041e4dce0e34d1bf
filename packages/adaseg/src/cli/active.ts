// `adaseg run --config experiment.yaml`: the active loop with its baselines and report, with the
// flags and behaviour of `adaseg train` (--help, --json, exit codes, Ctrl-C writes a checkpoint and
// the same command resumes). The engine is imported lazily, as for train.
import { resolve } from 'node:path';
import { type OptionSpec, type Parsed, UsageError } from './args.js';
import type { ExperimentRunResult } from '../experiment/loop.js';
import type { ExperimentResults } from '../report/results.js';
import type { Command, Io } from './command.js';
import { outputGroup, threadsGroup } from './options.js';
import { noPositionals } from './parser.js';
import { configMustExist, interruptSignal } from './train.js';

/** What `adaseg run --json` (and `adaseg demo --json`) prints: where, whether stopped, and per strategy and baseline the final figures. */
export function resultsSummary(result: ExperimentRunResult): Record<string, unknown> {
  const r = result.results;
  return {
    output: result.output,
    stopped: result.stopped,
    seconds: result.seconds,
    ...(result.files ? { files: result.files } : {}),
    ...(r
      ? {
          strategies: r.strategies.map((s) => ({
            strategy: s.strategy,
            labelledPercent: s.final.percent.mean,
            mIoU: s.final.mIoU,
            aubc: s.aubc,
            ofFull: s.ofFull,
            vsRandom: s.vsRandom,
          })),
          baselines: Object.fromEntries(Object.entries(r.baselines).map(([k, v]) => [k, typeof v === 'string' ? v : v.mIoU])),
        }
      : {}),
  };
}

/** The plain-text table of final figures per strategy and baseline. */
export function resultsTable(r: ExperimentResults): string {
  const w = Math.max(8, ...r.strategies.map((s) => s.strategy.length));
  const lines = [`${'strategy'.padEnd(w)}  labelled %   final mIoU        AUBC`];
  for (const s of r.strategies) {
    const m = s.final.mIoU;
    lines.push(
      `${s.strategy.padEnd(w)}  ${s.final.percent.mean.toFixed(3).padStart(10)}   ${(m.mean * 100).toFixed(2).padStart(6)} ± ${(m.std * 100).toFixed(2).padEnd(6)}   ${(s.aubc.mean * 100).toFixed(2)}`,
    );
  }
  for (const [name, b] of [
    ['source only', r.baselines.sourceOnly],
    ['UDA only', r.baselines.udaOnly],
    ['full', r.baselines.full],
  ] as const) {
    if (b !== undefined)
      lines.push(`${name.padEnd(w)}  ${'-'.padStart(10)}   ${(b.mIoU.mean * 100).toFixed(2).padStart(6)} ± ${(b.mIoU.std * 100).toFixed(2)}`);
  }
  return lines.join('\n');
}

export const RUN_OPTIONS: OptionSpec[] = [
  {
    name: 'config',
    type: 'string',
    value: 'FILE',
    required: true,
    description:
      'experiment config (YAML or JSON): data, source, warmup, active (units, budget, strategies), annotator, rounds, baselines; see configs/ and the README',
  },
  ...outputGroup.options,
  { name: 'seeds', type: 'string', value: 'LIST', description: 'comma-separated seeds (overrides the config), e.g. 0,1,2' },
  ...threadsGroup.options,
  { name: 'no-resume', type: 'boolean', description: 'delete what an earlier run left in the output folder and start over' },
  { name: 'no-progress', type: 'boolean', description: 'no progress bars' },
  { name: 'skip-preflight', type: 'boolean', description: 'do not read every image and label before the run (they are checked as they load)' },
];

export const runCommand: Command = {
  name: 'run',
  summary: 'run an active learning experiment: source training, UDA warm-up, rounds of selection, annotation and training, baselines, report',
  usage:
    'adaseg run --config FILE [options]\n\nWrites into the output folder: config.json, labels.sqlite (the label store), seed-N/ (runs and checkpoints),\nevents.jsonl, run.log, results.json and report.html. Interrupt with Ctrl-C: the current training writes a checkpoint\n(selections and labels are already in the label store) and the same command resumes.',
  options: RUN_OPTIONS,
  async run({ positionals, options }: Parsed, io: Io): Promise<number> {
    noPositionals(positionals);
    let seeds: number[] | undefined;
    if (options.seeds !== undefined) {
      const parts = String(options.seeds)
        .split(',')
        .map((s) => s.trim());
      if (parts.length === 0 || !parts.every((s) => /^\d+$/.test(s)))
        throw new UsageError(`--seeds must be comma-separated non-negative integers, got '${options.seeds}'`);
      seeds = parts.map(Number);
    }
    configMustExist(resolve(options.config as string));
    const { loadExperimentConfig } = await import('../experiment/config.js');
    const { runExperiment, clearExperimentOutput } = await import('../experiment/loop.js');
    const config = loadExperimentConfig(resolve(options.config as string), (c) => {
      if (options.output !== undefined) c.output = resolve(options.output as string);
      if (seeds !== undefined) c.seeds = seeds;
    });
    if (options['no-resume']) clearExperimentOutput(config.output);
    const interrupt = interruptSignal(io);
    try {
      const result = await runExperiment(config, {
        signal: interrupt.signal,
        progress: !options['no-progress'] && !io.json,
        skipPreflight: options['skip-preflight'] === true,
        log: (line) => io.err(line),
      });
      if (io.json) io.out(JSON.stringify(resultsSummary(result), null, 2));
      else if (result.stopped) io.out(`stopped; run the same command to resume (${result.output})`);
      else if (result.results) {
        io.out(resultsTable(result.results));
        io.out(`done in ${result.seconds.toFixed(0)} s: ${result.files!.report} (results: ${result.files!.results})`);
      }
      return 0;
    } finally {
      interrupt.dispose();
    }
  },
};
