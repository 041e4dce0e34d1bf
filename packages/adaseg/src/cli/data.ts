// `adaseg data ...` commands.
import { resolve } from 'node:path';
// Imported module by module, not through data/index.js: inspecting needs no tensors, so the CLI
// does not load libtorch for it.
import type { DatasetConfig } from '../data/config.js';
import { DataError, type DataErrorInfo } from '../data/errors.js';
import { isDir } from '../data/formats/common.js';
import { DATASET_FORMATS, detectableLayouts, detectDatasetFormat, formatEntry, loadDataset, parseDatasetConfig } from '../data/formats/index.js';
import { formatReport, inspectDataset } from '../data/inspect.js';
import { type OptionSpec, type Parsed, UsageError } from './args.js';
import type { Command, Io } from './command.js';

const SIZE = /^(\d+)x(\d+)$/;

export const DATASET_OPTIONS: OptionSpec[] = [
  {
    name: 'format',
    type: 'string',
    value: 'FORMAT',
    description: 'dataset format (default: detected from the folder)',
    choices: DATASET_FORMATS,
  },
  { name: 'root', type: 'string', value: 'DIR', description: 'dataset folder (instead of the positional path)' },
  { name: 'split', type: 'string', value: 'S', description: 'split: a list name for folder/gta5/synthia, train|val|test for camvid/cityscapes' },
  { name: 'classes', type: 'string', value: 'N', description: 'cityscapes/gta5/synthia class protocol', choices: ['19', '16', '13'] },
  { name: 'style', type: 'string', value: 'S', description: 'synthetic: source or target (default source)', choices: ['source', 'target'] },
  { name: 'count', type: 'integer', value: 'N', description: 'synthetic: number of scenes (default 32)' },
  { name: 'size', type: 'string', value: 'WxH', description: 'synthetic: scene size (default 128x96)' },
  { name: 'seed', type: 'integer', value: 'N', description: 'synthetic: seed (default 0)' },
];

/**
 * A dataset config from `<dataset>` plus flags: a folder path, `synthetic`, or --format/--root;
 * checked by the format's own parser (its registry entry), whose refusal is a usage error. A format
 * detected from the folder's layout is told to `note` ("format: gta5 (detected: ...)"); a folder
 * that detection refuses to guess (images/ + labels/ without GTA5's labels) is a DataError asking
 * for meta.json.
 */
export async function datasetConfigFromArgs(spec: string | undefined, o: Record<string, unknown>, note?: (line: string) => void): Promise<DatasetConfig> {
  const given = (key: string) => (o[key] === undefined ? {} : { [key]: o[key] });
  let raw: Record<string, unknown>;
  const format = (o.format as string | undefined) ?? (spec === 'synthetic' ? 'synthetic' : undefined);
  if (format !== undefined && !formatEntry(format).hasRoot) {
    // A format drawn on the fly (the synthetic pair): the scene flags, with the CLI's defaults.
    const size = (o.size as string | undefined) ?? '128x96';
    const m = SIZE.exec(size);
    if (!m) throw new UsageError(`--size must look like 128x96, got '${size}'`);
    raw = {
      format,
      style: (o.style as string | undefined) ?? 'source',
      count: (o.count as number | undefined) ?? 32,
      width: Number(m[1]),
      height: Number(m[2]),
      seed: (o.seed as number | undefined) ?? 0,
    };
  } else {
    const rootArg = (o.root as string | undefined) ?? spec;
    if (rootArg === undefined) throw new UsageError('which dataset? give a folder, `synthetic`, or --format F --root DIR');
    if (o.root !== undefined && spec !== undefined) throw new UsageError('give the dataset either as a path or with --root, not both');
    const root = resolve(rootArg);
    if (!(await isDir(root))) throw new DataError('not-found', `dataset folder ${root} does not exist`, { file: root });
    let fmt = format;
    if (fmt === undefined) {
      const detected = await detectDatasetFormat(root);
      if (detected === null) throw new UsageError(`cannot tell the format of ${root} (no ${detectableLayouts().join(', ')}): pass --format`);
      fmt = detected.format;
      note?.(`format: ${fmt} (detected: ${detected.layout})`);
    }
    const split = (o.split as string | undefined) ?? formatEntry(fmt).defaultSplit;
    raw = { format: fmt, root, ...(split !== undefined ? { split } : {}), ...given('classes') };
    if (raw.classes !== undefined) raw.classes = Number(raw.classes);
  }
  try {
    return parseDatasetConfig(raw);
  } catch (e) {
    if (e instanceof DataError && e.code === 'bad-config') throw new UsageError(`${raw.format}: ${e.message}`);
    throw e;
  }
}

const inspect: Command = {
  name: 'inspect',
  summary: 'counts, image sizes, class pixel frequencies, label values and problems of a dataset',
  usage:
    'adaseg data inspect <dataset> [options]\n\n<dataset> is a dataset folder (format detected: meta.json → folder, leftImg8bit/ → cityscapes,\nRGB/ + GT/LABELS/ → synthia, trainannot/ → camvid, images/ + labels/ with palette PNG labels → gta5;\nimages/ + labels/ with other labels needs a meta.json), `synthetic`, or given by --format F --root DIR.\nThe detected format is printed.\n\nEvery problem is reported (images without labels, unreadable files, size mismatches, undeclared\nvalues), not only the first; exit code 1 when there are any.',
  options: [
    ...DATASET_OPTIONS,
    { name: 'limit', type: 'integer', value: 'N', description: 'inspect only the first N samples' },
    { name: 'headers-only', type: 'boolean', description: 'read image headers instead of decoding images (faster, misses truncated files)' },
  ],
  async run({ positionals, options }: Parsed, io: Io): Promise<number> {
    if (positionals.length > 1) throw new UsageError(`one dataset at a time, got: ${positionals.join(' ')}`);
    // The detected format: in the text report, on stderr beside --json.
    const config = await datasetConfigFromArgs(positionals[0], options, (line) => (io.json ? io.err(line) : io.out(line)));
    // Every image without its label is a problem reported with the others, not the end of it.
    const missing: DataErrorInfo[] = [];
    const ds = await loadDataset(config, { onMissingLabel: (err) => missing.push(err.toInfo()) });
    const report = await inspectDataset(ds, {
      ...(options.limit !== undefined ? { limit: options.limit as number } : {}),
      decodeImages: !options['headers-only'],
      problems: missing,
    });
    if (io.json) io.out(JSON.stringify(report, null, 2));
    else io.out(formatReport(report));
    return report.problems.length > 0 ? 1 : 0;
  },
};

export const dataCommand: Command = {
  name: 'data',
  summary: 'datasets: inspect them',
  usage: 'adaseg data <command> [options]',
  subcommands: [inspect],
};
