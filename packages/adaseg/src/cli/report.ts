// `adaseg report --run DIR`: an experiment's results as Markdown tables (baselines, the budget curve
// per strategy, AUBC, share of full supervision, labels saved and margin over random, per-class
// IoU; from labels.sqlite: void share, images touched and class mix of each strategy's labels),
// and optionally its budget plot as a standalone SVG, read from the run's results.json.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { budgetPlot } from '../report/html.js';
import type { ExperimentResults } from '../report/results.js';
import { LabelStore } from '../labels/store.js';
import { labelComposition, markdownComposition, markdownSummary } from '../report/summary.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { OptionSpec, Parsed } from './args.js';
import { CliError, type Command, type Io, mustExist } from './command.js';
import { noPositionals } from './parser.js';

const OPTIONS: OptionSpec[] = [
  { name: 'run', type: 'string', value: 'DIR', required: true, description: 'an `adaseg run` output folder (holding results.json)' },
  { name: 'svg', type: 'string', value: 'FILE', description: 'also write the budget plot (mIoU against labelled %) as an SVG file' },
];

export function readResults(runDir: string): ExperimentResults {
  const file = join(runDir, 'results.json');
  mustExist(runDir, 'run folder');
  if (!existsSync(file))
    throw new CliError('not-found', `${file} not found: the run has not finished (run the same \`adaseg run\` command to resume it)`, file);
  let results: ExperimentResults;
  try {
    results = JSON.parse(readFileSync(file, 'utf8')) as ExperimentResults;
  } catch (err) {
    throw new CliError('invalid', `${file} is not valid JSON (${(err as Error).message}): was it written by \`adaseg run\`?`, file);
  }
  if (results?.format !== 'adaseg-active-results/1')
    throw new CliError('invalid', `${file}: expected format 'adaseg-active-results/1', got ${JSON.stringify(results?.format)}`, file);
  return results;
}

export const reportCommand: Command = {
  name: 'report',
  summary: "print an experiment's results as Markdown tables; optionally write its budget plot as SVG",
  usage:
    'adaseg report --run DIR [--svg FILE] [--json]\n\nReads DIR/results.json (written by `adaseg run`; report.html is beside it). --json prints results.json itself.',
  options: OPTIONS,
  async run({ positionals, options }: Parsed, io: Io): Promise<number> {
    noPositionals(positionals);
    const results = readResults(resolve(options.run as string));
    if (options.svg !== undefined) {
      const file = resolve(options.svg as string);
      writeFileAtomic(file, `${budgetPlot(results)}\n`);
    }
    // The label store beside results.json tells what each strategy bought (void share, classes).
    const storeFile = join(resolve(options.run as string), 'labels.sqlite');
    let composition = null;
    if (existsSync(storeFile)) {
      const store = LabelStore.open(storeFile);
      try {
        composition = labelComposition(
          store,
          results.strategies.map((s) => s.strategy),
        );
      } finally {
        store.close();
      }
    }
    if (io.json) io.out(JSON.stringify(composition === null ? results : { ...results, labelComposition: composition }));
    else
      io.out(
        [markdownSummary(results), ...(composition === null ? [] : ['', markdownComposition(composition, results.classNames, results.poolImages)])].join('\n'),
      );
    return 0;
  },
};
